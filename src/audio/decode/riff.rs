//! RIFF/WAVE chunks symphonia 0.6.1 reads but does not hand out (`LIST/INFO`
//! tags) or does not check (`fmt ` block alignment).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::TrackTags;
use super::tags::{leading_number, year_of};

/// Tags from a WAV file's `LIST`/`INFO` chunk (INAM title, IART artist, IPRD
/// album, IPRT/ITRK track, ICRD date, IGNR genre, ICMT comment), which symphonia 0.6.1
/// parses but does not hand out.
pub(super) fn riff_info_tags(path: &Path) -> Option<TrackTags> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    const MAX_INFO_BYTES: u32 = 1 << 20;
    loop {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk).ok()?;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"data" => return None,
            b"LIST" if (4..=MAX_INFO_BYTES).contains(&len) => {
                let mut body = vec![0u8; len as usize];
                file.read_exact(&mut body).ok()?;
                if &body[..4] == b"INFO" {
                    return Some(parse_riff_info(&body[4..]));
                }
                if len % 2 == 1 {
                    file.seek(SeekFrom::Current(1)).ok()?;
                }
            }
            _ => {
                file.seek(SeekFrom::Current(i64::from(len) + i64::from(len % 2))).ok()?;
            }
        }
    }
}

/// The `block_align` field of a WAV file's `fmt ` chunk (bytes per frame,
/// all channels), when the file is a RIFF/WAVE file with one.
pub(super) fn riff_block_align(path: &Path) -> Option<u16> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; 12];
    file.read_exact(&mut head).ok()?;
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return None;
    }
    loop {
        let mut chunk = [0u8; 8];
        file.read_exact(&mut chunk).ok()?;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"fmt " if len >= 16 => {
                let mut body = [0u8; 16];
                file.read_exact(&mut body).ok()?;
                return Some(u16::from_le_bytes([body[12], body[13]]));
            }
            b"data" => return None,
            _ => {
                file.seek(SeekFrom::Current(i64::from(len) + i64::from(len % 2))).ok()?;
            }
        }
    }
}

/// The sub-chunks of a RIFF `INFO` list (id, little-endian length, text).
fn parse_riff_info(mut data: &[u8]) -> TrackTags {
    let mut tags = TrackTags::default();
    while data.len() >= 8 {
        let id = [data[0], data[1], data[2], data[3]];
        let len = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let Some(raw) = data.get(8..8 + len) else { break };
        let value = String::from_utf8_lossy(raw);
        let value = value.trim_matches(char::from(0)).trim();
        let text = (!value.is_empty()).then(|| value.to_string());
        match &id {
            b"INAM" => tags.title = text,
            b"IART" => tags.artist = text,
            b"IPRD" => tags.album = text,
            b"IPRT" | b"ITRK" => tags.track_number = leading_number(value),
            b"ICRD" => tags.year = year_of(value),
            b"IGNR" => tags.genre = text,
            b"ICMT" => tags.comment = text,
            _ => {}
        }
        data = data.get(8 + len + len % 2..).unwrap_or_default();
    }
    tags
}
