//! The `tuneatlas` binary: with no arguments it opens the desktop app (when
//! built with the `gui` feature); with a subcommand it runs the same core
//! headless, for scripts, servers and tests.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    restore_default_sigpipe();
    provide_runtime_dir();
    cli::run()
}

/// Linux: gives the process an `XDG_RUNTIME_DIR` where the session has none
/// (a server, a container, root under Xvfb), a private folder in the
/// temporary directory.
///
/// Why: Mesa's Vulkan device-selection layer, loaded whenever wgpu looks for
/// an adapter (the model's device choice, the map renderer), tries a Wayland
/// connection to find the display's GPU, and libwayland prints
/// `error: XDG_RUNTIME_DIR is invalid or not set` for each attempt although
/// nothing is wrong. With the variable set, the attempt fails quietly (there
/// is no compositor socket in the folder) and the selection goes on as before.
/// A variable that is set is never changed.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn provide_runtime_dir() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|v| !v.is_empty()) {
        return;
    }
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return };
    let dir = std::env::temp_dir().join(format!("tuneatlas-runtime-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    // Only a folder this user owns and nobody else may enter will do.
    let private = std::fs::symlink_metadata(&dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0);
    if private {
        // SAFETY: called first thing in `main`, before any other thread
        // exists, so nothing can read the environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// Nothing to provide outside Linux.
#[cfg(not(target_os = "linux"))]
fn provide_runtime_dir() {}

/// Rust ignores SIGPIPE, so printing to a closed pipe (`tuneatlas tracks |
/// head`) panics in `println!`; a command-line tool should instead stop
/// quietly, as `cat` or `ls` do, which the default signal action gives.
#[cfg(unix)]
#[allow(unsafe_code)]
fn restore_default_sigpipe() {
    // SAFETY: called first thing in `main`, before any other thread exists;
    // setting a signal's disposition to SIG_DFL installs no Rust handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Nothing to do where there is no SIGPIPE.
#[cfg(not(unix))]
fn restore_default_sigpipe() {}
