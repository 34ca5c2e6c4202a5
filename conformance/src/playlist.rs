//! The checker's own HLS playlist parser: lines → tags → Media or Multivariant Playlist.
//!
//! Parsing never fails: every structural problem (a tag in the wrong place, a malformed value,
//! an EXTINF with no URI) is recorded with its line number so that a rule can report it as
//! evidence. Covers every tag of draft-pantos-hls-rfc8216bis-22 that a live LL-HLS origin emits:
//! EXT-X-PART, EXT-X-PART-INF, EXT-X-SERVER-CONTROL, EXT-X-SKIP, EXT-X-PRELOAD-HINT and
//! EXT-X-RENDITION-REPORT included.

use crate::attrs::{AttrList, parse_decimal_float};

/// What kind of tag a name is (HLS §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagClass {
    /// EXTM3U, EXT-X-VERSION (§4.4.1).
    Basic,
    /// Allowed in both kinds of playlist (§4.4.2).
    Either,
    /// Media Playlist tags (§4.4.3).
    MediaPlaylist,
    /// Media Segment tags (§4.4.4).
    MediaSegment,
    /// Media Metadata tags (§4.4.5).
    MediaMetadata,
    /// Multivariant Playlist tags (§4.4.6).
    Multivariant,
    /// Anything else starting with `#EXT`.
    Unknown,
}

/// Classifies a tag name (without `#`).
pub fn tag_class(name: &str) -> TagClass {
    match name {
        "EXTM3U" | "EXT-X-VERSION" => TagClass::Basic,
        "EXT-X-INDEPENDENT-SEGMENTS" | "EXT-X-START" | "EXT-X-DEFINE" => TagClass::Either,
        "EXT-X-TARGETDURATION"
        | "EXT-X-MEDIA-SEQUENCE"
        | "EXT-X-DISCONTINUITY-SEQUENCE"
        | "EXT-X-ENDLIST"
        | "EXT-X-PLAYLIST-TYPE"
        | "EXT-X-I-FRAMES-ONLY"
        | "EXT-X-PART-INF"
        | "EXT-X-SERVER-CONTROL" => TagClass::MediaPlaylist,
        "EXTINF"
        | "EXT-X-BYTERANGE"
        | "EXT-X-DISCONTINUITY"
        | "EXT-X-KEY"
        | "EXT-X-MAP"
        | "EXT-X-PROGRAM-DATE-TIME"
        | "EXT-X-GAP"
        | "EXT-X-BITRATE"
        | "EXT-X-PART" => TagClass::MediaSegment,
        "EXT-X-DATERANGE" | "EXT-X-SKIP" | "EXT-X-PRELOAD-HINT" | "EXT-X-RENDITION-REPORT" => {
            TagClass::MediaMetadata
        }
        "EXT-X-MEDIA"
        | "EXT-X-STREAM-INF"
        | "EXT-X-I-FRAME-STREAM-INF"
        | "EXT-X-SESSION-DATA"
        | "EXT-X-SESSION-KEY"
        | "EXT-X-CONTENT-STEERING" => TagClass::Multivariant,
        _ => TagClass::Unknown,
    }
}

/// One line of a playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    /// `#EXT…` tag: name without `#`, value after the first `:`.
    Tag { name: String, value: Option<String> },
    /// A URI line.
    Uri(String),
    /// A `#` line that is not a tag.
    Comment,
    /// An empty line.
    Blank,
}

/// A line with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// 1-based line number.
    pub line: usize,
    /// What the line is.
    pub kind: ItemKind,
}

/// A playlist split into lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// Every line in order.
    pub items: Vec<Item>,
    /// True when the text ends with a line terminator.
    pub ends_with_newline: bool,
}

