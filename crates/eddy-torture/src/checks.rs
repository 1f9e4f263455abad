//! The invariants checked after every reopen, except the stream's (see
//! [`crate::stream_check`]):
//!
//! 1. every acknowledged write is present with its value; the one write per
//!    writer thread in flight at the kill either happened entirely or not
//!    at all ([`Model::check_acked`]);
//! 2. both tables equal the fold of the change log, with LSNs strictly
//!    increasing, times never decreasing, before images chaining per item,
//!    event kinds matching the images and no no-op logged
//!    ([`Model::fold_log`]). The log is folded incrementally, from the
//!    first LSN not yet folded over the state folded so far: checkpoints
//!    truncate the log, but the child pins it from that LSN, so a gap is a
//!    failure;
//! 3. transfers are all or nothing: the balances always sum to the same
//!    total ([`check_transfers`]); and each acknowledged transfer is there
//!    on its own: the ledger item counts exactly the acknowledged transfers
//!    (plus the one in flight, if it happened) ([`Ledger::check`]);
//! 5. no consumer checkpoint is ahead of what was processed, or behind what
//!    was acknowledged as checkpointed ([`Consumption::check`]).

use std::collections::BTreeMap;

use eddy::stream::SequenceNumber;
use eddy::{AttributeValue, ChangeKind, ChangeRecord, Database, InitialPosition, Item, SHARD_END};

use crate::common::{
    key_json, key_name, table_state, CampaignError, Context, Result, ACCOUNTS, APP,
    INITIAL_BALANCE, KEYS_PER_THREAD, LEDGER, STREAM, TABLE,
};
use crate::stream_check::StreamTracker;
use crate::transcript::{Outcome, Transcript};

/// Where a check runs: the cycle and the campaign seed, named in failures.
#[derive(Debug, Clone, Copy)]
pub struct At {
    /// The kill cycle.
    pub cycle: u64,
    /// The campaign seed.
    pub seed: u64,
}

impl At {
    /// An invariant failure at this cycle.
    pub fn fail<T>(&self, what: String) -> Result<T> {
        Err(CampaignError::Invariant {
            cycle: self.cycle,
            seed: self.seed,
            what,
        })
    }
}

/// What [`Model::fold_log`] folded.
#[derive(Debug)]
pub struct Folded {
    /// The new changes of the campaign's table, in LSN order.
    pub changes: Vec<ChangeRecord>,
    /// The log no longer held the first LSN not yet folded: the fold
    /// started again from the oldest change retained.
    pub rebased: bool,
}

/// What the parent knows the database must hold, carried across cycles.
#[derive(Debug, Default)]
pub struct Model {
    /// Per writer key, the outcome the table must show.
    expected: BTreeMap<String, Outcome>,
    /// The fold of the change log so far: per table, per key JSON.
    folded: BTreeMap<String, BTreeMap<String, Item>>,
    /// The last LSN folded.
    pub last_lsn: u64,
    /// Its creation time.
    last_micros: u64,
    /// Changes folded in total.
    pub changes: u64,
}

