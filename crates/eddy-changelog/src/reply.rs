//! Where an append's outcome goes: a blocked appender, a callback, or a
//! future.
//!
//! [`ChangeLog::append`](crate::ChangeLog::append) parks its thread until
//! the group is durable. An async caller cannot: an executor thread parked
//! on an fsync stalls every task on it. So an append can also hand the log
//! a callback ([`ChangeLog::append_then`](crate::ChangeLog::append_then)),
//! which the committing thread runs once the group is acknowledged, or take
//! a future ([`ChangeLog::append_async`](crate::ChangeLog::append_async))
//! completed by such a callback. Either way the group shares its batch's
//! one write and one fsync with every other group queued meanwhile, and no
//! thread waits for it.
//!
//! Every reply is answered exactly once, with the group's [`Committed`]
//! guard or the error that refused it. A reply whose receiver has gone (a
//! dropped future) gets the guard all the same; it is dropped there, which
//! releases the group's LSNs. The group itself stays logged: a logged
//! write cannot be taken back.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crossbeam_channel::Sender;

use crate::error::{Error, Result};
use crate::shared::Committed;

/// The callback form: runs on the thread that committed the group (the
/// log's writer thread), so it must be quick and must not wait on this log.
pub(crate) type OnDurable = Box<dyn FnOnce(Result<Committed>) + Send + 'static>;

/// Where one append's outcome goes.
pub(crate) enum AppendReply {
    /// A thread blocked in [`ChangeLog::append`](crate::ChangeLog::append).
    Wait(Sender<Result<Committed>>),
    /// A callback, from `append_then` (and `append_async`).
    Call(OnDurable),
}

impl AppendReply {
    /// Delivers the outcome. A panicking callback is contained and logged:
    /// it must not take the writer thread, and every later append, with it.
    pub(crate) fn send(self, outcome: Result<Committed>) {
        match self {
            // A failed send means the appender is gone; the guard inside
            // comes back and is dropped, releasing its LSNs.
            AppendReply::Wait(tx) => drop(tx.send(outcome)),
            AppendReply::Call(f) => {
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(outcome)));
                if ran.is_err() {
                    tracing::error!("a change log append callback panicked");
                }
            }
        }
    }
}

/// The future of [`ChangeLog::append_async`](crate::ChangeLog::append_async):
/// resolves to the group's [`Committed`] guard once the group is durable
/// per the log's [`Durability`](crate::Durability), or to the error that
/// refused it.
///
/// The append is queued when `append_async` is called, not when the future
/// is first polled. Dropping the future does not cancel it: the group is
/// committed all the same, and its guard is released at once.
#[must_use = "the group is logged either way; the future tells when it is durable"]
pub struct AppendFuture {
    state: State,
}

enum State {
    /// Refused before it was queued.
    Refused(Option<Error>),
    /// Queued; the writer answers through the channel.
    Queued(futures_channel::oneshot::Receiver<Result<Committed>>),
}

impl AppendFuture {
    pub(crate) fn refused(e: Error) -> Self {
        AppendFuture {
            state: State::Refused(Some(e)),
        }
    }

    /// A future and the reply that completes it.
    pub(crate) fn queued() -> (Self, OnDurable) {
        let (tx, rx) = futures_channel::oneshot::channel();
        let reply: OnDurable = Box::new(move |outcome| drop(tx.send(outcome)));
        (
            AppendFuture {
                state: State::Queued(rx),
            },
            reply,
        )
    }
}

impl Future for AppendFuture {
    type Output = Result<Committed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Refused(e) => Poll::Ready(Err(e.take().unwrap_or(Error::Closed))),
            // The sender vanishes unanswered only if the writer thread died
            // with the request queued: the log is gone.
            State::Queued(rx) => Pin::new(rx)
                .poll(cx)
                .map(|answer| answer.unwrap_or(Err(Error::Closed))),
        }
    }
}

impl std::fmt::Debug for AppendFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Refused(_) => "refused",
            State::Queued(_) => "queued",
        };
        f.debug_struct("AppendFuture")
            .field("state", &state)
            .finish()
    }
}
