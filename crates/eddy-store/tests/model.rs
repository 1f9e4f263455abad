//! Property test: queries on numeric sort keys agree with a `BTreeMap`
//! model, for random contents, conditions, directions and page sizes.
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;

use common::{query_all, sorted_table};
use eddy_model::arbitrary::arb_number;
use eddy_model::{AttributeValue, Item, KeyType, Number};
use eddy_store::{Apply, Error, Query, SortCondition};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Small decimals, positive and negative, so keys and operands collide.
fn small_number() -> impl Strategy<Value = Number> {
    (-300i64..300, -3i32..3).prop_map(|(m, e)| format!("{m}e{e}").parse().unwrap())
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![4 => small_number(), 1 => arb_number()]
}

/// An operand: a fresh number, or (if `Some`) one of the written sort keys,
/// so conditions often land exactly on stored keys.
type Operand = (Number, Option<prop::sample::Index>);

/// A condition with unresolved operands (see [`resolve`]).
#[derive(Debug, Clone)]
enum Cond {
    None,
    Eq(Operand),
    Lt(Operand),
    Le(Operand),
    Gt(Operand),
    Ge(Operand),
    Between(Operand, Operand),
}

fn condition() -> impl Strategy<Value = Cond> {
    let v = || {
        (
            number(),
            prop::option::weighted(0.6, any::<prop::sample::Index>()),
        )
    };
    prop_oneof![
        1 => Just(Cond::None),
        1 => v().prop_map(Cond::Eq),
        1 => v().prop_map(Cond::Lt),
        1 => v().prop_map(Cond::Le),
        1 => v().prop_map(Cond::Gt),
        1 => v().prop_map(Cond::Ge),
        2 => (v(), v()).prop_map(|(a, b)| Cond::Between(a, b)),
    ]
}

fn resolve(c: &Cond, writes: &[Write]) -> Option<SortCondition> {
    let v = |(n, idx): &Operand| {
        let n = match idx {
            Some(i) if !writes.is_empty() => writes[i.index(writes.len())].1.clone(),
            _ => n.clone(),
        };
        AttributeValue::N(n)
    };
    Some(match c {
        Cond::None => return None,
        Cond::Eq(a) => SortCondition::Eq(v(a)),
        Cond::Lt(a) => SortCondition::Lt(v(a)),
        Cond::Le(a) => SortCondition::Le(v(a)),
        Cond::Gt(a) => SortCondition::Gt(v(a)),
        Cond::Ge(a) => SortCondition::Ge(v(a)),
        Cond::Between(a, b) => SortCondition::Between(v(a), v(b)),
    })
}

fn matches(c: &Option<SortCondition>, x: &Number) -> bool {
    let n = |v: &AttributeValue| v.as_n().unwrap().clone();
    match c {
        None => true,
        Some(SortCondition::Eq(v)) => *x == n(v),
        Some(SortCondition::Lt(v)) => *x < n(v),
        Some(SortCondition::Le(v)) => *x <= n(v),
        Some(SortCondition::Gt(v)) => *x > n(v),
        Some(SortCondition::Ge(v)) => *x >= n(v),
        Some(SortCondition::Between(a, b)) => n(a) <= *x && *x <= n(b),
        Some(SortCondition::BeginsWith(_)) => unreachable!(),
    }
}

/// A write: (partition, sort key, Some(version) to put or None to delete).
type Write = (bool, Number, Option<u8>);

#[test]
fn queries_match_a_btreemap_model() {
    let (_dir, store) = common::store();
    let tables = Cell::new(0u32);
    let mut runner = TestRunner::new(Config {
        cases: 192,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(
            (
                any::<bool>(),
                number(),
                prop::option::weighted(0.8, any::<u8>()),
            ),
            0..60,
        ),
        condition(),
        any::<bool>(),
        prop::option::of(1usize..8),
    );
    runner
        .run(
            &strategy,
            |(writes, cond, forward, limit): (Vec<Write>, _, _, _)| {
                let cond = resolve(&cond, &writes);
                tables.set(tables.get() + 1);
                let t = sorted_table(&store, &format!("model{}", tables.get()), KeyType::N);
                let mut model: BTreeMap<Number, Item> = BTreeMap::new();
                let built: Vec<(Item, Option<Item>)> = writes
                    .iter()
                    .map(|(in_p, sk, version)| {
                        let pk = if *in_p { "p" } else { "other" };
                        let keys = Item::new().with("pk", pk).with("sk", sk.clone());
                        let after = version.map(|v| keys.clone().with("v", u32::from(v)));
                        if *in_p {
                            match &after {
                                Some(item) => model.insert(sk.clone(), item.clone()),
                                None => model.remove(sk),
                            };
                        }
                        (keys, after)
                    })
                    .collect();
                let changes: Vec<Apply<'_>> = built
                    .iter()
                    .map(|(keys, after)| Apply {
                        table_id: t.id,
                        keys,
                        after: after.as_ref(),
                    })
                    .collect();
                // Apply in a few calls, as the log's group commits would.
                for chunk in changes.chunks(7) {
                    store.apply(chunk).unwrap();
                }

                let mut q = Query::new("p");
                q.sort = cond.clone();
                q.forward = forward;
                q.limit = limit;
                if let Some(SortCondition::Between(a, b)) = &cond {
                    if a.as_n().unwrap() > b.as_n().unwrap() {
                        let result = store.query(&t, &q);
                        prop_assert!(matches!(result, Err(Error::Validation(_))), "{result:?}");
                        return Ok(());
                    }
                }
                let mut expected: Vec<Item> = model
                    .iter()
                    .filter(|(k, _)| matches(&cond, k))
                    .map(|(_, v)| v.clone())
                    .collect();
                if !forward {
                    expected.reverse();
                }
                let first = store.query(&t, &q).unwrap();
                let take = limit.unwrap_or(usize::MAX).min(expected.len());
                prop_assert_eq!(&first.items[..], &expected[..take]);
                prop_assert_eq!(
                    first.last_evaluated_key.is_some(),
                    limit.is_some_and(|l| l <= expected.len())
                );
                let (all, _) = query_all(&store, &t, &q);
                prop_assert_eq!(all, expected);
                Ok(())
            },
        )
        .unwrap();
}
