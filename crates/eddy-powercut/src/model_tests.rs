//! Unit tests of the model and the cut, without FUSE: they run everywhere.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;

use crate::cut::{Cut, CutReport};
use crate::state::{FsError, Ino, RenameMode, State, PAGE, ROOT, SECTOR};

fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    }
}

fn resolve(s: &State, path: &str) -> Result<Ino, FsError> {
    let mut ino = ROOT;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        ino = s.lookup(ino, OsStr::new(part))?;
    }
    Ok(ino)
}

fn create(s: &mut State, path: &str) -> Ino {
    let (dir, name) = split(path);
    let parent = resolve(s, dir).unwrap();
    s.create(parent, OsStr::new(name), 0o644).unwrap()
}

fn mkdir(s: &mut State, path: &str) -> Ino {
    let (dir, name) = split(path);
    let parent = resolve(s, dir).unwrap();
    s.mkdir(parent, OsStr::new(name), 0o755).unwrap()
}

fn write(s: &mut State, path: &str, off: u64, data: &[u8]) {
    let ino = resolve(s, path).unwrap();
    s.write(ino, off, data).unwrap();
}

fn read(s: &mut State, path: &str) -> Option<Vec<u8>> {
    let ino = resolve(s, path).ok()?;
    Some(s.read(ino, 0, u32::MAX).unwrap().to_vec())
}

fn fsync(s: &mut State, path: &str) {
    let ino = resolve(s, path).unwrap();
    s.fsync(ino).unwrap();
}

fn fsyncdir(s: &mut State, path: &str) {
    let ino = resolve(s, path).unwrap();
    s.fsyncdir(ino).unwrap();
}

fn set_len(s: &mut State, path: &str, len: u64) {
    let ino = resolve(s, path).unwrap();
    s.set_len(ino, len).unwrap();
}

fn rename(s: &mut State, from: &str, to: &str) {
    let (fd, fname) = split(from);
    let (td, tname) = split(to);
    let (fp, tp) = (resolve(s, fd).unwrap(), resolve(s, td).unwrap());
    s.rename(
        fp,
        OsStr::new(fname),
        tp,
        OsStr::new(tname),
        RenameMode::Replace,
    )
    .unwrap();
}

fn unlink(s: &mut State, path: &str) {
    let (dir, name) = split(path);
    let parent = resolve(s, dir).unwrap();
    s.unlink(parent, OsStr::new(name)).unwrap();
}

/// A durable file `path` with `content`.
fn durable_file(s: &mut State, path: &str, content: &[u8]) -> Ino {
    let ino = create(s, path);
    write(s, path, 0, content);
    fsync(s, path);
    fsyncdir(s, split(path).0);
    ino
}

fn strict(s: &mut State) -> CutReport {
    s.cut(&Cut::strict())
}

#[test]
fn unsynced_data_is_dropped() {
    let mut s = State::new();
    durable_file(&mut s, "a", b"");
    write(&mut s, "a", 0, b"hello");
    let r = strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), b"");
    assert_eq!(
        (r.files_changed, r.bytes_dropped, r.unsynced_pages_dropped),
        (1, 5, 1)
    );
    assert_eq!(r.names_dropped, 0);
}

#[test]
fn synced_data_is_kept_and_later_writes_revert() {
    let mut s = State::new();
    durable_file(&mut s, "a", b"hello world");
    assert_eq!(strict(&mut s), CutReport::default());
    assert_eq!(read(&mut s, "a").unwrap(), b"hello world");
    write(&mut s, "a", 6, b"WORLD, and more");
    strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), b"hello world");
}

#[test]
fn fsync_makes_size_durable() {
    let mut s = State::new();
    durable_file(&mut s, "a", &[7; 10_000]);
    set_len(&mut s, "a", 100);
    strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), vec![7; 10_000]);
    set_len(&mut s, "a", 100);
    fsync(&mut s, "a");
    strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), vec![7; 100]);
    set_len(&mut s, "a", 5000); // extension by set_len, synced
    fsync(&mut s, "a");
    strict(&mut s);
    let mut want = vec![7; 100];
    want.resize(5000, 0);
    assert_eq!(read(&mut s, "a").unwrap(), want);
}

#[test]
fn truncate_then_extend_then_fsync() {
    let mut s = State::new();
    durable_file(&mut s, "a", &[b'A'; 3 * PAGE]);
    set_len(&mut s, "a", 10);
    write(&mut s, "a", 6000, &[b'B'; 100]);
    fsync(&mut s, "a");
    strict(&mut s);
    let mut want = vec![b'A'; 10];
    want.resize(6000, 0);
    want.extend([b'B'; 100]);
    assert_eq!(read(&mut s, "a").unwrap(), want);
}

