//! The in-memory model of the file system: inodes with a *current* and a
//! *durable* view, and the operations that move data from one to the other.
//!
//! Everything a process sees through the mount is the current view. The
//! durable view is what a power cut right now would leave: it changes only on
//! `fsync` (a file's data and size) and `fsyncdir` (a directory's entries),
//! and at the cut itself (`cut.rs`). Keeping the model free of FUSE types
//! makes it unit-testable everywhere, without `/dev/fuse`.
//!
//! Cost: a write is O(bytes written), an fsync is O(dirty pages + growth since
//! the last fsync), an fsyncdir is O(entries of that directory), plus now and
//! then a collection of the inodes nothing names any more (`namespace.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::SystemTime;

use crate::Stats;

/// The page size the model tracks dirtiness in (and a cut keeps or drops).
pub(crate) const PAGE: usize = 4096;
/// The sector size a torn page is torn at.
pub(crate) const SECTOR: usize = 512;
/// The largest file the model accepts (writes beyond fail with `EFBIG`), so a
/// stray sparse write at a huge offset cannot exhaust memory.
pub(crate) const MAX_FILE_SIZE: u64 = 1 << 32;
/// Inode numbers; never reused within one [`State`].
pub(crate) type Ino = u64;
/// The root directory's inode number (FUSE's convention).
pub(crate) const ROOT: Ino = 1;

/// Errors of the model, mapped to errno values by `fuse.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsError {
    NoEnt,
    Exist,
    NotDir,
    IsDir,
    NotEmpty,
    BadF,
    FBig,
}

/// How a rename treats an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameMode {
    /// Replace the target (plain `rename(2)`).
    Replace,
    /// Fail with `EEXIST` if the target exists (`RENAME_NOREPLACE`).
    NoReplace,
    /// Swap source and target (`RENAME_EXCHANGE`); both must exist.
    Exchange,
}

/// Regular file or directory: the only kinds the model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
}

/// What `getattr` reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr {
    pub(crate) ino: Ino,
    pub(crate) kind: Kind,
    pub(crate) size: u64,
    pub(crate) perm: u16,
    pub(crate) atime: SystemTime,
    pub(crate) mtime: SystemTime,
    pub(crate) ctime: SystemTime,
}

/// A regular file's two views.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileData {
    /// What reads see.
    pub(crate) current: Vec<u8>,
    /// What survives a strict power cut.
    pub(crate) durable: Vec<u8>,
    /// Pages written since the last fsync (all below `current.len()`).
    pub(crate) dirty: BTreeSet<usize>,
    /// The smallest length `current` had since the last fsync: bytes from
    /// here on that are not in dirty pages are zeros in `current`.
    pub(crate) min_len: usize,
}

impl FileData {
    fn write(&mut self, off: u64, data: &[u8]) -> Result<(), FsError> {
        let end = off
            .checked_add(data.len() as u64)
            .filter(|end| *end <= MAX_FILE_SIZE)
            .ok_or(FsError::FBig)?;
        if data.is_empty() {
            return Ok(());
        }
        let (off, end) = (off as usize, end as usize);
        if self.current.len() < end {
            self.current.resize(end, 0);
        }
        self.current[off..end].copy_from_slice(data);
        self.dirty.extend(off / PAGE..=(end - 1) / PAGE);
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> Result<(), FsError> {
        if len > MAX_FILE_SIZE {
            return Err(FsError::FBig);
        }
        let len = len as usize;
        self.current.resize(len, 0);
        self.min_len = self.min_len.min(len);
        // Pages wholly past the end hold no data any more.
        let _gone = self.dirty.split_off(&len.div_ceil(PAGE));
        Ok(())
    }

    /// fsync / fdatasync: data and size become durable, in
    /// O(dirty pages + growth since the last fsync).
    fn sync(&mut self) {
        let len = self.current.len();
        self.durable.truncate(self.min_len);
        self.durable.resize(len, 0);
        for &page in &self.dirty {
            let start = page * PAGE;
            let end = (start + PAGE).min(len);
            if start < end {
                self.durable[start..end].copy_from_slice(&self.current[start..end]);
            }
        }
        self.dirty.clear();
        self.min_len = len;
    }

    /// Whether current and durable are known to be equal without comparing.
    pub(crate) fn is_clean(&self) -> bool {
        self.dirty.is_empty()
            && self.min_len == self.current.len()
            && self.durable.len() == self.current.len()
    }
}

/// A directory's two views of its entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct DirData {
    pub(crate) current: BTreeMap<OsString, Ino>,
    pub(crate) durable: BTreeMap<OsString, Ino>,
}

