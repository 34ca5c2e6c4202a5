//! The parts of a DASH MPD the section D rules read, from the tree [`crate::xml`] produces:
//! timing attributes, UTCTiming, ServiceDescription, Periods, Adaptation Sets, Representations
//! and their SegmentTemplate (Period → AdaptationSet → Representation inheritance), plus the
//! `xs:duration` / `xs:dateTime` readers. Unparseable values stay `None` (rules report them).

use crate::xml::{self, Element};

/// One `UTCTiming` / `ProducerReferenceTime` clock reference.
#[derive(Debug, Clone, PartialEq)]
pub struct UtcTiming {
    /// `@schemeIdUri`.
    pub scheme: String,
    /// `@value` (a URL for the http-* schemes).
    pub value: String,
}

/// One `SegmentTimeline/S`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct S {
    /// `@t`, when given.
    pub t: Option<u64>,
    /// `@d`.
    pub d: u64,
    /// `@r` (−1: repeat to the next S or the Period end).
    pub r: i64,
    /// `@n` (not allowed by IOP addressing).
    pub n: Option<u64>,
}

/// A SegmentTemplate after inheritance (each field from the innermost level that has it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Template {
    /// `@timescale` (default 1).
    pub timescale: u64,
    /// `@duration` in timescale units.
    pub duration: Option<u64>,
    /// `@startNumber` (default 1).
    pub start_number: u64,
    /// `@presentationTimeOffset` (default 0).
    pub pto: u64,
    /// `@availabilityTimeOffset` in seconds.
    pub ato: Option<f64>,
    /// `@availabilityTimeComplete`.
    pub atc: Option<bool>,
    /// `@initialization`.
    pub init: Option<String>,
    /// `@media`.
    pub media: Option<String>,
    /// `SegmentTimeline`, when present.
    pub timeline: Option<Vec<S>>,
}

/// One Representation.
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    /// `@id`.
    pub id: Option<String>,
    /// `@bandwidth`.
    pub bandwidth: Option<u64>,
    /// Effective SegmentTemplate (None when no level has one).
    pub template: Option<Template>,
    /// ATO / ATC given on the Representation (or its SegmentTemplate) itself.
    pub own_ato: bool,
    /// A `Resync` element here or on the Adaptation Set.
    pub resync: bool,
}

/// One Adaptation Set.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptationSet {
    /// `@id`.
    pub id: Option<String>,
    /// `@contentType` or the type part of `@mimeType`.
    pub content_type: String,
    /// ATO given on the Adaptation Set (or its SegmentTemplate).
    pub ato: Option<f64>,
    /// ATC given on the Adaptation Set (or its SegmentTemplate).
    pub atc: Option<bool>,
    /// `ProducerReferenceTime` children.
    pub prts: Vec<Element>,
    /// `InbandEventStream` scheme ids.
    pub inband_events: Vec<String>,
    /// Representations.
    pub reps: Vec<Representation>,
}

/// One Period.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// `@id`.
    pub id: Option<String>,
    /// `@start` in seconds.
    pub start: Option<f64>,
    /// `@duration` in seconds.
    pub duration: Option<f64>,
    /// `ServiceDescription/Latency@target` (ms) on this Period.
    pub latency_target: Option<f64>,
    /// Adaptation Sets.
    pub sets: Vec<AdaptationSet>,
}

/// The MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Mpd {
    /// The parsed document (for the structural and change checks).
    pub root: Element,
    /// `@type` (default "static").
    pub kind: String,
    /// `@availabilityStartTime` raw and in Unix seconds.
    pub ast: Option<(String, Option<f64>)>,
    /// `@publishTime` raw.
    pub publish_time: Option<String>,
    /// `@minimumUpdatePeriod` seconds.
    pub mup: Option<f64>,
    /// `@timeShiftBufferDepth` seconds.
    pub tsbd: Option<f64>,
    /// `@suggestedPresentationDelay` seconds.
    pub spd: Option<f64>,
    /// `@maxSegmentDuration` seconds.
    pub max_segment_duration: Option<f64>,
    /// `@mediaPresentationDuration` seconds.
    pub presentation_duration: Option<f64>,
    /// `@profiles`.
    pub profiles: String,
    /// MPD-level `UTCTiming`.
    pub utc: Vec<UtcTiming>,
    /// MPD-level `ServiceDescription/Latency@target` (ms).
    pub latency_target: Option<f64>,
    /// `LeapSecondInformation` present.
    pub leap_seconds: bool,
    /// Periods in document order.
    pub periods: Vec<Period>,
}

