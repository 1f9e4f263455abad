//! The parts of the grammar every expression shares: the token cursor,
//! DynamoDB-style syntax errors, document paths, placeholders, function
//! calls and parenthesised operands.
//!
//! The kinds of expression build on this: conditions in `condition.rs`,
//! updates in `update.rs`, projections in `projection.rs`. Recursion is
//! counted with [`Parser::enter`] so hostile nesting ends in an error
//! rather than a stack overflow.

use crate::expr::ast::RawOperand;
use crate::expr::check::{Category, Problems};
use crate::expr::lexer::{tokenize, Tok, Token};
use crate::expr::path::{DocumentPath, PathElement};
use crate::expr::reserved::is_reserved_word;
use crate::expr::{
    ExprError, ExprResult, ExpressionContext, ExpressionKind, MAX_EXPRESSION_BYTES, MAX_NESTING,
    MAX_PATH_DEPTH,
};

/// A cursor over one expression's tokens.
pub(crate) struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Which expression this is.
    pub(crate) kind: ExpressionKind,
    /// The request's placeholders.
    pub(crate) ctx: &'a mut ExpressionContext,
    /// Problems found so far.
    pub(crate) problems: Problems,
}

impl<'a> Parser<'a> {
    /// A parser for `text`, which must be non-blank and at most 4 KB.
    pub(crate) fn new(
        text: &'a str,
        kind: ExpressionKind,
        ctx: &'a mut ExpressionContext,
    ) -> ExprResult<Parser<'a>> {
        if text.trim().is_empty() {
            return Err(ExprError::invalid(kind, "The expression can not be empty;"));
        }
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(ExprError::invalid(
                kind,
                format!(
                    "Expression size has exceeded the maximum allowed size; expression size: {}",
                    text.len()
                ),
            ));
        }
        Ok(Parser {
            text,
            tokens: tokenize(text),
            pos: 0,
            depth: 0,
            kind,
            ctx,
            problems: Problems::new(kind),
        })
    }

    /// The current token.
    pub(crate) fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    /// The token `n` places ahead (the end token past the end).
    pub(crate) fn peek_at(&self, n: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        // `tokenize` always ends with an end token, so `last` exists.
        &self.tokens[(self.pos + n).min(last)]
    }

    /// Moves past the current token, returning it.
    pub(crate) fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    /// Whether the current token is the keyword `word`.
    pub(crate) fn at_keyword(&self, word: &str) -> bool {
        self.peek().is_keyword(word)
    }

    /// Consumes `tok` or fails with a syntax error.
    pub(crate) fn expect(&mut self, tok: &Tok) -> ExprResult<()> {
        if &self.peek().tok == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// Consumes the keyword `word` or fails with a syntax error.
    pub(crate) fn expect_keyword(&mut self, word: &str) -> ExprResult<()> {
        if self.at_keyword(word) {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    /// DynamoDB's syntax error at the current token: `Syntax error; token:
    /// "b", near: "a b"`, where "near" runs from the previous token.
    pub(crate) fn syntax_error(&self) -> ExprError {
        let current = self.peek();
        let token = match current.tok {
            Tok::Eof => "<EOF>",
            _ => self.slice(current.start, current.end),
        };
        let near = match (
            self.pos.checked_sub(1).map(|p| &self.tokens[p]),
            &current.tok,
        ) {
            (Some(prev), Tok::Eof) => self.slice(prev.start, prev.end),
            (Some(prev), _) => self.slice(prev.start, current.end),
            (None, _) => token,
        };
        ExprError::invalid(
            self.kind,
            format!("Syntax error; token: \"{token}\", near: \"{near}\""),
        )
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or("")
    }

    /// Enters one level of nesting, failing past [`MAX_NESTING`].
    pub(crate) fn enter(&mut self) -> ExprResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(ExprError::invalid(
                self.kind,
                format!("The expression is nested too deeply; maximum nesting: {MAX_NESTING}"),
            ));
        }
        Ok(())
    }

    /// Leaves a level entered with [`Parser::enter`].
    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Whether `token` is a keyword of this kind of expression's grammar,
    /// which can never be an attribute name.
    fn is_grammar_keyword(&self, token: &Token) -> bool {
        let words: &[&str] = match self.kind {
            ExpressionKind::Update => &["SET", "REMOVE", "ADD", "DELETE"],
            ExpressionKind::Projection => &[],
            _ => &["AND", "OR", "NOT", "BETWEEN", "IN"],
        };
        words.iter().any(|w| token.is_keyword(w))
    }

    /// Whether the current token can start a path element.
    fn at_name(&self) -> bool {
        let token = self.peek();
        match token.tok {
            Tok::Name(_) => true,
            Tok::Ident(_) => !self.is_grammar_keyword(token),
            _ => false,
        }
    }

    /// One attribute name: a bare identifier (not reserved) or a `#name`.
    fn parse_name(&mut self) -> ExprResult<String> {
        if !self.at_name() {
            return Err(self.syntax_error());
        }
        match self.advance().tok {
            Tok::Ident(word) => {
                if is_reserved_word(&word) {
                    self.problems.push(
                        Category::Reserved,
                        format!("Attribute name is a reserved keyword; reserved keyword: {word}"),
                    );
                }
                Ok(word)
            }
            Tok::Name(placeholder) => match self.ctx.resolve_name(&placeholder) {
                Some(name) => Ok(name),
                None => {
                    self.problems.push(
                        Category::UndefinedName,
                        format!("An expression attribute name used in the document path is not defined; attribute name: {placeholder}"),
                    );
                    Ok(placeholder)
                }
            },
            _ => Err(self.syntax_error()),
        }
    }

    /// A document path: `name ( '.' name | '[' digits ']' )*`.
    pub(crate) fn parse_path(&mut self) -> ExprResult<DocumentPath> {
        let attribute = self.parse_name()?;
        let mut rest = Vec::new();
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.advance();
                    rest.push(PathElement::Name(self.parse_name()?));
                }
                Tok::LBracket => {
                    self.advance();
                    let index = match &self.peek().tok {
                        Tok::Number(digits) => digits.parse::<usize>().ok(),
                        _ => None,
                    };
                    let Some(index) = index else {
                        return Err(self.syntax_error());
                    };
                    self.advance();
                    self.expect(&Tok::RBracket)?;
                    rest.push(PathElement::Index(index));
                }
                _ => break,
            }
            if rest.len() + 1 > MAX_PATH_DEPTH {
                return Err(ExprError::invalid(
                    self.kind,
                    format!(
                        "The document path has too many nesting levels; nesting levels: {}",
                        rest.len() + 1
                    ),
                ));
            }
        }
        Ok(DocumentPath::new(attribute, rest))
    }

    /// An expression attribute value at the current token.
    pub(crate) fn parse_value(&mut self) -> ExprResult<Option<crate::AttributeValue>> {
        let Tok::Value(placeholder) = self.peek().tok.clone() else {
            return Err(self.syntax_error());
        };
        self.advance();
        let value = self.ctx.resolve_value(&placeholder);
        if value.is_none() {
            self.problems.push(
                Category::UndefinedValue,
                format!("An expression attribute value used in expression is not defined; attribute value: {placeholder}"),
            );
        }
        Ok(value)
    }

    /// A function call, value or path (no surrounding parentheses).
    pub(crate) fn parse_raw_operand(&mut self) -> ExprResult<RawOperand> {
        let token = self.peek();
        match &token.tok {
            Tok::Value(_) => Ok(RawOperand::Value(self.parse_value()?)),
            Tok::Ident(name)
                if !self.is_grammar_keyword(token) && self.peek_at(1).tok == Tok::LParen =>
            {
                let name = name.clone();
                self.advance();
                self.advance();
                self.enter()?;
                let mut args = vec![self.parse_operand_parens()?.0];
                while self.peek().tok == Tok::Comma {
                    self.advance();
                    args.push(self.parse_operand_parens()?.0);
                }
                self.expect(&Tok::RParen)?;
                self.leave();
                Ok(RawOperand::Call(name, args))
            }
            _ => Ok(RawOperand::Path(self.parse_path()?)),
        }
    }

    /// An operand, optionally in parentheses; the flag says whether it was
    /// parenthesised, so `((a))` can be refused as redundant.
    pub(crate) fn parse_operand_parens(&mut self) -> ExprResult<(RawOperand, bool)> {
        if self.peek().tok != Tok::LParen {
            return Ok((self.parse_raw_operand()?, false));
        }
        self.advance();
        self.enter()?;
        let (inner, wrapped) = self.parse_operand_parens()?;
        self.expect(&Tok::RParen)?;
        self.leave();
        if wrapped {
            self.redundant_parens();
        }
        Ok((inner, true))
    }

    /// Records DynamoDB's complaint about `((...))`.
    pub(crate) fn redundant_parens(&mut self) {
        self.problems.push(
            Category::RedundantParens,
            "The expression has redundant parentheses;",
        );
    }

    /// Requires the end of the text, then reports the collected problems.
    pub(crate) fn finish(self) -> ExprResult<()> {
        if self.peek().tok != Tok::Eof {
            return Err(self.syntax_error());
        }
        self.problems.into_result()
    }
}
