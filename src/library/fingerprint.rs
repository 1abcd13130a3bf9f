//! Content fingerprints: how a renamed or moved file is recognised, so it keeps
//! its id, user tags and vectors instead of becoming a new track.
//!
//! Hashing whole files would read the entire library on every import of new
//! files; instead we hash the size plus three 64 KiB windows (start, middle,
//! end). Two different recordings practically never agree on all of them,
//! while a move or rename leaves every byte unchanged.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Error, Result};

/// Bytes hashed at each of the three sample points.
pub const WINDOW_BYTES: u64 = 64 * 1024;

/// Length of a fingerprint in bytes (blake3 output).
pub const FINGERPRINT_BYTES: usize = 32;

/// Fingerprints the file at `path` (see module docs).
pub fn fingerprint_file(path: &Path) -> Result<Vec<u8>> {
    let mut file = crate::audio::open_regular(path)?;
    let size_bytes = file.metadata().map_err(Error::io("stat", path))?.len();
    let mut hasher = blake3::Hasher::new();
    hasher.update(&size_bytes.to_le_bytes());
    let mut buf = vec![0u8; WINDOW_BYTES as usize];
    let mid = size_bytes.saturating_sub(WINDOW_BYTES) / 2;
    let tail = size_bytes.saturating_sub(WINDOW_BYTES);
    for offset in [0, mid, tail] {
        file.seek(SeekFrom::Start(offset)).map_err(Error::io("seek", path))?;
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).map_err(Error::io("read", path))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        hasher.update(&buf[..filled]);
    }
    Ok(hasher.finalize().as_bytes().to_vec())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_fingerprint_and_any_window_change_differs() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("sub dir é.bin");
        std::fs::write(&a, &data).unwrap();
        std::fs::write(&b, &data).unwrap();
        assert_eq!(fingerprint_file(&a).unwrap(), fingerprint_file(&b).unwrap());
        for pos in [10usize, 250_000, 499_990] {
            let mut changed = data.clone();
            changed[pos] ^= 1;
            std::fs::write(&b, &changed).unwrap();
            assert_ne!(fingerprint_file(&a).unwrap(), fingerprint_file(&b).unwrap(), "byte {pos}");
        }
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(fingerprint_file(&empty).unwrap().len(), FINGERPRINT_BYTES);
    }
}
