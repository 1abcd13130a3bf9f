//! What a fine-tuning run reads: the library's tagged tracks and their
//! tag–track matrix, the seeded train / validation / test split, the LSI
//! space, and the clips' log-mels — checked for usable triplets before any
//! audio is decoded.

use super::*;

/// The tagged, present tracks of a library with their tag–track matrix.
#[derive(Debug, Clone)]
pub struct TaggedTracks {
    /// The tracks, by ascending id.
    pub tracks: Vec<TrackRow>,
    /// The columns of [`TaggedTracks::matrix`]: (set, tag).
    pub tags: Vec<(String, String)>,
    /// `W`, `tracks × tags`, 1 where the tag is on the track.
    pub matrix: Array2<f32>,
    /// The sets that contributed tags, sorted.
    pub sets: Vec<String>,
    /// Album of each track for the album filter (`None`: unknown).
    pub album_ids: Vec<Option<u32>>,
}

impl TaggedTracks {
    /// The run's split of these tracks ([`TrackSplit::new`] keyed by each
    /// file's folder and name: stable when the library folder moves, and
    /// the same on every run), so the LSI preview can look at exactly the
    /// tracks a run will train on.
    pub fn split(&self, test_fraction: f64, valid_fraction: f64, seed: u64) -> TrackSplit {
        let keys: Vec<String> = self
            .tracks
            .iter()
            .map(|t| {
                let mut parts: Vec<String> =
                    t.path.iter().rev().take(2).map(|c| c.to_string_lossy().into_owned()).collect();
                parts.reverse();
                parts.join("/")
            })
            .collect();
        TrackSplit::new(&keys, test_fraction, valid_fraction, seed)
    }

    /// Reads the user tags of `sets` (empty: all sets) for the present
    /// tracks and checks they can train a model.
    ///
    /// # Errors
    /// [`Error::BadTags`] for no tags, a single distinct tag, fewer than
    /// [`MIN_TAGGED_TRACKS`] tagged tracks, or all tagged tracks on one album.
    pub fn read(store: &Store, sets: &[String]) -> Result<TaggedTracks> {
        let mut rows: Vec<(i64, String, String)> = Vec::new();
        if sets.is_empty() {
            rows = store.all_user_tags(None)?;
        } else {
            for s in sets {
                rows.extend(store.all_user_tags(Some(s))?);
            }
        }
        let present: HashMap<i64, TrackRow> = store.tracks(false)?.into_iter().map(|t| (t.id, t)).collect();
        rows.retain(|(id, _, _)| present.contains_key(id));
        let set_names = if sets.is_empty() { "all".to_string() } else { sets.join(", ") };
        if rows.is_empty() {
            return Err(Error::BadTags(TagProblem::NoTags { sets: set_names }));
        }
        let mut columns: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut by_track: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
        for (id, set, tag) in rows {
            columns.insert((set.clone(), tag.clone()), 0);
            by_track.entry(id).or_default().push((set, tag));
        }
        if columns.len() == 1 {
            let tag = columns.keys().next().map(|(_, t)| t.clone()).unwrap_or_default();
            return Err(Error::BadTags(TagProblem::OneTag { tag }));
        }
        if by_track.len() < MIN_TAGGED_TRACKS {
            return Err(Error::BadTags(TagProblem::TooFewTracks {
                tagged: by_track.len(),
                needed: MIN_TAGGED_TRACKS,
            }));
        }
        for (i, v) in columns.values_mut().enumerate() {
            *v = i;
        }
        let tags: Vec<(String, String)> = columns.keys().cloned().collect();
        let mut sets: Vec<String> = tags.iter().map(|(s, _)| s.clone()).collect();
        sets.dedup();
        let mut matrix = Array2::<f32>::zeros((by_track.len(), tags.len()));
        let mut tracks = Vec::with_capacity(by_track.len());
        for (row, (id, pairs)) in by_track.into_iter().enumerate() {
            for p in pairs {
                matrix[[row, columns[&p]]] = 1.0;
            }
            if let Some(t) = present.get(&id) {
                tracks.push(t.clone());
            }
        }
        // The album rule of the similar-track filter (ARCHITECTURE.md §9):
        // "never the same album" means one thing everywhere.
        let album_ids = crate::identity::album_groups(&tracks);
        if let Some(Some(first)) = album_ids.first()
            && album_ids.iter().all(|a| *a == Some(*first))
        {
            let album = tracks[0].album.clone().unwrap_or_default();
            return Err(Error::BadTags(TagProblem::OneAlbum { album }));
        }
        Ok(TaggedTracks { tracks, tags, matrix, sets, album_ids })
    }

