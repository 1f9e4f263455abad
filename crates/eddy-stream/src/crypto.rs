//! Encryption at rest: keys, record sealing and opening.
//!
//! # Why this shape
//!
//! Kinesis encrypts a stream's records server-side with a KMS key once
//! `StartStreamEncryption` was called. eddy is embedded and has no KMS, so
//! the embedding application supplies 256-bit keys under ids
//! ([`crate::StreamOptions::encryption_key`],
//! [`crate::StreamOptions::encryption_key_file`]); an id plays the role of a
//! KMS `KeyId`. Key material lives only in memory (a [`Keyring`] built at
//! open): the metadata persists a stream's key *id*, frames carry the key id
//! of the record, and nothing else about keys reaches the disk.
//!
//! # Sealing
//!
//! A record appended while its stream has encryption on is sealed with
//! AES-256-GCM under a fresh random 96-bit nonce (random rather than a
//! counter because nothing about a key's use must be persisted; far fewer
//! than the 2^32 messages per key that random nonces allow are expected
//! between key rotations). The associated data binds the ciphertext to its
//! place and context: shard index, `seqIx`, arrival time, partition key,
//! explicit hash key and key id. A ciphertext copied to another position,
//! or a record whose key fields were altered, fails authentication just as
//! a damaged ciphertext or a wrong key does. Sealing happens in
//! `ShardLog::append`, under the shard's writer lock, because the `seqIx`
//! is only assigned there.
//!
//! The frame ([`crate::frame`]) stores the key id and nonce per record, so a
//! stream may switch keys (`StartStreamEncryption` again) or stop and start
//! encryption, and any mix of plain and differently keyed records stays
//! readable as long as the keys are configured.
//!
//! # Opening
//!
//! Recovery only checks frame checksums, so opening a database never needs
//! keys. Records are opened when converted for the API
//! ([`to_record`]), which both `GetRecords` and fan-out
//! delivery use, for segment reads and live-cache reads alike: the live
//! cache holds records as stored (ciphertext), so no plaintext of an
//! encrypted record is kept in shared memory and each delivery decrypts.
//! A record whose key id is not configured, or that fails authentication
//! (wrong key under that id, or tampered bytes), is [`Error::Decrypt`]
//! naming the stream, shard, sequence number and key id — never garbage.

use crate::error::{io_ctx, DecryptFailure, Error, Result};
use crate::frame::{Sealed, StoredRecord, NONCE_LEN};
use crate::seqnum::SequenceNumber;
use crate::types::{shard_id, Record};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use eddy_model::io::{read_full_at, LogFs};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest key id, as Kinesis' `KeyId` constraint (2048 characters).
pub(crate) const MAX_KEY_ID_CHARS: usize = 2048;
/// Largest key file read (a key file is 32 or about 64 bytes).
const MAX_KEY_FILE_BYTES: u64 = 4096;
/// Domain separation for the associated data.
const AAD_TAG: &[u8] = b"eddy-stream record v1";

/// Where an application-supplied key comes from.
#[derive(Clone)]
pub(crate) enum KeySource {
    /// The key itself.
    Bytes([u8; 32]),
    /// A file of 32 raw bytes or 64 hex characters, read at open.
    File(PathBuf),
}

/// One usable key.
pub(crate) struct StreamKey {
    pub id: String,
    cipher: Aes256Gcm,
}

/// The keys configured for a database, by id. Built at open.
#[derive(Default)]
pub(crate) struct Keyring {
    keys: HashMap<String, Arc<StreamKey>>,
}

