//! Splits expression text into tokens.
//!
//! The lexer never fails: a character it does not know becomes an
//! [`Tok::Unknown`] token, so the parser reports it as DynamoDB does, as a
//! syntax error naming the token and the text near it. Every token keeps
//! its byte span for those messages.

/// One token's kind and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`: a name, keyword or function name.
    Ident(String),
    /// `#name`: an expression attribute name placeholder.
    Name(String),
    /// `:name`: an expression attribute value placeholder.
    Value(String),
    /// A run of decimal digits (list indexes).
    Number(String),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
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
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// Any other character (or a lone `#` or `:`).
    Unknown(String),
    /// The end of the text.
    Eof,
}

/// A token and where it is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// Byte offset of the first character.
    pub(crate) start: usize,
    /// Byte offset just past the last character.
    pub(crate) end: usize,
}

impl Token {
    /// Whether this is the keyword `word` (case-insensitive).
    pub(crate) fn is_keyword(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_part(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The tokens of `text`, ending with [`Tok::Eof`].
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut take_while = |pred: fn(char) -> bool, end: &mut usize| {
            while let Some(&(i, n)) = chars.peek() {
                if !pred(n) {
                    break;
                }
                *end = i + n.len_utf8();
                chars.next();
            }
        };
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            ',' => Tok::Comma,
            '.' => Tok::Dot,
            '=' => Tok::Eq,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '<' | '>' => {
                let next = chars.peek().map(|&(_, n)| n);
                let (tok, two) = match (c, next) {
                    ('<', Some('>')) => (Tok::Ne, true),
                    ('<', Some('=')) => (Tok::Le, true),
                    ('>', Some('=')) => (Tok::Ge, true),
                    ('<', _) => (Tok::Lt, false),
                    _ => (Tok::Gt, false),
                };
                if two {
                    chars.next();
                    end += 1;
                }
                tok
            }
            '#' | ':' => {
                take_while(is_ident_part, &mut end);
                let word = &text[start..end];
                if word.len() == 1 {
                    Tok::Unknown(word.to_string())
                } else if c == '#' {
                    Tok::Name(word.to_string())
                } else {
                    Tok::Value(word.to_string())
                }
            }
            c if c.is_ascii_digit() => {
                take_while(|n| n.is_ascii_digit(), &mut end);
                Tok::Number(text[start..end].to_string())
            }
            c if is_ident_start(c) => {
                take_while(is_ident_part, &mut end);
                Tok::Ident(text[start..end].to_string())
            }
            other => Tok::Unknown(other.to_string()),
        };
        tokens.push(Token { tok, start, end });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        start: text.len(),
        end: text.len(),
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Tok> {
        tokenize(text).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_of_every_kind() {
        assert_eq!(
            kinds("a.#b[10] <> :v_1, (<=>=<>)+-é"),
            vec![
                Tok::Ident("a".into()),
                Tok::Dot,
                Tok::Name("#b".into()),
                Tok::LBracket,
                Tok::Number("10".into()),
                Tok::RBracket,
                Tok::Ne,
                Tok::Value(":v_1".into()),
                Tok::Comma,
                Tok::LParen,
                Tok::Le,
                Tok::Ge,
                Tok::Ne,
                Tok::RParen,
                Tok::Plus,
                Tok::Minus,
                Tok::Unknown("é".into()),
                Tok::Eof,
            ]
        );
        assert_eq!(
            kinds("# :"),
            vec![Tok::Unknown("#".into()), Tok::Unknown(":".into()), Tok::Eof]
        );
    }

    #[test]
    fn spans_cover_the_text() {
        let toks = tokenize(" ab  <= é");
        assert_eq!((toks[0].start, toks[0].end), (1, 3));
        assert_eq!((toks[1].start, toks[1].end), (5, 7));
        assert_eq!((toks[2].start, toks[2].end), (8, 10));
        assert_eq!((toks[3].start, toks[3].end), (10, 10));
        assert!(toks[0].is_keyword("AB"));
    }
}