impl Document {
    /// Splits text into lines (LF or CRLF terminated).
    pub fn parse(text: &str) -> Self {
        let mut items = Vec::new();
        let body = text.strip_suffix('\n').unwrap_or(text);
        for (i, raw) in body.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let kind = if line.is_empty() {
                ItemKind::Blank
            } else if let Some(tag) = line.strip_prefix("#EXT") {
                let full = format!("EXT{tag}");
                match full.split_once(':') {
                    Some((n, v)) => {
                        ItemKind::Tag { name: n.to_string(), value: Some(v.to_string()) }
                    }
                    None => ItemKind::Tag { name: full, value: None },
                }
            } else if line.starts_with('#') {
                ItemKind::Comment
            } else {
                ItemKind::Uri(line.to_string())
            };
            items.push(Item { line: i + 1, kind });
        }
        if text.is_empty() {
            items.clear();
        }
        Self { items, ends_with_newline: text.ends_with('\n') }
    }

    /// Tags in order as (line, name, value).
    pub fn tags(&self) -> impl Iterator<Item = (usize, &str, Option<&str>)> {
        self.items.iter().filter_map(|it| match &it.kind {
            ItemKind::Tag { name, value } => Some((it.line, name.as_str(), value.as_deref())),
            _ => None,
        })
    }

    /// Number of occurrences of a tag.
    pub fn count(&self, name: &str) -> usize {
        self.tags().filter(|(_, n, _)| *n == name).count()
    }

    /// True when any Multivariant Playlist tag is present.
    pub fn is_multivariant(&self) -> bool {
        self.tags().any(|(_, n, _)| tag_class(n) == TagClass::Multivariant)
    }
}

/// EXT-X-MAP as applied to a segment or part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRef {
    /// URI attribute.
    pub uri: Option<String>,
    /// BYTERANGE attribute.
    pub byterange: Option<String>,
    /// Line of the EXT-X-MAP tag.
    pub line: usize,
}

/// An EXT-X-PART.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// Attribute list as parsed.
    pub attrs: AttrList,
    /// URI attribute (quoted).
    pub uri: Option<String>,
    /// DURATION attribute.
    pub duration: Option<f64>,
    /// INDEPENDENT=YES.
    pub independent: bool,
    /// GAP=YES.
    pub gap: bool,
    /// BYTERANGE attribute.
    pub byterange: Option<String>,
    /// EXT-X-MAP in force for this part.
    pub map: Option<MapRef>,
    /// Line of the tag.
    pub line: usize,
}

/// A complete Media Segment (EXTINF + URI) with its partial segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Media Sequence Number.
    pub msn: u64,
    /// EXTINF duration in seconds (NaN when missing or malformed).
    pub duration: f64,
    /// EXTINF duration as written.
    pub duration_raw: String,
    /// URI line.
    pub uri: String,
    /// EXT-X-PART tags of this parent segment.
    pub parts: Vec<Part>,
    /// EXT-X-DISCONTINUITY applied.
    pub discontinuity: bool,
    /// Discontinuity Sequence Number of the segment.
    pub discontinuity_seq: u64,
    /// EXT-X-GAP applied.
    pub gap: bool,
    /// EXT-X-PROGRAM-DATE-TIME applied (value as written).
    pub program_date_time: Option<String>,
    /// EXT-X-BYTERANGE applied.
    pub byterange: Option<String>,
    /// EXT-X-MAP in force.
    pub map: Option<MapRef>,
    /// Line of the URI.
    pub line: usize,
}

/// An EXT-X-PRELOAD-HINT.
#[derive(Debug, Clone, PartialEq)]
pub struct PreloadHint {
    /// Attribute list.
    pub attrs: AttrList,
    /// TYPE (PART or MAP).
    pub hint_type: Option<String>,
    /// URI.
    pub uri: Option<String>,
    /// Line of the tag.
    pub line: usize,
}

/// An EXT-X-RENDITION-REPORT.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionReport {
    /// Attribute list.
    pub attrs: AttrList,
    /// URI.
    pub uri: Option<String>,
    /// LAST-MSN.
    pub last_msn: Option<u64>,
    /// LAST-PART.
    pub last_part: Option<u64>,
    /// Line of the tag.
    pub line: usize,
}

/// EXT-X-SERVER-CONTROL with typed attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerControl {
    /// Attribute list as parsed.
    pub attrs: AttrList,
    /// CAN-BLOCK-RELOAD=YES.
    pub can_block_reload: bool,
    /// CAN-SKIP-UNTIL (seconds).
    pub can_skip_until: Option<f64>,
    /// CAN-SKIP-DATERANGES=YES.
    pub can_skip_dateranges: bool,
    /// HOLD-BACK (seconds).
    pub hold_back: Option<f64>,
    /// PART-HOLD-BACK (seconds).
    pub part_hold_back: Option<f64>,
}

