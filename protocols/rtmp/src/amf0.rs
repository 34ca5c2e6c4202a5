//! AMF0 decoding for incoming command and data messages (`connect`, `publish`,
//! `@setDataFrame`…). Our own reader rather than `rml_amf0`'s: it bounds nesting depth (a
//! deeply nested object must not overflow the stack), rejects truncated values instead of
//! zero-filling them, keeps object properties in wire order (metadata is logged in order) and
//! knows every AMF0 type, including Date and Long String that some encoders put in metadata.
//!
//! Outgoing messages are encoded by `rml_rtmp`/`rml_amf0` (see `writer`).

/// How deep objects and arrays may nest. Publishers send flat objects; this only stops abuse.
pub(crate) const MAX_DEPTH: usize = 32;

/// One decoded AMF0 value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Number(f64),
    Boolean(bool),
    /// String, Long String and XML Document values.
    String(String),
    /// Object, ECMA array and typed object values, properties in wire order.
    Object(Vec<(String, Value)>),
    StrictArray(Vec<Value>),
    /// Milliseconds since the Unix epoch.
    Date(f64),
    Null,
    Undefined,
    /// A reference to an earlier complex value, by index (kept, not resolved).
    Reference(u16),
    Unsupported,
}

impl Value {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The property `name` of an object value.
    pub(crate) fn property(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(props) => props.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why AMF0 bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum Amf0Error {
    #[error("value truncated at byte {0}")]
    Truncated(usize),
    #[error("unknown type marker 0x{marker:02x} at byte {at}")]
    UnknownMarker { marker: u8, at: usize },
    #[error("type marker 0x{marker:02x} at byte {at} is reserved and not supported")]
    Reserved { marker: u8, at: usize },
    #[error("amf3 values are not supported (avmplus marker at byte {0})")]
    Amf3(usize),
    #[error("objects nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("object end marker outside an object at byte {0}")]
    StrayObjectEnd(usize),
    #[error("empty property name not followed by the object end marker at byte {0}")]
    EmptyPropertyName(usize),
}

// AMF0 specification, section 2.1: the type markers.
const NUMBER: u8 = 0x00;
const BOOLEAN: u8 = 0x01;
const STRING: u8 = 0x02;
const OBJECT: u8 = 0x03;
const MOVIECLIP: u8 = 0x04;
const NULL: u8 = 0x05;
const UNDEFINED: u8 = 0x06;
const REFERENCE: u8 = 0x07;
const ECMA_ARRAY: u8 = 0x08;
const OBJECT_END: u8 = 0x09;
const STRICT_ARRAY: u8 = 0x0A;
const DATE: u8 = 0x0B;
const LONG_STRING: u8 = 0x0C;
const UNSUPPORTED: u8 = 0x0D;
const RECORDSET: u8 = 0x0E;
const XML_DOCUMENT: u8 = 0x0F;
const TYPED_OBJECT: u8 = 0x10;
const AVMPLUS: u8 = 0x11;

/// Decodes every value in `bytes` (a command or data message body is a sequence of values).
pub(crate) fn decode_all(bytes: &[u8]) -> Result<Vec<Value>, Amf0Error> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut values = Vec::new();
    while reader.pos < bytes.len() {
        values.push(reader.value(0)?);
    }
    Ok(values)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Amf0Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(Amf0Error::Truncated(self.pos))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> Result<u8, Amf0Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Amf0Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Amf0Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, Amf0Error> {
        let b = self.take(8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(b);
        Ok(f64::from_be_bytes(raw))
    }

    fn utf8(&mut self, len: usize) -> Result<String, Amf0Error> {
        // Invalid UTF-8 is replaced rather than refused: names and metadata stay readable and
        // the server validates stream names itself.
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn short_string(&mut self) -> Result<String, Amf0Error> {
        let len = self.u16()?;
        self.utf8(usize::from(len))
    }

    fn long_string(&mut self) -> Result<String, Amf0Error> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| Amf0Error::Truncated(self.pos))?;
        self.utf8(len)
    }

    fn value(&mut self, depth: usize) -> Result<Value, Amf0Error> {
        let at = self.pos;
        let marker = self.u8()?;
        Ok(match marker {
            // "The data following a Number type marker is always an 8 byte IEEE-754 double
            // precision floating point value in network byte order" (AMF0 2.2).
            NUMBER => Value::Number(self.f64()?),
            BOOLEAN => Value::Boolean(self.u8()? != 0),
            STRING => Value::String(self.short_string()?),
            OBJECT => Value::Object(self.properties(depth + 1, false)?),
            NULL => Value::Null,
            UNDEFINED => Value::Undefined,
            REFERENCE => Value::Reference(self.u16()?),
            ECMA_ARRAY => {
                // "associative-count = U32" (AMF0 2.10): a hint only, properties follow as in
                // an object and end with the object end marker.
                let _count = self.u32()?;
                Value::Object(self.properties(depth + 1, true)?)
            }
            OBJECT_END => return Err(Amf0Error::StrayObjectEnd(at)),
            STRICT_ARRAY => {
                let count = self.u32()?;
                if depth + 1 > MAX_DEPTH {
                    return Err(Amf0Error::TooDeep);
                }
                // Each value takes at least one byte: never reserve more than what remains.
                let remaining = self.bytes.len() - self.pos;
                let mut items = Vec::with_capacity((count as usize).min(remaining));
                for _ in 0..count {
                    items.push(self.value(depth + 1)?);
                }
                Value::StrictArray(items)
            }
            DATE => {
                // "date-type = date-marker DOUBLE time-zone", time-zone = S16, reserved
                // (AMF0 2.13).
                let millis = self.f64()?;
                let _time_zone = self.u16()?;
                Value::Date(millis)
            }
            LONG_STRING | XML_DOCUMENT => Value::String(self.long_string()?),
            UNSUPPORTED => Value::Unsupported,
            TYPED_OBJECT => {
                let _class_name = self.short_string()?;
                Value::Object(self.properties(depth + 1, false)?)
            }
            MOVIECLIP | RECORDSET => return Err(Amf0Error::Reserved { marker, at }),
            AVMPLUS => return Err(Amf0Error::Amf3(at)),
            _ => return Err(Amf0Error::UnknownMarker { marker, at }),
        })
    }

    /// Object properties up to the end marker: "object-property = (UTF-8 value-type) |
    /// (UTF-8-empty object-end-marker)" (AMF0 2.5).
    fn properties(
        &mut self,
        depth: usize,
        lenient_end: bool,
    ) -> Result<Vec<(String, Value)>, Amf0Error> {
        if depth > MAX_DEPTH {
            return Err(Amf0Error::TooDeep);
        }
        let mut props = Vec::new();
        loop {
            // Some encoders end a top-level ECMA array with the message instead of the end
            // marker; accept that, as FLV readers do.
            if lenient_end && self.pos == self.bytes.len() {
                return Ok(props);
            }
            let key = self.short_string()?;
            if key.is_empty() {
                let at = self.pos;
                if lenient_end && self.pos == self.bytes.len() {
                    return Ok(props);
                }
                if self.u8()? != OBJECT_END {
                    return Err(Amf0Error::EmptyPropertyName(at));
                }
                return Ok(props);
            }
            let value = self.value(depth)?;
            props.push((key, value));
        }
    }
}

/// Renders a value for logging: integral numbers without a fraction, nested values inline.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::Number(n) | Value::Date(n) => display_number(*n),
        Value::Boolean(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Object(props) => {
            let inner: Vec<String> =
                props.iter().map(|(k, v)| format!("{k}: {}", display(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
        Value::StrictArray(items) => {
            let inner: Vec<String> = items.iter().map(display).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Null => "null".to_owned(),
        Value::Undefined => "undefined".to_owned(),
        Value::Reference(i) => format!("reference {i}"),
        Value::Unsupported => "unsupported".to_owned(),
    }
}

fn display_number(n: f64) -> String {
    // 2^53: every integer below it is exact in an f64.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut out = vec![STRING];
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn number(n: f64) -> Vec<u8> {
        let mut out = vec![NUMBER];
        out.extend_from_slice(&n.to_be_bytes());
        out
    }

    fn key(k: &str) -> Vec<u8> {
        let mut out = (k.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(k.as_bytes());
        out
    }

    #[test]
    fn decodes_a_connect_command_in_order() {
        let mut bytes = string("connect");
        bytes.extend(number(1.0));
        bytes.push(OBJECT);
        bytes.extend(key("app"));
        bytes.extend(string("live"));
        bytes.extend(key("flashVer"));
        bytes.extend(string("FMLE/3.0"));
        bytes.extend([0, 0, OBJECT_END]);
        let values = decode_all(&bytes).unwrap();
        assert_eq!(values.len(), 3);
        assert_eq!(values[0].as_str(), Some("connect"));
        assert_eq!(values[1].as_number(), Some(1.0));
        assert_eq!(values[2].property("app").and_then(Value::as_str), Some("live"));
        let Value::Object(props) = &values[2] else { panic!("not an object") };
        assert_eq!(props[0].0, "app");
        assert_eq!(props[1].0, "flashVer");
    }

    #[test]
    fn decodes_dates_long_strings_and_ecma_arrays() {
        let mut bytes = vec![ECMA_ARRAY, 0, 0, 0, 2];
        bytes.extend(key("creationdate"));
        bytes.push(DATE);
        bytes.extend(1_000.0f64.to_be_bytes());
        bytes.extend([0, 0]);
        bytes.extend(key("text"));
        bytes.push(LONG_STRING);
        bytes.extend(3u32.to_be_bytes());
        bytes.extend(b"abc");
        bytes.extend([0, 0, OBJECT_END]);
        let values = decode_all(&bytes).unwrap();
        assert_eq!(
            values,
            vec![Value::Object(vec![
                ("creationdate".into(), Value::Date(1000.0)),
                ("text".into(), Value::String("abc".into())),
            ])]
        );
    }

    #[test]
    fn ecma_array_without_end_marker_is_accepted_at_message_end() {
        let mut bytes = vec![ECMA_ARRAY, 0, 0, 0, 1];
        bytes.extend(key("width"));
        bytes.extend(number(320.0));
        let values = decode_all(&bytes).unwrap();
        assert_eq!(values[0].property("width"), Some(&Value::Number(320.0)));
    }

    #[test]
    fn truncated_string_is_an_error_not_zero_filled() {
        let mut bytes = string("publish");
        bytes.truncate(bytes.len() - 2);
        assert_eq!(decode_all(&bytes), Err(Amf0Error::Truncated(3)));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing_further() {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.push(OBJECT);
            bytes.extend(key("a"));
        }
        bytes.extend(number(1.0));
        assert_eq!(decode_all(&bytes), Err(Amf0Error::TooDeep));
        let nested_arrays: Vec<u8> =
            std::iter::repeat_n([STRICT_ARRAY, 0, 0, 0, 1], 10_000).flatten().collect();
        assert_eq!(decode_all(&nested_arrays), Err(Amf0Error::TooDeep));
    }

    #[test]
    fn huge_strict_array_count_does_not_preallocate() {
        let bytes = [STRICT_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, NULL];
        assert_eq!(decode_all(&bytes), Err(Amf0Error::Truncated(6)));
    }

    #[test]
    fn amf3_and_reserved_markers_are_refused() {
        assert_eq!(decode_all(&[AVMPLUS, 1]), Err(Amf0Error::Amf3(0)));
        assert_eq!(decode_all(&[MOVIECLIP]), Err(Amf0Error::Reserved { marker: MOVIECLIP, at: 0 }));
        assert_eq!(decode_all(&[0x42]), Err(Amf0Error::UnknownMarker { marker: 0x42, at: 0 }));
        assert_eq!(decode_all(&[OBJECT_END]), Err(Amf0Error::StrayObjectEnd(0)));
    }

    #[test]
    fn display_renders_integers_without_fraction() {
        assert_eq!(display(&Value::Number(320.0)), "320");
        assert_eq!(display(&Value::Number(29.97)), "29.97");
        assert_eq!(display(&Value::Boolean(true)), "true");
        assert_eq!(
            display(&Value::StrictArray(vec![Value::Null, Value::String("x".into())])),
            "[null, x]"
        );
    }
}
