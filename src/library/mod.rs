//! The library: finding music files on disk and bringing them into the store.
//!
//! `scan` walks folders and decides what is audio; `fingerprint` recognises a
//! file's content wherever it moves; `names` gives untagged files sensible
//! names; `import` runs the whole pipeline incrementally (of one `shard` of a
//! folder, when its import is split over machines); `tag_import` brings tags
//! from a CSV or the files' genres into the user's tag sets; `tag_write`
//! writes predicted (and user) tags back into the files.

pub mod embed;
pub mod fingerprint;
pub mod import;
pub mod model_stage;
pub mod names;
pub mod scan;
pub mod shard;
pub mod tag_import;
pub mod tag_write;

pub use embed::{EmbedEvent, EmbedSummary, embed_library};
pub use import::{
    ImportEvent, ImportOptions, ImportSummary, Outcome, import_folder, import_folder_locked,
    import_folder_with,
};
pub use shard::{Shard, missing_shards};
pub use tag_import::{
    RowProblem, TagImportReport, comment_tags, import_comment_tags, import_genre_tags, import_tags_csv,
};
pub use tag_write::{
    FileOutcome, FileReport, FileTags, TagWriteEvent, TagWriteOptions, TagWriteSummary, write_tags,
};