/// A parsed Media Playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaPlaylist {
    /// The lines.
    pub doc: Document,
    /// EXT-X-VERSION.
    pub version: Option<u64>,
    /// EXT-X-TARGETDURATION.
    pub target_duration: Option<u64>,
    /// EXT-X-TARGETDURATION as written.
    pub target_duration_raw: Option<String>,
    /// EXT-X-MEDIA-SEQUENCE (0 when absent).
    pub media_sequence: u64,
    /// True when EXT-X-MEDIA-SEQUENCE is present.
    pub has_media_sequence: bool,
    /// EXT-X-DISCONTINUITY-SEQUENCE (0 when absent).
    pub discontinuity_sequence: u64,
    /// EXT-X-PLAYLIST-TYPE.
    pub playlist_type: Option<String>,
    /// EXT-X-ENDLIST present.
    pub endlist: bool,
    /// EXT-X-INDEPENDENT-SEGMENTS present.
    pub independent_segments: bool,
    /// EXT-X-I-FRAMES-ONLY present.
    pub i_frames_only: bool,
    /// EXT-X-PART-INF attributes.
    pub part_inf: Option<AttrList>,
    /// PART-TARGET (seconds).
    pub part_target: Option<f64>,
    /// EXT-X-SERVER-CONTROL.
    pub server_control: Option<ServerControl>,
    /// EXT-X-SKIP SKIPPED-SEGMENTS (Some(0) for a malformed value).
    pub skipped_segments: Option<u64>,
    /// EXT-X-SKIP attributes.
    pub skip: Option<AttrList>,
    /// Complete segments, oldest first.
    pub segments: Vec<Segment>,
    /// Parts after the last URI line: the parent segment still being produced.
    pub trailing_parts: Vec<Part>,
    /// EXT-X-DISCONTINUITY applied to the parent still being produced.
    pub trailing_discontinuity: bool,
    /// EXT-X-PROGRAM-DATE-TIME applied to the parent still being produced (the only one in a
    /// playlist whose first segment has parts but no URI line yet).
    pub trailing_program_date_time: Option<String>,
    /// EXT-X-MAP in force at the end of the playlist (applies to the hinted part).
    pub final_map: Option<MapRef>,
    /// EXT-X-PRELOAD-HINT tags.
    pub preload_hints: Vec<PreloadHint>,
    /// EXT-X-RENDITION-REPORT tags.
    pub rendition_reports: Vec<RenditionReport>,
    /// Number of EXT-X-DATERANGE tags.
    pub dateranges: usize,
    /// EXT-X-KEY methods seen.
    pub key_methods: Vec<String>,
    /// True when some EXT-X-KEY uses KEYFORMAT / KEYFORMATVERSIONS.
    pub key_format_attrs: bool,
    /// True when some EXT-X-KEY has an IV.
    pub key_iv: bool,
    /// Media-segment tags found after an EXT-X-PART of the same parent (HLS §4.4.4.9).
    pub order_issues: Vec<String>,
    /// EXT-X-MEDIA-SEQUENCE / DISCONTINUITY-SEQUENCE placement problems (HLS §4.4.3.2–3).
    pub sequence_issues: Vec<String>,
    /// Malformed values and structure (EXTINF without URI, bad attribute lists…).
    pub syntax_issues: Vec<String>,
}

#[derive(Debug, Default)]
struct Pending {
    extinf: Option<(f64, String)>,
    parts: Vec<Part>,
    discontinuity: bool,
    gap: bool,
    pdt: Option<String>,
    byterange: Option<String>,
    touched: bool,
}

