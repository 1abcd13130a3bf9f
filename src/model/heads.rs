//! Tag heads: the vocabulary the DPNN's sigmoid outputs are named by.
//!
//! The model has one dense layer with one output per tag; the outputs are the
//! tags of [`TagVocabulary`] in order — all genre tags, then style, mood and
//! theme. Keeping one layer (rather than four) keeps the forward pass a single
//! matrix product, while the split by [`TagCategory`] is what the user sees
//! (`tuneatlas tags`, colour-by-tag in the map).
//!
//! The vocabulary ships in `models/<name>/model.toml`, so a fine-tuned or
//! distilled model may change it without a code change.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The four groups of tags a model predicts (ARCHITECTURE.md §3), after AllMusic's
/// genre / style / mood / theme split used by Schindler & Knees (2019).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagCategory {
    /// What kind of music: rock, jazz, techno, ...
    Genre,
    /// How it sounds: instruments, vocals, beat, production.
    Style,
    /// How it feels: fast, slow, quiet, loud, sad, happy, mellow, ...
    Mood,
    /// What it is for or when it is from: party, eras.
    Theme,
}

impl TagCategory {
    /// All categories in head order (the order of the outputs).
    pub const ALL: [TagCategory; 4] =
        [TagCategory::Genre, TagCategory::Style, TagCategory::Mood, TagCategory::Theme];

    /// The lowercase name used in `model.toml`, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TagCategory::Genre => "genre",
            TagCategory::Style => "style",
            TagCategory::Mood => "mood",
            TagCategory::Theme => "theme",
        }
    }
}

impl fmt::Display for TagCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TagCategory {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TagCategory::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown tag category {s:?} (expected genre, style, mood or theme)"))
    }
}

/// One category's `(tag, score)` pairs, as [`TagVocabulary::split`] returns them.
pub type CategoryScores<'a> = (TagCategory, Vec<(&'a str, f32)>);

/// The tags a model predicts, grouped by category, in output order.
///
/// Why grouped lists rather than one list with a category per tag: the
/// `model.toml` stays readable and editable by hand, and the output order is
/// unambiguous (genre block, style block, mood block, theme block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TagVocabulary {
    /// Genre tags, outputs `0..genre.len()`.
    pub genre: Vec<String>,
    /// Style tags (instruments, vocals, beat, production), next block.
    pub style: Vec<String>,
    /// Mood tags, next block.
    pub mood: Vec<String>,
    /// Theme tags (occasion, era), last block.
    pub theme: Vec<String>,
}

impl TagVocabulary {
    /// Tags of one category, in output order.
    pub fn tags(&self, category: TagCategory) -> &[String] {
        match category {
            TagCategory::Genre => &self.genre,
            TagCategory::Style => &self.style,
            TagCategory::Mood => &self.mood,
            TagCategory::Theme => &self.theme,
        }
    }

    /// Number of tags in each category, in [`TagCategory::ALL`] order.
    pub fn counts(&self) -> TagCounts {
        TagCounts {
            genre: self.genre.len(),
            style: self.style.len(),
            mood: self.mood.len(),
            theme: self.theme.len(),
        }
    }

    /// Total number of tags: the width of the head layer.
    pub fn len(&self) -> usize {
        self.counts().total()
    }

    /// Whether the vocabulary has no tags at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Range of output indices holding `category`'s scores.
    pub fn range(&self, category: TagCategory) -> std::ops::Range<usize> {
        let mut start = 0;
        for c in TagCategory::ALL {
            let n = self.tags(c).len();
            if c == category {
                return start..start + n;
            }
            start += n;
        }
        start..start
    }

