//! Background work for the window, written once: a named thread, a channel
//! back, and a repaint so the window notices (ARCHITECTURE.md §6).
//!
//! Why: egui only redraws when something happens, so a result that arrives
//! while the user does nothing must wake it; and a thread needs a name so a
//! stack dump says which job hangs. Every panel that starts work (library
//! load, map layout, import, export, fine-tuning, re-embedding) did this by
//! hand; now each calls [`spawn`] and reads its receiver with [`poll`].

use crossbeam_channel::{Receiver, Sender, TryRecvError, unbounded};

/// The thread's way back to the window: every [`send`](Self::send) also
/// asks for a repaint.
pub(super) struct Reply<M> {
    tx: Sender<M>,
    ctx: egui::Context,
}

impl<M> Reply<M> {
    /// Sends `message` and wakes the window. A window that stopped
    /// listening (closed, or the job was dropped) is not an error.
    pub(super) fn send(&self, message: M) {
        let _ = self.tx.send(message);
        self.ctx.request_repaint();
    }

    /// Sends without waking: for a stream of small events that would
    /// otherwise redraw the window hundreds of times a second (follow with
    /// [`wake`](Self::wake) now and then).
    pub(super) fn send_quietly(&self, message: M) {
        let _ = self.tx.send(message);
    }

    /// Wakes the window.
    pub(super) fn wake(&self) {
        self.ctx.request_repaint();
    }
}

/// Runs `work` on a thread named `name`, handing it the [`Reply`] end of a
/// fresh channel; returns the receiving end. Fails only when the operating
/// system cannot start a thread.
pub(super) fn spawn<M: Send + 'static>(
    name: &str,
    ctx: &egui::Context,
    work: impl FnOnce(Reply<M>) + Send + 'static,
) -> std::io::Result<Receiver<M>> {
    let (tx, rx) = unbounded();
    let reply = Reply { tx, ctx: ctx.clone() };
    std::thread::Builder::new().name(name.to_owned()).spawn(move || work(reply))?;
    Ok(rx)
}

/// What a job's receiver holds right now.
pub(super) enum Polled<M> {
    /// Nothing new.
    Nothing,
    /// The next message.
    Message(M),
    /// The thread ended without a message waiting (finished, or panicked).
    Gone,
}

/// Takes the next message from a job's receiver without waiting.
pub(super) fn poll<M>(rx: &Receiver<M>) -> Polled<M> {
    match rx.try_recv() {
        Ok(m) => Polled::Message(m),
        Err(TryRecvError::Empty) => Polled::Nothing,
        Err(TryRecvError::Disconnected) => Polled::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order_and_then_the_job_is_gone() {
        let ctx = egui::Context::default();
        let rx = spawn("ta-gui-test", &ctx, |reply: Reply<u32>| {
            assert_eq!(std::thread::current().name(), Some("ta-gui-test"));
            reply.send_quietly(1);
            reply.send(2);
        })
        .unwrap();
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match poll(&rx) {
                Polled::Message(m) => got.push(m),
                Polled::Gone => break,
                Polled::Nothing => {
                    assert!(std::time::Instant::now() < deadline, "the job never ended");
                    std::thread::yield_now();
                }
            }
        }
        assert_eq!(got, [1, 2]);
    }
}
