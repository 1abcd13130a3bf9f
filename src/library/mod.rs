//! The library: finding music files on disk and bringing them into the store.
//!
//! `scan` walks folders and decides what is audio; `fingerprint` recognises a
//! file's content wherever it moves; `names` gives untagged files sensible
//! names; `import` runs the whole pipeline incrementally.

pub mod embed;
pub mod fingerprint;
pub mod import;
pub mod model_stage;
pub mod names;
pub mod scan;

pub use embed::{EmbedEvent, EmbedSummary, embed_library};
pub use import::{ImportEvent, ImportOptions, ImportSummary, Outcome, import_folder, import_folder_with};