    /// Whether tracks `i` and `j` share at least one tag of set `set`.
    pub fn share_tag_in_set(&self, i: usize, j: usize, set: &str) -> bool {
        self.tags
            .iter()
            .enumerate()
            .any(|(c, (s, _))| s == set && self.matrix[[i, c]] > 0.0 && self.matrix[[j, c]] > 0.0)
    }

    /// Whether track `i` has a tag of set `set`.
    pub fn has_set(&self, i: usize, set: &str) -> bool {
        self.tags.iter().enumerate().any(|(c, (s, _))| s == set && self.matrix[[i, c]] > 0.0)
    }

    /// The album-filter keys of track `i`.
    pub fn keys(&self, i: usize) -> PairKeys {
        PairKeys { track_id: i as u32, album_id: self.album_ids[i] }
    }
}

/// Which tagged tracks train, validate and test (indices into [`TaggedTracks::tracks`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrackSplit {
    /// Training tracks.
    pub train: Vec<usize>,
    /// Early-stopping tracks (may be empty for a small library).
    pub valid: Vec<usize>,
    /// Held-out tracks of the before/after table (may be empty for a small library).
    pub test: Vec<usize>,
}

impl TrackSplit {
    /// A seeded random split of `n` tracks; small libraries give up the
    /// test split (below 8 tracks) and the validation split (below 10
    /// non-test tracks) rather than train on nothing; `valid_fraction` 0
    /// means no validation split (no early stopping, the last weights kept).
    pub fn new(keys: &[String], test_fraction: f64, valid_fraction: f64, seed: u64) -> TrackSplit {
        // Ordered by a seeded hash of each track's key, not by
        // row: track ids depend on import order, the split must not.
        let n = keys.len();
        let mut order: Vec<usize> = (0..n).collect();
        let hash = |k: &String| {
            let mut h = blake3::Hasher::new();
            h.update(&seed.to_le_bytes());
            h.update(k.as_bytes());
            *h.finalize().as_bytes()
        };
        order.sort_by_cached_key(|&i| hash(&keys[i]));
        let n_test = if n >= MIN_TRACKS_FOR_TEST {
            ((n as f64 * test_fraction).round() as usize).clamp(2, n / 2)
        } else {
            0
        };
        let rest = n - n_test;
        let n_valid = if rest >= MIN_TRACKS_FOR_VALID && valid_fraction > 0.0 {
            ((n as f64 * valid_fraction).round() as usize).clamp(2, rest / 3)
        } else {
            0
        };
        let mut test: Vec<usize> = order[..n_test].to_vec();
        let mut valid: Vec<usize> = order[n_test..n_test + n_valid].to_vec();
        let mut train: Vec<usize> = order[n_test + n_valid..].to_vec();
        test.sort_unstable();
        valid.sort_unstable();
        train.sort_unstable();
        TrackSplit { train, valid, test }
    }
}

/// Everything a fine-tuning run reads, prepared once.
pub struct FineTuneData {
    /// Tags and tracks.
    pub tagged: TaggedTracks,
    /// The split (tracks whose audio failed to decode removed).
    pub split: TrackSplit,
    /// The LSI space fitted on the training tracks' tags.
    pub lsi: Lsi,
    /// Each tagged track's L2-normalised LSI vector (tracks × topics).
    pub lsi_unit: Array2<f32>,
    /// The clips (one corpus track per tagged track, same order).
    pub corpus: Corpus,
    /// Their log-mels.
    pub features: FeatureStore,
    /// Clip indices of each track.
    pub clips_of_track: Vec<Vec<usize>>,
    /// Tracks whose audio could not be decoded: (path, reason).
    pub failures: Vec<(PathBuf, String)>,
    /// The triplet thresholds.
    pub rules: TripletRules,
}

