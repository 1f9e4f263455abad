//! The change log's frame decoder, segment-header decoder and crash
//! recovery, on arbitrary bytes. Shared by `fuzz/fuzz_targets/changelog_frame.rs`
//! and `crates/eddy-changelog/tests/fuzz_corpus.rs` (via `#[path]`).
//!
//! Input: a control byte, then the segment bytes. Control bits 0-1 pick
//! 1-3 segment files (all but the last prefixed by a u16 LE length); bit 2
//! prefixes each with a valid segment header (named after the LSN the
//! previous segment ends at); bit 3 recomputes the CRC of every frame whose
//! length fits, so the fuzzer gets past checksums to the structure checks;
//! bit 4 opens the recovered log and reads it back.
//!
//! Properties: nothing panics; a decoded frame re-encodes to the same bytes
//! and each of its prefixes is incomplete; a decoded segment header
//! re-encodes to the same bytes; recovery either succeeds (discarding at
//! most a torn tail of the last segment, after which a second recovery
//! finds nothing to repair and the log reads back every recovered record
//! and takes an append at the next LSN) or reports `Corruption` at an
//! offset inside a listed file without modifying any file.

use crate::mem_fs::MemFs;
use eddy_changelog::fuzzing::{self, FrameDecode};
use eddy_changelog::{ChangeLog, Error, LogOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const HEADER: usize = 24;

/// Frame-level checks of `buf`.
fn frame_checks(buf: &[u8]) {
    if let FrameDecode::Complete {
        first_lsn,
        micros,
        payloads,
        consumed,
    } = fuzzing::decode_frame(buf)
    {
        assert!(consumed <= buf.len());
        assert_eq!(
            fuzzing::encode_frame(first_lsn, micros, &payloads),
            &buf[..consumed],
            "decoded frame does not re-encode to its bytes"
        );
        assert_eq!(
            fuzzing::decode_frame(&buf[..consumed - 1]),
            FrameDecode::Incomplete
        );
    }
    if let Ok(base) = fuzzing::decode_segment_header(buf) {
        assert_eq!(&fuzzing::encode_segment_header(base)[..], &buf[..HEADER]);
    }
}

/// Recompute the CRC of every frame in `area` whose declared length fits.
fn fix_crcs(area: &mut [u8]) {
    let mut at = 0usize;
    while area.len() - at >= 8 {
        let len = u32::from_le_bytes([area[at], area[at + 1], area[at + 2], area[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e <= area.len()) else {
            return;
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&area[at..at + 4]);
        h.update(&area[at + 8..end]);
        let crc = h.finalize().to_le_bytes();
        area[at + 4..at + 8].copy_from_slice(&crc);
        at = end;
    }
}

/// Records of the complete frames at the start of `area`.
fn count_records(area: &[u8]) -> u64 {
    let mut at = 0;
    let mut n = 0u64;
    while let FrameDecode::Complete {
        payloads, consumed, ..
    } = fuzzing::decode_frame(&area[at..])
    {
        n = n.saturating_add(payloads.len() as u64);
        at += consumed;
    }
    n
}

/// Split the input into segment contents.
fn split(control: u8, mut rest: &[u8]) -> Vec<Vec<u8>> {
    let n = 1 + usize::from(control & 3) % 3;
    let mut out = Vec::new();
    for _ in 1..n {
        if rest.len() < 2 {
            break;
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out.push(rest.to_vec());
    out
}

/// Run every check on one input. True if recovery succeeded and found at
/// least one record (so the replay test can tell its corpus still reaches
/// the interesting paths).
pub fn check(data: &[u8]) -> bool {
    let Some((&control, rest)) = data.split_first() else {
        return false;
    };
    frame_checks(rest);
    let mut fixed = rest.to_vec();
    fix_crcs(&mut fixed);
    frame_checks(&fixed);

    let dir = Path::new("/log");
    let fs = MemFs::new();
    let mut next_base = 1u64;
    for (i, mut seg) in split(control, rest).into_iter().enumerate() {
        let base;
        if control & 4 != 0 {
            base = next_base;
            if control & 8 != 0 {
                fix_crcs(&mut seg);
            }
            next_base = base.saturating_add(count_records(&seg));
            let mut file = fuzzing::encode_segment_header(base).to_vec();
            file.extend_from_slice(&seg);
            seg = file;
        } else {
            if control & 8 != 0 && seg.len() > HEADER {
                fix_crcs(&mut seg[HEADER..]);
            }
            base = match seg.get(12..20) {
                Some(b) => u64::from_le_bytes(b.try_into().unwrap_or_default()),
                None => i as u64 + 1,
            };
        }
        fs.put(&dir.join(fuzzing::segment_file_name(base)), &seg);
    }
    recover_checks(&fs, dir, control & 16 != 0)
}

fn recover_checks(fs: &MemFs, dir: &Path, read_back: bool) -> bool {
    let before = fs.snapshot();
    let last: Option<PathBuf> = before.keys().next_back().cloned();
    match fuzzing::recover(fs, dir) {
        Err(Error::Corruption {
            segment, offset, ..
        }) => {
            let Some(file) = before.get(&segment) else {
                panic!("corruption reported in unknown file {}", segment.display());
            };
            assert!(
                offset == 0 || offset < file.len() as u64,
                "corruption offset {offset} outside the {}-byte file",
                file.len()
            );
            assert!(
                before == fs.snapshot(),
                "recovery modified files but failed"
            );
            false
        }
        Err(e) => panic!("recovery failed with a non-corruption error: {e}"),
        Ok(report) => {
            let after = fs.snapshot();
            for (path, bytes) in &before {
                let torn = report.torn_tail.as_ref().filter(|t| &t.segment == path);
                match torn {
                    // Zeros after the last frame of the newest segment (the
                    // space the writer fills ahead) are cut without being
                    // called a torn tail; nothing else may change.
                    None => {
                        let kept = after.get(path).map(Vec::as_slice);
                        let zeros_cut = Some(path) == last.as_ref()
                            && kept.is_some_and(|k| {
                                bytes.starts_with(k) && bytes[k.len()..].iter().all(|&b| b == 0)
                            });
                        assert!(
                            kept == Some(bytes.as_slice()) || zeros_cut,
                            "{} changed",
                            path.display()
                        );
                    }
                    Some(t) => {
                        assert_eq!(
                            Some(path),
                            last.as_ref(),
                            "torn tail not in the last segment"
                        );
                        assert_eq!(t.offset + t.discarded_bytes, bytes.len() as u64);
                        if t.offset == 0 {
                            // A torn header: the segment was removed (and a
                            // fresh one of the same name may have been made).
                            assert!(bytes.len() <= HEADER);
                        } else {
                            let kept = after.get(path).map(Vec::as_slice);
                            assert_eq!(kept, bytes.get(..t.offset as usize));
                        }
                    }
                }
            }
            let again = fuzzing::recover(fs, dir).expect("second recovery");
            assert_eq!(again.torn_tail, None, "second recovery repaired again");
            assert_eq!(
                (again.records, again.last_lsn, again.segments),
                (report.records, report.last_lsn, report.segments)
            );
            if read_back {
                read_back_checks(fs, dir, report.records, report.last_lsn);
            }
            report.records > 0
        }
    }
}

fn read_back_checks(fs: &MemFs, dir: &Path, records: u64, last_lsn: u64) {
    let opts = LogOptions::new().fs(Arc::new(fs.clone()));
    let (log, _) = ChangeLog::open(dir, opts).expect("reopening a recovered log");
    let oldest = log.oldest_lsn();
    let reader = log.read_from(oldest).expect("reading from the oldest LSN");
    let mut n = 0u64;
    for r in reader {
        let r = r.expect("reading a recovered record");
        assert_eq!(r.lsn, oldest + n, "records out of order");
        n += 1;
    }
    assert_eq!(n, records, "read back a different number of records");
    assert_eq!(log.committed_lsn(), last_lsn);
    // (A crafted log can end at LSN u64::MAX - 1; appending past the end of
    // the LSN space is out of scope.)
    if last_lsn < u64::MAX / 2 {
        let c = log
            .append(vec![b"x".to_vec()])
            .expect("append after recovery");
        drop(c);
        assert_eq!(log.committed_lsn(), last_lsn + 1);
    }
    log.close().expect("close");
}
