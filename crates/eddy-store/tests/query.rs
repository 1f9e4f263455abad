//! Data tests: apply/get round trips, key conditions, ordering, pagination.
#![allow(clippy::unwrap_used)]

mod common;

use common::{item, n, put, query_all, scan_all, sort_keys, sorted_table, store};
use eddy_model::{AttributeValue, Item, KeySchema, KeyType, Number};
use eddy_store::{Apply, Error, Query, Scan, SortCondition};

fn key(pk: &str, sk: impl Into<AttributeValue>) -> Item {
    Item::new().with("pk", pk).with("sk", sk)
}

fn validation(result: Result<eddy_store::Page, Error>) -> String {
    match result {
        Err(Error::Validation(msg)) => msg,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn apply_get_delete_round_trip() {
    let (_dir, store) = store();
    let t = sorted_table(&store, "items", KeyType::N);
    let k = key("a", 1);
    assert_eq!(store.get(&t, &k).unwrap(), None);

    let v1 = item("a", 1).with("n", 1);
    let v2 = item("a", 1).with("n", 2).with("extra", true);
    let change = |after| Apply {
        table_id: t.id,
        keys: &k,
        after,
    };
    assert_eq!(store.apply(&[change(Some(&v1))]).unwrap(), 1);
    assert_eq!(store.get(&t, &k).unwrap(), Some(v1.clone()));
    // A full after-image replaces the item; applying twice is harmless.
    for _ in 0..2 {
        store.apply(&[change(Some(&v2))]).unwrap();
        assert_eq!(store.get(&t, &k).unwrap(), Some(v2.clone()));
    }
    // Within one call, changes apply in order.
    store
        .apply(&[change(None), change(Some(&v1)), change(None)])
        .unwrap();
    assert_eq!(store.get(&t, &k).unwrap(), None);
    store.apply(&[change(None), change(Some(&v2))]).unwrap();
    assert_eq!(store.get(&t, &k).unwrap(), Some(v2.clone()));

    let got = store
        .get_many(&t, &[key("a", 2), k.clone(), key("b", 1)])
        .unwrap();
    assert_eq!(got, vec![None, Some(v2), None]);

    // Keys are validated.
    for bad in [
        Item::new().with("pk", "a"),
        key("a", "1"),
        key("a", 1).with("x", 1),
        key("", 1),
    ] {
        assert!(
            matches!(store.get(&t, &bad), Err(Error::Validation(_))),
            "{bad:?}"
        );
    }
    // A change whose key does not fit the table fails without writing.
    let bad_keys = Item::new().with("pk", 1).with("sk", 1);
    let good = item("z", 9);
    let good_keys = key("z", 9);
    assert!(store
        .apply(&[
            Apply {
                table_id: t.id,
                keys: &good_keys,
                after: Some(&good),
            },
            Apply {
                table_id: t.id,
                keys: &bad_keys,
                after: None,
            },
        ])
        .is_err());
    assert_eq!(store.get(&t, &good_keys).unwrap(), None);
}

#[test]
fn flushed_data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let t = {
        let store = common::open(&dir);
        let t = sorted_table(&store, "durable", KeyType::S);
        put(&store, &t, &[item("a", "x"), item("a", "y")]);
        store.checkpoint(2).unwrap();
        t
    };
    let store = common::open(&dir);
    assert_eq!(store.checkpoint_lsn().unwrap(), 2);
    let (items, _) = query_all(&store, &t, &Query::new("a"));
    assert_eq!(items, vec![item("a", "x"), item("a", "y")]);
}

const NUMBERS: [&str; 14] = [
    "-1000", "-10", "-2.5", "-2", "-1", "-0.5", "-0.001", "0", "0.25", "1", "1.5", "2", "10",
    "100.125",
];

fn numeric_store() -> (tempfile::TempDir, eddy_store::Store, eddy_model::TableDef) {
    let (dir, store) = store();
    let t = sorted_table(&store, "numbers", KeyType::N);
    // Written in a scrambled order, plus neighbouring partitions.
    let mut items: Vec<Item> = NUMBERS.iter().rev().map(|s| item("p", n(s))).collect();
    items.swap(0, 5);
    items.push(item("o", 0));
    items.push(item("q", 0));
    items.push(item("p\0", 0));
    items.push(item("pp", 0));
    put(&store, &t, &items);
    (dir, store, t)
}

fn num(s: &str) -> Number {
    s.parse().unwrap()
}

#[test]
fn every_sort_condition_on_numbers() {
    let (_dir, store, t) = numeric_store();
    let all: Vec<Number> = NUMBERS.iter().map(|s| num(s)).collect();
    let expect = |f: &dyn Fn(&Number) -> bool| -> Vec<AttributeValue> {
        all.iter()
            .filter(|x| f(x))
            .cloned()
            .map(AttributeValue::N)
            .collect()
    };
    let run = |c: Option<SortCondition>| {
        let mut q = Query::new("p");
        if let Some(c) = c {
            q = q.sort(c);
        }
        sort_keys(&store.query(&t, &q).unwrap().items)
    };
    assert_eq!(run(None), expect(&|_| true));
    for pivot in ["-2.5", "-2", "0", "0.3", "1.5", "-5000", "5000", "-0.001"] {
        let p = num(pivot);
        let v = n(pivot);
        assert_eq!(
            run(Some(SortCondition::Eq(v.clone()))),
            expect(&|x| *x == p)
        );
        assert_eq!(run(Some(SortCondition::Lt(v.clone()))), expect(&|x| *x < p));
        assert_eq!(
            run(Some(SortCondition::Le(v.clone()))),
            expect(&|x| *x <= p)
        );
        assert_eq!(run(Some(SortCondition::Gt(v.clone()))), expect(&|x| *x > p));
        assert_eq!(
            run(Some(SortCondition::Ge(v.clone()))),
            expect(&|x| *x >= p)
        );
    }
    for (lo, hi) in [("-2", "1"), ("-2.5", "-2.5"), ("-0.6", "0.3"), ("2", "1e9")] {
        let (l, h) = (num(lo), num(hi));
        assert_eq!(
            run(Some(SortCondition::Between(n(lo), n(hi)))),
            expect(&|x| *x >= l && *x <= h),
            "between {lo} and {hi}"
        );
    }
    // Reverse order is descending numeric order.
    let page = store.query(&t, &Query::new("p").reverse()).unwrap();
    let mut desc = expect(&|_| true);
    desc.reverse();
    assert_eq!(sort_keys(&page.items), desc);
    let page = store
        .query(
            &t,
            &Query::new("p").sort(SortCondition::Lt(n("0"))).reverse(),
        )
        .unwrap();
    assert_eq!(
        sort_keys(&page.items),
        ["-0.001", "-0.5", "-1", "-2", "-2.5", "-10", "-1000"].map(n)
    );
}

#[test]
fn invalid_queries_are_refused() {
    let (_dir, store, t) = numeric_store();
    let msg = validation(store.query(
        &t,
        &Query::new("p").sort(SortCondition::Between(n("5"), n("1"))),
    ));
    assert!(
        msg.starts_with("Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "),
        "{msg}"
    );
    assert!(msg.contains("{N:5}") && msg.contains("{N:1}"), "{msg}");
    let msg = validation(store.query(
        &t,
        &Query::new("p").sort(SortCondition::BeginsWith("1".into())),
    ));
    assert!(msg.contains("begins_with"), "{msg}");
    let msg = validation(store.query(&t, &Query::new(1)));
    assert!(
        msg.contains("Condition parameter type does not match schema type"),
        "{msg}"
    );
    validation(store.query(&t, &Query::new("p").sort(SortCondition::Eq("1".into()))));
    validation(store.query(&t, &Query::new("")));
    validation(store.query(&t, &Query::new("p").limit(0)));
    validation(store.scan(&t, &Scan::new().limit(0)));
    // Start keys must be keys of this table, in the queried partition.
    validation(store.query(&t, &Query::new("p").start_after(key("q", 1))));
    validation(store.query(
        &t,
        &Query::new("p").start_after(Item::new().with("pk", "p")),
    ));
    validation(store.scan(&t, &Scan::new().start_after(key("p", "x"))));

    // A table without a sort key takes no sort condition.
    let h = store
        .create_table("hash_only", KeySchema::new("pk", KeyType::S), 0)
        .unwrap();
    put(&store, &h, &[Item::new().with("pk", "p")]);
    assert_eq!(store.query(&h, &Query::new("p")).unwrap().items.len(), 1);
    for c in [
        SortCondition::Eq(n("1")),
        SortCondition::Ge(n("1")),
        SortCondition::BeginsWith("p".into()),
    ] {
        let msg = validation(store.query(&h, &Query::new("p").sort(c)));
        assert!(msg.contains("Query key condition not supported"), "{msg}");
    }
}

#[test]
fn string_sort_keys_and_begins_with() {
    let (_dir, store) = store();
    let t = sorted_table(&store, "strings", KeyType::S);
    let keys = [
        "\0x",
        "a",
        "a\0",
        "a\0\0",
        "a\0b",
        "a\u{1}",
        "ab",
        "abc",
        "b",
        "\u{ff}",
        "\u{ff}\u{ff}",
    ];
    put(
        &store,
        &t,
        &keys.iter().rev().map(|k| item("p", *k)).collect::<Vec<_>>(),
    );
    put(&store, &t, &[item("p\0", "a"), item("pa", "a")]);
    let strs = |items: &[Item]| -> Vec<String> {
        items
            .iter()
            .map(|i| i.get("sk").unwrap().as_s().unwrap().to_string())
            .collect()
    };
    let q = |c: SortCondition| strs(&store.query(&t, &Query::new("p").sort(c)).unwrap().items);
    // Byte order, not length order.
    assert_eq!(
        strs(&store.query(&t, &Query::new("p")).unwrap().items),
        keys
    );
    let begins = |prefix: &str| -> Vec<String> {
        keys.iter()
            .filter(|k| k.starts_with(prefix))
            .map(|k| k.to_string())
            .collect()
    };
    for prefix in ["a", "a\0", "a\0\0", "ab", "\0", "\u{ff}", "z", "abcd"] {
        assert_eq!(
            q(SortCondition::BeginsWith(prefix.into())),
            begins(prefix),
            "begins_with {prefix:?}"
        );
    }
    assert_eq!(q(SortCondition::Gt("a\0".into())), keys[3..].to_vec());
    assert_eq!(q(SortCondition::Lt("a\0".into())), keys[..2].to_vec());
    assert_eq!(
        q(SortCondition::Between("a".into(), "ab".into())),
        keys[1..7].to_vec()
    );
    assert_eq!(q(SortCondition::Eq("a\0".into())), vec!["a\0".to_string()]);
    // The partition "p" never sees "p\0" or "pa".
    assert_eq!(
        store.query(&t, &Query::new("p\0")).unwrap().items,
        vec![item("p\0", "a")]
    );
}

#[test]
fn binary_sort_keys() {
    let (_dir, store) = store();
    let t = sorted_table(&store, "binary", KeyType::B);
    let keys: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0, 0],
        vec![0, 1],
        vec![0, 0xFF],
        vec![1],
        vec![0xFF],
        vec![0xFF, 0],
        vec![0xFF, 0xFF],
    ];
    put(
        &store,
        &t,
        &keys
            .iter()
            .rev()
            .map(|k| item("p", k.clone()))
            .collect::<Vec<_>>(),
    );
    let bins = |items: Vec<Item>| -> Vec<Vec<u8>> {
        items
            .iter()
            .map(|i| i.get("sk").unwrap().as_b().unwrap().to_vec())
            .collect()
    };
    let q = |query: Query| bins(store.query(&t, &query).unwrap().items);
    assert_eq!(q(Query::new("p")), keys);
    for prefix in [vec![0], vec![0, 0], vec![0xFF], vec![0xFF, 0xFF], vec![2]] {
        let expected: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        assert_eq!(
            q(Query::new("p").sort(SortCondition::BeginsWith(prefix.clone().into()))),
            expected,
            "begins_with {prefix:?}"
        );
    }
    assert_eq!(
        q(Query::new("p").sort(SortCondition::Between(vec![0, 1].into(), vec![0xFF].into()))),
        keys[2..6].to_vec()
    );
    let mut rev = keys.clone();
    rev.reverse();
    assert_eq!(q(Query::new("p").reverse()), rev);
    assert_eq!(
        q(Query::new("p")
            .sort(SortCondition::Ge(vec![0xFF].into()))
            .reverse()),
        rev[..3].to_vec()
    );
}