impl Keyring {
    /// Load every configured key; a later source for the same id replaces
    /// an earlier one. Key ids must have 1..=2048 characters.
    pub fn load(sources: &[(String, KeySource)], fs: &dyn LogFs) -> Result<Keyring> {
        let mut keys = HashMap::new();
        for (id, source) in sources {
            let chars = id.chars().count();
            if chars == 0 || chars > MAX_KEY_ID_CHARS {
                return Err(Error::KeyConfig {
                    key_id: id.clone(),
                    reason: format!("a key id must have 1 to {MAX_KEY_ID_CHARS} characters"),
                });
            }
            let material = match source {
                KeySource::Bytes(b) => *b,
                KeySource::File(path) => {
                    read_key_file(fs, path).map_err(|reason| match reason {
                        KeyFileError::Io(e) => e,
                        KeyFileError::Bad(reason) => Error::KeyConfig {
                            key_id: id.clone(),
                            reason: format!("key file {}: {reason}", path.display()),
                        },
                    })?
                }
            };
            let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(material));
            keys.insert(
                id.clone(),
                Arc::new(StreamKey {
                    id: id.clone(),
                    cipher,
                }),
            );
        }
        Ok(Keyring { keys })
    }

    /// The key configured under `id`.
    pub fn get(&self, id: &str) -> Option<Arc<StreamKey>> {
        self.keys.get(id).cloned()
    }
}

enum KeyFileError {
    Io(Error),
    Bad(String),
}

/// Read a key file: exactly 32 bytes are the raw key; otherwise it must be
/// 64 hex characters, optionally surrounded by ASCII whitespace (such as a
/// trailing newline).
fn read_key_file(fs: &dyn LogFs, path: &Path) -> std::result::Result<[u8; 32], KeyFileError> {
    let io = |what: &'static str| {
        let f = io_ctx(what, path);
        move |e| KeyFileError::Io(f(e))
    };
    let mut f = fs.open_read(path).map_err(io("opening key file"))?;
    let len = f.len().map_err(io("sizing key file"))?;
    if len > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::Bad(format!(
            "{len} bytes is too large for a key file (32 raw bytes or 64 hex characters)"
        )));
    }
    let mut buf = vec![0u8; len as usize];
    let n = read_full_at(f.as_mut(), 0, &mut buf).map_err(io("reading key file"))?;
    buf.truncate(n);
    parse_key(&buf).map_err(KeyFileError::Bad)
}

/// Parse key file contents (see [`read_key_file`]).
fn parse_key(buf: &[u8]) -> std::result::Result<[u8; 32], String> {
    if let Ok(raw) = <[u8; 32]>::try_from(buf) {
        return Ok(raw);
    }
    let text = buf.trim_ascii();
    if text.len() != 64 || !text.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!(
            "must hold 32 raw bytes or 64 hex characters, found {} bytes",
            buf.len()
        ));
    }
    let mut key = [0u8; 32];
    for (k, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
        let hi = hex_value(pair[0]);
        let lo = hex_value(pair[1]);
        *k = (hi << 4) | lo;
    }
    Ok(key)
}

/// The value of an ASCII hex digit (callers checked it is one).
fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// The identity and key fields of a record, authenticated with its payload.
pub(crate) struct Context<'a> {
    pub shard_index: u32,
    pub seq_ix: u64,
    pub arrival_millis: u64,
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<u128>,
}

fn aad(c: &Context<'_>, key_id: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_TAG.len() + 64 + c.partition_key.len() + key_id.len());
    a.extend_from_slice(AAD_TAG);
    a.extend_from_slice(&c.shard_index.to_le_bytes());
    a.extend_from_slice(&c.seq_ix.to_le_bytes());
    a.extend_from_slice(&c.arrival_millis.to_le_bytes());
    match c.explicit_hash_key {
        None => a.push(0),
        Some(k) => {
            a.push(1);
            a.extend_from_slice(&k.to_le_bytes());
        }
    }
    // Lengths make the variable-length fields unambiguous.
    a.extend_from_slice(&(c.partition_key.len() as u32).to_le_bytes());
    a.extend_from_slice(c.partition_key.as_bytes());
    a.extend_from_slice(&(key_id.len() as u32).to_le_bytes());
    a.extend_from_slice(key_id.as_bytes());
    a
}

