//! Training end to end on a tiny generated corpus: gradients are finite and
//! agree between wgpu and the CPU backend, a distillation run learns, writes
//! checkpoints, and a cancelled-then-resumed run ends with the same weights
//! as an uninterrupted one.

use std::path::Path;

use burn::module::Module;
use burn::tensor::activation::softplus;
use burn::tensor::{Tensor, TensorData};
use tuneatlas::features::{N_FRAMES, N_MELS};
use tuneatlas::jobs::CancelToken;
use tuneatlas::model::backend::{ComputeDevice, DeviceChoice, select_device};
use tuneatlas::model::bench::synthetic_clips;
use tuneatlas::model::dpnn::{Dpnn, DpnnConfig};
use tuneatlas::model::heads::{teacher_sources, teacher_vocabulary};
use tuneatlas::model::init::{init_card, init_model};
use tuneatlas::model::record::ModelBundle;
use tuneatlas::train::augment::AugmentConfig;
use tuneatlas::train::corpus::{Corpus, CorpusTrack, read_targets, split_by_source};
use tuneatlas::train::distill::{Distill, DistillConfig, DistillData, teacher_columns};
use tuneatlas::train::features::load_or_compute;
use tuneatlas::train::trainer::{LoopConfig, TrainEvent, run};
use tuneatlas::{Error, Result};

use crate::common::{training_in_process, write_wav};

/// One training loss on a fixed batch: BCE against fixed soft targets plus a
/// pull of clip 0 towards clip 1 — enough to reach every parameter.
fn fixed_loss(model: &Dpnn, device: &burn::tensor::Device) -> Tensor<1> {
    let clips = synthetic_clips(4);
    let x: Vec<f32> = clips.iter().flat_map(|c| c.data.iter().copied()).collect();
    let input = Tensor::<4>::from_data(TensorData::new(x, [4, 1, N_MELS, N_FRAMES]), device);
    let (emb, logits) = model.forward(input);
    let n_tags = logits.dims()[1];
    let t: Vec<f32> = (0..4 * n_tags).map(|i| (i % 7) as f32 / 7.0).collect();
    let targets = Tensor::<2>::from_data(TensorData::new(t, [4, n_tags]), device);
    let bce = (softplus(logits.clone(), 1.0) - logits * targets).mean();
    let e0 = emb.clone().slice([0..1, 0..256]);
    let e1 = emb.slice([1..2, 0..256]);
    bce + (e0 - e1).square().mean()
}

/// Gradients of a few parameters (first conv of each stack, the dense
/// layers) after one backward pass on `device`.
fn gradients(device: &ComputeDevice) -> Vec<(String, Vec<f32>)> {
    // No dropout: its random masks would differ between backends.
    let config = DpnnConfig { dropout: 0.0, ..DpnnConfig::default() };
    let model = init_model(&config, &teacher_vocabulary(), 7, device).unwrap().train();
    let loss = fixed_loss(&model, &device.device.clone().autodiff());
    let grads = loss.backward();
    let mut out = Vec::new();
    let mut take = |name: &str, g: Option<Vec<f32>>| out.push((name.to_string(), g.expect(name)));
    take(
        "timbre.0.conv.weight",
        model.timbre[0].conv.weight.val().grad(&grads).map(|g| g.into_data().iter::<f32>().collect()),
    );
    take(
        "rhythm.0.conv.weight",
        model.rhythm[0].conv.weight.val().grad(&grads).map(|g| g.into_data().iter::<f32>().collect()),
    );
    take(
        "rhythm.2.bn.gamma",
        model.rhythm[2]
            .bn
            .as_ref()
            .unwrap()
            .gamma
            .val()
            .grad(&grads)
            .map(|g| g.into_data().iter::<f32>().collect()),
    );
    take(
        "embedding.weight",
        model.embedding.weight.val().grad(&grads).map(|g| g.into_data().iter::<f32>().collect()),
    );
    take(
        "heads.weight",
        model.heads.weight.val().grad(&grads).map(|g| g.into_data().iter::<f32>().collect()),
    );
    out
}

