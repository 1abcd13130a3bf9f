-- 004: tags the user gives tracks, in named sets ("tags", "moods", "occasions"...),
-- kept apart from the model's predicted tags. Fine-tuning reads them, one set
-- or several combined, as its training labels.
CREATE TABLE tag_sets (
    id    INTEGER PRIMARY KEY,
    -- normalised: trimmed, lower case, inner whitespace collapsed
    name  TEXT    NOT NULL UNIQUE CHECK (name <> '')
);
-- The set a tag goes to when none is named.
INSERT INTO tag_sets (name) VALUES ('tags');

CREATE TABLE user_tags (
    track_id  INTEGER NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    set_id    INTEGER NOT NULL REFERENCES tag_sets (id) ON DELETE CASCADE,
    -- normalised like tag_sets.name
    tag       TEXT    NOT NULL CHECK (tag <> ''),
    -- user: typed in the app or CLI; file: read from the file's own tags;
    -- csv: imported from a spreadsheet
    source    TEXT    NOT NULL CHECK (source IN ('user', 'file', 'csv')),
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (track_id, set_id, tag)
) WITHOUT ROWID;
-- "which tracks carry this tag" (tag counts, fine-tuning labels) without a full scan
CREATE INDEX user_tags_set_tag ON user_tags (set_id, tag);