/// Encrypt `plaintext` for the record described by `c`: the sealing
/// parameters and ciphertext + tag.
pub(crate) fn seal(
    key: &StreamKey,
    c: &Context<'_>,
    plaintext: &[u8],
) -> Result<(Sealed, Vec<u8>)> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce[..]);
    let aad = aad(c, &key.id);
    let ct = key
        .cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| Error::KeyConfig {
            key_id: key.id.clone(),
            reason: "AES-GCM refused to encrypt a record".into(),
        })?;
    Ok((
        Sealed {
            key_id: key.id.clone(),
            nonce,
        },
        ct,
    ))
}

/// Decrypt a sealed record's payload.
pub(crate) fn open(
    keys: &Keyring,
    shard_index: u32,
    r: &StoredRecord,
    sealed: &Sealed,
) -> std::result::Result<Vec<u8>, DecryptFailure> {
    let key = keys
        .get(&sealed.key_id)
        .ok_or(DecryptFailure::KeyNotConfigured)?;
    let c = Context {
        shard_index,
        seq_ix: r.seq_ix,
        arrival_millis: r.arrival_millis,
        partition_key: &r.partition_key,
        explicit_hash_key: r.explicit_hash_key,
    };
    let aad = aad(&c, &sealed.key_id);
    key.cipher
        .decrypt(
            &Nonce::from(sealed.nonce),
            Payload {
                msg: &r.data,
                aad: &aad,
            },
        )
        .map_err(|_| DecryptFailure::AuthenticationFailed)
}

/// The API view of a stored record of shard `index` of `stream`,
/// decrypted if it was stored encrypted.
pub(crate) fn to_record(
    keys: &Keyring,
    stream: &str,
    created_secs: u64,
    index: u32,
    mut r: StoredRecord,
) -> Result<Record> {
    let sequence_number =
        SequenceNumber::new(created_secs, index, r.seq_ix, r.arrival_millis / 1000).to_string();
    let (data, encryption_type) = match r.sealed.take() {
        None => (r.data, None),
        Some(s) => match open(keys, index, &r, &s) {
            Ok(plain) => (plain, Some("KMS".to_string())),
            Err(reason) => {
                return Err(Error::Decrypt {
                    stream: stream.to_string(),
                    shard_id: shard_id(index),
                    sequence_number,
                    key_id: s.key_id,
                    reason,
                })
            }
        },
    };
    Ok(Record {
        sequence_number,
        approximate_arrival_millis: r.arrival_millis,
        data,
        partition_key: r.partition_key,
        encryption_type,
    })
}

