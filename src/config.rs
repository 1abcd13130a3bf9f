//! Where things live: the user's library file, the bundled demo library and
//! its own database. Shared by the window (library menu, welcome page) and
//! the command line (`--demo` without a display), so both agree.

use std::path::{Path, PathBuf};

/// The user's own library file in the platform data folder
/// (`~/.local/share/tuneatlas/library.db` on Linux); `None` without a home.
pub fn default_library() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "tuneatlas", "tuneatlas").map(|d| d.data_dir().join("library.db"))
}

/// The bundled demo library's folder: `assets/demo` beside the executable
/// when installed, else the source tree's (`cargo run`); `None` when neither
/// exists.
pub fn demo_folder() -> Option<PathBuf> {
    let beside_exe = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|d| d.join("assets/demo")));
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    beside_exe.into_iter().chain([source_tree]).find(|d| d.is_dir())
}

/// The demo's own database, beside `library_db`, so the demo never mixes
/// with the user's music.
pub fn demo_db(library_db: &Path) -> PathBuf {
    library_db.with_file_name("demo-library.db")
}

/// Where the model versions of the library at `library_db` live: `models/`
/// beside the database (for the default library, the platform data folder,
/// e.g. `~/.local/share/tuneatlas/models/`). Fine-tuned versions are written
/// there as `<version>/` (model.toml + weights), so a library and the
/// models its vectors were made with move together.
pub fn models_dir(library_db: &Path) -> PathBuf {
    library_db.parent().map_or_else(|| PathBuf::from("models"), |d| d.join("models"))
}

/// The directory of model `version` of the library at `library_db`, as
/// written by fine-tuning (see [`models_dir`]).
pub fn model_dir(library_db: &Path, version: &str) -> PathBuf {
    models_dir(library_db).join(version)
}