#[test]
fn a_size_never_synced_reverts() {
    let mut s = State::new();
    durable_file(&mut s, "a", &[1; 100]);
    write(&mut s, "a", 100, &[2; 5000]);
    set_len(&mut s, "a", 9000);
    let r = strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), vec![1; 100]);
    assert_eq!(r.bytes_dropped, 8900);
}

#[test]
fn unsynced_create_disappears_even_if_the_file_was_fsynced() {
    let mut s = State::new();
    create(&mut s, "a");
    write(&mut s, "a", 0, b"data");
    fsync(&mut s, "a");
    let r = strict(&mut s);
    assert!(read(&mut s, "a").is_none());
    assert_eq!(
        (r.names_dropped, r.files_changed, r.bytes_dropped),
        (1, 1, 4)
    );
    assert_eq!(r.inodes_freed, 1);
    assert_eq!(s.inodes.len(), 1);
}

#[test]
fn create_fsync_file_fsyncdir_survives() {
    let mut s = State::new();
    durable_file(&mut s, "a", b"data");
    strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), b"data");
}

#[test]
fn unsynced_rename_reverts() {
    let mut s = State::new();
    let a = durable_file(&mut s, "a", b"old a");
    let b = durable_file(&mut s, "b", b"old b");
    rename(&mut s, "a", "b");
    assert!(read(&mut s, "a").is_none());
    assert_eq!(read(&mut s, "b").unwrap(), b"old a");
    let r = strict(&mut s);
    assert_eq!(resolve(&s, "a").unwrap(), a);
    assert_eq!(resolve(&s, "b").unwrap(), b);
    assert_eq!(read(&mut s, "b").unwrap(), b"old b");
    assert_eq!(r.names_dropped, 3); // a removed, b's new and old entry
                                    // Synced, the rename sticks and the replaced inode is freed.
    rename(&mut s, "a", "b");
    fsyncdir(&mut s, "");
    assert_eq!(s.inodes.len(), 2);
    strict(&mut s);
    assert_eq!(read(&mut s, "b").unwrap(), b"old a");
    assert!(read(&mut s, "a").is_none());
}

#[test]
fn unsynced_unlink_comes_back_with_durable_data() {
    let mut s = State::new();
    durable_file(&mut s, "a", b"durable");
    write(&mut s, "a", 0, b"DURABLE AND MORE");
    unlink(&mut s, "a");
    let r = strict(&mut s);
    assert_eq!(read(&mut s, "a").unwrap(), b"durable");
    assert_eq!((r.names_dropped, r.files_changed), (1, 1));
    // Synced unlink: gone, and freed at the fsyncdir.
    unlink(&mut s, "a");
    fsyncdir(&mut s, "");
    assert_eq!(s.inodes.len(), 1);
    strict(&mut s);
    assert!(read(&mut s, "a").is_none());
}

#[test]
fn cross_directory_rename_is_durable_per_directory() {
    let setup = || {
        let mut s = State::new();
        mkdir(&mut s, "d1");
        mkdir(&mut s, "d2");
        fsyncdir(&mut s, "");
        durable_file(&mut s, "d1/x", b"x");
        rename(&mut s, "d1/x", "d2/x");
        s
    };
    let exists = |s: &State, p: &str| resolve(s, p).is_ok();

    let mut s = setup();
    fsyncdir(&mut s, "d2");
    strict(&mut s);
    assert!(
        exists(&s, "d1/x") && exists(&s, "d2/x"),
        "only d2 synced: both names"
    );
    assert_eq!(resolve(&s, "d1/x"), resolve(&s, "d2/x"));

    let mut s = setup();
    fsyncdir(&mut s, "d1");
    strict(&mut s);
    assert!(
        !exists(&s, "d1/x") && !exists(&s, "d2/x"),
        "only d1 synced: lost"
    );
    assert_eq!(s.inodes.len(), 3);

    let mut s = setup();
    fsyncdir(&mut s, "d1");
    fsyncdir(&mut s, "d2");
    strict(&mut s);
    assert!(!exists(&s, "d1/x") && exists(&s, "d2/x"));
    assert_eq!(read(&mut s, "d2/x").unwrap(), b"x");

    let mut s = setup();
    strict(&mut s);
    assert!(exists(&s, "d1/x") && !exists(&s, "d2/x"));
}

#[test]
fn a_directory_durably_named_twice_keeps_its_first_name() {
    let mut s = State::new();
    mkdir(&mut s, "d1");
    mkdir(&mut s, "d2");
    mkdir(&mut s, "d1/sub");
    fsyncdir(&mut s, "d1");
    fsyncdir(&mut s, "");
    rename(&mut s, "d1/sub", "d2/sub");
    fsyncdir(&mut s, "d2");
    strict(&mut s);
    assert!(resolve(&s, "d1/sub").is_ok());
    assert!(resolve(&s, "d2/sub").is_err());
}

