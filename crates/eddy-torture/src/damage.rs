//! Losing the store: the damage a share of cycles inflicts on the table
//! store between the kill (and cut) and the reopen.
//!
//! eddy's guarantees must not rest on sled's recovery: the change log is
//! the point of durability, and the store can be rebuilt from eddy's own
//! snapshot and the log (`eddy`'s `snapshots` module). So after a kill the
//! campaign sometimes takes sled's files away entirely or overwrites them,
//! and the reopen must rebuild the store and pass every check as if nothing
//! had happened; or it takes the snapshot directory away, and the database
//! must carry on (and write a new snapshot before the log can be cut).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use rand::RngExt;

use crate::common::{Context, Result};

/// Whether what is on disk in `data` can rebuild the store: an item
/// snapshot, or a change log that still starts at its first change.
pub fn rebuildable(data: &Path) -> Result<bool> {
    let names = |dir: &Path| -> Result<Vec<String>> {
        match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<_>>>()
                .ctx(|| format!("listing {}", dir.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).ctx(|| format!("listing {}", dir.display())),
        }
    };
    let snapshot = names(&data.join("snapshot"))?
        .iter()
        .any(|n| n.ends_with(".snap"));
    let whole_log = names(&data.join("log"))?
        .iter()
        .any(|n| n == &format!("{:020}.wal", 1));
    Ok(snapshot || whole_log)
}

/// What a cycle does to the store before the reopen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The store's directory is removed.
    StoreRemoved,
    /// sled's main file is overwritten with garbage, its length kept.
    StoreOverwritten,
    /// The snapshot directory (catalog image, item snapshots) is removed;
    /// the store is intact.
    SnapshotsRemoved,
}

impl Damage {
    /// Every kind, in the order the summary counts them.
    pub const ALL: [Damage; 3] = [
        Damage::StoreRemoved,
        Damage::StoreOverwritten,
        Damage::SnapshotsRemoved,
    ];

    /// A kind at random.
    pub fn pick(rng: &mut impl RngExt) -> Damage {
        Damage::ALL[rng.random_range(0..Damage::ALL.len())]
    }

    /// Its index in [`Damage::ALL`].
    pub fn index(self) -> usize {
        Damage::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }

    /// Whether the reopen must rebuild the store.
    pub fn needs_rebuild(self) -> bool {
        self != Damage::SnapshotsRemoved
    }

    /// Words for the cycle's line.
    pub fn describe(self) -> &'static str {
        match self {
            Damage::StoreRemoved => "the store's directory removed",
            Damage::StoreOverwritten => "sled's file overwritten with garbage",
            Damage::SnapshotsRemoved => "the snapshot directory removed",
        }
    }

    /// Does it to the database in `data`, durably (each file and directory
    /// touched is fsynced, so a later power cut cannot undo it).
    pub fn inflict(self, data: &Path, rng: &mut impl RngExt) -> Result<()> {
        let remove = |dir: &Path| -> Result<()> {
            if dir.exists() {
                std::fs::remove_dir_all(dir).ctx(|| format!("removing {}", dir.display()))?;
            }
            std::fs::File::open(data)
                .and_then(|d| d.sync_all())
                .ctx(|| format!("syncing {}", data.display()))
        };
        match self {
            Damage::StoreRemoved => remove(&data.join("store")),
            Damage::SnapshotsRemoved => remove(&data.join("snapshot")),
            Damage::StoreOverwritten => {
                let file = data.join("store").join("db");
                let len = std::fs::metadata(&file)
                    .ctx(|| format!("reading {}", file.display()))?
                    .len();
                let mut garbage = vec![0u8; len as usize];
                rng.fill(&mut garbage[..]);
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(&file)
                    .ctx(|| format!("opening {}", file.display()))?;
                f.write_all(&garbage)
                    .and_then(|()| f.sync_all())
                    .ctx(|| format!("overwriting {}", file.display()))
            }
        }
    }
}
