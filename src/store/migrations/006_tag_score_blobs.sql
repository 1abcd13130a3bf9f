-- 006: predicted tag scores as one row per (track, model version) instead of
-- one row per tag. A library's scores are read whole at every start, and at
-- 74 tags per track the rows were most of that time (see store::tag_scores).
--
-- Each model version's tags, once: a score's position in a track's BLOB is
-- its tag's position here. Positions only grow, so older BLOBs stay valid.
CREATE TABLE tag_vocabulary (
    model_version TEXT    NOT NULL REFERENCES models (version),
    position      INTEGER NOT NULL CHECK (position >= 0),
    category      TEXT    NOT NULL,
    tag           TEXT    NOT NULL,
    PRIMARY KEY (model_version, position),
    UNIQUE (model_version, category, tag)
) WITHOUT ROWID;

-- little-endian f32 per vocabulary position; NaN where the track has no
-- score for that tag (scores themselves are always finite)
CREATE TABLE tag_scores (
    track_id      INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model_version TEXT    NOT NULL REFERENCES models (version),
    scores        BLOB    NOT NULL,
    PRIMARY KEY (track_id, model_version)
) WITHOUT ROWID;

-- The rows of track_tags are then converted by Rust code in the same
-- transaction (store::tag_scores::migrate: SQLite cannot write f32 bytes),
-- which drops track_tags when done.
