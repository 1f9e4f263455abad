//! The write path: from a request to a logged, applied change.
//!
//! Every write, single or batched, goes through [`Inner::write`]:
//!
//! 1. Lock the stripes of every item it touches, in stripe order (so two
//!    batches can never deadlock). Writes to one item are thereby serialised,
//!    which is what makes each logged before image equal the previous after
//!    image of that item.
//! 2. Read the current items (the before images) and compute the after
//!    images. Any validation failure returns here: nothing was logged.
//! 3. Drop the writes that change nothing (same after image as before image,
//!    or a delete of a missing item): they log nothing.
//! 4. Append the changes to the change log as one group: the log writer
//!    thread commits them, sharing one fdatasync with every other writer's
//!    group that arrived meanwhile, and acknowledges.
//! 5. Apply the after images to the store, then release the LSNs (the
//!    checkpointer may now count them as stored) and the stripes.
//!
//! Reads go straight to the store, so they see every acknowledged write. A
//! write is visible only once it is durable (with `Durability::Sync`),
//! because step 5 follows step 4.

use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use eddy_model::{codec, Change, ChangeOrigin, Item, TableDef};
use parking_lot::{ArcMutexGuard, RawMutex};

use eddy_store::EncodedApply;

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::pending::PendingWrite;

/// What a write does to its item.
pub(crate) enum Mutation<'a> {
    /// Store this item, whatever is there: a plain put. The caller has
    /// validated the item against the table's key schema (it does so
    /// before taking any lock, to report a bad item first), so it is not
    /// validated again.
    Put(Item),
    /// A function from the current item to the new one; a new item is
    /// validated against the key schema.
    With(ItemFn<'a>),
}

/// A function from the current item (if any) to the new item (`None`
/// deletes it).
pub(crate) type ItemFn<'a> = Box<dyn FnOnce(Option<&Item>) -> Result<Option<Item>> + 'a>;

/// One item write inside a [`Inner::write`] call.
pub(crate) struct WriteOp<'a> {
    pub table: Arc<TableDef>,
    /// The item's key attributes (validated against the table's schema).
    pub key: Item,
    pub mutation: Mutation<'a>,
}

/// The before and after image of one written item.
pub(crate) struct Written {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// How a group of writes treats a failing mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop at the first error and return it.
    FirstError,
    /// Evaluate every mutation; if any fails, cancel the whole group with
    /// a reason per operation (TransactWriteItems).
    Transaction,
}

/// What runs once an async write is applied.
pub(crate) type AfterWrite = Box<dyn FnOnce(&Inner) + Send>;

/// The guard of one lock stripe: owned, so that an async write's stripes
/// travel with it to the thread that finishes it.
pub(crate) type StripeGuard = ArcMutexGuard<RawMutex, ()>;

/// A write group between its evaluation and its commit: the stripes it
/// holds, the changes to log and what each op will return.
struct Prepared {
    _guards: Vec<StripeGuard>,
    /// One per op; the changed ones are filled in once applied.
    written: Vec<Written>,
    /// For each change, its op's slot in `written`.
    slots: Vec<usize>,
    changes: Vec<Change>,
    /// For each change, its encoded key.
    keys: Vec<Vec<u8>>,
}

/// The payloads to log and the store values to apply for `changes`: each
/// after image is encoded once, for the store, and copied into its change's
/// payload.
fn encode(changes: &[Change]) -> (Vec<Vec<u8>>, Vec<Option<Vec<u8>>>) {
    changes.iter().map(codec::encode_change_and_after).unzip()
}

impl Inner {
    /// Performs a group of item writes atomically: all are logged in one
    /// log frame, or none is.
    pub(crate) fn write(&self, ops: Vec<WriteOp<'_>>) -> Result<Vec<Written>> {
        self.write_group(ops, Mode::FirstError, ChangeOrigin::Application)
    }