#[test]
fn limit_pagination_walks_everything_once() {
    let (_dir, store, t) = numeric_store();
    let all: Vec<AttributeValue> = NUMBERS.iter().map(|s| n(s)).collect();
    let mut desc = all.clone();
    desc.reverse();
    for limit in 1..=NUMBERS.len() + 1 {
        let (items, pages) = query_all(&store, &t, &Query::new("p").limit(limit));
        assert_eq!(sort_keys(&items), all, "limit {limit}");
        // DynamoDB returns a key whenever the limit is hit, so an exact
        // multiple costs one extra, empty page.
        assert_eq!(pages, NUMBERS.len() / limit + 1, "limit {limit}");
        let (items, _) = query_all(&store, &t, &Query::new("p").limit(limit).reverse());
        assert_eq!(sort_keys(&items), desc, "reverse, limit {limit}");
        // With a condition too.
        let cond = SortCondition::Between(n("-2"), n("2"));
        let (items, _) = query_all(&store, &t, &Query::new("p").sort(cond.clone()).limit(limit));
        assert_eq!(sort_keys(&items), all[3..12].to_vec());
        let (items, _) = query_all(
            &store,
            &t,
            &Query::new("p").sort(cond).limit(limit).reverse(),
        );
        assert_eq!(sort_keys(&items), desc[2..11].to_vec());
    }
    // The exact-limit page carries a key even though nothing follows.
    let page = store
        .query(&t, &Query::new("p").limit(NUMBERS.len()))
        .unwrap();
    assert_eq!(page.last_evaluated_key, Some(key("p", n("100.125"))));
    let next = store
        .query(&t, &Query::new("p").start_after(key("p", n("100.125"))))
        .unwrap();
    assert!(next.items.is_empty() && next.last_evaluated_key.is_none());
    // A start key need not exist.
    let page = store
        .query(
            &t,
            &Query::new("p").start_after(key("p", n("0.1"))).limit(2),
        )
        .unwrap();
    assert_eq!(sort_keys(&page.items), [n("0.25"), n("1")]);
    let page = store
        .query(
            &t,
            &Query::new("p")
                .start_after(key("p", n("0.1")))
                .reverse()
                .limit(2),
        )
        .unwrap();
    assert_eq!(sort_keys(&page.items), [n("0"), n("-0.001")]);
}

