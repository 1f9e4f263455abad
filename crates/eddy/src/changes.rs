//! Reading the change log as typed [`ChangeRecord`]s.
//!
//! The change log stores opaque payloads; the model's codec turns them into
//! changes. Two ways to read: [`ChangeIter`] walks the committed log from an
//! LSN to its end at the time of the call, and [`ChangeSubscription`]
//! follows it live, catching up from disk when it falls behind, so it never
//! misses or repeats a change.

use std::time::Duration;

use eddy_changelog::{LogReader, LogRecord, Subscription};
use eddy_model::{codec, ChangeRecord};

use crate::db::Database;
use crate::error::{Error, Result};

fn decode(record: LogRecord) -> Result<ChangeRecord> {
    let change = codec::decode_change(&record.payload).map_err(|source| Error::CorruptRecord {
        lsn: record.lsn,
        source,
    })?;
    Ok(ChangeRecord {
        lsn: record.lsn,
        created_micros: record.micros,
        change,
    })
}

/// An iterator over committed changes, in LSN order.
pub struct ChangeIter {
    reader: LogReader,
}

impl Iterator for ChangeIter {
    type Item = Result<ChangeRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.reader.next()?.map_err(Error::from).and_then(decode))
    }
}

/// A live feed of committed changes, in LSN order, without gaps.
pub struct ChangeSubscription {
    inner: Subscription,
}

impl ChangeSubscription {
    /// Waits for the next change.
    pub fn recv(&mut self) -> Result<ChangeRecord> {
        decode(self.inner.recv()?)
    }

    /// Waits up to `timeout` for the next change; `Ok(None)` on timeout.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ChangeRecord>> {
        self.inner.recv_timeout(timeout)?.map(decode).transpose()
    }

    /// The next change if one is ready.
    pub fn try_recv(&mut self) -> Result<Option<ChangeRecord>> {
        self.inner.try_recv()?.map(decode).transpose()
    }
}

impl Database {
    /// The committed changes with LSN >= `lsn`, up to the last one committed
    /// now. LSNs start at 1; `changes_since(0)` reads everything retained, an
    /// explicit LSN older than the oldest retained one is an error.
    pub fn changes_since(&self, lsn: u64) -> Result<ChangeIter> {
        self.inner.check_open()?;
        let reader = self.inner.log.read_from(self.start_lsn(lsn))?;
        Ok(ChangeIter { reader })
    }

    /// Follows the change log live from `lsn` (see [`ChangeSubscription`]).
    pub fn subscribe(&self, lsn: u64) -> Result<ChangeSubscription> {
        self.inner.check_open()?;
        let inner = self.inner.log.subscribe(self.start_lsn(lsn))?;
        Ok(ChangeSubscription { inner })
    }

    /// LSN 0 means "from the oldest retained change"; any other LSN is taken
    /// as given, so a trimmed position is an error rather than a silent skip.
    fn start_lsn(&self, lsn: u64) -> u64 {
        if lsn == 0 {
            self.oldest_lsn()
        } else {
            lsn
        }
    }

    /// The LSN of the last committed change (0 if none).
    pub fn last_lsn(&self) -> u64 {
        self.inner.log.committed_lsn()
    }

    /// The oldest LSN still in the change log.
    pub fn oldest_lsn(&self) -> u64 {
        self.inner.log.oldest_lsn()
    }
}
