//! The `Table` handle: its request builders, blocking and awaited.
#![allow(clippy::unwrap_used)]

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use eddy::testing::FaultFs;
use eddy::{AttributeValue, Database, Error, ErrorKind, Item, KeySchema, KeyType, Options};

fn key(i: u32) -> Item {
    Item::new().with("id", format!("k{i}"))
}

fn open(dir: &std::path::Path, options: Options) -> Database {
    let db = Database::open_with(dir, options).unwrap();
    if db.table("items").is_err() {
        db.create_table("items", KeySchema::new("id", KeyType::S))
            .unwrap();
    }
    db
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn a_handle_needs_its_table_and_keeps_the_database_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    let missing = db.table("nope").unwrap_err();
    assert!(matches!(missing, Error::TableNotFound(_)), "{missing:?}");
    let items = db.table("items").unwrap();
    assert_eq!(items.name(), "items");
    drop(db);
    // The handle holds the database.
    items.put(key(1)).run().unwrap();
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1)));
}

#[test]
fn blocking_requests_with_conditions_placeholders_and_old_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    let v1 = key(1).with("n", 1).with("name", "one");
    assert_eq!(
        items
            .put(v1.clone())
            .returning(eddy::ReturnValues::AllOld)
            .run()
            .unwrap(),
        None
    );
    let refused = items
        .put(key(1).with("n", 2))
        .condition("#n < :min")
        .name("#n", "n")
        .value(":min", 0)
        .old_item_on_condition_failure()
        .run()
        .unwrap_err();
    match &refused {
        Error::ConditionalCheckFailed { item } => assert_eq!(item.as_ref(), Some(&v1)),
        other => panic!("expected ConditionalCheckFailed, got {other:?}"),
    }
    let lsn = db.last_lsn();
    let old = items
        .put(key(1).with("n", 2))
        .condition("n = :one")
        .value(":one", 1)
        .returning(eddy::ReturnValues::AllOld)
        .run()
        .unwrap();
    assert_eq!(old, Some(v1));
    assert_eq!(db.last_lsn(), lsn + 1, "one change logged");
    let projected = items
        .get(key(1))
        .projection("#n")
        .name("#n", "n")
        .run()
        .unwrap();
    assert_eq!(projected, Some(Item::new().with("n", 2)));
    let bad = items.put(Item::new().with("other", 1)).run().unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidRequest, "{bad:?}");
    let unused = items.delete(key(1)).value(":unused", 1).run().unwrap_err();
    assert_eq!(unused.kind(), ErrorKind::InvalidRequest, "{unused:?}");
    assert!(items
        .delete(key(1))
        .returning(eddy::ReturnValues::AllOld)
        .run()
        .unwrap()
        .is_some());
    assert_eq!(items.get(key(1)).run().unwrap(), None);
}

#[test]
fn an_awaited_write_is_durable_and_visible_when_it_resolves() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path(), Options::new());
        let items = db.table("items").unwrap();
        runtime().block_on(async {
            for i in 0..20 {
                items.put(key(i).with("n", i)).await.unwrap();
                // Read-your-writes as soon as the future resolves.
                assert_eq!(items.get(key(i)).await.unwrap(), Some(key(i).with("n", i)));
            }
            let old = items
                .delete(key(0))
                .returning(eddy::ReturnValues::AllOld)
                .await
                .unwrap();
            assert_eq!(old, Some(key(0).with("n", 0)));
            let refused = items
                .put(key(1))
                .condition("attribute_not_exists(id)")
                .await
                .unwrap_err();
            assert!(matches!(refused, Error::ConditionalCheckFailed { .. }));
        });
    }
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    assert_eq!(items.get(key(0)).run().unwrap(), None);
    for i in 1..20 {
        assert_eq!(items.get(key(i)).run().unwrap(), Some(key(i).with("n", i)));
    }
}