#[test]
fn gradients_are_finite_and_agree_between_wgpu_and_cpu() {
    let cpu = gradients(&ComputeDevice::cpu());
    for (name, g) in &cpu {
        assert!(g.iter().all(|v| v.is_finite()), "CPU gradient of {name} is not finite");
        assert!(g.iter().any(|v| *v != 0.0), "CPU gradient of {name} is all zero");
    }
    let gpu_device = select_device(DeviceChoice::Gpu).expect("a wgpu adapter (lavapipe in CI)");
    let gpu = gradients(&gpu_device);
    for ((name, c), (_, g)) in cpu.iter().zip(&gpu) {
        let bad = g.iter().filter(|v| !v.is_finite()).count();
        assert_eq!(bad, 0, "wgpu ({}) gradient of {name}: {bad} non-finite values", gpu_device.description);
        let scale = c.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = c.iter().zip(g).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        eprintln!("{name}: max |grad| {scale:.3e}, max |cpu − wgpu| {diff:.3e}");
        assert!(
            diff <= 1e-3 * scale.max(1e-6),
            "{name}: cpu and wgpu gradients differ by {diff} (scale {scale})"
        );
    }
}

/// A generated corpus: `albums` albums of 2 tracks, 20 s each (2 clips), the
/// tone and its teacher tags depending on the album (and a few on the
/// track), plus the targets. Albums 2k and 2k+1 share an artist.
fn tiny_corpus(dir: &Path, albums: usize) -> Corpus {
    let sources = teacher_sources();
    let mut columns: Vec<String> = sources.values().flatten().cloned().collect();
    columns.sort();
    let mut tsv = format!("clip_id\trel_path\tstart_s\t{}\n", columns.join("\t"));
    let mut tracks = Vec::new();
    let mut clip_id = 0;
    for a in 0..albums {
        for k in 0..2 {
            let rel = format!("album{a}/track{k}.wav");
            write_wav(&dir.join(&rel), 20.0, 110.0 * (a + 1) as f64 + 7.0 * k as f64, 22_050);
            for start in tuneatlas::train::corpus::teacher_grid_starts_s(20.0) {
                let probs: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(c, _)| match (c % albums == a, c % 7 == k) {
                        (true, _) => "0.9".into(),
                        (false, true) => "0.5".into(),
                        _ => "0.02".into(),
                    })
                    .collect();
                tsv.push_str(&format!("{clip_id}\t{rel}\t{start:.3}\t{}\n", probs.join("\t")));
                clip_id += 1;
            }
            tracks.push(CorpusTrack {
                rel_path: rel,
                source: format!("source{a}"),
                album: format!("Album {a}"),
                artist: format!("Artist {}", a / 2),
                title: format!("{a}-{k}"),
                license: "CC0".into(),
                duration_s: Some(20.0),
                kind: "generated".into(),
            });
        }
    }
    let targets_dir = dir.join("targets");
    std::fs::create_dir_all(&targets_dir).unwrap();
    std::fs::write(targets_dir.join("clips.tsv"), tsv).unwrap();
    // Teacher penultimate rows (f16, [clips, 8]): album-shaped, for term (d).
    let n_clips = clip_id as u64;
    let mut buf = Vec::new();
    {
        use npyz::WriterBuilder;
        let mut w = npyz::WriteOptions::<half::f16>::new()
            .default_dtype()
            .shape(&[n_clips, 8])
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        for c in 0..n_clips {
            let album = (c / 2 / 2) as usize; // 2 clips per track, 2 tracks per album
            for d in 0..8 {
                let v = if d % albums == album { 1.0 } else { 0.1 * ((c + d as u64) % 3) as f32 };
                w.push(&half::f16::from_f32(v)).unwrap();
            }
        }
        w.finish().unwrap();
    }
    std::fs::write(targets_dir.join("penultimate.npy"), buf).unwrap();
    Corpus::with_targets(dir, tracks, read_targets(&targets_dir).unwrap()).unwrap()
}

fn loop_config(total_steps: usize) -> LoopConfig {
    LoopConfig {
        total_steps,
        learning_rate: 3e-3,
        warmup_steps: 1,
        final_lr_fraction: 0.1,
        weight_decay: 0.0,
        grad_clip_norm: 5.0,
        checkpoint_every_steps: 2,
        validate_every_steps: 0,
        seed: 11,
    }
}

fn weights_of(model: &Dpnn) -> Vec<f32> {
    let mut v = model.valid().embedding.weight.val().into_data().iter::<f32>().collect::<Vec<f32>>();
    v.extend(model.valid().timbre[0].conv.weight.val().into_data().iter::<f32>().collect::<Vec<f32>>());
    v
}

/// The distillation data of the tiny corpus (4 tracks per album) in `dir`,
/// one album held out, prepared for `cfg`.
fn tiny_distill_data(dir: &Path, cfg: &DistillConfig) -> DistillData {
    let corpus = tiny_corpus(dir, 4);
    let cancel = CancelToken::new();
    let (store, failures) = load_or_compute(&corpus, &dir.join("cache"), 2, &cancel, &|_| {}).unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let split = split_by_source(&corpus.tracks, 0.25, 10, 1);
    let tag_names = &corpus.targets.as_ref().unwrap().tag_names;
    let columns = teacher_columns(&teacher_vocabulary(), &teacher_sources(), tag_names).unwrap();
    DistillData::new(corpus, store, &split.train, &split.valid, &columns, cfg).unwrap()
}