/// `n` evenly spread items of `items` (all when there are no more than `n`).
fn spread<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n || n == 0 {
        return items.to_vec();
    }
    (0..n).map(|i| items[(i * items.len() + items.len() / 2) / n]).collect()
}

/// Checks that the training tracks' tags give at least one anchor with a
/// valid positive and negative (ignoring batches): otherwise no batch ever can.
fn check_triplets(
    tagged: &TaggedTracks,
    lsi_unit: ArrayView2<f32>,
    train: &[usize],
    rules: &TripletRules,
) -> Result<()> {
    let rows = lsi_unit.select(ndarray::Axis(0), train);
    let cos = cosine_matrix(rows.view());
    let usable = nonzero_rows(rows.view());
    let keys: Vec<PairKeys> = train.iter().map(|&t| tagged.keys(t)).collect();
    let (pos, neg) = lsi_masks(cos.view(), &usable, &keys, rules)?;
    let zeros = Array2::<f32>::zeros(cos.dim());
    let mined = mine_hardest(zeros.view(), pos.view(), neg.view())?;
    match mined.stats.why_empty() {
        None => Ok(()),
        Some(why) => Err(Error::BadTags(TagProblem::NoTriplets {
            reason: format!(
                "{why} (positives need an LSI cosine ≥ {}, negatives < {}, among {} training tracks)",
                rules.positive_min_cos,
                rules.negative_max_cos,
                train.len()
            ),
        })),
    }
}

impl FineTuneData {
    /// Reads the tags, splits, fits the LSI, checks that triplets exist and
    /// then computes (or reads from `cache_dir`) the clips' log-mels.
    ///
    /// # Errors
    /// [`Error::BadTags`] (see [`TaggedTracks::read`] and the triplet check),
    /// bad thresholds or topic counts, cancellation, or a store failure.
    pub fn prepare(
        store: &Store,
        cfg: &FineTuneConfig,
        cache_dir: &Path,
        cancel: &CancelToken,
        on_progress: &(dyn Fn(&CacheProgress) + Sync),
    ) -> Result<FineTuneData> {
        let rules = TripletRules::new(cfg.positive_min_cos, cfg.negative_max_cos)?;
        let tagged = TaggedTracks::read(store, &cfg.sets)?;
        let mut split = tagged.split(cfg.test_fraction, cfg.valid_fraction, cfg.seed);
        let topics = cfg.topics.unwrap_or_else(|| Lsi::default_topics(tagged.tags.len()));
        let fit_rows = tagged.matrix.select(ndarray::Axis(0), &split.train);
        let lsi = Lsi::fit(fit_rows.view(), topics)?;
        let mut lsi_unit = lsi.project(tagged.matrix.view())?;
        for mut row in lsi_unit.rows_mut() {
            let n = row.dot(&row).sqrt();
            if n > 0.0 {
                row /= n;
            }
        }
        check_triplets(&tagged, lsi_unit.view(), &split.train, &rules)?;

        let mut tracks = Vec::with_capacity(tagged.tracks.len());
        let mut clips = Vec::new();
        for (i, t) in tagged.tracks.iter().enumerate() {
            let starts: Vec<f64> = store.clips(t.id)?.into_iter().map(|c| c.start_s).collect();
            let starts =
                if starts.is_empty() { crate::audio::clips::clip_starts_s(t.duration_s) } else { starts };
            for start_s in spread(&starts, cfg.clips_per_track.max(1)) {
                clips.push(CorpusClip { track: i, start_s, target_row: None });
            }
            tracks.push(CorpusTrack {
                rel_path: t.path.to_string_lossy().into_owned(),
                source: String::new(),
                album: t.album.clone().unwrap_or_default(),
                artist: t.artist.clone().unwrap_or_else(|| "unknown".into()),
                title: t.title.clone(),
                license: String::new(),
                duration_s: Some(t.duration_s),
                kind: String::new(),
            });
        }
        let corpus = Corpus::from_clips(Path::new("/"), tracks, clips);
        let (features, failed) = load_or_compute(&corpus, cache_dir, worker_count(), cancel, on_progress)?;
        let clips_of_track = corpus.clips_by_track();
        let ok =
            |t: &usize| !clips_of_track[*t].is_empty() && clips_of_track[*t].iter().all(|&c| features.has(c));
        split.train.retain(ok);
        split.valid.retain(ok);
        split.test.retain(ok);
        let failures = failed.into_iter().map(|f| (tagged.tracks[f.track].path.clone(), f.reason)).collect();
        if split.train.len() < MIN_TAGGED_TRACKS {
            return Err(Error::BadTags(TagProblem::TooFewTracks {
                tagged: split.train.len(),
                needed: MIN_TAGGED_TRACKS,
            }));
        }
        Ok(FineTuneData { tagged, split, lsi, lsi_unit, corpus, features, clips_of_track, failures, rules })
    }

