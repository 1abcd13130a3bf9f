//! `tuneatlas::audio` on real files: every supported format opens with the
//! right codec, rate, duration and tags; clips land at the right time (checked
//! against the analytic test signal, not just against ourselves); seeking gives
//! the same audio as decoding straight through; bad files fail cleanly.
//!
//! Fixtures come from `tests/fixtures/audio/make_fixtures.sh`: a linear chirp
//! x(t) = 0.5·sin(2π(100·t + c·t²)), c = 195 (10 s files) or 90 (21 s file).

use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tuneatlas::Error;
use tuneatlas::audio::synth::noise_bytes;
use tuneatlas::audio::{AudioFile, CLIP_LEN_SAMPLES, TARGET_SAMPLE_RATE_HZ, TrackTags, clip_starts_s};

use crate::common::fixture;

/// The fixtures' test signal at time `t_s` (0 outside [0, duration)).
fn chirp(c: f64, duration_s: f64, t_s: f64) -> f64 {
    if !(0.0..duration_s).contains(&t_s) {
        return 0.0;
    }
    0.5 * (2.0 * PI * (100.0 * t_s + c * t_s * t_s)).sin()
}

struct Good {
    file: &'static str,
    container: &'static str,
    codec: &'static str,
    rate_hz: u32,
    channels: u16,
    duration_s: f64,
    /// Chirp rate c of the signal.
    c: f64,
    /// Title tag, or None for the untagged file.
    title: Option<&'static str>,
    /// Whether the absolute timing can be checked (an MP3 without a LAME
    /// header cannot signal its encoder delay, so it is 25 ms late by design).
    timed: bool,
}

const GOOD: &[Good] = &[
    Good {
        file: "chirp10_mp3.mp3",
        container: "mp3",
        codec: "mp3",
        rate_hz: 44_100,
        channels: 2,
        duration_s: 10.0,
        c: 195.0,
        title: Some("Chirp MP3"),
        timed: true,
    },
    Good {
        file: "notags_noxing.mp3",
        container: "mp3",
        codec: "mp3",
        rate_hz: 44_100,
        channels: 1,
        duration_s: 10.0,
        c: 195.0,
        title: None,
        timed: false,
    },
    Good {
        file: "chirp10_vorbis.ogg",
        container: "ogg",
        codec: "vorbis",
        rate_hz: 22_050,
        channels: 1,
        duration_s: 10.0,
        c: 195.0,
        title: Some("Chirp Vorbis"),
        timed: true,
    },
    Good {
        file: "chirp10_opus.opus",
        container: "ogg",
        codec: "opus",
        rate_hz: 48_000,
        channels: 2,
        duration_s: 10.0,
        c: 195.0,
        title: Some("Chirp Opus"),
        timed: true,
    },
    Good {
        file: "chirp10_flac.flac",
        container: "flac",
        codec: "flac",
        rate_hz: 8_000,
        channels: 1,
        duration_s: 10.0,
        c: 195.0,
        title: Some("Chirp FLAC"),
        timed: true,
    },
    Good {
        file: "chirp10_aac.m4a",
        container: "mp4",
        codec: "aac",
        rate_hz: 44_100,
        channels: 1,
        duration_s: 10.0,
        c: 195.0,
        title: Some("Chirp AAC"),
        timed: true,
    },
    Good {
        file: "chirp2_wav.wav",
        container: "wav",
        codec: "pcm_s16le",
        rate_hz: 22_050,
        channels: 1,
        duration_s: 2.5,
        c: 195.0,
        title: Some("Chirp WAV"),
        timed: true,
    },
    Good {
        file: "chirp5_aiff.aiff",
        container: "aiff",
        codec: "pcm_s16be",
        rate_hz: 11_025,
        channels: 1,
        duration_s: 5.0,
        c: 195.0,
        title: Some("Chirp AIFF"),
        timed: true,
    },
    Good {
        file: "chirp21_mp3.mp3",
        container: "mp3",
        codec: "mp3",
        rate_hz: 44_100,
        channels: 1,
        duration_s: 21.0,
        c: 90.0,
        title: Some("Long Chirp"),
        timed: true,
    },
];

fn good(file: &str) -> &'static Good {
    GOOD.iter().find(|g| g.file == file).expect("known fixture")
}

