//! Projection expressions: which parts of an item a read returns.
//!
//! A projection is a list of document paths. Applying it keeps, for every
//! path that exists in the item, the value at that path inside the same
//! nesting of maps and lists: `a.b` yields `{a: {b: …}}`, and list indexes
//! pick elements into a shorter list in index order, as DynamoDB does
//! (`l[1], l[3]` of a five-element list is a two-element list). The same
//! machinery projects the old and new images of an update to the paths it
//! touched, for `ReturnValues`.

use std::collections::BTreeMap;

use crate::expr::check::Category;
use crate::expr::lexer::Tok;
use crate::expr::parser::Parser;
use crate::expr::path::{first_clash, DocumentPath, PathElement};
use crate::expr::{ExprResult, ExpressionContext, ExpressionKind};
use crate::value::{AttributeValue, Item, Map};

/// A parsed `ProjectionExpression`.
///
/// ```
/// use std::collections::BTreeMap;
/// use eddy_model::expr::{ExpressionContext, Projection};
/// use eddy_model::Item;
/// let names = BTreeMap::from([("#n".to_string(), "name".to_string())]);
/// let mut ctx = ExpressionContext::new(names, BTreeMap::new());
/// let projection = Projection::parse("#n, m.x, l[1]", &mut ctx)?;
/// let item = Item::from_json_str(
///     r#"{"name":{"S":"a"},"m":{"M":{"x":{"N":"1"},"y":{"N":"2"}}},"l":{"L":[{"S":"p"},{"S":"q"}]},"z":{"BOOL":true}}"#,
/// ).unwrap();
/// assert_eq!(
///     projection.apply(&item).to_json_string(),
///     r#"{"l":{"L":[{"S":"q"}]},"m":{"M":{"x":{"N":"1"}}},"name":{"S":"a"}}"#
/// );
/// # Ok::<(), eddy_model::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    paths: Vec<DocumentPath>,
}

impl Projection {
    /// Parses a `ProjectionExpression`: one or more comma-separated paths,
    /// none overlapping another.
    pub fn parse(text: &str, ctx: &mut ExpressionContext) -> ExprResult<Projection> {
        let mut p = Parser::new(text, ExpressionKind::Projection, ctx)?;
        let mut paths = vec![p.parse_path()?];
        while p.peek().tok == Tok::Comma {
            p.advance();
            paths.push(p.parse_path()?);
        }
        if p.peek().tok != Tok::Eof {
            return Err(p.syntax_error());
        }
        if let Some(message) = first_clash(&paths) {
            p.problems.push(Category::Overlap, message);
        }
        p.finish()?;
        Ok(Projection { paths })
    }

    /// A projection of the given paths (which should not overlap).
    pub fn from_paths(paths: Vec<DocumentPath>) -> Projection {
        Projection { paths }
    }

    /// The projected paths, in the order written.
    pub fn paths(&self) -> &[DocumentPath] {
        &self.paths
    }

    /// The top-level attributes the projection reads.
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(DocumentPath::attribute)
    }

    /// The parts of `item` the projection selects.
    pub fn apply(&self, item: &Item) -> Item {
        let mut top: BTreeMap<&str, Tree> = BTreeMap::new();
        for path in &self.paths {
            let node = top.entry(path.attribute()).or_insert(Tree::Empty);
            node.insert(path.rest());
        }
        let mut out = Item::new();
        for (name, tree) in &top {
            if let Some(v) = item.get(name).and_then(|v| tree.project(v)) {
                out.insert(*name, v);
            }
        }
        out
    }
}

/// The paths of a projection merged into a tree.
#[derive(Debug)]
enum Tree {
    /// Nothing yet (only while building).
    Empty,
    /// The whole value.
    All,
    /// Some keys of a map.
    Keys(BTreeMap<String, Tree>),
    /// Some elements of a list.
    Indexes(BTreeMap<usize, Tree>),
}

impl Tree {
    fn insert(&mut self, rest: &[PathElement]) {
        let Some((first, tail)) = rest.split_first() else {
            *self = Tree::All;
            return;
        };
        if let Tree::Empty = self {
            *self = match first {
                PathElement::Name(_) => Tree::Keys(BTreeMap::new()),
                PathElement::Index(_) => Tree::Indexes(BTreeMap::new()),
            };
        }
        // Clashing paths are refused when parsed; if any reach here anyway
        // the first one written wins.
        match (self, first) {
            (Tree::Keys(keys), PathElement::Name(n)) => {
                keys.entry(n.clone()).or_insert(Tree::Empty).insert(tail);
            }
            (Tree::Indexes(ixs), PathElement::Index(i)) => {
                ixs.entry(*i).or_insert(Tree::Empty).insert(tail);
            }
            _ => {}
        }
    }

    fn project(&self, value: &AttributeValue) -> Option<AttributeValue> {
        match (self, value) {
            (Tree::All, v) => Some(v.clone()),
            (Tree::Keys(keys), AttributeValue::M(map)) => {
                let out: Map = keys
                    .iter()
                    .filter_map(|(k, t)| Some((k.clone(), t.project(map.get(k)?)?)))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::M(out))
            }
            (Tree::Indexes(ixs), AttributeValue::L(list)) => {
                let out: Vec<AttributeValue> = ixs
                    .iter()
                    .filter_map(|(i, t)| t.project(list.get(*i)?))
                    .collect();
                (!out.is_empty()).then_some(AttributeValue::L(out))
            }
            _ => None,
        }
    }
}
