//! The DPNN end to end: wgpu and the CPU backends agree, the built-in model
//! loads, broken model directories give errors naming the file and the
//! expectation, degenerate input gives finite output, the initial model is
//! byte-reproducible, and the track-vector arithmetic is right.

use std::path::{Path, PathBuf};

use tuneatlas::features::{LogMel, N_FRAMES, N_MELS};
use tuneatlas::model::backend::{ComputeDevice, CpuBackend, DeviceChoice, DeviceKind, select_device};
use tuneatlas::model::bench::synthetic_clips;
use tuneatlas::model::infer::{ClipOutput, Embedder, mean_scores, track_vector};
use tuneatlas::model::record::{load_default, load_dir};
use tuneatlas::model::write_init_model_dir;

/// Max |Δ| allowed between backends, per embedding component (unit vectors)
/// and per tag score. Measured: see `models/README.md`.
const BACKEND_TOL: f32 = 1e-4;

fn repo_model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/dpnn-init")
}

fn golden_logmel(stem: &str) -> LogMel {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/golden/{stem}_logmel.npy"));
    let bytes = std::fs::read(&path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    assert_eq!(npy.shape(), &[N_MELS as u64, N_FRAMES as u64]);
    LogMel { data: npy.into_vec::<f32>().unwrap() }
}

fn constant(db: f32) -> LogMel {
    LogMel { data: vec![db; N_MELS * N_FRAMES] }
}

/// Real log-mels (librosa goldens), synthetic music-like ones, silence and a
/// loud constant: the fixed inputs of the backend comparison.
fn fixed_inputs() -> Vec<LogMel> {
    let mut clips = vec![golden_logmel("sweep"), golden_logmel("tones")];
    clips.extend(synthetic_clips(4));
    clips.push(constant(-100.0));
    clips.push(constant(0.0));
    clips
}

fn max_abs_diff(a: &[ClipOutput], b: &[ClipOutput]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let mut emb = 0f32;
    let mut tags = 0f32;
    for (x, y) in a.iter().zip(b) {
        for (p, q) in x.embedding.iter().zip(&y.embedding) {
            emb = emb.max((p - q).abs());
        }
        for (p, q) in x.tag_scores.iter().zip(&y.tag_scores) {
            tags = tags.max((p - q).abs());
        }
    }
    (emb, tags)
}

fn cpu_embedder(backend: CpuBackend) -> Embedder {
    Embedder::new(load_default(&ComputeDevice::cpu_with(backend)).unwrap())
}

fn gpu_device_or_explain() -> ComputeDevice {
    match select_device(DeviceChoice::Gpu) {
        Ok(d) => d,
        Err(e) => panic!(
            "this test runs the model on wgpu and needs a Vulkan adapter; on a machine without a GPU install \
             lavapipe: `apt-get install mesa-vulkan-drivers libvulkan1` (CI does). Error: {e}"
        ),
    }
}

#[test]
fn wgpu_and_cpu_backends_give_the_same_outputs() {
    let clips = fixed_inputs();
    let cpu = cpu_embedder(CpuBackend::DEFAULT).embed_batch(&clips).unwrap();

    let gpu_device = gpu_device_or_explain();
    eprintln!("wgpu device: {}", gpu_device.description);
    assert!(gpu_device.is_wgpu());
    let mut gpu = Embedder::new(load_default(&gpu_device).unwrap());
    let on_gpu = gpu.embed_batch(&clips).unwrap();
    assert!(gpu.device().is_wgpu(), "the wgpu run fell back to the CPU: {:?}", gpu.notices());

    let (e, t) = max_abs_diff(&cpu, &on_gpu);
    eprintln!("flex vs wgpu: max |Δ| embedding {e:.2e}, tag scores {t:.2e}");
    assert!(e <= BACKEND_TOL && t <= BACKEND_TOL, "flex vs wgpu: embedding {e}, tags {t}");

    // A GPU that fails mid-run: the batch is redone on the CPU, the user is told.
    gpu.simulate_gpu_failure_on_next_batch();
    let after = gpu.embed_batch(&clips).unwrap();
    assert!(!gpu.device().is_wgpu());
    assert!(gpu.notices().iter().any(|n| n.contains("GPU failed") && n.contains("continuing on the CPU")));
    let (e, t) = max_abs_diff(&cpu, &after);
    assert!(e == 0.0 && t == 0.0, "after fallback the CPU results are the CPU's: {e} {t}");
}

#[test]
fn auto_device_never_picks_a_cpu_adapter_silently() {
    let d = select_device(DeviceChoice::Auto).unwrap();
    match &d.kind {
        DeviceKind::Wgpu { cpu_adapter, api, .. } => {
            assert!(!cpu_adapter && api != "Gl", "{}", d.description)
        }
        DeviceKind::Cpu(_) => assert!(d.notice.is_some(), "a CPU fallback must come with a notice"),
    }
}

#[test]
fn the_built_in_model_is_dpnn_v2_and_dpnn_v1_still_loads() {
    let loaded = load_default(&ComputeDevice::cpu()).unwrap();
    let card = &loaded.bundle.card;
    assert_eq!(card.name, "dpnn-v2");
    assert_eq!(card.version, "dpnn-v2.3");
    assert_eq!(card.provenance.parent, None, "v2 is trained from scratch");
    assert!(card.provenance.method.contains("\"neighbour_weight\":2.0"), "{}", card.provenance.method);
    assert!(card.trained);
    assert_eq!(card.vocabulary.len(), card.config.tags.total());
    assert!(card.untaught.iter().any(|t| t == "male vocals"), "vocal tags are marked untaught");
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/dpnn-v2");
    let on_disk = load_dir(&shipped, &ComputeDevice::cpu()).unwrap();
    assert_eq!(on_disk.bundle.card, *card, "the embedded model is models/dpnn-v2");
    // Libraries embedded with v1 keep working: its directory loads as before.
    let v1 =
        load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/dpnn-v1"), &ComputeDevice::cpu())
            .unwrap();
    assert_eq!(v1.bundle.card.version, "dpnn-v1.1");
    assert_eq!(v1.bundle.card.vocabulary, card.vocabulary, "v1 and v2 share the vocabulary");
    let weights_len = std::fs::metadata(shipped.join("weights.bpk")).unwrap().len();
    assert!(weights_len <= 20 << 20, "weights file {weights_len} bytes (the issue allows 20 MB)");
    // The card carries the validation figures the README quotes.
    for key in [
        "valid.same_track_p1",
        "valid.same_album_p5",
        "valid.same_album_clip_p5",
        "valid.tag_auc",
        "valid.teacher400.same_album_p5",
    ] {
        assert!(card.metrics.contains_key(key), "model.toml lacks {key}");
    }
}

#[test]
fn the_initial_model_still_loads_and_says_it_is_untrained() {
    let loaded = load_dir(&repo_model_dir(), &ComputeDevice::cpu()).unwrap();
    let card = &loaded.bundle.card;
    assert_eq!(card.version, "dpnn-init-0.1");
    assert!(!card.trained);
    assert!(card.description.contains("UNTRAINED"));
}

/// A scratch copy of models/dpnn-init to break.
fn model_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    for f in ["model.toml", "weights.bpk"] {
        std::fs::copy(repo_model_dir().join(f), dir.join(f)).unwrap();
    }
    (tmp, dir)
}