/// Lag (in 22,050 Hz samples, within ±`max_lag`) at which `clip` best matches
/// `reference(k)` (the expected value of clip sample k), and the normalised
/// correlation there. Uses 0.5 s from 0.1 s into the clip.
fn best_lag(clip: &[f32], max_lag: i64, reference: impl Fn(i64) -> f64) -> (i64, f64) {
    let (from, len) = (2_205i64, 11_025i64);
    let seg: Vec<f64> = (from..from + len).map(|k| f64::from(clip[k as usize])).collect();
    let seg_norm = seg.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut best = (0, f64::NEG_INFINITY);
    for lag in -max_lag..=max_lag {
        let r: Vec<f64> = (from..from + len).map(|k| reference(k + lag)).collect();
        let r_norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
        let dot: f64 = seg.iter().zip(&r).map(|(a, b)| a * b).sum();
        let corr = dot / (seg_norm * r_norm).max(1e-12);
        if corr > best.1 {
            best = (lag, corr);
        }
    }
    best
}

/// The expected clip sample k for a clip starting at `start_s`.
fn expected(g: &Good, start_s: f64) -> impl Fn(i64) -> f64 + '_ {
    move |k| chirp(g.c, g.duration_s, start_s + k as f64 / f64::from(TARGET_SAMPLE_RATE_HZ))
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn assert_clip_shape(clips: &[Vec<f32>], n: usize, what: &str) {
    assert_eq!(clips.len(), n, "{what}: clip count");
    for clip in clips {
        assert_eq!(clip.len(), CLIP_LEN_SAMPLES, "{what}: clip length");
        assert!(clip.iter().all(|v| v.is_finite()), "{what}: non-finite sample");
    }
}

#[test]
fn every_format_opens_with_the_right_info_and_tags() {
    for g in GOOD {
        let path = fixture(g.file);
        let file = AudioFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", g.file));
        let info = file.info();
        assert_eq!(info.container, g.container, "{}", g.file);
        assert_eq!(info.codec, g.codec, "{}", g.file);
        assert_eq!(info.sample_rate_hz, g.rate_hz, "{}", g.file);
        assert_eq!(info.channels, g.channels, "{}", g.file);
        assert!(
            (info.duration_s - g.duration_s).abs() <= 0.05,
            "{}: duration {} s, want {} s",
            g.file,
            info.duration_s,
            g.duration_s
        );
        match g.title {
            // ffmpeg's AIFF muxer only writes the NAME chunk.
            Some(title) if g.container == "aiff" => {
                assert_eq!(info.tags.title.as_deref(), Some(title), "{}", g.file)
            }
            Some(title) => {
                let want = TrackTags {
                    title: Some(title.to_string()),
                    artist: Some("Tuneatlas Test".to_string()),
                    album: Some("Fixtures".to_string()),
                    album_artist: None,
                    track_number: Some(3),
                    disc_number: None,
                    year: Some(2024),
                    genre: Some("Electronic".to_string()),
                    comment: None,
                };
                assert_eq!(info.tags, want, "{}", g.file);
            }
            None => assert_eq!(info.tags, TrackTags::default(), "{}", g.file),
        }
    }
}

#[test]
fn grid_clips_have_the_right_shape_and_land_at_the_right_time() {
    for g in GOOD {
        let path = fixture(g.file);
        let mut file = AudioFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", g.file));
        let starts = clip_starts_s(file.info().duration_s);
        let clips = file.read_clips(&starts).unwrap_or_else(|e| panic!("{}: {e}", g.file));
        assert_clip_shape(&clips, starts.len(), g.file);
        for (clip, &start_s) in clips.iter().zip(&starts) {
            assert!(rms(clip) > 0.1, "{} @ {start_s}: silent clip (rms {})", g.file, rms(clip));
            // Past the end of the audio the clip is silence.
            let end_k = ((g.duration_s - start_s) * f64::from(TARGET_SAMPLE_RATE_HZ)) as usize;
            if end_k + 500 < CLIP_LEN_SAMPLES {
                assert!(rms(&clip[end_k + 500..]) < 1e-3, "{}: tail not silent", g.file);
            }
            let (lag, corr) = best_lag(clip, 600, expected(g, start_s));
            eprintln!("{:>20} @ {start_s:6.3} s: lag {lag:+} samples, corr {corr:.4}", g.file);
            if g.timed {
                assert!(lag.abs() <= 1, "{} @ {start_s}: clip is {lag} samples off", g.file);
                assert!(corr > 0.95, "{} @ {start_s}: correlation {corr}", g.file);
            } else {
                // No LAME header: the encoder delay (1105 samples at 44.1 kHz)
                // stays in, so the audio is 25 ms (552 clip samples) late.
                assert!((lag + 552).abs() <= 2, "{} @ {start_s}: lag {lag}", g.file);
            }
        }
    }
}