#[test]
fn mkdir_without_parent_fsync_disappears() {
    let mut s = State::new();
    mkdir(&mut s, "d");
    durable_file(&mut s, "d/f", b"f");
    strict(&mut s);
    assert!(resolve(&s, "d").is_err());
    assert_eq!(s.inodes.len(), 1);

    mkdir(&mut s, "d");
    fsyncdir(&mut s, "");
    create(&mut s, "d/f");
    fsync(&mut s, "d/f");
    strict(&mut s);
    assert!(
        resolve(&s, "d").is_ok(),
        "parent synced: the directory stays"
    );
    assert!(
        resolve(&s, "d/f").is_err(),
        "its own entries were not synced"
    );
}

/// Unsynced data in two files, an unsynced create and an unsynced rename.
fn messy_state() -> State {
    let mut s = State::new();
    durable_file(&mut s, "a", &[b'a'; 2 * PAGE]);
    durable_file(&mut s, "b", b"");
    write(&mut s, "a", PAGE as u64 + 10, &[b'A'; 3 * PAGE]);
    write(&mut s, "b", 2 * PAGE as u64, &[b'B'; 100]); // sparse: pages 0, 1 are holes
    create(&mut s, "new");
    write(&mut s, "new", 0, b"new");
    rename(&mut s, "b", "b2");
    s
}

#[test]
fn keep_all_pages_keeps_data_but_not_names() {
    let mut s = messy_state();
    let want_a = read(&mut s, "a").unwrap();
    let r = s.cut(&Cut::strict().keep_unsynced_pages(1.0));
    assert_eq!(read(&mut s, "a").unwrap(), want_a);
    let mut want_b = vec![0; 2 * PAGE];
    want_b.extend([b'B'; 100]);
    assert_eq!(
        read(&mut s, "b").unwrap(),
        want_b,
        "kept page extends, hole is zeros"
    );
    assert!(resolve(&s, "new").is_err() && resolve(&s, "b2").is_err());
    assert_eq!((r.unsynced_pages_kept, r.unsynced_pages_dropped), (5, 0));
    assert_eq!(r.names_dropped, 3);
}

#[test]
fn keep_zero_pages_is_strict() {
    let mut s1 = messy_state();
    let mut s2 = s1.clone();
    let r1 = s1.cut(&Cut::strict());
    let r2 = s2.cut(&Cut::strict().keep_unsynced_pages(0.0).seed(99));
    assert_eq!(r1, r2);
    assert_eq!(read(&mut s1, "a"), read(&mut s2, "a"));
    assert_eq!(read(&mut s1, "a").unwrap(), vec![b'a'; 2 * PAGE]);
    assert_eq!(read(&mut s2, "b").unwrap(), b"");
    assert_eq!(r1.unsynced_pages_dropped, 5);
}

#[test]
fn tearing_mixes_new_and_old_sectors() {
    for seed in 0..20 {
        let mut s = State::new();
        durable_file(&mut s, "a", &[b'O'; PAGE]);
        write(&mut s, "a", 0, &[b'N'; PAGE]);
        let r = s.cut(&Cut::strict().tear_one_page(true).seed(seed));
        let torn = r.torn.unwrap();
        assert_eq!((torn.path.to_str(), torn.page_offset), (Some("a"), 0));
        let k = torn.sectors_kept as usize;
        assert!((1..8).contains(&k));
        let mut want = vec![b'N'; k * SECTOR];
        want.resize(PAGE, b'O');
        assert_eq!(read(&mut s, "a").unwrap(), want);
        assert_eq!(r.bytes_dropped, (PAGE - k * SECTOR) as u64);
    }
}

#[test]
fn tearing_an_appended_page_extends_only_to_the_kept_sectors() {
    let mut s = State::new();
    durable_file(&mut s, "a", b"");
    write(&mut s, "a", 0, &[b'N'; 1000]);
    let r = s.cut(&Cut::strict().tear_one_page(true).seed(3));
    let k = r.torn.unwrap().sectors_kept as usize;
    assert_eq!(
        read(&mut s, "a").unwrap(),
        vec![b'N'; (k * SECTOR).min(1000)]
    );
    // Nothing unsynced: nothing to tear.
    assert!(s.cut(&Cut::strict().tear_one_page(true)).torn.is_none());
}

#[test]
fn cuts_are_deterministic_by_seed() {
    let run = |seed| {
        let mut s = messy_state();
        let cut = Cut::strict()
            .keep_unsynced_pages(0.5)
            .tear_one_page(true)
            .seed(seed);
        let r = s.cut(&cut);
        (r, read(&mut s, "a"), read(&mut s, "b"))
    };
    for seed in 0..10 {
        assert_eq!(run(seed), run(seed));
    }
    let outcomes: std::collections::HashSet<_> =
        (0..10).map(|seed| format!("{:?}", run(seed))).collect();
    assert!(outcomes.len() > 1, "different seeds should differ");
}

