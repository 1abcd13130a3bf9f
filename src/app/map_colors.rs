//! How the map's points are coloured: by the strongest tag of a category
//! (genre, style, mood, theme — a categorical palette with a legend of the
//! most common tags), by one tag's score (a continuous ramp) or by the
//! user's own tags of one set (after fine-tuning on a set, this is how one
//! sees whether its tags now cluster). Pure functions from the tags to
//! colours, so they are unit-tested.

use std::collections::HashMap;

use egui::Color32;
use serde::{Deserialize, Serialize};

use crate::store::TagMatrix;

/// What the points' colour shows. Persisted with the UI state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColorBy {
    /// The top tag of a category ("genre", "style", "mood", "theme").
    Category(String),
    /// One tag's score, `(category, tag)`.
    Tag(String, String),
    /// The user's tag of one tag set (the set's most common tag where a
    /// track has several).
    UserSet(String),
}

impl Default for ColorBy {
    fn default() -> Self {
        ColorBy::Category("genre".to_owned())
    }
}

/// How many tags of a category get their own colour; the rest share "other"
/// (more than ~10 hues cannot be told apart on a dense map).
const NAMED_COLORS: usize = 10;

/// Distinct hues that read on both dark and light backgrounds.
const PALETTE: [Color32; NAMED_COLORS] = [
    Color32::from_rgb(66, 146, 245),
    Color32::from_rgb(245, 130, 48),
    Color32::from_rgb(60, 180, 75),
    Color32::from_rgb(230, 60, 75),
    Color32::from_rgb(160, 100, 220),
    Color32::from_rgb(150, 100, 70),
    Color32::from_rgb(240, 110, 200),
    Color32::from_rgb(40, 200, 200),
    Color32::from_rgb(210, 200, 40),
    Color32::from_rgb(128, 128, 250),
];

/// Points without scores for the current model (not embedded yet).
pub const NO_DATA: Color32 = Color32::from_rgb(120, 120, 120);

/// Tags beyond the named ones.
const OTHER: Color32 = Color32::from_rgb(170, 170, 170);

/// The legend shown beside the map.
#[derive(Debug, Clone, PartialEq)]
pub enum Legend {
    /// Named colours with how many tracks have each.
    Categories(Vec<(String, Color32, usize)>),
    /// A ramp from the lowest to the highest score on the map.
    Ramp {
        /// The tag.
        tag: String,
        /// Score at the ramp's start.
        min: f32,
        /// Score at the ramp's end.
        max: f32,
    },
}

/// The user's tags by track, `(set, tag)` pairs (as in the library snapshot).
pub type UserTags = HashMap<i64, Vec<(String, String)>>;

/// Colours of `ids` (point order) and the legend, for `by`.
pub fn colors(ids: &[i64], matrix: &TagMatrix, user_tags: &UserTags, by: &ColorBy) -> (Vec<Color32>, Legend) {
    match by {
        ColorBy::Category(category) => {
            let top: Vec<Option<&str>> =
                ids.iter().map(|id| matrix.top_tag(*id, category).map(|(t, _)| t)).collect();
            categorical(&top, "not embedded")
        }
        ColorBy::Tag(category, tag) => by_tag(ids, matrix, category, tag),
        ColorBy::UserSet(set) => by_user_set(ids, user_tags, set),
    }
}

/// The tag sets the user has, sorted (the colour-by choices).
pub fn user_sets(user_tags: &UserTags) -> Vec<String> {
    let mut sets: Vec<String> = user_tags.values().flatten().map(|(set, _)| set.clone()).collect();
    sets.sort_unstable();
    sets.dedup();
    sets
}

fn by_user_set(ids: &[i64], user_tags: &UserTags, set: &str) -> (Vec<Color32>, Legend) {
    let tags_of = |id: &i64| -> Vec<&str> {
        user_tags.get(id).map_or_else(Vec::new, |pairs| {
            pairs.iter().filter(|(s, _)| s == set).map(|(_, t)| t.as_str()).collect()
        })
    };
    // A track with several tags of the set shows the set's most common one
    // on the map, so the big groups read as groups.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        for t in tags_of(id) {
            *counts.entry(t).or_default() += 1;
        }
    }
    let shown: Vec<Option<&str>> = ids
        .iter()
        .map(|id| {
            tags_of(id).into_iter().max_by(|a, b| {
                let (ca, cb) = (counts.get(a).copied().unwrap_or(0), counts.get(b).copied().unwrap_or(0));
                ca.cmp(&cb).then(b.cmp(a))
            })
        })
        .collect();
    categorical(&shown, "untagged")
}

