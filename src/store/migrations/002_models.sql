-- 002: per-model-version outputs. Every model version keeps its own rows, so
-- re-embedding with a new model never overwrites the old one.
CREATE TABLE models (
    version     TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    parent      TEXT,
    created_at  INTEGER NOT NULL,
    config_json TEXT    NOT NULL
);

-- little-endian f32 vectors
CREATE TABLE track_vectors (
    track_id      INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model_version TEXT    NOT NULL REFERENCES models (version),
    vector        BLOB    NOT NULL,
    PRIMARY KEY (track_id, model_version)
) WITHOUT ROWID;

CREATE TABLE clip_vectors (
    track_id      INTEGER NOT NULL,
    clip_index    INTEGER NOT NULL,
    model_version TEXT    NOT NULL REFERENCES models (version),
    vector        BLOB    NOT NULL,
    PRIMARY KEY (track_id, clip_index, model_version),
    FOREIGN KEY (track_id, clip_index) REFERENCES clips (track_id, clip_index) ON DELETE CASCADE
) WITHOUT ROWID;

-- predicted tag scores, category in (genre, style, mood, theme)
CREATE TABLE track_tags (
    track_id      INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model_version TEXT    NOT NULL REFERENCES models (version),
    category      TEXT    NOT NULL,
    tag           TEXT    NOT NULL,
    score         REAL    NOT NULL,
    PRIMARY KEY (track_id, model_version, category, tag)
) WITHOUT ROWID;