impl Model {
    /// Folds the log's changes after [`Model::last_lsn`] into the model,
    /// checking them, and compares both tables with the fold. Returns the
    /// new changes of the campaign's table.
    ///
    /// With `gap_allowed` (the child ran without pinning the log), the log
    /// may have been truncated past the first LSN not yet folded: the fold
    /// then starts again from the oldest change retained. Items it has not
    /// seen since are taken from the table as they are (what happened to
    /// them in the gap cannot be checked), and [`Folded::rebased`] says so.
    pub fn fold_log(&mut self, db: &Database, at: &At, gap_allowed: bool) -> Result<Folded> {
        let from = if self.last_lsn == 0 {
            0
        } else {
            self.last_lsn + 1
        };
        let mut rebased = false;
        let changes = match db.changes_since(from) {
            Ok(changes) => changes,
            Err(_) if gap_allowed => {
                rebased = true;
                db.changes_since(db.oldest_lsn())
                    .ctx(|| format!("reading the change log from its oldest LSN {}", db.oldest_lsn()))?
            }
            Err(e) => {
                return at.fail(format!(
                    "the change log no longer holds LSN {from}, the first one not yet verified (oldest retained: {}): {e}",
                    db.oldest_lsn()
                ))
            }
        };
        // With a gap, the items whose before image can be checked: those
        // changed since the fold started again.
        let mut seen_since_gap: std::collections::HashSet<(String, String)> = Default::default();
        let mut new_table_changes = Vec::new();
        for record in changes {
            let record = record.ctx(|| format!("reading the change log after LSN {from}"))?;
            let lsn = record.lsn;
            if lsn <= self.last_lsn {
                return at.fail(format!("LSN {lsn} logged after LSN {}", self.last_lsn));
            }
            if record.created_micros < self.last_micros {
                return at.fail(format!("time went backwards at LSN {lsn}"));
            }
            self.last_lsn = lsn;
            self.last_micros = record.created_micros;
            self.changes += 1;
            let change = &record.change;
            let key = change.keys.to_json_string();
            let table = self.folded.entry(change.table.clone()).or_default();
            let previous = table.get(&key);
            let unknown = rebased && seen_since_gap.insert((change.table.clone(), key.clone()));
            if !unknown && change.old_image.as_ref() != previous {
                return at.fail(format!(
                    "LSN {lsn}: the before image of {key} in {} does not chain: logged {:?}, previous after image {previous:?}",
                    change.table, change.old_image
                ));
            }
            let kind = match (&change.old_image, &change.new_image) {
                (None, Some(_)) => ChangeKind::Insert,
                (Some(_), Some(_)) => ChangeKind::Modify,
                _ => ChangeKind::Remove,
            };
            if record.kind() != kind || change.old_image == change.new_image {
                return at.fail(format!(
                    "LSN {lsn}: kind {} with before {:?} and after {:?}",
                    record.kind(),
                    change.old_image,
                    change.new_image
                ));
            }
            match &change.new_image {
                Some(item) => table.insert(key, item.clone()),
                None => table.remove(&key),
            };
            if change.table == TABLE {
                new_table_changes.push(record);
            }
        }
        for name in [TABLE, APP] {
            let actual = table_state(db, name)?;
            if rebased {
                // Items untouched since the gap: as the table has them.
                let folded = self.folded.entry(name.to_string()).or_default();
                folded.retain(|k, _| seen_since_gap.contains(&(name.to_string(), k.clone())));
                for (k, item) in &actual {
                    if !seen_since_gap.contains(&(name.to_string(), k.clone())) {
                        folded.insert(k.clone(), item.clone());
                    }
                }
            }
            let empty = BTreeMap::new();
            let folded = self.folded.get(name).unwrap_or(&empty);
            if &actual != folded {
                let key = actual
                    .keys()
                    .chain(folded.keys())
                    .find(|k| actual.get(*k) != folded.get(*k))
                    .cloned()
                    .unwrap_or_default();
                return at.fail(format!(
                    "table {name} differs from the fold of the change log (up to LSN {}) at key {key}: table {:?}, fold {:?}",
                    self.last_lsn,
                    actual.get(&key),
                    folded.get(&key)
                ));
            }
        }
        Ok(Folded {
            changes: new_table_changes,
            rebased,
        })
    }

    /// Invariant 1 over the table as folded (equal to the table, checked
    /// before): acknowledged writes are there; in-flight ones are atomic.
    pub fn check_acked(&mut self, at: &At, transcript: &Transcript, threads: usize) -> Result<()> {
        let empty = BTreeMap::new();
        let table = self.folded.get(TABLE).unwrap_or(&empty);
        for (key, outcome) in &transcript.acked {
            self.expected.insert(key.clone(), *outcome);
        }
        for thread in 0..threads {
            for k in 0..KEYS_PER_THREAD {
                let key = key_name(thread, k);
                let got: Outcome = match table.get(&key_json(&key)) {
                    None => None,
                    Some(item) => match item.get("v").and_then(AttributeValue::as_n) {
                        Some(n) => n.to_i64().map(|v| v as u64),
                        None => return at.fail(format!("item {key} has no numeric v: {item:?}")),
                    },
                };
                let want = self.expected.get(&key).copied().flatten();
                if got == want {
                    continue;
                }
                let in_flight = transcript
                    .in_flight
                    .get(&thread)
                    .filter(|(k, _)| *k == key)
                    .map(|(_, o)| *o);
                if in_flight != Some(got) {
                    return at.fail(format!(
                        "key {key} has v = {got:?}, expected the acknowledged {want:?} or the in-flight {in_flight:?}"
                    ));
                }
                // The in-flight write happened: it is the new expectation.
                self.expected.insert(key, got);
            }
        }
        Ok(())
    }
}

/// Invariant 3: the accounts' balances sum to the initial total.
pub fn check_transfers(db: &Database, at: &At) -> Result<()> {
    let state = table_state(db, TABLE)?;
    let mut total = 0;
    for a in 0..ACCOUNTS {
        let balance = state
            .get(&key_json(&format!("acct-{a}")))
            .and_then(|item| item.get("balance"))
            .and_then(AttributeValue::as_n)
            .and_then(|n| n.to_i64());
        match balance {
            Some(b) => total += b,
            None => return at.fail(format!("account acct-{a} or its balance is missing")),
        }
    }
    if total != INITIAL_BALANCE * ACCOUNTS as i64 {
        return at.fail(format!(
            "a transfer was torn: the balances sum to {total}, not {}",
            INITIAL_BALANCE * ACCOUNTS as i64
        ));
    }
    Ok(())
}

/// What the parent knows of the committed transfers, across cycles.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Transfers known to have committed.
    committed: u64,
    /// The id of the last of them.
    last: Option<u64>,
}