fn load_err(dir: &Path) -> String {
    match load_dir(dir, &ComputeDevice::cpu()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_toml(dir: &Path, from: &str, to: &str) {
    let p = dir.join("model.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "model.toml has no {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn broken_model_directories_give_errors_naming_file_and_expectation() {
    // Truncated weights.
    let (_t, dir) = model_copy();
    let w = dir.join("weights.bpk");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 3]).unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("truncated") && msg.contains("expects") && msg.contains(&w.display().to_string()),
        "{msg}"
    );

    // Missing weights.
    let (_t, dir) = model_copy();
    std::fs::remove_file(dir.join("weights.bpk")).unwrap();
    let msg = load_err(&dir);
    assert!(
        msg.contains("missing") && msg.contains("expects weights.bpk") && msg.ends_with("weights.bpk"),
        "{msg}"
    );

    // model.toml describing another network than the weights hold.
    let (_t, dir) = model_copy();
    edit_toml(&dir, "embedding_dim = 256", "embedding_dim = 128");
    let msg = load_err(&dir);
    assert!(
        msg.contains("embedding_dim 128") && msg.contains("expected") && msg.ends_with("weights.bpk"),
        "{msg}"
    );

    // Garbage of the right size: the hash catches it.
    let (_t, dir) = model_copy();
    let garbage: Vec<u8> = (0..bytes.len()).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(dir.join("weights.bpk"), &garbage).unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("does not match model.toml") && msg.contains("expected BLAKE3"), "{msg}");

    // Garbage whose size and hash were written into model.toml: the format check catches it.
    let card = std::fs::read_to_string(dir.join("model.toml")).unwrap();
    let hash = blake3::hash(&garbage).to_hex().to_string();
    let old_hash = card.lines().find(|l| l.starts_with("blake3 = ")).unwrap().to_string();
    edit_toml(&dir, &old_hash, &format!("blake3 = \"{hash}\""));
    let msg = load_err(&dir);
    assert!(msg.contains("not a valid burnpack record") && msg.ends_with("weights.bpk"), "{msg}");

    // model.toml that is not a model card.
    let (_t, dir) = model_copy();
    std::fs::write(dir.join("model.toml"), "name = \"x\"\n[config]\nn_mels = \"eighty\"\n").unwrap();
    let msg = load_err(&dir);
    assert!(msg.contains("cannot read the model card") && msg.ends_with("model.toml"), "{msg}");

    // Vocabulary and heads disagree.
    let (_t, dir) = model_copy();
    edit_toml(&dir, "theme = 7", "theme = 8");
    let msg = load_err(&dir);
    assert!(msg.contains("head outputs") && msg.ends_with("model.toml"), "{msg}");

    // Not a model directory at all.
    let tmp = tempfile::tempdir().unwrap();
    let msg = load_err(tmp.path());
    assert!(msg.contains("model.toml is missing"), "{msg}");
}

fn assert_sane(outputs: &[ClipOutput], what: &str) {
    for (i, o) in outputs.iter().enumerate() {
        assert!(o.embedding.iter().all(|x| x.is_finite()), "{what} #{i}: non-finite embedding");
        let norm = o.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{what} #{i}: norm {norm}");
        assert!(o.tag_scores.iter().all(|s| (0.0..=1.0).contains(s)), "{what} #{i}: score out of [0, 1]");
    }
}

#[test]
fn degenerate_clips_give_finite_normalised_outputs() {
    let mut e = cpu_embedder(CpuBackend::DEFAULT);
    let mut nan = constant(-40.0);
    nan.data[100] = f32::NAN;
    let mut infs = constant(-40.0);
    infs.data.iter_mut().step_by(2).for_each(|x| *x = f32::INFINITY);
    infs.data.iter_mut().skip(1).step_by(2).for_each(|x| *x = f32::NEG_INFINITY);
    let all_nan = constant(f32::NAN);
    let clipping =
        LogMel { data: (0..N_MELS * N_FRAMES).map(|i| if i % 3 == 0 { 60.0 } else { 1e30 }).collect() };
    let clips = vec![constant(-100.0), constant(0.0), nan, infs, all_nan, clipping];
    let out = e.embed_batch(&clips).unwrap();
    assert_sane(&out, "degenerate");
    // NaN-only input is treated exactly like silence.
    assert_eq!(out[4], out[0]);

    // Wrong-sized clip: a clear error, not a panic.
    let err = e.embed_batch(&[LogMel { data: vec![0.0; 10] }]).unwrap_err().to_string();
    assert!(err.contains("expected 80 × 130"), "{err}");
    assert!(e.embed_batch(&[]).unwrap().is_empty());
}

#[test]
fn the_untrained_model_still_separates_different_inputs() {
    let mut e = cpu_embedder(CpuBackend::DEFAULT);
    let out = e.embed_batch(&fixed_inputs()).unwrap();
    assert_sane(&out, "fixed");
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for i in 0..out.len() {
        for j in 0..i {
            let c = cos(&out[i].embedding, &out[j].embedding);
            assert!(c < 0.999, "clips {i} and {j} map to the same direction (cosine {c})");
        }
    }
    // Batching does not change results.
    let single = e.embed_batch(&fixed_inputs()[1..2]).unwrap();
    let (d, t) = max_abs_diff(&single, &out[1..2]);
    assert!(d < 1e-5 && t < 1e-5, "{d} {t}");
}

#[test]
fn the_initial_model_is_byte_reproducible() {
    // Regenerating the shipped files (after changing the architecture or the
    // scheme on purpose): TUNEATLAS_WRITE_INIT_MODEL=1 cargo test model::the_initial
    if std::env::var_os("TUNEATLAS_WRITE_INIT_MODEL").is_some() {
        write_init_model_dir(&repo_model_dir(), tuneatlas::model::init::INIT_SEED).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_init_model_dir(&a, tuneatlas::model::init::INIT_SEED).unwrap();
    write_init_model_dir(&b, tuneatlas::model::init::INIT_SEED).unwrap();
    for f in ["model.toml", "weights.bpk"] {
        let x = std::fs::read(a.join(f)).unwrap();
        assert_eq!(x, std::fs::read(b.join(f)).unwrap(), "{f} differs between two runs");
        assert_eq!(
            x,
            std::fs::read(repo_model_dir().join(f)).unwrap(),
            "models/dpnn-init/{f} is not what the generator writes; regenerate it with \
             TUNEATLAS_WRITE_INIT_MODEL=1 cargo test model::the_initial_model_is_byte_reproducible"
        );
    }
    let c = tmp.path().join("c");
    write_init_model_dir(&c, 1).unwrap();
    assert_ne!(std::fs::read(a.join("weights.bpk")).unwrap(), std::fs::read(c.join("weights.bpk")).unwrap());
}

#[test]
fn track_vector_is_the_renormalised_mean_of_unit_clip_vectors() {
    // Clip norms do not weigh: (3, 0) and (0, 0.5) average as (1, 0) and (0, 1).
    let v = track_vector(&[vec![3.0, 0.0], vec![0.0, 0.5]]);
    let h = std::f32::consts::FRAC_1_SQRT_2;
    assert!((v[0] - h).abs() < 1e-6 && (v[1] - h).abs() < 1e-6, "{v:?}");
    // One clip: itself, normalised.
    assert_eq!(track_vector(&[vec![0.0, -2.0]]), vec![0.0, -1.0]);
    // Opposite clips cancel: a finite zero vector, not NaN.
    assert_eq!(track_vector(&[vec![1.0, 0.0], vec![-1.0, 0.0]]), vec![0.0, 0.0]);
    // Zero clips contribute nothing and stay finite.
    assert_eq!(track_vector(&[vec![0.0, 0.0]]), vec![0.0, 0.0]);
    let v = track_vector(&[vec![0.0, 0.0], vec![0.0, 4.0]]);
    assert_eq!(v, vec![0.0, 1.0]);
    assert!(track_vector::<Vec<f32>>(&[]).is_empty());
    // Mean tag scores.
    assert_eq!(mean_scores(&[vec![0.2, 1.0], vec![0.4, 0.0]]), vec![0.3, 0.5]);
    let s: [&[f32]; 2] = [&[0.5, f32::NAN], &[0.5, 0.5]];
    assert_eq!(mean_scores(&s), vec![0.5, 0.5]);
}
