//! The syntax trees the parsers build.
//!
//! Parsing happens in two steps, like DynamoDB's: the grammar produces
//! [`RawOperand`]s, in which a function call is just a name and arguments,
//! and each kind of expression then turns those into its own typed tree,
//! checking which functions it allows. Placeholders are already substituted
//! here; an undefined one is recorded as a problem and left as `None`.

use crate::expr::path::DocumentPath;
use crate::value::{AttributeType, AttributeValue};

/// An operand as the grammar sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawOperand {
    /// A document path.
    Path(DocumentPath),
    /// An expression attribute value; `None` if it was undefined.
    Value(Option<AttributeValue>),
    /// `name(arg, ...)`.
    Call(String, Vec<RawOperand>),
}

/// An operand of a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// An attribute of the item.
    Path(DocumentPath),
    /// A constant.
    Value(AttributeValue),
    /// `size(operand)`.
    Size(Box<Operand>),
}

impl Operand {
    /// The operand's type if it is known without an item (constants and
    /// `size`), as DynamoDB's parse-time type checks see it.
    pub(crate) fn static_type(&self) -> Option<AttributeType> {
        match self {
            Operand::Path(_) => None,
            Operand::Value(v) => Some(v.attribute_type()),
            Operand::Size(_) => Some(AttributeType::N),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// The operator as written.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub(crate) fn flipped(self) -> Comparator {
        match self {
            Comparator::Lt => Comparator::Gt,
            Comparator::Le => Comparator::Ge,
            Comparator::Gt => Comparator::Lt,
            Comparator::Ge => Comparator::Le,
            other => other,
        }
    }
}

/// A function that yields a boolean, usable as a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoolFunction {
    /// `attribute_exists(path)`
    AttributeExists(DocumentPath),
    /// `attribute_not_exists(path)`
    AttributeNotExists(DocumentPath),
    /// `attribute_type(operand, :type)`
    AttributeType(Operand, Operand),
    /// `begins_with(operand, operand)`
    BeginsWith(Operand, Operand),
    /// `contains(operand, operand)`
    Contains(Operand, Operand),
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CondNode {
    /// `a <op> b`
    Compare(Comparator, Operand, Operand),
    /// `a BETWEEN lo AND hi`
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, ...)`
    In(Operand, Vec<Operand>),
    /// A boolean function.
    Function(BoolFunction),
    /// `NOT c`
    Not(Box<CondNode>),
    /// `c AND d AND ...`, kept flat so long chains do not nest.
    And(Vec<CondNode>),
    /// `c OR d OR ...`, kept flat.
    Or(Vec<CondNode>),
}

/// DynamoDB's short type name (`S`, `BOOL`, …) used in condition errors.
pub(crate) fn short_type(t: AttributeType) -> &'static str {
    t.tag()
}

/// DynamoDB's long type name (`STRING`, `BOOLEAN`, …) used in update
/// operator errors.
pub(crate) fn long_type(t: AttributeType) -> &'static str {
    match t {
        AttributeType::S => "STRING",
        AttributeType::N => "NUMBER",
        AttributeType::B => "BINARY",
        AttributeType::Bool => "BOOLEAN",
        AttributeType::Null => "NULL",
        AttributeType::M => "MAP",
        AttributeType::L => "LIST",
        AttributeType::Ss => "STRING_SET",
        AttributeType::Ns => "NUMBER_SET",
        AttributeType::Bs => "BINARY_SET",
    }
}

/// DynamoDB's rendering of a constant in `BETWEEN` errors: `{N:5}`.
pub(crate) fn brief_value(v: &AttributeValue) -> String {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let body = match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.to_string(),
        AttributeValue::B(b) => b64(b),
        AttributeValue::Bool(b) => b.to_string(),
        AttributeValue::Null => "true".to_string(),
        other => crate::json::value_to_json(other)
            .as_object()
            .and_then(|o| o.values().next())
            .map(|j| j.to_string())
            .unwrap_or_default(),
    };
    format!("AttributeValue: {{{}:{body}}}", v.attribute_type().tag())
}
