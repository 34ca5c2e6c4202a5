//! A second opinion from real decoders: ffprobe and ffmpeg run on what the tests produce, with
//! nothing allowed on stderr at `-v error` (decode errors land there). Needs ffmpeg on PATH;
//! set SLUICE_SKIP_FFPROBE=1 to skip these checks on a machine without it.

use std::process::Command;

/// True when SLUICE_SKIP_FFPROBE is set: tests return early instead of running the tools.
pub fn skip_tools() -> bool {
    std::env::var_os("SLUICE_SKIP_FFPROBE").is_some()
}

/// Writes `data` to a temp file named after `file_name` (unique per test process), runs `tool`
/// with `args_before`, the file's path and `args_after`; asserts success and an empty stderr,
/// returns stdout.
pub fn run_on(
    tool: &str,
    args_before: &[&str],
    args_after: &[&str],
    file_name: &str,
    data: &[u8],
) -> String {
    let path =
        std::env::temp_dir().join(format!("sluice-media-{}-{file_name}", std::process::id()));
    std::fs::write(&path, data).expect("write temp file");
    let out = Command::new(tool).args(args_before).arg(&path).args(args_after).output();
    let _ = std::fs::remove_file(&path);
    let out = out.unwrap_or_else(|e| {
        panic!("{tool} runs (install ffmpeg, or set SLUICE_SKIP_FFPROBE=1): {e}")
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{tool} on {file_name}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// ffprobe's `key=value` stream facts for a media file, with every frame decoded and counted
/// (`nb_read_frames`).
pub fn probe_streams(file_name: &str, data: &[u8]) -> Vec<String> {
    let entries = "stream=codec_name,codec_tag_string,profile,width,height,sample_rate,channels,\
                   nb_read_frames";
    let args = [
        "-v",
        "error",
        "-count_frames",
        "-show_entries",
        entries,
        "-of",
        "default=noprint_wrappers=1",
    ];
    let out = run_on("ffprobe", &args, &[], file_name, data);
    out.lines().map(str::to_owned).collect()
}

/// Asserts that every `wants` line is among ffprobe's `lines` for `what`.
pub fn assert_listed(what: &str, lines: &[String], wants: &[&str]) {
    for want in wants {
        assert!(lines.iter().any(|l| l == want), "{what}: {want} missing in {lines:?}");
    }
}