#[test]
fn errno_values() {
    let mut s = State::new();
    let d = mkdir(&mut s, "d");
    let f = create(&mut s, "d/f");
    let name = OsStr::new;
    assert_eq!(s.create(d, name("f"), 0o644), Err(FsError::Exist));
    assert_eq!(s.mkdir(d, name("f"), 0o755), Err(FsError::Exist));
    assert_eq!(s.lookup(d, name("nope")), Err(FsError::NoEnt));
    assert_eq!(s.lookup(f, name("x")), Err(FsError::NotDir));
    assert_eq!(s.create(f, name("x"), 0o644), Err(FsError::NotDir));
    assert_eq!(s.rmdir(ROOT, name("d")), Err(FsError::NotEmpty));
    assert_eq!(s.rmdir(d, name("f")), Err(FsError::NotDir));
    assert_eq!(s.unlink(ROOT, name("d")), Err(FsError::IsDir));
    assert_eq!(s.unlink(ROOT, name("nope")), Err(FsError::NoEnt));
    let e = mkdir(&mut s, "e");
    let replace = RenameMode::Replace;
    assert_eq!(
        s.rename(d, name("f"), ROOT, name("e"), replace),
        Err(FsError::IsDir)
    );
    create(&mut s, "g");
    assert_eq!(
        s.rename(ROOT, name("e"), ROOT, name("g"), replace),
        Err(FsError::NotDir)
    );
    assert_eq!(
        s.rename(ROOT, name("e"), ROOT, name("d"), replace),
        Err(FsError::NotEmpty)
    );
    let noreplace = RenameMode::NoReplace;
    assert_eq!(
        s.rename(ROOT, name("g"), d, name("f"), noreplace),
        Err(FsError::Exist)
    );
    assert_eq!(s.write(d, 0, b"x"), Err(FsError::IsDir));
    assert_eq!(s.write(f, 1 << 40, b"x"), Err(FsError::FBig));
    // Exchange swaps.
    s.rename(ROOT, name("e"), d, name("f"), RenameMode::Exchange)
        .unwrap();
    assert_eq!((resolve(&s, "e"), resolve(&s, "d/f")), (Ok(f), Ok(e)));
    s.rmdir(d, name("f")).unwrap();
    s.rmdir(ROOT, name("d")).unwrap();
}

#[test]
fn unreachable_inodes_are_freed_but_open_ones_stay() {
    let mut s = State::new();
    let a = create(&mut s, "a");
    write(&mut s, "a", 0, &[1; 10_000]);
    let fh = s.open(a).unwrap();
    unlink(&mut s, "a");
    assert_eq!(s.inodes.len(), 2, "open: kept");
    assert_eq!(s.read(a, 0, 10).unwrap(), &[1; 10]);
    s.release(fh).unwrap();
    fsyncdir(&mut s, "");
    assert_eq!(s.inodes.len(), 1, "released and unnamed: freed");
    assert_eq!(s.stats().open_handles, 0);
}

#[test]
fn incremental_fsync_matches_a_full_copy() {
    // A small xorshift drives random writes, truncations and fsyncs; the
    // durable view must always equal the current view at the last fsync.
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut s = State::new();
    let ino = durable_file(&mut s, "f", b"");
    let mut oracle: Vec<u8> = Vec::new();
    for step in 0..3000u64 {
        match next(10) {
            0..=5 => {
                let off = next(8 * PAGE as u64);
                let data = vec![(step % 251) as u8 + 1; next(3 * PAGE as u64) as usize + 1];
                s.write(ino, off, &data).unwrap();
            }
            6 | 7 => s.set_len(ino, next(10 * PAGE as u64)).unwrap(),
            _ => {
                s.fsync(ino).unwrap();
                oracle = read(&mut s, "f").unwrap();
            }
        }
        if step % 97 == 0 {
            let mut copy = s.clone();
            copy.cut(&Cut::strict());
            assert_eq!(read(&mut copy, "f").unwrap(), oracle, "step {step}");
        }
    }
}

#[test]
fn durable_image_lists_what_a_strict_cut_leaves() {
    let mut s = messy_state();
    let image: Vec<_> = s
        .durable_image()
        .into_iter()
        .map(|(p, c)| (p.to_string_lossy().into_owned(), c.map(<[u8]>::to_vec)))
        .collect();
    s.cut(&Cut::strict());
    assert_eq!(image.len(), 2);
    assert_eq!(image[0], ("a".to_owned(), read(&mut s, "a")));
    assert_eq!(image[1], ("b".to_owned(), Some(Vec::new())));
}
