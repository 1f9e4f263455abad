//! Document paths: `a`, `a.b`, `a[2]`, `#n[0].#m`, after substitution of
//! expression attribute names.
//!
//! A path is a top-level attribute name followed by map keys and list
//! indexes. Reading a path never fails (a missing step means "no such
//! attribute"); writing through one is [`crate::expr::UpdateExpression`]'s
//! business. Paths are also compared with each other, because DynamoDB
//! refuses an update or projection whose paths overlap or conflict.

use std::fmt;

use crate::value::{AttributeValue, Item};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A map key (or, first in a path, a top-level attribute name).
    Name(String),
    /// A list index.
    Index(usize),
}

/// A resolved document path: never empty, and its first element is always
/// a [`PathElement::Name`].
///
/// ```
/// use eddy_model::expr::{DocumentPath, PathElement};
/// use eddy_model::{AttributeValue, Item};
/// let path = DocumentPath::new("a", vec![PathElement::Index(1), PathElement::Name("b".into())]);
/// assert_eq!(path.to_string(), "a[1].b");
/// let item = Item::from_json_str(r#"{"a":{"L":[{"N":"0"},{"M":{"b":{"S":"x"}}}]}}"#)?;
/// assert_eq!(path.get(&item), Some(&AttributeValue::from("x")));
/// # Ok::<(), eddy_model::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentPath {
    attribute: String,
    rest: Vec<PathElement>,
}

impl DocumentPath {
    /// A path starting at top-level attribute `attribute`.
    pub fn new(attribute: impl Into<String>, rest: Vec<PathElement>) -> DocumentPath {
        DocumentPath {
            attribute: attribute.into(),
            rest,
        }
    }

    /// The top-level attribute the path starts at.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    /// The steps after the top-level attribute.
    pub fn rest(&self) -> &[PathElement] {
        &self.rest
    }

    /// Whether the path is just a top-level attribute.
    pub fn is_top_level(&self) -> bool {
        self.rest.is_empty()
    }

    /// The number of elements, counting the top-level attribute.
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Always false: a path has at least its top-level attribute.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The value at this path in `item`, if every step exists.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a AttributeValue> {
        let mut value = item.get(&self.attribute)?;
        for element in &self.rest {
            value = step(value, element)?;
        }
        Some(value)
    }

    /// The value at this path in an optional item.
    pub(crate) fn get_in<'a>(&self, item: Option<&'a Item>) -> Option<&'a AttributeValue> {
        item.and_then(|i| self.get(i))
    }

    /// DynamoDB's rendering in overlap messages: `[a, b, [2]]`.
    pub(crate) fn bracketed(&self) -> String {
        let mut parts = vec![self.attribute.clone()];
        parts.extend(self.rest.iter().map(|e| match e {
            PathElement::Name(n) => n.clone(),
            PathElement::Index(i) => format!("[{i}]"),
        }));
        format!("[{}]", parts.join(", "))
    }
}

/// One step into a map or list value.
pub(crate) fn step<'a>(
    value: &'a AttributeValue,
    element: &PathElement,
) -> Option<&'a AttributeValue> {
    match (value, element) {
        (AttributeValue::M(map), PathElement::Name(name)) => map.get(name),
        (AttributeValue::L(list), PathElement::Index(i)) => list.get(*i),
        _ => None,
    }
}

impl fmt::Display for DocumentPath {
    /// Expression syntax, without any `#` aliasing: `a.b[2]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.attribute)?;
        for element in &self.rest {
            match element {
                PathElement::Name(n) => write!(f, ".{n}")?,
                PathElement::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// How two paths of one expression relate, by DynamoDB's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathClash {
    /// One is a prefix of the other (or they are equal).
    Overlap,
    /// At some step one indexes a list where the other names a map key.
    Conflict,
}

/// Whether `a` and `b` overlap or conflict.
pub(crate) fn clash(a: &DocumentPath, b: &DocumentPath) -> Option<PathClash> {
    if a.attribute != b.attribute {
        return None;
    }
    for (x, y) in a.rest.iter().zip(&b.rest) {
        match (x, y) {
            (PathElement::Name(_), PathElement::Index(_))
            | (PathElement::Index(_), PathElement::Name(_)) => return Some(PathClash::Conflict),
            _ if x != y => return None,
            _ => {}
        }
    }
    Some(PathClash::Overlap)
}

/// DynamoDB's message for the first clash among `paths`, in the order they
/// were written: overlaps are reported before conflicts.
pub(crate) fn first_clash(paths: &[DocumentPath]) -> Option<String> {
    let mut conflict = None;
    for (i, b) in paths.iter().enumerate() {
        for a in &paths[..i] {
            match clash(a, b) {
                Some(PathClash::Overlap) => {
                    return Some(format!(
                        "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                        a.bracketed(),
                        b.bracketed()
                    ))
                }
                Some(PathClash::Conflict) if conflict.is_none() => {
                    conflict = Some(format!(
                        "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                        a.bracketed(),
                        b.bracketed()
                    ));
                }
                _ => {}
            }
        }
    }
    conflict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(attr: &str, rest: Vec<PathElement>) -> DocumentPath {
        DocumentPath::new(attr, rest)
    }

    #[test]
    fn clashes() {
        use PathElement::{Index, Name};
        let a = p("a", vec![]);
        let ab = p("a", vec![Name("b".into())]);
        let a0 = p("a", vec![Index(0)]);
        let a1 = p("a", vec![Index(1)]);
        let c = p("c", vec![]);
        assert_eq!(clash(&a, &ab), Some(PathClash::Overlap));
        assert_eq!(clash(&ab, &a), Some(PathClash::Overlap));
        assert_eq!(clash(&a, &a), Some(PathClash::Overlap));
        assert_eq!(clash(&ab, &a0), Some(PathClash::Conflict));
        assert_eq!(clash(&a0, &a1), None);
        assert_eq!(clash(&a, &c), None);
        assert_eq!(
            first_clash(&[a1.clone(), ab.clone(), a.clone()]).as_deref(),
            Some("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a]")
        );
        assert_eq!(
            first_clash(&[a1, ab]).as_deref(),
            Some("Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a, b]")
        );
        assert_eq!(first_clash(&[a0, c]), None);
    }
}
