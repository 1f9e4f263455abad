//! The child's line protocol and what the parent learns from it.
//!
//! The child writes one line per event to its stdout, flushed at once; the
//! parent reads them until the pipe closes. Only complete lines count: the
//! line being written when the child was killed is dropped, which is safe
//! because every line is written *before* the step it vouches for (`T`, `P`)
//! or *after* the step completed (`A`, `C`, …), never in between.
//!
//! | line | meaning |
//! |---|---|
//! | `READY` | the database is open, the threads start |
//! | `T <thread> <key> <seq> <Put/Update/Delete>` | a write is about to be issued |
//! | `A <thread> <seq>` | that write was acknowledged |
//! | `Y <id>` | transfer `<id>` is about to be issued |
//! | `X <id> ok` / `X <id> cancel` | it committed / was cancelled by its condition |
//! | `S <what>` | a resharding operation completed |
//! | `R <hours>` | a retention change completed |
//! | `Z` | `trim_expired` ran and trimmed nothing |
//! | `K` | an explicit checkpoint completed |
//! | `P <shard> <seq>` | the consumer is handed (and processes) this record |
//! | `C <shard> <seq>` | the consumer's checkpoint at this record returned |
//! | `G <n>` | the stream reader read `n` more records, all in order |
//! | `PANIC <message>` | a thread of the child panicked: a failed check |

use std::collections::BTreeMap;
use std::io::BufRead;

use eddy::stream::SequenceNumber;

/// What a write leaves behind for its key: the item's `v`, or deleted.
pub type Outcome = Option<u64>;

/// What the parent learned from one child's output.
#[derive(Debug, Default)]
pub struct Transcript {
    /// The child opened the database.
    pub ready: bool,
    /// Per key, the outcome of the last acknowledged write.
    pub acked: BTreeMap<String, Outcome>,
    /// Per writer thread, the write announced but not acknowledged.
    pub in_flight: BTreeMap<usize, (String, Outcome)>,
    /// Acknowledged writes.
    pub acks: u64,
    /// Committed transfers.
    pub transfers: u64,
    /// The id of the last transfer that committed.
    pub last_transfer: Option<u64>,
    /// The transfer announced but not answered when the child was killed.
    pub transfer_in_flight: Option<u64>,
    /// Transfers cancelled by their condition.
    pub cancelled: u64,
    /// Completed resharding operations.
    pub reshards: u64,
    /// Completed retention changes.
    pub retention_changes: u64,
    /// `trim_expired` calls that trimmed nothing.
    pub trims: u64,
    /// Explicit checkpoints completed.
    pub db_checkpoints: u64,
    /// Records handed to the consumer.
    pub processed: u64,
    /// Consumer checkpoints that returned.
    pub consumer_checkpoints: u64,
    /// Per shard, the highest sequence index handed to the consumer.
    pub max_processed: BTreeMap<String, u64>,
    /// Per shard, the highest sequence index the consumer checkpointed.
    pub max_checkpointed: BTreeMap<String, u64>,
    /// Records the stream reader thread read and checked.
    pub reader_records: u64,
    /// The first panic message, if a thread of the child panicked.
    pub panic: Option<String>,
    /// Lines the parent could not make sense of (a protocol bug).
    pub garbled: Vec<String>,
}

/// The sequence index of `seq` if it is a valid sequence number of `shard`.
fn seq_ix(shard: &str, seq: &str) -> Option<u64> {
    let parsed: SequenceNumber = seq.parse().ok()?;
    (eddy::stream::shard_id(parsed.shard_index) == shard).then_some(parsed.seq_ix)
}

impl Transcript {
    /// Reads the child's output to its end.
    #[cfg(test)]
    pub fn read(output: impl BufRead) -> Transcript {
        Transcript::read_notifying(output, || {})
    }

