//! Collects rule outcomes, decides each rule's verdict and prints / serialises the report.
//!
//! A rule is evaluated many times (per rendition, per reload); its verdict is FAIL when any
//! evaluation found a problem at a failing level (MUST, PROFILE, APPLE with `--apple`), WARN
//! for any other problem or note, SKIP when every evaluation was not applicable (or it never
//! ran), PASS otherwise.

use std::fmt::Write as _;

use crate::rules::{CATALOGUE, Level, Outcome, RuleInfo, info};

/// Cap on problems kept per rule (the rest are only counted).
const MAX_PROBLEMS: usize = 50;

/// Final verdict of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Checked and conformant.
    Pass,
    /// A failing-level requirement was violated.
    Fail,
    /// A SHOULD-level problem, a non-failing APPLE problem, or a note.
    Warn,
    /// Not applicable or not exercised.
    Skip,
}

impl Verdict {
    /// Upper-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Warn => "WARN",
            Self::Skip => "SKIP",
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Entry {
    checks: usize,
    skips: Vec<String>,
    problems: Vec<(Level, String)>,
    dropped: usize,
    evidence: Vec<String>,
    notes: Vec<String>,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// Rule id.
    pub id: &'static str,
    /// Declared level.
    pub level: Level,
    /// Verdict.
    pub verdict: Verdict,
    /// One-line message with evidence.
    pub message: String,
    /// Number of evaluations.
    pub checks: usize,
    /// Every problem kept (level, message).
    pub problems: Vec<(Level, String)>,
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Report {
    apple: bool,
    rules: Vec<RuleInfo>,
    entries: Vec<(&'static str, Entry)>,
    metrics: Vec<(String, String)>,
    target: String,
}

impl Report {
    /// A new report over the HLS rules (sections A-C); `apple` makes APPLE-level problems fail.
    pub fn new(target: &str, apple: bool) -> Self {
        Self {
            apple,
            rules: CATALOGUE.to_vec(),
            entries: Vec::new(),
            metrics: Vec::new(),
            target: target.to_string(),
        }
    }

    /// A new report that lists exactly the rules `ids` (e.g. section E for WHIP / WHEP).
    pub fn with_rules(target: &str, ids: &[&str]) -> Self {
        let rules = ids.iter().filter_map(|id| info(id).copied()).collect();
        Self {
            apple: false,
            rules,
            entries: Vec::new(),
            metrics: Vec::new(),
            target: target.to_string(),
        }
    }

    fn entry(&mut self, id: &'static str) -> &mut Entry {
        debug_assert!(self.rules.iter().any(|r| r.id == id), "rule {id} not in this report");
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == id) {
            return &mut self.entries[i].1;
        }
        self.entries.push((id, Entry::default()));
        let last = self.entries.len() - 1;
        &mut self.entries[last].1
    }

    /// Adds one evaluation of rule `id`; `context` (e.g. "video.m3u8") prefixes its messages.
    pub fn add(&mut self, id: &'static str, context: &str, o: Outcome) {
        let prefix = if context.is_empty() { String::new() } else { format!("{context}: ") };
        let e = self.entry(id);
        e.checks += 1;
        if let Some(s) = o.skipped {
            e.skips.push(format!("{prefix}{s}"));
            return;
        }
        for p in o.problems {
            if e.problems.len() < MAX_PROBLEMS {
                e.problems.push((p.level, format!("{prefix}{}", p.msg)));
            } else {
                e.dropped += 1;
            }
        }
        for n in o.notes {
            let n = format!("{prefix}{n}");
            if !e.notes.contains(&n) {
                e.notes.push(n);
            }
        }
        for ev in o.evidence {
            let ev = format!("{prefix}{ev}");
            if let Some(i) = e.evidence.iter().position(|x| *x == ev) {
                e.evidence.remove(i);
            }
            e.evidence.push(ev);
            if e.evidence.len() > 8 {
                e.evidence.remove(0);
            }
        }
    }

    /// Records a measurement to print.
    pub fn metric(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.metrics.push((name.into(), value.into()));
    }

    /// Measurements recorded so far.
    pub fn metrics(&self) -> &[(String, String)] {
        &self.metrics
    }

    /// Results for every rule of this report, in catalogue order.
    pub fn results(&self) -> Vec<RuleResult> {
        self.rules
            .iter()
            .map(|r| {
                let Some((_, e)) = self.entries.iter().find(|(k, _)| *k == r.id) else {
                    return RuleResult {
                        id: r.id,
                        level: r.level,
                        verdict: Verdict::Skip,
                        message: "not exercised by this run".into(),
                        checks: 0,
                        problems: Vec::new(),
                    };
                };
                let failing = e.problems.iter().any(|(l, _)| l.fails(self.apple));
                let verdict = if failing {
                    Verdict::Fail
                } else if !e.problems.is_empty() || !e.notes.is_empty() {
                    Verdict::Warn
                } else if e.skips.len() == e.checks {
                    Verdict::Skip
                } else {
                    Verdict::Pass
                };
                let message = match verdict {
                    Verdict::Fail | Verdict::Warn => {
                        let mut ordered: Vec<&(Level, String)> =
                            e.problems.iter().filter(|(l, _)| l.fails(self.apple)).collect();
                        ordered.extend(e.problems.iter().filter(|(l, _)| !l.fails(self.apple)));
                        let mut m = match ordered.first() {
                            Some((l, msg)) => format!("[{l}] {msg}"),
                            None => e.notes.first().cloned().unwrap_or_default(),
                        };
                        let more = e.problems.len() + e.dropped - usize::from(!ordered.is_empty());
                        if more > 0 {
                            let _ = write!(m, " (+{more} more)");
                        }
                        if !ordered.is_empty() {
                            for n in e.notes.iter().take(1) {
                                let _ = write!(m, "; note: {n}");
                            }
                        } else if let Some(ev) = e.evidence.last() {
                            let _ = write!(m, "; {ev}");
                        }
                        m
                    }
                    Verdict::Skip => e.skips.first().cloned().unwrap_or_default(),
                    Verdict::Pass => {
                        let ev: Vec<&str> =
                            e.evidence.iter().rev().take(2).map(String::as_str).collect();
                        let mut m = if ev.is_empty() { "ok".to_string() } else { ev.join("; ") };
                        let _ = write!(m, " [{} checks]", e.checks - e.skips.len());
                        m
                    }
                };
                RuleResult {
                    id: r.id,
                    level: r.level,
                    verdict,
                    message,
                    checks: e.checks,
                    problems: e.problems.clone(),
                }
            })
            .collect()
    }

    /// True when any rule failed (exit code 1).
    pub fn failed(&self) -> bool {
        self.results().iter().any(|r| r.verdict == Verdict::Fail)
    }

    /// The text report: one line per rule, the measurements, then a summary line.
    pub fn render(&self) -> String {
        let results = self.results();
        let mut out = String::new();
        for r in &results {
            let _ = writeln!(out, "{} {} {}", r.verdict.name(), r.id, r.message);
        }
        if !self.metrics.is_empty() {
            let _ = writeln!(out, "-- measurements");
            for (k, v) in &self.metrics {
                let _ = writeln!(out, "MEASURE {k}: {v}");
            }
        }
        let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
        let _ = writeln!(
            out,
            "SUMMARY {} rules: {} pass, {} fail, {} warn, {} skip{} -> {}",
            results.len(),
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Warn),
            count(Verdict::Skip),
            if self.apple { " (apple mode)" } else { "" },
            if count(Verdict::Fail) > 0 { "NOT CONFORMANT" } else { "conformant" }
        );
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        let results = self.results();
        let mut s = String::from("{\n");
        let _ = writeln!(s, "  \"tool\": \"sluice-check\",");
        let _ = writeln!(s, "  \"target\": {},", json_str(&self.target));
        let _ = writeln!(s, "  \"apple\": {},", self.apple);
        s.push_str("  \"results\": [\n");
        for (i, r) in results.iter().enumerate() {
            let _ = write!(
                s,
                "    {{\"id\": {}, \"level\": {}, \"verdict\": {}, \"checks\": {}, \"message\": {}, \"problems\": [",
                json_str(r.id),
                json_str(r.level.name()),
                json_str(r.verdict.name()),
                r.checks,
                json_str(&r.message)
            );
            for (j, (l, m)) in r.problems.iter().enumerate() {
                let _ = write!(
                    s,
                    "{}{{\"level\": {}, \"message\": {}}}",
                    if j > 0 { ", " } else { "" },
                    json_str(l.name()),
                    json_str(m)
                );
            }
            let _ = writeln!(s, "]}}{}", if i + 1 < results.len() { "," } else { "" });
        }
        s.push_str("  ],\n  \"measurements\": {");
        for (i, (k, v)) in self.metrics.iter().enumerate() {
            let _ =
                write!(s, "{}\n    {}: {}", if i > 0 { "," } else { "" }, json_str(k), json_str(v));
        }
        s.push_str("\n  },\n");
        let count = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
        let _ = writeln!(
            s,
            "  \"summary\": {{\"pass\": {}, \"fail\": {}, \"warn\": {}, \"skip\": {}}}",
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Warn),
            count(Verdict::Skip)
        );
        s.push_str("}\n");
        s
    }
}

