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
