//! Time to Live: items whose TTL attribute (epoch seconds) has passed are
//! deleted in the background, with a change record DynamoDB marks as a
//! service deletion.
//!
//! As in DynamoDB, expiry is lazy: an expired item stays readable until the
//! sweeper deletes it, values that are not numbers are ignored, and so are
//! times more than five years in the past. Each deletion goes through the
//! normal write path (the item is locked and checked again, so a write that
//! renewed it in the meantime wins) with [`ChangeOrigin::TimeToLive`], so
//! its change record carries `userIdentity: {"type":"Service",
//! "principalId":"dynamodb.amazonaws.com"}` in streams.

use std::sync::Arc;

use eddy_model::{AttributeValue, ChangeOrigin, Item};
use eddy_store::Scan;

use crate::db::{Database, Inner};
use crate::error::{Error, Result};
use crate::write::{Mode, Mutation, WriteOp};

const STATE_PREFIX: &str = "ttl/";
/// Expiry times further in the past than this are ignored (DynamoDB: five
/// years).
const MAX_PAST_SECS: u64 = 5 * 365 * 24 * 3600;
/// Items read per sweep page.
const SWEEP_PAGE: usize = 500;

/// A table's TTL setting (DescribeTimeToLive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeToLiveDescription {
    /// `ENABLED` or `DISABLED`.
    pub status: &'static str,
    /// The attribute holding the expiry time, when enabled.
    pub attribute_name: Option<String>,
}

fn state_key(table_id: u64) -> String {
    format!("{STATE_PREFIX}{table_id:020}")
}

/// Whether an item with this TTL value is expired at `now` (epoch seconds).
fn expired(value: Option<&AttributeValue>, now: u64) -> bool {
    let Some(AttributeValue::N(n)) = value else {
        return false;
    };
    let Some(at) = n.to_i64() else {
        return false;
    };
    let Ok(at) = u64::try_from(at) else {
        return false;
    };
    at <= now && now - at <= MAX_PAST_SECS
}

impl Database {
    /// Enables or disables TTL on a table (UpdateTimeToLive).
    pub fn update_time_to_live(
        &self,
        table: &str,
        attribute_name: &str,
        enabled: bool,
    ) -> Result<TimeToLiveDescription> {
        self.inner.check_writable()?;
        eddy_model::value::check_attribute_name(attribute_name)?;
        let def = self.inner.store.table(table)?;
        let current = self.inner.store.get_state(&state_key(def.id))?;
        match (enabled, current) {
            (true, Some(_)) => Err(Error::Validation("TimeToLive is already enabled".into())),
            (false, None) => Err(Error::Validation("TimeToLive is already disabled".into())),
            (true, None) => {
                self.inner
                    .store
                    .put_state(&state_key(def.id), attribute_name.as_bytes())?;
                self.inner.store.flush()?;
                Ok(TimeToLiveDescription {
                    status: "ENABLED",
                    attribute_name: Some(attribute_name.to_string()),
                })
            }
            (false, Some(_)) => {
                self.inner.store.remove_state(&state_key(def.id))?;
                self.inner.store.flush()?;
                Ok(TimeToLiveDescription {
                    status: "DISABLED",
                    attribute_name: None,
                })
            }
        }
    }

    /// A table's TTL setting (DescribeTimeToLive).
    pub fn describe_time_to_live(&self, table: &str) -> Result<TimeToLiveDescription> {
        self.inner.check_open()?;
        let def = self.inner.store.table(table)?;
        Ok(match self.inner.store.get_state(&state_key(def.id))? {
            Some(name) => TimeToLiveDescription {
                status: "ENABLED",
                attribute_name: Some(String::from_utf8_lossy(&name).into_owned()),
            },
            None => TimeToLiveDescription {
                status: "DISABLED",
                attribute_name: None,
            },
        })
    }

    /// Deletes every expired item now (the background sweeper does this
    /// periodically); returns how many were deleted.
    pub fn sweep_expired_items(&self) -> Result<usize> {
        self.inner.check_writable()?;
        self.inner.sweep_expired()
    }
}

impl Inner {
    pub(crate) fn sweep_expired(&self) -> Result<usize> {
        let now = (self.ttl_clock)();
        let mut deleted = 0;
        for table in self.store.list_tables(None, None).0 {
            let Ok(def) = self.store.table(&table) else {
                continue;
            };
            let Some(attribute) = self.store.get_state(&state_key(def.id))? else {
                continue;
            };
            let attribute = String::from_utf8_lossy(&attribute).into_owned();
            let mut scan = Scan::default().limit(SWEEP_PAGE);
            loop {
                let page = self.store.scan(&def, &scan)?;
                let expired_keys: Vec<Item> = page
                    .items
                    .iter()
                    .filter(|item| expired(item.get(&attribute), now))
                    .map(|item| def.key_schema.key_of(item))
                    .collect::<std::result::Result<_, _>>()?;
                for key in expired_keys {
                    let attribute = attribute.clone();
                    let written = self.write_group(
                        vec![WriteOp {
                            table: Arc::new(def.clone()),
                            key,
                            // Checked again under the item's lock: a write
                            // that renewed the item meanwhile keeps it.
                            mutation: Mutation::With(Box::new(move |old| {
                                Ok(old.filter(|i| !expired(i.get(&attribute), now)).cloned())
                            })),
                        }],
                        Mode::FirstError,
                        ChangeOrigin::TimeToLive,
                    )?;
                    deleted += written
                        .iter()
                        .filter(|w| w.old.is_some() && w.new.is_none())
                        .count();
                }
                match page.last_evaluated_key {
                    Some(last) => scan = Scan::default().limit(SWEEP_PAGE).start_after(last),
                    None => break,
                }
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rules() {
        let n = |v: i64| AttributeValue::from(v);
        assert!(expired(Some(&n(100)), 100));
        assert!(!expired(Some(&n(101)), 100));
        assert!(!expired(Some(&"100".into()), 1000), "strings are ignored");
        assert!(!expired(None, 1000));
        assert!(
            !expired(Some(&n(1)), MAX_PAST_SECS + 10),
            "more than five years ago is ignored"
        );
        assert!(!expired(Some(&n(-5)), 1000));
    }
}