#[test]
fn concurrent_futures_on_one_thread_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultFs::new());
    let db = open(dir.path(), Options::new().log_fs(fs.clone()));
    let items = db.table("items").unwrap();
    // A slow disk: 100 writes queue while the first fsync runs.
    fs.delay_syncs(Duration::from_millis(50));
    let syncs = fs.sync_data_calls();
    let pending: Vec<_> = (0..100).map(|i| items.put(key(i)).into_future()).collect();
    runtime().block_on(async {
        for p in pending {
            p.await.unwrap();
        }
    });
    fs.clear_faults();
    let used = fs.sync_data_calls() - syncs;
    assert!(used <= 5, "100 writes from one thread took {used} fsyncs");
    for i in 0..100 {
        assert_eq!(items.get(key(i)).run().unwrap(), Some(key(i)));
    }
}

#[test]
fn futures_from_many_tasks_on_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..8u32)
            .map(|t| {
                let items = items.clone();
                tokio::spawn(async move {
                    for i in 0..25 {
                        items.put(key(t * 100 + i)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let page = db.scan("items", &eddy::Scan::default()).unwrap();
    assert_eq!(page.items.len(), 200);
}

#[test]
fn a_dropped_future_does_not_cancel_its_write() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path(), Options::new());
        let items = db.table("items").unwrap();
        let lsn = db.last_lsn();
        drop(items.put(key(7)).into_future());
        // Queued when it became a future: logged and applied all the same.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while items.get(key(7)).run().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "never applied");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(db.last_lsn(), lsn + 1);
        // Its stripe was released: the same item can be written again.
        items.put(key(7).with("again", true)).run().unwrap();
    }
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    assert_eq!(
        items.get(key(7)).run().unwrap(),
        Some(key(7).with("again", true))
    );
}

#[test]
fn a_failed_fsync_fails_the_future_and_poisons_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Arc::new(FaultFs::new());
    let db = open(dir.path(), Options::new().log_fs(fs.clone()));
    let items = db.table("items").unwrap();
    let rt = runtime();
    rt.block_on(items.put(key(1)).into_future()).unwrap();
    fs.fail_next_syncs(1);
    let err = rt.block_on(items.put(key(2)).into_future()).unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Storage);
    fs.clear_faults();
    let later = rt.block_on(items.put(key(3)).into_future()).unwrap_err();
    assert!(matches!(later, Error::Poisoned { .. }), "{later:?}");
    // Reads go on; the acknowledged write is there.
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1)));
    drop(items);
    drop(db);
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1)));
    assert_eq!(
        items.get(key(3)).run().unwrap(),
        None,
        "refused, never logged"
    );
}

#[test]
fn write_futures_are_send_and_static() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    let future = items.put(key(1)).into_future();
    assert_send(&future);
    runtime().block_on(future).unwrap();
}

#[test]
fn updates_typed_with_conditions_and_return_values() {
    use eddy::{ReturnValues, Update};
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    // Creates the item when it is missing.
    let new = items
        .update(key(1), Update::new().add("n", 1).set("s", "a"))
        .returning(ReturnValues::AllNew)
        .run()
        .unwrap();
    assert_eq!(new, Some(key(1).with("n", 1).with("s", "a")));
    let updated = items
        .update(key(1), Update::new().add("n", 41))
        .condition("s = :s")
        .value(":s", "a")
        .returning(ReturnValues::UpdatedNew)
        .run()
        .unwrap();
    assert_eq!(updated, Some(Item::new().with("n", 42)));
    let refused = items
        .update(key(1), Update::new().remove("s"))
        .condition("n < :n")
        .value(":n", 0)
        .run()
        .unwrap_err();
    assert!(
        matches!(refused, Error::ConditionalCheckFailed { .. }),
        "{refused:?}"
    );
    let key_update = items
        .update(key(1), Update::new().set("id", "other"))
        .run()
        .unwrap_err();
    assert_eq!(
        key_update.kind(),
        ErrorKind::InvalidRequest,
        "{key_update:?}"
    );
    let old = runtime()
        .block_on(
            items
                .update(key(1), Update::new().remove("s"))
                .returning(ReturnValues::UpdatedOld)
                .into_future(),
        )
        .unwrap();
    assert_eq!(old, Some(Item::new().with("s", "a")));
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1).with("n", 42)));
}

