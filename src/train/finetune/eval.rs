//! Did fine-tuning help? P@k before vs after on held-out tagged tracks.
//!
//! Why this measure: it is the paper's (Schindler & Knees 2019, Table II) —
//! for each held-out track, how many of its k nearest held-out tracks
//! (cosine of track vectors, the library's own similarity search) share its
//! tags. One row per tag set ("share at least one tag of the set"), so that
//! combined tasks are judged separately as in the paper, plus a row for the
//! combined LSI notion of similarity that training used (LSI cosine ≥ the
//! positive threshold). k = 10 and 100 where the held-out set is large
//! enough (k must be below the number of held-out tracks).

use super::FineTuneData;
use crate::train::metrics::p_at_k_by;

/// The k values of the table, as in the paper.
pub const TABLE_KS: [usize; 2] = [10, 100];
/// Name of the row judged by LSI similarity over all chosen sets.
pub const LSI_ROW: &str = "all sets (LSI)";

/// P@k of one task before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct PrecisionRow {
    /// The tag set, or [`LSI_ROW`].
    pub task: String,
    /// Held-out tracks that served as queries.
    pub queries: usize,
    /// Per k of [`PrecisionTable::ks`]: the starting model's P@k (`None`: too few tracks).
    pub before: Vec<Option<f64>>,
    /// Per k: the fine-tuned model's P@k.
    pub after: Vec<Option<f64>>,
}

/// The before/after table (the paper's Table II for one library).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrecisionTable {
    /// The k values.
    pub ks: Vec<usize>,
    /// One row per tag set, then the LSI row.
    pub rows: Vec<PrecisionRow>,
    /// Held-out tracks.
    pub held_out_tracks: usize,
    /// The starting model's version.
    pub before_version: String,
    /// The new model's version.
    pub after_version: String,
}

impl PrecisionTable {
    /// The table as aligned text (`—` where the library is too small for a k).
    pub fn render(&self) -> String {
        let fmt = |v: &Option<f64>| v.map_or_else(|| "—".to_string(), |p| format!("{p:.3}"));
        let mut out = format!(
            "P@k on {} held-out tracks: before = {}, after = {}\n",
            self.held_out_tracks, self.before_version, self.after_version
        );
        let mut header = format!("{:<24} {:>7}", "task", "queries");
        for k in &self.ks {
            header.push_str(&format!(
                " {:>10} {:>10} {:>8}",
                format!("P@{k} before"),
                format!("P@{k} after"),
                "change"
            ));
        }
        out.push_str(&header);
        out.push('\n');
        for r in &self.rows {
            let mut line = format!("{:<24} {:>7}", r.task, r.queries);
            for (b, a) in r.before.iter().zip(&r.after) {
                let change = match (b, a) {
                    (Some(b), Some(a)) => format!("{:+.3}", a - b),
                    _ => "—".into(),
                };
                line.push_str(&format!(" {:>10} {:>10} {:>8}", fmt(b), fmt(a), change));
            }
            out.push_str(&line);
            out.push('\n');
        }
        if self.rows.is_empty() {
            out.push_str("(too few tagged tracks for a held-out evaluation)\n");
        }
        out
    }

    /// `test.p@k.<task>.before|after` figures for the model card.
    pub fn card_metrics(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for r in &self.rows {
            for (i, k) in self.ks.iter().enumerate() {
                for (when, v) in [("before", r.before[i]), ("after", r.after[i])] {
                    if let Some(v) = v {
                        out.push((format!("test.p{k}.{}.{when}", r.task), v));
                    }
                }
            }
        }
        out
    }

    /// The value of `task`'s row at `k`: (before, after).
    pub fn get(&self, task: &str, k: usize) -> Option<(Option<f64>, Option<f64>)> {
        let i = self.ks.iter().position(|&x| x == k)?;
        let r = self.rows.iter().find(|r| r.task == task)?;
        Some((r.before[i], r.after[i]))
    }
}

