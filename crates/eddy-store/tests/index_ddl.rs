//! Secondary index DDL: creating tables with indexes, adding (with
//! backfill) and removing global indexes, persistence, orphan trees.
#![allow(clippy::unwrap_used)]

mod common;

use common::{open, open_raw_sled, put, query_index_all, scan_index_all, store};
use eddy_model::index::{IndexDef, Projection};
use eddy_model::{Item, KeySchema, KeyType};
use eddy_store::{Error, Query, Scan};

fn schema() -> KeySchema {
    KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
}

fn by_colour() -> IndexDef {
    IndexDef::global("by_colour", KeySchema::new("colour", KeyType::S))
}

fn thing(pk: &str, sk: i64, colour: Option<&str>) -> Item {
    let item = Item::new().with("pk", pk).with("sk", sk).with("n", sk);
    match colour {
        Some(c) => item.with("colour", c),
        None => item,
    }
}

fn colours(i: i64) -> Option<&'static str> {
    match i % 4 {
        0 => Some("red"),
        1 => Some("blue"),
        2 => Some("red"),
        _ => None,
    }
}

#[test]
fn create_table_with_indexes_validates_and_persists() {
    let (dir, store) = store();
    let lsi = IndexDef::local(
        "by_n",
        KeySchema::new("pk", KeyType::S).with_sort_key("n", KeyType::N),
    )
    .with_projection(Projection::KeysOnly);
    let err = store
        .create_table_with_indexes(
            "flat",
            KeySchema::new("pk", KeyType::S),
            vec![lsi.clone()],
            0,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Model(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex"
    );
    assert!(store.list_tables(None, None).0.is_empty());

    let t = store
        .create_table_with_indexes("things", schema(), vec![by_colour(), lsi.clone()], 5)
        .unwrap();
    assert_eq!(t.indexes, vec![by_colour(), lsi]);
    assert_eq!(store.table("things").unwrap(), t);
    put(
        &store,
        &t,
        &[thing("a", 1, Some("red")), thing("a", 2, None)],
    );
    store.flush().unwrap();
    drop(store);

    let store = open(&dir);
    assert_eq!(store.table("things").unwrap(), t);
    let page = store
        .query_index(&t, "by_colour", &Query::new("red"))
        .unwrap();
    assert_eq!(page.items, vec![thing("a", 1, Some("red"))]);
    let (by_n, _) = query_index_all(&store, &t, "by_n", &Query::new("a"));
    assert_eq!(by_n.len(), 2);
    // Plain create_table still works and makes a table without indexes.
    let plain = store.create_table("plain", schema(), 0).unwrap();
    assert!(plain.indexes.is_empty());
}

#[test]
fn add_global_index_backfills_then_maintains() {
    let (dir, store) = store();
    let t = store.create_table("things", schema(), 0).unwrap();
    // More items than one backfill chunk.
    let items: Vec<Item> = (0..700)
        .map(|i| thing(&format!("p{}", i % 5), i, colours(i)))
        .collect();
    put(&store, &t, &items);
    let def = store.add_global_index("things", by_colour()).unwrap();
    assert_eq!(def.indexes, vec![by_colour()]);
    assert_eq!(store.table("things").unwrap(), def);

    let expect = |items: &[Item], colour: &str| {
        let mut out: Vec<Item> = items
            .iter()
            .filter(|i| i.get("colour").and_then(|c| c.as_s()) == Some(colour))
            .cloned()
            .collect();
        out.sort_by_key(|i| {
            (
                i.get("pk").unwrap().as_s().unwrap().to_string(),
                i.get("sk").unwrap().as_n().unwrap().clone(),
            )
        });
        out
    };
    // The definition from before the index was added still works: the
    // store reads the live definition.
    let (red, _) = query_index_all(&store, &t, "by_colour", &Query::new("red").limit(100));
    assert_eq!(red, expect(&items, "red"));
    assert_eq!(red.len(), 350);
    let (blue, _) = query_index_all(&store, &t, "by_colour", &Query::new("blue"));
    assert_eq!(blue, expect(&items, "blue"));

    // From now on writes maintain it.
    let mut items = items;
    items[0] = thing("p0", 0, Some("blue"));
    items[3] = thing("p3", 3, Some("red"));
    put(&store, &t, &[items[0].clone(), items[3].clone()]);
    let (red, _) = query_index_all(&store, &t, "by_colour", &Query::new("red"));
    assert_eq!(red, expect(&items, "red"));
    let (blue, _) = query_index_all(&store, &t, "by_colour", &Query::new("blue"));
    assert_eq!(blue, expect(&items, "blue"));
    assert_eq!(
        store.index_stats("things", "by_colour").unwrap().item_count,
        526
    );
    drop(store);
    let store = open(&dir);
    let (red, _) = scan_index_all(&store, &def, "by_colour", &Scan::new().limit(64));
    assert_eq!(red.len(), 526);
}

#[test]
fn add_global_index_refuses_what_dynamodb_refuses() {
    let (_dir, store) = store();
    let t = store
        .create_table_with_indexes("things", schema(), vec![by_colour()], 0)
        .unwrap();
    put(&store, &t, &[thing("a", 1, Some("red"))]);
    let err = store.add_global_index("things", by_colour()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "One or more parameter values were invalid: Duplicate index name: by_colour"
    );
    let lsi = IndexDef::local(
        "by_n",
        KeySchema::new("pk", KeyType::S).with_sort_key("n", KeyType::N),
    );
    assert!(matches!(
        store.add_global_index("things", lsi),
        Err(Error::Validation(m)) if m.contains("can only be created with the table")
    ));
    assert!(matches!(
        store.add_global_index("nothing", by_colour()),
        Err(Error::TableNotFound(_))
    ));
    for i in 1..20 {
        let index = IndexDef::global(format!("gsi{i}"), KeySchema::new("n", KeyType::N));
        store.add_global_index("things", index).unwrap();
    }
    let err = store
        .add_global_index(
            "things",
            IndexDef::global("gsi20", KeySchema::new("n", KeyType::N)),
        )
        .unwrap_err();
    assert!(err.to_string().contains("limit of 20"), "{err}");
    // A refused index leaves nothing behind.
    let def = store.table("things").unwrap();
    assert_eq!(def.indexes.len(), 20);
    assert!(def.index("gsi20").is_none());
    // Each of the added indexes was backfilled.
    let page = store.query_index(&t, "gsi19", &Query::new(1)).unwrap();
    assert_eq!(page.items, vec![thing("a", 1, Some("red"))]);
}

#[test]
fn remove_global_index_drops_it_durably() {
    let (dir, store) = store();
    let lsi = IndexDef::local(
        "by_n",
        KeySchema::new("pk", KeyType::S).with_sort_key("n", KeyType::N),
    );
    let t = store
        .create_table_with_indexes("things", schema(), vec![by_colour(), lsi], 0)
        .unwrap();
    put(&store, &t, &[thing("a", 1, Some("red"))]);
    let def = store.remove_global_index("things", "by_colour").unwrap();
    assert_eq!(def.indexes.len(), 1);
    let gone = "The table does not have the specified index: by_colour";
    assert!(matches!(
        store.query_index(&t, "by_colour", &Query::new("red")),
        Err(Error::Validation(m)) if m == gone
    ));
    assert!(matches!(
        store.remove_global_index("things", "by_colour"),
        Err(Error::Validation(m)) if m == gone
    ));
    assert!(matches!(
        store.remove_global_index("things", "by_n"),
        Err(Error::Validation(m)) if m.contains("cannot be deleted")
    ));
    // Writes still work, and the index can be added again, from scratch.
    put(&store, &t, &[thing("a", 2, Some("red"))]);
    drop(store);
    let store = open(&dir);
    assert_eq!(store.table("things").unwrap(), def);
    store.add_global_index("things", by_colour()).unwrap();
    let page = store
        .query_index(&t, "by_colour", &Query::new("red"))
        .unwrap();
    assert_eq!(
        page.items,
        vec![thing("a", 1, Some("red")), thing("a", 2, Some("red"))]
    );
}

#[test]
fn deleting_a_table_drops_its_index_trees_and_open_drops_orphans() {
    let (dir, store) = store();
    let t = store
        .create_table_with_indexes("things", schema(), vec![by_colour()], 0)
        .unwrap();
    put(&store, &t, &[thing("a", 1, Some("red"))]);
    let keep = store
        .create_table_with_indexes("kept", schema(), vec![by_colour()], 0)
        .unwrap();
    put(&store, &keep, &[thing("a", 1, Some("red"))]);
    store.delete_table("things").unwrap();
    store.flush().unwrap();
    drop(store);

    let index_trees = |db: &sled::Db| {
        db.tree_names()
            .into_iter()
            .filter(|n| n.starts_with(b"index/"))
            .count()
    };
    {
        let db = open_raw_sled(dir.path());
        assert_eq!(index_trees(&db), 1, "only the kept table's index is left");
        // Simulate a crash in the middle of add_global_index: a filled
        // tree the catalog does not name.
        let mut name = b"index/".to_vec();
        name.extend_from_slice(&keep.id.to_be_bytes());
        name.extend_from_slice(b"half_built");
        db.open_tree(&name).unwrap().insert(b"k", b"v").unwrap();
        db.flush().unwrap();
        assert_eq!(index_trees(&db), 2);
    }
    let store = open(&dir);
    let page = store
        .query_index(&keep, "by_colour", &Query::new("red"))
        .unwrap();
    assert_eq!(page.items.len(), 1);
    store.flush().unwrap();
    drop(store);
    let db = open_raw_sled(dir.path());
    assert_eq!(index_trees(&db), 1, "the orphan was dropped at open");
}
