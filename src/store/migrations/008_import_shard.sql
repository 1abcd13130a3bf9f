-- 008: which shard of its folder an import run took ("K/N", see
-- library::shard), NULL for a whole folder: a merge of shard libraries
-- reports which shards it holds and which are missing.
ALTER TABLE import_runs ADD COLUMN shard TEXT;
