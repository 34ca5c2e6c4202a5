//! `Link` header values (RFC 8288 §3): `<URI-reference> *( ";" link-param )`, several links
//! per field separated by commas, several fields per response. WHIP/WHEP use them for ICE
//! servers (`rel="ice-server"`, WHIP §4.6) and protocol extensions (WHIP §4.9).

/// One link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target between `<` and `>`.
    pub target: String,
    /// Parameters, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Link {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The relation types (`rel` may hold several, space-separated).
    pub fn rels(&self) -> Vec<&str> {
        self.param("rel").map(|r| r.split_ascii_whitespace().collect()).unwrap_or_default()
    }
}

/// Parses every link in `values` (the `Link` field values of one response); the second list
/// holds the pieces that are not `<target>; params`.
pub fn parse_links<'a>(values: impl IntoIterator<Item = &'a str>) -> (Vec<Link>, Vec<String>) {
    let mut links = Vec::new();
    let mut bad = Vec::new();
    for value in values {
        let mut rest = value.trim();
        while !rest.is_empty() {
            let Some(after_lt) = rest.strip_prefix('<') else {
                let (piece, next) = split_outside_quotes(rest);
                bad.push(piece.trim().to_string());
                rest = next;
                continue;
            };
            let Some(gt) = after_lt.find('>') else {
                bad.push(rest.to_string());
                break;
            };
            let target = after_lt[..gt].trim().to_string();
            let (params_text, next) = split_outside_quotes(&after_lt[gt + 1..]);
            let params = params_text
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((n, v)) => {
                        (n.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string())
                    }
                    None => (p.to_ascii_lowercase(), String::new()),
                })
                .collect();
            links.push(Link { target, params });
            rest = next;
        }
    }
    (links, bad)
}

/// Splits at the first comma outside double quotes: (before, after the comma).
fn split_outside_quotes(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return (&s[..i], s[i + 1..].trim_start()),
            _ => {}
        }
    }
    (s, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_links_per_field_and_quoted_commas() {
        let (links, bad) = parse_links([
            "<stun:stun.example.net>; rel=\"ice-server\"",
            "<turn:turn.example.net?transport=udp>; rel=\"ice-server\"; username=\"u,1\"; \
             credential=\"p\"; credential-type=\"password\", </ext/sse>; rel=\"urn:ietf:params:whip:ext:x\"",
        ]);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(links.len(), 3);
        assert_eq!(links[0].target, "stun:stun.example.net");
        assert_eq!(links[1].param("username"), Some("u,1"));
        assert_eq!(links[1].param("credential-type"), Some("password"));
        assert_eq!(links[2].rels(), vec!["urn:ietf:params:whip:ext:x"]);
    }

    #[test]
    fn reports_pieces_without_a_target() {
        let (links, bad) = parse_links(["stun:x; rel=ice-server, <a>; rel=b"]);
        assert_eq!(links.len(), 1);
        assert_eq!(bad, vec!["stun:x; rel=ice-server"]);
    }
}
