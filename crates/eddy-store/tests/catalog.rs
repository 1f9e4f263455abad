//! Catalog tests: DDL, listing, persistence, ids, and durability metadata.
#![allow(clippy::unwrap_used)]

mod common;

use common::{item, open, put, sorted_table, store};
use eddy_model::{Item, KeySchema, KeyType};
use eddy_store::{Apply, EncodedApply, Error, Scan, Store, StoreOptions, TableStats};

#[test]
fn create_describe_delete() {
    let (_dir, store) = store();
    let schema = KeySchema::new("id", KeyType::N);
    let def = store.create_table("things", schema.clone(), 42).unwrap();
    assert_eq!(def.name, "things");
    assert_eq!(def.key_schema, schema);
    assert_eq!(def.created_micros, 42);
    assert_eq!(store.table("things").unwrap(), def);
    assert_eq!(store.table_by_id(def.id), Some(def.clone()));

    let err = store.create_table("things", schema.clone(), 0).unwrap_err();
    assert!(
        matches!(&err, Error::TableExists(n) if n == "things"),
        "{err}"
    );
    assert_eq!(err.to_string(), "Table already exists: things");

    assert_eq!(store.delete_table("things").unwrap(), def);
    let err = store.table("things").unwrap_err();
    assert!(matches!(&err, Error::TableNotFound(n) if n == "things"));
    assert_eq!(
        err.to_string(),
        "Requested resource not found: Table: things not found"
    );
    assert_eq!(store.table_by_id(def.id), None);
    assert!(matches!(
        store.delete_table("things"),
        Err(Error::TableNotFound(_))
    ));
    assert!(store.list_tables(None, None).0.is_empty());
}

#[test]
fn invalid_names_and_schemas_are_refused() {
    let (_dir, store) = store();
    let schema = KeySchema::new("id", KeyType::S);
    for bad in ["ab", "has space", &"x".repeat(256)] {
        assert!(matches!(
            store.create_table(bad, schema.clone(), 0),
            Err(Error::Model(_))
        ));
    }
    let same = KeySchema::new("a", KeyType::S).with_sort_key("a", KeyType::N);
    assert!(store.create_table("good", same, 0).is_err());
    assert!(store.list_tables(None, None).0.is_empty());
}

#[test]
fn list_tables_paginates_in_name_order() {
    let (_dir, store) = store();
    let names = [
        "delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot",
    ];
    for name in names {
        store
            .create_table(name, KeySchema::new("k", KeyType::S), 0)
            .unwrap();
    }
    let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    sorted.sort();

    let (all, last) = store.list_tables(None, None);
    assert_eq!(all, sorted);
    assert_eq!(last, None);

    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let (page, last) = store.list_tables(start.as_deref(), Some(3));
        assert!(page.len() <= 3);
        seen.extend(page.clone());
        pages += 1;
        match last {
            Some(l) => {
                assert_eq!(Some(&l), page.last());
                start = Some(l);
            }
            None => break,
        }
    }
    assert_eq!(seen, sorted);
    assert_eq!(pages, 3);

    // Exactly filling the page: no last name when nothing follows.
    let (page, last) = store.list_tables(Some("bravo"), Some(5));
    assert_eq!(page.len(), 5);
    assert_eq!(last, None);
    // A start name that is not a table still works, as in DynamoDB.
    let (page, _) = store.list_tables(Some("c"), Some(1));
    assert_eq!(page, vec!["charlie".to_string()]);
    // Limits are clamped to 1..=100.
    assert_eq!(store.list_tables(None, Some(0)).0.len(), 1);
}

#[test]
fn tables_and_items_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let store = open(&dir);
        let a = sorted_table(&store, "orders", KeyType::N);
        let b = store
            .create_table("users", KeySchema::new("id", KeyType::B), 7)
            .unwrap();
        put(&store, &a, &[item("p", 1), item("p", 2)]);
        store.checkpoint(10).unwrap();
        (a, b)
    };
    let store = open(&dir);
    assert_eq!(store.table("orders").unwrap(), a);
    assert_eq!(store.table("users").unwrap(), b);
    assert_eq!(store.table_by_id(b.id), Some(b));
    assert_eq!(
        store.list_tables(None, None).0,
        vec!["orders".to_string(), "users".to_string()]
    );
    let key = Item::new().with("pk", "p").with("sk", 2);
    assert_eq!(store.get(&a, &key).unwrap(), Some(item("p", 2)));
    assert_eq!(store.scan(&a, &Scan::new()).unwrap().items.len(), 2);
}

