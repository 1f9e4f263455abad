//! Tags on tables and streams, and a table's server-side settings (TagResource, AddTagsToStream and their
//! kin), kept by resource ARN beside the catalog.
//!
//! Tags are metadata only: they change no item and produce no change
//! record. They are flushed to disk before a call returns, and a table's
//! or stream's tags go with it when it is deleted (the server deletes a
//! stream's through [`Database::clear_tags`]), so a later resource of the
//! same name starts untagged.

use std::collections::BTreeMap;

use crate::db::Database;
use crate::error::Result;

const STATE_PREFIX: &str = "tags/";
const SETTINGS_PREFIX: &str = "settings/";

fn state_key(arn: &str) -> String {
    format!("{STATE_PREFIX}{arn}")
}

impl Database {
    /// Adds tags to a resource, replacing the values of keys it already
    /// has. Limits (how many, how long) are the caller's to check: they
    /// differ between DynamoDB and Kinesis.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let db = eddy::Database::open(dir.path())?;
    /// let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/orders";
    /// db.tag_resource(arn, [("team".to_string(), "payments".to_string())].into())?;
    /// assert_eq!(db.list_tags(arn)?["team"], "payments");
    /// db.untag_resource(arn, &["team".to_string()])?;
    /// assert!(db.list_tags(arn)?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tag_resource(&self, arn: &str, tags: BTreeMap<String, String>) -> Result<()> {
        self.inner.check_writable()?;
        let mut current = self.list_tags(arn)?;
        current.extend(tags);
        self.inner
            .store
            .put_state(&state_key(arn), &eddy_model::codec::encode_tags(&current))?;
        self.inner.store.flush()?;
        Ok(())
    }

    /// Removes tags by key; keys the resource does not have are ignored.
    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<()> {
        self.inner.check_writable()?;
        let mut current = self.list_tags(arn)?;
        for key in keys {
            current.remove(key);
        }
        if current.is_empty() {
            self.inner.store.remove_state(&state_key(arn))?;
        } else {
            self.inner
                .store
                .put_state(&state_key(arn), &eddy_model::codec::encode_tags(&current))?;
        }
        self.inner.store.flush()?;
        Ok(())
    }

    /// A resource's tags, by key.
    pub fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        self.inner.check_open()?;
        match self.inner.store.get_state(&state_key(arn))? {
            Some(bytes) => Ok(eddy_model::codec::decode_tags(&bytes)?),
            None => Ok(BTreeMap::new()),
        }
    }

    /// Removes all of a resource's tags (when it is deleted).
    pub fn clear_tags(&self, arn: &str) -> Result<()> {
        self.inner.check_writable()?;
        self.inner.store.remove_state(&state_key(arn))?;
        self.inner.store.flush()?;
        Ok(())
    }
}

impl Database {
    /// Settings a server keeps with a table that the engine does not act
    /// on (billing mode, provisioned throughput, deletion protection), as
    /// name → value. They go with the table when it is deleted.
    pub fn table_settings(&self, table: &str) -> Result<BTreeMap<String, String>> {
        self.inner.check_open()?;
        let def = self.inner.store.table(table)?;
        match self.inner.store.get_state(&settings_key(def.id))? {
            Some(bytes) => Ok(eddy_model::codec::decode_tags(&bytes)?),
            None => Ok(BTreeMap::new()),
        }
    }

    /// Replaces a table's settings (see [`Database::table_settings`]);
    /// flushed before this returns.
    pub fn set_table_settings(
        &self,
        table: &str,
        settings: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.inner.check_writable()?;
        let def = self.inner.store.table(table)?;
        self.inner.store.put_state(
            &settings_key(def.id),
            &eddy_model::codec::encode_tags(settings),
        )?;
        self.inner.store.flush()?;
        Ok(())
    }
}

/// Settings are keyed by table id, so a new table of a deleted one's name
/// never sees them.
fn settings_key(table_id: u64) -> String {
    format!("{SETTINGS_PREFIX}{table_id:020}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tags_merge_survive_reopen_and_are_per_resource() {
        let dir = tempfile::tempdir().unwrap();
        let a = "arn:aws:kinesis:us-east-1:000000000000:stream/a";
        let b = "arn:aws:kinesis:us-east-1:000000000000:stream/b";
        {
            let db = Database::open(dir.path()).unwrap();
            db.tag_resource(
                a,
                [("k".into(), "1".into()), ("j".into(), "2".into())].into(),
            )
            .unwrap();
            db.tag_resource(a, [("k".into(), "3".into())].into())
                .unwrap();
            db.tag_resource(b, [("x".into(), "y".into())].into())
                .unwrap();
        }
        let db = Database::open(dir.path()).unwrap();
        let tags = db.list_tags(a).unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags["k"], "3");
        assert_eq!(tags["j"], "2");
        db.clear_tags(a).unwrap();
        assert!(db.list_tags(a).unwrap().is_empty());
        assert_eq!(db.list_tags(b).unwrap()["x"], "y");
    }
}