/// Clips read via seeking (forwards, backwards, to 0) equal the same windows
/// cut from one straight decode, for every compressed format.
#[test]
fn seeking_gives_the_same_audio_as_decoding_through() {
    let cases: &[(&str, &[f64])] = &[
        ("chirp10_mp3.mp3", &[3.7, 1.2, 0.0, 2.5]),
        ("chirp10_vorbis.ogg", &[3.7, 1.2, 0.0, 2.5]),
        ("chirp10_opus.opus", &[3.7, 1.2, 0.0, 2.5]),
        ("chirp10_flac.flac", &[3.7, 1.2, 0.0, 2.5]),
        ("chirp10_aac.m4a", &[3.7, 1.2, 0.0, 2.5]),
        ("chirp5_aiff.aiff", &[3.7, 1.2, 0.0]),
        ("chirp21_mp3.mp3", &[3.0, 15.0, 7.77, 14.9]),
    ];
    for (name, starts) in cases {
        let path = fixture(name);
        let mut reference = AudioFile::open(&path).expect("open");
        let through = reference.read_clips_decode_through(starts).expect("decode through");
        let mut seeking = AudioFile::open(&path).expect("open");
        for (i, &start) in starts.iter().enumerate() {
            // One call per start: every call seeks from wherever the last one ended.
            let clip = seeking.read_clips(&[start]).expect("read via seek").remove(0);
            let want = &through[i];
            let dot: f64 = clip.iter().zip(want).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
            let corr = dot / (rms(&clip) * rms(want) * CLIP_LEN_SAMPLES as f64).max(1e-12);
            let max_diff = clip.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            eprintln!("{name:>20} @ {start:5.2}: corr {corr:.6}, max |Δ| {max_diff:.2e}");
            assert!(corr >= 0.99, "{name} @ {start}: correlation {corr}");
            assert!(max_diff < 0.02, "{name} @ {start}: max |Δ| {max_diff}");
            let g = good(name);
            let (lag, _) = best_lag(&clip, 40, expected(g, start));
            assert!(lag.abs() <= 1, "{name} @ {start}: {lag} samples off");
        }
    }
}

#[test]
// A throwaway thread whose name nobody will read (see clippy.toml).
#[allow(clippy::disallowed_methods)]
fn an_open_file_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<AudioFile>();
    let mut file = AudioFile::open(&fixture("chirp10_opus.opus")).expect("open");
    let clips = std::thread::spawn(move || file.read_clips(&[2.0])).join().expect("thread").expect("read");
    assert_eq!(clips[0].len(), CLIP_LEN_SAMPLES);
}

#[test]
fn clips_come_back_in_the_order_asked() {
    let path = fixture("chirp21_mp3.mp3");
    let mut file = AudioFile::open(&path).expect("open");
    let sorted = file.read_clips(&[3.0, 15.0]).expect("sorted");
    let mut file = AudioFile::open(&path).expect("open");
    let reversed = file.read_clips(&[15.0, 3.0]).expect("reversed");
    assert_eq!(sorted[0], reversed[1]);
    assert_eq!(sorted[1], reversed[0]);
    assert!(file.read_clips(&[]).expect("empty").is_empty());
    assert!(file.read_clips(&[f64::NAN]).is_err());
}