    /// [`Inner::write`] with a failure mode and the origin the changes are
    /// logged with.
    pub(crate) fn write_group(
        &self,
        ops: Vec<WriteOp<'_>>,
        mode: Mode,
        origin: ChangeOrigin,
    ) -> Result<Vec<Written>> {
        let prepared = self.prepare(ops, mode, origin)?;
        if prepared.changes.is_empty() {
            return Ok(prepared.written);
        }
        let (payloads, values) = encode(&prepared.changes);
        let committed = self.log.append(payloads).map_err(|e| self.log_error(e))?;
        self.finish(prepared, &values, committed)
    }

    /// [`Inner::write`] without waiting: the group is evaluated and queued
    /// for the log now, and the returned future resolves once it is durable
    /// and applied. The log's completion thread applies it to the store as
    /// soon as it is durable, so a dropped future changes nothing: the
    /// write completes (and its stripes are released) either way.
    ///
    /// `after` runs once the write is applied (or found to change nothing),
    /// whether or not the future is still there: a transaction records its
    /// client request token with it.
    pub(crate) fn write_async(
        self: &Arc<Self>,
        ops: Vec<WriteOp<'_>>,
        mode: Mode,
        after: Option<AfterWrite>,
    ) -> PendingWrite {
        let prepared = match self.prepare(ops, mode, ChangeOrigin::Application) {
            Ok(p) => p,
            Err(e) => return PendingWrite::ready(Err(e)),
        };
        if prepared.changes.is_empty() {
            if let Some(after) = after {
                after(self);
            }
            return PendingWrite::ready(Ok(prepared.written));
        }
        let (payloads, values) = encode(&prepared.changes);
        let (tx, rx) = futures_channel::oneshot::channel();
        let inner = Arc::clone(self);
        let queued = self.log.append_then(payloads, move |outcome| {
            let result = match outcome {
                Ok(committed) => inner.finish(prepared, &values, committed),
                Err(e) => Err(inner.log_error(e)),
            };
            if let (Ok(_), Some(after)) = (&result, after) {
                after(&inner);
            }
            // A dropped future: the write is done all the same.
            drop(tx.send(result));
        });
        match queued {
            // Refused before it was queued: the callback, and the stripes
            // it held, are dropped.
            Err(e) => PendingWrite::ready(Err(self.log_error(e))),
            Ok(()) => PendingWrite::queued(rx),
        }
    }

    /// The facade's error for a log error; a poisoned log poisons the
    /// database.
    fn log_error(&self, e: eddy_changelog::Error) -> Error {
        match e {
            eddy_changelog::Error::Poisoned(_) => self.poison(Error::Log(e)),
            e => Error::Log(e),
        }
    }