/// A categorical palette over one label per point (`None`: no label,
/// drawn grey and counted as `missing_label` in the legend).
fn categorical(top: &[Option<&str>], missing_label: &str) -> (Vec<Color32>, Legend) {
    // The most frequent tags get the named colours, ties broken by name.
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for t in top.iter().flatten() {
        match counts.iter_mut().find(|(name, _)| name == t) {
            Some(entry) => entry.1 += 1,
            None => counts.push((t, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let named: Vec<&str> = counts.iter().take(NAMED_COLORS).map(|(t, _)| *t).collect();
    let colors = top
        .iter()
        .map(|t| match t {
            None => NO_DATA,
            Some(t) => named.iter().position(|n| n == t).map_or(OTHER, |i| PALETTE[i]),
        })
        .collect();
    let mut legend: Vec<(String, Color32, usize)> = counts
        .iter()
        .take(NAMED_COLORS)
        .enumerate()
        .map(|(i, (t, n))| ((*t).to_owned(), PALETTE[i], *n))
        .collect();
    let others: usize = counts.iter().skip(NAMED_COLORS).map(|(_, n)| n).sum();
    if others > 0 {
        legend.push(("other".to_owned(), OTHER, others));
    }
    let missing = top.iter().filter(|t| t.is_none()).count();
    if missing > 0 {
        legend.push((missing_label.to_owned(), NO_DATA, missing));
    }
    (colors, Legend::Categories(legend))
}

fn by_tag(ids: &[i64], matrix: &TagMatrix, category: &str, tag: &str) -> (Vec<Color32>, Legend) {
    let col = matrix.tags.iter().position(|(c, t)| c == category && t == tag);
    let scores: Vec<Option<f32>> =
        ids.iter().map(|id| col.and_then(|c| matrix.row(*id).map(|row| row[c]))).collect();
    let (min, max) =
        scores.iter().flatten().fold((f32::MAX, f32::MIN), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
    let (min, max) = if min <= max { (min, max) } else { (0.0, 1.0) };
    let span = (max - min).max(1e-6);
    let colors = scores.iter().map(|s| s.map_or(NO_DATA, |s| ramp((s - min) / span))).collect();
    (colors, Legend::Ramp { tag: tag.to_owned(), min, max })
}

/// A perceptually ordered ramp (dark blue → teal → yellow), `t` in [0, 1].
pub fn ramp(t: f32) -> Color32 {
    const STOPS: [[f32; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    let mix = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> TagMatrix {
        TagMatrix {
            tags: vec![
                ("genre".into(), "ambient".into()),
                ("genre".into(), "rock".into()),
                ("mood".into(), "calm".into()),
            ],
            track_ids: vec![1, 2, 3],
            scores: vec![0.9, 0.1, 0.8, 0.2, 0.7, 0.1, 0.6, 0.3, 0.5],
        }
    }

    #[test]
    fn category_colours_follow_the_top_tag_and_the_legend_counts_them() {
        let (colors, legend) =
            colors(&[1, 2, 3, 4], &matrix(), &UserTags::new(), &ColorBy::Category("genre".into()));
        assert_eq!(colors[0], colors[2], "tracks 1 and 3 are both mostly ambient");
        assert_ne!(colors[0], colors[1]);
        assert_eq!(colors[3], NO_DATA, "track 4 has no scores");
        let Legend::Categories(entries) = legend else { panic!("categorical legend") };
        assert_eq!(entries[0], ("ambient".to_owned(), PALETTE[0], 2));
        assert_eq!(entries[1].0, "rock");
        assert_eq!(entries.last().map(|e| e.2), Some(1), "one track not embedded");
    }

    #[test]
    fn tag_colours_span_the_ramp_from_lowest_to_highest_score() {
        let (colors, legend) =
            colors(&[1, 2, 3], &matrix(), &UserTags::new(), &ColorBy::Tag("mood".into(), "calm".into()));
        assert_eq!(legend, Legend::Ramp { tag: "calm".into(), min: 0.1, max: 0.8 });
        assert_eq!(colors[1], ramp(0.0));
        assert_eq!(colors[0], ramp(1.0));
        assert_ne!(ramp(0.0), ramp(1.0));
    }

    #[test]
    fn user_set_colours_show_the_sets_most_common_tag_and_count_the_untagged() {
        let pair = |set: &str, tag: &str| (set.to_owned(), tag.to_owned());
        let user: UserTags = [
            (1, vec![pair("mood", "calm"), pair("place", "car")]),
            (2, vec![pair("mood", "calm")]),
            (3, vec![pair("mood", "dark"), pair("mood", "calm")]),
            (4, vec![pair("mood", "dark")]),
            (5, vec![pair("place", "car")]),
        ]
        .into_iter()
        .collect();
        let (colors, legend) = colors(&[1, 2, 3, 4, 5], &matrix(), &user, &ColorBy::UserSet("mood".into()));
        assert_eq!(colors[..3], [PALETTE[0]; 3], "calm is the most common mood, track 3 shows it");
        assert_eq!(colors[3], PALETTE[1]);
        assert_eq!(colors[4], NO_DATA, "track 5 has no mood");
        assert_eq!(
            legend,
            Legend::Categories(vec![
                ("calm".to_owned(), PALETTE[0], 3),
                ("dark".to_owned(), PALETTE[1], 1),
                ("untagged".to_owned(), NO_DATA, 1),
            ])
        );
        assert_eq!(user_sets(&user), vec!["mood".to_owned(), "place".to_owned()]);
    }
}
