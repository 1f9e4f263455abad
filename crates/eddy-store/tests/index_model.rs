//! Property test: after random puts, updates and deletes (applied in random
//! groups, with a random suffix replayed as recovery would), every index
//! query agrees with a model computed from the table's items alone.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::query_index_all;
use eddy_model::index::{IndexDef, Projection};
use eddy_model::{AttributeValue, Item, KeySchema, KeyType};
use eddy_store::{Apply, Query, SortCondition, Store, StoreOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// One write: a put of an item with optional (possibly wrongly typed)
/// index attributes, or a delete.
#[derive(Debug, Clone)]
enum Op {
    Put {
        pk: u8,
        sk: i64,
        g: Option<u8>,
        h: Option<i64>,
        v: i64,
    },
    Delete {
        pk: u8,
        sk: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..2, 0i64..5, prop::option::of(0u8..3), prop::option::of(-1i64..4), any::<i64>())
            .prop_map(|(pk, sk, g, h, v)| Op::Put { pk, sk, g, h, v }),
        1 => (0u8..2, 0i64..5).prop_map(|(pk, sk)| Op::Delete { pk, sk }),
    ]
}

fn pk_name(pk: u8) -> String {
    ["a", "b"][pk as usize].to_string()
}

fn key(pk: u8, sk: i64) -> Item {
    Item::new().with("pk", pk_name(pk)).with("sk", sk)
}

/// `g` 0 and 1 are the strings "x" and "y"; 2 is a number (wrong type,
/// so absent from the indexes). `h` -1 is a string (wrong type).
fn item(pk: u8, sk: i64, g: Option<u8>, h: Option<i64>, v: i64) -> Item {
    let mut item = key(pk, sk).with("v", v).with("w", "payload");
    match g {
        Some(0) => item.insert("g", "x"),
        Some(1) => item.insert("g", "y"),
        Some(_) => item.insert("g", 2),
        None => None,
    };
    match h {
        Some(-1) => item.insert("h", "not a number"),
        Some(h) => item.insert("h", h),
        None => None,
    };
    item
}

fn indexes() -> Vec<IndexDef> {
    vec![
        IndexDef::global(
            "by_g_h",
            KeySchema::new("g", KeyType::S).with_sort_key("h", KeyType::N),
        )
        .with_projection(Projection::Include(vec!["v".into()])),
        IndexDef::global("by_g", KeySchema::new("g", KeyType::S))
            .with_projection(Projection::KeysOnly),
        IndexDef::local(
            "by_h",
            KeySchema::new("pk", KeyType::S).with_sort_key("h", KeyType::N),
        ),
    ]
}

fn h_of(item: &Item) -> Option<i64> {
    item.get("h")?.as_n()?.to_string().parse().ok()
}

fn g_is(item: &Item, g: &str) -> bool {
    item.get("g").and_then(AttributeValue::as_s) == Some(g)
}

fn only(item: &Item, names: &[&str]) -> Item {
    names
        .iter()
        .filter_map(|n| item.get(n).map(|v| (*n, v.clone())))
        .collect()
}

/// A condition on `h` and the matching predicate.
fn condition(kind: u8, a: i64, b: i64) -> (Option<SortCondition>, impl Fn(i64) -> bool) {
    let (lo, hi) = (a.min(b), a.max(b));
    let cond = match kind {
        0 => None,
        1 => Some(SortCondition::Ge(a.into())),
        2 => Some(SortCondition::Lt(a.into())),
        3 => Some(SortCondition::Eq(a.into())),
        4 => Some(SortCondition::Gt(a.into())),
        _ => Some(SortCondition::Between(lo.into(), hi.into())),
    };
    let pred = move |h: i64| match kind {
        0 => true,
        1 => h >= a,
        2 => h < a,
        3 => h == a,
        4 => h > a,
        _ => lo <= h && h <= hi,
    };
    (cond, pred)
}

type Case = (Vec<Op>, usize, usize, u8, i64, i64, bool, Option<usize>);