impl Mpd {
    /// Parses an MPD; errors only when the XML does not parse or the root is not `MPD`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root = xml::parse(text).map_err(|e| e.to_string())?;
        if root.local_name() != "MPD" {
            return Err(format!("root element is <{}>, not <MPD>", root.name));
        }
        let dur = |n: &str| root.attr(n).and_then(parse_duration);
        let periods = root.children_named("Period").map(period).collect();
        Ok(Self {
            kind: root.attr("type").unwrap_or("static").to_string(),
            ast: root.attr("availabilityStartTime").map(|s| (s.to_string(), parse_datetime(s))),
            publish_time: root.attr("publishTime").map(str::to_string),
            mup: dur("minimumUpdatePeriod"),
            tsbd: dur("timeShiftBufferDepth"),
            spd: dur("suggestedPresentationDelay"),
            max_segment_duration: dur("maxSegmentDuration"),
            presentation_duration: dur("mediaPresentationDuration"),
            profiles: root.attr("profiles").unwrap_or("").to_string(),
            utc: utc_timings(&root),
            latency_target: latency_target(&root),
            leap_seconds: root.child("LeapSecondInformation").is_some(),
            periods,
            root,
        })
    }

    /// `type="dynamic"`.
    pub fn is_dynamic(&self) -> bool {
        self.kind == "dynamic"
    }

    /// AST in Unix seconds.
    pub fn ast_secs(&self) -> Option<f64> {
        self.ast.as_ref().and_then(|(_, v)| *v)
    }

    /// A Period's start, defaulting like DASH 5.3.2.1: the previous Period's start + duration,
    /// or 0 for the first Period of a dynamic MPD.
    pub fn period_start(&self, i: usize) -> Option<f64> {
        let p = self.periods.get(i)?;
        if let Some(s) = p.start {
            return Some(s);
        }
        if i == 0 {
            return Some(0.0);
        }
        let prev = self.periods.get(i - 1)?;
        Some(self.period_start(i - 1)? + prev.duration?)
    }

    /// A Period's end in MPD time (the next Period's start or its own duration), if known.
    pub fn period_end(&self, i: usize) -> Option<f64> {
        let p = self.periods.get(i)?;
        if let Some(d) = p.duration {
            return Some(self.period_start(i)? + d);
        }
        if i + 1 < self.periods.len() {
            return self.period_start(i + 1);
        }
        None
    }

    /// The document without `MPD@publishTime`, for "did the content change" (DASH-MPD-05).
    pub fn content_without_publish_time(&self) -> Element {
        let mut root = self.root.clone();
        root.attrs.retain(|(n, _)| n != "publishTime");
        root
    }
}

fn utc_timings(el: &Element) -> Vec<UtcTiming> {
    el.children_named("UTCTiming")
        .map(|u| UtcTiming {
            scheme: u.attr("schemeIdUri").unwrap_or("").to_string(),
            value: u.attr("value").unwrap_or("").to_string(),
        })
        .collect()
}

fn latency_target(el: &Element) -> Option<f64> {
    el.children_named("ServiceDescription")
        .filter_map(|sd| sd.child("Latency")?.attr("target")?.trim().parse::<f64>().ok())
        .next()
}

fn period(p: &Element) -> Period {
    let tpl = p.child("SegmentTemplate");
    Period {
        id: p.attr("id").map(str::to_string),
        start: p.attr("start").and_then(parse_duration),
        duration: p.attr("duration").and_then(parse_duration),
        latency_target: latency_target(p),
        sets: p.children_named("AdaptationSet").map(|a| adaptation_set(a, tpl)).collect(),
    }
}

