//! Stream metadata and its durable, atomic persistence.
//!
//! All control-plane state (streams, shards with hash ranges, lineage,
//! state, sequence-number bases, retention, the iterator HMAC key) is one
//! small snapshot, rewritten in full on every control-plane change:
//!
//! 1. write `streams.meta.tmp` (created fresh) and `fsync` it,
//! 2. rename it over `streams.meta`, then `fsync` the directory.
//!
//! A crash leaves either the old or the new snapshot; a stale temp file is
//! ignored and replaced. The file is
//!
//! ```text
//! magic "EDDYSMTA" | format version u32 | payload length u64 | payload | crc32(payload)
//! ```
//!
//! and a checksum or structure failure is [`Error::Corruption`]. A snapshot
//! (rather than a journal) is chosen because control-plane changes are rare
//! and small, and it keeps recovery trivial. The data path never touches it:
//! a shard's next `seqIx` is recovered from its segments, and the value
//! stored here is only a lower bound (updated when a shard closes).

use crate::codec::{Dec, Enc};
use crate::error::{io_ctx, Error, Result};
use crate::hashkey::HashKeyRange;
use crate::types::StreamMode;
use eddy_model::io::{read_full_at, LogFs};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"EDDYSMTA";
/// Current format version. Versions 1 (no consumers) and 2 (no
/// encryption state) are still read.
const VERSION: u32 = 3;
const FILE: &str = "streams.meta";
const TMP: &str = "streams.meta.tmp";

/// Lifecycle of a shard still listed (expired shards are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShardState {
    Open,
    Closed {
        /// Last assigned `seqIx` (0 if none).
        ending_seq_ix: u64,
        closed_millis: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    pub range: HashKeyRange,
    pub created_millis: u64,
    pub state: ShardState,
    /// Lower bound of the next `seqIx` to assign.
    pub next_seq_ix: u64,
}

impl ShardMeta {
    pub fn is_open(&self) -> bool {
        self.state == ShardState::Open
    }
    pub fn created_secs(&self) -> u64 {
        self.created_millis / 1000
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamMeta {
    pub name: String,
    /// Random id of this incarnation of the name (iterators carry it).
    pub incarnation: u64,
    pub created_millis: u64,
    pub mode: StreamMode,
    pub retention_hours: u32,
    /// Records that arrived before this stay invisible even if retention
    /// is later increased (expired data is never revived).
    pub floor_millis: u64,
    pub next_shard_index: u32,
    /// Sorted by index.
    pub shards: Vec<ShardMeta>,
    /// Registered enhanced fan-out consumers, in registration order.
    pub consumers: Vec<ConsumerMeta>,
    /// `Some(key id)` while new records are encrypted (`EncryptionType`
    /// `KMS`); only the id is stored, never key material.
    pub encryption_key: Option<String>,
}

/// A registered enhanced fan-out consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsumerMeta {
    pub name: String,
    /// Registration time; its seconds are part of the consumer ARN.
    pub created_millis: u64,
}

impl StreamMeta {
    pub fn shard(&self, index: u32) -> Option<&ShardMeta> {
        self.shards.iter().find(|s| s.index == index)
    }
    /// Oldest arrival time a read may return at `now`.
    pub fn min_arrival(&self, now: u64) -> u64 {
        now.saturating_sub(u64::from(self.retention_hours) * 3_600_000)
            .max(self.floor_millis)
    }

