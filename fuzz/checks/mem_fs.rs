//! An in-memory [`LogFs`] for the fuzz targets and their replay tests, so a
//! target can present arbitrary file contents to recovery without touching
//! the disk. Shared (via `#[path]`) by `fuzz/fuzz_targets/*.rs` and the
//! crates' `tests/fuzz_corpus.rs`.
//!
//! Semantics follow `StdFs` where the log code can tell: files are inodes
//! (a handle keeps reading a removed or renamed file), `create_new` fails
//! on an existing path or a missing parent, read-only handles refuse
//! writes, `list_dir` of a missing directory is `NotFound`.

use eddy_model::io::{LogFile, LogFs};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

type Inode = Arc<Mutex<Vec<u8>>>;

#[derive(Default)]
struct Tree {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, Inode>,
}

/// The file system. Clones share the same tree.
#[derive(Clone, Default)]
pub struct MemFs {
    tree: Arc<Mutex<Tree>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn not_found(p: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, p.display().to_string())
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// Create (or replace) `path` with `bytes`, creating its parents.
    pub fn put(&self, path: &Path, bytes: &[u8]) {
        let mut t = lock(&self.tree);
        if let Some(parent) = path.parent() {
            for a in parent.ancestors() {
                t.dirs.insert(a.to_path_buf());
            }
        }
        t.files
            .insert(path.to_path_buf(), Arc::new(Mutex::new(bytes.to_vec())));
    }

    /// The contents of `path`, if it is a file.
    #[allow(dead_code)]
    pub fn get(&self, path: &Path) -> Option<Vec<u8>> {
        let t = lock(&self.tree);
        t.files.get(path).map(|f| lock(f).clone())
    }

    /// Every file and its contents.
    #[allow(dead_code)]
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let t = lock(&self.tree);
        t.files
            .iter()
            .map(|(p, f)| (p.clone(), lock(f).clone()))
            .collect()
    }

    /// An independent copy of the whole tree.
    #[allow(dead_code)]
    pub fn deep_clone(&self) -> MemFs {
        let t = lock(&self.tree);
        let copy = Tree {
            dirs: t.dirs.clone(),
            files: t
                .files
                .iter()
                .map(|(p, f)| (p.clone(), Arc::new(Mutex::new(lock(f).clone()))))
                .collect(),
        };
        MemFs {
            tree: Arc::new(Mutex::new(copy)),
        }
    }
}

struct MemFile {
    inode: Inode,
    writable: bool,
}

impl MemFile {
    fn check_writable(&self) -> io::Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "file opened read-only",
            ))
        }
    }
}

impl LogFile for MemFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        lock(&self.inode).extend_from_slice(buf);
        Ok(())
    }

    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.check_writable()?;
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o.saturating_add(buf.len()) <= 1 << 30)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        let mut data = lock(&self.inode);
        let end = start + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(lock(&self.inode).len() as u64)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.check_writable()?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= 1 << 30)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "length too large"))?;
        lock(&self.inode).resize(len, 0);
        Ok(())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data = lock(&self.inode);
        let Some(start) = usize::try_from(offset).ok().filter(|&o| o < data.len()) else {
            return Ok(0);
        };
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
}

impl LogFs for MemFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut t = lock(&self.tree);
        if t.files.contains_key(dir) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a file"));
        }
        for a in dir.ancestors() {
            t.dirs.insert(a.to_path_buf());
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let t = lock(&self.tree);
        if !t.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        let mut out: Vec<PathBuf> = t
            .dirs
            .iter()
            .chain(t.files.keys())
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect();
        out.sort();
        Ok(out)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let mut t = lock(&self.tree);
        if t.files.contains_key(path) || t.dirs.contains(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                path.display().to_string(),
            ));
        }
        if !path.parent().is_some_and(|p| t.dirs.contains(p)) {
            return Err(not_found(path));
        }
        let inode: Inode = Arc::default();
        t.files.insert(path.to_path_buf(), Arc::clone(&inode));
        Ok(Box::new(MemFile {
            inode,
            writable: true,
        }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let t = lock(&self.tree);
        let inode = t.files.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(MemFile {
            inode: Arc::clone(inode),
            writable: true,
        }))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let t = lock(&self.tree);
        let inode = t.files.get(path).ok_or_else(|| not_found(path))?;
        Ok(Box::new(MemFile {
            inode: Arc::clone(inode),
            writable: false,
        }))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut t = lock(&self.tree);
        t.files
            .remove(path)
            .map(drop)
            .ok_or_else(|| not_found(path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if lock(&self.tree).dirs.contains(dir) {
            Ok(())
        } else {
            Err(not_found(dir))
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut t = lock(&self.tree);
        let inode = t.files.remove(from).ok_or_else(|| not_found(from))?;
        t.files.insert(to.to_path_buf(), inode);
        Ok(())
    }
}