/// [`to_record`] for a batch read in order: the records before the first
/// one that cannot be decrypted, and that one's `seqIx` with its error.
pub(crate) fn to_records(
    keys: &Keyring,
    stream: &str,
    created_secs: u64,
    index: u32,
    batch: Vec<StoredRecord>,
) -> (Vec<Record>, Option<(u64, Error)>) {
    let mut out = Vec::with_capacity(batch.len());
    for r in batch {
        let seq_ix = r.seq_ix;
        match to_record(keys, stream, created_secs, index, r) {
            Ok(rec) => out.push(rec),
            Err(e) => return (out, Some((seq_ix, e))),
        }
    }
    (out, None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use eddy_model::io::StdFs;

    fn ring(id: &str, key: [u8; 32]) -> Keyring {
        Keyring::load(&[(id.to_string(), KeySource::Bytes(key))], &StdFs).unwrap()
    }

    fn sealed_record(keys: &Keyring, pk: &str) -> (StoredRecord, Sealed) {
        let c = Context {
            shard_index: 3,
            seq_ix: 42,
            arrival_millis: 1000,
            partition_key: pk,
            explicit_hash_key: None,
        };
        let (s, ct) = seal(&keys.get("k").unwrap(), &c, b"secret payload").unwrap();
        let r = StoredRecord {
            seq_ix: 42,
            arrival_millis: 1000,
            partition_key: pk.into(),
            explicit_hash_key: None,
            data: ct,
            sealed: Some(s.clone()),
        };
        (r, s)
    }

    #[test]
    fn seal_open_round_trip_and_nonces_differ() {
        let keys = ring("k", [1; 32]);
        let (r, s) = sealed_record(&keys, "pk");
        assert_eq!(open(&keys, 3, &r, &s).unwrap(), b"secret payload");
        assert!(!r.data.windows(6).any(|w| w == b"secret"));
        let (r2, s2) = sealed_record(&keys, "pk");
        assert_ne!(s.nonce, s2.nonce);
        assert_ne!(r.data, r2.data);
    }

    #[test]
    fn tampering_wrong_key_and_wrong_place_fail_authentication() {
        let keys = ring("k", [1; 32]);
        let (r, s) = sealed_record(&keys, "pk");
        let auth = Err(DecryptFailure::AuthenticationFailed);
        for i in 0..r.data.len() {
            let mut t = r.clone();
            t.data[i] ^= 1;
            assert_eq!(open(&keys, 3, &t, &s), auth, "byte {i}");
        }
        let mut t = r.clone();
        t.partition_key = "pK".into();
        assert_eq!(open(&keys, 3, &t, &s), auth);
        let mut t = r.clone();
        t.seq_ix += 1;
        assert_eq!(open(&keys, 3, &t, &s), auth);
        let mut t = r.clone();
        t.explicit_hash_key = Some(0);
        assert_eq!(open(&keys, 3, &t, &s), auth);
        assert_eq!(open(&keys, 4, &r, &s), auth);
        let mut n = s.clone();
        n.nonce[0] ^= 1;
        assert_eq!(open(&keys, 3, &r, &n), auth);
        assert_eq!(open(&ring("k", [2; 32]), 3, &r, &s), auth);
        assert_eq!(
            open(&ring("other", [1; 32]), 3, &r, &s),
            Err(DecryptFailure::KeyNotConfigured)
        );
    }

    #[test]
    fn key_files_raw_hex_and_bad() {
        let raw = [0x5au8; 32];
        assert_eq!(parse_key(&raw), Ok(raw));
        let hex = "00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100\n";
        let k = parse_key(hex.as_bytes()).unwrap();
        assert_eq!(k[0], 0x00);
        assert_eq!(k[1], 0x11);
        assert_eq!(k[16], 0xff);
        assert_eq!(k[31], 0x00);
        assert!(parse_key(b"").is_err());
        assert!(parse_key(&[1; 31]).is_err());
        assert!(parse_key(&[1; 33]).is_err());
        assert!(parse_key(&hex.as_bytes()[..63]).is_err());
        assert!(parse_key(hex.replace('a', "g").as_bytes()).is_err());
        // Exactly 32 bytes are always raw, even if they look like hex.
        let b32 = &hex.as_bytes()[..32];
        assert_eq!(parse_key(b32).unwrap().as_slice(), b32);
    }

    #[test]
    fn bad_key_ids_and_files_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let r = Keyring::load(&[(String::new(), KeySource::Bytes([0; 32]))], &StdFs);
        assert!(matches!(r, Err(Error::KeyConfig { .. })));
        let long = "x".repeat(MAX_KEY_ID_CHARS + 1);
        let r = Keyring::load(&[(long, KeySource::Bytes([0; 32]))], &StdFs);
        assert!(matches!(r, Err(Error::KeyConfig { .. })));
        let p = dir.path().join("k");
        std::fs::write(&p, vec![b'z'; 8000]).unwrap();
        let r = Keyring::load(&[("id".into(), KeySource::File(p))], &StdFs);
        assert!(matches!(r, Err(Error::KeyConfig { ref key_id, .. }) if key_id == "id"));
        let missing = dir.path().join("missing");
        let r = Keyring::load(&[("id".into(), KeySource::File(missing))], &StdFs);
        assert!(matches!(r, Err(Error::Io { .. })));
    }
}