#[test]
fn queries_and_scans_page_by_page() {
    use eddy::Select;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table(
        "events",
        KeySchema::new("user", KeyType::S).with_sort_key("at", KeyType::N),
    )
    .unwrap();
    let events = db.table("events").unwrap();
    for user in ["ada", "bob"] {
        for at in 0..25 {
            events
                .put(
                    Item::new()
                        .with("user", user)
                        .with("at", at)
                        .with("even", at % 2 == 0),
                )
                .run()
                .unwrap();
        }
    }
    let ada = |page: &eddy::QueryOutput| -> Vec<AttributeValue> {
        page.items
            .iter()
            .map(|i| i.get("at").cloned().unwrap())
            .collect()
    };
    // One page, then the rest through pages().
    let first = events
        .query("#u = :u")
        .name("#u", "user")
        .value(":u", "ada")
        .limit(10)
        .run()
        .unwrap();
    assert_eq!(
        ada(&first),
        (0..10).map(AttributeValue::from).collect::<Vec<_>>()
    );
    assert!(first.last_evaluated_key.is_some());
    let pages: Vec<_> = events
        .query("#u = :u")
        .name("#u", "user")
        .value(":u", "ada")
        .filter("even = :t")
        .value(":t", true)
        .limit(10)
        .pages()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pages.len(), 3, "25 items read 10 at a time");
    let evens: Vec<_> = pages.iter().flat_map(ada).collect();
    assert_eq!(
        evens,
        (0..25)
            .step_by(2)
            .map(AttributeValue::from)
            .collect::<Vec<_>>()
    );
    assert_eq!(pages.iter().map(|p| p.scanned_count).sum::<usize>(), 25);
    // Descending, awaited.
    let last = runtime()
        .block_on(
            events
                .query("#u = :u AND #t >= :from")
                .name("#u", "user")
                .name("#t", "at")
                .value(":u", "bob")
                .value(":from", 23)
                .descending()
                .into_future(),
        )
        .unwrap();
    assert_eq!(ada(&last), vec![24.into(), 23.into()]);
    // A scan of every page sees every item once; counts only.
    let scanned: usize = events
        .scan()
        .limit(7)
        .pages()
        .map(|p| p.unwrap().items.len())
        .sum();
    assert_eq!(scanned, 50);
    let counted = events.scan().select(Select::Count).run().unwrap();
    assert_eq!((counted.count, counted.items.len()), (50, 0));
    let segments: usize = (0..3)
        .map(|s| {
            events
                .scan()
                .segment(s, 3)
                .pages()
                .map(|p| p.unwrap().count)
                .sum::<usize>()
        })
        .sum();
    assert_eq!(segments, 50);
    // A bad expression stops the pages at the first error.
    let mut bad = events.query("user = ").pages();
    assert_eq!(
        bad.next().unwrap().unwrap_err().kind(),
        ErrorKind::InvalidRequest
    );
    assert!(bad.next().is_none());
}

