//! The catalog image: every table definition, the table id counter and
//! every state record, in one small file rewritten at each durability
//! point.
//!
//! Item changes are in the change log; DDL and state records (streaming
//! destinations and their positions, TTL settings, tags) are not. So that
//! the store can be rebuilt without sled, the store rewrites this image
//! after every flush that makes sled durable (checkpoints, DDL, control
//! plane changes). It is read just before the flush, so it holds nothing
//! sled does not hold durably once the flush returns, and everything an
//! acknowledged call changed.
//! It is read from sled's trees, not from the in-memory catalog, which a
//! DDL call updates only after its flush.

use std::path::{Path, PathBuf};

use eddy_model::codec::{decode_table, encode_table};
use eddy_model::io::LogFs;
use eddy_model::TableDef;

use super::format::{kind, split_sized, FrameReader, FrameWriter};
use crate::catalog::NEXT_TABLE_ID;
use crate::error::{Error, Result};
use crate::{decode_u64, Inner};

/// The catalog image's magic.
const MAGIC: &[u8; 8] = b"EDDYCATL";

/// The catalog image's file name in the snapshot directory.
const FILE: &str = "catalog";

/// What the catalog image holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CatalogImage {
    /// The next table id to allocate.
    pub(crate) next_table_id: u64,
    /// Every table.
    pub(crate) tables: Vec<TableDef>,
    /// Every state record, key and value.
    pub(crate) state: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The image's path in `dir`.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

impl CatalogImage {
    /// Reads the image of what sled holds now.
    pub(crate) fn of(inner: &Inner) -> Result<CatalogImage> {
        let next_table_id = match inner.meta.get(NEXT_TABLE_ID)? {
            Some(v) => decode_u64(&v, "table id counter", NEXT_TABLE_ID)?,
            None => 1,
        };
        let mut tables = Vec::new();
        for entry in inner.catalog.iter() {
            let (key, value) = entry?;
            tables
                .push(decode_table(&value).map_err(|e| Error::corrupt("catalog entry", &key, e))?);
        }
        let mut state = Vec::new();
        for entry in inner.state.iter() {
            let (key, value) = entry?;
            state.push((key.to_vec(), value.to_vec()));
        }
        Ok(CatalogImage {
            next_table_id,
            tables,
            state,
        })
    }

    /// Writes the image durably (temporary file, fsync, rename, directory
    /// fsync).
    pub(crate) fn write(
        &self,
        fs: &dyn LogFs,
        dir: &Path,
    ) -> std::result::Result<(), (PathBuf, std::io::Error)> {
        let path = path(dir);
        let at = |e| (path.clone(), e);
        let mut w = FrameWriter::create(fs, &path, MAGIC, self.next_table_id).map_err(at)?;
        for table in &self.tables {
            w.record(kind::TABLE, &[&encode_table(table)]).map_err(at)?;
        }
        for (key, value) in &self.state {
            let len = (key.len() as u32).to_le_bytes();
            w.record(kind::STATE, &[&len, key, value]).map_err(at)?;
        }
        w.finish().map(|_| ())
    }

    /// Reads the image in `dir`; `None` if there is none.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptFile`] if it does not decode whole.
    pub(crate) fn read(fs: &dyn LogFs, dir: &Path) -> Result<Option<CatalogImage>> {
        let path = path(dir);
        let mut reader = match FrameReader::open(fs, &path, MAGIC) {
            Ok(r) => r,
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut image = CatalogImage {
            next_table_id: reader.value,
            tables: Vec::new(),
            state: Vec::new(),
        };
        while let Some((kind, at, body)) = reader.next_record()? {
            match kind {
                kind::TABLE => image.tables.push(
                    decode_table(body)
                        .map_err(|e| Error::corrupt_file(&path, at, format!("table: {e}")))?,
                ),
                kind::STATE => {
                    let (key, value) = split_sized(body)
                        .ok_or_else(|| Error::corrupt_file(&path, at, "short state record"))?;
                    image.state.push((key.to_vec(), value.to_vec()));
                }
                other => {
                    return Err(Error::corrupt_file(
                        &path,
                        at,
                        format!("record kind {other} in a catalog image"),
                    ))
                }
            }
        }
        Ok(Some(image))
    }
}
