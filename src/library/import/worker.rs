//! The decode stage: one file at a time per worker, each on a thread of its
//! own under a time limit, into clips, levels and log-mel features.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use crossbeam_channel::{Receiver, bounded};

use super::{ImportEvent, Job, Outcome, Outputs, Processed, ToEmbed, WriterMsg, reason_of};
use crate::audio::clips::clip_starts_s;
use crate::audio::decode::AudioFile;
use crate::features::MelExtractor;
use crate::jobs::{CAUGHT_PANIC_THREAD_PREFIX, CancelToken, panic_message};
use crate::library::embed::clip_features;
use crate::library::fingerprint::fingerprint_file;
use crate::library::names::names_from_path;
use crate::store::{ClipRow, TrackRecord, WriteOp};
use crate::{Error, Result};

/// How a worker treats each file.
#[derive(Clone, Copy)]
pub(super) struct FileLimits {
    pub(super) decode_through: bool,
    pub(super) time: Duration,
}

pub(super) fn decode_worker(
    worker: usize,
    root: &Path,
    limits: FileLimits,
    mel: &std::sync::Arc<MelExtractor>,
    stop: &CancelToken,
    jobs: &Receiver<Job>,
    out: &Outputs<'_>,
) {
    for job in jobs.iter() {
        if stop.is_cancelled() {
            continue; // drain so the scanner never blocks on a full channel
        }
        let path = job.found.path.clone();
        let _ = out.event_tx.send(ImportEvent::Started { path: path.clone() });
        let (job, result) = process_within_limit(worker, job, root, limits, mel);
        let outcome = if job.known { Outcome::Updated } else { Outcome::New };
        let sent = match (result, out.model_tx) {
            (Ok(processed), Some(model_tx)) => model_tx
                .send((ToEmbed { record: processed.record, path, outcome }, processed.features))
                .is_ok(),
            (Ok(processed), None) => out
                .write_tx
                .send(WriterMsg::Ready {
                    op: Some(WriteOp::Upsert(Box::new(processed.record))),
                    path,
                    outcome,
                })
                .is_ok(),
            (Err(e), _) => {
                let reason = reason_of(&e);
                let op = WriteOp::Failed {
                    path: path.clone(),
                    size_bytes: Some(job.found.size_bytes),
                    mtime_ns: Some(job.found.mtime_ns),
                    reason: reason.clone(),
                };
                out.write_tx
                    .send(WriterMsg::Ready { op: Some(op), path, outcome: Outcome::Failed(reason) })
                    .is_ok()
            }
        };
        if !sent {
            return;
        }
    }
}

/// Processes one file on a thread of its own and waits at most
/// `limits.time` for it. A file that takes longer is reported as failed and
/// its thread left to finish (or not) on its own: a thread cannot be
/// stopped from outside, but the import need not wait for it. A panic in the
/// file's thread is caught and reported as that file's error.
fn process_within_limit(
    worker: usize,
    job: Job,
    root: &Path,
    limits: FileLimits,
    mel: &std::sync::Arc<MelExtractor>,
) -> (Job, Result<Processed>) {
    let path = job.found.path.clone();
    let (found, known) = (job.found.clone(), job.known);
    let (tx, rx) = bounded::<Result<Processed>>(1);
    let (root, mel) = (root.to_path_buf(), mel.clone());
    let started = std::time::Instant::now();
    let spawned =
        std::thread::Builder::new().name(format!("{CAUGHT_PANIC_THREAD_PREFIX}{worker}")).spawn(move || {
            // A decoder bug must cost one file, not the import.
            let result =
                catch_unwind(AssertUnwindSafe(|| process_file(&job, &root, limits.decode_through, &mel)))
                    .unwrap_or_else(|payload| {
                        let what = crate::text::shown_text(panic_message(payload.as_ref()));
                        Err(Error::decode(
                            format!("the decoder crashed on this file ({what}); please report it"),
                            &job.found.path,
                        ))
                    });
            let _ = tx.send(result);
        });
    let result = match spawned {
        Err(e) => Err(Error::Invalid(format!("cannot start a thread: {e}"))),
        // Measured from the start, so that a file that took longer than the
        // limit counts as over it even if its result was already waiting.
        Ok(_detached) => match rx.recv_timeout(limits.time) {
            Ok(result) if started.elapsed() <= limits.time => result,
            Ok(_) | Err(_) => Err(Error::decode(
                format!(
                    "took longer than the time limit of {} s for one file; skipped (the file may be corrupt)",
                    limits.time.as_secs_f64()
                ),
                &path,
            )),
        },
    };
    (Job { found, fingerprint: None, known }, result)
}

/// RMS level of a clip in dBFS, floored at -200 so silence stores as a number.
fn rms_db(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return -200.0;
    }
    let mean_square =
        samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len() as f64;
    if mean_square <= 1e-20 { -200.0 } else { (10.0 * mean_square.log10()).max(-200.0) }
}

fn process_file(job: &Job, root: &Path, decode_through: bool, mel: &MelExtractor) -> Result<Processed> {
    let path = &job.found.path;
    let fingerprint = match &job.fingerprint {
        Some(fp) => fp.clone(),
        None => fingerprint_file(path)?,
    };
    let mut audio = AudioFile::open(path)?;
    let info = audio.info().clone();
    let starts_s = clip_starts_s(info.duration_s);
    let mut clip_rows = Vec::with_capacity(starts_s.len());
    let mut features = Vec::with_capacity(starts_s.len());
    for (i, (start_s, (samples, mel))) in
        starts_s.iter().zip(clip_features(&mut audio, &starts_s, decode_through, mel)?).enumerate()
    {
        clip_rows.push(ClipRow { clip_index: i as u32, start_s: *start_s, rms_db: rms_db(&samples) });
        features.push(mel);
    }
    let mut tags = info.tags.clone();
    let untitled = tags.title.as_deref().is_none_or(|t| t.trim().is_empty());
    if untitled {
        let guessed = names_from_path(path, root);
        tags.title = Some(guessed.title);
        tags.artist = tags.artist.or(guessed.artist);
        tags.album = tags.album.or(guessed.album);
        tags.track_number = tags.track_number.or(guessed.track_number);
    }
    Ok(Processed {
        record: TrackRecord {
            path: path.clone(),
            size_bytes: job.found.size_bytes,
            mtime_ns: job.found.mtime_ns,
            fingerprint,
            tags,
            names_from_path: untitled,
            duration_s: info.duration_s,
            container: info.container.clone(),
            codec: info.codec.clone(),
            sample_rate_hz: info.sample_rate_hz,
            channels: info.channels,
            clips: clip_rows,
            model_output: None,
        },
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_levels() {
        assert_eq!(rms_db(&[0.0; 100]), -200.0);
        assert!((rms_db(&[1.0; 100])).abs() < 1e-9);
        assert!((rms_db(&[0.5, -0.5]) - 20.0 * 0.5f64.log10()).abs() < 1e-9);
    }
}
