//! Condition and filter expressions: grammar, checks and the public
//! [`Condition`] type.
//!
//! DynamoDB's precedence, loosest first: `OR`, `AND`, `NOT`, then
//! comparisons, `BETWEEN`, `IN` and functions, with parentheses grouping.
//! A parenthesised group may hold either a condition or an operand
//! (`(a) = :v` is valid), so a group is parsed first and classified after,
//! which keeps the parser deterministic and linear in the input.

use crate::expr::ast::brief_value;
use crate::expr::ast::{short_type, BoolFunction, Comparator, CondNode, Operand, RawOperand};
use crate::expr::check::Category;
use crate::expr::lexer::Tok;
use crate::expr::parser::Parser;
use crate::expr::{ExprError, ExprResult, ExpressionContext, ExpressionKind, MAX_IN_OPERANDS};
use crate::value::{AttributeType, Item};

/// A parsed `ConditionExpression` or `FilterExpression`.
///
/// ```
/// use std::collections::BTreeMap;
/// use eddy_model::expr::{Condition, ExpressionContext};
/// use eddy_model::{AttributeValue, Item};
/// let values = BTreeMap::from([
///     (":lo".to_string(), AttributeValue::from(10)),
///     (":p".to_string(), AttributeValue::from("ab")),
/// ]);
/// let mut ctx = ExpressionContext::new(BTreeMap::new(), values);
/// let cond = Condition::parse("n > :lo AND (begins_with(s, :p) OR NOT attribute_exists(s))", &mut ctx)?;
/// assert!(cond.evaluate(Some(&Item::new().with("n", 11).with("s", "abc"))));
/// assert!(!cond.evaluate(Some(&Item::new().with("n", 11).with("s", "b"))));
/// assert!(!cond.evaluate(None));
/// # Ok::<(), eddy_model::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    root: CondNode,
}

impl Condition {
    /// Parses a `ConditionExpression`.
    pub fn parse(text: &str, ctx: &mut ExpressionContext) -> ExprResult<Condition> {
        Condition::parse_kind(ExpressionKind::Condition, text, ctx)
    }

    /// Parses a `FilterExpression` (the same language; errors say
    /// `Invalid FilterExpression`).
    pub fn parse_filter(text: &str, ctx: &mut ExpressionContext) -> ExprResult<Condition> {
        Condition::parse_kind(ExpressionKind::Filter, text, ctx)
    }

    fn parse_kind(
        kind: ExpressionKind,
        text: &str,
        ctx: &mut ExpressionContext,
    ) -> ExprResult<Condition> {
        Ok(Condition {
            root: parse_condition(kind, text, ctx)?,
        })
    }

    /// Whether `item` (`None`: no item, so no attributes) satisfies the
    /// condition. Type mismatches make comparisons false, never errors.
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        crate::expr::eval::eval(&self.root, item)
    }

    /// The top-level attributes the condition reads, in order of first
    /// mention (a Query checks that its filter names no key attribute, and
    /// an index read whether the index projects them).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use eddy_model::expr::{Condition, ExpressionContext};
    /// let names = BTreeMap::from([("#n".to_string(), "name".to_string())]);
    /// let values = BTreeMap::from([(":v".to_string(), 1.into())]);
    /// let mut ctx = ExpressionContext::new(names, values);
    /// let cond = Condition::parse("a.b[1] > :v AND (size(#n) = :v OR attribute_exists(c))", &mut ctx)?;
    /// assert_eq!(cond.attributes(), ["a", "name", "c"]);
    /// # Ok::<(), eddy_model::expr::ExprError>(())
    /// ```
    pub fn attributes(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_node(&self.root, &mut out);
        out
    }
}

fn collect_path(path: &crate::expr::DocumentPath, out: &mut Vec<String>) {
    if !out.iter().any(|a| a == path.attribute()) {
        out.push(path.attribute().to_string());
    }
}

fn collect_operand(op: &Operand, out: &mut Vec<String>) {
    match op {
        Operand::Path(p) => collect_path(p, out),
        Operand::Value(_) => {}
        Operand::Size(inner) => collect_operand(inner, out),
    }
}

