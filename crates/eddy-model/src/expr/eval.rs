//! Evaluates conditions against an item, by DynamoDB's rules.
//!
//! * `=` and `<>` compare any two values structurally (numbers
//!   numerically, sets as sets); a missing operand makes `=` false and
//!   `<>` true.
//! * `<`, `<=`, `>`, `>=` and `BETWEEN` only order two strings (by UTF-8
//!   bytes), two numbers or two binaries; anything else is simply false.
//! * `size` is the length of a string in UTF-16 code units (DynamoDB is a
//!   Java service and its documentation says "the length of the string";
//!   real DynamoDB answers `size("é𝄞") = 3`, see ExtendDB/extenddb#60),
//!   the byte count of a binary, and the element count of a set, list or
//!   map. On other types it has no value, so comparisons with it are false.
//!
//! Evaluation never fails: every error DynamoDB reports about a condition
//! is found when it is parsed.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::expr::ast::{BoolFunction, Comparator, CondNode, Operand};
use crate::expr::condition::type_from_name;
use crate::value::{AttributeValue, Item};

/// Whether `item` satisfies `node`.
pub(crate) fn eval(node: &CondNode, item: Option<&Item>) -> bool {
    match node {
        CondNode::Compare(cmp, a, b) => compare_with(
            *cmp,
            resolve(a, item).as_deref(),
            resolve(b, item).as_deref(),
        ),
        CondNode::Between(a, lo, hi) => {
            let (Some(a), Some(lo), Some(hi)) =
                (resolve(a, item), resolve(lo, item), resolve(hi, item))
            else {
                return false;
            };
            matches!(compare(&a, &lo), Some(Ordering::Greater | Ordering::Equal))
                && matches!(compare(&a, &hi), Some(Ordering::Less | Ordering::Equal))
        }
        CondNode::In(a, list) => {
            let Some(a) = resolve(a, item) else {
                return false;
            };
            list.iter()
                .any(|b| resolve(b, item).is_some_and(|b| *a == *b))
        }
        CondNode::Function(f) => eval_function(f, item),
        CondNode::Not(c) => !eval(c, item),
        CondNode::And(cs) => cs.iter().all(|c| eval(c, item)),
        CondNode::Or(cs) => cs.iter().any(|c| eval(c, item)),
    }
}

fn eval_function(f: &BoolFunction, item: Option<&Item>) -> bool {
    match f {
        BoolFunction::AttributeExists(path) => path.get_in(item).is_some(),
        BoolFunction::AttributeNotExists(path) => path.get_in(item).is_none(),
        BoolFunction::AttributeType(a, t) => {
            let wanted = match resolve(t, item).as_deref() {
                Some(AttributeValue::S(name)) => type_from_name(name),
                _ => None,
            };
            match (resolve(a, item), wanted) {
                (Some(v), Some(t)) => v.attribute_type() == t,
                _ => false,
            }
        }
        BoolFunction::BeginsWith(a, prefix) => {
            match (
                resolve(a, item).as_deref(),
                resolve(prefix, item).as_deref(),
            ) {
                (Some(AttributeValue::S(s)), Some(AttributeValue::S(p))) => {
                    s.starts_with(p.as_str())
                }
                (Some(AttributeValue::B(s)), Some(AttributeValue::B(p))) => s.starts_with(p),
                _ => false,
            }
        }
        BoolFunction::Contains(a, b) => {
            let (Some(a), Some(b)) = (resolve(a, item), resolve(b, item)) else {
                return false;
            };
            contains(&a, &b)
        }
    }
}

/// `contains(a, b)`: substring of a string, element of a set or list.
fn contains(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::S(s), AttributeValue::S(sub)) => s.contains(sub.as_str()),
        (AttributeValue::Ss(set), AttributeValue::S(x)) => set.contains(x),
        (AttributeValue::Ns(set), AttributeValue::N(x)) => set.contains(x),
        (AttributeValue::Bs(set), AttributeValue::B(x)) => set.contains(x),
        (AttributeValue::L(list), x) => list.contains(x),
        _ => false,
    }
}

/// An operand's value, if it has one for this item.
fn resolve<'a>(op: &'a Operand, item: Option<&'a Item>) -> Option<Cow<'a, AttributeValue>> {
    match op {
        Operand::Path(path) => path.get_in(item).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            let v = resolve(inner, item)?;
            size(&v).map(|n| Cow::Owned(AttributeValue::from(n)))
        }
    }
}

/// DynamoDB's `size()` of a value, if the type has a size.
pub(crate) fn size(v: &AttributeValue) -> Option<usize> {
    Some(match v {
        AttributeValue::S(s) => s.encode_utf16().count(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null => return None,
    })
}

/// The order of two values DynamoDB can order: two strings, two numbers or
/// two binaries. `None` for anything else.
pub(crate) fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(x.cmp(y)),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// `a <cmp> b`, where either side may be missing.
pub(crate) fn compare_with(
    cmp: Comparator,
    a: Option<&AttributeValue>,
    b: Option<&AttributeValue>,
) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return cmp == Comparator::Ne;
    };
    match cmp {
        Comparator::Eq => a == b,
        Comparator::Ne => a != b,
        Comparator::Lt => compare(a, b) == Some(Ordering::Less),
        Comparator::Le => matches!(compare(a, b), Some(Ordering::Less | Ordering::Equal)),
        Comparator::Gt => compare(a, b) == Some(Ordering::Greater),
        Comparator::Ge => matches!(compare(a, b), Some(Ordering::Greater | Ordering::Equal)),
    }
}