#[test]
fn clips_before_the_start_and_after_the_end_are_zero_padded() {
    let g = good("chirp10_flac.flac");
    let mut file = AudioFile::open(&fixture(g.file)).expect("open");
    let clips = file.read_clips(&[-3.0, 8.0, 30.0]).expect("read");
    assert_clip_shape(&clips, 3, g.file);
    let half = CLIP_LEN_SAMPLES / 2;
    assert!(rms(&clips[0][..half - 200]) < 1e-4, "before 0 s must be silent");
    assert!(rms(&clips[0][half + 200..]) > 0.1);
    assert!(rms(&clips[1][..half - 200]) > 0.1);
    assert!(rms(&clips[1][CLIP_LEN_SAMPLES / 3 + 200..]) < 1e-4, "after the end must be silent");
    assert!(rms(&clips[2]) < 1e-6, "a clip past the end is all zeros");
}

// ---------------------------------------------------------------------------
// Bad inputs

fn copy_to(dir: &Path, fixture_name: &str, new_name: &str) -> PathBuf {
    let to = dir.join(new_name);
    std::fs::copy(fixture(fixture_name), &to).expect("copy fixture");
    to
}

fn truncated(dir: &Path, fixture_name: &str, fraction: f64) -> PathBuf {
    let bytes = std::fs::read(fixture(fixture_name)).expect("read");
    let keep = (bytes.len() as f64 * fraction) as usize;
    let to = dir.join(format!("truncated_{fixture_name}"));
    std::fs::write(&to, &bytes[..keep]).expect("write");
    to
}

fn corrupted(dir: &Path, fixture_name: &str) -> PathBuf {
    let mut bytes = std::fs::read(fixture(fixture_name)).expect("read");
    let (from, to) = (bytes.len() * 2 / 5, bytes.len() * 3 / 5);
    bytes[from..to].copy_from_slice(&noise_bytes(to - from, 7));
    let path = dir.join(format!("corrupt_{fixture_name}"));
    std::fs::write(&path, &bytes).expect("write");
    path
}

fn assert_err_names_path(result: tuneatlas::Result<impl std::fmt::Debug>, path: &Path, reason: &str) {
    match result {
        Ok(v) => panic!("{}: expected an error ({reason}), got {v:?}", path.display()),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "message lacks the path: {msg}");
            assert!(msg.contains(reason), "message lacks '{reason}': {msg}");
            assert!(matches!(e, Error::Decode { .. }), "not a decode error: {e:?}");
        }
    }
}

#[test]
fn unusable_files_give_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.mp3");
    std::fs::write(&empty, b"").expect("write");
    assert_err_names_path(AudioFile::open(&empty), &empty, "empty file");

    let text = dir.path().join("notes.mp3");
    std::fs::write(&text, "These are not the droids you are looking for.\n".repeat(200)).expect("write");
    assert_err_names_path(AudioFile::open(&text), &text, "not a recognised audio format");

    let png = fixture("not_audio.png");
    assert_err_names_path(AudioFile::open(&png), &png, "not a recognised audio format");

    let noise = dir.path().join("noise.ogg");
    std::fs::write(&noise, noise_bytes(50_000, 3)).expect("write");
    match AudioFile::open(&noise).and_then(|mut f| f.read_clips(&[0.0])) {
        Ok(_) => panic!("random bytes decoded as audio"),
        Err(e) => assert!(e.to_string().contains("noise.ogg"), "{e}"),
    }

    let ac3 = fixture("unsupported_ac3.mka");
    assert_err_names_path(AudioFile::open(&ac3), &ac3, "unsupported codec: AC-3");
    let speex = fixture("unsupported_speex.ogg");
    assert_err_names_path(AudioFile::open(&speex), &speex, "unsupported codec: Speex");
    let wma = fixture("unsupported_wma.wma");
    assert_err_names_path(AudioFile::open(&wma), &wma, "unsupported format: ASF/WMA");

    // The start of a valid Ogg Vorbis file: named as such, not "unknown".
    let ogg = std::fs::read(fixture("chirp10_vorbis.ogg")).expect("read");
    let cut = dir.path().join("cut.ogg");
    std::fs::write(&cut, &ogg[..200]).expect("write");
    assert_err_names_path(AudioFile::open(&cut), &cut, "corrupt or truncated Ogg Vorbis header");

    let missing = dir.path().join("gone.flac");
    match AudioFile::open(&missing) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn content_decides_the_format_not_the_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let txt = copy_to(dir.path(), "chirp10_mp3.mp3", "really_an_mp3.txt");
    let mut file = AudioFile::open(&txt).expect("an MP3 named .txt opens");
    assert_eq!(file.info().codec, "mp3");
    let clips = file.read_clips(&clip_starts_s(file.info().duration_s)).expect("decodes");
    assert!(rms(&clips[0]) > 0.1);
    let ogg_as_mp3 = copy_to(dir.path(), "chirp10_vorbis.ogg", "vorbis.mp3");
    assert_eq!(AudioFile::open(&ogg_as_mp3).expect("open").info().codec, "vorbis");
}

