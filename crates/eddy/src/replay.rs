//! Replay: bringing the store up to the change log at open.
//!
//! The store is flushed only at checkpoints, so after a crash it may lack
//! any change logged since the last one. Opening replays every logged
//! change after the store's checkpoint LSN, in LSN order, as full after
//! images (idempotent: applying a change twice leaves the same item).
//!
//! Replay is a pipeline of two threads. A decoder thread reads and checks
//! the log, decodes each change and prepares what the store will write:
//! the key encoded with the table's key schema and the after image encoded
//! as a store value. This thread applies those batches to the store. The
//! halves overlap instead of alternating, and the thread that writes into
//! sled (the slower half) does nothing else. A batch is applied only after
//! every change in it decoded; the first error on either side stops both.

use std::collections::HashMap;

use eddy_changelog::{ChangeLog, LogRecord};
use eddy_model::{codec, Change, TableDef};
use eddy_store::{EncodedApply, Store};

use crate::db::RecoveryReport;
use crate::error::{Error, Result};

/// How many replayed changes are applied to the store at once.
const REPLAY_BATCH: usize = 1024;

/// Replays the log from the store's checkpoint into the store.
pub(crate) fn replay(log: &ChangeLog, store: &Store, report: &mut RecoveryReport) -> Result<()> {
    let checkpoint = store.checkpoint_lsn()?;
    report.checkpoint_lsn = checkpoint;
    let log_end = log.committed_lsn();
    if checkpoint > log_end {
        return Err(Error::LogBehindStore {
            checkpoint,
            log_end,
        });
    }
    let records = log.read_from(checkpoint + 1)?;
    // Two batches in flight: one being applied, one being decoded.
    let (tx, rx) = crossbeam_channel::bounded::<Result<ReplayBatch>>(2);
    let mut last = checkpoint;
    std::thread::scope(|scope| -> Result<()> {
        let decoder = std::thread::Builder::new()
            .name("eddy-replay-decode".into())
            .spawn_scoped(scope, move || decode_batches(records, store, &tx))
            .map_err(|source| Error::Io {
                context: "starting the replay decoder thread".into(),
                source,
            })?;
        let applied = (|| {
            for batch in &rx {
                let batch = batch?;
                batch.apply(store)?;
                report.replayed += batch.writes.len() as u64;
                report.replayed_bytes += batch.bytes;
                last = batch.last_lsn;
            }
            Ok(())
        })();
        // Dropping the receiver stops a decoder that is still running.
        drop(rx);
        let _ = decoder.join();
        applied
    })?;
    if last > checkpoint {
        store.checkpoint(last)?;
    }
    Ok(())
}

/// One decoded change, ready for the store.
struct PreparedWrite {
    change: Change,
    /// The key as the table's key schema encodes it (empty for a change of
    /// a deleted table, which the store skips).
    key: Vec<u8>,
    /// The after image as a store value.
    value: Option<Vec<u8>>,
}

/// Decoded changes handed from the replay decoder to the applier.
struct ReplayBatch {
    writes: Vec<PreparedWrite>,
    /// Payload bytes of those changes.
    bytes: u64,
    /// LSN of the last change.
    last_lsn: u64,
}

impl ReplayBatch {
    fn new() -> ReplayBatch {
        ReplayBatch {
            writes: Vec::with_capacity(REPLAY_BATCH),
            bytes: 0,
            last_lsn: 0,
        }
    }

    fn apply(&self, store: &Store) -> Result<usize> {
        let applies: Vec<EncodedApply<'_>> = self
            .writes
            .iter()
            .map(|w| EncodedApply {
                table_id: w.change.table_id,
                key: &w.key,
                after: w.change.new_image.as_ref(),
                encoded_after: w.value.as_deref(),
            })
            .collect();
        Ok(store.apply_encoded(&applies)?)
    }
}

/// Decodes one logged change and prepares its store write. `tables` caches
/// the definitions looked up so far (`None`: the table was deleted).
fn prepare(
    record: LogRecord,
    store: &Store,
    tables: &mut HashMap<u64, Option<TableDef>>,
) -> Result<PreparedWrite> {
    let corrupt = |source| Error::CorruptRecord {
        lsn: record.lsn,
        source,
    };
    let change = codec::decode_change(&record.payload).map_err(corrupt)?;
    let table = tables
        .entry(change.table_id)
        .or_insert_with(|| store.table_by_id(change.table_id));
    let key = match table {
        Some(def) => def.key_schema.encode_key(&change.keys).map_err(corrupt)?,
        None => Vec::new(),
    };
    let value = match table {
        Some(_) => change.new_image.as_ref().map(codec::encode_item),
        None => None,
    };
    Ok(PreparedWrite { change, key, value })
}

/// The replay decoder: reads, decodes and prepares `records` in batches of
/// [`REPLAY_BATCH`] and sends them (or the first error) to `tx`, stopping
/// early when the applier hangs up.
fn decode_batches(
    records: impl Iterator<Item = eddy_changelog::Result<LogRecord>>,
    store: &Store,
    tx: &crossbeam_channel::Sender<Result<ReplayBatch>>,
) {
    let mut tables = HashMap::new();
    let mut batch = ReplayBatch::new();
    for record in records {
        let prepared = record.map_err(Error::from).and_then(|record| {
            let (lsn, bytes) = (record.lsn, record.payload.len() as u64);
            prepare(record, store, &mut tables).map(|w| (lsn, bytes, w))
        });
        let (lsn, bytes, write) = match prepared {
            Ok(p) => p,
            Err(e) => {
                drop(tx.send(Err(e)));
                return;
            }
        };
        batch.writes.push(write);
        batch.bytes += bytes;
        batch.last_lsn = lsn;
        if batch.writes.len() == REPLAY_BATCH {
            let full = std::mem::replace(&mut batch, ReplayBatch::new());
            if tx.send(Ok(full)).is_err() {
                return;
            }
        }
    }
    if !batch.writes.is_empty() {
        drop(tx.send(Ok(batch)));
    }
}