    /// Steps 1-3: lock the stripes, read the before images, compute the
    /// after images, keep the changes.
    fn prepare(&self, ops: Vec<WriteOp<'_>>, mode: Mode, origin: ChangeOrigin) -> Result<Prepared> {
        self.check_writable()?;
        let mut encoded = Vec::with_capacity(ops.len());
        for op in &ops {
            encoded.push(op.table.key_schema.encode_key(&op.key)?);
        }
        let guards = self.lock_stripes(
            ops.iter()
                .map(|op| op.table.id)
                .zip(encoded.iter().map(Vec::as_slice)),
        );

        // The images of a changed item move into `changes` and back into
        // `written[slots[j]]` once applied, so no image is ever cloned.
        let mut written: Vec<Written> = Vec::with_capacity(ops.len());
        let mut slots = Vec::new();
        let mut changes = Vec::new();
        let mut keys = Vec::new();
        let mut reasons: Vec<Option<Error>> = Vec::new();
        for (op, key) in ops.into_iter().zip(encoded) {
            let old = self.store.get_by_encoded_key(&op.table, &key)?;
            let new = match op.mutation {
                Mutation::Put(item) => Ok(Some(item)),
                Mutation::With(f) => f(old.as_ref()).and_then(|new| {
                    if let Some(new) = &new {
                        op.table.key_schema.validate_item(new)?;
                    }
                    Ok(new)
                }),
            }
            .and_then(|new| {
                if let Some(new) = &new {
                    op.table.validate_item_for_indexes(new)?;
                }
                Ok(new)
            });
            let new = match (new, mode) {
                (Ok(new), _) => {
                    reasons.push(None);
                    new
                }
                (Err(e), Mode::FirstError) => return Err(e),
                (Err(e), Mode::Transaction) => {
                    reasons.push(Some(e));
                    continue;
                }
            };
            if old == new {
                written.push(Written { old, new });
            } else {
                slots.push(written.len());
                changes.push(Change {
                    table_id: op.table.id,
                    table: op.table.name.clone(),
                    keys: op.key,
                    old_image: old,
                    new_image: new,
                    origin,
                });
                keys.push(key);
                written.push(Written {
                    old: None,
                    new: None,
                });
            }
        }
        if reasons.iter().any(Option::is_some) {
            return Err(Error::TransactionCanceled {
                reasons: reasons
                    .into_iter()
                    .map(crate::transactions::CancellationReason::from_error)
                    .collect(),
            });
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(Prepared {
            _guards: guards,
            written,
            slots,
            changes,
            keys,
        })
    }

    /// Step 5, once the group is durable: apply it to the store, then
    /// release its LSNs and its stripes, and hand back the images.
    fn finish(
        &self,
        prepared: Prepared,
        values: &[Option<Vec<u8>>],
        committed: eddy_changelog::Committed,
    ) -> Result<Vec<Written>> {
        let Prepared {
            _guards: guards,
            mut written,
            slots,
            changes,
            keys,
        } = prepared;
        if let Err(e) = self.apply(&changes, &keys, values) {
            // Logged but not in the store: its LSNs must never count as
            // applied, or a checkpoint could cut the log under it. The
            // database is poisoned; reopening replays the change.
            committed.abandon();
            return Err(e);
        }
        drop(committed);
        drop(guards);
        self.changes
            .fetch_add(changes.len() as u64, Ordering::Relaxed);
        for (slot, c) in slots.into_iter().zip(changes) {
            written[slot] = Written {
                old: c.old_image,
                new: c.new_image,
            };
        }
        Ok(written)
    }

    /// Applies logged `changes` to the store under their encoded keys.
    fn apply(
        &self,
        changes: &[Change],
        keys: &[Vec<u8>],
        values: &[Option<Vec<u8>>],
    ) -> Result<()> {
        // The changes are durable; the store must now reflect them before
        // the stripes are released. If it cannot, reads would miss
        // acknowledged data: stop writing and let recovery fix the store.
        let applies: Vec<EncodedApply<'_>> = changes
            .iter()
            .zip(keys)
            .zip(values)
            .map(|((c, key), value)| EncodedApply {
                table_id: c.table_id,
                key,
                after: c.new_image.as_ref(),
                encoded_after: value.as_deref(),
            })
            .collect();
        if let Err(e) = self.store.apply_encoded(&applies) {
            return Err(self.poison(Error::Store(e)));
        }
        Ok(())
    }

    /// Locks the stripes of the given (table id, encoded key) pairs in
    /// stripe order, so that groups locking overlapping stripes cannot
    /// deadlock.
    pub(crate) fn lock_stripes<'k>(
        &self,
        keys: impl Iterator<Item = (u64, &'k [u8])>,
    ) -> Vec<StripeGuard> {
        let mut stripe_ids: Vec<usize> = keys
            .map(|(table, key)| self.stripe_of(table, key))
            .collect();
        stripe_ids.sort_unstable();
        stripe_ids.dedup();
        stripe_ids
            .iter()
            .map(|&i| self.stripes[i].lock_arc())
            .collect()
    }

    fn stripe_of(&self, table_id: u64, key: &[u8]) -> usize {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        table_id.hash(&mut hasher);
        key.hash(&mut hasher);
        (hasher.finish() as usize) % self.stripes.len()
    }
}

/// Refuses an `Error::Validation` built from a model error's message.
pub(crate) fn validation(msg: impl Into<String>) -> Error {
    Error::Validation(msg.into())
}