#[test]
fn truncated_files_decode_what_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in
        ["chirp10_mp3.mp3", "chirp10_vorbis.ogg", "chirp10_opus.opus", "chirp10_flac.flac", "chirp21_mp3.mp3"]
    {
        let path = truncated(dir.path(), name, 0.5);
        let mut file = AudioFile::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let duration_s = file.info().duration_s;
        let starts = clip_starts_s(duration_s);
        let clips = file.read_clips(&starts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_clip_shape(&clips, starts.len(), name);
        let g = good(name);
        // The first half of the audio is there and in time.
        let (lag, corr) = best_lag(&clips[0], 40, expected(g, starts[0]));
        eprintln!(
            "truncated {name}: duration {duration_s:.2} s, starts {starts:?}, lag {lag}, corr {corr:.3}"
        );
        assert!(lag.abs() <= 1 && corr > 0.95, "{name}: lag {lag} corr {corr}");
        // Nothing after (roughly) the cut.
        let cut_s = g.duration_s * 0.5 + 0.5;
        for (clip, &start_s) in clips.iter().zip(&starts) {
            let from = ((cut_s - start_s).max(0.0) * f64::from(TARGET_SAMPLE_RATE_HZ)) as usize;
            if from < CLIP_LEN_SAMPLES {
                assert!(rms(&clip[from..]) < 1e-3, "{name} @ {start_s}: audio after the cut");
            }
        }
    }
}

#[test]
fn a_clip_wholly_past_the_cut_is_silence_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // About 1.5 s (MP3) and 3 s (FLAC, after its 8 KB header) of audio left,
    // but the headers still say 10 s.
    for (name, fraction) in [("chirp10_mp3.mp3", 0.15), ("chirp10_flac.flac", 0.4)] {
        let path = truncated(dir.path(), name, fraction);
        let mut file = AudioFile::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!((file.info().duration_s - 10.0).abs() < 0.05, "{name}: stated duration");
        let clips = file.read_clips(&[4.0, 0.0]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rms(&clips[0]) < 1e-6, "{name}: audio where the file has none");
        assert!(rms(&clips[1][..CLIP_LEN_SAMPLES / 8]) > 0.1, "{name}: the start is lost");
    }
}

#[test]
fn the_first_samples_of_a_gapless_mp3_are_in_place() {
    // The first MP3 frame is mostly encoder delay (1105 of 1152 samples are
    // trimmed); the 47 that remain must land at t = 0, not 25 ms later.
    let g = good("chirp10_mp3.mp3");
    let mut file = AudioFile::open(&fixture(g.file)).expect("open");
    let clip = file.read_clips(&[0.0]).expect("read").remove(0);
    let reference = expected(g, 0.0);
    let worst = (2..40).map(|k| (f64::from(clip[k]) - reference(k as i64)).abs()).fold(0.0, f64::max);
    assert!(worst < 0.05, "first ms off by up to {worst}");
}

#[test]
fn corrupt_files_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "chirp10_mp3.mp3",
        "chirp10_vorbis.ogg",
        "chirp10_opus.opus",
        "chirp10_flac.flac",
        "chirp10_aac.m4a",
        "chirp5_aiff.aiff",
        "chirp21_mp3.mp3",
    ] {
        let path = corrupted(dir.path(), name);
        let result = AudioFile::open(&path).and_then(|mut f| {
            let starts = clip_starts_s(f.info().duration_s);
            f.read_clips(&starts)
        });
        match result {
            Ok(clips) => {
                assert!(clips.iter().all(|c| c.len() == CLIP_LEN_SAMPLES && c.iter().all(|v| v.is_finite())));
                eprintln!("corrupt {name}: decoded {} clips", clips.len());
            }
            Err(e) => {
                assert!(e.to_string().contains(&path.display().to_string()), "{e}");
                eprintln!("corrupt {name}: {e}");
            }
        }
    }
}

