//! The futures of async writes.
//!
//! An async write is evaluated when it is called (its stripes locked, its
//! before images read, its condition checked) and queued for the change
//! log; the log's completion thread applies it to the store once it is durable
//! and then completes the future (see `write::Inner::write_async`). So the
//! future only waits: no thread is parked for it, and dropping it cancels
//! nothing.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_channel::oneshot;

use crate::error::{Error, Result};
use crate::write::Written;

/// A write group on its way to the store.
pub(crate) struct PendingWrite {
    state: State,
}

enum State {
    /// Answered before it was queued (refused, or nothing to change).
    Ready(Option<Result<Vec<Written>>>),
    /// Queued; the log's completion thread answers.
    Queued(oneshot::Receiver<Result<Vec<Written>>>),
}

impl PendingWrite {
    pub(crate) fn ready(result: Result<Vec<Written>>) -> Self {
        PendingWrite {
            state: State::Ready(Some(result)),
        }
    }

    pub(crate) fn queued(rx: oneshot::Receiver<Result<Vec<Written>>>) -> Self {
        PendingWrite {
            state: State::Queued(rx),
        }
    }
}

impl Future for PendingWrite {
    type Output = Result<Vec<Written>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Ready(result) => Poll::Ready(result.take().unwrap_or(Err(Error::Closed))),
            // The sender vanishes unanswered only if the log's writer
            // thread stopped with the write queued.
            State::Queued(rx) => Pin::new(rx)
                .poll(cx)
                .map(|answer| answer.unwrap_or(Err(Error::Closed))),
        }
    }
}

/// The future of an async write on a [`Table`](crate::Table): resolves to
/// the write's answer once its change is durable under the database's
/// [`Durability`](crate::Durability) and visible to reads.
///
/// The write is evaluated and queued when the request is awaited, before
/// the future is first polled. Dropping the future does not cancel the
/// write: once queued, it is logged and applied all the same.
#[must_use = "the write is queued either way; the future tells when it is durable"]
pub struct WriteFuture<T> {
    pending: PendingWrite,
    answer: Option<Box<dyn FnOnce(Vec<Written>) -> T + Send>>,
}

impl<T> WriteFuture<T> {
    pub(crate) fn new(
        pending: PendingWrite,
        answer: impl FnOnce(Vec<Written>) -> T + Send + 'static,
    ) -> Self {
        WriteFuture {
            pending,
            answer: Some(Box::new(answer)),
        }
    }
}

// Nothing in it is structurally pinned.
impl<T> Unpin for WriteFuture<T> {}

impl<T> Future for WriteFuture<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let written = match Pin::new(&mut self.pending).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let answer = self.answer.take();
        Poll::Ready(written.and_then(|w| answer.map(|f| f(w)).ok_or(Error::Closed)))
    }
}

impl<T> std::fmt::Debug for WriteFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteFuture")
            .field("answered", &self.answer.is_none())
            .finish_non_exhaustive()
    }
}
