//! Update expressions: parsing and the public [`UpdateExpression`] type.
//!
//! `SET`, `REMOVE`, `ADD` and `DELETE` sections may come in any order, each
//! at most once. `SET` values are an operand, or two operands joined by
//! `+` or `-`, where an operand is a path, a value, `if_not_exists(path,
//! operand)` or `list_append(operand, operand)`. No two target paths may
//! overlap, which is what lets [`UpdateExpression::apply`] evaluate every
//! value against the old item and then write them in any order.

use crate::expr::ast::{long_type, RawOperand};
use crate::expr::check::Category;
use crate::expr::lexer::Tok;
use crate::expr::parser::Parser;
use crate::expr::path::{first_clash, DocumentPath};
use crate::expr::projection::Projection;
use crate::expr::{ExprError, ExprResult, ExpressionContext, ExpressionKind};
use crate::key::KeySchema;
use crate::value::{AttributeType, AttributeValue, Item};

/// The right-hand side of a `SET` action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SetValue {
    /// `operand`
    Operand(UpdateOperand),
    /// `operand + operand`
    Plus(UpdateOperand, UpdateOperand),
    /// `operand - operand`
    Minus(UpdateOperand, UpdateOperand),
}

/// An operand of a `SET` value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UpdateOperand {
    /// An attribute of the old item.
    Path(DocumentPath),
    /// A constant.
    Value(AttributeValue),
    /// `if_not_exists(path, operand)`
    IfNotExists(DocumentPath, Box<UpdateOperand>),
    /// `list_append(operand, operand)`
    ListAppend(Box<UpdateOperand>, Box<UpdateOperand>),
}

impl UpdateOperand {
    /// The operand's type if known before reading the item.
    fn static_type(&self) -> Option<AttributeType> {
        match self {
            UpdateOperand::Path(_) => None,
            UpdateOperand::Value(v) => Some(v.attribute_type()),
            UpdateOperand::IfNotExists(_, d) => d.static_type(),
            UpdateOperand::ListAppend(..) => Some(AttributeType::L),
        }
    }
}

/// A parsed `UpdateExpression`.
///
/// ```
/// use std::collections::BTreeMap;
/// use eddy_model::expr::{ExpressionContext, UpdateExpression};
/// use eddy_model::{AttributeValue, Item, KeySchema, KeyType};
/// let values = BTreeMap::from([
///     (":one".to_string(), AttributeValue::from(1)),
///     (":tags".to_string(), AttributeValue::string_set(["x"]).unwrap()),
/// ]);
/// let mut ctx = ExpressionContext::new(BTreeMap::new(), values);
/// let update = UpdateExpression::parse("ADD tags :tags SET n = n - :one REMOVE draft", &mut ctx)?;
/// update.validate(&KeySchema::new("pk", KeyType::S))?;
/// let key = Item::new().with("pk", "k");
/// let before = key.clone().with("n", 5).with("draft", true);
/// let after = update.apply(Some(&before), &key)?;
/// assert_eq!(after.get("n"), Some(&AttributeValue::from(4)));
/// assert!(!after.contains("draft"));
/// assert_eq!(update.project_updated(&before), Item::new().with("n", 5).with("draft", true));
/// # Ok::<(), eddy_model::expr::ExprError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateExpression {
    pub(crate) set: Vec<(DocumentPath, SetValue)>,
    pub(crate) remove: Vec<DocumentPath>,
    pub(crate) add: Vec<(DocumentPath, AttributeValue)>,
    pub(crate) delete: Vec<(DocumentPath, AttributeValue)>,
    /// Every target path, in the order written.
    targets: Vec<DocumentPath>,
}

impl UpdateExpression {
    /// Parses an `UpdateExpression`.
    pub fn parse(text: &str, ctx: &mut ExpressionContext) -> ExprResult<UpdateExpression> {
        let mut p = Parser::new(text, ExpressionKind::Update, ctx)?;
        let mut u = UpdateExpression {
            set: Vec::new(),
            remove: Vec::new(),
            add: Vec::new(),
            delete: Vec::new(),
            targets: Vec::new(),
        };
        let mut seen: Vec<&str> = Vec::new();
        loop {
            let section = ["SET", "REMOVE", "ADD", "DELETE"]
                .into_iter()
                .find(|w| p.at_keyword(w));
            let Some(section) = section else {
                return Err(p.syntax_error());
            };
            if seen.contains(&section) {
                p.problems.push(
                    Category::Section,
                    format!(
                        "The \"{section}\" section can only be used once in an update expression;"
                    ),
                );
            }
            seen.push(section);
            p.advance();
            loop {
                let path = p.parse_path()?;
                u.targets.push(path.clone());
                match section {
                    "SET" => {
                        p.expect(&Tok::Eq)?;
                        let value = parse_set_value(&mut p)?.0;
                        u.set.push((path, value));
                    }
                    "REMOVE" => u.remove.push(path),
                    _ => {
                        let value = p.parse_value()?;
                        let value = value.unwrap_or(AttributeValue::Null);
                        check_add_delete(&mut p, section, &value);
                        if section == "ADD" {
                            u.add.push((path, value));
                        } else {
                            u.delete.push((path, value));
                        }
                    }
                }
                if p.peek().tok != Tok::Comma {
                    break;
                }
                p.advance();
            }
            if p.peek().tok == Tok::Eof {
                break;
            }
        }
        if let Some(message) = first_clash(&u.targets) {
            p.problems.push(Category::Overlap, message);
        }
        p.finish()?;
        Ok(u)
    }