fn collect_node(node: &CondNode, out: &mut Vec<String>) {
    match node {
        CondNode::Compare(_, a, b) => {
            collect_operand(a, out);
            collect_operand(b, out);
        }
        CondNode::Between(a, lo, hi) => {
            for op in [a, lo, hi] {
                collect_operand(op, out);
            }
        }
        CondNode::In(a, list) => {
            collect_operand(a, out);
            for op in list {
                collect_operand(op, out);
            }
        }
        CondNode::Function(f) => match f {
            BoolFunction::AttributeExists(p) | BoolFunction::AttributeNotExists(p) => {
                collect_path(p, out)
            }
            BoolFunction::AttributeType(a, b)
            | BoolFunction::BeginsWith(a, b)
            | BoolFunction::Contains(a, b) => {
                collect_operand(a, out);
                collect_operand(b, out);
            }
        },
        CondNode::Not(inner) => collect_node(inner, out),
        CondNode::And(list) | CondNode::Or(list) => {
            for n in list {
                collect_node(n, out);
            }
        }
    }
}

/// Parses a whole condition-language expression of `kind`.
pub(crate) fn parse_condition(
    kind: ExpressionKind,
    text: &str,
    ctx: &mut ExpressionContext,
) -> ExprResult<CondNode> {
    let mut p = Parser::new(text, kind, ctx)?;
    let parsed = parse_or(&mut p)?;
    if p.peek().tok != Tok::Eof {
        return Err(p.syntax_error());
    }
    let root = to_cond(&mut p, parsed)?;
    p.finish()?;
    Ok(root)
}

/// What a (sub)expression turned out to be.
enum Node {
    Cond(CondNode),
    Operand(RawOperand),
}

/// A node, and whether it was exactly one parenthesised group.
struct Parsed {
    node: Node,
    wrapped: bool,
}

fn parse_or(p: &mut Parser<'_>) -> ExprResult<Parsed> {
    let first = parse_and(p)?;
    if !p.at_keyword("OR") {
        return Ok(first);
    }
    let mut items = vec![to_cond(p, first)?];
    while p.at_keyword("OR") {
        p.advance();
        let next = parse_and(p)?;
        items.push(to_cond(p, next)?);
    }
    Ok(Parsed {
        node: Node::Cond(CondNode::Or(items)),
        wrapped: false,
    })
}

fn parse_and(p: &mut Parser<'_>) -> ExprResult<Parsed> {
    let first = parse_not(p)?;
    if !p.at_keyword("AND") {
        return Ok(first);
    }
    let mut items = vec![to_cond(p, first)?];
    while p.at_keyword("AND") {
        p.advance();
        let next = parse_not(p)?;
        items.push(to_cond(p, next)?);
    }
    Ok(Parsed {
        node: Node::Cond(CondNode::And(items)),
        wrapped: false,
    })
}

fn parse_not(p: &mut Parser<'_>) -> ExprResult<Parsed> {
    if !p.at_keyword("NOT") {
        return parse_primary(p);
    }
    p.advance();
    p.enter()?;
    let inner = parse_not(p)?;
    let cond = to_cond(p, inner)?;
    p.leave();
    Ok(Parsed {
        node: Node::Cond(CondNode::Not(Box::new(cond))),
        wrapped: false,
    })
}

fn parse_primary(p: &mut Parser<'_>) -> ExprResult<Parsed> {
    if p.peek().tok != Tok::LParen {
        let operand = p.parse_raw_operand()?;
        return comparison_tail(p, operand, false);
    }
    p.advance();
    p.enter()?;
    let inner = parse_or(p)?;
    p.expect(&Tok::RParen)?;
    p.leave();
    if inner.wrapped {
        p.redundant_parens();
    }
    match inner.node {
        Node::Cond(c) => Ok(Parsed {
            node: Node::Cond(c),
            wrapped: true,
        }),
        Node::Operand(o) => comparison_tail(p, o, true),
    }
}

