//! Summaries of sealed shard segments, so that opening a stream does not
//! read every record it retains.
//!
//! Opening a shard needs, for each segment, its `seqIx` range, its valid
//! length, the arrival times of its oldest and newest records and a sparse
//! index (one entry every [`INDEX_EVERY`] records). Scanning a segment to
//! learn them reads it whole, so a stream retaining gigabytes (or a stream
//! resharded many times, whose closed shards stay listed for 24 hours) made
//! every open slower. A segment that can no longer change — any but the
//! last of a shard, and the last of a closed shard — is therefore scanned
//! once and its scan result saved beside it as `<first seqIx:020>.sum`:
//!
//! ```text
//! magic "EDDYSSUM" | version u32 | shard index u32 | first u64 | next u64
//! | len u64 | oldest millis u64 | newest millis u64 | flags u8
//! | entry count u32 | entries (seqIx u64, offset u64, arrival u64)…
//! | crc32 u32 of everything before it
//! ```
//!
//! A summary is only a cache. It is used only if its checksum, magic,
//! version, shard index and first `seqIx` match and `len` equals the
//! segment file's length now (segments are append-only, so an unchanged
//! length means unchanged contents), and its values are consistent;
//! otherwise the segment is scanned as before and the summary rewritten.
//! It is written to a temporary name and renamed, without fsync: a summary
//! lost or torn by a crash fails those checks and is rebuilt. Records are
//! still checked against their frame checksums on every read, so skipping
//! the open-time scan of a sealed segment never serves damaged data.

use crate::segment::{IndexEntry, Scanned, HEADER_LEN, INDEX_EVERY};
use eddy_model::io::{read_full_at, LogFs};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"EDDYSSUM";
const VERSION: u32 = 1;
/// Bytes before the index entries.
const FIXED_LEN: usize = 8 + 4 + 4 + 8 * 5 + 1 + 4;
const ENTRY_LEN: usize = 24;
const HAS_OLDEST: u8 = 1;
const HAS_NEWEST: u8 = 2;

/// Where the summary of the segment at `segment` lives.
pub(crate) fn summary_path(segment: &Path) -> PathBuf {
    segment.with_extension("sum")
}