    /// Refuses updates of key attributes, as DynamoDB does.
    pub fn validate(&self, schema: &KeySchema) -> ExprResult<()> {
        match self
            .targets
            .iter()
            .find(|p| schema.is_key_attribute(p.attribute()))
        {
            Some(path) => Err(cannot_update_key(path.attribute())),
            None => Ok(()),
        }
    }

    /// The new item: the update applied to `current`, or, when there is no
    /// current item, to an item holding just `key` (an upsert). Updates of
    /// attributes of `key` are refused.
    pub fn apply(&self, current: Option<&Item>, key: &Item) -> ExprResult<Item> {
        if let Some(path) = self.targets.iter().find(|p| key.contains(p.attribute())) {
            return Err(cannot_update_key(path.attribute()));
        }
        crate::expr::update_apply::apply(self, current.unwrap_or(key))
    }

    /// The paths the update writes or removes, in the order written.
    pub fn updated_paths(&self) -> &[DocumentPath] {
        &self.targets
    }

    /// `item` reduced to the updated paths: the old image gives
    /// `ReturnValues: UPDATED_OLD`, the new one `UPDATED_NEW`.
    pub fn project_updated(&self, item: &Item) -> Item {
        Projection::from_paths(self.targets.clone()).apply(item)
    }
}

fn cannot_update_key(name: &str) -> ExprError {
    ExprError::new(format!(
        "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
    ))
}

/// `ADD` takes numbers and sets, `DELETE` only sets.
fn check_add_delete(p: &mut Parser<'_>, section: &str, value: &AttributeValue) {
    let t = value.attribute_type();
    let ok = match t {
        AttributeType::Ss | AttributeType::Ns | AttributeType::Bs => true,
        AttributeType::N => section == "ADD",
        _ => false,
    };
    if !ok {
        p.problems.push(
            Category::UpdateOperand,
            format!(
                "Incorrect operand type for operator or function; operator: {section}, operand type: {}, typeSet: ALLOWED_FOR_{section}_OPERAND",
                long_type(t)
            ),
        );
    }
}

/// A `SET` value, and whether it was exactly one parenthesised operand.
fn parse_set_value(p: &mut Parser<'_>) -> ExprResult<(SetValue, bool)> {
    let left = if p.peek().tok == Tok::LParen {
        p.advance();
        p.enter()?;
        let (inner, _) = parse_set_value(p)?;
        p.expect(&Tok::RParen)?;
        p.leave();
        match inner {
            SetValue::Operand(o) => o,
            whole => return Ok((whole, true)),
        }
    } else {
        let raw = p.parse_raw_operand()?;
        to_operand(p, raw)
    };
    let plus = match p.peek().tok {
        Tok::Plus => true,
        Tok::Minus => false,
        _ => return Ok((SetValue::Operand(left), false)),
    };
    p.advance();
    let raw = p.parse_operand_parens()?.0;
    let right = to_operand(p, raw);
    let symbol = if plus { "+" } else { "-" };
    for operand in [&left, &right] {
        if let Some(t) = operand.static_type().filter(|t| *t != AttributeType::N) {
            type_problem(p, symbol, t);
            break;
        }
    }
    Ok((
        if plus {
            SetValue::Plus(left, right)
        } else {
            SetValue::Minus(left, right)
        },
        false,
    ))
}

fn type_problem(p: &mut Parser<'_>, name: &str, t: AttributeType) {
    p.problems.push(
        Category::OperandType,
        format!(
            "Incorrect operand type for operator or function; operator or function: {name}, operand type: {}",
            t.tag()
        ),
    );
}

/// A raw operand as a `SET` operand, recording misuse of functions.
fn to_operand(p: &mut Parser<'_>, raw: RawOperand) -> UpdateOperand {
    let placeholder = || UpdateOperand::Value(AttributeValue::Null);
    match raw {
        RawOperand::Path(path) => UpdateOperand::Path(path),
        RawOperand::Value(v) => UpdateOperand::Value(v.unwrap_or(AttributeValue::Null)),
        RawOperand::Call(name, args) => {
            if name != "if_not_exists" && name != "list_append" {
                let condition_functions = [
                    "attribute_exists",
                    "attribute_not_exists",
                    "attribute_type",
                    "begins_with",
                    "contains",
                    "size",
                ];
                let message = if condition_functions.contains(&name.as_str()) {
                    format!("The function is not allowed in an update expression; function: {name}")
                } else {
                    format!("Invalid function name; function: {name}")
                };
                p.problems.push(Category::UnknownFunction, message);
                return placeholder();
            }
            if args.len() != 2 {
                p.problems.push(
                    Category::Arity,
                    format!(
                        "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                        args.len()
                    ),
                );
                return placeholder();
            }
            let ops: Vec<_> = args.into_iter().map(|a| to_operand(p, a)).collect();
            let mut ops = ops.into_iter();
            let (Some(a), Some(b)) = (ops.next(), ops.next()) else {
                return placeholder();
            };
            if name == "list_append" {
                for operand in [&a, &b] {
                    if let Some(t) = operand.static_type().filter(|t| *t != AttributeType::L) {
                        type_problem(p, &name, t);
                        break;
                    }
                }
                return UpdateOperand::ListAppend(Box::new(a), Box::new(b));
            }
            match a {
                UpdateOperand::Path(path) => UpdateOperand::IfNotExists(path, Box::new(b)),
                _ => {
                    p.problems.push(
                        Category::OperandType,
                        format!("Operator or function requires a document path; operator or function: {name}"),
                    );
                    placeholder()
                }
            }
        }
    }
}