fn adaptation_set(a: &Element, period_tpl: Option<&Element>) -> AdaptationSet {
    let tpl = a.child("SegmentTemplate");
    let content_type = a
        .attr("contentType")
        .or_else(|| a.attr("mimeType").and_then(|m| m.split('/').next()))
        .unwrap_or("")
        .to_string();
    let ato =
        tpl.and_then(|t| t.attr("availabilityTimeOffset")).or(a.attr("availabilityTimeOffset"));
    let atc =
        tpl.and_then(|t| t.attr("availabilityTimeComplete")).or(a.attr("availabilityTimeComplete"));
    let as_resync = a.child("Resync").is_some();
    let reps = a
        .children_named("Representation")
        .map(|r| {
            let rt = r.child("SegmentTemplate");
            let levels: Vec<&Element> = [period_tpl, tpl, rt].into_iter().flatten().collect();
            Representation {
                id: r.attr("id").map(str::to_string),
                bandwidth: r.attr("bandwidth").and_then(|b| b.trim().parse().ok()),
                template: (!levels.is_empty()).then(|| template(&levels)),
                own_ato: [Some(r), rt].into_iter().flatten().any(|e| {
                    e.attr("availabilityTimeOffset").is_some()
                        || e.attr("availabilityTimeComplete").is_some()
                }),
                resync: as_resync || r.child("Resync").is_some(),
            }
        })
        .collect();
    AdaptationSet {
        id: a.attr("id").map(str::to_string),
        content_type,
        ato: ato.and_then(|v| v.trim().parse().ok()),
        atc: atc.map(|v| v.trim() == "true"),
        prts: a.children_named("ProducerReferenceTime").cloned().collect(),
        inband_events: a
            .children_named("InbandEventStream")
            .map(|e| e.attr("schemeIdUri").unwrap_or("").to_string())
            .collect(),
        reps,
    }
}

/// Merges SegmentTemplate levels, outermost first.
fn template(levels: &[&Element]) -> Template {
    let get = |n: &str| levels.iter().rev().find_map(|e| e.attr(n));
    let num = |n: &str| get(n).and_then(|v| v.trim().parse::<u64>().ok());
    let timeline = levels.iter().rev().find_map(|e| e.child("SegmentTimeline")).map(|tl| {
        tl.children_named("S")
            .map(|s| S {
                t: s.attr("t").and_then(|v| v.trim().parse().ok()),
                d: s.attr("d").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
                r: s.attr("r").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
                n: s.attr("n").and_then(|v| v.trim().parse().ok()),
            })
            .collect()
    });
    Template {
        timescale: num("timescale").filter(|t| *t > 0).unwrap_or(1),
        duration: num("duration"),
        start_number: num("startNumber").unwrap_or(1),
        pto: num("presentationTimeOffset").unwrap_or(0),
        ato: get("availabilityTimeOffset").and_then(|v| v.trim().parse().ok()),
        atc: get("availabilityTimeComplete").map(|v| v.trim() == "true"),
        init: get("initialization").map(str::to_string),
        media: get("media").map(str::to_string),
        timeline,
    }
}

/// `xs:duration` (`PnYnMnDTnHnMnS`, years and months as 365 / 30 days) in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let body = s.strip_prefix('P')?;
    if body.is_empty() {
        return None;
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, t),
        Some(_) => return None,
        None => (body, ""),
    };
    let mut total = 0.0;
    for (part, units) in [
        (date, &[('Y', 365.0 * 86400.0), ('M', 30.0 * 86400.0), ('D', 86400.0)][..]),
        (time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..]),
    ] {
        let mut rest = part;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
            let value: f64 =
                rest[..end].parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
            let unit = rest[end..].chars().next()?;
            let i = units.iter().skip(next_unit).position(|(u, _)| *u == unit)? + next_unit;
            total += value * units[i].1;
            next_unit = i + 1;
            rest = &rest[end + 1..];
        }
    }
    Some(if neg { -total } else { total })
}