#[test]
fn pages_stop_at_one_megabyte() {
    let (_dir, store) = store();
    let t = sorted_table(&store, "big", KeyType::N);
    let blob = "x".repeat(100_000);
    let items: Vec<Item> = (0..25)
        .map(|i| item("p", i).with("blob", blob.as_str()))
        .collect();
    for chunk in items.chunks(5) {
        put(&store, &t, chunk);
    }
    let page = store.query(&t, &Query::new("p")).unwrap();
    // Ten items are just under 1 MiB; the eleventh reaches it.
    assert_eq!(page.items.len(), 11);
    assert_eq!(page.last_evaluated_key, Some(key("p", 10)));
    let (all, pages) = query_all(&store, &t, &Query::new("p"));
    assert_eq!(all, items);
    assert_eq!(pages, 3);
    let (all, _) = query_all(&store, &t, &Query::new("p").reverse());
    assert_eq!(all, items.iter().rev().cloned().collect::<Vec<_>>());
    // The limit still applies below 1 MB.
    let page = store.query(&t, &Query::new("p").limit(4)).unwrap();
    assert_eq!(page.items.len(), 4);
    let (all, pages) = scan_all(&store, &t, &Scan::new());
    assert_eq!((all.len(), pages), (25, 3));
}

#[test]
fn scan_pagination_in_key_order() {
    let (_dir, store) = store();
    let t = sorted_table(&store, "scanned", KeyType::N);
    let mut items = Vec::new();
    for pk in ["b", "a", "a\0", "c"] {
        for sk in [3, -1, 2] {
            items.push(item(pk, sk));
        }
    }
    put(&store, &t, &items);
    let mut expected = items.clone();
    expected.sort_by(|x, y| {
        let kx = t.key_schema.encode_key(x).unwrap();
        let ky = t.key_schema.encode_key(y).unwrap();
        kx.cmp(&ky)
    });
    assert_eq!(expected[0], item("a", -1));
    assert_eq!(expected[3], item("a\0", -1));
    for limit in 1..=13 {
        let (all, _) = scan_all(&store, &t, &Scan::new().limit(limit));
        assert_eq!(all, expected, "limit {limit}");
    }
    let page = store.scan(&t, &Scan::new()).unwrap();
    assert_eq!(page.items, expected);
    assert_eq!(page.last_evaluated_key, None);
    let page = store
        .scan(&t, &Scan::new().start_after(key("b", 0)).limit(2))
        .unwrap();
    assert_eq!(page.items, vec![item("b", 2), item("b", 3)]);
}