/// File or directory contents.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    File(FileData),
    Dir(DirData),
}

/// One inode. Mode and times are kept for `stat` but are not durability-tracked.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub(crate) node: Node,
    pub(crate) perm: u16,
    pub(crate) atime: SystemTime,
    pub(crate) mtime: SystemTime,
    pub(crate) ctime: SystemTime,
    /// Open file and directory handles.
    pub(crate) handles: u32,
}

impl Inode {
    fn new(node: Node, perm: u16) -> Inode {
        let now = SystemTime::now();
        Inode {
            node,
            perm,
            atime: now,
            mtime: now,
            ctime: now,
            handles: 0,
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        match self.node {
            Node::File(_) => Kind::File,
            Node::Dir(_) => Kind::Dir,
        }
    }
}

/// One directory entry as `readdir` returns it.
pub(crate) type DirEntry = (Ino, Kind, OsString);

/// An open handle; directory handles carry the listing taken at `opendir`.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    pub(crate) ino: Ino,
    pub(crate) listing: Option<Vec<DirEntry>>,
}

/// Which view of the namespace to walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    Current,
    Durable,
}

/// The result of walking a namespace from the root.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Every reachable name (not the root), depth first in name order. A
    /// file may appear under several names; a directory appears once.
    pub(crate) entries: Vec<(PathBuf, Ino, Kind)>,
    /// Entries naming a directory already reached by another name (possible
    /// in the durable view after unsynced cross-directory renames).
    pub(crate) dup_dirs: Vec<(Ino, OsString)>,
}