#[test]
fn a_file_where_nothing_decodes_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A WAV whose header promises 2.5 s but whose data stops right there.
    let bytes = std::fs::read(fixture("chirp2_wav.wav")).expect("read");
    let data_at = bytes.windows(4).position(|w| w == b"data").expect("data chunk") + 8;
    let header_only = dir.path().join("header_only.wav");
    std::fs::write(&header_only, &bytes[..data_at]).expect("write");
    // A header whose length the file's size cannot hold is checked against
    // the data when the file is opened: no audio at all is an error there.
    assert_err_names_path(AudioFile::open(&header_only), &header_only, "the file holds no audio");

    // Valid FLAC / Ogg Vorbis headers, then garbage or nothing.
    let flac = std::fs::read(fixture("chirp10_flac.flac")).expect("read");
    let ogg = std::fs::read(fixture("chirp10_vorbis.ogg")).expect("read");
    let cases = [
        ("flac_garbage.flac", [&flac[..8_300], &noise_bytes(40_000, 11)[..]].concat()),
        ("flac_header_only.flac", flac[..8_300].to_vec()),
        ("ogg_headers_only.ogg", ogg[..4_000].to_vec()),
        ("ogg_garbage.ogg", [&ogg[..4_000], &noise_bytes(40_000, 13)[..]].concat()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let result =
            AudioFile::open(&path).and_then(|mut f| f.read_clips(&clip_starts_s(f.info().duration_s)));
        match result {
            Ok(_) => panic!("{name}: decoded as audio"),
            Err(e) => {
                eprintln!("{name}: {e}");
                assert!(e.to_string().contains(name), "{e}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A Vorbis file with a ~1 MB comment header (cover art in
// METADATA_BLOCK_PICTURE, as in the HyperRogue soundtrack).

/// Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, no final xor).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
        }
    }
    crc
}

struct OggPage {
    header_type: u8,
    granule: u64,
    serial: u32,
    lacing: Vec<u8>,
    data: Vec<u8>,
}

fn parse_ogg(bytes: &[u8]) -> Vec<OggPage> {
    let mut pages = Vec::new();
    let mut pos = 0;
    while pos + 27 <= bytes.len() {
        assert_eq!(&bytes[pos..pos + 4], b"OggS");
        let nseg = bytes[pos + 26] as usize;
        let lacing = bytes[pos + 27..pos + 27 + nseg].to_vec();
        let len: usize = lacing.iter().map(|&l| l as usize).sum();
        let data_at = pos + 27 + nseg;
        pages.push(OggPage {
            header_type: bytes[pos + 5],
            granule: u64::from_le_bytes(bytes[pos + 6..pos + 14].try_into().expect("8 bytes")),
            serial: u32::from_le_bytes(bytes[pos + 14..pos + 18].try_into().expect("4 bytes")),
            lacing,
            data: bytes[data_at..data_at + len].to_vec(),
        });
        pos = data_at + len;
    }
    pages
}

fn write_ogg_page(out: &mut Vec<u8>, page: &OggPage, seq: u32) {
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(page.header_type);
    out.extend_from_slice(&page.granule.to_le_bytes());
    out.extend_from_slice(&page.serial.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(page.lacing.len() as u8);
    out.extend_from_slice(&page.lacing);
    out.extend_from_slice(&page.data);
    let crc = ogg_crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

/// Splits the first three packets (Vorbis headers) out of `pages`; returns
/// them and the index of the first page after them.
fn vorbis_headers(pages: &[OggPage]) -> (Vec<Vec<u8>>, usize) {
    let mut packets = Vec::new();
    let mut current = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let mut at = 0;
        for &l in &page.lacing {
            current.extend_from_slice(&page.data[at..at + l as usize]);
            at += l as usize;
            if l < 255 {
                packets.push(std::mem::take(&mut current));
                if packets.len() == 3 {
                    assert_eq!(at, page.data.len(), "audio shares the last header page");
                    return (packets, i + 1);
                }
            }
        }
    }
    panic!("fewer than three header packets");
}

/// Pages for `packets` (each packet starts a new lacing run; 255 lacing
/// values per page at most).
fn paginate(packets: &[Vec<u8>], serial: u32) -> Vec<OggPage> {
    let mut pages = Vec::new();
    let mut page = OggPage { header_type: 0, granule: 0, serial, lacing: Vec::new(), data: Vec::new() };
    for packet in packets {
        let mut lacing: Vec<u8> = vec![255; packet.len() / 255];
        lacing.push((packet.len() % 255) as u8);
        let mut at = 0;
        for l in lacing {
            if page.lacing.len() == 255 {
                let continued = at > 0;
                pages.push(std::mem::replace(
                    &mut page,
                    OggPage {
                        header_type: if continued { 1 } else { 0 },
                        granule: 0,
                        serial,
                        lacing: Vec::new(),
                        data: Vec::new(),
                    },
                ));
            }
            page.lacing.push(l);
            page.data.extend_from_slice(&packet[at..at + l as usize]);
            at += l as usize;
        }
    }
    pages.push(page);
    pages
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A Vorbis comment packet with a title and a ~1 MB cover picture.
fn big_comment_packet(picture_bytes: usize) -> Vec<u8> {
    let mut picture = Vec::new();
    picture.extend_from_slice(&3u32.to_be_bytes()); // front cover
    picture.extend_from_slice(&9u32.to_be_bytes());
    picture.extend_from_slice(b"image/png");
    picture.extend_from_slice(&0u32.to_be_bytes()); // description
    for v in [512u32, 512, 24, 0] {
        picture.extend_from_slice(&v.to_be_bytes());
    }
    picture.extend_from_slice(&(picture_bytes as u32).to_be_bytes());
    picture.extend(noise_bytes(picture_bytes, 5));
    let comments = [
        "TITLE=Big Comment".to_string(),
        "ARTIST=HyperRogue-like".to_string(),
        format!("METADATA_BLOCK_PICTURE={}", base64(&picture)),
    ];
    let vendor = b"tuneatlas test";
    let mut p = vec![3];
    p.extend_from_slice(b"vorbis");
    p.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    p.extend_from_slice(vendor);
    p.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for c in &comments {
        p.extend_from_slice(&(c.len() as u32).to_le_bytes());
        p.extend_from_slice(c.as_bytes());
    }
    p.push(1); // framing bit
    p
}

#[test]
fn vorbis_with_a_one_megabyte_comment_opens() {
    let bytes = std::fs::read(fixture("chirp10_vorbis.ogg")).expect("read");
    let pages = parse_ogg(&bytes);
    let (headers, first_audio_page) = vorbis_headers(&pages);
    let serial = pages[0].serial;
    let comment = big_comment_packet(780_000);
    assert!(comment.len() > 1_000_000, "comment is {} bytes", comment.len());
    let mut out = Vec::new();
    write_ogg_page(&mut out, &pages[0], 0);
    let mut seq = 1;
    for page in paginate(&[comment, headers[2].clone()], serial) {
        write_ogg_page(&mut out, &page, seq);
        seq += 1;
    }
    for page in &pages[first_audio_page..] {
        write_ogg_page(&mut out, page, seq);
        seq += 1;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big_comment.ogg");
    std::fs::write(&path, &out).expect("write");

    let mut file = AudioFile::open(&path).unwrap_or_else(|e| panic!("big comment: {e}"));
    assert_eq!(file.info().codec, "vorbis");
    assert_eq!(file.info().tags.title.as_deref(), Some("Big Comment"));
    assert!((file.info().duration_s - 10.0).abs() < 0.05, "duration {}", file.info().duration_s);
    let starts = clip_starts_s(file.info().duration_s);
    let clips = file.read_clips(&starts).expect("read clips");
    let (lag, corr) = best_lag(&clips[0], 40, expected(good("chirp10_vorbis.ogg"), starts[0]));
    assert!(lag.abs() <= 1 && corr > 0.95, "lag {lag} corr {corr}");
}

// ---------------------------------------------------------------------------
// Long files

/// A 2-hour 8 kHz WAV (115 MB) opens and yields its 12 grid clips by seeking,
/// each at the right time (the signal is a slow chirp, so a clip taken from
/// the wrong place does not correlate).
#[test]
fn two_hour_wav_reads_twelve_clips_by_seeking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("two_hours.wav");
    let rate = 8_000u32;
    let duration_s = 7_200.0;
    // f(t) = 200 + t/20 Hz: phase 2π(200t + t²/40).
    let signal = |t: f64| 0.4 * (2.0 * PI * (200.0 * t + t * t / 40.0)).sin();
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).expect("create wav");
        let mut writer = w.get_i16_writer((duration_s * f64::from(rate)) as u32);
        for n in 0..(duration_s * f64::from(rate)) as u64 {
            writer.write_sample((signal(n as f64 / f64::from(rate)) * 32767.0) as i16);
        }
        writer.flush().expect("flush");
        w.finalize().expect("finalize");
    }
    let t0 = Instant::now();
    let mut file = AudioFile::open(&path).expect("open");
    assert!((file.info().duration_s - duration_s).abs() < 0.05);
    let starts = clip_starts_s(file.info().duration_s);
    assert_eq!(starts.len(), 12);
    let clips = file.read_clips(&starts).expect("read");
    eprintln!("2 h WAV: open + 12 clips in {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    assert_clip_shape(&clips, 12, "2 h wav");
    for (clip, &start_s) in clips.iter().zip(&starts) {
        let (lag, corr) =
            best_lag(clip, 20, |k| signal(start_s + k as f64 / f64::from(TARGET_SAMPLE_RATE_HZ)));
        assert!(lag.abs() <= 1 && corr > 0.99, "@ {start_s}: lag {lag}, corr {corr}");
    }
}

/// Per-track cost of open + 12 grid clips on 4-minute files. Prints figures;
/// needs ffmpeg. Run: `cargo test --release --test it decode::bench -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: needs ffmpeg, prints timings"]
fn bench_open_and_read_twelve_clips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src =
        "aevalsrc=0.3*sin(2*PI*(110*t+3*t*t))+0.2*sin(2*PI*440*t)|0.3*sin(2*PI*(220*t+2*t*t)):s=44100:d=240";
    let outputs: &[(&str, &[&str])] = &[
        ("mp3", &["-c:a", "libmp3lame", "-b:a", "192k"]),
        ("ogg", &["-c:a", "libvorbis", "-q:a", "5"]),
        ("flac", &["-c:a", "flac"]),
        ("opus", &["-c:a", "libopus", "-b:a", "128k"]),
        ("m4a", &["-c:a", "aac", "-b:a", "192k"]),
    ];
    // Resampling alone: 12 windows of 6.1 s.
    for rate in [44_100u32, 48_000] {
        let window: Vec<f32> =
            (0..(6.1 * f64::from(rate)) as usize).map(|i| (i as f32 * 0.01).sin()).collect();
        let mut resampler = tuneatlas::audio::Resampler::new(rate).expect("resampler");
        let t0 = Instant::now();
        for _ in 0..12 {
            std::hint::black_box(resampler.process(&window).expect("resample"));
        }
        eprintln!("resample 12 clips from {rate} Hz: {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    }
    for (ext, args) in outputs {
        let path = dir.path().join(format!("four_minutes.{ext}"));
        let status = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src])
            .args(*args)
            .arg(&path)
            .status();
        match status {
            Ok(s) if s.success() => {}
            _ => {
                eprintln!("ffmpeg unavailable or failed for {ext}; skipping");
                continue;
            }
        }
        let mut best_ms = f64::INFINITY;
        let mut through_ms = f64::INFINITY;
        for _ in 0..5 {
            let t0 = Instant::now();
            let mut file = AudioFile::open(&path).expect("open");
            let starts = clip_starts_s(file.info().duration_s);
            let clips = file.read_clips(&starts).expect("clips");
            assert_eq!(clips.len(), 12);
            best_ms = best_ms.min(t0.elapsed().as_secs_f64() * 1e3);
            let t0 = Instant::now();
            let mut file = AudioFile::open(&path).expect("open");
            file.read_clips_decode_through(&starts).expect("clips");
            through_ms = through_ms.min(t0.elapsed().as_secs_f64() * 1e3);
        }
        eprintln!(
            "{ext:>5}: open + 12 clips {best_ms:7.1} ms (seeking), {through_ms:7.1} ms (decode through) — {:.1} MB",
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
        );
    }
}
