//! A small XML reader for MPDs: elements, attributes, the five predefined entities and
//! character references, comments, processing instructions (the XML declaration), CDATA and
//! DOCTYPE (skipped). Text content is kept per element (trimmed). No namespaces beyond keeping
//! the prefix in the name, no DTD entities. Never panics: garbage gives an error.

use std::fmt;

/// Deepest nesting accepted (an MPD is ~6 levels; this bounds recursion on hostile input).
const MAX_DEPTH: usize = 64;

/// One element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    /// Tag name as written (with any prefix).
    pub name: String,
    /// Attributes in document order, values with entities decoded.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Concatenated character data, trimmed.
    pub text: String,
}

impl Element {
    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Children named `name` (local name; any prefix ignored).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.local_name() == name)
    }

    /// First child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local_name() == name)
    }

    /// Name without a namespace prefix.
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }
}

/// Why a document did not parse, with the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// Byte offset into the input.
    pub at: usize,
    /// What was wrong.
    pub msg: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XML error at byte {}: {}", self.at, self.msg)
    }
}

impl std::error::Error for XmlError {}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, XmlError> {
        Err(XmlError { at: self.pos, msg: msg.into() })
    }

    fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    /// Skips past `end`, erroring if it never comes.
    fn skip_past(&mut self, end: &str, what: &str) -> Result<(), XmlError> {
        match self.rest().find(end) {
            Some(i) => {
                self.pos += i + end.len();
                Ok(())
            }
            None => self.err(format!("unterminated {what}")),
        }
    }

    /// Skips comments, PIs, DOCTYPE and whitespace between top-level nodes.
    fn skip_misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("<?") {
                self.skip_past("?>", "processing instruction")?;
            } else if r.starts_with("<!--") {
                self.skip_past("-->", "comment")?;
            } else if r.starts_with("<!DOCTYPE") {
                self.skip_past(">", "DOCTYPE")?;
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<String, XmlError> {
        let r = self.rest();
        let end = r
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/' | '<' | '"' | '\''))
            .unwrap_or(r.len());
        if end == 0 {
            return self.err("expected a name");
        }
        self.pos += end;
        Ok(r[..end].to_string())
    }

    fn element(&mut self, depth: usize) -> Result<Element, XmlError> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        if !self.rest().starts_with('<') {
            return self.err("expected '<'");
        }
        self.pos += 1;
        let mut el = Element { name: self.name()?, ..Element::default() };
        loop {
            self.skip_ws();
            let r = self.rest();
            if r.starts_with("/>") {
                self.pos += 2;
                return Ok(el);
            }
            if r.starts_with('>') {
                self.pos += 1;
                break;
            }
            if r.is_empty() {
                return self.err(format!("unterminated start tag <{}>", el.name));
            }
            let name = self.name()?;
            self.skip_ws();
            if !self.rest().starts_with('=') {
                return self.err(format!("attribute {name} without a value"));
            }
            self.pos += 1;
            self.skip_ws();
            let Some(q) = self.rest().chars().next().filter(|c| *c == '"' || *c == '\'') else {
                return self.err(format!("attribute {name} value not quoted"));
            };
            self.pos += 1;
            let Some(end) = self.rest().find(q) else {
                return self.err(format!("attribute {name} value unterminated"));
            };
            let raw = &self.rest()[..end];
            if raw.contains('<') {
                return self.err(format!("'<' in attribute {name}"));
            }
            let value = decode(raw).map_err(|m| XmlError { at: self.pos, msg: m })?;
            self.pos += end + 1;
            if el.attrs.iter().any(|(n, _)| *n == name) {
                return self.err(format!("duplicate attribute {name}"));
            }
            el.attrs.push((name, value));
        }
        // Content until the matching end tag.
        let mut text = String::new();
        loop {
            let r = self.rest();
            if r.is_empty() {
                return self.err(format!("<{}> not closed", el.name));
            }
            if let Some(after) = r.strip_prefix("</") {
                let end = after.find('>').map_or(after.len(), |i| i);
                if after[..end].trim() != el.name {
                    return self.err(format!("</{}> closes <{}>", after[..end].trim(), el.name));
                }
                self.pos += 2 + end;
                if !self.rest().starts_with('>') {
                    return self.err("unterminated end tag");
                }
                self.pos += 1;
                el.text = text.trim().to_string();
                return Ok(el);
            }
            if r.starts_with("<!--") {
                self.skip_past("-->", "comment")?;
            } else if r.starts_with("<![CDATA[") {
                let start = self.pos + 9;
                self.skip_past("]]>", "CDATA")?;
                text.push_str(self.s.get(start..self.pos - 3).unwrap_or(""));
            } else if r.starts_with("<?") {
                self.skip_past("?>", "processing instruction")?;
            } else if r.starts_with('<') {
                el.children.push(self.element(depth + 1)?);
            } else {
                let end = r.find('<').unwrap_or(r.len());
                text.push_str(&decode(&r[..end]).map_err(|m| XmlError { at: self.pos, msg: m })?);
                self.pos += end;
            }
        }
    }
}

/// Decodes entity and character references.
fn decode(raw: &str) -> Result<String, String> {
    if !raw.contains('&') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(semi) = after.find(';').filter(|s| *s <= 10) else {
            return Err(format!("bare '&' in {raw:?}"));
        };
        let ent = &after[..semi];
        let c = match ent {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').map(|d| d.parse::<u32>().ok()))
                .flatten()
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => out.push(c),
            None => return Err(format!("unknown entity &{ent};")),
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses a document with exactly one root element.
pub fn parse(s: &str) -> Result<Element, XmlError> {
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let mut p = Parser { s, pos: 0 };
    p.skip_misc()?;
    let root = p.element(0)?;
    p.skip_misc()?;
    if !p.rest().is_empty() {
        return p.err("content after the root element");
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_declaration_comments_entities_and_nesting() {
        let doc = "<?xml version=\"1.0\"?>\n<!-- c --><MPD a='1 &amp; 2' b=\"&#x41;&#66;\">\
                   <P id=\"x\"><Q/>t&lt;<![CDATA[<raw>]]></P><!-- x --></MPD>\n";
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "MPD");
        assert_eq!(root.attr("a"), Some("1 & 2"));
        assert_eq!(root.attr("b"), Some("AB"));
        let p = root.child("P").unwrap();
        assert_eq!(p.attr("id"), Some("x"));
        assert_eq!(p.children.len(), 1);
        assert_eq!(p.text, "t<<raw>");
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a b=1/>",
            "<a b='1' b='2'/>",
            "<a/><b/>",
            "<a>&bogus;</a>",
            "<a x='&'/>",
            "<",
            "<a b",
            "</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&"<a>".repeat(100)).is_err());
    }

    #[test]
    fn never_panics_on_truncations_and_byte_noise() {
        let doc = "<?xml version=\"1.0\"?><MPD x=\"&amp;&#233;é\"><A b='c'><![CDATA[z]]></A>\
                   <!--c--><B/></MPD>";
        for i in 0..=doc.len() {
            if let Some(prefix) = doc.get(..i) {
                let _ = parse(prefix);
            }
        }
        let mut seed: u32 = 7;
        for _ in 0..2000 {
            let mut bytes = doc.as_bytes().to_vec();
            for _ in 0..4 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let at = (seed >> 8) as usize % bytes.len();
                bytes[at] = b"<>&;/'\"=!?[]-x "[(seed >> 20) as usize % 15];
            }
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