/// `xs:dateTime` (`YYYY-MM-DDThh:mm:ss[.f][Z|±hh:mm]`, no zone = UTC) in Unix seconds.
pub fn parse_datetime(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0.0)
    } else if let Some(i) = time.rfind(['+', '-']).filter(|i| *i >= 8) {
        let (hh, mm) = time[i + 1..].split_once(':')?;
        let sign = if time.as_bytes()[i] == b'-' { -1.0 } else { 1.0 };
        (&time[..i], sign * (hh.parse::<f64>().ok()? * 3600.0 + mm.parse::<f64>().ok()? * 60.0))
    } else {
        (time, 0.0)
    };
    let mut c = clock.split(':');
    let hh: f64 = c.next()?.parse().ok()?;
    let mi: f64 = c.next()?.parse().ok()?;
    let ss: f64 = c.next()?.parse().ok()?;
    if c.next().is_some() || hh >= 24.0 || mi >= 60.0 || !(0.0..61.0).contains(&ss) {
        return None;
    }
    Some(days_from_civil(y, m, day) as f64 * 86400.0 + hh * 3600.0 + mi * 60.0 + ss - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Expands a SegmentTemplate `@media` / `@initialization` for one segment ($$, $RepresentationID$,
/// $Bandwidth$, $Number$, $Time$, each with an optional `%0Nd` width).
pub fn expand(template: &str, rep: &Representation, number: u64, time: u64) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('$') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let token = &after[..j];
        let (name, width) = match token.split_once('%') {
            Some((n, f)) => (
                n,
                f.strip_prefix('0').and_then(|w| w.strip_suffix('d')).and_then(|w| w.parse().ok()),
            ),
            None => (token, None),
        };
        let value = match name {
            "" => Some("$".to_string()),
            "RepresentationID" => rep.id.clone(),
            "Bandwidth" => rep.bandwidth.map(|b| b.to_string()),
            "Number" => Some(number.to_string()),
            "Time" => Some(time.to_string()),
            _ => None,
        };
        match value {
            Some(v) => {
                // Capped: a hostile %0Nd must not allocate gigabytes.
                let w: usize = width.unwrap_or(0).min(32);
                out.push_str(&format!("{v:0>w$}"));
            }
            None => {
                out.push('$');
                out.push_str(token);
                out.push('$');
            }
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_datetimes() {
        assert_eq!(parse_duration("PT1S"), Some(1.0));
        assert_eq!(parse_duration("PT0.500S"), Some(0.5));
        assert_eq!(parse_duration("P1DT1H2M3.5S"), Some(86400.0 + 3723.5));
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("PT1S2M"), None);
        assert_eq!(parse_duration("1S"), None);
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_datetime("2000-03-01T00:00:01.5Z"), Some(951_868_801.5));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_datetime("1970-13-01T00:00:00Z"), None);
        assert_eq!(parse_datetime("garbage"), None);
    }

    #[test]
    fn inherits_templates_and_expands_identifiers() {
        let mpd = Mpd::parse(
            r#"<MPD type="dynamic" availabilityStartTime="2026-01-01T00:00:00Z"><Period id="a">
            <SegmentTemplate timescale="1000"/>
            <AdaptationSet id="1"><SegmentTemplate duration="2000" startNumber="5" media="$RepresentationID$/$Number%05d$.m4s" availabilityTimeOffset="1.5"/>
            <Representation id="v" bandwidth="1"><SegmentTemplate presentationTimeOffset="7"/></Representation>
            </AdaptationSet></Period></MPD>"#,
        )
        .unwrap();
        let set = &mpd.periods[0].sets[0];
        let rep = &set.reps[0];
        let t = rep.template.as_ref().unwrap();
        assert_eq!((t.timescale, t.duration, t.start_number, t.pto), (1000, Some(2000), 5, 7));
        assert_eq!(set.ato, Some(1.5));
        assert!(!rep.own_ato);
        assert_eq!(expand(t.media.as_deref().unwrap(), rep, 42, 0), "v/00042.m4s");
        assert_eq!(mpd.period_start(0), Some(0.0));
        assert!(mpd.is_dynamic());
    }

    #[test]
    fn garbage_never_panics() {
        for s in ["", "<MPD", "<x/>", "<MPD><Period start='PTxS'/></MPD>", "$", "$Number%0"] {
            let _ = Mpd::parse(s);
            let _ = parse_duration(s);
            let _ = parse_datetime(s);
        }
        let rep = Representation {
            id: None,
            bandwidth: None,
            template: None,
            own_ato: false,
            resync: false,
        };
        assert_eq!(expand("a$Number%0", &rep, 1, 2), "a$Number%0");
        assert_eq!(expand("$$$Time$", &rep, 1, 2), "$2");
    }
}