#[test]
fn transactions_from_the_same_builders() {
    use eddy::{ReturnValues, Update};
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    db.create_table("stock", KeySchema::new("sku", KeyType::S))
        .unwrap();
    let (items, stock) = (db.table("items").unwrap(), db.table("stock").unwrap());
    let sku = || Item::new().with("sku", "apple");
    stock.put(sku().with("n", 1)).run().unwrap();
    let order = |id: u32| {
        db.transaction()
            .put(items.put(key(id)).condition("attribute_not_exists(id)"))
            .update(
                stock
                    .update(sku(), Update::new().add("n", -1))
                    .condition("n > :zero")
                    .value(":zero", 0),
            )
    };
    let lsn = db.last_lsn();
    order(1).token("t1").run().unwrap();
    assert_eq!(db.last_lsn(), lsn + 2, "one change per item, one group");
    // The same token and actions: done already, nothing written.
    order(1).token("t1").run().unwrap();
    assert_eq!(db.last_lsn(), lsn + 2);
    let mismatch = order(2).token("t1").run().unwrap_err();
    assert_eq!(mismatch.kind(), ErrorKind::Conflict, "{mismatch:?}");
    // Out of stock: cancelled whole, a reason per action.
    match order(2).run().unwrap_err() {
        Error::TransactionCanceled { reasons } => {
            let codes: Vec<_> = reasons.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
        }
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    assert_eq!(items.get(key(2)).run().unwrap(), None);
    assert_eq!(db.last_lsn(), lsn + 2);
    // A condition check on an item the transaction does not write.
    let checked = db
        .transaction()
        .check(
            stock
                .check(sku(), "n >= :one")
                .value(":one", 1)
                .old_item_on_condition_failure(),
        )
        .delete(items.delete(key(1)))
        .run()
        .unwrap_err();
    match checked {
        Error::TransactionCanceled { reasons } => {
            assert_eq!(reasons[0].item, Some(sku().with("n", 0)));
        }
        other => panic!("expected TransactionCanceled, got {other:?}"),
    }
    // Refused before anything is read.
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(other_dir.path(), Options::new());
    let foreign = db
        .transaction()
        .put(other.table("items").unwrap().put(key(3)))
        .run()
        .unwrap_err();
    assert_eq!(foreign.kind(), ErrorKind::InvalidRequest, "{foreign:?}");
    let returning = db
        .transaction()
        .delete(items.delete(key(1)).returning(ReturnValues::AllOld))
        .run()
        .unwrap_err();
    assert_eq!(returning.kind(), ErrorKind::InvalidRequest, "{returning:?}");
    let twice = db
        .transaction()
        .put(items.put(key(1)))
        .delete(items.delete(key(1)))
        .run()
        .unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::InvalidRequest, "{twice:?}");
    let empty = db.transaction().run().unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidRequest, "{empty:?}");
    assert_eq!(db.last_lsn(), lsn + 2, "nothing refused was logged");
}

#[test]
fn awaited_transactions_and_their_tokens() {
    use eddy::Update;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), Options::new());
    let items = db.table("items").unwrap();
    let rt = runtime();
    let add = |n: i64| {
        db.transaction()
            .update(items.update(key(1), Update::new().add("n", n)))
            .put(items.put(key(2)))
    };
    rt.block_on(add(1).token("a").into_future()).unwrap();
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1).with("n", 1)));
    // A dropped future still applies the transaction and records its
    // token: the retry with the token is done already, not done twice.
    drop(add(10).token("b").into_future());
    // Callbacks run in commit order: once a later awaited write is done,
    // so is everything the dropped one had to do.
    rt.block_on(items.put(key(9)).into_future()).unwrap();
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1).with("n", 11)));
    let lsn = db.last_lsn();
    rt.block_on(add(10).token("b").into_future()).unwrap();
    assert_eq!(db.last_lsn(), lsn, "the retry wrote nothing");
    assert_eq!(items.get(key(1)).run().unwrap(), Some(key(1).with("n", 11)));
    // Cancelled, awaited.
    let cancelled = rt
        .block_on(
            db.transaction()
                .delete(items.delete(key(2)).condition("attribute_not_exists(id)"))
                .into_future(),
        )
        .unwrap_err();
    assert!(
        matches!(cancelled, Error::TransactionCanceled { .. }),
        "{cancelled:?}"
    );
    assert_eq!(items.get(key(2)).run().unwrap(), Some(key(2)));
}
