//! Small text formatters shared by the panels. Pure functions, so they are
//! unit-tested without a window.

/// A duration as `m:ss`, or `h:mm:ss` from one hour on — the way music players
/// show track lengths and the way people read elapsed time / ETA.
pub fn clock(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".to_owned();
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

/// Estimated seconds left, from the rate so far. `None` while the total is
/// not known yet (still scanning) or nothing is done, when any figure would
/// be a guess.
pub fn eta_s(elapsed_s: f64, n_done: usize, n_total: usize, total_known: bool) -> Option<f64> {
    if !total_known || n_done == 0 || elapsed_s <= 0.0 {
        return None;
    }
    let remaining = n_total.saturating_sub(n_done) as f64;
    Some(remaining * elapsed_s / n_done as f64)
}

/// The last component of a path, for one-line "current file" displays.
pub fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats_minutes_and_hours() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(9.6), "0:10");
        assert_eq!(clock(61.0), "1:01");
        assert_eq!(clock(3599.4), "59:59");
        assert_eq!(clock(3723.0), "1:02:03");
        assert_eq!(clock(f64::NAN), "–");
        assert_eq!(clock(-1.0), "–");
    }

    #[test]
    fn eta_needs_a_known_total_and_progress() {
        assert_eq!(eta_s(10.0, 5, 20, false), None);
        assert_eq!(eta_s(10.0, 0, 20, true), None);
        assert_eq!(eta_s(10.0, 5, 20, true), Some(30.0));
        assert_eq!(eta_s(10.0, 20, 20, true), Some(0.0));
    }
}
