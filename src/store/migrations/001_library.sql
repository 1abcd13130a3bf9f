-- 001: the library itself — files, their clip grid, import runs and per-file errors.
CREATE TABLE tracks (
    id              INTEGER PRIMARY KEY,
    path            TEXT    NOT NULL UNIQUE,
    size_bytes      INTEGER NOT NULL,
    mtime_ns        INTEGER NOT NULL,
    -- blake3 of the file's size and three 64 KiB samples (head, middle, tail):
    -- how a moved or renamed file is recognised.
    fingerprint     BLOB    NOT NULL,
    title           TEXT    NOT NULL,
    artist          TEXT,
    album           TEXT,
    album_artist    TEXT,
    track_number    INTEGER,
    disc_number     INTEGER,
    year            INTEGER,
    genre           TEXT,
    -- true when title/artist/album were derived from the path, not read from tags
    names_from_path INTEGER NOT NULL DEFAULT 0,
    duration_s      REAL    NOT NULL,
    container       TEXT    NOT NULL,
    codec           TEXT    NOT NULL,
    sample_rate_hz  INTEGER NOT NULL,
    channels        INTEGER NOT NULL,
    -- ok: imported; missing: was imported, file no longer found (data kept)
    status          TEXT    NOT NULL CHECK (status IN ('ok', 'missing')),
    added_at        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_seen_run   INTEGER
);
CREATE INDEX tracks_fingerprint ON tracks (fingerprint);
CREATE INDEX tracks_status ON tracks (status);

CREATE TABLE clips (
    track_id    INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    clip_index  INTEGER NOT NULL,
    start_s     REAL    NOT NULL,
    -- RMS level of the clip in dBFS (-inf stored as -200): flags silent clips
    rms_db      REAL    NOT NULL,
    PRIMARY KEY (track_id, clip_index)
) WITHOUT ROWID;

CREATE TABLE import_runs (
    id           INTEGER PRIMARY KEY,
    root         TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed', 'interrupted')),
    n_new        INTEGER NOT NULL DEFAULT 0,
    n_updated    INTEGER NOT NULL DEFAULT 0,
    n_moved      INTEGER NOT NULL DEFAULT 0,
    n_unchanged  INTEGER NOT NULL DEFAULT 0,
    n_failed     INTEGER NOT NULL DEFAULT 0,
    n_missing    INTEGER NOT NULL DEFAULT 0
);

-- The latest failure per path. Cleared when the file later imports fine.
CREATE TABLE file_errors (
    path        TEXT    PRIMARY KEY,
    run_id      INTEGER NOT NULL,
    size_bytes  INTEGER,
    mtime_ns    INTEGER,
    reason      TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