impl Ledger {
    /// Invariant 3: the balances sum to the total, and the ledger item
    /// counts every acknowledged transfer: exactly those, or those and the
    /// one in flight at the kill (then named as the last).
    pub fn check(&mut self, db: &Database, at: &At, transcript: &Transcript) -> Result<()> {
        check_transfers(db, at)?;
        let state = table_state(db, TABLE)?;
        let ledger = state.get(&key_json(LEDGER));
        let number = |name: &str| -> Option<u64> {
            ledger?
                .get(name)
                .and_then(AttributeValue::as_n)
                .and_then(|n| n.to_i64())
                .map(|n| n as u64)
        };
        let (count, last) = (number("transfers").unwrap_or(0), number("last_transfer"));
        let acked = self.committed + transcript.transfers;
        let acked_last = transcript.last_transfer.or(self.last);
        let in_flight_happened = transcript
            .transfer_in_flight
            .is_some_and(|id| count == acked + 1 && last == Some(id));
        if !in_flight_happened && (count, last) != (acked, acked_last) {
            return at.fail(format!(
                "the ledger counts {count} committed transfers, the last {last:?}, but {acked} were acknowledged, the last {acked_last:?} (in flight at the kill: {:?}): an acknowledged transfer was lost, or one happened twice",
                transcript.transfer_in_flight
            ));
        }
        self.committed = count;
        self.last = last;
        Ok(())
    }
}

/// What every child's consumer processed and checkpointed, per shard,
/// across cycles.
#[derive(Debug, Default)]
pub struct Consumption {
    /// Highest sequence index handed to a consumer.
    max_processed: BTreeMap<String, u64>,
    /// Highest sequence index whose checkpoint returned.
    max_checkpointed: BTreeMap<String, u64>,
}

impl Consumption {
    /// Takes a child's `P` and `C` lines into account.
    pub fn absorb(&mut self, transcript: &Transcript) {
        for (map, from) in [
            (&mut self.max_processed, &transcript.max_processed),
            (&mut self.max_checkpointed, &transcript.max_checkpointed),
        ] {
            for (shard, ix) in from {
                let max = map.entry(shard.clone()).or_default();
                *max = (*max).max(*ix);
            }
        }
    }

    /// Invariant 5: per shard, the stored checkpoint is at most the highest
    /// record processed, at most the shard's last record (read after the
    /// reopen, so durable) and at least the last acknowledged checkpoint; a
    /// `SHARD_END` checkpoint needs a closed shard whose every record was
    /// processed.
    pub fn check(&self, db: &Database, at: &At, stream: &StreamTracker) -> Result<()> {
        let consumer = db
            .stream_consumer(APP, STREAM, InitialPosition::TrimHorizon)
            .ctx(|| "opening the consumer to read its checkpoints".into())?;
        let mut shards: Vec<String> = table_state(db, APP)?
            .values()
            .filter_map(|lease| lease.get("leaseKey")?.as_s().map(str::to_string))
            .collect();
        shards.extend(self.max_processed.keys().cloned());
        shards.extend(self.max_checkpointed.keys().cloned());
        shards.sort();
        shards.dedup();
        for shard in shards {
            let stored = consumer
                .checkpoint_of(&shard)
                .ctx(|| format!("reading the checkpoint of {shard}"))?;
            let processed = self.max_processed.get(&shard).copied();
            let acked = self.max_checkpointed.get(&shard).copied();
            match stored.as_deref() {
                None if acked.is_some() => {
                    return at.fail(format!(
                        "consumer: a checkpoint at index {acked:?} of {shard} returned, but none is stored"
                    ))
                }
                None => {}
                Some(SHARD_END) => {
                    let track = stream.shard(&shard);
                    let last = track.map_or(0, |t| t.last_ix);
                    if !track.is_some_and(|t| t.finished) || processed.unwrap_or(0) != last {
                        return at.fail(format!(
                            "consumer: {shard} is checkpointed SHARD_END, but the shard is {} with last index {last}, and the consumer processed up to {processed:?}",
                            if track.is_some_and(|t| t.finished) { "closed" } else { "not closed and read to its end" }
                        ));
                    }
                }
                Some(seq) => {
                    let Ok(parsed) = seq.parse::<SequenceNumber>() else {
                        return at.fail(format!("consumer: {shard} has checkpoint {seq:?}"));
                    };
                    let ix = parsed.seq_ix;
                    if processed.is_none_or(|p| ix > p) {
                        return at.fail(format!(
                            "consumer: the checkpoint of {shard} is at index {ix}, ahead of the highest processed index {processed:?}"
                        ));
                    }
                    let end = stream.shard(&shard).map_or(0, |t| t.last_ix);
                    if ix > end {
                        return at.fail(format!(
                            "consumer: the checkpoint of {shard} is at index {ix}, past the shard's last durable record at index {end}"
                        ));
                    }
                    if acked.is_some_and(|a| ix < a) {
                        return at.fail(format!(
                            "consumer: the checkpoint of {shard} is at index {ix}, behind the acknowledged checkpoint at {acked:?}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
