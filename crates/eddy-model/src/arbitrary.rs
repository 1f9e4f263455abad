//! proptest strategies for model types, for this crate's tests and (with the
//! `arbitrary` feature) for other crates' property tests.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::change::{Change, ChangeOrigin};
use crate::number::Number;
use crate::value::{AttributeValue, Item};

/// Any valid number: up to 38 digits across most of the exponent range.
pub fn arb_number() -> impl Strategy<Value = Number> {
    (
        any::<bool>(),
        prop::collection::vec(0u8..10, 0..38),
        -120i32..120,
    )
        .prop_map(|(neg, digits, exp)| {
            Number::from_parts(neg, &digits, exp).unwrap_or_else(|_| Number::zero())
        })
}

fn arb_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_#.]{0,7}"
}

/// Any valid scalar or set value.
pub fn arb_leaf() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        ".{0,12}".prop_map(AttributeValue::S),
        arb_number().prop_map(AttributeValue::N),
        prop::collection::vec(any::<u8>(), 0..12).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        prop::collection::btree_set(".{0,6}", 1..4).prop_map(AttributeValue::Ss),
        prop::collection::btree_set(arb_number(), 1..4).prop_map(AttributeValue::Ns),
        prop::collection::btree_set(prop::collection::vec(any::<u8>(), 0..6), 1..4)
            .prop_map(|s: BTreeSet<Vec<u8>>| AttributeValue::Bs(s)),
    ]
}

/// Any valid value, nested a few levels.
pub fn arb_value() -> impl Strategy<Value = AttributeValue> {
    arb_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
            prop::collection::btree_map(arb_name(), inner, 0..4).prop_map(AttributeValue::M),
        ]
    })
}

/// Any valid item of up to six attributes.
pub fn arb_item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map(arb_name(), arb_value(), 0..6).prop_map(Item::from)
}

/// Any effective change (at least one image).
pub fn arb_change() -> impl Strategy<Value = Change> {
    (
        any::<u64>(),
        "[a-zA-Z0-9_.-]{3,12}",
        arb_item(),
        prop::option::of(arb_item()),
        arb_item(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(table_id, table, keys, old, new, has_new, ttl)| {
            let new_image = if has_new || old.is_none() {
                Some(new)
            } else {
                None
            };
            Change {
                table_id,
                table,
                keys,
                old_image: old,
                new_image,
                origin: if ttl {
                    ChangeOrigin::TimeToLive
                } else {
                    ChangeOrigin::Application
                },
            }
        })
}