#[test]
fn album_grouped_batches_give_the_album_concept_triplets_at_every_step() {
    let _training = training_in_process();
    let dir = tempfile::tempdir().unwrap();
    let cfg = DistillConfig {
        tracks_per_batch: 4,
        albums_per_batch: 2,
        album_weight: 1.0,
        artist_weight: 1.0,
        lsi_topics: 3,
        // No mixing: a mixed clip is no triplet anchor, and the count below is exact.
        augment: AugmentConfig { mix_prob: 0.0, ..AugmentConfig::default() },
        ..DistillConfig::default()
    };
    assert!(cfg.objective_summary().contains("album-concept triplets (weight 1)"));
    let data = tiny_distill_data(dir.path(), &cfg);
    let vocab = teacher_vocabulary();
    let cancel = CancelToken::new();
    let device = ComputeDevice::cpu();
    let config = DpnnConfig::default();
    let card = init_card(&config, &vocab, 5);
    let mut objective = Distill::new(&data, cfg, 11, &device.device);
    let model = init_model(&config, &vocab, 5, &device).unwrap();
    let mut steps = Vec::new();
    run(
        model,
        &card,
        &mut objective,
        &loop_config(3),
        &dir.path().join("run"),
        false,
        &device,
        &cancel,
        &mut |e| {
            if let TrainEvent::Step { parts, .. } = e {
                steps.push(parts.clone());
            }
        },
    )
    .unwrap();
    assert_eq!(steps.len(), 3);
    for parts in &steps {
        let get = |name: &str| parts.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        // Two albums of two tracks × two clips per batch: every one of the 8
        // clips has an album positive on the other track and negatives on the
        // other album.
        assert_eq!(get("album_triplets"), Some(8.0), "{parts:?}");
        assert!(get("album").is_some_and(f32::is_finite), "{parts:?}");
        assert!(get("artist_triplets").is_some(), "the artist term is mined: {parts:?}");
    }
}

#[test]
fn the_neighbourhood_term_ranks_each_clip_against_the_queued_past_batches_too() {
    let _training = training_in_process();
    let dir = tempfile::tempdir().unwrap();
    let cfg = DistillConfig {
        tracks_per_batch: 3,
        lsi_topics: 3,
        neighbour_weight: 1.0,
        neighbour_queue_batches: 2,
        // No mixing: every clip of a batch is queued, and the counts below are exact.
        augment: AugmentConfig { mix_prob: 0.0, ..AugmentConfig::default() },
        ..DistillConfig::default()
    };
    assert!(cfg.objective_summary().contains("(batch and 2 past batches)"), "{}", cfg.objective_summary());
    let data = tiny_distill_data(dir.path(), &cfg);
    let vocab = teacher_vocabulary();
    let cancel = CancelToken::new();
    let device = ComputeDevice::cpu();
    let config = DpnnConfig::default();
    let card = init_card(&config, &vocab, 5);
    let mut objective = Distill::new(&data, cfg, 11, &device.device);
    let model = init_model(&config, &vocab, 5, &device).unwrap();
    let mut candidates = Vec::new();
    run(
        model,
        &card,
        &mut objective,
        &loop_config(4),
        &dir.path().join("run"),
        false,
        &device,
        &cancel,
        &mut |e| {
            if let TrainEvent::Step { parts, .. } = e {
                let get = |name: &str| parts.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
                assert!(get("neighbourhood").is_some_and(f32::is_finite), "{parts:?}");
                candidates.push(get("neighbour_candidates").unwrap_or(f32::NAN));
            }
        },
    )
    .unwrap();
    // 3 tracks × 2 clips per batch; the queue holds at most the last 2 batches.
    assert_eq!(candidates, vec![6.0, 12.0, 18.0, 18.0]);
}

