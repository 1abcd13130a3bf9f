//! Golden test: tuneatlas log-mel features against librosa on fixed clips.
//!
//! The fixtures in `tests/fixtures/golden/` are made by `make_golden.py`
//! (librosa `feature.melspectrogram(n_fft=2048, hop_length=1024, n_mels=80,
//! fmin=16, fmax=11000, pad_mode='reflect')` + `power_to_db(ref=1.0,
//! amin=1e-10, top_db=None)`), so this test pins ARCHITECTURE.md §3: if it fails,
//! features no longer match what the model was trained on.
//!
//! Tolerance: |Δ| ≤ 0.01 dB wherever librosa's value is above −60 dB, and
//! ≤ 0.25 dB elsewhere (down to the −100 dB floor). librosa windows and
//! transforms in f64 and rounds the spectrum to complex64; we do the whole
//! STFT in f32. f32 round-off is ~1e-7 relative to a frame's loudest bins:
//! far below 0.01 dB for any band within 60 dB of them, but for bands
//! 80–100 dB down (between the partials of the "tones" clip, which has no
//! noise floor on purpose) it is a visible fraction of the band's own power.
//! Measured with librosa 0.11.0 on x86-64: ≤ 0.001 dB loud, ≤ 0.07 dB quiet;
//! the margins cover rustfft's other code paths (SSE/NEON/scalar round
//! differently from AVX).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use tuneatlas::features::{CLIP_LEN_SAMPLES, MelExtractor, N_FRAMES, N_MELS};

/// Above this librosa level (dB) the tight tolerance applies.
const LOUD_THRESHOLD_DB: f32 = -60.0;
/// Max |Δ| (dB) for bands above [`LOUD_THRESHOLD_DB`].
const TOL_LOUD_DB: f32 = 0.01;
/// Max |Δ| (dB) for quieter bands (down to the −100 dB floor).
const TOL_QUIET_DB: f32 = 0.25;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden").join(name)
}

fn read_npy_f32(name: &str) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    assert_eq!(npy.order(), npyz::Order::C, "{name}: expected C order");
    (shape, npy.into_vec::<f32>().unwrap())
}

fn check(stem: &str) {
    let (in_shape, clip) = read_npy_f32(&format!("{stem}_input.npy"));
    assert_eq!(in_shape, vec![CLIP_LEN_SAMPLES as u64]);
    let (ref_shape, expected) = read_npy_f32(&format!("{stem}_logmel.npy"));
    assert_eq!(ref_shape, vec![N_MELS as u64, N_FRAMES as u64]);

    let got = MelExtractor::new().compute(&clip);
    assert_eq!(got.data.len(), expected.len());

    let (mut max_loud, mut max_quiet) = (0.0f32, 0.0f32);
    let mut worst = (0, 0, 0.0f32, 0.0f32);
    let mut worst_excess = 0.0f32;
    for mel in 0..N_MELS {
        for frame in 0..N_FRAMES {
            let want = expected[mel * N_FRAMES + frame];
            let have = got.get(mel, frame);
            assert!(have.is_finite(), "{stem}: non-finite at mel {mel} frame {frame}");
            let d = (have - want).abs();
            let tol = if want > LOUD_THRESHOLD_DB {
                max_loud = max_loud.max(d);
                TOL_LOUD_DB
            } else {
                max_quiet = max_quiet.max(d);
                TOL_QUIET_DB
            };
            if d / tol > worst_excess {
                worst_excess = d / tol;
                worst = (mel, frame, have, want);
            }
        }
    }
    println!(
        "{stem}: max |Δ| = {max_loud:.5} dB where librosa > {LOUD_THRESHOLD_DB} dB, \
         {max_quiet:.5} dB elsewhere"
    );
    assert!(
        worst_excess <= 1.0,
        "{stem}: mel {} frame {}: tuneatlas {} dB vs librosa {} dB \
         (max |Δ| {max_loud} dB loud, {max_quiet} dB quiet)",
        worst.0,
        worst.1,
        worst.2,
        worst.3
    );
}

#[test]
fn sweep_matches_librosa() {
    check("sweep");
}

#[test]
fn tones_with_silence_matches_librosa() {
    check("tones");
}
