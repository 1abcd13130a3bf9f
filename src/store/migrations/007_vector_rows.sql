-- 007: track and clip vectors in ordinary (rowid) tables. A 256-d vector is
-- a 1,024-byte BLOB; a WITHOUT ROWID table keeps at most about 1,000 bytes
-- of a row in its B-tree page (4 KiB pages), so every vector spilled onto an
-- overflow page of its own: four times the disk, and twice the time to read
-- a library's vectors. A rowid table keeps up to ~4,000 bytes in the page.
-- Same columns, keys and references; rows are copied in key order, so a
-- scan in track order reads the table front to back.
CREATE TABLE track_vectors_rows (
    track_id      INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    model_version TEXT    NOT NULL REFERENCES models (version),
    vector        BLOB    NOT NULL,
    PRIMARY KEY (track_id, model_version)
);
INSERT INTO track_vectors_rows (track_id, model_version, vector)
    SELECT track_id, model_version, vector FROM track_vectors ORDER BY track_id, model_version;
DROP TABLE track_vectors;
ALTER TABLE track_vectors_rows RENAME TO track_vectors;

CREATE TABLE clip_vectors_rows (
    track_id      INTEGER NOT NULL,
    clip_index    INTEGER NOT NULL,
    model_version TEXT    NOT NULL REFERENCES models (version),
    vector        BLOB    NOT NULL,
    PRIMARY KEY (track_id, clip_index, model_version),
    FOREIGN KEY (track_id, clip_index) REFERENCES clips (track_id, clip_index) ON DELETE CASCADE
);
INSERT INTO clip_vectors_rows (track_id, clip_index, model_version, vector)
    SELECT track_id, clip_index, model_version, vector FROM clip_vectors
    ORDER BY track_id, clip_index, model_version;
DROP TABLE clip_vectors;
ALTER TABLE clip_vectors_rows RENAME TO clip_vectors;
