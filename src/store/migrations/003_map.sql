-- 003: the library map — a cached 2-d t-SNE layout per model version.
-- Computing a layout takes seconds to a minute, so it is kept until enough
-- new tracks arrive that a full recompute pays off; tracks added in between
-- are placed next to their nearest neighbours and marked `placed`.
CREATE TABLE map_layouts (
    model_version TEXT    PRIMARY KEY REFERENCES models (version) ON DELETE CASCADE,
    -- the LayoutParams asked for, as JSON (a change of parameters forces a recompute)
    params_json   TEXT    NOT NULL,
    computed_at   INTEGER NOT NULL,
    -- tracks laid out by t-SNE itself (placed ones not counted)
    n_tracks      INTEGER NOT NULL,
    compute_s     REAL    NOT NULL
);

-- coordinates normalised into [-1, 1]² (centred, aspect kept)
CREATE TABLE map_coords (
    model_version TEXT    NOT NULL REFERENCES map_layouts (model_version) ON DELETE CASCADE,
    track_id      INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    x             REAL    NOT NULL,
    y             REAL    NOT NULL,
    -- 0 = laid out by t-SNE, 1 = placed later next to its neighbours
    placed        INTEGER NOT NULL CHECK (placed IN (0, 1)),
    PRIMARY KEY (model_version, track_id)
) WITHOUT ROWID;
