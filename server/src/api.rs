//! The control API (read-only for now): `/api/v1/channels`.

use std::fmt::Write;

use http::StatusCode;
use sluice_media::CodecConfig;

use crate::egress::response::{Resp, cache, with_body};
use crate::hub::Hub;

/// Escapes a string for a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn channels(hub: &Hub) -> Resp {
    let mut items = Vec::new();
    for ch in hub.channels() {
        let snap = ch.snapshot();
        let video = snap.video.as_ref().and_then(|v| {
            let (width, height) = v.info.codec.video_size()?;
            let fps =
                v.info.codec.frame_rate().map_or("null".to_owned(), |(n, d)| {
                    format!("{:.3}", n as f64 / d.max(1) as f64)
                });
            Some(format!(
                "{{\"codec\":{},\"width\":{width},\"height\":{height},\"frame_rate\":{fps}}}",
                json_str(&v.info.codec_string()),
            ))
        });
        let audio = snap.audio.as_ref().and_then(|a| {
            let sample_rate = match &a.info.codec {
                CodecConfig::Aac(c) => c.sample_rate,
                CodecConfig::Opus(_) => 48_000,
                _ => return None,
            };
            let channels = a.info.codec.audio_channels().unwrap_or(0);
            Some(format!(
                "{{\"codec\":{},\"sample_rate\":{sample_rate},\"channels\":{channels}}}",
                json_str(&a.info.codec_string()),
            ))
        });
        items.push(format!(
            "{{\"id\":{},\"group\":{},\"channel\":{},\"live\":{},\"publishing\":{},\"summary\":{},\"video\":{},\"audio\":{},\"scte35\":{{\"cues\":{},\"last\":{}}},\"diagnostics\":[{}],\"endpoints\":{{\"hls\":{},\"ts\":{},\"srt\":{}}}}}",
            json_str(&ch.id),
            json_str(&ch.group),
            json_str(&ch.name),
            snap.live && snap.ready(),
            ch.is_publishing(),
            json_str(&snap.summary),
            video.unwrap_or_else(|| "null".into()),
            audio.unwrap_or_else(|| "null".into()),
            snap.cues,
            snap.last_cue.as_deref().map_or("null".to_owned(), json_str),
            snap.findings
                .iter()
                .map(|f| format!("{{\"code\":{},\"message\":{}}}", json_str(f.code), json_str(&f.message)))
                .collect::<Vec<_>>()
                .join(","),
            json_str(&format!("/{}/hls/index.m3u8", ch.id)),
            json_str(&format!("/{}/ts/index.m3u8", ch.id)),
            json_str(&format!("streamid=read:{}", ch.id)),
        ));
    }
    let body = format!("{{\"channels\":[{}]}}", items.join(","));
    let mut r = with_body(StatusCode::OK, "application/json", body);
    cache(&mut r, "no-store");
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
