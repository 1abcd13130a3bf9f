//! A generated, tagged music corpus whose tags follow audible properties.
//!
//! Why: fine-tuning must be shown to work (and be benchmarked) without
//! shipping anyone's music. Every track here is a sequence of decaying
//! harmonic notes whose three tags are *heard*, not arbitrary:
//!
//! - set `brightness`: **bright** (harmonics fall as 1/h^0.8, up to 8 kHz)
//!   or **dark** (1/h^2);
//! - set `density`: **busy** (4 onsets per second) or **sparse** (1.4 per second);
//! - set `register`: **low** (notes in 150–300 Hz) or **high** (350–700 Hz).
//!
//! The contrasts are deliberately moderate and each album's pad is loud, so
//! that a pretrained model does not already sort the tracks by these tags.
//!
//! The three are drawn independently per track and tracks are spread over
//! "albums" (one folder each, which the importer reads as the album) whose
//! production — level, noise floor and a sustained two-tone pad — is drawn
//! independently of the tags: albums do not give the tags away, and a
//! pretrained model that groups by production has something to unlearn. Files are
//! mono 16-bit WAV at 22,050 Hz, fully determined by the seed.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

/// Sample rate of the generated files (the model's own rate: no resampling).
pub const SYNTH_SAMPLE_RATE_HZ: u32 = 22_050;

/// The tag sets and their two tags each, in the order documented above.
pub const SYNTH_TAG_SETS: [(&str, [&str; 2]); 3] =
    [("brightness", ["bright", "dark"]), ("density", ["busy", "sparse"]), ("register", ["low", "high"])];

/// One generated track.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthTrack {
    /// The file written.
    pub path: PathBuf,
    /// Its album (= folder name).
    pub album: String,
    /// (set, tag) per tag set.
    pub tags: Vec<(String, String)>,
}

/// Writes `n_tracks` tracks of `seconds` each into `dir/<album>/track-NNN.wav`
/// over `n_albums` albums (see module docs). Returns them in track order.
///
/// # Errors
/// A file cannot be written.
pub fn write_tagged_corpus(
    dir: &Path,
    n_tracks: usize,
    n_albums: usize,
    seconds: f64,
    seed: u64,
) -> Result<Vec<SynthTrack>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_albums = n_albums.max(1);
    let productions: Vec<Production> = (0..n_albums)
        .map(|_| Production {
            gain: rng.random_range(0.15..0.35),
            noise: rng.random_range(0.0005..0.004),
            pad_hz: [rng.random_range(150.0..2500.0), rng.random_range(150.0..2500.0)],
            pad_level: rng.random_range(0.8..1.5),
        })
        .collect();
    let mut out = Vec::with_capacity(n_tracks);
    for i in 0..n_tracks {
        let album_index = i % n_albums;
        let album = format!("album-{album_index:02}");
        let choice: Vec<usize> = (0..SYNTH_TAG_SETS.len()).map(|_| rng.random_range(0..2)).collect();
        let tags: Vec<(String, String)> = SYNTH_TAG_SETS
            .iter()
            .zip(&choice)
            .map(|((set, names), &c)| (set.to_string(), names[c].to_string()))
            .collect();
        let (bright, busy, low) = (choice[0] == 0, choice[1] == 0, choice[2] == 0);
        let samples = render(&mut rng, seconds, bright, busy, low, &productions[album_index]);
        let path = dir.join(&album).join(format!("track-{i:03}.wav"));
        write_wav(&path, &samples)?;
        out.push(SynthTrack { path, album, tags });
    }
    Ok(out)
}

/// An album's sound, independent of the tags: level, noise floor and a
/// sustained two-tone pad (a stand-in for a record's production and
/// ambience, which a pretrained model readily groups by).
struct Production {
    gain: f32,
    noise: f32,
    pad_hz: [f32; 2],
    pad_level: f32,
}

fn render(
    rng: &mut ChaCha8Rng,
    seconds: f64,
    bright: bool,
    busy: bool,
    low: bool,
    p: &Production,
) -> Vec<f32> {
    let sr = SYNTH_SAMPLE_RATE_HZ as f32;
    let n = (seconds * f64::from(SYNTH_SAMPLE_RATE_HZ)) as usize;
    let mut y = vec![0.0f32; n];
    let onset_every_s = if busy { 0.25 } else { 0.7 };
    let (f_lo, f_hi) = if low { (150.0f32, 300.0f32) } else { (350.0, 700.0) };
    let decay_s = if busy { 0.12 } else { 0.3 };
    let rolloff = if bright { 0.8f32 } else { 2.0 };
    let mut t0 = rng.random_range(0.0..onset_every_s * 0.5);
    while t0 < seconds as f32 {
        let f0 = f_lo * (f_hi / f_lo).powf(rng.random_range(0.0..1.0));
        let start = (t0 * sr) as usize;
        let len = ((decay_s * 5.0) * sr) as usize;
        let harmonics: Vec<(f32, f32)> = (1..=40)
            .map(|h| (f0 * h as f32, (h as f32).powf(-rolloff)))
            .filter(|(f, _)| *f < 8_000.0)
            .collect();
        for k in 0..len.min(n.saturating_sub(start)) {
            let t = k as f32 / sr;
            let env = (-t / decay_s).exp() * (t * 500.0).min(1.0);
            let s: f32 = harmonics.iter().map(|(f, a)| a * (std::f32::consts::TAU * f * t).sin()).sum();
            y[start + k] += env * s;
        }
        t0 += onset_every_s * rng.random_range(0.8..1.2);
    }
    let peak = y.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    for (i, v) in y.iter_mut().enumerate() {
        let t = i as f32 / sr;
        let pad: f32 = p.pad_hz.iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>() * 0.5;
        *v = (*v / peak + p.pad_level * pad) * p.gain + p.noise * rng.random_range(-1.0..1.0);
    }
    y
}

fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("create directory", parent))?;
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SYNTH_SAMPLE_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let bad = |e: hound::Error| Error::Invalid(format!("cannot write WAV ({e}): {}", path.display()));
    let mut w = hound::WavWriter::create(path, spec).map_err(bad)?;
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32_767.0) as i16).map_err(bad)?;
    }
    w.finalize().map_err(bad)
}

/// The CSV (`path,tags,tag_set`, one row per track and set) that tags
/// `tracks` — what a user would import with `tuneatlas tag import --csv`.
pub fn tags_csv(tracks: &[SynthTrack]) -> String {
    let mut text = String::from("path,tags,tag_set\n");
    for t in tracks {
        for (set, tag) in &t.tags {
            text.push_str(&format!("\"{}\",{tag},{set}\n", t.path.display()));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_is_reproducible_and_tags_are_heard() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write_tagged_corpus(&dir.path().join("a"), 4, 2, 1.0, 5).expect("corpus");
        let b = write_tagged_corpus(&dir.path().join("b"), 4, 2, 1.0, 5).expect("corpus");
        assert_eq!(
            a.iter().map(|t| &t.tags).collect::<Vec<_>>(),
            b.iter().map(|t| &t.tags).collect::<Vec<_>>()
        );
        assert_eq!(std::fs::read(&a[0].path).expect("a"), std::fs::read(&b[0].path).expect("b"));
        assert_eq!(a[1].album, "album-01");
        let csv = tags_csv(&a);
        assert_eq!(csv.lines().count(), 1 + 4 * 3);
    }
}
