//! Walking the namespace, and collecting the inodes it no longer reaches.
//!
//! A file that is unlinked stays in memory while either view still names it
//! (an unsynced unlink comes back at a cut) or a handle holds it. Finding
//! out which inodes nothing reaches means walking every directory, so the
//! walk is amortised: it runs when the inodes that lost a name since the
//! last one are a sixteenth of all inodes. Run at every unlink and every
//! directory fsync, it made a long campaign (thousands of files) slower
//! with each cycle.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::state::{Ino, Inode, Kind, Node, State, View, Walk, ROOT};

impl State {
    /// Walks a view of the namespace from the root.
    pub(crate) fn walk(&self, view: View) -> Walk {
        let mut walk = Walk::default();
        let mut seen_dirs = HashSet::from([ROOT]);
        let mut stack = vec![(ROOT, PathBuf::new())];
        while let Some((dir_ino, path)) = stack.pop() {
            let Some(Inode {
                node: Node::Dir(dir),
                ..
            }) = self.inodes.get(&dir_ino)
            else {
                continue;
            };
            let entries = match view {
                View::Current => &dir.current,
                View::Durable => &dir.durable,
            };
            let mut subdirs = Vec::new();
            for (name, &ino) in entries {
                let Some(inode) = self.inodes.get(&ino) else {
                    continue;
                };
                let child = path.join(name);
                if inode.kind() == Kind::Dir {
                    if !seen_dirs.insert(ino) {
                        walk.dup_dirs.push((dir_ino, name.clone()));
                        continue;
                    }
                    subdirs.push((ino, child.clone()));
                }
                walk.entries.push((child, ino, inode.kind()));
            }
            stack.extend(subdirs.into_iter().rev());
        }
        walk
    }

    /// A current path of `ino`, for error messages.
    pub(crate) fn path_of(&self, ino: Ino) -> Option<PathBuf> {
        if ino == ROOT {
            return Some(PathBuf::from("."));
        }
        let walk = self.walk(View::Current);
        walk.entries.into_iter().find(|e| e.1 == ino).map(|e| e.0)
    }

    /// Collects unreachable inodes if enough may have piled up (see the
    /// module docs).
    pub(crate) fn maybe_gc(&mut self) {
        if self.unnamed > 0 && self.unnamed * 16 >= self.inodes.len() {
            self.gc();
        }
    }

    /// Frees the inodes that neither view names and no handle holds.
    pub(crate) fn gc(&mut self) {
        let named = self.reach(HashSet::from([ROOT]), false);
        let mut roots = named.clone();
        roots.extend(self.handles.values().map(|h| h.ino));
        let live = self.reach(roots, true);
        self.inodes.retain(|ino, _| live.contains(ino));
        self.unnamed = live.len() - named.len();
    }

    /// Every inode reachable from `roots` through current entries, and
    /// durable ones too if `durable`.
    fn reach(&self, roots: HashSet<Ino>, durable: bool) -> HashSet<Ino> {
        let mut reached = roots;
        let mut stack: Vec<Ino> = reached.iter().copied().collect();
        while let Some(ino) = stack.pop() {
            if let Some(Inode {
                node: Node::Dir(d), ..
            }) = self.inodes.get(&ino)
            {
                let durable = d.durable.values().filter(|_| durable);
                for &child in d.current.values().chain(durable) {
                    if reached.insert(child) {
                        stack.push(child);
                    }
                }
            }
        }
        reached
    }
}