impl MediaPlaylist {
    /// EXT-X-SERVER-CONTROL attributes as sorted (name, value) pairs, for comparing playlists
    /// (empty when the tag is absent).
    pub fn server_control_pairs(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .server_control
            .as_ref()
            .map(|s| s.attrs.pairs.iter().map(|(n, v)| (n.clone(), v.to_string())).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Parses a Media Playlist.
    pub fn parse(text: &str) -> Self {
        Self::from_doc(Document::parse(text))
    }

    /// Builds the model from lines.
    pub fn from_doc(doc: Document) -> Self {
        let mut p = Self::default();
        let mut pending = Pending::default();
        let mut map: Option<MapRef> = None;
        let mut disc_seen = false;
        let mut raw_segments: Vec<Segment> = Vec::new();
        let mut disc_count = 0u64;
        for item in &doc.items {
            let line = item.line;
            match &item.kind {
                ItemKind::Blank | ItemKind::Comment => {}
                ItemKind::Uri(uri) => {
                    let (duration, duration_raw) = match pending.extinf.take() {
                        Some(x) => x,
                        None => {
                            p.syntax_issues
                                .push(format!("line {line}: segment URI without EXTINF"));
                            (f64::NAN, String::new())
                        }
                    };
                    if pending.discontinuity {
                        disc_count += 1;
                    }
                    raw_segments.push(Segment {
                        msn: 0,
                        duration,
                        duration_raw,
                        uri: uri.clone(),
                        parts: std::mem::take(&mut pending.parts),
                        discontinuity: pending.discontinuity,
                        discontinuity_seq: disc_count,
                        gap: pending.gap,
                        program_date_time: pending.pdt.take(),
                        byterange: pending.byterange.take(),
                        map: map.clone(),
                        line,
                    });
                    pending = Pending::default();
                }
                ItemKind::Tag { name, value } => {
                    let value = value.as_deref().unwrap_or_default();
                    let before_first_segment = raw_segments.is_empty() && !pending.touched;
                    p.tag(
                        name,
                        value,
                        line,
                        &mut pending,
                        &mut map,
                        &mut disc_seen,
                        before_first_segment,
                    );
                }
            }
        }
        if pending.extinf.is_some() {
            p.syntax_issues.push("EXTINF at end of playlist without a URI line".into());
        }
        let first = p.media_sequence + p.skipped_segments.unwrap_or(0);
        for (i, s) in raw_segments.iter_mut().enumerate() {
            s.msn = first + i as u64;
            s.discontinuity_seq += p.discontinuity_sequence;
        }
        p.segments = raw_segments;
        p.trailing_parts = pending.parts;
        p.trailing_discontinuity = pending.discontinuity;
        p.trailing_program_date_time = pending.pdt;
        p.final_map = map;
        p.doc = doc;
        p
    }

    #[allow(clippy::too_many_arguments)]
    fn tag(
        &mut self,
        name: &str,
        value: &str,
        line: usize,
        pending: &mut Pending,
        map: &mut Option<MapRef>,
        disc_seen: &mut bool,
        before_first_segment: bool,
    ) {
        // "they MUST appear before the first EXT-X-PART tag of that Parent Segment" (§4.4.4.9)
        let after_part = |pending: &Pending, issues: &mut Vec<String>| {
            if !pending.parts.is_empty() {
                issues.push(format!(
                    "line {line}: {name} after EXT-X-PART of the same parent segment"
                ));
            }
        };
        match name {
            "EXT-X-VERSION" => self.version = self.int_value(name, value, line),
            "EXT-X-TARGETDURATION" => {
                self.target_duration_raw = Some(value.to_string());
                self.target_duration = self.int_value(name, value, line);
            }
            "EXT-X-MEDIA-SEQUENCE" => {
                self.has_media_sequence = true;
                self.media_sequence = self.int_value(name, value, line).unwrap_or(0);
                if !before_first_segment {
                    self.sequence_issues
                        .push(format!("line {line}: EXT-X-MEDIA-SEQUENCE after the first segment"));
                }
            }
            "EXT-X-DISCONTINUITY-SEQUENCE" => {
                self.discontinuity_sequence = self.int_value(name, value, line).unwrap_or(0);
                if !before_first_segment {
                    self.sequence_issues.push(format!(
                        "line {line}: EXT-X-DISCONTINUITY-SEQUENCE after the first segment"
                    ));
                }
                if *disc_seen {
                    self.sequence_issues.push(format!(
                        "line {line}: EXT-X-DISCONTINUITY-SEQUENCE after an EXT-X-DISCONTINUITY"
                    ));
                }
            }
            "EXT-X-ENDLIST" => self.endlist = true,
            "EXT-X-PLAYLIST-TYPE" => self.playlist_type = Some(value.to_string()),
            "EXT-X-INDEPENDENT-SEGMENTS" => self.independent_segments = true,
            "EXT-X-I-FRAMES-ONLY" => self.i_frames_only = true,
            "EXT-X-PART-INF" => {
                let a = self.attrs(name, value, line);
                self.part_target = match a.decimal_float("PART-TARGET") {
                    Some(Ok(v)) => Some(v),
                    Some(Err(e)) => {
                        self.syntax_issues.push(format!("line {line}: {e}"));
                        None
                    }
                    None => None,
                };
                self.part_inf = Some(a);
            }
            "EXT-X-SERVER-CONTROL" => {
                let a = self.attrs(name, value, line);
                let mut float = |n: &str| match a.decimal_float(n) {
                    Some(Ok(v)) => Some(v),
                    Some(Err(e)) => {
                        self.syntax_issues.push(format!("line {line}: {e}"));
                        None
                    }
                    None => None,
                };
                let can_skip_until = float("CAN-SKIP-UNTIL");
                let hold_back = float("HOLD-BACK");
                let part_hold_back = float("PART-HOLD-BACK");
                self.server_control = Some(ServerControl {
                    can_block_reload: a.is_yes("CAN-BLOCK-RELOAD"),
                    can_skip_dateranges: a.is_yes("CAN-SKIP-DATERANGES"),
                    can_skip_until,
                    hold_back,
                    part_hold_back,
                    attrs: a,
                });
            }
            "EXTINF" => {
                pending.touched = true;
                let (dur, _title) = value.split_once(',').unwrap_or_else(|| {
                    self.syntax_issues.push(format!("line {line}: EXTINF without ','"));
                    (value, "")
                });
                let parsed = parse_decimal_float(dur);
                if parsed.is_none() {
                    self.syntax_issues
                        .push(format!("line {line}: EXTINF duration {dur:?} malformed"));
                }
                if pending.extinf.is_some() {
                    self.syntax_issues.push(format!("line {line}: two EXTINF for one segment"));
                }
                pending.extinf = Some((parsed.unwrap_or(f64::NAN), dur.to_string()));
            }
            "EXT-X-BYTERANGE" => {
                pending.touched = true;
                pending.byterange = Some(value.to_string());
            }
            "EXT-X-DISCONTINUITY" => {
                pending.touched = true;
                after_part(pending, &mut self.order_issues);
                pending.discontinuity = true;
                *disc_seen = true;
            }
            "EXT-X-KEY" => {
                after_part(pending, &mut self.order_issues);
                let a = self.attrs(name, value, line);
                if let Some(m) = a.text("METHOD") {
                    self.key_methods.push(m.to_string());
                }
                self.key_format_attrs |= a.has("KEYFORMAT") || a.has("KEYFORMATVERSIONS");
                self.key_iv |= a.has("IV");
            }
            "EXT-X-MAP" => {
                after_part(pending, &mut self.order_issues);
                let a = self.attrs(name, value, line);
                *map = Some(MapRef {
                    uri: a.text("URI").map(str::to_string),
                    byterange: a.text("BYTERANGE").map(str::to_string),
                    line,
                });
            }
            "EXT-X-PROGRAM-DATE-TIME" => {
                pending.touched = true;
                after_part(pending, &mut self.order_issues);
                pending.pdt = Some(value.to_string());
            }
            "EXT-X-GAP" => {
                pending.touched = true;
                pending.gap = true;
            }
            "EXT-X-PART" => {
                pending.touched = true;
                let a = self.attrs(name, value, line);
                let duration = match a.decimal_float("DURATION") {
                    Some(Ok(v)) => Some(v),
                    Some(Err(e)) => {
                        self.syntax_issues.push(format!("line {line}: {e}"));
                        None
                    }
                    None => None,
                };
                pending.parts.push(Part {
                    uri: a.text("URI").map(str::to_string),
                    duration,
                    independent: a.is_yes("INDEPENDENT"),
                    gap: a.is_yes("GAP"),
                    byterange: a.text("BYTERANGE").map(str::to_string),
                    map: map.clone(),
                    line,
                    attrs: a,
                });
            }
            "EXT-X-SKIP" => {
                let a = self.attrs(name, value, line);
                self.skipped_segments = Some(match a.decimal_integer("SKIPPED-SEGMENTS") {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => {
                        self.syntax_issues.push(format!("line {line}: {e}"));
                        0
                    }
                    None => 0,
                });
                self.skip = Some(a);
            }
            "EXT-X-PRELOAD-HINT" => {
                let a = self.attrs(name, value, line);
                self.preload_hints.push(PreloadHint {
                    hint_type: a.text("TYPE").map(str::to_string),
                    uri: a.text("URI").map(str::to_string),
                    attrs: a,
                    line,
                });
            }
            "EXT-X-RENDITION-REPORT" => {
                let a = self.attrs(name, value, line);
                let int = |n: &str| a.decimal_integer(n).and_then(Result::ok);
                self.rendition_reports.push(RenditionReport {
                    uri: a.text("URI").map(str::to_string),
                    last_msn: int("LAST-MSN"),
                    last_part: int("LAST-PART"),
                    attrs: a,
                    line,
                });
            }
            "EXT-X-DATERANGE" => self.dateranges += 1,
            _ => {}
        }
    }

    fn int_value(&mut self, name: &str, value: &str, line: usize) -> Option<u64> {
        if crate::attrs::is_decimal_integer(value) {
            value.parse().ok()
        } else {
            self.syntax_issues
                .push(format!("line {line}: {name} value {value:?} is not a decimal-integer"));
            None
        }
    }

    fn attrs(&mut self, name: &str, value: &str, line: usize) -> AttrList {
        let a = AttrList::parse(value);
        for e in &a.errors {
            self.syntax_issues.push(format!("line {line}: {name}: {e}"));
        }
        a
    }

    /// MSN of the segment being produced (the parent of the trailing parts).
    pub fn next_msn(&self) -> u64 {
        self.media_sequence + self.skipped_segments.unwrap_or(0) + self.segments.len() as u64
    }

    /// MSN of the last complete segment.
    pub fn last_msn(&self) -> Option<u64> {
        self.segments.last().map(|s| s.msn)
    }

    /// Every listed part as (msn, part index, part), oldest first.
    pub fn all_parts(&self) -> Vec<(u64, u64, &Part)> {
        let mut out = Vec::new();
        for s in &self.segments {
            for (i, p) in s.parts.iter().enumerate() {
                out.push((s.msn, i as u64, p));
            }
        }
        let next = self.next_msn();
        for (i, p) in self.trailing_parts.iter().enumerate() {
            out.push((next, i as u64, p));
        }
        out
    }

    /// The newest listed part as (msn, index).
    pub fn last_part(&self) -> Option<(u64, u64)> {
        if !self.trailing_parts.is_empty() {
            return Some((self.next_msn(), self.trailing_parts.len() as u64 - 1));
        }
        self.segments
            .iter()
            .rev()
            .find(|s| !s.parts.is_empty())
            .map(|s| (s.msn, s.parts.len() as u64 - 1))
    }

    /// The part a client asks for next: (msn, index) right after the newest part.
    pub fn next_part(&self) -> Option<(u64, u64)> {
        let (msn, idx) = self.last_part()?;
        if msn < self.next_msn() { Some((msn + 1, 0)) } else { Some((msn, idx + 1)) }
    }

    /// True when the playlist holds part (msn, idx) "or later" (HLS §6.2.5.2), treating an index
    /// past the final part of a complete parent as part 0 of the next parent.
    pub fn has_part_at_or_after(&self, msn: u64, idx: u64) -> bool {
        self.all_parts().iter().any(|(m, i, _)| *m > msn || (*m == msn && *i >= idx))
    }

    /// True when a complete segment with MSN ≥ `msn` is listed.
    pub fn has_segment_at_or_after(&self, msn: u64) -> bool {
        self.segments.iter().any(|s| s.msn >= msn)
    }

    /// Σ EXTINF of complete segments.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).filter(|d| d.is_finite()).sum()
    }

    /// Largest part DURATION listed.
    pub fn max_part_duration(&self) -> Option<f64> {
        self.all_parts().iter().filter_map(|(_, _, p)| p.duration).reduce(f64::max)
    }

    /// The EXT-X-PRELOAD-HINT with TYPE=PART, if any.
    pub fn part_hint(&self) -> Option<&PreloadHint> {
        self.preload_hints.iter().find(|h| h.hint_type.as_deref() == Some("PART"))
    }

    /// True when this playlist uses partial segments (LL-HLS).
    pub fn is_low_latency(&self) -> bool {
        self.part_inf.is_some() || !self.all_parts().is_empty()
    }

    /// A heuristic "did this response arrive whole" test used by HLS-MP-09.
    pub fn looks_complete(&self) -> Result<(), String> {
        let first = self.doc.items.first().map(|i| &i.kind);
        if first != Some(&ItemKind::Tag { name: "EXTM3U".into(), value: None }) {
            return Err("does not start with #EXTM3U".into());
        }
        if self.target_duration.is_none() {
            return Err("no EXT-X-TARGETDURATION".into());
        }
        if !self.doc.ends_with_newline {
            return Err("last line not terminated (truncated?)".into());
        }
        if let Some(e) = self.syntax_issues.iter().find(|e| e.contains("without a URI")) {
            return Err(e.clone());
        }
        Ok(())
    }
}

/// An EXT-X-STREAM-INF and its URI line.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Attribute list.
    pub attrs: AttrList,
    /// The URI line that follows.
    pub uri: Option<String>,
    /// Line of the tag.
    pub line: usize,
}

