//! Audio input: from a file on disk to the mono 22,050 Hz clips the model reads.
//!
//! - [`clips`]: *where* in a track the clips are taken (the shared clip grid).
//! - [`decode`]: opening files of any supported format (plus Opus via
//!   libopus), tags and duration, and decoding only the clip windows.
//! - [`resample`]: band-limited, timing-exact conversion to 22,050 Hz.
//! - [`stream`]: a whole file as PCM at its own rate, with accurate
//!   seeking — what playback plays.
//!
//! Typical use:
//!
//! ```no_run
//! use tuneatlas::audio::{AudioFile, clip_starts_s};
//! # fn main() -> tuneatlas::Result<()> {
//! let mut file = AudioFile::open(std::path::Path::new("song.ogg"))?;
//! let starts = clip_starts_s(file.info().duration_s);
//! let clips = file.read_clips(&starts)?; // Vec of 132,300-sample clips
//! # Ok(()) }
//! ```

pub mod clips;
pub mod decode;
pub mod resample;
pub mod stream;

pub use clips::{CLIP_LEN_S, MAX_CLIPS_PER_TRACK, clip_starts_s};
pub use decode::{AudioFile, AudioInfo, CLIP_LEN_SAMPLES, TARGET_SAMPLE_RATE_HZ, TrackTags};
pub use resample::Resampler;
pub use stream::PcmStream;
