//! The MP4 edit list: encoder priming that symphonia 0.6 parses but does not
//! apply, read from the boxes ourselves.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Seconds of encoder priming at the start of the first audio track of an
/// MP4/M4A file, from its edit list (`moov/trak/edts/elst` media_time over the
/// `mdhd` time scale). AAC encoders prepend 1024–2112 priming samples and
/// signal them only there; symphonia 0.6 parses but does not apply the edit
/// list, so without this every AAC clip would be ~23–48 ms late.
pub(super) fn mp4_priming_s(path: &Path) -> Option<f64> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    // Find the top-level moov box (it may follow mdat).
    let mut pos = 0u64;
    let moov = loop {
        if pos + 8 > file_len {
            return None;
        }
        file.seek(SeekFrom::Start(pos)).ok()?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8]).ok()?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        let (size, header) = match size32 {
            0 => (file_len - pos, 8),
            1 => {
                file.read_exact(&mut head[8..16]).ok()?;
                (
                    u64::from_be_bytes([
                        head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
                    ]),
                    16,
                )
            }
            n => (u64::from(n), 8),
        };
        if size < header {
            return None;
        }
        if &kind == b"moov" {
            const MAX_MOOV_BYTES: u64 = 64 << 20;
            let body_len = (size - header).min(MAX_MOOV_BYTES);
            let mut body = vec![0u8; usize::try_from(body_len).ok()?];
            file.read_exact(&mut body).ok()?;
            break body;
        }
        pos += size;
    };
    for trak in boxes(&moov).filter(|(k, _)| k == b"trak").map(|(_, b)| b) {
        let mdia = find_box(trak, b"mdia")?;
        let hdlr = find_box(mdia, b"hdlr")?;
        if hdlr.get(8..12) != Some(b"soun") {
            continue;
        }
        let mdhd = find_box(mdia, b"mdhd")?;
        let timescale = match mdhd.first()? {
            1 => be_u32(mdhd.get(20..24)?),
            _ => be_u32(mdhd.get(12..16)?),
        };
        let elst = find_box(trak, b"edts").and_then(|edts| find_box(edts, b"elst"));
        let Some(elst) = elst else { return Some(0.0) };
        let version = *elst.first()?;
        let count = be_u32(elst.get(4..8)?) as usize;
        let entry_len = if version == 1 { 20 } else { 12 };
        for i in 0..count.min(16) {
            let e = elst.get(8 + i * entry_len..8 + (i + 1) * entry_len)?;
            let media_time = if version == 1 {
                i64::from_be_bytes(e.get(8..16)?.try_into().ok()?)
            } else {
                i64::from(be_u32(e.get(4..8)?) as i32)
            };
            if media_time >= 0 && timescale > 0 {
                return Some(media_time as f64 / f64::from(timescale));
            }
        }
        return Some(0.0);
    }
    None
}

fn be_u32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Iterates the child boxes of an MP4 box body as (type, body).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = be_u32(&data[..4]) as usize;
        let kind = [data[4], data[5], data[6], data[7]];
        let (header, size) = match size {
            0 => (8, data.len()),
            1 => {
                let big = u64::from_be_bytes(data.get(8..16)?.try_into().ok()?);
                (16, usize::try_from(big).ok()?)
            }
            n => (8, n),
        };
        if size < header || size > data.len() {
            return None;
        }
        let body = &data[header..size];
        data = &data[size..];
        Some((kind, body))
    })
}

fn find_box<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}