/// The whole file system.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) inodes: HashMap<Ino, Inode>,
    /// Inodes that lost a current name since the last collection, or that
    /// it kept without a current name (still durably named, or open).
    pub(crate) unnamed: usize,
    next_ino: Ino,
    pub(crate) handles: HashMap<u64, Handle>,
    next_fh: u64,
    pub(crate) stats: Stats,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    /// An empty file system: just the root directory (durably there).
    pub(crate) fn new() -> State {
        let mut inodes = HashMap::new();
        inodes.insert(ROOT, Inode::new(Node::Dir(DirData::default()), 0o755));
        State {
            inodes,
            unnamed: 0,
            next_ino: ROOT + 1,
            handles: HashMap::new(),
            next_fh: 1,
            stats: Stats::default(),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats {
            open_handles: self.handles.len() as u64,
            inodes: self.inodes.len() as u64,
            ..self.stats
        }
    }

    fn inode(&self, ino: Ino) -> Result<&Inode, FsError> {
        self.inodes.get(&ino).ok_or(FsError::NoEnt)
    }

    fn inode_mut(&mut self, ino: Ino) -> Result<&mut Inode, FsError> {
        self.inodes.get_mut(&ino).ok_or(FsError::NoEnt)
    }

    fn dir(&self, ino: Ino) -> Result<&DirData, FsError> {
        match &self.inode(ino)?.node {
            Node::Dir(d) => Ok(d),
            Node::File(_) => Err(FsError::NotDir),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> Result<&mut DirData, FsError> {
        match &mut self.inode_mut(ino)?.node {
            Node::Dir(d) => Ok(d),
            Node::File(_) => Err(FsError::NotDir),
        }
    }

    fn file_mut(&mut self, ino: Ino) -> Result<&mut FileData, FsError> {
        match &mut self.inode_mut(ino)?.node {
            Node::File(f) => Ok(f),
            Node::Dir(_) => Err(FsError::IsDir),
        }
    }

    pub(crate) fn attr(&self, ino: Ino) -> Result<Attr, FsError> {
        let inode = self.inode(ino)?;
        let size = match &inode.node {
            Node::File(f) => f.current.len() as u64,
            Node::Dir(d) => d.current.len() as u64,
        };
        Ok(Attr {
            ino,
            kind: inode.kind(),
            size,
            perm: inode.perm,
            atime: inode.atime,
            mtime: inode.mtime,
            ctime: inode.ctime,
        })
    }

    pub(crate) fn lookup(&self, parent: Ino, name: &OsStr) -> Result<Ino, FsError> {
        self.dir(parent)?
            .current
            .get(name)
            .copied()
            .ok_or(FsError::NoEnt)
    }

    fn add_entry(
        &mut self,
        parent: Ino,
        name: &OsStr,
        node: Node,
        perm: u16,
    ) -> Result<Ino, FsError> {
        if self.dir(parent)?.current.contains_key(name) {
            return Err(FsError::Exist);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(ino, Inode::new(node, perm));
        self.dir_mut(parent)?.current.insert(name.to_owned(), ino);
        self.touch(parent);
        Ok(ino)
    }

    fn touch(&mut self, ino: Ino) {
        if let Some(inode) = self.inodes.get_mut(&ino) {
            let now = SystemTime::now();
            inode.mtime = now;
            inode.ctime = now;
        }
    }

    /// Creates an empty regular file (`EEXIST` if the name is taken).
    pub(crate) fn create(&mut self, parent: Ino, name: &OsStr, perm: u16) -> Result<Ino, FsError> {
        self.add_entry(parent, name, Node::File(FileData::default()), perm)
    }

    /// Creates an empty directory (`EEXIST` if the name is taken).
    pub(crate) fn mkdir(&mut self, parent: Ino, name: &OsStr, perm: u16) -> Result<Ino, FsError> {
        self.add_entry(parent, name, Node::Dir(DirData::default()), perm)
    }

    /// Removes a file's name (`EISDIR` for a directory).
    pub(crate) fn unlink(&mut self, parent: Ino, name: &OsStr) -> Result<(), FsError> {
        let ino = self.lookup(parent, name)?;
        if self.inode(ino)?.kind() == Kind::Dir {
            return Err(FsError::IsDir);
        }
        self.dir_mut(parent)?.current.remove(name);
        self.touch(parent);
        self.unnamed += 1;
        self.maybe_gc();
        Ok(())
    }

    /// Removes an empty directory's name (`ENOTDIR`, `ENOTEMPTY`).
    pub(crate) fn rmdir(&mut self, parent: Ino, name: &OsStr) -> Result<(), FsError> {
        let ino = self.lookup(parent, name)?;
        if !self.dir(ino)?.current.is_empty() {
            return Err(FsError::NotEmpty);
        }
        self.dir_mut(parent)?.current.remove(name);
        self.touch(parent);
        self.unnamed += 1;
        self.maybe_gc();
        Ok(())
    }

    /// Renames `parent/name` to `new_parent/new_name` in the current view.
    /// (The kernel has already refused moving a directory into itself.)
    pub(crate) fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        new_parent: Ino,
        new_name: &OsStr,
        mode: RenameMode,
    ) -> Result<(), FsError> {
        let src = self.lookup(parent, name)?;
        let dst = self.dir(new_parent)?.current.get(new_name).copied();
        match (mode, dst) {
            (RenameMode::Exchange, None) => return Err(FsError::NoEnt),
            (RenameMode::Exchange, Some(dst)) => {
                self.dir_mut(parent)?.current.insert(name.to_owned(), dst);
                self.dir_mut(new_parent)?
                    .current
                    .insert(new_name.to_owned(), src);
                self.touch(parent);
                self.touch(new_parent);
                return Ok(());
            }
            (RenameMode::NoReplace, Some(_)) => return Err(FsError::Exist),
            (_, Some(dst)) if dst == src => return Ok(()),
            (_, Some(dst)) => match (self.inode(src)?.kind(), self.inode(dst)?.kind()) {
                (Kind::Dir, Kind::File) => return Err(FsError::NotDir),
                (Kind::File, Kind::Dir) => return Err(FsError::IsDir),
                (Kind::Dir, Kind::Dir) if !self.dir(dst)?.current.is_empty() => {
                    return Err(FsError::NotEmpty)
                }
                _ => {}
            },
            (_, None) => {}
        }
        self.dir_mut(parent)?.current.remove(name);
        self.dir_mut(new_parent)?
            .current
            .insert(new_name.to_owned(), src);
        self.touch(parent);
        self.touch(new_parent);
        if dst.is_some() {
            self.unnamed += 1;
            self.maybe_gc();
        }
        Ok(())
    }

    pub(crate) fn read(&mut self, ino: Ino, off: u64, size: u32) -> Result<&[u8], FsError> {
        self.stats.reads += 1;
        let Node::File(f) = &self.inode(ino)?.node else {
            return Err(FsError::IsDir);
        };
        let len = f.current.len() as u64;
        let start = off.min(len) as usize;
        let end = off.saturating_add(u64::from(size)).min(len) as usize;
        self.stats.bytes_read += (end - start) as u64;
        let Node::File(f) = &self.inode(ino)?.node else {
            return Err(FsError::IsDir);
        };
        Ok(&f.current[start..end])
    }

    pub(crate) fn write(&mut self, ino: Ino, off: u64, data: &[u8]) -> Result<(), FsError> {
        self.file_mut(ino)?.write(off, data)?;
        self.stats.writes += 1;
        self.stats.bytes_written += data.len() as u64;
        self.touch(ino);
        Ok(())
    }

    /// Truncates or extends (with zeros) the current view.
    pub(crate) fn set_len(&mut self, ino: Ino, len: u64) -> Result<(), FsError> {
        self.file_mut(ino)?.set_len(len)?;
        self.touch(ino);
        Ok(())
    }

    /// `fallocate` mode 0: extends with zeros to `off + len` if shorter.
    pub(crate) fn fallocate(&mut self, ino: Ino, off: u64, len: u64) -> Result<(), FsError> {
        let end = off.checked_add(len).ok_or(FsError::FBig)?;
        let file = self.file_mut(ino)?;
        if (file.current.len() as u64) < end {
            file.set_len(end)?;
        }
        Ok(())
    }

    pub(crate) fn set_perm(&mut self, ino: Ino, perm: u16) -> Result<(), FsError> {
        let inode = self.inode_mut(ino)?;
        inode.perm = perm;
        inode.ctime = SystemTime::now();
        Ok(())
    }

    pub(crate) fn set_times(
        &mut self,
        ino: Ino,
        atime: Option<SystemTime>,
        mtime: Option<SystemTime>,
    ) -> Result<(), FsError> {
        let inode = self.inode_mut(ino)?;
        if let Some(t) = atime {
            inode.atime = t;
        }
        if let Some(t) = mtime {
            inode.mtime = t;
        }
        Ok(())
    }

    /// fsync or fdatasync of a file: its data and size become durable (not
    /// its name). On a directory handle the kernel sends `fsyncdir` instead.
    pub(crate) fn fsync(&mut self, ino: Ino) -> Result<(), FsError> {
        self.stats.fsyncs += 1;
        match &mut self.inode_mut(ino)?.node {
            Node::File(f) => f.sync(),
            Node::Dir(_) => return self.fsyncdir(ino),
        }
        Ok(())
    }

    /// fsync of a directory: its current entries become durable.
    pub(crate) fn fsyncdir(&mut self, ino: Ino) -> Result<(), FsError> {
        self.stats.fsyncdirs += 1;
        let dir = self.dir_mut(ino)?;
        if dir.durable != dir.current {
            dir.durable = dir.current.clone();
        }
        self.maybe_gc();
        Ok(())
    }

    pub(crate) fn open(&mut self, ino: Ino) -> Result<u64, FsError> {
        self.inode_mut(ino)?.handles += 1;
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, Handle { ino, listing: None });
        Ok(fh)
    }

    pub(crate) fn opendir(&mut self, ino: Ino) -> Result<u64, FsError> {
        let dir = self.dir(ino)?;
        let mut listing = vec![
            (ino, Kind::Dir, OsString::from(".")),
            (ino, Kind::Dir, OsString::from("..")),
        ];
        for (name, &child) in &dir.current {
            let kind = self.inode(child).map(Inode::kind).unwrap_or(Kind::File);
            listing.push((child, kind, name.clone()));
        }
        let fh = self.open(ino)?;
        if let Some(h) = self.handles.get_mut(&fh) {
            h.listing = Some(listing);
        }
        Ok(fh)
    }

    /// The listing of a directory handle from `offset` on.
    pub(crate) fn listing(&self, fh: u64, offset: u64) -> Result<&[DirEntry], FsError> {
        let listing = self
            .handles
            .get(&fh)
            .and_then(|h| h.listing.as_deref())
            .ok_or(FsError::BadF)?;
        Ok(listing.get(offset as usize..).unwrap_or(&[]))
    }

    pub(crate) fn release(&mut self, fh: u64) -> Result<(), FsError> {
        let handle = self.handles.remove(&fh).ok_or(FsError::BadF)?;
        let inode = self.inode_mut(handle.ino)?;
        inode.handles = inode.handles.saturating_sub(1);
        Ok(())
    }
}
