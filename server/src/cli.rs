//! Command line: `sluice serve|demo [--config FILE] [flags]`; flags override the file.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{Config, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Serve,
    Demo,
}

pub const USAGE: &str = "\
usage: sluice <serve|demo> [options]

  serve                 run the server
  demo                  run the server with a built-in test source publishing to live/demo

options (override the config file):
  --config FILE         TOML configuration file
  --http ADDR|off       plain HTTP/1.1 + h2c listener      (default 0.0.0.0:8080)
  --https ADDR|off      TLS HTTP/1.1 + HTTP/2 listener     (default 0.0.0.0:8443)
  --rtmp ADDR|off       RTMP ingest listener               (default 0.0.0.0:1935)
  --srt ADDR|off        SRT ingest/playback listener (UDP) (default 0.0.0.0:9710)
  --data DIR            state directory                    (default ./sluice-data)
  --workers N           worker threads                     (default: one per core)
  --web DIR             folder with node_modules/hls.js    (default: ./web)
  --part-target-ms MS   LL-HLS part target, 100..=1000     (default 200)
  --segment-target-ms MS segment target                    (default 1000)
";

/// Parses `args` (without the program name).
pub fn parse(args: &[String]) -> Result<(Command, Config), ConfigError> {
    let bad = |m: String| ConfigError::Invalid(format!("{m}\n\n{USAGE}"));
    let mut it = args.iter();
    let command = match it.next().map(String::as_str) {
        Some("serve") => Command::Serve,
        Some("demo") => Command::Demo,
        Some("-h" | "--help" | "help") | None => return Err(ConfigError::Invalid(USAGE.into())),
        Some(other) => return Err(bad(format!("unknown command {other:?}"))),
    };
    let rest: Vec<&String> = it.collect();
    // The config file is read first so that flags win wherever they appear.
    let mut config = match rest.iter().position(|a| *a == "--config") {
        Some(i) => {
            let path = rest.get(i + 1).ok_or_else(|| bad("--config needs a file".into()))?;
            Config::from_file(std::path::Path::new(path.as_str()))?
        }
        None => Config::default(),
    };
    let mut i = 0;
    while i < rest.len() {
        let flag = rest[i].as_str();
        let value = rest
            .get(i + 1)
            .map(|s| s.as_str())
            .ok_or_else(|| bad(format!("{flag} needs a value")))?;
        match flag {
            "--config" => {}
            "--http" => config.http = addr(flag, value)?,
            "--https" => config.https = addr(flag, value)?,
            "--rtmp" => config.rtmp = addr(flag, value)?,
            "--srt" => config.srt = addr(flag, value)?,
            "--data" => config.data = PathBuf::from(value),
            "--web" => config.web = Some(PathBuf::from(value)),
            "--workers" => config.workers = number(flag, value)?,
            "--part-target-ms" => config.media.part_target_ms = number(flag, value)?,
            "--segment-target-ms" => config.media.segment_target_ms = number(flag, value)?,
            _ => return Err(bad(format!("unknown option {flag:?}"))),
        }
        i += 2;
    }
    config.validate()?;
    Ok((command, config))
}

fn addr(flag: &str, value: &str) -> Result<Option<SocketAddr>, ConfigError> {
    if value == "off" {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| {
        ConfigError::Invalid(format!(
            "{flag}: {value:?} is not an address like 0.0.0.0:8080 (or off)"
        ))
    })
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|_| ConfigError::Invalid(format!("{flag}: {value:?} is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_override_defaults() {
        let (cmd, c) =
            parse(&args("serve --http 127.0.0.1:0 --https off --part-target-ms 300 --workers 2"))
                .expect("valid");
        assert_eq!(cmd, Command::Serve);
        assert_eq!(c.http, Some(([127, 0, 0, 1], 0).into()));
        assert_eq!(c.https, None);
        assert_eq!(c.media.part_target_ms, 300);
        assert_eq!(c.workers, 2);
    }

    #[test]
    fn bad_input_is_explained() {
        let e = parse(&args("serve --http nowhere")).expect_err("bad address").to_string();
        assert!(e.contains("--http"), "{e}");
        let e = parse(&args("serve --part-target-ms 5000")).expect_err("out of range").to_string();
        assert!(e.contains("part_target_ms"), "{e}");
        assert!(parse(&args("fly")).is_err());
        assert!(parse(&args("serve --http")).is_err());
    }
}
