//! The mount handle: mounting, waiting for handles to close, unmounting and
//! remounting around a power cut.
//!
//! The model lives in this process behind an `Arc<Mutex<State>>` shared with
//! fuser's background thread, so a cut is: wait until the kernel has released
//! every handle, `umount(2)` (which ends the FUSE connection and the serving
//! thread), rewrite the model, mount a fresh session. The remount is what
//! guarantees that no kernel cache (pages, attributes, dentries) can show
//! anything from before the cut.

use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use fuser::{BackgroundSession, Config, MountOption};
use nix::errno::Errno;
use nix::mount::MntFlags;
use parking_lot::Mutex;

use crate::cut::{Cut, CutReport};
use crate::fuse::PowerCutFuse;
use crate::state::State;
use crate::Error;
use crate::Stats;

/// The file system name shown in `/proc/mounts`; also how a stale mount of
/// ours is recognised.
const FSNAME: &str = "eddy-powercut";
/// How long `unmount` and `Drop` wait for handles to be released.
const UNMOUNT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the serving thread to end after the unmount.
const JOIN_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(2);

/// A mounted power-cut file system. Its durable and volatile state live in
/// memory, in this process; FUSE requests are served from a background thread.
#[derive(Debug)]
pub struct PowerCutFs {
    mountpoint: PathBuf,
    state: Arc<Mutex<State>>,
    session: Option<BackgroundSession>,
}

impl PowerCutFs {
    /// Mounts an empty file system at `mountpoint` (an existing directory,
    /// normally empty: what is in it is hidden while mounted).
    ///
    /// A mount point left behind by a crashed earlier run (a FUSE mount of
    /// ours whose server is gone) is lazily unmounted first.
    ///
    /// # Errors
    /// [`Error::Mount`] if `/dev/fuse` is missing, the mount point is not a
    /// directory or is already a mount point, or `mount(2)` fails.
    pub fn mount(mountpoint: &Path) -> Result<PowerCutFs, Error> {
        let mountpoint = std::path::absolute(mountpoint)
            .map_err(|e| mount_error(mountpoint, "cannot make the path absolute", Some(e)))?;
        prepare_mountpoint(&mountpoint)?;
        let state = Arc::new(Mutex::new(State::new()));
        let session = spawn(&mountpoint, Arc::clone(&state))?;
        Ok(PowerCutFs {
            mountpoint,
            state,
            session: Some(session),
        })
    }

    /// The mount point (absolute).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Simulates a power cut: waits (up to `timeout`) until no file or
    /// directory handle is open (a killed process's handles are released
    /// asynchronously by the kernel), unmounts, throws away everything not
    /// durable according to `cut`, and mounts again at the same mount point
    /// serving only what survived. Returns what was dropped.
    ///
    /// # Errors
    /// [`Error::Busy`] if handles stay open (or the mount point stays busy)
    /// past `timeout`; the file system is then still mounted and unchanged.
    /// [`Error::Mount`] if the remount fails (then every later call fails with
    /// [`Error::NotMounted`]); [`Error::Unmount`] if `umount(2)` fails otherwise.
    pub fn cut_power(&mut self, cut: &Cut, timeout: Duration) -> Result<CutReport, Error> {
        if self.session.is_none() {
            return Err(Error::NotMounted {
                mountpoint: self.mountpoint.clone(),
            });
        }
        self.unmount_inner(timeout)?;
        let report = self.state.lock().cut(cut);
        self.session = Some(spawn(&self.mountpoint, Arc::clone(&self.state))?);
        Ok(report)
    }

    /// Writes the durable image (what a power cut now would leave with
    /// [`Cut::strict`]) as ordinary files and directories under `dir`
    /// (created if missing), for post-mortem inspection.
    ///
    /// # Errors
    /// [`Error::Io`] if creating a directory or writing a file fails.
    pub fn export_durable(&self, dir: &Path) -> Result<(), Error> {
        // Copy first: `dir` might even be inside the mount, whose requests
        // need the lock.
        let image: Vec<(PathBuf, Option<Vec<u8>>)> = {
            let state = self.state.lock();
            let image = state.durable_image();
            image
                .into_iter()
                .map(|(p, c)| (p, c.map(<[u8]>::to_vec)))
                .collect()
        };
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        for (rel, content) in image {
            let path = dir.join(rel);
            match content {
                None => fs::create_dir_all(&path).map_err(io_err(&path))?,
                Some(bytes) => fs::write(&path, bytes).map_err(io_err(&path))?,
            }
        }
        Ok(())
    }

    /// Counters: fsync calls, fsyncdir calls, bytes written, open handles, ...
    pub fn stats(&self) -> Stats {
        self.state.lock().stats()
    }

    /// Unmounts (also done on drop, ignoring errors), waiting up to 10 s for
    /// open handles to be released.
    ///
    /// # Errors
    /// [`Error::Busy`] if handles stay open; [`Error::Unmount`] if
    /// `umount(2)` fails. Drop then detaches the mount lazily.
    pub fn unmount(mut self) -> Result<(), Error> {
        self.unmount_inner(UNMOUNT_TIMEOUT)
    }