/// P@k of `vectors` (unit track vectors of `tracks`, in order) per tag set
/// and for the LSI row: (task, P@k or `None` when no query qualifies or
/// there are fewer than k + 1 tracks).
pub fn retrieval_precision(
    data: &FineTuneData,
    tracks: &[usize],
    vectors: &[f32],
    k: usize,
) -> Vec<(String, Option<f64>)> {
    let dim = vectors.len() / tracks.len().max(1);
    let tagged = &data.tagged;
    let mut out = Vec::new();
    for set in &tagged.sets {
        let queries: Vec<usize> = (0..tracks.len()).filter(|&q| tagged.has_set(tracks[q], set)).collect();
        let p = p_at_k_by(vectors, dim.max(1), &queries, k, |q, i| {
            tagged.share_tag_in_set(tracks[q], tracks[i], set)
        });
        out.push((set.clone(), p));
    }
    if tagged.sets.len() > 1 || out.is_empty() {
        let upper = data.rules.positive_min_cos;
        let lsi = &data.lsi_unit;
        let cos = |a: usize, b: usize| lsi.row(a).dot(&lsi.row(b));
        let queries: Vec<usize> = (0..tracks.len()).collect();
        let p = p_at_k_by(vectors, dim.max(1), &queries, k, |q, i| cos(tracks[q], tracks[i]) >= upper);
        out.push((LSI_ROW.to_string(), p));
    }
    out
}

/// The before/after table on the held-out `tracks`, given both models'
/// unit track vectors of them.
pub fn evaluate_split(
    data: &FineTuneData,
    tracks: &[usize],
    before: &[f32],
    after: &[f32],
    before_version: &str,
    after_version: &str,
) -> PrecisionTable {
    let mut table = PrecisionTable {
        ks: TABLE_KS.to_vec(),
        rows: Vec::new(),
        held_out_tracks: tracks.len(),
        before_version: before_version.to_string(),
        after_version: after_version.to_string(),
    };
    if tracks.len() < 2 {
        return table;
    }
    let per_k_before: Vec<Vec<(String, Option<f64>)>> =
        TABLE_KS.iter().map(|&k| retrieval_precision(data, tracks, before, k)).collect();
    let per_k_after: Vec<Vec<(String, Option<f64>)>> =
        TABLE_KS.iter().map(|&k| retrieval_precision(data, tracks, after, k)).collect();
    for (row, (task, _)) in per_k_before[0].iter().enumerate() {
        let queries = if task == LSI_ROW {
            tracks.len()
        } else {
            tracks.iter().filter(|&&t| data.tagged.has_set(t, task)).count()
        };
        table.rows.push(PrecisionRow {
            task: task.clone(),
            queries,
            before: per_k_before.iter().map(|v| v[row].1).collect(),
            after: per_k_after.iter().map(|v| v[row].1).collect(),
        });
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PrecisionTable {
        PrecisionTable {
            ks: TABLE_KS.to_vec(),
            rows: vec![PrecisionRow {
                task: "moods".into(),
                queries: 12,
                before: vec![Some(0.5), None],
                after: vec![Some(0.6), None],
            }],
            held_out_tracks: 12,
            before_version: "a".into(),
            after_version: "b".into(),
        }
    }

    #[test]
    fn table_renders_changes_and_gaps() {
        let t = table();
        let text = t.render();
        assert!(text.contains("P@k on 12 held-out tracks: before = a, after = b"), "{text}");
        assert!(text.contains("P@10 before") && text.contains("P@100 after"), "{text}");
        let row = text.lines().find(|l| l.starts_with("moods")).expect("row");
        assert!(row.contains("0.500") && row.contains("0.600") && row.contains("+0.100"), "{row}");
        assert!(row.contains('—'), "P@100 has too few tracks: {row}");
        assert_eq!(t.get("moods", 10), Some((Some(0.5), Some(0.6))));
        assert_eq!(t.get("moods", 5), None);
        assert_eq!(
            t.card_metrics(),
            vec![("test.p10.moods.before".to_string(), 0.5), ("test.p10.moods.after".to_string(), 0.6)]
        );
        let empty = PrecisionTable::default().render();
        assert!(empty.contains("too few tagged tracks"), "{empty}");
    }
}