/// A JSON string literal.
pub fn json_str(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(level: Level) -> Outcome {
        let mut o = Outcome::new();
        o.problem(level, "bad thing");
        o
    }

    fn verdict(r: &Report, id: &str) -> Verdict {
        r.results().into_iter().find(|x| x.id == id).unwrap().verdict
    }

    #[test]
    fn verdicts_follow_levels_and_apple_mode() {
        let mut r = Report::new("t", false);
        r.add("HLS-MP-02", "video", problem(Level::Must));
        r.add("HLS-MP-14", "video", problem(Level::Should));
        r.add("LLHLS-SC-05", "video", problem(Level::Apple));
        r.add("HLS-MP-01", "video", Outcome::new().with_evidence("TD=1"));
        r.add("HLS-MP-07", "video", Outcome::skip("n/a"));
        assert_eq!(verdict(&r, "HLS-MP-02"), Verdict::Fail);
        assert_eq!(verdict(&r, "HLS-MP-14"), Verdict::Warn);
        assert_eq!(verdict(&r, "LLHLS-SC-05"), Verdict::Warn);
        assert_eq!(verdict(&r, "HLS-MP-01"), Verdict::Pass);
        assert_eq!(verdict(&r, "HLS-MP-07"), Verdict::Skip);
        assert_eq!(verdict(&r, "HLS-MP-03"), Verdict::Skip);
        assert!(r.failed());

        let mut a = Report::new("t", true);
        a.add("LLHLS-SC-05", "video", problem(Level::Apple));
        assert_eq!(verdict(&a, "LLHLS-SC-05"), Verdict::Fail);
        assert!(a.failed());
    }

    #[test]
    fn note_turns_pass_into_warn_without_failing() {
        let mut r = Report::new("t", false);
        let mut o = Outcome::new();
        o.note("h2 not tested by this client");
        r.add("LLHLS-HTTP-01", "", o);
        assert_eq!(verdict(&r, "LLHLS-HTTP-01"), Verdict::Warn);
        assert!(!r.failed());
        assert!(r.render().contains("WARN LLHLS-HTTP-01 h2 not tested"));
    }

    #[test]
    fn render_has_one_line_per_rule_and_a_summary() {
        let mut r = Report::new("t", false);
        r.add("HLS-MP-02", "video.m3u8", problem(Level::Must));
        r.metric("video.m3u8 hold", "p50 200 ms");
        let text = r.render();
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("FAIL ")
                    || l.starts_with("PASS ")
                    || l.starts_with("SKIP ")
                    || l.starts_with("WARN "))
                .count(),
            CATALOGUE.len()
        );
        assert!(text.contains("FAIL HLS-MP-02 [MUST] video.m3u8: bad thing"));
        assert!(text.lines().last().unwrap().starts_with("SUMMARY 77 rules: 0 pass, 1 fail"));
    }

    #[test]
    fn json_is_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        let mut r = Report::new("http://x/\"y\"", false);
        r.add("HLS-MP-02", "v", problem(Level::Must));
        let j = r.to_json();
        assert!(j.contains("\"target\": \"http://x/\\\"y\\\"\""));
        assert!(j.contains("\"verdict\": \"FAIL\""));
    }
}