/// After an operand: a comparison, `BETWEEN` or `IN`, or nothing (the
/// operand is returned for the caller to classify).
fn comparison_tail(p: &mut Parser<'_>, left: RawOperand, wrapped: bool) -> ExprResult<Parsed> {
    let comparator = match p.peek().tok {
        Tok::Eq => Some(Comparator::Eq),
        Tok::Ne => Some(Comparator::Ne),
        Tok::Lt => Some(Comparator::Lt),
        Tok::Le => Some(Comparator::Le),
        Tok::Gt => Some(Comparator::Gt),
        Tok::Ge => Some(Comparator::Ge),
        _ => None,
    };
    let cond = if let Some(cmp) = comparator {
        p.advance();
        let right = p.parse_operand_parens()?.0;
        let (l, r) = (to_operand(p, left), to_operand(p, right));
        check_distinct(p, cmp.symbol(), &l, &r);
        CondNode::Compare(cmp, l, r)
    } else if p.at_keyword("BETWEEN") {
        p.advance();
        let lo = p.parse_operand_parens()?.0;
        p.expect_keyword("AND")?;
        let hi = p.parse_operand_parens()?.0;
        let (a, lo, hi) = (to_operand(p, left), to_operand(p, lo), to_operand(p, hi));
        check_between_bounds(p, &lo, &hi);
        CondNode::Between(a, lo, hi)
    } else if p.at_keyword("IN") {
        p.advance();
        p.expect(&Tok::LParen)?;
        let mut list = vec![p.parse_operand_parens()?.0];
        while p.peek().tok == Tok::Comma {
            p.advance();
            list.push(p.parse_operand_parens()?.0);
            if list.len() > MAX_IN_OPERANDS {
                return Err(ExprError::invalid(
                    p.kind,
                    format!(
                        "The IN operator is provided with too many operands; number of operands: {}",
                        list.len()
                    ),
                ));
            }
        }
        p.expect(&Tok::RParen)?;
        let a = to_operand(p, left);
        let list = list.into_iter().map(|o| to_operand(p, o)).collect();
        CondNode::In(a, list)
    } else {
        return Ok(Parsed {
            node: Node::Operand(left),
            wrapped,
        });
    };
    Ok(Parsed {
        node: Node::Cond(cond),
        wrapped: false,
    })
}

const CONDITION_FUNCTIONS: [&str; 6] = [
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
];
const UPDATE_FUNCTIONS: [&str; 2] = ["if_not_exists", "list_append"];

/// Records a problem if `name` is not a condition function; returns
/// whether it is one.
fn check_known(p: &mut Parser<'_>, name: &str) -> bool {
    if CONDITION_FUNCTIONS.contains(&name) {
        return true;
    }
    let message = if UPDATE_FUNCTIONS.contains(&name) {
        format!("The function is not allowed in a condition expression; function: {name}")
    } else {
        format!("Invalid function name; function: {name}")
    };
    p.problems.push(Category::UnknownFunction, message);
    false
}

fn misused(p: &mut Parser<'_>, name: &str) {
    p.problems.push(
        Category::MisusedFunction,
        format!(
            "The function is not allowed to be used this way in an expression; function: {name}"
        ),
    );
}

fn check_arity(p: &mut Parser<'_>, name: &str, args: &[RawOperand], expected: usize) -> bool {
    if args.len() == expected {
        return true;
    }
    p.problems.push(
        Category::Arity,
        format!(
            "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
            args.len()
        ),
    );
    false
}

fn type_problem(p: &mut Parser<'_>, name: &str, t: &str) {
    p.problems.push(
        Category::OperandType,
        format!("Incorrect operand type for operator or function; operator or function: {name}, operand type: {t}"),
    );
}

/// `a = a`, `contains(a, a)`: DynamoDB refuses the same path on both sides.
fn check_distinct(p: &mut Parser<'_>, operator: &str, a: &Operand, b: &Operand) {
    if let (Operand::Path(x), Operand::Path(y)) = (a, b) {
        if x == y {
            p.problems.push(
                Category::Distinct,
                format!(
                    "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {}",
                    x.bracketed()
                ),
            );
        }
    }
}

fn check_between_bounds(p: &mut Parser<'_>, lo: &Operand, hi: &Operand) {
    let (Operand::Value(l), Operand::Value(h)) = (lo, hi) else {
        return;
    };
    let message = if l.attribute_type() != h.attribute_type() {
        "The BETWEEN operator requires same data type for lower and upper bounds"
    } else if crate::expr::eval::compare(l, h) == Some(std::cmp::Ordering::Greater) {
        "The BETWEEN operator requires upper bound to be greater than or equal to lower bound"
    } else {
        return;
    };
    p.problems.push(
        Category::OperandType,
        format!(
            "{message}; lower bound operand: {}, upper bound operand: {}",
            brief_value(l),
            brief_value(h)
        ),
    );
}

