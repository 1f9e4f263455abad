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
//! Callbacks do not run on the writer thread: it hands each one, with its
//! outcome, to the log's completion thread, which runs them one at a time
//! in commit order. So a callback's work (the facade applies the change to
//! its store there) never delays the next batch's write and fsync, and
//! never runs under the writer's lock.
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
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::shared::Committed;

/// The callback form: runs on the log's completion thread, after the
/// callbacks of every earlier group.
pub(crate) type OnDurable = Box<dyn FnOnce(Result<Committed>) + Send + 'static>;

/// A callback with its outcome, for the completion thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// Where one append's outcome goes.
pub(crate) enum AppendReply {
    /// A thread blocked in [`ChangeLog::append`](crate::ChangeLog::append).
    Wait(Sender<Result<Committed>>),
    /// A callback, from `append_then` (and `append_async`), and the way to
    /// the completion thread.
    Call(OnDurable, Sender<Job>),
}

impl AppendReply {
    /// Delivers the outcome. A panicking callback is contained and logged:
    /// it must not take the writer thread, and every later append, with it.
    pub(crate) fn send(self, outcome: Result<Committed>) {
        match self {
            // A failed send means the appender is gone; the guard inside
            // comes back and is dropped, releasing its LSNs.
            AppendReply::Wait(tx) => drop(tx.send(outcome)),
            AppendReply::Call(f, completions) => {
                // The thread outlives every sender, so this send fails only
                // if it died; then the callback runs here rather than never.
                if let Err(job) = completions.send(Box::new(move || f(outcome))) {
                    run(job.0);
                }
            }
        }
    }
}

/// Runs one callback; a panic is contained and logged, so that it takes
/// neither the thread nor every later callback with it.
fn run(job: Job) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
        tracing::error!("a change log append callback panicked");
    }
}

/// The completion thread and the way to it.
pub(crate) struct Completions {
    tx: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Completions {
    /// Starts the thread.
    pub(crate) fn start() -> std::io::Result<Completions> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let thread = std::thread::Builder::new()
            .name("eddy-changelog-completions".into())
            .spawn(move || rx.iter().for_each(run))?;
        Ok(Completions {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The reply for `on_durable`; the callback back once the log is
    /// closed.
    pub(crate) fn reply(
        &self,
        on_durable: OnDurable,
    ) -> std::result::Result<AppendReply, OnDurable> {
        match self.tx.lock().clone() {
            Some(tx) => Ok(AppendReply::Call(on_durable, tx)),
            None => Err(on_durable),
        }
    }

    /// Waits until every callback queued so far has run. Called once the
    /// writer has answered every request: then every sender is gone but
    /// this one, and the thread ends when its queue is empty. From a
    /// callback itself it does not wait (it would wait for itself).
    pub(crate) fn finish(&self) {
        drop(self.tx.lock().take());
        let Some(thread) = self.thread.lock().take() else {
            return;
        };
        if thread.thread().id() == std::thread::current().id() {
            return;
        }
        if thread.join().is_err() {
            tracing::error!("the change log completion thread panicked");
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