    pub fn open_count(&self) -> u32 {
        self.shards.iter().filter(|s| s.is_open()).count() as u32
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub hmac_key: [u8; 32],
    pub streams: BTreeMap<String, StreamMeta>,
}

pub(crate) fn encode(m: &Meta) -> Vec<u8> {
    let mut e = Enc::default();
    e.0.extend_from_slice(&m.hmac_key);
    e.u32(m.streams.len() as u32);
    for s in m.streams.values() {
        e.bytes(s.name.as_bytes())
            .u64(s.incarnation)
            .u64(s.created_millis);
        e.u8(match s.mode {
            StreamMode::Provisioned => 0,
            StreamMode::OnDemand => 1,
        });
        e.u32(s.retention_hours)
            .u64(s.floor_millis)
            .u32(s.next_shard_index);
        e.u32(s.shards.len() as u32);
        for sh in &s.shards {
            e.u32(sh.index)
                .opt_u32(sh.parent)
                .opt_u32(sh.adjacent_parent);
            e.u128(sh.range.starting_hash_key)
                .u128(sh.range.ending_hash_key);
            e.u64(sh.created_millis).u64(sh.next_seq_ix);
            match sh.state {
                ShardState::Open => e.u8(0),
                ShardState::Closed {
                    ending_seq_ix,
                    closed_millis,
                } => e.u8(1).u64(ending_seq_ix).u64(closed_millis),
            };
        }
        e.u32(s.consumers.len() as u32);
        for c in &s.consumers {
            e.bytes(c.name.as_bytes()).u64(c.created_millis);
        }
        match &s.encryption_key {
            None => e.u8(0),
            Some(k) => e.u8(1).bytes(k.as_bytes()),
        };
    }
    e.0
}

pub(crate) fn decode(buf: &[u8], version: u32) -> Option<Meta> {
    let mut d = Dec::new(buf);
    let hmac_key: [u8; 32] = d.take(32)?.try_into().ok()?;
    let mut streams = BTreeMap::new();
    for _ in 0..d.u32()? {
        let name = d.string()?;
        let incarnation = d.u64()?;
        let created_millis = d.u64()?;
        let mode = match d.u8()? {
            0 => StreamMode::Provisioned,
            1 => StreamMode::OnDemand,
            _ => return None,
        };
        let retention_hours = d.u32()?;
        let floor_millis = d.u64()?;
        let next_shard_index = d.u32()?;
        let mut shards = Vec::new();
        for _ in 0..d.u32()? {
            let index = d.u32()?;
            let parent = d.opt_u32()?;
            let adjacent_parent = d.opt_u32()?;
            let range = HashKeyRange {
                starting_hash_key: d.u128()?,
                ending_hash_key: d.u128()?,
            };
            let created_millis = d.u64()?;
            let next_seq_ix = d.u64()?;
            let state = match d.u8()? {
                0 => ShardState::Open,
                1 => ShardState::Closed {
                    ending_seq_ix: d.u64()?,
                    closed_millis: d.u64()?,
                },
                _ => return None,
            };
            shards.push(ShardMeta {
                index,
                parent,
                adjacent_parent,
                range,
                created_millis,
                state,
                next_seq_ix,
            });
        }
        let mut consumers = Vec::new();
        if version >= 2 {
            for _ in 0..d.u32()? {
                consumers.push(ConsumerMeta {
                    name: d.string()?,
                    created_millis: d.u64()?,
                });
            }
        }
        let encryption_key = match version {
            1 | 2 => None,
            _ => match d.u8()? {
                0 => None,
                1 => Some(d.string()?),
                _ => return None,
            },
        };
        let s = StreamMeta {
            consumers,
            encryption_key,
            name: name.clone(),
            incarnation,
            created_millis,
            mode,
            retention_hours,
            floor_millis,
            next_shard_index,
            shards,
        };
        streams.insert(name, s);
    }
    d.is_empty().then_some(Meta { hmac_key, streams })
}

fn meta_path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// Load the snapshot; `Ok(None)` if none was ever written.
pub(crate) fn load(fs: &dyn LogFs, dir: &Path) -> Result<Option<Meta>> {
    let path = meta_path(dir);
    let mut f = match fs.open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_ctx("opening", &path)(e)),
    };
    let len = f.len().map_err(io_ctx("sizing", &path))?;
    let corrupt = |offset: u64, reason: &str| Error::Corruption {
        path: path.clone(),
        offset,
        reason: reason.into(),
    };
    if !(24..=1 << 32).contains(&len) {
        return Err(corrupt(0, "metadata file has an impossible length"));
    }
    let mut buf = vec![0u8; len as usize];
    let n = read_full_at(f.as_mut(), 0, &mut buf).map_err(io_ctx("reading", &path))?;
    buf.truncate(n);
    let mut d = Dec::new(&buf);
    if d.take(8) != Some(MAGIC.as_slice()) {
        return Err(corrupt(0, "bad metadata magic"));
    }
    let version = match d.u32() {
        Some(v @ 1..=VERSION) => v,
        _ => return Err(corrupt(8, "unsupported metadata format version")),
    };
    let payload_len = d.u64().ok_or_else(|| corrupt(12, "truncated"))?;
    let payload = usize::try_from(payload_len)
        .ok()
        .and_then(|n| d.take(n))
        .ok_or_else(|| corrupt(12, "truncated metadata payload"))?;
    let crc = d
        .u32()
        .ok_or_else(|| corrupt(20 + payload_len, "missing checksum"))?;
    if crc != crc32fast::hash(payload) || !d.is_empty() {
        return Err(corrupt(20, "metadata checksum mismatch"));
    }
    decode(payload, version)
        .map(Some)
        .ok_or_else(|| corrupt(20, "malformed metadata payload"))
}