/// A raw operand in operand position: a path, a value or `size(...)`.
fn to_operand(p: &mut Parser<'_>, raw: RawOperand) -> Operand {
    match raw {
        RawOperand::Path(path) => Operand::Path(path),
        RawOperand::Value(v) => Operand::Value(v.unwrap_or(crate::AttributeValue::Null)),
        RawOperand::Call(name, args) => {
            if check_known(p, &name) && name != "size" {
                misused(p, &name);
            }
            let arity_ok = check_arity(p, &name, &args, 1);
            let mut operands: Vec<Operand> = args.into_iter().map(|a| to_operand(p, a)).collect();
            let arg = if operands.is_empty() {
                Operand::Value(crate::AttributeValue::Null)
            } else {
                operands.swap_remove(0)
            };
            if arity_ok && name == "size" {
                if let Some(t @ (AttributeType::N | AttributeType::Bool | AttributeType::Null)) =
                    arg.static_type()
                {
                    type_problem(p, "size", short_type(t));
                }
            }
            Operand::Size(Box::new(arg))
        }
    }
}

/// A node in condition position.
fn to_cond(p: &mut Parser<'_>, parsed: Parsed) -> ExprResult<CondNode> {
    match parsed.node {
        Node::Cond(c) => Ok(c),
        Node::Operand(RawOperand::Call(name, args)) => Ok(to_function(p, name, args)),
        Node::Operand(_) => Err(p.syntax_error()),
    }
}

/// A function call in condition position.
fn to_function(p: &mut Parser<'_>, name: String, args: Vec<RawOperand>) -> CondNode {
    // A placeholder for calls that are errors; it is never evaluated.
    let nothing = CondNode::And(Vec::new());
    if !check_known(p, &name) {
        return nothing;
    }
    if name == "size" {
        misused(p, &name);
        return nothing;
    }
    let expected = if name.starts_with("attribute_") && name != "attribute_type" {
        1
    } else {
        2
    };
    if !check_arity(p, &name, &args, expected) {
        return nothing;
    }
    let ops: Vec<_> = args.into_iter().map(|a| to_operand(p, a)).collect();
    let mut ops = ops.into_iter();
    let (Some(a), b) = (ops.next(), ops.next()) else {
        return nothing;
    };
    let b = b.unwrap_or(Operand::Value(crate::AttributeValue::Null));
    let path = match &a {
        Operand::Path(path) => Some(path.clone()),
        _ => None,
    };
    if expected == 2 {
        check_distinct(p, &name, &a, &b);
    }
    match (name.as_str(), path) {
        ("attribute_exists" | "attribute_not_exists", None) => {
            p.problems.push(
                Category::OperandType,
                format!(
                    "Operator or function requires a document path; operator or function: {name}"
                ),
            );
            nothing
        }
        ("attribute_exists", Some(path)) => CondNode::Function(BoolFunction::AttributeExists(path)),
        ("attribute_not_exists", Some(path)) => {
            CondNode::Function(BoolFunction::AttributeNotExists(path))
        }
        ("attribute_type", _) => {
            match &b {
                Operand::Value(crate::AttributeValue::S(t)) => {
                    if type_from_name(t).is_none() {
                        p.problems.push(
                            Category::OperandType,
                            format!("Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"),
                        );
                    }
                }
                other => {
                    let t = other
                        .static_type()
                        .map_or("{NS,SS,L,BS,N,M,B,BOOL,NULL,S}", short_type);
                    type_problem(p, &name, t);
                }
            }
            CondNode::Function(BoolFunction::AttributeType(a, b))
        }
        ("begins_with", _) => {
            for operand in [&a, &b] {
                if let Some(t) = operand.static_type() {
                    if t != AttributeType::S && t != AttributeType::B {
                        type_problem(p, &name, short_type(t));
                        break;
                    }
                }
            }
            CondNode::Function(BoolFunction::BeginsWith(a, b))
        }
        _ => CondNode::Function(BoolFunction::Contains(a, b)),
    }
}

/// The attribute type named by `attribute_type`'s second operand.
pub(crate) fn type_from_name(name: &str) -> Option<AttributeType> {
    Some(match name {
        "S" => AttributeType::S,
        "N" => AttributeType::N,
        "B" => AttributeType::B,
        "BOOL" => AttributeType::Bool,
        "NULL" => AttributeType::Null,
        "M" => AttributeType::M,
        "L" => AttributeType::L,
        "SS" => AttributeType::Ss,
        "NS" => AttributeType::Ns,
        "BS" => AttributeType::Bs,
        _ => return None,
    })
}
