//! The power cut: how the durable view replaces the current one.
//!
//! A strict cut keeps exactly what was made durable by `fsync`/`fsyncdir`.
//! Real disks are kinder and nastier than that: a volatile write cache may
//! have written back *some* unsynced pages before the power went, and the
//! page being written at the instant of the cut may be torn at a sector
//! boundary. [`Cut`] chooses among these, deterministically from a seed, so a
//! failing crash cycle can be replayed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::state::{FileData, Ino, Kind, Node, State, View, PAGE, ROOT, SECTOR};

/// How a power cut treats data and names that were never made durable.
///
/// Build it from [`Cut::strict`]; the default is strict too.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Cut {
    keep_p: f64,
    tear: bool,
    seed: u64,
}

impl Default for Cut {
    fn default() -> Self {
        Cut::strict()
    }
}

impl Cut {
    /// Drop every unsynced byte, size change and name change.
    pub fn strict() -> Cut {
        Cut {
            keep_p: 0.0,
            tear: false,
            seed: 0,
        }
    }

    /// Keep each unsynced 4 KiB page with probability `p` (clamped to
    /// `0.0..=1.0`), as a disk that wrote back some of its cache before the cut
    /// would. A kept page is copied over the durable content, extending the
    /// durable length to cover it (clipped to the current length; a gap reads
    /// as zeros). Unsynced size changes and names are still dropped.
    pub fn keep_unsynced_pages(mut self, p: f64) -> Cut {
        self.keep_p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self
    }

    /// Tear one unsynced page, chosen at random among all surviving files'
    /// unsynced pages: its first k 512-byte sectors (1 <= k < 8, random) hold
    /// the new data, the rest the durable (old) data. The torn page is not
    /// also subject to [`Cut::keep_unsynced_pages`].
    pub fn tear_one_page(mut self, yes: bool) -> Cut {
        self.tear = yes;
        self
    }

    /// The seed for the random choices (the same seed and the same unsynced
    /// state give the same outcome).
    pub fn seed(mut self, seed: u64) -> Cut {
        self.seed = seed;
        self
    }
}

/// A page that a cut tore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornPage {
    /// The file's path relative to the mount point.
    pub path: PathBuf,
    /// Byte offset of the page in the file (a multiple of 4096).
    pub page_offset: u64,
    /// How many leading 512-byte sectors hold new data (1..=7).
    pub sectors_kept: u32,
}

/// What a power cut dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CutReport {
    /// Files whose visible content changed: different bytes or length, gone,
    /// or back (unlinked but still durably named).
    pub files_changed: u64,
    /// Unsynced pages of surviving files that were thrown away.
    pub unsynced_pages_dropped: u64,
    /// Unsynced pages of surviving files that were kept
    /// ([`Cut::keep_unsynced_pages`]).
    pub unsynced_pages_kept: u64,
    /// Bytes of current file content that differ after the cut or are lost
    /// (a vanished file counts its whole length; a length change counts the
    /// bytes past the shorter length).
    pub bytes_dropped: u64,
    /// Directory entries undone, counted in each directory that survives: an
    /// unsynced create or unlink counts 1, a rename within a directory 2 (3 if
    /// it replaced a name).
    pub names_dropped: u64,
    /// The torn page, if [`Cut::tear_one_page`] found an unsynced page.
    pub torn: Option<TornPage>,
    /// Inodes freed because the durable namespace does not reach them.
    pub inodes_freed: u64,
}

/// SplitMix64: tiny, and stable forever (unlike library RNGs across versions).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0.0..1.0`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// What happens to one unsynced page.
enum Fate {
    Drop,
    Keep,
    Tear(usize),
}

/// Bytes that differ between `a` and `b`, counting the length difference.
fn diff_bytes(a: &[u8], b: &[u8]) -> u64 {
    let common = a.len().min(b.len());
    let mut n = (a.len().max(b.len()) - common) as u64;
    for (ca, cb) in a[..common].chunks(PAGE).zip(b[..common].chunks(PAGE)) {
        if ca != cb {
            n += ca.iter().zip(cb).filter(|(x, y)| x != y).count() as u64;
        }
    }
    n
}

/// The content a file has after the cut.
fn surviving_content(f: &FileData, fates: &[(usize, Fate)]) -> Vec<u8> {
    let mut new = f.durable.clone();
    let len = f.current.len();
    for (page, fate) in fates {
        let start = page * PAGE;
        let end = match fate {
            Fate::Drop => continue,
            Fate::Keep => (start + PAGE).min(len),
            Fate::Tear(k) => (start + k * SECTOR).min(len),
        };
        if new.len() < end {
            new.resize(end, 0);
        }
        new[start..end].copy_from_slice(&f.current[start..end]);
    }
    new
}