/// Atomically replace the snapshot with `m` (see the module docs).
pub(crate) fn save(fs: &dyn LogFs, dir: &Path, m: &Meta) -> Result<()> {
    let payload = encode(m);
    let mut buf = Vec::with_capacity(payload.len() + 24);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&VERSION.to_le_bytes());
    buf.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    buf.extend_from_slice(&payload);
    buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    let tmp = dir.join(TMP);
    match fs.remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_ctx("removing", &tmp)(e)),
    }
    let mut f = fs.create_new(&tmp).map_err(io_ctx("creating", &tmp))?;
    f.write_all(&buf).map_err(io_ctx("writing", &tmp))?;
    f.sync_data().map_err(io_ctx("syncing", &tmp))?;
    drop(f);
    let path = meta_path(dir);
    fs.rename(&tmp, &path)
        .map_err(io_ctx("renaming to", &path))?;
    fs.sync_dir(dir).map_err(io_ctx("syncing", dir))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use eddy_model::io::StdFs;

    fn sample() -> Meta {
        let mut streams = BTreeMap::new();
        streams.insert(
            "s".to_string(),
            StreamMeta {
                name: "s".into(),
                incarnation: 77,
                created_millis: 5,
                mode: StreamMode::OnDemand,
                retention_hours: 48,
                floor_millis: 3,
                next_shard_index: 3,
                shards: vec![ShardMeta {
                    index: 2,
                    parent: Some(0),
                    adjacent_parent: Some(1),
                    range: HashKeyRange {
                        starting_hash_key: 1,
                        ending_hash_key: u128::MAX,
                    },
                    created_millis: 7,
                    state: ShardState::Closed {
                        ending_seq_ix: 9,
                        closed_millis: 10,
                    },
                    next_seq_ix: 10,
                }],
                consumers: vec![ConsumerMeta {
                    name: "c".into(),
                    created_millis: 11,
                }],
                encryption_key: Some("arn:aws:kms:us-east-1:1:key/k".into()),
            },
        );
        Meta {
            hmac_key: [7; 32],
            streams,
        }
    }

    #[test]
    fn older_versions_still_decode() {
        let mut m = sample();
        if let Some(s) = m.streams.get_mut("s") {
            s.consumers.clear();
            s.encryption_key = None;
        }
        let v3 = encode(&m);
        // Version 2 is version 3 without the trailing encryption byte, and
        // version 1 is version 2 without the trailing consumer count.
        let v2 = &v3[..v3.len() - 1];
        let v1 = &v2[..v2.len() - 4];
        assert_eq!(decode(v1, 1), Some(m.clone()));
        assert_eq!(decode(v1, 2), None);
        assert_eq!(decode(v2, 2), Some(m.clone()));
        assert_eq!(decode(v2, 3), None);
        assert_eq!(decode(&v3, 3), Some(m));
        let full = encode(&sample());
        assert_eq!(decode(&full, 3), Some(sample()));
        let mut bad = full.clone();
        let at = full.len() - 4 - "arn:aws:kms:us-east-1:1:key/k".len() - 1;
        assert_eq!(bad[at], 1);
        bad[at] = 2;
        assert_eq!(decode(&bad, 3), None);
    }

    #[test]
    fn save_load_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(&StdFs, dir.path()).unwrap().is_none());
        save(&StdFs, dir.path(), &sample()).unwrap();
        save(&StdFs, dir.path(), &sample()).unwrap();
        assert_eq!(load(&StdFs, dir.path()).unwrap(), Some(sample()));
        let p = dir.path().join(FILE);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(
            load(&StdFs, dir.path()),
            Err(Error::Corruption { .. })
        ));
    }
}
