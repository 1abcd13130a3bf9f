//! Log-mel features of every training clip, computed once and cached on disk.
//!
//! Why a cache: decoding 33 h of audio to take 7,562 six-second windows costs
//! minutes of both cores; an epoch of training costs about as much. Caching
//! the log-mels (float16, 20.8 kB a clip, ≈ 160 MB for the corpus) makes every
//! later epoch, resumed run, ablation and evaluation start at once. One file
//! per track, named by a hash of the feature specification, the path and the
//! clip starts, written atomically (temp file + rename): an interrupted build
//! resumes where it stopped and a changed clip grid or feature spec never
//! reads stale data.
//!
//! float16 is exact enough here: log-mel values are dB in [−100, ~+40], where
//! f16's spacing is ≤ 0.03 dB — far below the augmentation noise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use half::f16;

use super::corpus::Corpus;
use crate::audio::decode::AudioFile;
use crate::features::{self, MelExtractor};
use crate::jobs::CancelToken;
use crate::{Error, Result};

/// Values per clip: `N_MELS × N_FRAMES`.
pub const CLIP_VALUES: usize = features::N_MELS * features::N_FRAMES;

const MAGIC: &[u8; 8] = b"TAMEL001";
const HEADER_BYTES: usize = 8 + 3 * 4;

/// The log-mels of a corpus's clips, in [`Corpus::clips`] order.
///
/// Clips whose file could not be decoded have no features
/// ([`FeatureStore::has`] is false); the trainer leaves them out and says so.
#[derive(Debug, Clone)]
pub struct FeatureStore {
    data: Vec<f16>,
    present: Vec<bool>,
}

impl FeatureStore {
    /// Number of clips (present or not).
    pub fn len(&self) -> usize {
        self.present.len()
    }

    /// True when there are no clips at all.
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    /// Whether clip `i` has features.
    pub fn has(&self, clip: usize) -> bool {
        self.present.get(clip).copied().unwrap_or(false)
    }

    /// Clip `i`'s log-mel (`[N_MELS][N_FRAMES]`, dB) as f32, into `out`
    /// (`CLIP_VALUES` long). A missing clip reads as −100 dB silence.
    pub fn read_clip(&self, clip: usize, out: &mut [f32]) {
        let src = &self.data[clip * CLIP_VALUES..(clip + 1) * CLIP_VALUES];
        for (d, s) in out.iter_mut().zip(src) {
            *d = f32::from(*s);
        }
    }

    /// Several clips' log-mels back to back (`clips.len() × CLIP_VALUES`),
    /// the layout of a `[batch, 1, N_MELS, N_FRAMES]` input.
    pub fn read_clips(&self, clips: &[usize]) -> Vec<f32> {
        let mut x = vec![0.0f32; clips.len() * CLIP_VALUES];
        for (dst, &c) in x.chunks_exact_mut(CLIP_VALUES).zip(clips) {
            self.read_clip(c, dst);
        }
        x
    }

    /// Builds a store from f32 log-mels (tests and in-memory corpora).
    pub fn from_f32(clips: &[Vec<f32>]) -> FeatureStore {
        let mut data = Vec::with_capacity(clips.len() * CLIP_VALUES);
        for c in clips {
            data.extend(c.iter().take(CLIP_VALUES).map(|&v| f16::from_f32(v)));
            data.resize(data.len().next_multiple_of(CLIP_VALUES), f16::from_f32(-100.0));
        }
        FeatureStore { data, present: vec![true; clips.len()] }
    }
}

/// Progress of [`load_or_compute`], one event per track.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheProgress {
    /// Tracks done (read from the cache, computed or failed).
    pub done_tracks: usize,
    /// Tracks in the corpus.
    pub total_tracks: usize,
    /// Tracks whose features were already cached.
    pub cached_tracks: usize,
    /// The track just finished.
    pub current: String,
}

/// A track whose clips could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFailure {
    /// Track index in the corpus.
    pub track: usize,
    /// The error, naming the file.
    pub reason: String,
}

/// The cache file of one track's clips.
fn cache_path(cache_dir: &Path, rel_path: &str, starts_s: &[f64]) -> PathBuf {
    let mut h = blake3::Hasher::new();
    h.update(MAGIC);
    // Everything the values depend on: the feature specification…
    let spec = format!(
        "{}:{}:{}:{}:{}:{}:{}",
        features::SAMPLE_RATE_HZ,
        features::N_FFT,
        features::HOP_LEN_SAMPLES,
        features::N_MELS,
        features::N_FRAMES,
        features::FMIN_HZ,
        features::FMAX_HZ
    );
    h.update(spec.as_bytes());
    // …the file and the windows.
    h.update(rel_path.as_bytes());
    for s in starts_s {
        h.update(&s.to_le_bytes());
    }
    cache_dir.join(format!("{}.mel", &h.finalize().to_hex()[..32]))
}