/// An EXT-X-MEDIA.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// Attribute list.
    pub attrs: AttrList,
    /// Line of the tag.
    pub line: usize,
}

/// A parsed Multivariant Playlist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Multivariant {
    /// The lines.
    pub doc: Document,
    /// EXT-X-VERSION.
    pub version: Option<u64>,
    /// EXT-X-INDEPENDENT-SEGMENTS present.
    pub independent_segments: bool,
    /// EXT-X-STREAM-INF entries.
    pub variants: Vec<Variant>,
    /// EXT-X-MEDIA entries.
    pub renditions: Vec<Rendition>,
    /// EXT-X-I-FRAME-STREAM-INF attribute lists.
    pub iframe_variants: Vec<AttrList>,
    /// Structural and syntax problems.
    pub issues: Vec<String>,
}

impl Multivariant {
    /// Parses a Multivariant Playlist.
    pub fn parse(text: &str) -> Self {
        let doc = Document::parse(text);
        let mut mv = Self::default();
        let mut waiting: Option<Variant> = None;
        for item in &doc.items {
            match &item.kind {
                ItemKind::Blank | ItemKind::Comment => {}
                ItemKind::Uri(uri) => match waiting.take() {
                    Some(mut v) => {
                        v.uri = Some(uri.clone());
                        mv.variants.push(v);
                    }
                    None => mv
                        .issues
                        .push(format!("line {}: URI line not after EXT-X-STREAM-INF", item.line)),
                },
                ItemKind::Tag { name, value } => {
                    if let Some(v) = waiting.take() {
                        mv.issues.push(format!(
                            "line {}: EXT-X-STREAM-INF is not followed by a URI line",
                            v.line
                        ));
                        mv.variants.push(v);
                    }
                    let value = value.as_deref().unwrap_or_default();
                    let mut attrs = || {
                        let a = AttrList::parse(value);
                        for e in &a.errors {
                            mv.issues.push(format!("line {}: {name}: {e}", item.line));
                        }
                        a
                    };
                    match name.as_str() {
                        "EXT-X-VERSION" => mv.version = value.parse().ok(),
                        "EXT-X-INDEPENDENT-SEGMENTS" => mv.independent_segments = true,
                        "EXT-X-STREAM-INF" => {
                            waiting = Some(Variant { attrs: attrs(), uri: None, line: item.line })
                        }
                        "EXT-X-MEDIA" => {
                            let a = attrs();
                            mv.renditions.push(Rendition { attrs: a, line: item.line });
                        }
                        "EXT-X-I-FRAME-STREAM-INF" => {
                            let a = attrs();
                            mv.iframe_variants.push(a);
                        }
                        _ => {}
                    }
                }
            }
        }
        if let Some(v) = waiting {
            mv.issues
                .push(format!("line {}: EXT-X-STREAM-INF is not followed by a URI line", v.line));
            mv.variants.push(v);
        }
        mv.doc = doc;
        mv
    }