    /// Reads the child's output to its end, calling `on_ready` when the
    /// child says `READY`.
    pub fn read_notifying(mut output: impl BufRead, mut on_ready: impl FnMut()) -> Transcript {
        let mut transcript = Transcript::default();
        let mut announced: BTreeMap<(usize, u64), (String, Outcome)> = BTreeMap::new();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match output.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buf.last() != Some(&b'\n') {
                break; // torn by the kill
            }
            let line = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
            if !transcript.apply(&line, &mut announced) {
                transcript.garbled.push(line);
            } else if line == "READY" {
                on_ready();
            }
        }
        transcript
    }

    /// Takes one line into account; false if it is not understood.
    fn apply(
        &mut self,
        line: &str,
        announced: &mut BTreeMap<(usize, u64), (String, Outcome)>,
    ) -> bool {
        if let Some(message) = line.strip_prefix("PANIC ") {
            self.panic.get_or_insert_with(|| message.to_string());
            return true;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["READY"] => self.ready = true,
            ["T", thread, key, seq, op] => {
                let (Ok(thread), Ok(seq)) = (thread.parse::<usize>(), seq.parse::<u64>()) else {
                    return false;
                };
                let outcome = if *op == "Delete" { None } else { Some(seq) };
                announced.insert((thread, seq), (key.to_string(), outcome));
                self.in_flight.insert(thread, (key.to_string(), outcome));
            }
            ["A", thread, seq] => {
                let (Ok(thread), Ok(seq)) = (thread.parse::<usize>(), seq.parse::<u64>()) else {
                    return false;
                };
                let Some((key, outcome)) = announced.remove(&(thread, seq)) else {
                    return false;
                };
                self.acked.insert(key, outcome);
                self.in_flight.remove(&thread);
                self.acks += 1;
            }
            ["Y", id] => {
                let Ok(id) = id.parse::<u64>() else {
                    return false;
                };
                self.transfer_in_flight = Some(id);
            }
            ["X", id, outcome] => {
                let Ok(id) = id.parse::<u64>() else {
                    return false;
                };
                if self.transfer_in_flight != Some(id) {
                    return false;
                }
                self.transfer_in_flight = None;
                match *outcome {
                    "ok" => {
                        self.transfers += 1;
                        self.last_transfer = Some(id);
                    }
                    "cancel" => self.cancelled += 1,
                    _ => return false,
                }
            }
            ["S", ..] => self.reshards += 1,
            ["R", _] => self.retention_changes += 1,
            ["Z"] => self.trims += 1,
            ["K"] => self.db_checkpoints += 1,
            ["P", shard, seq] => {
                let Some(ix) = seq_ix(shard, seq) else {
                    return false;
                };
                self.processed += 1;
                let max = self.max_processed.entry(shard.to_string()).or_default();
                *max = (*max).max(ix);
            }
            ["C", shard, seq] => {
                let Some(ix) = seq_ix(shard, seq) else {
                    return false;
                };
                self.consumer_checkpoints += 1;
                let max = self.max_checkpointed.entry(shard.to_string()).or_default();
                *max = (*max).max(ix);
            }
            ["G", n] => {
                let Ok(n) = n.parse::<u64>() else {
                    return false;
                };
                self.reader_records += n;
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn acks_in_flight_and_torn_lines() {
        let text = "READY\nT 0 t0-k1 5 Put\nA 0 5\nT 0 t0-k2 6 Delete\nT 1 t1-k0 7 Update\nA 1 7\nY 11\nX 11 ok\nY 12\nX 12 cancel\nY 13\nA 0 ";
        let t = Transcript::read(text.as_bytes());
        assert!(t.ready);
        assert_eq!(t.acks, 2);
        assert_eq!(t.acked["t0-k1"], Some(5));
        assert_eq!(t.acked["t1-k0"], Some(7));
        assert_eq!(t.in_flight[&0], ("t0-k2".to_string(), None));
        assert!(!t.in_flight.contains_key(&1));
        assert_eq!((t.transfers, t.cancelled), (1, 1));
        assert_eq!(t.last_transfer, Some(11));
        assert_eq!(t.transfer_in_flight, Some(13));
        assert!(t.garbled.is_empty());
    }

    #[test]
    fn consumer_lines_keep_the_highest_index_per_shard() {
        let shard = eddy::stream::shard_id(3);
        let seq = |ix| SequenceNumber::new(1_700_000_000, 3, ix, 1_700_000_001).to_string();
        let text = format!(
            "P {shard} {}\nP {shard} {}\nC {shard} {}\nPANIC boom\nP {shard} 12\n",
            seq(4),
            seq(2),
            seq(4)
        );
        let t = Transcript::read(text.as_bytes());
        assert_eq!(t.max_processed[&shard], 4);
        assert_eq!(t.max_checkpointed[&shard], 4);
        assert_eq!(t.panic.as_deref(), Some("boom"));
        assert_eq!(t.garbled.len(), 1);
    }
}