#[test]
fn distillation_learns_checkpoints_and_resumes_to_the_same_weights() {
    let _training = training_in_process();
    let dir = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(dir.path(), 4);
    let cancel = CancelToken::new();
    let (store, failures) = load_or_compute(&corpus, &dir.path().join("cache"), 2, &cancel, &|_| {}).unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let split = split_by_source(&corpus.tracks, 0.25, 10, 1);
    assert_eq!(split.valid.len(), 2, "one whole album held out");
    let vocab = teacher_vocabulary();
    let columns =
        teacher_columns(&vocab, &teacher_sources(), &corpus.targets.as_ref().unwrap().tag_names).unwrap();
    let cfg = DistillConfig { tracks_per_batch: 3, lsi_topics: 3, ..DistillConfig::default() };
    let data = DistillData::new(corpus, store, &split.train, &split.valid, &columns, &cfg).unwrap();
    let device = ComputeDevice::cpu();
    let config = DpnnConfig::default();
    let card = init_card(&config, &vocab, 5);
    let total = 6;

    // Uninterrupted run.
    let out_a = dir.path().join("run-a");
    let mut losses = Vec::new();
    let mut objective = Distill::new(&data, cfg.clone(), 11, &device.device);
    let model = init_model(&config, &vocab, 5, &device).unwrap();
    let a =
        run(model, &card, &mut objective, &loop_config(total), &out_a, false, &device, &cancel, &mut |e| {
            if let TrainEvent::Step { parts, .. } = e {
                losses.extend(parts.iter().filter(|(k, _)| k == "bce").map(|(_, v)| *v));
                assert!(parts.iter().any(|(k, v)| k == "relational" && v.is_finite()), "{parts:?}");
            }
        })
        .unwrap();
    assert_eq!(losses.len(), total);
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(
        losses[total - 1] < losses[0],
        "six steps should lower the tag loss on this easy corpus: {losses:?}"
    );
    let (_, last) = a.history.last().expect("a validation at the end");
    assert!(last.iter().any(|(k, v)| k == "same_track_p1" && (0.0..=1.0).contains(v)), "{last:?}");
    // The checkpoint is a loadable model directory.
    let ckpt = ModelBundle::read_dir(&out_a.join("checkpoint")).unwrap();
    assert_eq!(ckpt.card.version, card.version);
    // Starting over in a folder that holds a checkpoint needs --resume.
    let again = run(
        init_model(&config, &vocab, 5, &device).unwrap(),
        &card,
        &mut objective,
        &loop_config(total),
        &out_a,
        false,
        &device,
        &cancel,
        &mut |_| {},
    );
    assert!(again.unwrap_err().to_string().contains("--resume"));

    // Cancelled after step 3, then resumed.
    let out_b = dir.path().join("run-b");
    let stop = CancelToken::new();
    let mut objective = Distill::new(&data, cfg.clone(), 11, &device.device);
    let model = init_model(&config, &vocab, 5, &device).unwrap();
    let r = run(model, &card, &mut objective, &loop_config(total), &out_b, false, &device, &stop, &mut |e| {
        if let TrainEvent::Step { step: 3, .. } = e {
            stop.cancel();
        }
    });
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    let mut resumed_from = None;
    let model = init_model(&config, &vocab, 999, &device).unwrap(); // ignored: the checkpoint wins
    let b =
        run(model, &card, &mut objective, &loop_config(total), &out_b, true, &device, &cancel, &mut |e| {
            if let TrainEvent::Started { start_step, .. } = e {
                resumed_from = Some(*start_step);
            }
        })
        .unwrap();
    assert_eq!(resumed_from, Some(3));
    let (wa, wb) = (weights_of(&a.model), weights_of(&b.model));
    let diff = wa.iter().zip(&wb).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(diff < 1e-5, "resumed weights differ from the uninterrupted run by {diff}");

    // Other settings cannot resume this run.
    let mut other = loop_config(total);
    other.learning_rate = 1e-2;
    let r: Result<_> = run(
        init_model(&config, &vocab, 5, &device).unwrap(),
        &card,
        &mut objective,
        &other,
        &out_b,
        true,
        &device,
        &cancel,
        &mut |_| {},
    );
    assert!(r.unwrap_err().to_string().contains("other training settings"));
}

