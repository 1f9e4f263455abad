//! Tags on tables and streams (TagResource, AddTagsToStream and their
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
    /// # Ok::<(), eddy::Error>(())
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

#[cfg(test)]
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
