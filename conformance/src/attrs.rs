//! HLS attribute lists (HLS §4.2): `NAME=value,NAME="quoted",…`.
//!
//! The parser is strict about what the draft makes a MUST (names from `[A-Z0-9-]`, no
//! whitespace around `=`, no repeated names, closed quotes) and records each violation as an
//! error string instead of giving up, so the rules can report the exact problem.

use std::fmt;

/// One attribute value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// `"..."`: the content between the quotes.
    Quoted(String),
    /// Anything else: decimal-integer, float, enumerated-string, hex, resolution.
    Bare(String),
}

impl AttrValue {
    /// The text of the value (without quotes).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Quoted(s) | Self::Bare(s) => s,
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Quoted(s) => write!(f, "\"{s}\""),
            Self::Bare(s) => f.write_str(s),
        }
    }
}

/// A parsed attribute list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrList {
    /// Name/value pairs in order.
    pub pairs: Vec<(String, AttrValue)>,
    /// Syntax violations found while parsing (empty for a clean list).
    pub errors: Vec<String>,
}

impl AttrList {
    /// Parses an attribute list, collecting syntax errors.
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            // Name.
            let name_start = i;
            while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b',' {
                i += 1;
            }
            let name = &text[name_start..i];
            if i >= bytes.len() || bytes[i] == b',' {
                out.errors.push(format!("attribute {name:?} has no '=' value"));
                i += 1;
                continue;
            }
            // "An AttributeName is an unquoted string containing characters from the set
            // [A-Z], [0-9], and '-'." / "There MUST NOT be any whitespace between the
            // AttributeName and the '=' character" (HLS §4.2)
            if name.is_empty()
                || !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            {
                out.errors.push(format!("bad attribute name {name:?}"));
            }
            i += 1; // '='
            let value = if i < bytes.len() && bytes[i] == b'"' {
                let start = i + 1;
                match text[start..].find('"') {
                    Some(len) => {
                        i = start + len + 1;
                        AttrValue::Quoted(text[start..start + len].to_string())
                    }
                    None => {
                        out.errors.push(format!("unterminated quoted value for {name}"));
                        i = bytes.len();
                        AttrValue::Quoted(text[start..].to_string())
                    }
                }
            } else {
                let start = i;
                while i < bytes.len() && bytes[i] != b',' {
                    i += 1;
                }
                let v = &text[start..i];
                if v.is_empty() {
                    out.errors.push(format!("empty value for {name}"));
                }
                if v.bytes().any(|b| b.is_ascii_whitespace() || b == b'"') {
                    out.errors.push(format!("whitespace or quote in unquoted value {name}={v}"));
                }
                AttrValue::Bare(v.to_string())
            };
            if i < bytes.len() {
                if bytes[i] == b',' {
                    i += 1;
                    if i == bytes.len() {
                        out.errors.push("trailing comma".into());
                    }
                } else {
                    out.errors.push(format!("garbage after value of {name}"));
                    while i < bytes.len() && bytes[i] != b',' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            // "A given AttributeName MUST NOT appear more than once in a given attribute-list."
            if out.pairs.iter().any(|(n, _)| n == name) {
                out.errors.push(format!("attribute {name} appears twice"));
            }
            out.pairs.push((name.to_string(), value));
        }
        out
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// True when `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The text of `name` whatever its quoting.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(AttrValue::as_str)
    }

    /// A quoted-string value; `Err` when present but unquoted.
    pub fn quoted(&self, name: &str) -> Option<Result<&str, String>> {
        self.get(name).map(|v| match v {
            AttrValue::Quoted(s) => Ok(s.as_str()),
            AttrValue::Bare(s) => Err(format!("{name}={s} must be a quoted-string")),
        })
    }

    /// A decimal-integer value (`[0-9]{1,20}`); `Err` when present but malformed.
    pub fn decimal_integer(&self, name: &str) -> Option<Result<u64, String>> {
        self.get(name).map(|v| match v {
            AttrValue::Bare(s) if is_decimal_integer(s) => {
                s.parse::<u64>().map_err(|_| format!("{name}={s} out of range"))
            }
            other => Err(format!("{name}={other} is not a decimal-integer")),
        })
    }

    /// A decimal-floating-point value (`[0-9.]`, non-negative); `Err` when malformed.
    pub fn decimal_float(&self, name: &str) -> Option<Result<f64, String>> {
        self.get(name).map(|v| match v {
            AttrValue::Bare(s) => parse_decimal_float(s)
                .ok_or_else(|| format!("{name}={s} is not a decimal-floating-point")),
            other => Err(format!("{name}={other} is not a decimal-floating-point")),
        })
    }

    /// An enumerated-string value; `Err` when quoted.
    pub fn enumerated(&self, name: &str) -> Option<Result<&str, String>> {
        self.get(name).map(|v| match v {
            AttrValue::Bare(s) => Ok(s.as_str()),
            AttrValue::Quoted(s) => Err(format!("{name}=\"{s}\" must not be quoted")),
        })
    }

    /// True when `name` is the enumerated-string `YES`.
    pub fn is_yes(&self, name: &str) -> bool {
        matches!(self.get(name), Some(AttrValue::Bare(s)) if s == "YES")
    }
}

/// `[0-9]{1,20}`.
pub fn is_decimal_integer(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// decimal-floating-point: digits and at most one '.', at least one digit.
pub fn parse_decimal_float(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.bytes().filter(|b| *b == b'.').count() <= 1
        && s.bytes().any(|b| b.is_ascii_digit());
    if ok { s.parse::<f64>().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mixed_values() {
        let a = AttrList::parse(r#"URI="a,b.m4s",DURATION=0.2,INDEPENDENT=YES,BYTERANGE="10@0""#);
        assert!(a.errors.is_empty(), "{:?}", a.errors);
        assert_eq!(a.quoted("URI"), Some(Ok("a,b.m4s")));
        assert_eq!(a.decimal_float("DURATION"), Some(Ok(0.2)));
        assert!(a.is_yes("INDEPENDENT"));
        assert_eq!(a.text("BYTERANGE"), Some("10@0"));
    }

    #[test]
    fn reports_syntax_errors() {
        assert!(!AttrList::parse("lower=1").errors.is_empty());
        assert!(!AttrList::parse("A = 1").errors.is_empty());
        assert!(!AttrList::parse("A=1,A=2").errors.is_empty());
        assert!(!AttrList::parse("A=\"open").errors.is_empty());
        assert!(!AttrList::parse("A=1,").errors.is_empty());
        assert!(!AttrList::parse("NOVALUE").errors.is_empty());
    }

    #[test]
    fn typed_accessors_reject_wrong_types() {
        let a = AttrList::parse(r#"N="5",F=-1.0,E="YES""#);
        assert!(a.decimal_integer("N").unwrap().is_err());
        assert!(a.decimal_float("F").unwrap().is_err());
        assert!(a.enumerated("E").unwrap().is_err());
        assert!(a.decimal_integer("MISSING").is_none());
    }
}
