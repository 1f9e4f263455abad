//! Power cuts: with `--power-cut` the data directory lives on an
//! [`eddy_powercut::PowerCutFs`] mount, and after each SIGKILL the parent
//! also cuts the power: everything the child wrote but did not make durable
//! (file data without an fsync, names without an fsync of their directory)
//! is thrown away before the reopen.
//!
//! A SIGKILL alone leaves the kernel's page cache intact, so it cannot tell
//! whether eddy fsyncs what it must; a cut can. Cuts come in three kinds,
//! chosen per cycle: strict (every unsynced byte dropped), partial (each
//! unsynced 4 KiB page kept with probability one half, as a disk that wrote
//! back part of its cache would) and torn (partial, and one unsynced page
//! torn at a 512-byte boundary).

use std::path::{Path, PathBuf};
use std::time::Duration;

use eddy_powercut::{Cut, CutReport, PowerCutFs};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::common::{CampaignError, Context, Result};

/// How long a cut waits for the killed child's files to be released.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The kinds of cut, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutKind {
    /// Every unsynced byte and name dropped.
    Strict,
    /// Each unsynced page kept with probability 1/2.
    Partial,
    /// Partial, and one unsynced page torn.
    Torn,
}

impl CutKind {
    /// The word the cycle line uses.
    pub fn word(self) -> &'static str {
        match self {
            CutKind::Strict => "strict",
            CutKind::Partial => "partial",
            CutKind::Torn => "torn",
        }
    }
}

/// What the cuts dropped over the campaign.
#[derive(Debug, Default)]
pub struct CutTotals {
    /// Cuts of each kind: strict, partial, torn.
    pub kinds: [u64; 3],
    /// Unsynced pages dropped.
    pub pages_dropped: u64,
    /// Unsynced pages kept by partial cuts.
    pub pages_kept: u64,
    /// Bytes of file content lost.
    pub bytes_dropped: u64,
    /// Unsynced creates, renames and unlinks undone.
    pub names_dropped: u64,
    /// Pages torn.
    pub torn: u64,
    /// Bytes dropped per cut, for the spread.
    pub bytes_per_cut: Vec<u64>,
}

/// The mount and the choice of cuts.
pub struct PowerCuts {
    fs: PowerCutFs,
    /// Keeps the mount point's directory while mounted.
    _mountpoint: tempfile::TempDir,
    rng: StdRng,
    /// Only strict cuts (`--strict-cuts`).
    strict_only: bool,
    /// What the cuts dropped so far.
    pub totals: CutTotals,
}

impl PowerCuts {
    /// Mounts an empty power-cut file system on a new temporary directory;
    /// `strict_only` makes every cut strict.
    pub fn mount(seed: u64, strict_only: bool) -> Result<PowerCuts> {
        let mountpoint = tempfile::Builder::new()
            .prefix("eddy-torture-mnt-")
            .tempdir()
            .ctx(|| "creating the mount point".into())?;
        let fs = PowerCutFs::mount(mountpoint.path()).map_err(|source| CampaignError::PowerCut {
            context: format!(
                "mounting the power-cut file system on {} (FUSE; scripts/setup-fuse.sh installs it)",
                mountpoint.path().display()
            ),
            source,
        })?;
        Ok(PowerCuts {
            fs,
            _mountpoint: mountpoint,
            rng: StdRng::seed_from_u64(seed ^ 0x9_0A7E_C0DE),
            strict_only,
            totals: CutTotals::default(),
        })
    }

    /// The data directory on the mount.
    pub fn data_dir(&self) -> PathBuf {
        self.fs.mountpoint().join("db")
    }

    /// Cuts the power (the child must be dead): drops what was not durable
    /// and remounts. Returns the kind of cut and what it dropped.
    pub fn cut(&mut self) -> Result<(CutKind, CutReport)> {
        let kind = match self.rng.random_range(0..4) {
            _ if self.strict_only => CutKind::Strict,
            0 | 1 => CutKind::Strict,
            2 => CutKind::Partial,
            _ => CutKind::Torn,
        };
        let cut = match kind {
            CutKind::Strict => Cut::strict(),
            CutKind::Partial => Cut::strict().keep_unsynced_pages(0.5),
            CutKind::Torn => Cut::strict().keep_unsynced_pages(0.5).tear_one_page(true),
        }
        .seed(self.rng.random());
        let report =
            self.fs
                .cut_power(&cut, RELEASE_TIMEOUT)
                .map_err(|source| CampaignError::PowerCut {
                    context: format!("cutting the power ({})", kind.word()),
                    source,
                })?;
        let t = &mut self.totals;
        t.kinds[kind as usize] += 1;
        t.pages_dropped += report.unsynced_pages_dropped;
        t.pages_kept += report.unsynced_pages_kept;
        t.bytes_dropped += report.bytes_dropped;
        t.names_dropped += report.names_dropped;
        t.torn += u64::from(report.torn.is_some());
        t.bytes_per_cut.push(report.bytes_dropped);
        Ok((kind, report))
    }

    /// Writes what would survive a cut now to `dir`, for inspection after a
    /// failure.
    pub fn keep_image(&self, dir: &Path) -> Result<()> {
        self.fs
            .export_durable(dir)
            .map_err(|source| CampaignError::PowerCut {
                context: format!("writing the durable image to {}", dir.display()),
                source,
            })
    }
}

/// One cycle's cut, as the cycle line tells it.
pub fn describe(kind: CutKind, report: &CutReport) -> String {
    let mut text = format!(
        "{} cut: {} B dropped ({} pages dropped, {} kept), {} names undone",
        kind.word(),
        report.bytes_dropped,
        report.unsynced_pages_dropped,
        report.unsynced_pages_kept,
        report.names_dropped
    );
    if let Some(torn) = &report.torn {
        text.push_str(&format!(", torn page: {torn:?}"));
    }
    text
}