#[test]
fn ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let schema = KeySchema::new("k", KeyType::S);
    let (first, second) = {
        let store = open(&dir);
        let first = store.create_table("tbl", schema.clone(), 0).unwrap();
        let other = store.create_table("other", schema.clone(), 0).unwrap();
        assert_ne!(first.id, other.id);
        store.delete_table("tbl").unwrap();
        let second = store.create_table("tbl", schema.clone(), 0).unwrap();
        assert!(second.id > other.id, "{second:?} after {other:?}");
        // Delete the newest table, so only the persisted counter remembers
        // its id.
        store.delete_table("tbl").unwrap();
        (first, second)
    };
    let store = open(&dir);
    let third = store.create_table("tbl", schema, 0).unwrap();
    assert!(third.id > second.id && third.id > first.id, "{third:?}");
}

#[test]
fn changes_for_deleted_tables_are_skipped() {
    let (_dir, store) = store();
    let old = sorted_table(&store, "events", KeyType::N);
    put(&store, &old, &[item("p", 1)]);
    store.delete_table("events").unwrap();
    let new = sorted_table(&store, "events", KeyType::N);
    assert_ne!(old.id, new.id);

    let keys = Item::new().with("pk", "p").with("sk", 1);
    let stale = item("p", 1);
    let fresh = item("p", 2);
    let fresh_keys = Item::new().with("pk", "p").with("sk", 2);
    let applied = store
        .apply(&[
            Apply {
                table_id: old.id,
                keys: &keys,
                after: Some(&stale),
            },
            Apply {
                table_id: new.id,
                keys: &fresh_keys,
                after: Some(&fresh),
            },
            Apply {
                table_id: 9_999,
                keys: &keys,
                after: None,
            },
        ])
        .unwrap();
    assert_eq!(applied, 1);
    assert_eq!(store.get(&new, &keys).unwrap(), None);
    assert_eq!(store.get(&new, &fresh_keys).unwrap(), Some(fresh));
    // A definition of the deleted table no longer reaches any data.
    assert!(matches!(
        store.get(&old, &keys),
        Err(Error::TableNotFound(_))
    ));
    assert!(matches!(
        store.scan(&old, &Scan::new()),
        Err(Error::TableNotFound(_))
    ));
}

#[test]
fn deleting_a_table_drops_its_items() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        let t = sorted_table(&store, "gone", KeyType::N);
        put(&store, &t, &[item("p", 1), item("p", 2)]);
        store.delete_table("gone").unwrap();
        let t = sorted_table(&store, "gone", KeyType::N);
        assert_eq!(store.table_stats("gone").unwrap(), TableStats::default());
        assert!(store.scan(&t, &Scan::new()).unwrap().items.is_empty());
    }
    let store = open(&dir);
    assert_eq!(store.table_stats("gone").unwrap().item_count, 0);
}

#[test]
fn table_stats_count_and_size() {
    let (_dir, store) = store();
    let t = sorted_table(&store, "stats", KeyType::N);
    let items = [item("p", 1), item("p", 2), item("q", 1)];
    put(&store, &t, &items);
    let stats = store.table_stats("stats").unwrap();
    assert_eq!(stats.item_count, 3);
    assert_eq!(
        stats.size_bytes,
        items.iter().map(|i| i.size() as u64).sum::<u64>()
    );
    assert!(matches!(
        store.table_stats("nope"),
        Err(Error::TableNotFound(_))
    ));
}

#[test]
fn checkpoint_lsn_persists_and_never_goes_down() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        assert_eq!(store.checkpoint_lsn().unwrap(), 0);
        store.checkpoint(5).unwrap();
        assert_eq!(store.checkpoint_lsn().unwrap(), 5);
        store.checkpoint(3).unwrap();
        assert_eq!(store.checkpoint_lsn().unwrap(), 5);
        store.checkpoint(17).unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.checkpoint_lsn().unwrap(), 17);
    store.checkpoint(16).unwrap();
    assert_eq!(store.checkpoint_lsn().unwrap(), 17);
    store.checkpoint(u64::MAX).unwrap();
    assert_eq!(store.checkpoint_lsn().unwrap(), u64::MAX);
    store.flush().unwrap();
    assert!(store.size_on_disk().unwrap() > 0);
}

