//! Collects the non-syntax problems of one expression and reports the one
//! DynamoDB would report.
//!
//! DynamoDB parses the whole expression before judging it, and when several
//! things are wrong it names one of them by a fixed priority that differs
//! between condition-like and update expressions (a reserved word beats an
//! unknown function in an update, and loses to it in a condition). Parsers
//! therefore record problems here instead of failing at the first one.

use crate::expr::{ExprError, ExprResult, ExpressionKind};

/// What kind of problem an expression has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// `((...))`.
    RedundantParens,
    /// A function name DynamoDB does not know, or one not allowed here.
    UnknownFunction,
    /// A function used where its result type does not fit.
    MisusedFunction,
    /// A bare reserved word used as an attribute name.
    Reserved,
    /// An update section given twice.
    Section,
    /// `#name` not in `ExpressionAttributeNames`.
    UndefinedName,
    /// `:value` not in `ExpressionAttributeValues`.
    UndefinedValue,
    /// Overlapping or conflicting document paths.
    Overlap,
    /// A bad operand type for `ADD` or `DELETE`.
    UpdateOperand,
    /// A function with the wrong number of operands.
    Arity,
    /// The same path on both sides of an operator.
    Distinct,
    /// An operand of a type the operator or function does not take.
    OperandType,
}

impl Category {
    /// Lower ranks are reported first.
    fn rank(self, kind: ExpressionKind) -> u8 {
        use Category::*;
        let order: &[Category] = match kind {
            ExpressionKind::Update => &[
                Reserved,
                UnknownFunction,
                Section,
                UndefinedName,
                UndefinedValue,
                Overlap,
                UpdateOperand,
                Arity,
                OperandType,
                MisusedFunction,
                RedundantParens,
                Distinct,
            ],
            _ => &[
                RedundantParens,
                UnknownFunction,
                MisusedFunction,
                Reserved,
                UndefinedName,
                UndefinedValue,
                Overlap,
                Arity,
                Distinct,
                OperandType,
                Section,
                UpdateOperand,
            ],
        };
        order
            .iter()
            .position(|c| *c == self)
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(u8::MAX)
    }
}

/// The problems found so far in one expression.
#[derive(Debug)]
pub(crate) struct Problems {
    kind: ExpressionKind,
    found: Vec<(Category, String)>,
}

impl Problems {
    /// No problems yet, in an expression of `kind`.
    pub(crate) fn new(kind: ExpressionKind) -> Problems {
        Problems {
            kind,
            found: Vec::new(),
        }
    }

    /// Records a problem; `message` is without the `Invalid <Kind>: ` prefix.
    pub(crate) fn push(&mut self, category: Category, message: impl Into<String>) {
        // Only the first of each category can be reported; keep memory
        // bounded however many problems a long expression has.
        if !self.found.iter().any(|(c, _)| *c == category) {
            self.found.push((category, message.into()));
        }
    }

    /// The error DynamoDB would report, if any.
    pub(crate) fn into_result(self) -> ExprResult<()> {
        let kind = self.kind;
        match self.found.into_iter().min_by_key(|(c, _)| c.rank(kind)) {
            Some((_, message)) => Err(ExprError::invalid(kind, message)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn priority_depends_on_the_expression_kind() {
        let mut p = Problems::new(ExpressionKind::Condition);
        p.push(Category::Reserved, "r");
        p.push(Category::UnknownFunction, "u");
        p.push(Category::UnknownFunction, "u2");
        assert_eq!(
            p.into_result().unwrap_err().message(),
            "Invalid ConditionExpression: u"
        );
        let mut p = Problems::new(ExpressionKind::Update);
        p.push(Category::UnknownFunction, "u");
        p.push(Category::Reserved, "r");
        assert_eq!(
            p.into_result().unwrap_err().message(),
            "Invalid UpdateExpression: r"
        );
        assert!(Problems::new(ExpressionKind::Filter).into_result().is_ok());
    }
}