#[test]
fn train_distill_and_eval_commands_make_and_measure_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = tiny_corpus(dir.path(), 4);
    let mut list = String::from("rel_path\tsource\talbum\tartist\ttitle\tlicense\tduration_s\tkind\n");
    for t in &corpus.tracks {
        list.push_str(&format!("{}\t{}\t{}\ta\tt\tCC0\t20.000\tgenerated\n", t.rel_path, t.source, t.album));
    }
    let list_path = dir.path().join("list.tsv");
    std::fs::write(&list_path, list).unwrap();
    let p = |q: &str| dir.path().join(q).to_str().unwrap().to_string();
    let bin = env!("CARGO_BIN_EXE_tuneatlas");
    // `train distill` on the tiny corpus into models/<name>, checkpoints in runs/<name>.
    let distill = |name: &str, epochs: &str, extra: &[&str]| {
        let out = std::process::Command::new(bin)
            .args([
                "train",
                "distill",
                "--corpus",
                &p(""),
                "--targets",
                &p("targets"),
                "--list",
                &p("list.tsv"),
            ])
            .args(["--out", &p(&format!("models/{name}")), "--cache", &p("cache")])
            .args(["--checkpoints", &p(&format!("runs/{name}")), "--epochs", epochs])
            .args(["--tracks-per-batch", "3", "--lsi-topics", "3", "--valid-fraction", "0.25"])
            .args(["--validate-every", "0"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "train distill {extra:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ModelBundle::read_dir(&dir.path().join("models").join(name)).unwrap()
    };
    let bundle = distill("tiny", "2", &["--checkpoint-every", "2", "--version", "tiny-1"]);
    assert!(bundle.card.trained);
    assert_eq!(bundle.card.version, "tiny-1");
    assert!(bundle.card.metrics.contains_key("valid.same_track_p1"), "{:?}", bundle.card.metrics);
    assert!(dir.path().join("models/tiny/valid.tsv").exists());

    // Resuming a finished run writes the same model again.
    let resumed = distill("tiny", "2", &["--checkpoint-every", "2", "--version", "tiny-1", "--resume"]);
    // Same values (the file's parameter ids may differ: a reloaded network
    // takes its ids from the skeleton it was loaded into).
    let cpu = ComputeDevice::cpu();
    let first = bundle.instantiate(&cpu).unwrap();
    assert_eq!(weights_of(&first), weights_of(&resumed.instantiate(&cpu).unwrap()));
    // The training time is the whole run's, not the resuming process's (which ran no step).
    let seconds = |b: &ModelBundle| b.card.metrics.get("train.seconds").copied().unwrap_or(0.0);
    assert!(seconds(&bundle) > 0.0);
    assert!(seconds(&resumed) >= 0.9 * seconds(&bundle), "{} vs {}", seconds(&resumed), seconds(&bundle));

    // A second run on top of the first (--init): its card names the first as
    // its parent, and it starts from the first's weights, not from scratch.
    let child = distill("tiny2", "1", &["--version", "tiny-2", "--lr", "1e-9", "--init", &p("models/tiny")]);
    assert_eq!(child.card.provenance.parent.as_deref(), Some("tiny-1"));
    // Resuming it (without --init, which --resume refuses) keeps the parent.
    let card = distill("tiny2", "1", &["--version", "tiny-2", "--lr", "1e-9", "--resume"]).card;
    assert_eq!(card.provenance.parent.as_deref(), Some("tiny-1"), "a resumed run keeps its parent");
    // At a learning rate of 1e-9 the weights stay where the parent left them
    // (BatchNorm running statistics still move with the new batches).
    let (a, b) = (weights_of(&first), weights_of(&child.instantiate(&cpu).unwrap()));
    let max_diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max_diff < 0.05, "the continued run did not start from the parent: max |Δw| {max_diff}");
    let fresh = distill("tiny3", "1", &["--version", "tiny-3", "--lr", "1e-9", "--seed", "7"]);
    let c = weights_of(&fresh.instantiate(&cpu).unwrap());
    let fresh_diff = a.iter().zip(&c).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(fresh_diff > 10.0 * max_diff, "a fresh start differs more: {fresh_diff} vs {max_diff}");

    // eval on the held-out list, with and without teacher targets; the card
    // loses its figures first, so only --record can bring them back.
    let tiny = dir.path().join("models/tiny");
    let mut card = ModelBundle::read_dir(&tiny).unwrap().card;
    card.metrics.clear();
    std::fs::write(tiny.join("model.toml"), card.to_toml().unwrap()).unwrap();
    for with_targets in [true, false] {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(["eval", "--corpus", &p(""), "--list", &p("models/tiny/valid.tsv"), "--cache", &p("cache")])
            .args(["--model", &p("models/tiny"), "--device", "cpu"]);
        if with_targets {
            cmd.args(["--targets", &p("targets"), "--record"]);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "eval failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("tiny-1 (student)") && stdout.contains("same_track_p1"), "{stdout}");
        assert_eq!(stdout.contains("tag_auc"), with_targets, "{stdout}");
        if with_targets {
            // --record wrote the printed figures into the card, and the model
            // still loads (the card's weights hash is untouched).
            let card = ModelBundle::read_dir(&tiny).unwrap().card;
            let auc = card.metrics["valid.tag_auc"];
            assert!(stdout.contains(&format!("tag_auc {auc:.4}")), "{auc} not in {stdout}");
        }
    }
}
