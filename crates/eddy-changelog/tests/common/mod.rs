//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use eddy_changelog::{ChangeLog, LogOptions, LogRecord, RecoveryReport};
use std::path::{Path, PathBuf};

/// Segment files in `dir`, sorted.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

pub fn open(dir: &Path, opts: LogOptions) -> (ChangeLog, RecoveryReport) {
    ChangeLog::open(dir, opts).unwrap()
}

/// Payload for record number `i`.
pub fn payload(i: u64) -> Vec<u8> {
    format!("record-{i}-{}", "x".repeat((i % 7) as usize)).into_bytes()
}

pub fn read_all(log: &ChangeLog, from: u64) -> Vec<LogRecord> {
    log.read_from(from).unwrap().map(|r| r.unwrap()).collect()
}

/// Copy every file of `src` into a fresh directory inside `parent`.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
}

/// `recv` with a generous timeout, so a broken subscription fails the test
/// instead of hanging it.
pub fn recv(sub: &mut eddy_changelog::Subscription) -> LogRecord {
    sub.recv_timeout(std::time::Duration::from_secs(10))
        .unwrap()
        .expect("subscription delivered nothing within 10 s")
}
