//! How a finished import is told to a person.
//!
//! Why in the core: the window's status line and `tuneatlas import` report
//! the same run, and two hand-written summaries drift (one said "import
//! failed", the other "stopped by an error"; one counted scan problems, the
//! other did not). `format!("{summary}")` is the one-line headline the
//! window shows; `format!("{summary:#}")` adds the indented details a
//! terminal has room for (embedding, notes, failed and skipped files).
//! Names and reasons are escaped ([`crate::text`]): a file name may hold
//! control characters that must not reach a terminal raw.

use std::fmt;

use crate::library::ImportSummary;
use crate::store::RunStatus;
use crate::text::{shown, shown_text};

/// Seconds as "12.3 s" under a minute, else "m:ss" or "h:mm:ss".
fn elapsed(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        let what = match self.status {
            RunStatus::Finished => "Import finished",
            RunStatus::Cancelled => "Import cancelled",
            RunStatus::Failed => "Import stopped by an error",
        };
        write!(
            f,
            "{what} in {}: {} new, {} updated, {} moved, {} unchanged, {} failed, {} missing",
            elapsed(self.elapsed_s),
            c.new,
            c.updated,
            c.moved,
            c.unchanged,
            c.failed,
            c.missing
        )?;
        if !self.skipped.is_empty() {
            write!(f, ", {} skipped while scanning", self.skipped.len())?;
        }
        if self.status == RunStatus::Cancelled {
            write!(f, " — import again to resume")?;
        }
        if !f.alternate() {
            return Ok(());
        }
        if let Some(version) = &self.model_version {
            write!(f, "\n  new and changed tracks embedded with {version}")?;
        }
        for notice in &self.notices {
            write!(f, "\n  note: {}", shown_text(notice))?;
        }
        if self.n_known_bad > 0 {
            write!(
                f,
                "\n  {} unchanged files failed before and were not retried (`tuneatlas errors`)",
                self.n_known_bad
            )?;
        }
        if let Some(shard) = self.shard {
            write!(f, "\n  shard {shard}: {} files belong to the other shards", self.n_other_shards)?;
        }
        if self.n_not_audio > 0 {
            write!(f, "\n  {} other files (not audio) ignored", self.n_not_audio)?;
        }
        for (title, list) in [("failed files:", &self.failures), ("skipped while scanning:", &self.skipped)] {
            if !list.is_empty() {
                write!(f, "\n{title}")?;
                for (path, reason) in list {
                    write!(f, "\n  {}: {}", shown_text(reason), shown(path))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::store::ImportCounts;

    fn summary(status: RunStatus) -> ImportSummary {
        ImportSummary {
            run_id: 1,
            status,
            counts: ImportCounts { new: 3, failed: 1, ..ImportCounts::default() },
            n_known_bad: 0,
            failures: vec![(PathBuf::from("/m/bad.mp3"), "not audio".into())],
            skipped: vec![],
            n_not_audio: 2,
            model_version: Some("dpnn-v1.1".into()),
            notices: vec!["continued on the CPU".into()],
            shard: None,
            n_other_shards: 0,
            elapsed_s: 75.0,
        }
    }

    #[test]
    fn headline_is_one_line_and_the_alternate_form_adds_details() {
        let s = summary(RunStatus::Cancelled);
        assert_eq!(
            s.to_string(),
            "Import cancelled in 1:15: 3 new, 0 updated, 0 moved, 0 unchanged, 1 failed, 0 missing \
             — import again to resume"
        );
        let long = format!("{s:#}");
        assert!(long.starts_with(&s.to_string()), "{long}");
        for line in [
            "  new and changed tracks embedded with dpnn-v1.1",
            "  note: continued on the CPU",
            "  2 other files (not audio) ignored",
            "failed files:",
            "  not audio: /m/bad.mp3",
        ] {
            assert!(long.lines().any(|l| l == line), "{line:?} missing in {long}");
        }
        assert_eq!(elapsed(3.21), "3.2 s");
        assert_eq!(elapsed(3723.0), "1:02:03");
    }
}
