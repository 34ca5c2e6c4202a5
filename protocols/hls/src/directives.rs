//! Delivery Directives (HLS §6.2.5): the `_HLS_msn`, `_HLS_part` and `_HLS_skip` query
//! parameters of a media playlist request, parsed strictly.
//!
//! A malformed directive is a client bug; the server answers it with 400 rather than guessing.
//! Query parameters that are not directives are ignored.

/// `_HLS_skip`: the client asks for a Playlist Delta Update (HLS §6.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// `_HLS_skip=YES`: skip old Media Segments.
    Yes,
    /// `_HLS_skip=v2`: also skip old EXT-X-DATERANGE tags. Sluice's playlists carry none, so
    /// this renders the same delta as [`Skip::Yes`].
    V2,
}

/// The directives of one playlist request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Directives {
    /// `_HLS_msn=M`: block until segment M (or later) is in the playlist.
    pub msn: Option<u64>,
    /// `_HLS_part=N`: with `_HLS_msn`, block until part N of segment M is in the playlist.
    pub part: Option<u32>,
    pub skip: Option<Skip>,
}

/// Why a query is rejected (the server answers 400).
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum DirectiveError {
    #[error("_HLS_part without _HLS_msn")]
    PartWithoutMsn,
    #[error("{0} is not a decimal integer")]
    BadNumber(&'static str),
    #[error("_HLS_skip must be YES or v2")]
    BadSkip,
    #[error("{0} given twice")]
    Duplicate(&'static str),
}

const MSN: &str = "_HLS_msn";
const PART: &str = "_HLS_part";
const SKIP: &str = "_HLS_skip";

impl Directives {
    /// Parses a URI query (with or without the leading `?`).
    pub fn parse(query: &str) -> Result<Self, DirectiveError> {
        let query = query.strip_prefix('?').unwrap_or(query);
        let mut d = Directives::default();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                MSN => set_once(&mut d.msn, MSN, decimal(value, MSN)?)?,
                PART => set_once(&mut d.part, PART, decimal(value, PART)?)?,
                SKIP => {
                    let skip = match value {
                        "YES" => Skip::Yes,
                        "v2" => Skip::V2,
                        _ => return Err(DirectiveError::BadSkip),
                    };
                    set_once(&mut d.skip, SKIP, skip)?;
                }
                _ => {}
            }
        }
        // HLS §6.2.5.2: "If the Playlist URI contains an _HLS_part directive but no _HLS_msn
        // directive, the Server MUST return Bad Request, such as HTTP 400."
        if d.part.is_some() && d.msn.is_none() {
            return Err(DirectiveError::PartWithoutMsn);
        }
        Ok(d)
    }

    /// The request is a Blocking Playlist Reload.
    pub fn is_blocking(&self) -> bool {
        self.msn.is_some()
    }

    /// Whether to answer with a Playlist Delta Update. HLS §6.2.5.1: "A Server MUST ignore the
    /// _HLS_skip directive if the Playlist does not contain the CAN-SKIP-UNTIL attribute, or if
    /// it contains an EXT-X-ENDLIST tag." (Sluice's playlists always carry CAN-SKIP-UNTIL.)
    pub fn wants_delta(&self, ended: bool) -> bool {
        self.skip.is_some() && !ended
    }
}

fn set_once<T>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), DirectiveError> {
    if slot.is_some() {
        return Err(DirectiveError::Duplicate(name));
    }
    *slot = Some(value);
    Ok(())
}

/// HLS §4.2 decimal-integer: "an unquoted string of characters from the set [0..9] expressing
/// an integer in base-10 arithmetic", and it must fit the field.
fn decimal<T: std::str::FromStr>(s: &str, name: &'static str) -> Result<T, DirectiveError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DirectiveError::BadNumber(name));
    }
    s.parse().map_err(|_| DirectiveError::BadNumber(name))
}