fn check(case: Case) -> Result<(), TestCaseError> {
    let (ops, group, replay_from, kind, a, b, forward, limit) = case;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default().cache_capacity(8 << 20)).unwrap();
    let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
    let t = store
        .create_table_with_indexes("items", schema, indexes(), 0)
        .unwrap();

    let mut model: BTreeMap<(u8, i64), Item> = BTreeMap::new();
    let mut built: Vec<(Item, Option<Item>)> = Vec::new();
    for op in &ops {
        match *op {
            Op::Put { pk, sk, g, h, v } => {
                let it = item(pk, sk, g, h, v);
                model.insert((pk, sk), it.clone());
                built.push((key(pk, sk), Some(it)));
            }
            Op::Delete { pk, sk } => {
                model.remove(&(pk, sk));
                built.push((key(pk, sk), None));
            }
        }
    }
    let changes: Vec<Apply<'_>> = built
        .iter()
        .map(|(keys, after)| Apply {
            table_id: t.id,
            keys,
            after: after.as_ref(),
        })
        .collect();
    for chunk in changes.chunks(group) {
        store.apply(chunk).unwrap();
    }
    // Recovery replays a suffix of the log over a store that already has it.
    store
        .apply(&changes[replay_from.min(changes.len())..])
        .unwrap();

    // Model order is table key order: pk string, then numeric sk.
    let items: Vec<&Item> = model.values().collect();
    let (cond, pred) = condition(kind, a, b);
    for g in ["x", "y"] {
        let mut expected: Vec<(i64, Item)> = items
            .iter()
            .filter(|i| g_is(i, g))
            .filter_map(|i| h_of(i).map(|h| (h, *i)))
            .filter(|(h, _)| pred(*h))
            .map(|(h, i)| (h, only(i, &["pk", "sk", "g", "h", "v"])))
            .collect();
        expected.sort_by_key(|(h, _)| *h);
        let mut expected: Vec<Item> = expected.into_iter().map(|(_, i)| i).collect();
        if !forward {
            expected.reverse();
        }
        let q = Query {
            partition: g.into(),
            sort: cond.clone(),
            forward,
            limit,
            exclusive_start_key: None,
        };
        let (got, _) = query_index_all(&store, &t, "by_g_h", &q);
        prop_assert_eq!(got, expected, "by_g_h {}", g);

        let expected: Vec<Item> = items
            .iter()
            .filter(|i| g_is(i, g))
            .map(|i| only(i, &["pk", "sk", "g"]))
            .collect();
        let q = Query {
            partition: g.into(),
            sort: None,
            forward: true,
            limit,
            exclusive_start_key: None,
        };
        let (got, _) = query_index_all(&store, &t, "by_g", &q);
        prop_assert_eq!(got, expected, "by_g {}", g);
    }
    for pk in 0..2u8 {
        let mut expected: Vec<(i64, Item)> = items
            .iter()
            .filter(|i| i.get("pk").and_then(AttributeValue::as_s) == Some(&pk_name(pk)))
            .filter_map(|i| h_of(i).map(|h| (h, (*i).clone())))
            .filter(|(h, _)| pred(*h))
            .collect();
        expected.sort_by_key(|(h, _)| *h);
        let mut expected: Vec<Item> = expected.into_iter().map(|(_, i)| i).collect();
        if !forward {
            expected.reverse();
        }
        let q = Query {
            partition: pk_name(pk).into(),
            sort: cond.clone(),
            forward,
            limit,
            exclusive_start_key: None,
        };
        let (got, _) = query_index_all(&store, &t, "by_h", &q);
        prop_assert_eq!(got, expected, "by_h {}", pk);
    }
    let with_g = items
        .iter()
        .filter(|i| g_is(i, "x") || g_is(i, "y"))
        .count();
    prop_assert_eq!(
        store.index_stats("items", "by_g").unwrap().item_count,
        with_g as u64
    );
    Ok(())
}

#[test]
fn index_queries_agree_with_a_model_of_the_table() {
    let strategy = (
        prop::collection::vec(op(), 0..60),
        1usize..10,
        0usize..60,
        0u8..6,
        -1i64..5,
        -1i64..5,
        any::<bool>(),
        prop::option::of(1usize..4),
    );
    let mut runner = TestRunner::new(Config {
        cases: 128,
        ..Config::default()
    });
    runner.run(&strategy, check).unwrap();
}