    /// Every tag with its category and output index, in output order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, TagCategory, &str)> + '_ {
        TagCategory::ALL
            .into_iter()
            .flat_map(move |c| self.tags(c).iter().map(move |t| (c, t.as_str())))
            .enumerate()
            .map(|(i, (c, t))| (i, c, t))
    }

    /// Splits a score vector (one value per tag, output order) into
    /// `(category, tag, score)` lists per category.
    ///
    /// Returns `None` when `scores` does not have one value per tag.
    pub fn split<'a>(&'a self, scores: &[f32]) -> Option<Vec<CategoryScores<'a>>> {
        if scores.len() != self.len() {
            return None;
        }
        Some(
            TagCategory::ALL
                .into_iter()
                .map(|c| {
                    let r = self.range(c);
                    let tags = self.tags(c).iter().map(String::as_str).zip(scores[r].iter().copied());
                    (c, tags.collect())
                })
                .collect(),
        )
    }

    /// Checks that no tag is empty or repeated within the vocabulary.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for (_, c, t) in self.iter() {
            if t.trim().is_empty() {
                return Err(format!("empty tag name in category {c}"));
            }
            if !seen.insert(t) {
                return Err(format!("tag {t:?} appears twice in the vocabulary"));
            }
        }
        Ok(())
    }
}

/// Number of tags per category: what the head layer of a [`super::DpnnConfig`]
/// must provide, checked against the vocabulary when a model loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TagCounts {
    /// Genre outputs.
    pub genre: usize,
    /// Style outputs.
    pub style: usize,
    /// Mood outputs.
    pub mood: usize,
    /// Theme outputs.
    pub theme: usize,
}

impl TagCounts {
    /// Total number of outputs.
    pub fn total(&self) -> usize {
        self.genre + self.style + self.mood + self.theme
    }
}

/// One tag of the initial vocabulary and the teacher outputs it stands for
/// (`msd:` = MSD_musicnn Last.fm tag, `mtt:` = MTT_musicnn MagnaTagATune tag;
/// see `shared/teacher/README.md`).
struct TeacherTag {
    category: TagCategory,
    tag: &'static str,
    sources: &'static [&'static str],
}

