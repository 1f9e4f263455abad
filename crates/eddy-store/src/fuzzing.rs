//! Entry points for the cargo-fuzz target `store_snapshot` in `fuzz/` and
//! its replay test (`tests/fuzz_corpus.rs`). **Not a supported API**: it
//! exists only so that fuzzing can reach the readers and writers of the
//! store's own files (item snapshots and the catalog image), which a
//! rebuild reads after a crash or damage. Every function calls the crate's
//! own code unchanged.

use std::path::Path;

use eddy_model::io::LogFs;

use crate::error::{Error, Result};
use crate::snapshot::{self, CatalogImage};

/// The items of a snapshot file: table id, key and stored value each.
pub type SnapshotItems = Vec<(u64, Vec<u8>, Vec<u8>)>;

/// Reads the item snapshot at `path` whole: its LSN and items.
///
/// # Errors
///
/// [`Error::CorruptFile`] (or [`Error::Io`]) as a rebuild would meet it.
pub fn read_snapshot(fs: &dyn LogFs, path: &Path) -> Result<(u64, SnapshotItems)> {
    let mut items = Vec::new();
    let lsn = snapshot::for_each_item(fs, path, |id, key, _item, value| {
        items.push((id, key.to_vec(), value.to_vec()));
        Ok(())
    })?;
    Ok((lsn, items))
}

/// Writes an item snapshot to `path`.
///
/// # Errors
///
/// [`Error::SnapshotWrite`] if the file system refuses.
pub fn write_snapshot(fs: &dyn LogFs, path: &Path, lsn: u64, items: &SnapshotItems) -> Result<u64> {
    snapshot::write_items(fs, path, lsn, items)
        .map_err(|(path, source)| Error::SnapshotWrite { path, source })
}

/// A catalog image's contents: the next table id, the encoded table
/// definitions and the state records.
pub type Image = (u64, Vec<Vec<u8>>, Vec<(Vec<u8>, Vec<u8>)>);

/// Reads the catalog image in `dir` (`None` if there is none).
///
/// # Errors
///
/// [`Error::CorruptFile`] (or [`Error::Io`]) as an open would meet it.
pub fn read_catalog_image(fs: &dyn LogFs, dir: &Path) -> Result<Option<Image>> {
    Ok(CatalogImage::read(fs, dir)?.map(|image| {
        let tables = image
            .tables
            .iter()
            .map(eddy_model::codec::encode_table)
            .collect();
        (image.next_table_id, tables, image.state)
    }))
}

/// Writes a catalog image into `dir`.
///
/// # Errors
///
/// [`Error::Model`] if a table definition does not decode,
/// [`Error::SnapshotWrite`] if the file system refuses.
pub fn write_catalog_image(fs: &dyn LogFs, dir: &Path, image: &Image) -> Result<()> {
    let tables = image
        .1
        .iter()
        .map(|t| eddy_model::codec::decode_table(t))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    CatalogImage {
        next_table_id: image.0,
        tables,
        state: image.2.clone(),
    }
    .write(fs, dir)
    .map_err(|(path, source)| Error::SnapshotWrite { path, source })
}

/// The catalog image's path in `dir`.
pub fn catalog_image_path(dir: &Path) -> std::path::PathBuf {
    snapshot::catalog_image_path(dir)
}
