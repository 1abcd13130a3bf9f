//! The clip grid: where in a track the 6-second clips are taken.
//!
//! The model sees 6 s clips, not whole tracks. Which 6 s is a design decision
//! shared by everything that stores or compares clip vectors: the importer,
//! the trainer and the shipped teacher targets (`shared/teacher/targets/`)
//! all use this grid, so "clip i of a track" means the same audio everywhere.
//! The grid (ARCHITECTURE.md §3): D = duration in seconds,
//! K = min(12, max(1, ⌊(D − 6)/6⌋)); one clip centred at max(0, (D − 6)/2)
//! when K = 1, otherwise K clips evenly spread with starts 3 + k·(D − 9)/(K − 1),
//! so the first clip skips the first 3 s (silence, count-ins) and the last clip
//! ends with the track.

/// Length of one clip in seconds (132,300 samples at 22,050 Hz).
pub const CLIP_LEN_S: f64 = 6.0;

/// Upper bound on clips per track: enough to cover a long track's sections
/// while keeping import cost per track bounded.
pub const MAX_CLIPS_PER_TRACK: usize = 12;

/// Seconds skipped at the start of the track by the multi-clip grid, so that
/// leading silence and count-ins weigh less.
const EDGE_S: f64 = 3.0;

/// Start times (seconds, ascending) of the clips taken from a track of
/// `duration_s` seconds, per the ARCHITECTURE.md §3 grid.
///
/// Always returns at least one start, so that even a very short (or
/// unknown/zero-length) track yields one, zero-padded, clip. A non-finite or
/// negative duration is treated as 0.
pub fn clip_starts_s(duration_s: f64) -> Vec<f64> {
    let d = if duration_s.is_finite() && duration_s > 0.0 { duration_s } else { 0.0 };
    let k = clip_count(d);
    if k == 1 {
        return vec![((d - CLIP_LEN_S) / 2.0).max(0.0)];
    }
    // (D − 9)/(K − 1): the last clip starts at D − 6 and ends with the track.
    let step_s = (d - CLIP_LEN_S - EDGE_S) / (k - 1) as f64;
    (0..k).map(|i| EDGE_S + i as f64 * step_s).collect()
}

/// K of the grid: min(12, max(1, ⌊(D − 6)/6⌋)).
fn clip_count(duration_s: f64) -> usize {
    let k = ((duration_s - CLIP_LEN_S) / CLIP_LEN_S).floor();
    if k < 1.0 { 1 } else { (k as usize).min(MAX_CLIPS_PER_TRACK) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn short_tracks_get_one_centred_clip() {
        assert_eq!(clip_starts_s(0.0), vec![0.0]);
        assert_eq!(clip_starts_s(4.0), vec![0.0]);
        assert_eq!(clip_starts_s(6.0), vec![0.0]);
        assert_eq!(clip_starts_s(10.0), vec![2.0]);
        // Just below the K = 2 threshold (D = 18).
        assert!(close(&clip_starts_s(17.999), &[5.9995], 1e-9));
    }

    #[test]
    fn nonsense_durations_are_treated_as_zero() {
        assert_eq!(clip_starts_s(f64::NAN), vec![0.0]);
        assert_eq!(clip_starts_s(-5.0), vec![0.0]);
        assert_eq!(clip_starts_s(f64::INFINITY), vec![0.0]);
    }

    #[test]
    fn two_clips_start_at_3_and_d_minus_6() {
        assert_eq!(clip_starts_s(18.0), vec![3.0, 12.0]);
        assert_eq!(clip_starts_s(21.0), vec![3.0, 15.0]);
        assert_eq!(clip_count(23.999), 2);
        assert_eq!(clip_count(24.0), 3);
    }

    #[test]
    fn long_tracks_are_capped_at_twelve_clips() {
        let starts = clip_starts_s(3600.0);
        assert_eq!(starts.len(), MAX_CLIPS_PER_TRACK);
        assert_eq!(starts[0], 3.0);
        assert!((starts[11] - (3600.0 - 6.0)).abs() < 1e-9);
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        // The last clip ends with the track.
        assert!((starts[11] + CLIP_LEN_S - 3600.0).abs() < 1e-9);
    }

    /// Rows copied from shared/teacher/targets/clips.tsv (start_s, rounded to
    /// 1 ms there) with the duration_s of the same track in
    /// shared/corpus/train.tsv: our grid must reproduce the teacher's.
    #[test]
    fn matches_teacher_targets() {
        let rows: &[(&str, f64, &[f64])] = &[
            ("render/lmms/Crunk_Demo_.wav", 16.613, &[5.306]),
            ("render/mma/68march__68March.flac", 25.812, &[3.0, 11.406, 19.812]),
            ("naev/tension.ogg", 32.0, &[3.0, 10.667, 18.333, 26.0]),
            ("supertuxkart/Boom_boom_boom.ogg", 38.352, &[3.0, 10.338, 17.676, 25.014, 32.352]),
            ("extremetuxracer/race1-jt.ogg", 53.741, &[3.0, 10.457, 17.914, 25.371, 32.827, 40.284, 47.741]),
            ("0ad/Harvest_Moon.ogg", 54.0, &[3.0, 9.429, 15.857, 22.286, 28.714, 35.143, 41.571, 48.0]),
            (
                "hyperrogue/hr-savino-caribbean.ogg",
                62.307,
                &[3.0, 9.663, 16.327, 22.99, 29.654, 36.317, 42.98, 49.644, 56.307],
            ),
            (
                "flare/title_theme.ogg",
                76.0,
                &[3.0, 9.7, 16.4, 23.1, 29.8, 36.5, 43.2, 49.9, 56.6, 63.3, 70.0],
            ),
            (
                "0ad/0_8Bit_Bonus_Track.ogg",
                92.291,
                &[3.0, 10.572, 18.144, 25.716, 33.288, 40.86, 48.431, 56.003, 63.575, 71.147, 78.719, 86.291],
            ),
        ];
        for (name, duration_s, expected) in rows {
            let got = clip_starts_s(*duration_s);
            assert!(close(&got, expected, 0.0006), "{name}: {got:?} vs {expected:?}");
        }
    }
}
