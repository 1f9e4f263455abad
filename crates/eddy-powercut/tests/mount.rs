//! Integration tests through a real FUSE mount, with std::fs and child
//! processes. Each test mounts its own file system, so they run in parallel.
//! Without FUSE they skip (or fail, when `CI` is set): see
//! `eddy_powercut::require_fuse_or_skip`.

#![allow(clippy::unwrap_used)]

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eddy_powercut::{Cut, Error, PowerCutFs};
use tempfile::TempDir;

const T: Duration = Duration::from_secs(5);

/// The file system first, so it is unmounted before the directory goes.
struct Mnt {
    fs: PowerCutFs,
    _dir: TempDir,
}

impl Mnt {
    fn p(&self, rel: &str) -> PathBuf {
        self.fs.mountpoint().join(rel)
    }

    fn cut(&mut self) -> eddy_powercut::CutReport {
        self.fs.cut_power(&Cut::strict(), T).unwrap()
    }
}

fn mount() -> Option<Mnt> {
    if !eddy_powercut::require_fuse_or_skip() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let fs = PowerCutFs::mount(dir.path()).unwrap();
    Some(Mnt { fs, _dir: dir })
}

fn sync_dir(path: &Path) {
    File::open(path).unwrap().sync_all().unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn strict_cut_keeps_only_what_was_synced() {
    let Some(mut m) = mount() else { return };
    let root = m.fs.mountpoint().to_path_buf();
    let f = File::create(m.p("durable")).unwrap();
    (&f).write_all(b"kept").unwrap();
    f.sync_all().unwrap();
    drop(f);
    sync_dir(&root);
    fs::write(m.p("unsynced"), b"lost").unwrap();
    let f = File::create(m.p("data-synced-name-not")).unwrap();
    (&f).write_all(b"data").unwrap();
    f.sync_data().unwrap();
    drop(f);
    fs::write(m.p("durable"), b"overwritten, unsynced").unwrap();

    let r = m.cut();
    assert_eq!(names(&root), ["durable"]);
    assert_eq!(fs::read(m.p("durable")).unwrap(), b"kept");
    assert_eq!(r.names_dropped, 2);
    assert_eq!(r.files_changed, 3);
    assert!(m.fs.stats().fsyncs >= 2 && m.fs.stats().fsyncdirs >= 1);
}

#[test]
fn data_and_size_revert_and_no_stale_cache_is_seen() {
    let Some(mut m) = mount() else { return };
    let path = m.p("log");
    let mut f = File::create(&path).unwrap();
    sync_dir(m.fs.mountpoint());
    let synced: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    f.write_all(&synced).unwrap();
    f.sync_data().unwrap();
    f.write_all(&[0xEE; 50_000]).unwrap(); // unsynced append
    f.write_at(b"OVERWRITE", 10).unwrap(); // unsynced overwrite
    drop(f);
    // Read it (into the kernel's page cache) before the cut.
    assert_eq!(fs::read(&path).unwrap().len(), 150_000);
    let r = m.cut();
    assert_eq!(fs::read(&path).unwrap(), synced);
    assert_eq!(fs::metadata(&path).unwrap().len(), 100_000);
    assert_eq!(r.bytes_dropped, 50_000 + 9);

    // Size changes: set_len without fsync reverts, with fsync sticks.
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(10).unwrap();
    drop(f);
    m.cut();
    assert_eq!(fs::metadata(&path).unwrap().len(), 100_000);
    let f = OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(10).unwrap();
    f.sync_all().unwrap();
    drop(f);
    m.cut();
    assert_eq!(fs::read(&path).unwrap(), &synced[..10]);
}

#[test]
fn names_revert_renames_unlinks_and_mkdirs() {
    let Some(mut m) = mount() else { return };
    let root = m.fs.mountpoint().to_path_buf();
    fs::create_dir(m.p("d")).unwrap();
    for name in ["a", "b", "d/x"] {
        let f = File::create(m.p(name)).unwrap();
        (&f).write_all(name.as_bytes()).unwrap();
        f.sync_all().unwrap();
    }
    sync_dir(&root);
    sync_dir(&m.p("d"));

    fs::rename(m.p("a"), m.p("c")).unwrap();
    fs::remove_file(m.p("b")).unwrap();
    fs::create_dir(m.p("newdir")).unwrap();
    fs::rename(m.p("d/x"), m.p("x-moved")).unwrap();
    assert_eq!(names(&root), ["c", "d", "newdir", "x-moved"]);
    let r = m.cut();
    assert_eq!(names(&root), ["a", "b", "d"]);
    assert_eq!(names(&m.p("d")), ["x"]);
    assert_eq!(fs::read(m.p("b")).unwrap(), b"b");
    assert!(r.names_dropped >= 5);

    // A cross-directory rename synced on both sides sticks.
    fs::rename(m.p("d/x"), m.p("x-moved")).unwrap();
    sync_dir(&root);
    sync_dir(&m.p("d"));
    m.cut();
    assert_eq!(names(&root), ["a", "b", "d", "x-moved"]);
    assert!(names(&m.p("d")).is_empty());
}

#[test]
fn keep_pages_and_tear_through_the_mount() {
    let Some(mut m) = mount() else { return };
    let path = m.p("f");
    let f = File::create(&path).unwrap();
    f.write_all_at(&[b'O'; 8192], 0).unwrap();
    f.sync_all().unwrap();
    sync_dir(m.fs.mountpoint());
    f.write_all_at(&[b'N'; 8192], 0).unwrap();
    drop(f);
    let r =
        m.fs.cut_power(&Cut::strict().keep_unsynced_pages(1.0), T)
            .unwrap();
    assert_eq!(r.unsynced_pages_kept, 2);
    assert_eq!(fs::read(&path).unwrap(), vec![b'N'; 8192]);

    fs::write(&path, [b'X'; 4096]).unwrap(); // truncates (unsynced) and writes page 0
    let r =
        m.fs.cut_power(&Cut::strict().tear_one_page(true).seed(7), T)
            .unwrap();
    let torn = r.torn.unwrap();
    assert_eq!((torn.path, torn.page_offset), (PathBuf::from("f"), 0));
    let k = torn.sectors_kept as usize * 512;
    let got = fs::read(&path).unwrap();
    assert_eq!(got.len(), 8192);
    assert!(got[..k].iter().all(|&b| b == b'X'));
    assert!(got[k..].iter().all(|&b| b == b'N'));
}

#[test]
fn child_processes_write_then_power_is_cut() {
    let Some(mut m) = mount() else { return };
    let script = "printf lost > unsynced && \
                  dd if=/dev/zero of=fsynced-only bs=4096 count=4 conv=fsync 2>/dev/null && \
                  printf kept > durable && sync durable && sync .";
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(m.fs.mountpoint())
        .status()
        .unwrap();
    assert!(status.success());
    fs::write(m.p("late"), b"x").unwrap();
    m.cut();
    assert_eq!(
        names(m.fs.mountpoint()),
        ["durable", "fsynced-only", "unsynced"]
    );
    assert_eq!(fs::read(m.p("durable")).unwrap(), b"kept");
    assert_eq!(fs::read(m.p("fsynced-only")).unwrap(), vec![0; 16384]);
    assert_eq!(
        fs::read(m.p("unsynced")).unwrap(),
        b"",
        "name synced, data not"
    );

    // A killed child: its handle is released by the kernel asynchronously.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("exec 3>held; printf partial >&3; exec sleep 30")
        .current_dir(m.fs.mountpoint())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    while !m.p("held").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    m.cut();
    assert!(!m.p("held").exists());
}

#[test]
fn busy_when_a_handle_stays_open() {
    let Some(mut m) = mount() else { return };
    let held = File::create(m.p("held")).unwrap();
    let err =
        m.fs.cut_power(&Cut::strict(), Duration::from_millis(200))
            .unwrap_err();
    match &err {
        Error::Busy { open, paths, .. } => {
            assert_eq!(*open, 1);
            assert_eq!(paths, &[PathBuf::from("held")]);
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(err.to_string().contains("held"), "{err}");
    // Still mounted and unchanged.
    (&held).write_all(b"still here").unwrap();
    drop(held);
    assert_eq!(fs::read(m.p("held")).unwrap(), b"still here");
    m.cut();
    assert!(!m.p("held").exists());
}

#[test]
fn flock_is_exclusive_between_handles() {
    let Some(m) = mount() else { return };
    let first = File::create(m.p("LOCK")).unwrap();
    first.try_lock().unwrap();
    let second = File::open(m.p("LOCK")).unwrap();
    match second.try_lock() {
        Err(fs::TryLockError::WouldBlock) => {}
        other => panic!("expected WouldBlock, got {other:?}"),
    }
    first.unlock().unwrap();
    second.try_lock().unwrap();
}

#[test]
fn errno_values_through_the_mount() {
    let Some(m) = mount() else { return };
    fs::create_dir(m.p("d")).unwrap();
    fs::write(m.p("d/f"), b"").unwrap();
    let kind = |r: std::io::Result<()>| r.unwrap_err().kind();
    assert_eq!(kind(fs::create_dir(m.p("d"))), ErrorKind::AlreadyExists);
    assert_eq!(kind(fs::remove_dir(m.p("d"))), ErrorKind::DirectoryNotEmpty);
    assert_eq!(kind(fs::remove_file(m.p("nope"))), ErrorKind::NotFound);
    assert_eq!(kind(fs::remove_file(m.p("d"))), ErrorKind::IsADirectory);
    assert_eq!(kind(fs::write(m.p("d/f/x"), b"")), ErrorKind::NotADirectory);
    let excl = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(m.p("d/f"));
    assert_eq!(excl.unwrap_err().kind(), ErrorKind::AlreadyExists);
    fs::create_dir(m.p("e")).unwrap();
    assert_eq!(
        kind(fs::rename(m.p("e"), m.p("d"))),
        ErrorKind::DirectoryNotEmpty
    );
    assert_eq!(
        kind(fs::hard_link(m.p("d/f"), m.p("link"))),
        ErrorKind::PermissionDenied
    );
    // Sparse writes read back as zeros; seek + read works.
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.p("d/f"))
        .unwrap();
    f.write_all_at(b"end", 10_000).unwrap();
    let mut buf = Vec::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut buf).unwrap();
    assert_eq!(buf.len(), 10_003);
    assert!(buf[..10_000].iter().all(|&b| b == 0));
}

#[test]
fn export_durable_writes_the_strict_image() {
    let Some(m) = mount() else { return };
    fs::create_dir(m.p("d")).unwrap();
    let f = File::create(m.p("d/f")).unwrap();
    (&f).write_all(b"synced").unwrap();
    f.sync_all().unwrap();
    (&f).write_all(b" and not").unwrap();
    drop(f);
    sync_dir(m.fs.mountpoint());
    sync_dir(&m.p("d"));
    fs::write(m.p("unsynced"), b"x").unwrap();
    let out = tempfile::tempdir().unwrap();
    m.fs.export_durable(out.path()).unwrap();
    assert_eq!(names(out.path()), ["d"]);
    assert_eq!(fs::read(out.path().join("d/f")).unwrap(), b"synced");
}

#[test]
fn mounting_twice_at_one_place_is_a_clear_error() {
    let Some(m) = mount() else { return };
    let err = PowerCutFs::mount(m.fs.mountpoint()).unwrap_err();
    assert!(err.to_string().contains("already a mount point"), "{err}");
    let mp = m.fs.mountpoint().to_path_buf();
    m.fs.unmount().unwrap();
    // The directory is free again.
    let again = PowerCutFs::mount(&mp).unwrap();
    again.unmount().unwrap();
}

#[test]
fn many_cuts_in_a_row() {
    let Some(mut m) = mount() else { return };
    for i in 0..50u32 {
        let f = File::create(m.p("f")).unwrap();
        (&f).write_all(&i.to_le_bytes()).unwrap();
        f.sync_all().unwrap();
        drop(f);
        sync_dir(m.fs.mountpoint());
        fs::write(m.p("f"), b"unsynced").unwrap();
        m.cut();
        assert_eq!(fs::read(m.p("f")).unwrap(), i.to_le_bytes());
    }
    assert_eq!(m.fs.stats().cuts, 50);
}

/// Rough throughput numbers (printed; run with --nocapture to see them).
#[test]
fn throughput() {
    let Some(m) = mount() else { return };
    let f = File::create(m.p("big")).unwrap();
    let chunk = vec![0xAB; 1 << 20];
    let start = Instant::now();
    for _ in 0..32 {
        (&f).write_all(&chunk).unwrap();
    }
    f.sync_all().unwrap();
    let write_s = start.elapsed().as_secs_f64();
    let before = m.fs.stats();
    let log = File::create(m.p("wal")).unwrap();
    let start = Instant::now();
    let n = 2000;
    for _ in 0..n {
        (&log).write_all(&[1; 512]).unwrap();
        log.sync_data().unwrap();
    }
    let fsync_s = start.elapsed().as_secs_f64();
    let after = m.fs.stats();
    assert_eq!(after.fsyncs - before.fsyncs, n);
    let writes = after.writes - before.writes;
    eprintln!(
        "eddy-powercut: 32 MiB in {write_s:.2}s ({:.0} MiB/s, {} write requests), \
         {n} append+fdatasync in {fsync_s:.2}s ({:.0}/s, {writes} writes)",
        32.0 / write_s,
        before.writes,
        n as f64 / fsync_s
    );
}

/// A crashed earlier run leaves a mount whose server is gone (`ENOTCONN`);
/// `mount` detaches it. The crashed run is this test binary, re-run as a
/// child that mounts and aborts.
#[test]
fn a_dead_mount_from_a_crashed_run_is_detached() {
    const VAR: &str = "EDDY_POWERCUT_CRASH_MOUNT";
    if let Some(dir) = std::env::var_os(VAR) {
        let fs = PowerCutFs::mount(Path::new(&dir)).unwrap();
        fs::write(fs.mountpoint().join("x"), b"x").unwrap();
        std::process::abort(); // no unmount
    }
    if !eddy_powercut::require_fuse_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_dead_mount_from_a_crashed_run_is_detached",
            "--test-threads=1",
        ])
        .env(VAR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
    let err = fs::metadata(dir.path()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(107), "ENOTCONN expected: {err}");
    let fs = PowerCutFs::mount(dir.path()).unwrap();
    assert!(names(fs.mountpoint()).is_empty());
    fs.unmount().unwrap();
}