    /// Tracks per batch: the configured size, at most the training tracks.
    pub fn batch_tracks(&self, cfg: &FineTuneConfig) -> usize {
        cfg.batch_tracks.clamp(2, self.split.train.len().max(2)).min(self.split.train.len())
    }

    /// Optimizer steps in one pass over the training tracks.
    pub fn steps_per_epoch(&self, cfg: &FineTuneConfig) -> usize {
        (self.split.train.len() / self.batch_tracks(cfg).max(1)).max(1)
    }

    /// Unit track vectors (`tracks.len() × dim`) of `tracks` under `model`
    /// (validation mode), from all their cached clips.
    pub fn track_vectors(&self, model: &Dpnn, device: &burn::tensor::Device, tracks: &[usize]) -> Vec<f32> {
        let clips: Vec<usize> = tracks.iter().flat_map(|&t| self.clips_of_track[t].iter().copied()).collect();
        let local_of: Vec<usize> = tracks
            .iter()
            .enumerate()
            .flat_map(|(i, &t)| std::iter::repeat_n(i, self.clips_of_track[t].len()))
            .collect();
        let mut vectors = Vec::new();
        for chunk in clips.chunks(32) {
            let x = self.features.read_clips(chunk);
            let input =
                Tensor::<4>::from_data(TensorData::new(x, [chunk.len(), 1, N_MELS, N_FRAMES]), device);
            vectors.extend(model.embed(input).into_data().iter::<f32>());
        }
        let dim = vectors.len() / clips.len().max(1);
        metrics::track_vectors(&vectors, dim.max(1), &local_of, tracks.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_seeded_disjoint_and_shrinks_for_small_libraries() {
        let keys: Vec<String> = (0..40).map(|i| format!("/m/{i}.ogg")).collect();
        let s = TrackSplit::new(&keys, 0.25, 0.15, 7);
        assert_eq!(s, TrackSplit::new(&keys, 0.25, 0.15, 7));
        assert_ne!(s, TrackSplit::new(&keys, 0.25, 0.15, 8));
        assert_eq!((s.test.len(), s.valid.len(), s.train.len()), (10, 6, 24));
        let mut all: Vec<usize> = s.train.iter().chain(&s.valid).chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        let tiny = TrackSplit::new(&keys[..5], 0.25, 0.15, 7);
        assert_eq!((tiny.test.len(), tiny.valid.len(), tiny.train.len()), (0, 0, 5));
    }

    #[test]
    fn spread_picks_evenly() {
        assert_eq!(spread(&[0, 1, 2, 3, 4, 5, 6, 7], 4), [1, 3, 5, 7]);
        assert_eq!(spread(&[1, 2], 4), [1, 2]);
    }
}
