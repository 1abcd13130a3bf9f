//! Long-running work (import, embedding, map layout, training) runs on named
//! background threads (ARCHITECTURE.md §6). This module holds what every such
//! job shares: a cancel token the window's Cancel button and the CLI's Ctrl-C
//! both flip, and how many workers a CPU-bound stage should use. Threads are
//! started with `std::thread::Builder::name` (`clippy.toml` disallows the
//! unnamed `std::thread::spawn`), so a stack dump or `top -H` says which part
//! of the pipeline is busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Error, Result};

/// A shared "please stop" flag. Cheap to clone; every stage polls it between
/// items, so cancelling takes effect within one file. A [`child`](Self::child)
/// token also stops when its parent does, which lets a pipeline stop itself
/// (e.g. on a full disk) without flipping the caller's token.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    parent: Option<Arc<AtomicBool>>,
}

impl CancelToken {
    /// A fresh, not-cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token cancelled by its own [`cancel`](Self::cancel) or by this one's.
    pub fn child(&self) -> Self {
        CancelToken { flag: Arc::new(AtomicBool::new(false)), parent: Some(self.flag.clone()) }
    }

    /// Asks every holder to stop as soon as it can.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// True once this token or its parent was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.load(Ordering::SeqCst))
    }

    /// `Err(Error::Cancelled)` once cancelled: for `?` in loops.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() { Err(Error::Cancelled) } else { Ok(()) }
    }
}

/// Name prefix of threads whose panics are caught and reported as one item's
/// error (the import's decode workers): a decoder bug costs one file.
pub const CAUGHT_PANIC_THREAD_PREFIX: &str = "ta-decode-";

/// Installs (once per process) a panic hook that keeps the default
/// `thread '…' panicked at …` text off stderr for threads named with
/// [`CAUGHT_PANIC_THREAD_PREFIX`], whose panics are caught and reported as a
/// per-file error instead; it goes to the debug log. Every other thread's
/// panic is printed exactly as before.
pub fn quiet_caught_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let caught =
                std::thread::current().name().is_some_and(|n| n.starts_with(CAUGHT_PANIC_THREAD_PREFIX));
            if caught {
                tracing::debug!("caught panic: {info}");
            } else {
                previous(info);
            }
        }));
    });
}

/// The message of a caught panic's payload ("" when it is not text).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("")
}

/// Number of worker threads for CPU-bound stages: all cores, at least one.
pub fn worker_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_follows_parent_but_not_the_reverse() {
        let parent = CancelToken::new();
        let child = parent.child();
        child.cancel();
        assert!(child.is_cancelled() && !parent.is_cancelled());
        let other = parent.child();
        parent.cancel();
        assert!(other.is_cancelled() && other.check().is_err());
    }
}