    /// Waits for handles, unmounts and ends the serving thread. On error the
    /// session stays in place (still mounted).
    fn unmount_inner(&mut self, timeout: Duration) -> Result<(), Error> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        while !self.state.lock().handles.is_empty() {
            if Instant::now() >= deadline {
                self.session = Some(session);
                return Err(self.busy(timeout));
            }
            sleep(POLL);
        }
        loop {
            match nix::mount::umount(&self.mountpoint) {
                Ok(()) => break,
                // Not mounted any more: someone unmounted it behind our back.
                Err(Errno::EINVAL) => break,
                Err(Errno::EBUSY) if Instant::now() < deadline => sleep(POLL),
                Err(Errno::EBUSY) => {
                    self.session = Some(session);
                    return Err(self.busy(timeout));
                }
                Err(e) => {
                    self.session = Some(session);
                    return Err(Error::Unmount {
                        mountpoint: self.mountpoint.clone(),
                        source: e.into(),
                    });
                }
            }
        }
        finish_session(session);
        Ok(())
    }

    fn busy(&self, waited: Duration) -> Error {
        let state = self.state.lock();
        let mut paths: Vec<PathBuf> = state
            .handles
            .values()
            .map(|h| {
                state
                    .path_of(h.ino)
                    .unwrap_or_else(|| PathBuf::from(format!("<deleted inode {}>", h.ino)))
            })
            .collect();
        paths.sort();
        Error::Busy {
            open: paths.len(),
            paths,
            waited,
        }
    }
}

impl Drop for PowerCutFs {
    fn drop(&mut self) {
        if self.session.is_none() {
            return;
        }
        if self.unmount_inner(Duration::from_secs(2)).is_err() {
            // Still busy: detach it so later runs can reuse the directory. The
            // serving thread ends when the last user lets go.
            let _ = nix::mount::umount2(&self.mountpoint, MntFlags::MNT_DETACH);
            drop(self.session.take());
        }
    }
}

/// After a successful `umount(2)` the kernel ends the connection and the
/// serving thread returns; join it, but never hang on it.
fn finish_session(session: BackgroundSession) {
    let deadline = Instant::now() + JOIN_TIMEOUT;
    while !session.guard.is_finished() && Instant::now() < deadline {
        sleep(POLL);
    }
    if session.guard.is_finished() {
        let _ = session.umount_and_join();
    }
    // Otherwise: dropped, the thread is detached and serves nothing more.
}

fn mount_error(mountpoint: &Path, reason: &str, source: Option<io::Error>) -> Error {
    Error::Mount {
        mountpoint: mountpoint.to_path_buf(),
        reason: reason.to_owned(),
        source,
    }
}

/// Starts a FUSE session serving `state` at `mountpoint`.
fn spawn(mountpoint: &Path, state: Arc<Mutex<State>>) -> Result<BackgroundSession, Error> {
    let fs = PowerCutFuse {
        state,
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
    };
    let mut config = Config::default();
    config.mount_options = vec![MountOption::FSName(FSNAME.to_owned())];
    fuser::spawn_mount(fs, mountpoint, &config)
        .map_err(|e| mount_error(mountpoint, "mount failed", Some(e)))
}

/// Checks the mount point; lazily unmounts a dead FUSE mount of ours.
fn prepare_mountpoint(mountpoint: &Path) -> Result<(), Error> {
    if !Path::new("/dev/fuse").exists() {
        return Err(mount_error(
            mountpoint,
            "/dev/fuse missing (no FUSE in this kernel or container)",
            None,
        ));
    }
    match fs::metadata(mountpoint) {
        Ok(meta) if !meta.is_dir() => Err(mount_error(mountpoint, "not a directory", None)),
        Ok(meta) => {
            let parent = fs::metadata(mountpoint.join(".."))
                .map_err(|e| mount_error(mountpoint, "cannot stat its parent", Some(e)))?;
            if parent.dev() != meta.dev() {
                return Err(mount_error(
                    mountpoint,
                    "already a mount point (another PowerCutFs mounted there?)",
                    None,
                ));
            }
            Ok(())
        }
        Err(e) if e.raw_os_error() == Some(Errno::ENOTCONN as i32) => {
            if !is_our_mount(mountpoint) {
                return Err(mount_error(
                    mountpoint,
                    "a dead FUSE mount of another file system is there",
                    Some(e),
                ));
            }
            // Ours, and its server is gone (a crashed earlier run): safe to detach.
            nix::mount::umount2(mountpoint, MntFlags::MNT_DETACH).map_err(|errno| {
                mount_error(
                    mountpoint,
                    "cannot detach a dead earlier mount",
                    Some(errno.into()),
                )
            })
        }
        Err(e) => Err(mount_error(
            mountpoint,
            "cannot stat the mount point",
            Some(e),
        )),
    }
}

/// Whether `/proc/self/mountinfo` lists a mount of ours at `mountpoint`.
fn is_our_mount(mountpoint: &Path) -> bool {
    let Ok(info) = fs::read("/proc/self/mountinfo") else {
        return false;
    };
    let canonical = match (mountpoint.parent(), mountpoint.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or_else(|_| mountpoint.to_path_buf()),
        _ => mountpoint.to_path_buf(),
    };
    info.split(|&b| b == b'\n').any(|line| {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == b"-") else {
            return false;
        };
        let point = fields.get(4).map(|p| unescape(p));
        let source = fields.get(sep + 2).copied();
        point.as_deref() == Some(canonical.as_os_str().as_bytes())
            && source == Some(FSNAME.as_bytes())
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        });
        match (field[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}
