//! Request path tails → resources, including garbage (never a panic, never a non-canonical
//! match).

use sluice_hls::{Resource, ResourceError, parse_resource};

#[test]
fn every_resource_kind_parses() {
    assert_eq!(parse_resource("index.m3u8"), Ok(Resource::Multivariant));
    assert_eq!(parse_resource("video.m3u8"), Ok(Resource::MediaPlaylist { rendition: "video" }));
    assert_eq!(
        parse_resource("audio/init-3.mp4"),
        Ok(Resource::Init { rendition: "audio", version: 3 })
    );
    assert_eq!(
        parse_resource("video/12.m4s"),
        Ok(Resource::Segment { rendition: "video", msn: 12 })
    );
    assert_eq!(
        parse_resource("video/12.3.m4s"),
        Ok(Resource::Part { rendition: "video", msn: 12, part: 3 })
    );
    assert_eq!(parse_resource("video/0.0.m4s").unwrap().rendition(), Some("video"));
    assert_eq!(Resource::Multivariant.rendition(), None);
}

#[test]
fn malformed_paths_are_rejected() {
    use ResourceError::*;
    let cases: &[(&str, ResourceError)] = &[
        ("", Empty),
        ("index", Unknown),
        ("video", Unknown),
        ("video.M3U8", Unknown),
        ("video.m3u8?_HLS_msn=1", Unknown),
        (".m3u8", BadRendition),
        ("index/1.m4s", BadRendition),
        ("vi.deo.m3u8", BadRendition),
        ("../video.m3u8", BadRendition),
        ("/video/1.m4s", BadRendition),
        ("video//1.m4s", Unknown),
        ("video/1.m4s/", Unknown),
        ("video/a/1.m4s", Unknown),
        ("video/.m4s", BadNumber),
        ("video/01.m4s", BadNumber),
        ("video/1.01.m4s", BadNumber),
        ("video/-1.m4s", BadNumber),
        ("video/+1.m4s", BadNumber),
        ("video/1.2.3.m4s", BadNumber),
        ("video/1..m4s", BadNumber),
        ("video/18446744073709551616.m4s", BadNumber),
        ("video/1.4294967296.m4s", BadNumber),
        ("video/1.mp4", Unknown),
        ("video/init-.mp4", BadNumber),
        ("video/init-x.mp4", BadNumber),
        ("video/init-1.m4s", BadNumber),
        ("video/init.mp4", Unknown),
        ("vidéo/1.m4s", BadRendition),
        ("video/1.m4s\0", Unknown),
    ];
    for (path, err) in cases {
        assert_eq!(parse_resource(path), Err(*err), "{path:?}");
    }
    assert_eq!(parse_resource(&"a".repeat(129)), Err(ResourceError::TooLong));
}

/// xorshift64*: deterministic pseudo-random bytes without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_paths_never_panic_and_matches_are_canonical() {
    const PIECES: &[&str] = &[
        "video",
        "audio",
        "index",
        "init-",
        "/",
        ".",
        "m4s",
        "m3u8",
        "mp4",
        "0",
        "1",
        "9",
        "00",
        "18446744073709551615",
        "4294967296",
        "-",
        "_",
        "%2F",
        "\0",
        "é",
        "..",
        " ",
        "?",
        "#",
    ];
    let valid = ["video/12.3.m4s", "audio/init-0.mp4", "video.m3u8", "index.m3u8", "video/7.m4s"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut matched = 0;
    for i in 0..20_000 {
        let path: String = if i % 2 == 0 {
            (0..rng.below(8)).map(|_| PIECES[rng.below(PIECES.len())]).collect()
        } else {
            // Mutate a valid path: replace, insert or delete one byte.
            let mut b = valid[rng.below(valid.len())].as_bytes().to_vec();
            let at = rng.below(b.len() + 1);
            match rng.below(3) {
                0 if at < b.len() => b[at] = (rng.next() & 0x7f) as u8,
                1 => b.insert(at, (rng.next() & 0x7f) as u8),
                _ if at < b.len() => {
                    b.remove(at);
                }
                _ => {}
            }
            String::from_utf8_lossy(&b).into_owned()
        };
        if let Ok(r) = parse_resource(&path) {
            matched += 1;
            assert_eq!(r.uri(), path, "a match must be the canonical URI of what it names");
        }
    }
    assert!(matched > 100, "the generator should also hit valid paths ({matched})");
}