impl State {
    /// Simulates a power cut: the namespace becomes the durable entries
    /// walked from the root, each reachable file its durable content (plus
    /// what `cut` keeps), and everything unreachable is freed. Open handles
    /// are forgotten (the caller waits for them to be released first).
    pub(crate) fn cut(&mut self, cut: &Cut) -> CutReport {
        let mut report = CutReport::default();
        let before = self.walk(View::Current);
        let after = self.walk(View::Durable);

        // A directory named twice durably keeps its first name only.
        for (parent, name) in &after.dup_dirs {
            if let Some(Node::Dir(d)) = self.inodes.get_mut(parent).map(|i| &mut i.node) {
                d.durable.remove(name);
            }
        }

        // Names undone, in each surviving directory.
        let mut surviving: HashSet<Ino> = after.entries.iter().map(|e| e.1).collect();
        surviving.insert(ROOT);
        for ino in &surviving {
            if let Some(Node::Dir(d)) = self.inodes.get(ino).map(|i| &i.node) {
                let added = d
                    .current
                    .iter()
                    .filter(|(n, i)| d.durable.get(*n) != Some(i));
                let removed = d
                    .durable
                    .iter()
                    .filter(|(n, i)| d.current.get(*n) != Some(i));
                report.names_dropped += (added.count() + removed.count()) as u64;
            }
        }

        // Surviving files in path order (first name), and their unsynced pages.
        let mut files: Vec<(PathBuf, Ino)> = Vec::new();
        let mut seen = HashSet::new();
        for (path, ino, kind) in &after.entries {
            if *kind == Kind::File && seen.insert(*ino) {
                files.push((path.clone(), *ino));
            }
        }
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        for (i, (_, ino)) in files.iter().enumerate() {
            if let Some(Node::File(f)) = self.inodes.get(ino).map(|n| &n.node) {
                candidates.extend(f.dirty.iter().map(|&page| (i, page)));
            }
        }

        // The random choices, in a fixed order.
        let mut rng = Rng(cut.seed);
        let torn_idx = (cut.tear && !candidates.is_empty()).then(|| rng.below(candidates.len()));
        let mut fates: HashMap<usize, Vec<(usize, Fate)>> = HashMap::new();
        for (idx, &(file_i, page)) in candidates.iter().enumerate() {
            let fate = if Some(idx) == torn_idx {
                let k = 1 + rng.below(PAGE / SECTOR - 1);
                report.torn = Some(TornPage {
                    path: files[file_i].0.clone(),
                    page_offset: (page * PAGE) as u64,
                    sectors_kept: k as u32,
                });
                Fate::Tear(k)
            } else if cut.keep_p > 0.0 && rng.next_f64() < cut.keep_p {
                report.unsynced_pages_kept += 1;
                Fate::Keep
            } else {
                report.unsynced_pages_dropped += 1;
                Fate::Drop
            };
            fates.entry(file_i).or_default().push((page, fate));
        }

        // Apply to the surviving files.
        let visible_before: HashSet<Ino> = before
            .entries
            .iter()
            .filter(|e| e.2 == Kind::File)
            .map(|e| e.1)
            .collect();
        for (i, (_, ino)) in files.iter().enumerate() {
            let Some(Node::File(f)) = self.inodes.get_mut(ino).map(|n| &mut n.node) else {
                continue;
            };
            let was_visible = visible_before.contains(ino);
            if f.is_clean() {
                report.files_changed += u64::from(!was_visible);
                continue;
            }
            let new = surviving_content(f, fates.get(&i).map_or(&[], Vec::as_slice));
            if was_visible {
                let lost = diff_bytes(&f.current, &new);
                report.bytes_dropped += lost;
                report.files_changed += u64::from(lost > 0);
            } else {
                report.files_changed += 1;
            }
            f.current.clone_from(&new);
            f.durable = new;
            f.dirty.clear();
            f.min_len = f.current.len();
        }

        // Files that vanish.
        for ino in &visible_before {
            if !surviving.contains(ino) {
                report.files_changed += 1;
                if let Some(Node::File(f)) = self.inodes.get(ino).map(|n| &n.node) {
                    report.bytes_dropped += f.current.len() as u64;
                }
            }
        }

        // Directories: the durable entries are all there is now.
        for ino in &surviving {
            if let Some(Node::Dir(d)) = self.inodes.get_mut(ino).map(|n| &mut n.node) {
                d.current.clone_from(&d.durable);
            }
        }

        self.handles.clear();
        let count = self.inodes.len();
        self.inodes.retain(|ino, inode| {
            inode.handles = 0;
            surviving.contains(ino)
        });
        report.inodes_freed = (count - self.inodes.len()) as u64;
        self.stats.cuts += 1;
        report
    }

    /// The durable image (what [`Cut::strict`] would leave): every durably
    /// reachable path with its durable content (`None` for a directory).
    pub(crate) fn durable_image(&self) -> Vec<(PathBuf, Option<&[u8]>)> {
        self.walk(View::Durable)
            .entries
            .into_iter()
            .map(|(path, ino, _)| {
                let content = match self.inodes.get(&ino).map(|n| &n.node) {
                    Some(Node::File(f)) => Some(f.durable.as_slice()),
                    _ => None,
                };
                (path, content)
            })
            .collect()
    }
}
