-- 005: file paths as their exact bytes. Paths were stored as UTF-8 text, made
-- lossy for names that are not UTF-8; from now on they are BLOBs holding the
-- operating system's bytes. Existing text converts byte for byte (CAST keeps
-- the UTF-8 bytes), so nothing stored is lost; a path that was already made
-- lossy by an older build no longer exists on disk, and the next import finds
-- its file again by fingerprint (a "move") with its id and data intact.
UPDATE tracks SET path = CAST(path AS BLOB) WHERE typeof(path) = 'text';
UPDATE file_errors SET path = CAST(path AS BLOB) WHERE typeof(path) = 'text';
UPDATE import_runs SET root = CAST(root AS BLOB) WHERE typeof(root) = 'text';