const fn t(category: TagCategory, tag: &'static str, sources: &'static [&'static str]) -> TeacherTag {
    TeacherTag { category, tag, sources }
}

use TagCategory::{Genre, Mood, Style, Theme};

/// The first grouping of the 100 musicnn teacher tags into 74 tags.
///
/// Merged: exact duplicates between the two teachers (rock, pop, electronic,
/// ambient, guitar, dance, country, metal) and spelling or gender variants of
/// one concept (the six "female vocalist(s)/vocal/voice, female, woman" tags;
/// "no vocal(s)/no voice" with "instrumental"; "classic" with "classical";
/// "choir"/"choral"; "beat"/"beats"). Kept apart: tags that name different
/// things even if close (chill vs chillout, electronic vs electronica vs
/// electro). Tempo and dynamics (fast, slow, loud, quiet, soft) are moods:
/// they are how a piece feels, and on instrumental game music they are the
/// mood cues the teachers actually hear (their affect tags — happy, sad,
/// mellow — barely fire on this corpus). Eras are themes. The
/// mapping travels in `model.toml` (`[teacher_tags]`) so targets can be built
/// from it (e.g. the max of the merged teacher probabilities).
const INIT_TAGS: &[TeacherTag] = &[
    // genre
    t(Genre, "rock", &["msd:rock", "mtt:rock"]),
    t(Genre, "pop", &["msd:pop", "mtt:pop"]),
    t(Genre, "alternative", &["msd:alternative"]),
    t(Genre, "alternative rock", &["msd:alternative rock"]),
    t(Genre, "indie", &["msd:indie"]),
    t(Genre, "indie rock", &["msd:indie rock"]),
    t(Genre, "indie pop", &["msd:indie pop"]),
    t(Genre, "classic rock", &["msd:classic rock"]),
    t(Genre, "hard rock", &["msd:hard rock"]),
    t(Genre, "progressive rock", &["msd:Progressive rock"]),
    t(Genre, "punk", &["msd:punk"]),
    t(Genre, "metal", &["msd:metal", "mtt:metal"]),
    t(Genre, "heavy metal", &["msd:heavy metal"]),
    t(Genre, "electronic", &["msd:electronic", "mtt:electronic"]),
    t(Genre, "electronica", &["msd:electronica"]),
    t(Genre, "electro", &["msd:electro"]),
    t(Genre, "techno", &["mtt:techno"]),
    t(Genre, "house", &["msd:House"]),
    t(Genre, "dance", &["msd:dance", "mtt:dance"]),
    t(Genre, "ambient", &["msd:ambient", "mtt:ambient"]),
    t(Genre, "chillout", &["msd:chillout"]),
    t(Genre, "new age", &["mtt:new age"]),
    t(Genre, "easy listening", &["msd:easy listening"]),
    t(Genre, "experimental", &["msd:experimental"]),
    t(Genre, "jazz", &["msd:jazz"]),
    t(Genre, "blues", &["msd:blues"]),
    t(Genre, "soul", &["msd:soul"]),
    t(Genre, "rnb", &["msd:rnb"]),
    t(Genre, "funk", &["msd:funk"]),
    t(Genre, "hip-hop", &["msd:Hip-Hop"]),
    t(Genre, "folk", &["msd:folk"]),
    t(Genre, "country", &["msd:country", "mtt:country"]),
    t(Genre, "classical", &["mtt:classical", "mtt:classic"]),
    t(Genre, "opera", &["mtt:opera"]),
    t(Genre, "indian", &["mtt:indian"]),
    // style: vocals
    t(
        Style,
        "female vocals",
        &[
            "msd:female vocalists",
            "msd:female vocalist",
            "mtt:female vocal",
            "mtt:female voice",
            "mtt:female",
            "mtt:woman",
        ],
    ),
    t(
        Style,
        "male vocals",
        &["msd:male vocalists", "mtt:male vocal", "mtt:male voice", "mtt:male", "mtt:man"],
    ),
    t(Style, "vocals", &["mtt:vocal", "mtt:vocals", "mtt:singing", "mtt:voice"]),
    t(Style, "choir", &["mtt:choir", "mtt:choral"]),
    t(Style, "instrumental", &["msd:instrumental", "mtt:no vocals", "mtt:no vocal", "mtt:no voice"]),
    // style: instruments
    t(Style, "acoustic", &["msd:acoustic"]),
    t(Style, "guitar", &["msd:guitar", "mtt:guitar"]),
    t(Style, "piano", &["mtt:piano"]),
    t(Style, "strings", &["mtt:strings"]),
    t(Style, "violin", &["mtt:violin"]),
    t(Style, "cello", &["mtt:cello"]),
    t(Style, "harp", &["mtt:harp"]),
    t(Style, "harpsichord", &["mtt:harpsichord"]),
    t(Style, "flute", &["mtt:flute"]),
    t(Style, "sitar", &["mtt:sitar"]),
    t(Style, "synth", &["mtt:synth"]),
    t(Style, "drums", &["mtt:drums"]),
    t(Style, "beat", &["mtt:beat", "mtt:beats"]),
    t(Style, "solo", &["mtt:solo"]),
    // mood: tempo and dynamics (how it feels; the MTT listeners' own mood
    // cues, and the ones the teachers can actually hear in game music)
    t(Mood, "fast", &["mtt:fast"]),
    t(Mood, "slow", &["mtt:slow"]),
    t(Mood, "loud", &["mtt:loud"]),
    t(Mood, "quiet", &["mtt:quiet"]),
    t(Mood, "soft", &["mtt:soft"]),
    // mood: affect (Last.fm listeners' words)
    t(Mood, "happy", &["msd:happy"]),
    t(Mood, "sad", &["msd:sad"]),
    t(Mood, "mellow", &["msd:Mellow"]),
    t(Mood, "chill", &["msd:chill"]),
    t(Mood, "beautiful", &["msd:beautiful"]),
    t(Mood, "sexy", &["msd:sexy"]),
    t(Mood, "catchy", &["msd:catchy"]),
    t(Mood, "weird", &["mtt:weird"]),
    // theme: occasion and era
    t(Theme, "party", &["msd:party"]),
    t(Theme, "oldies", &["msd:oldies"]),
    t(Theme, "60s", &["msd:60s"]),
    t(Theme, "70s", &["msd:70s"]),
    t(Theme, "80s", &["msd:80s"]),
    t(Theme, "90s", &["msd:90s"]),
    t(Theme, "00s", &["msd:00s"]),
];

/// The vocabulary of the initial (untrained) model and the first distillation:
/// the 100 musicnn teacher tags, deduplicated and grouped (see `INIT_TAGS`'
/// documentation in the source and `models/README.md`).
pub fn teacher_vocabulary() -> TagVocabulary {
    let mut v = TagVocabulary::default();
    for tt in INIT_TAGS {
        let list = match tt.category {
            TagCategory::Genre => &mut v.genre,
            TagCategory::Style => &mut v.style,
            TagCategory::Mood => &mut v.mood,
            TagCategory::Theme => &mut v.theme,
        };
        list.push(tt.tag.to_string());
    }
    v
}

/// For each tag of [`teacher_vocabulary`], the teacher outputs it merges
/// (`"msd:<tag>"` / `"mtt:<tag>"`, the column names of
/// `shared/teacher/targets/clips.tsv`). Saved in `model.toml` so the
/// distillation can build its targets from the same mapping.
pub fn teacher_sources() -> BTreeMap<String, Vec<String>> {
    INIT_TAGS
        .iter()
        .map(|tt| (tt.tag.to_string(), tt.sources.iter().map(|s| s.to_string()).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSD: &str = "rock, pop, alternative, indie, electronic, female vocalists, dance, 00s, alternative rock, \
        jazz, beautiful, metal, chillout, male vocalists, classic rock, soul, indie rock, Mellow, electronica, 80s, \
        folk, 90s, chill, instrumental, punk, oldies, blues, hard rock, ambient, acoustic, experimental, \
        female vocalist, guitar, Hip-Hop, 70s, party, country, easy listening, sexy, catchy, funk, electro, \
        heavy metal, Progressive rock, 60s, rnb, indie pop, sad, House, happy";
    const MTT: &str = "guitar, classical, slow, techno, strings, drums, electronic, rock, fast, piano, ambient, beat, \
        violin, vocal, synth, female, indian, opera, male, singing, vocals, no vocals, harpsichord, loud, quiet, \
        flute, woman, male vocal, no vocal, pop, soft, sitar, solo, man, classic, choir, voice, new age, dance, \
        male voice, female vocal, beats, harp, cello, no voice, weird, country, metal, female voice, choral";

    #[test]
    fn every_teacher_tag_is_mapped_exactly_once() {
        let mut teacher: Vec<String> = MSD
            .split(", ")
            .map(|s| format!("msd:{s}"))
            .chain(MTT.split(", ").map(|s| format!("mtt:{s}")))
            .collect();
        assert_eq!(teacher.len(), 100);
        let mut mapped: Vec<String> = teacher_sources().into_values().flatten().collect();
        teacher.sort();
        mapped.sort();
        assert_eq!(mapped, teacher);
    }

    #[test]
    fn vocabulary_is_valid_and_ordered() {
        let v = teacher_vocabulary();
        v.validate().unwrap();
        assert_eq!(v.counts(), TagCounts { genre: 35, style: 19, mood: 13, theme: 7 });
        assert_eq!(v.len(), 74);
        assert_eq!(v.range(TagCategory::Mood), 54..67);
        let (i, c, t) = v.iter().nth(35).unwrap();
        assert_eq!((i, c, t), (35, TagCategory::Style, "female vocals"));
        let scores: Vec<f32> = (0..74).map(|i| i as f32).collect();
        let split = v.split(&scores).unwrap();
        assert_eq!(split[3].0, TagCategory::Theme);
        assert_eq!(split[3].1[0], ("party", 67.0));
        assert!(v.split(&scores[1..]).is_none());
    }

    #[test]
    fn category_text_round_trips() {
        for c in TagCategory::ALL {
            assert_eq!(c.to_string().parse::<TagCategory>().unwrap(), c);
        }
        assert!("genres".parse::<TagCategory>().is_err());
    }
}
