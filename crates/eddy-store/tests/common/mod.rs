//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used, dead_code)]

use eddy_model::{AttributeValue, Item, KeySchema, KeyType, TableDef};
use eddy_store::{Apply, Page, Query, Scan, Store, StoreOptions};
use tempfile::TempDir;

/// A store in a fresh temporary directory (kept alive by the `TempDir`).
pub fn store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    (dir, store)
}

/// Opens (or reopens) the store in `dir`, with a small cache.
pub fn open(dir: &TempDir) -> Store {
    Store::open(dir.path(), StoreOptions::default().cache_capacity(16 << 20)).unwrap()
}

/// A table `pk: S`, `sk: <sort>`.
pub fn sorted_table(store: &Store, name: &str, sort: KeyType) -> TableDef {
    let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", sort);
    store.create_table(name, schema, 1).unwrap()
}

/// A number value from text.
pub fn n(text: &str) -> AttributeValue {
    AttributeValue::number(text).unwrap()
}

/// Puts items through `apply`, as the change log's replay would.
pub fn put(store: &Store, table: &TableDef, items: &[Item]) {
    let keys: Vec<Item> = items
        .iter()
        .map(|i| table.key_schema.key_of(i).unwrap())
        .collect();
    let changes: Vec<Apply<'_>> = items
        .iter()
        .zip(&keys)
        .map(|(item, keys)| Apply {
            table_id: table.id,
            keys,
            after: Some(item),
        })
        .collect();
    assert_eq!(store.apply(&changes).unwrap(), items.len());
}

/// An item `pk`, `sk` plus a marker attribute.
pub fn item(pk: &str, sk: impl Into<AttributeValue>) -> Item {
    Item::new().with("pk", pk).with("sk", sk).with("v", "x")
}

/// The sort key values of a page's items.
pub fn sort_keys(items: &[Item]) -> Vec<AttributeValue> {
    items.iter().map(|i| i.get("sk").unwrap().clone()).collect()
}

/// Runs a query to the end, page by page, checking each page's
/// `last_evaluated_key`; returns the items and the number of pages.
pub fn query_all(store: &Store, table: &TableDef, query: &Query) -> (Vec<Item>, usize) {
    let mut q = query.clone();
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.query(table, &q).unwrap();
        pages += 1;
        check_page(table, &page, q.limit);
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => q.exclusive_start_key = Some(k),
            None => return (out, pages),
        }
        assert!(pages < 10_000, "pagination does not terminate");
    }
}

/// Runs a scan to the end, page by page.
pub fn scan_all(store: &Store, table: &TableDef, scan: &Scan) -> (Vec<Item>, usize) {
    let mut s = scan.clone();
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.scan(table, &s).unwrap();
        pages += 1;
        check_page(table, &page, s.limit);
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => s.exclusive_start_key = Some(k),
            None => return (out, pages),
        }
        assert!(pages < 10_000, "pagination does not terminate");
    }
}

fn check_page(table: &TableDef, page: &Page, limit: Option<usize>) {
    assert_eq!(page.scanned_count, page.items.len());
    if let Some(limit) = limit {
        assert!(page.items.len() <= limit);
        if page.items.len() == limit {
            assert!(page.last_evaluated_key.is_some(), "a full page has a key");
        }
    }
    if let Some(lek) = &page.last_evaluated_key {
        let last = page.items.last().expect("a page with a key has items");
        assert_eq!(lek, &table.key_schema.key_of(last).unwrap());
    }
}

/// Deletes items by key through `apply`.
pub fn delete(store: &Store, table: &TableDef, keys: &[Item]) {
    let changes: Vec<Apply<'_>> = keys
        .iter()
        .map(|keys| Apply {
            table_id: table.id,
            keys,
            after: None,
        })
        .collect();
    assert_eq!(store.apply(&changes).unwrap(), keys.len());
}

/// Runs an index query to the end, page by page, checking each page's
/// `last_evaluated_key` (the index and table key attributes of its last
/// item); returns the items and the number of pages.
pub fn query_index_all(
    store: &Store,
    table: &TableDef,
    index: &str,
    query: &Query,
) -> (Vec<Item>, usize) {
    let mut q = query.clone();
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.query_index(table, index, &q).unwrap();
        pages += 1;
        check_index_page(store, table, index, &page, q.limit);
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => q.exclusive_start_key = Some(k),
            None => return (out, pages),
        }
        assert!(pages < 10_000, "pagination does not terminate");
    }
}

/// Runs an index scan to the end, page by page.
pub fn scan_index_all(
    store: &Store,
    table: &TableDef,
    index: &str,
    scan: &Scan,
) -> (Vec<Item>, usize) {
    let mut s = scan.clone();
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.scan_index(table, index, &s).unwrap();
        pages += 1;
        check_index_page(store, table, index, &page, s.limit);
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(k) => s.exclusive_start_key = Some(k),
            None => return (out, pages),
        }
        assert!(pages < 10_000, "pagination does not terminate");
    }
}

fn check_index_page(
    store: &Store,
    table: &TableDef,
    index: &str,
    page: &Page,
    limit: Option<usize>,
) {
    assert_eq!(page.scanned_count, page.items.len());
    if let Some(limit) = limit {
        assert!(page.items.len() <= limit);
        if page.items.len() == limit {
            assert!(page.last_evaluated_key.is_some(), "a full page has a key");
        }
    }
    if let Some(lek) = &page.last_evaluated_key {
        let live = store.table(&table.name).unwrap();
        let def = live.index(index).unwrap();
        let last = page.items.last().expect("a page with a key has items");
        assert_eq!(Some(lek), def.entry_key_of(&live.key_schema, last).as_ref());
    }
}

/// Opens the store's sled database directly (to inspect or damage it),
/// waiting, as the store's own open does, while the background jobs of a
/// handle just dropped still hold sled's file lock (a sled 0.34 defect,
/// `src/sled_open.rs`).
pub fn open_raw_sled(dir: &std::path::Path) -> sled::Db {
    let started = std::time::Instant::now();
    loop {
        match sled::open(dir) {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < std::time::Duration::from_secs(10) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            other => return other.unwrap(),
        }
    }
}
