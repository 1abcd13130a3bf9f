//! Audio input: from a file on disk to the mono 22,050 Hz clips the model reads.
//!
//! - [`clips`]: *where* in a track the clips are taken (the shared clip grid).
//! - [`decode`]: opening files of any supported format (plus Opus via
//!   libopus), tags and duration, and decoding only the clip windows.
//! - [`resample`]: band-limited, timing-exact conversion to 22,050 Hz.
//! - [`stream`]: a whole file as PCM at its own rate, with accurate
//!   seeking — what playback plays.
//! - [`synth`]: generated WAV bytes (headers that may lie, tones, noise)
//!   for the hostile-input benchmark and tests.
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
pub mod synth;

pub use clips::{CLIP_LEN_S, MAX_CLIPS_PER_TRACK, clip_starts_s};
pub use decode::{AudioFile, AudioInfo, CLIP_LEN_SAMPLES, TARGET_SAMPLE_RATE_HZ, TrackTags};
pub use resample::Resampler;
pub use stream::PcmStream;

use std::fs::File;
use std::path::Path;

use crate::{Error, Result};

/// Opens `path` for reading only if it is a regular file.
///
/// Why: opening a named pipe blocks until someone writes to it, and reading a
/// device can block or never end; a FIFO or device that merely carries an
/// audio extension would hang the import. On Unix the file is opened
/// non-blocking (which changes nothing for a regular file) and checked on the
/// open handle, so a file swapped for a pipe after the walk cannot slip by.
pub fn open_regular(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(Error::io("open", path))?;
    let kind = file.metadata().map_err(Error::io("stat", path))?.file_type();
    if !kind.is_file() {
        return Err(Error::decode(format!("not a regular file ({})", describe_file_type(kind)), path));
    }
    Ok(file)
}

/// "a named pipe", "a socket", ... for messages about files that are not files.
pub fn describe_file_type(kind: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a named pipe";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}
