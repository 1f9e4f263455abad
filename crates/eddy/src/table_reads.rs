//! Query and Scan on a [`Table`]: request builders that read one page
//! (`.run()` or `.await`) or every page in turn (`.pages()`).
//!
//! A read never waits for an fsync: it sees every write acknowledged
//! before it began, so awaiting one completes at once.

use std::future::{IntoFuture, Ready};

use eddy_model::{AttributeValue, Item};

use crate::error::Result;
use crate::requests::{ExpressionAttributes, QueryOutput, QueryRequest, ScanRequest, Select};
use crate::table::Table;

impl Table {
    /// Reads one partition (Query), in sort-key order, by a key condition
    /// expression such as `"pk = :p AND begins_with(sk, :prefix)"`.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eddy::{Database, Item, KeySchema, KeyType};
    /// let db = Database::open(dir.path())?;
    /// db.create_table("events", KeySchema::new("user", KeyType::S).with_sort_key("at", KeyType::N))?;
    /// let events = db.table("events")?;
    /// for at in 1..=5 {
    ///     events.put(Item::new().with("user", "ada").with("at", at)).run()?;
    /// }
    /// let page = events
    ///     .query("#u = :u AND #t > :t")
    ///     .name("#u", "user")
    ///     .name("#t", "at")
    ///     .value(":u", "ada")
    ///     .value(":t", 3)
    ///     .descending()
    ///     .run()?;
    /// let ats: Vec<_> = page.items.iter().map(|i| i.get("at").cloned()).collect();
    /// assert_eq!(ats, vec![Some(5.into()), Some(4.into())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self, key_condition: impl Into<String>) -> QueryTable<'_> {
        QueryTable {
            table: self,
            request: QueryRequest {
                table_name: self.name().to_string(),
                key_condition_expression: key_condition.into(),
                ..Default::default()
            },
        }
    }

    /// Reads the whole table (Scan), a page at a time.
    pub fn scan(&self) -> ScanTable<'_> {
        ScanTable {
            table: self,
            request: ScanRequest {
                table_name: self.name().to_string(),
                ..Default::default()
            },
        }
    }
}

/// The options Query and Scan share.
macro_rules! read_methods {
    () => {
        /// Reads this secondary index instead of the table.
        pub fn index(mut self, name: impl Into<String>) -> Self {
            self.request.index_name = Some(name.into());
            self
        }

        /// Keeps only the items this filter expression holds for (applied
        /// after each page is read, as DynamoDB does).
        pub fn filter(mut self, expression: impl Into<String>) -> Self {
            self.request.filter_expression = Some(expression.into());
            self
        }

        /// Returns only these attributes (a projection expression).
        pub fn projection(mut self, expression: impl Into<String>) -> Self {
            self.request.projection_expression = Some(expression.into());
            self
        }

        crate::table::placeholder_methods!();

        /// Reads at most `n` items per page (before the filter).
        pub fn limit(mut self, n: usize) -> Self {
            self.request.limit = Some(n);
            self
        }

        /// Starts after this key: a page's `last_evaluated_key`.
        pub fn start_after(mut self, key: Item) -> Self {
            self.request.exclusive_start_key = Some(key);
            self
        }

        /// What each page returns (items, projected attributes, or only
        /// the counts).
        pub fn select(mut self, select: Select) -> Self {
            self.request.select = select;
            self
        }

        /// Every page in turn, each starting after the last one's
        /// `last_evaluated_key`, until the read is complete.
        pub fn pages(self) -> Pages<'t> {
            let table = self.table;
            let request = self.request;
            Pages {
                next: Some(request.exclusive_start_key.clone()),
                read: Box::new(move |start| {
                    let mut request = request.clone();
                    request.exclusive_start_key = start;
                    Self { table, request }.run()
                }),
            }
        }
    };
}

/// A Query; from [`Table::query`]. Answers one page.
#[must_use = "a request does nothing until .run(), .pages() or .await"]
#[derive(Debug)]
pub struct QueryTable<'t> {
    table: &'t Table,
    request: QueryRequest,
}

impl<'t> QueryTable<'t> {
    read_methods!();

    /// Reads in descending sort-key order (`ScanIndexForward = false`).
    pub fn descending(mut self) -> Self {
        self.request.descending = true;
        self
    }

    /// Reads one page.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`](crate::Error::Validation) for an expression
    /// that does not parse, a placeholder undefined or unused, a key
    /// condition that is not on the key, or an unknown index;
    /// [`Error::TableNotFound`](crate::Error::TableNotFound); storage
    /// errors.
    pub fn run(self) -> Result<QueryOutput> {
        self.table.database().query_with(self.request)
    }
}

/// A Scan; from [`Table::scan`]. Answers one page.
#[must_use = "a request does nothing until .run(), .pages() or .await"]
#[derive(Debug)]
pub struct ScanTable<'t> {
    table: &'t Table,
    request: ScanRequest,
}

impl<'t> ScanTable<'t> {
    read_methods!();

    /// Reads only segment `segment` of `total` (a parallel scan): the
    /// segments hold disjoint shares of the items, together all of them.
    pub fn segment(mut self, segment: u32, total: u32) -> Self {
        self.request.segment = Some((segment, total));
        self
    }

    /// Reads one page.
    ///
    /// # Errors
    ///
    /// As [`QueryTable::run`], and for a segment outside `0..total`.
    pub fn run(self) -> Result<QueryOutput> {
        self.table.database().scan_with(self.request)
    }
}

impl IntoFuture for QueryTable<'_> {
    type Output = Result<QueryOutput>;
    type IntoFuture = Ready<Result<QueryOutput>>;

    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(self.run())
    }
}

impl IntoFuture for ScanTable<'_> {
    type Output = Result<QueryOutput>;
    type IntoFuture = Ready<Result<QueryOutput>>;

    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(self.run())
    }
}

/// Every page of a Query or Scan, from `.pages()`. Ends after the page
/// without a `last_evaluated_key`, or after the first error.
#[must_use = "an iterator does nothing until iterated"]
pub struct Pages<'t> {
    /// Where the next page starts; `None` once done.
    next: Option<Option<Item>>,
    read: Box<dyn FnMut(Option<Item>) -> Result<QueryOutput> + 't>,
}

impl std::fmt::Debug for Pages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("done", &self.next.is_none())
            .finish_non_exhaustive()
    }
}

impl Iterator for Pages<'_> {
    type Item = Result<QueryOutput>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next.take()?;
        let page = (self.read)(start);
        if let Ok(p) = &page {
            if let Some(last) = &p.last_evaluated_key {
                self.next = Some(Some(last.clone()));
            }
        }
        Some(page)
    }
}