#[test]
fn store_is_send_sync_and_shared_by_clones() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<eddy_store::Store>();
    let (_dir, store) = store();
    let t = sorted_table(&store, "shared", KeyType::N);
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let store = store.clone();
            let t = t.clone();
            std::thread::spawn(move || put(&store, &t, &[item("p", i)]))
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    assert_eq!(store.table_stats("shared").unwrap().item_count, 4);
}

#[test]
fn state_records_persist_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.put_state("destination/1", b"one").unwrap();
        store.put_state("destination/2", b"two").unwrap();
        store.put_state("publisher", b"p").unwrap();
        store.remove_state("destination/2").unwrap();
        store.flush().unwrap();
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.get_state("publisher").unwrap(), Some(b"p".to_vec()));
    assert_eq!(store.get_state("missing").unwrap(), None);
    let entries = store.state_with_prefix("destination/").unwrap();
    assert_eq!(
        entries,
        vec![("destination/1".to_string(), b"one".to_vec())]
    );
}

/// `apply_encoded` (the write path's apply, keys encoded by the caller):
/// a lone put and a lone delete, a group, and a change of a deleted table,
/// which is skipped and not counted; reads by encoded key see the same.
#[test]
fn apply_encoded_writes_lone_changes_and_groups_and_skips_deleted_tables() {
    let (_dir, store) = store();
    let table = sorted_table(&store, "events", KeyType::N);
    let gone = sorted_table(&store, "gone", KeyType::N);
    store.delete_table("gone").unwrap();
    let key_of = |sk: i64| Item::new().with("pk", "p").with("sk", sk);
    let encoded = |sk: i64| table.key_schema.encode_key(&key_of(sk)).unwrap();
    let one = item("p", 1);

    let k1 = encoded(1);
    let one_bytes = eddy_model::codec::encode_item(&one);
    let lone = [EncodedApply {
        table_id: table.id,
        key: &k1,
        after: Some(&one),
        encoded_after: Some(&one_bytes),
    }];
    assert_eq!(store.apply_encoded(&lone).unwrap(), 1);
    assert_eq!(store.get(&table, &key_of(1)).unwrap(), Some(one.clone()));
    assert_eq!(
        store.get_by_encoded_key(&table, &k1).unwrap(),
        Some(one.clone())
    );

    let (k2, k3) = (encoded(2), encoded(3));
    let (two, three) = (item("p", 2), item("p", 3));
    let group = [
        EncodedApply {
            table_id: table.id,
            key: &k2,
            after: Some(&two),
            encoded_after: None,
        },
        EncodedApply {
            table_id: gone.id,
            key: &k2,
            after: Some(&two),
            encoded_after: None,
        },
        EncodedApply {
            table_id: table.id,
            key: &k3,
            after: Some(&three),
            encoded_after: None,
        },
        EncodedApply {
            table_id: table.id,
            key: &k1,
            after: None,
            encoded_after: None,
        },
    ];
    assert_eq!(store.apply_encoded(&group).unwrap(), 3);
    assert_eq!(store.get(&table, &key_of(1)).unwrap(), None);
    assert_eq!(store.get(&table, &key_of(2)).unwrap(), Some(two));
    assert_eq!(store.get(&table, &key_of(3)).unwrap(), Some(three));

    let lone_delete = [EncodedApply {
        table_id: table.id,
        key: &k3,
        after: None,
        encoded_after: None,
    }];
    assert_eq!(store.apply_encoded(&lone_delete).unwrap(), 1);
    assert_eq!(store.get_by_encoded_key(&table, &k3).unwrap(), None);
    let lone_gone = [EncodedApply {
        table_id: gone.id,
        key: &k3,
        after: Some(&one),
        encoded_after: None,
    }];
    assert_eq!(store.apply_encoded(&lone_gone).unwrap(), 0);
    assert_eq!(store.table_stats("events").unwrap().item_count, 1);
}
