//! Command and data messages: turns an AMF0 (or AMF3-wrapped AMF0) message body into a
//! [`Command`] (`connect`, `publish`, `FCPublish`…) or into data values (`@setDataFrame`).

use crate::amf0::{self, Value};
use crate::error::RtmpError;

/// Message type ids: "The message type value of 20 for AMF0 encoding and 17 for AMF3
/// encoding" (commands) and "18 for AMF0 and 15 for AMF3" (data) (RTMP 7.1.1, 7.1.2).
pub(crate) const COMMAND_AMF0: u8 = 20;
pub(crate) const COMMAND_AMF3: u8 = 17;
pub(crate) const DATA_AMF0: u8 = 18;
pub(crate) const DATA_AMF3: u8 = 15;

/// A decoded command message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Command {
    pub(crate) name: String,
    pub(crate) transaction_id: f64,
    /// The command object (`Null` for most commands).
    pub(crate) object: Value,
    /// Optional arguments after the command object.
    pub(crate) args: Vec<Value>,
}

/// The AMF0 bytes of a message body: AMF3-typed messages from publishers start with a
/// format selector byte 0 followed by AMF0 values.
fn amf0_body(type_id: u8, payload: &[u8]) -> &[u8] {
    match (type_id, payload.first()) {
        (COMMAND_AMF3 | DATA_AMF3, Some(0)) => &payload[1..],
        _ => payload,
    }
}

/// Decodes a command message: "Command Name", "Transaction ID", "Command Object", then
/// optional arguments (RTMP 7.2.1.1).
pub(crate) fn parse_command(type_id: u8, payload: &[u8]) -> Result<Command, RtmpError> {
    let values = amf0::decode_all(amf0_body(type_id, payload)).map_err(|e| {
        RtmpError::MalformedAmf { context: "command message", detail: e.to_string() }
    })?;
    let mut values = values.into_iter();
    let name = match values.next() {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(RtmpError::MalformedCommand(format!(
                "command name is {}, not a string",
                amf0::display(&other)
            )));
        }
        None => return Err(RtmpError::MalformedCommand("empty command message".into())),
    };
    // Some clients leave out the transaction id and command object of notifications; treat
    // missing ones as 0 and null rather than refusing the connection.
    let transaction_id = match values.next() {
        Some(Value::Number(n)) => n,
        None => 0.0,
        Some(other) => {
            return Err(RtmpError::MalformedCommand(format!(
                "transaction id of {name} is {}, not a number",
                amf0::display(&other)
            )));
        }
    };
    let object = values.next().unwrap_or(Value::Null);
    Ok(Command { name, transaction_id, object, args: values.collect() })
}

/// Decodes a data message into its values.
pub(crate) fn parse_data(type_id: u8, payload: &[u8]) -> Result<Vec<Value>, RtmpError> {
    amf0::decode_all(amf0_body(type_id, payload))
        .map_err(|e| RtmpError::MalformedAmf { context: "data message", detail: e.to_string() })
}

/// The stream metadata in a data message, as `(name, value)` strings in wire order:
/// `@setDataFrame("onMetaData", {…})` as encoders send it, or a bare `onMetaData({…})`.
pub(crate) fn metadata_fields(values: &[Value]) -> Option<Vec<(String, String)>> {
    let rest = match values.first().and_then(Value::as_str) {
        Some("@setDataFrame") => &values[1..],
        _ => values,
    };
    if rest.first().and_then(Value::as_str) != Some("onMetaData") {
        return None;
    }
    match rest.get(1) {
        Some(Value::Object(props)) => {
            Some(props.iter().map(|(k, v)| (k.clone(), amf0::display(v))).collect())
        }
        _ => Some(Vec::new()),
    }
}

/// Splits `name?query` into the name and the query (`None` when absent or empty).
pub(crate) fn split_query(raw: &str) -> (String, Option<String>) {
    match raw.split_once('?') {
        Some((name, query)) if !query.is_empty() => (name.to_owned(), Some(query.to_owned())),
        Some((name, _)) => (name.to_owned(), None),
        None => (raw.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(values: &[rml_rtmp::rml_amf0::Amf0Value]) -> Vec<u8> {
        rml_rtmp::rml_amf0::serialize(&values.to_vec()).unwrap()
    }

    #[test]
    fn parses_publish_with_arguments() {
        use rml_rtmp::rml_amf0::Amf0Value as A;
        let bytes = encode(&[
            A::Utf8String("publish".into()),
            A::Number(5.0),
            A::Null,
            A::Utf8String("cam1".into()),
            A::Utf8String("live".into()),
        ]);
        let cmd = parse_command(COMMAND_AMF0, &bytes).unwrap();
        assert_eq!(cmd.name, "publish");
        assert_eq!(cmd.transaction_id, 5.0);
        assert_eq!(cmd.object, Value::Null);
        assert_eq!(cmd.args[0].as_str(), Some("cam1"));
    }

    #[test]
    fn amf3_command_skips_the_format_byte() {
        use rml_rtmp::rml_amf0::Amf0Value as A;
        let mut bytes = vec![0];
        bytes.extend(encode(&[A::Utf8String("createStream".into()), A::Number(2.0), A::Null]));
        let cmd = parse_command(COMMAND_AMF3, &bytes).unwrap();
        assert_eq!(cmd.name, "createStream");
    }

    #[test]
    fn short_commands_do_not_panic() {
        use rml_rtmp::rml_amf0::Amf0Value as A;
        let cmd = parse_command(COMMAND_AMF0, &encode(&[A::Utf8String("x".into())])).unwrap();
        assert_eq!((cmd.transaction_id, cmd.object), (0.0, Value::Null));
        assert!(matches!(parse_command(COMMAND_AMF0, &[]), Err(RtmpError::MalformedCommand(_))));
        assert!(matches!(
            parse_command(COMMAND_AMF0, &encode(&[A::Number(1.0)])),
            Err(RtmpError::MalformedCommand(_))
        ));
    }

    #[test]
    fn metadata_from_set_data_frame_or_bare() {
        let obj = Value::Object(vec![
            ("width".into(), Value::Number(320.0)),
            ("encoder".into(), Value::String("Lavf59".into())),
        ]);
        let framed = vec![
            Value::String("@setDataFrame".into()),
            Value::String("onMetaData".into()),
            obj.clone(),
        ];
        let expected = vec![
            ("width".to_owned(), "320".to_owned()),
            ("encoder".to_owned(), "Lavf59".to_owned()),
        ];
        assert_eq!(metadata_fields(&framed), Some(expected.clone()));
        assert_eq!(metadata_fields(&[Value::String("onMetaData".into()), obj]), Some(expected));
        assert_eq!(metadata_fields(&[Value::String("onCuePoint".into())]), None);
        assert_eq!(metadata_fields(&[]), None);
    }

    #[test]
    fn query_is_split_from_names() {
        assert_eq!(split_query("cam1?token=abc"), ("cam1".into(), Some("token=abc".into())));
        assert_eq!(split_query("cam1?"), ("cam1".into(), None));
        assert_eq!(split_query("cam1"), ("cam1".into(), None));
        assert_eq!(split_query("a?b?c"), ("a".into(), Some("b?c".into())));
    }
}
