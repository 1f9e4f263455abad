//! The `fuser::Filesystem` implementation: translates kernel requests into
//! calls on the shared [`State`] and its errors into errno values.
//!
//! Capabilities: fuser's defaults (async reads, big writes, `FUSE_MAX_PAGES`,
//! so writes arrive in chunks of up to 1 MiB) and deliberately no lock
//! capabilities: without `FUSE_FLOCK_LOCKS`/`FUSE_POSIX_LOCKS` the kernel keeps
//! `flock` and `fcntl` locks itself, which is what a database's `LOCK` file
//! needs. No writeback cache either: every `write(2)` reaches the model at
//! once, so the model's current view is exactly what processes wrote.

use std::ffi::OsStr;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    TimeOrNow, WriteFlags,
};
use parking_lot::Mutex;

use crate::state::{Attr, FsError, Kind, RenameMode, State};

/// Attribute and entry cache lifetime. Short, and every cut remounts anyway.
const TTL: Duration = Duration::from_secs(1);
/// Largest write request the kernel is asked to send.
const MAX_WRITE: u32 = 1 << 20;
/// `FALLOC_FL_KEEP_SIZE`: preallocation without a size change is a no-op here.
const FALLOC_FL_KEEP_SIZE: i32 = 1;

/// The file system served to the kernel; shares the model with the mount handle.
pub(crate) struct PowerCutFuse {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

fn errno(e: FsError) -> Errno {
    match e {
        FsError::NoEnt => Errno::ENOENT,
        FsError::Exist => Errno::EEXIST,
        FsError::NotDir => Errno::ENOTDIR,
        FsError::IsDir => Errno::EISDIR,
        FsError::NotEmpty => Errno::ENOTEMPTY,
        FsError::BadF => Errno::EBADF,
        FsError::FBig => Errno::EFBIG,
    }
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

impl PowerCutFuse {
    fn file_attr(&self, a: &Attr) -> FileAttr {
        let (kind, nlink) = match a.kind {
            Kind::File => (FileType::RegularFile, 1),
            Kind::Dir => (FileType::Directory, 2),
        };
        FileAttr {
            ino: INodeNo(a.ino),
            size: a.size,
            blocks: a.size.div_ceil(512),
            atime: a.atime,
            mtime: a.mtime,
            ctime: a.ctime,
            crtime: a.ctime,
            kind,
            perm: a.perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn attr(&self, state: &State, ino: u64) -> Result<FileAttr, Errno> {
        state.attr(ino).map(|a| self.file_attr(&a)).map_err(errno)
    }

    fn reply_empty(&self, reply: ReplyEmpty, f: impl FnOnce(&mut State) -> Result<(), FsError>) {
        match f(&mut self.state.lock()) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn reply_entry(&self, reply: ReplyEntry, f: impl FnOnce(&mut State) -> Result<u64, FsError>) {
        let mut state = self.state.lock();
        match f(&mut state)
            .map_err(errno)
            .and_then(|ino| self.attr(&state, ino))
        {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }
}

fn perm(mode: u32, umask: u32) -> u16 {
    (mode & !umask & 0o7777) as u16
}

impl Filesystem for PowerCutFuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        if let Err(nearest) = config.set_max_write(MAX_WRITE) {
            let _ = config.set_max_write(nearest);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.reply_entry(reply, |s| s.lookup(parent.0, name));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(&self.state.lock(), ino.0) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut state = self.state.lock();
        let result = (|| {
            if let Some(size) = size {
                state.set_len(ino.0, size)?;
            }
            if let Some(mode) = mode {
                state.set_perm(ino.0, perm(mode, 0))?;
            }
            if atime.is_some() || mtime.is_some() {
                state.set_times(ino.0, atime.map(time), mtime.map(time))?;
            }
            Ok(())
        })();
        match result
            .map_err(errno)
            .and_then(|()| self.attr(&state, ino.0))
        {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & 0o170000 != 0o100000 {
            reply.error(Errno::EPERM);
            return;
        }
        self.reply_entry(reply, |s| s.create(parent.0, name, perm(mode, umask)));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        self.reply_entry(reply, |s| s.mkdir(parent.0, name, perm(mode, umask)));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.reply_empty(reply, |s| s.unlink(parent.0, name));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        self.reply_empty(reply, |s| s.rmdir(parent.0, name));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mode = if flags.is_empty() {
            RenameMode::Replace
        } else if flags == RenameFlags::RENAME_NOREPLACE {
            RenameMode::NoReplace
        } else if flags == RenameFlags::RENAME_EXCHANGE {
            RenameMode::Exchange
        } else {
            reply.error(Errno::EINVAL);
            return;
        };
        self.reply_empty(reply, |s| {
            s.rename(parent.0, name, newparent.0, newname, mode)
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.state.lock().open(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.state.lock().read(ino.0, offset, size) {
            Ok(data) => reply.data(data),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.state.lock().write(ino.0, offset, data) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.reply_empty(reply, |s| s.release(fh.0));
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.reply_empty(reply, |s| s.fsync(ino.0));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.state.lock().opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let state = self.state.lock();
        let entries = match state.listing(fh.0, offset) {
            Ok(entries) => entries,
            Err(e) => {
                reply.error(errno(e));
                return;
            }
        };
        for (i, (ino, kind, name)) in entries.iter().enumerate() {
            let kind = match kind {
                Kind::File => FileType::RegularFile,
                Kind::Dir => FileType::Directory,
            };
            if reply.add(INodeNo(*ino), offset + i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.reply_empty(reply, |s| s.release(fh.0));
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.reply_empty(reply, |s| s.fsyncdir(ino.0));
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let stats = self.state.lock().stats();
        const BLOCKS: u64 = 16 << 20; // 64 GiB of 4 KiB blocks
        const FILES: u64 = 1 << 20;
        reply.statfs(
            BLOCKS,
            BLOCKS / 2,
            BLOCKS / 2,
            FILES,
            FILES.saturating_sub(stats.inodes),
            4096,
            255,
            4096,
        );
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        self.reply_empty(reply, |s| s.attr(ino.0).map(|_| ()));
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let mut state = self.state.lock();
        let result = state
            .create(parent.0, name, perm(mode, umask))
            .and_then(|ino| Ok((ino, state.open(ino)?)));
        match result
            .map_err(errno)
            .and_then(|(ino, fh)| Ok((self.attr(&state, ino)?, fh)))
        {
            Ok((attr, fh)) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        match mode {
            0 => self.reply_empty(reply, |s| s.fallocate(ino.0, offset, length)),
            FALLOC_FL_KEEP_SIZE => self.reply_empty(reply, |s| s.attr(ino.0).map(|_| ())),
            _ => reply.error(Errno::EOPNOTSUPP),
        }
    }
}