fn read_cache(path: &Path, n_clips: usize, out: &mut [f16]) -> Option<()> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != HEADER_BYTES + n_clips * CLIP_VALUES * 2 || &bytes[..8] != MAGIC {
        return None;
    }
    let word = |i: usize| {
        u32::from_le_bytes([bytes[8 + 4 * i], bytes[9 + 4 * i], bytes[10 + 4 * i], bytes[11 + 4 * i]])
    };
    if word(0) as usize != n_clips
        || word(1) as usize != features::N_MELS
        || word(2) as usize != features::N_FRAMES
    {
        return None;
    }
    for (d, b) in out.iter_mut().zip(bytes[HEADER_BYTES..].chunks_exact(2)) {
        *d = f16::from_le_bytes([b[0], b[1]]);
    }
    out.iter().all(|v| v.is_finite()).then_some(())
}

fn write_cache(path: &Path, values: &[f16], n_clips: usize) -> Result<()> {
    let tmp = path.with_extension("mel.tmp");
    let mut bytes = Vec::with_capacity(HEADER_BYTES + values.len() * 2);
    bytes.extend_from_slice(MAGIC);
    for w in [n_clips, features::N_MELS, features::N_FRAMES] {
        bytes.extend_from_slice(&(w as u32).to_le_bytes());
    }
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let mut f = std::fs::File::create(&tmp).map_err(Error::io("create", &tmp))?;
    f.write_all(&bytes).map_err(Error::io("write", &tmp))?;
    f.sync_all().map_err(Error::io("sync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("rename", path))
}

/// Decodes one track's windows and computes their log-mels.
fn compute_track(path: &Path, starts_s: &[f64], mel: &MelExtractor, out: &mut [f16]) -> Result<()> {
    let mut file = AudioFile::open(path)?;
    let clips = file.read_clips(starts_s)?;
    for (clip, dst) in clips.iter().zip(out.chunks_exact_mut(CLIP_VALUES)) {
        let lm = mel.compute(clip);
        for (d, s) in dst.iter_mut().zip(&lm.data) {
            *d = f16::from_f32(*s);
        }
    }
    Ok(())
}

/// The log-mels of every clip of `corpus`, from the cache in `cache_dir`
/// where present, computed (on `n_workers` named threads) and cached where
/// not.
///
/// A track that fails to decode is reported in the returned list (its clips
/// are absent from the store) and the rest carries on; cancelling stops
/// after the tracks in flight, keeping what was cached.
pub fn load_or_compute(
    corpus: &Corpus,
    cache_dir: &Path,
    n_workers: usize,
    cancel: &CancelToken,
    on_progress: &(dyn Fn(&CacheProgress) + Sync),
) -> Result<(FeatureStore, Vec<FeatureFailure>)> {
    std::fs::create_dir_all(cache_dir).map_err(Error::io("create directory", cache_dir))?;
    let by_track = corpus.clips_by_track();
    let n_clips = corpus.clips.len();
    let mut data = vec![f16::from_f32(-100.0); n_clips * CLIP_VALUES];
    let mut present = vec![false; n_clips];

    // Split the output into per-track slices (clips of a track are contiguous).
    let mut jobs: Vec<(usize, &mut [f16])> = Vec::with_capacity(by_track.len());
    {
        let mut rest: &mut [f16] = &mut data;
        let mut offset = 0;
        for (t, clips) in by_track.iter().enumerate() {
            let Some(&first) = clips.first() else { continue };
            debug_assert_eq!(first, offset, "clips of a track must be contiguous");
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(clips.len() * CLIP_VALUES);
            jobs.push((t, mine));
            rest = tail;
            offset += clips.len();
        }
    }
    let total_tracks = jobs.len();
    let queue = Mutex::new(jobs.into_iter());
    let done = AtomicUsize::new(0);
    let cached = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, std::result::Result<(), String>)>> = Mutex::new(Vec::new());

    std::thread::scope(|scope| -> Result<()> {
        let mut handles = Vec::new();
        for w in 0..n_workers.max(1) {
            let (queue, done, cached, results, by_track) = (&queue, &done, &cached, &results, &by_track);
            let handle = std::thread::Builder::new()
                .name(format!("train-features-{w}"))
                .spawn_scoped(scope, move || {
                    let mel = MelExtractor::new();
                    loop {
                        if cancel.is_cancelled() {
                            return;
                        }
                        let next = queue.lock().ok().and_then(|mut q| q.next());
                        let Some((t, out)) = next else { return };
                        let track = &corpus.tracks[t];
                        let starts: Vec<f64> = by_track[t].iter().map(|&c| corpus.clips[c].start_s).collect();
                        let path = cache_path(cache_dir, &track.rel_path, &starts);
                        let outcome = if read_cache(&path, starts.len(), out).is_some() {
                            cached.fetch_add(1, Ordering::Relaxed);
                            Ok(())
                        } else {
                            compute_track(&corpus.path_of(t), &starts, &mel, out)
                                .and_then(|()| write_cache(&path, out, starts.len()))
                                .map_err(|e| e.to_string())
                        };
                        if let Ok(mut r) = results.lock() {
                            r.push((t, outcome));
                        }
                        let progress = CacheProgress {
                            done_tracks: done.fetch_add(1, Ordering::Relaxed) + 1,
                            total_tracks,
                            cached_tracks: cached.load(Ordering::Relaxed),
                            current: track.rel_path.clone(),
                        };
                        on_progress(&progress);
                    }
                })
                .map_err(|e| Error::Invalid(format!("cannot start a feature worker thread: {e}")))?;
            handles.push(handle);
        }
        for h in handles {
            if h.join().is_err() {
                return Err(Error::Invalid("a feature worker thread panicked".into()));
            }
        }
        Ok(())
    })?;
    cancel.check()?;

    let mut failures = Vec::new();
    let results = results.into_inner().map_err(|_| Error::Invalid("feature results poisoned".into()))?;
    for (t, outcome) in results {
        match outcome {
            Ok(()) => by_track[t].iter().for_each(|&c| present[c] = true),
            Err(reason) => failures.push(FeatureFailure { track: t, reason }),
        }
    }
    failures.sort_by_key(|f| f.track);
    Ok((FeatureStore { data, present }, failures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::corpus::{Corpus, CorpusTrack};

    fn write_tone(path: &Path, seconds: f64, freq_hz: f64) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22_050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..(seconds * 22_050.0) as usize {
            let x = (i as f64 / 22_050.0 * freq_hz * std::f64::consts::TAU).sin() * 0.3;
            w.write_sample((x * 32_767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn features_are_cached_and_failures_named() {
        let dir = tempfile::tempdir().unwrap();
        write_tone(&dir.path().join("a.wav"), 20.0, 440.0);
        std::fs::write(dir.path().join("bad.wav"), b"RIFF....not really").unwrap();
        let track = |p: &str| CorpusTrack {
            rel_path: p.into(),
            source: "s".into(),
            album: "x".into(),
            artist: String::new(),
            title: String::new(),
            license: String::new(),
            duration_s: Some(20.0),
            kind: String::new(),
        };
        let corpus = Corpus::without_targets(dir.path(), vec![track("a.wav"), track("bad.wav")], &[]);
        assert_eq!(corpus.clips.len(), 4, "two clips per 20 s track");
        let cache = dir.path().join("cache");
        let cancel = CancelToken::new();
        let (store, failures) = load_or_compute(&corpus, &cache, 2, &cancel, &|_| {}).unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].track, 1);
        assert!(failures[0].reason.contains("bad.wav"), "{}", failures[0].reason);
        assert!(store.has(0) && store.has(1) && !store.has(2));
        let mut clip = vec![0.0; CLIP_VALUES];
        store.read_clip(0, &mut clip);
        // The 440 Hz tone is loud in its band, the top band is near silent.
        let band_440 = (0..features::N_MELS)
            .max_by(|&a, &b| clip[a * features::N_FRAMES + 60].total_cmp(&clip[b * features::N_FRAMES + 60]))
            .unwrap();
        // Slaney mels are linear below 1 kHz: 440 Hz falls in band ≈ 10 of 80.
        assert!((7..13).contains(&band_440), "loudest band {band_440}");

        // Second run: everything good comes from the cache, bit for bit.
        let seen = Mutex::new(Vec::new());
        let (again, _) =
            load_or_compute(&corpus, &cache, 1, &cancel, &|p| seen.lock().unwrap().push(p.cached_tracks))
                .unwrap();
        assert_eq!(again.data, store.data);
        assert_eq!(seen.lock().unwrap().iter().max(), Some(&1));
    }
}