    /// Every Media Playlist URI in order: variants first, then EXT-X-MEDIA URIs, deduplicated.
    pub fn media_playlist_uris(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let candidates =
            self.variants.iter().filter_map(|v| v.uri.clone()).chain(
                self.renditions.iter().filter_map(|r| r.attrs.text("URI").map(str::to_string)),
            );
        for u in candidates {
            if !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LL: &str = "#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,CAN-SKIP-UNTIL=6.0
#EXT-X-PART-INF:PART-TARGET=0.2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z
#EXT-X-PART:DURATION=0.2,URI=\"10.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI=\"10.1.m4s\"
#EXTINF:0.4,
10.m4s
#EXT-X-PART:DURATION=0.2,URI=\"11.0.m4s\",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"11.1.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"audio.m3u8\",LAST-MSN=11,LAST-PART=0
";

    #[test]
    fn parses_ll_media_playlist() {
        let p = MediaPlaylist::parse(LL);
        assert!(p.syntax_issues.is_empty(), "{:?}", p.syntax_issues);
        assert_eq!(p.target_duration, Some(1));
        assert_eq!(p.media_sequence, 10);
        assert_eq!(p.part_target, Some(0.2));
        let sc = p.server_control.as_ref().unwrap();
        assert!(sc.can_block_reload);
        assert_eq!(sc.part_hold_back, Some(0.6));
        assert_eq!(p.segments.len(), 1);
        assert_eq!(p.segments[0].msn, 10);
        assert_eq!(p.segments[0].parts.len(), 2);
        assert_eq!(p.segments[0].map.as_ref().unwrap().uri.as_deref(), Some("init.mp4"));
        assert_eq!(p.trailing_parts.len(), 1);
        assert_eq!(p.last_part(), Some((11, 0)));
        assert_eq!(p.next_part(), Some((11, 1)));
        assert_eq!(p.part_hint().unwrap().uri.as_deref(), Some("11.1.m4s"));
        assert_eq!(p.rendition_reports[0].last_msn, Some(11));
        assert!(p.has_part_at_or_after(10, 5));
        assert!(!p.has_part_at_or_after(11, 1));
        assert!(p.looks_complete().is_ok());
    }

    #[test]
    fn records_pdt_after_part_and_late_media_sequence() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PART:DURATION=0.2,URI=\"a\"\n\
                    #EXT-X-PROGRAM-DATE-TIME:2026-11-22T10:00:00.000Z\n#EXTINF:0.2,\na.m4s\n\
                    #EXT-X-MEDIA-SEQUENCE:3\n";
        let p = MediaPlaylist::parse(text);
        assert_eq!(p.order_issues.len(), 1, "{:?}", p.order_issues);
        assert!(p.order_issues[0].contains("EXT-X-PROGRAM-DATE-TIME"));
        assert_eq!(p.sequence_issues.len(), 1);
    }

    #[test]
    fn skip_shifts_msn_of_first_listed_segment() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5\n\
                    #EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:1.0,\n8.m4s\n";
        let p = MediaPlaylist::parse(text);
        assert_eq!(p.segments[0].msn, 8);
        assert_eq!(p.next_msn(), 9);
    }

    #[test]
    fn truncated_playlist_is_not_complete() {
        let p = MediaPlaylist::parse("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n");
        assert!(p.looks_complete().is_err());
        let p = MediaPlaylist::parse("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n1.m4");
        assert!(p.looks_complete().is_err());
    }

    #[test]
    fn parses_multivariant() {
        let text = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=2000000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,AUDIO=\"a\"\n\
            video.m3u8\n";
        let mv = Multivariant::parse(text);
        assert!(mv.issues.is_empty(), "{:?}", mv.issues);
        assert!(mv.doc.is_multivariant());
        assert_eq!(mv.variants.len(), 1);
        assert_eq!(mv.variants[0].uri.as_deref(), Some("video.m3u8"));
        assert_eq!(mv.media_playlist_uris(), vec!["video.m3u8", "audio.m3u8"]);
    }

    #[test]
    fn stream_inf_without_uri_is_reported() {
        let mv = Multivariant::parse(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-INDEPENDENT-SEGMENTS\n",
        );
        assert_eq!(mv.issues.len(), 1);
    }
}
