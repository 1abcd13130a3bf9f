//! Generated WAV bytes: a canonical 44-byte header whose sizes may lie, a
//! 16-bit tone, and a reproducible noise stream.
//!
//! Why in the library: `tuneatlas bench hostile` builds its folder of hostile
//! inputs from these, and the hostile-input tests build the same kinds of
//! case; one generator keeps the files the benchmark measures and the files
//! the tests check the same. Nothing here reads or validates audio: lying is
//! the point (a header may claim any rate, size or block alignment).

use std::f64::consts::PI;

/// A 44-byte RIFF/WAVE header (`format` 1: PCM, 3: IEEE float) followed by
/// `data`. `block_align` and `data_len` are written as given, whatever
/// `channels`, `bits` and `data` really are, so a header can claim a
/// 4 GB stream over a few hundred bytes.
pub fn wav_bytes(
    rate_hz: u32,
    channels: u16,
    bits: u16,
    format: u16,
    block_align: u16,
    data_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(44 + data.len());
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&36u32.saturating_add(data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate_hz.to_le_bytes());
    v.extend_from_slice(&rate_hz.saturating_mul(u32::from(block_align)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// `seconds` of a 16-bit little-endian mono sine at `freq_hz`, amplitude 0.3
/// of full scale, sampled at `rate_hz`.
pub fn tone16(rate_hz: u32, seconds: f64, freq_hz: f64) -> Vec<u8> {
    let n = (f64::from(rate_hz) * seconds) as usize;
    (0..n)
        .flat_map(|i| {
            let t_s = i as f64 / f64::from(rate_hz);
            ((0.3 * (2.0 * PI * freq_hz * t_s).sin() * 32767.0) as i16).to_le_bytes()
        })
        .collect()
}

/// `n` bytes of xorshift noise from `seed`: "random" file contents that are
/// the same on every run.
pub fn noise_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_says_what_it_is_told_and_the_data_follows() {
        let v = wav_bytes(22_050, 1, 16, 1, 2, 0xFFFF_FFF0, &[1, 2, 3, 4]);
        assert_eq!(v.len(), 48);
        assert_eq!(&v[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(v[4..8].try_into().unwrap()),
            u32::MAX,
            "36 + the claimed size saturates"
        );
        assert_eq!(u32::from_le_bytes(v[24..28].try_into().unwrap()), 22_050);
        assert_eq!(
            u32::from_le_bytes(v[28..32].try_into().unwrap()),
            44_100,
            "byte rate = rate × block align"
        );
        assert_eq!(u32::from_le_bytes(v[40..44].try_into().unwrap()), 0xFFFF_FFF0);
        assert_eq!(&v[44..], &[1, 2, 3, 4]);
    }

    #[test]
    fn tones_have_their_length_and_noise_repeats_per_seed() {
        let t = tone16(22_050, 0.5, 440.0);
        assert_eq!(t.len(), 22_050);
        let peak = t.chunks(2).map(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs()).max().unwrap();
        assert!((9_000..=9_831).contains(&peak), "{peak}");
        assert_eq!(noise_bytes(64, 7), noise_bytes(64, 7));
        assert_ne!(noise_bytes(64, 7), noise_bytes(64, 8));
    }
}