/// Encode the summary of a scanned segment.
pub(crate) fn encode(s: &Scanned, shard_index: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(FIXED_LEN + s.index.len() * ENTRY_LEN + 4);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&shard_index.to_le_bytes());
    for v in [
        s.first,
        s.next,
        s.len,
        s.oldest_millis.unwrap_or(0),
        s.newest_millis.unwrap_or(0),
    ] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let flags = if s.oldest_millis.is_some() {
        HAS_OLDEST
    } else {
        0
    } | if s.newest_millis.is_some() {
        HAS_NEWEST
    } else {
        0
    };
    b.push(flags);
    // A segment holds far fewer than 2^32 × 64 records (its size is capped).
    b.extend_from_slice(
        &u32::try_from(s.index.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for e in &s.index {
        b.extend_from_slice(&e.seq_ix.to_le_bytes());
        b.extend_from_slice(&e.offset.to_le_bytes());
        b.extend_from_slice(&e.arrival_millis.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Little-endian reader over a checked buffer.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }
}

/// Decode a summary of the segment `path` (first `seqIx` `first`, shard
/// `shard_index`, now `file_len` bytes long). `None` unless it is intact,
/// belongs to that segment in its current length, and is consistent.
pub(crate) fn decode(
    bytes: &[u8],
    path: &Path,
    first: u64,
    shard_index: u32,
    file_len: u64,
) -> Option<Scanned> {
    let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if crc32fast::hash(body).to_le_bytes() != crc {
        return None;
    }
    let mut f = Fields(body);
    if &f.take::<8>()? != MAGIC || f.u32()? != VERSION || f.u32()? != shard_index {
        return None;
    }
    let (s_first, next, len, oldest, newest) = (f.u64()?, f.u64()?, f.u64()?, f.u64()?, f.u64()?);
    let [flags] = f.take::<1>()?;
    let count = usize::try_from(f.u32()?).ok()?;
    if s_first != first || len != file_len || len < HEADER_LEN || next < first || flags > 3 {
        return None;
    }
    if f.0.len() != count.checked_mul(ENTRY_LEN)? {
        return None;
    }
    let records = next - first;
    // One entry for each INDEX_EVERY records, the first at `first`.
    if count as u64 != records.div_ceil(INDEX_EVERY) {
        return None;
    }
    let mut index = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let (seq_ix, offset, arrival_millis) = (f.u64()?, f.u64()?, f.u64()?);
        let prev = index.last().map(|e: &IndexEntry| e.offset);
        if seq_ix != first + i * INDEX_EVERY
            || offset < HEADER_LEN
            || offset >= len
            || prev.is_some_and(|p| offset <= p)
        {
            return None;
        }
        index.push(IndexEntry {
            seq_ix,
            offset,
            arrival_millis,
        });
    }
    let has = |bit: u8| flags & bit != 0;
    // Records and arrival times go together; arrivals never decrease.
    if has(HAS_OLDEST) != (records > 0)
        || has(HAS_NEWEST) != (records > 0)
        || (records > 0 && oldest > newest)
        || (records == 0 && len != HEADER_LEN)
    {
        return None;
    }
    Some(Scanned {
        path: path.to_path_buf(),
        first,
        next,
        len,
        oldest_millis: has(HAS_OLDEST).then_some(oldest),
        newest_millis: has(HAS_NEWEST).then_some(newest),
        index,
        cut: None,
    })
}

/// The saved summary of the segment at `path`, if there is a usable one.
pub(crate) fn load(fs: &dyn LogFs, path: &Path, first: u64, shard_index: u32) -> Option<Scanned> {
    let file_len = fs.open_read(path).ok()?.len().ok()?;
    let mut sum = fs.open_read(&summary_path(path)).ok()?;
    let sum_len = usize::try_from(sum.len().ok()?).ok()?;
    // 64 MiB segments of 30-byte frames would need ~24 MiB; refuse more.
    if sum_len > 64 << 20 {
        return None;
    }
    let mut bytes = vec![0; sum_len];
    if read_full_at(sum.as_mut(), 0, &mut bytes).ok()? != sum_len {
        return None;
    }
    decode(&bytes, path, first, shard_index, file_len)
}

/// Save the summary of a sealed segment, durably: its data is fsynced
/// before the rename and the directory after it, so that a power cut does
/// not leave every sealed segment to be scanned again (the power-cut
/// campaign saw reopen times grow with each cut while summaries were not
/// synced). Best effort otherwise: a summary that is not written only
/// means the segment is scanned again at the next open, and a torn one
/// fails its crc32.
pub(crate) fn store(fs: &dyn LogFs, s: &Scanned, shard_index: u32) {
    let path = summary_path(&s.path);
    let tmp = s.path.with_extension("sum.tmp");
    let result = (|| {
        match fs.remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut f = fs.create_new(&tmp)?;
        f.write_all(&encode(s, shard_index))?;
        f.sync_data()?;
        drop(f);
        fs.rename(&tmp, &path)?;
        match path.parent() {
            Some(dir) => fs.sync_dir(dir),
            None => Ok(()),
        }
    })();
    if let Err(e) = result {
        tracing::debug!(path = %path.display(), error = %e, "segment summary not saved; the segment will be rescanned at the next open");
    }
}

/// Remove the summary of the segment at `segment` (if any), before the
/// segment itself goes.
pub(crate) fn remove(fs: &dyn LogFs, segment: &Path) -> std::io::Result<()> {
    match fs.remove_file(&summary_path(segment)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn scanned(records: u64) -> Scanned {
        let index = (0..records.div_ceil(INDEX_EVERY))
            .map(|i| IndexEntry {
                seq_ix: 100 + i * INDEX_EVERY,
                offset: HEADER_LEN + i * 1000,
                arrival_millis: 5 + i,
            })
            .collect();
        Scanned {
            path: PathBuf::from("/s/00000000000000000100.seg"),
            first: 100,
            next: 100 + records,
            len: if records == 0 { HEADER_LEN } else { 9_999_999 },
            oldest_millis: (records > 0).then_some(5),
            newest_millis: (records > 0).then_some(900),
            index,
            cut: None,
        }
    }

    fn roundtrip(s: &Scanned) -> Option<Scanned> {
        decode(&encode(s, 3), &s.path, s.first, 3, s.len)
    }

    #[test]
    fn round_trips() {
        for records in [0, 1, 63, 64, 65, 1000] {
            let s = scanned(records);
            let d = roundtrip(&s).unwrap();
            assert_eq!(
                (
                    d.first,
                    d.next,
                    d.len,
                    d.oldest_millis,
                    d.newest_millis,
                    d.index
                ),
                (
                    s.first,
                    s.next,
                    s.len,
                    s.oldest_millis,
                    s.newest_millis,
                    s.index
                ),
            );
        }
    }

    #[test]
    fn refuses_a_summary_of_another_length_shard_or_segment() {
        let s = scanned(200);
        let bytes = encode(&s, 3);
        assert!(
            decode(&bytes, &s.path, 100, 3, s.len + 1).is_none(),
            "segment grew"
        );
        assert!(
            decode(&bytes, &s.path, 100, 4, s.len).is_none(),
            "other shard"
        );
        assert!(
            decode(&bytes, &s.path, 101, 3, s.len).is_none(),
            "other segment"
        );
    }

    #[test]
    fn refuses_every_damaged_byte_and_every_truncation() {
        let s = scanned(130);
        let bytes = encode(&s, 3);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b, &s.path, 100, 3, s.len).is_none(), "flip at {i}");
            assert!(
                decode(&bytes[..i], &s.path, 100, 3, s.len).is_none(),
                "cut at {i}"
            );
        }
    }

    #[test]
    fn refuses_inconsistent_values_even_with_a_good_checksum() {
        let mut s = scanned(130);
        s.index.pop();
        assert!(roundtrip(&s).is_none(), "missing index entry");
        let mut s = scanned(130);
        s.index.swap(0, 1);
        assert!(roundtrip(&s).is_none(), "unordered index");
        let mut s = scanned(10);
        s.oldest_millis = Some(1000);
        assert!(roundtrip(&s).is_none(), "oldest after newest");
        let mut s = scanned(10);
        s.newest_millis = None;
        assert!(roundtrip(&s).is_none(), "records without arrival times");
        let mut s = scanned(0);
        s.len = HEADER_LEN + 10;
        assert!(roundtrip(&s).is_none(), "bytes but no records");
    }
}
