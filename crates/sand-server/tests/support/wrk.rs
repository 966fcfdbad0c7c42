//! wrk on loopback, for the benchmarks (`#[path]`-included): its figures, and the script
//! that verifies attached keys.

use std::path::Path;
use std::process::Command;

/// A size or duration from the environment, or its default.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Stops the benchmark with the way to install wrk when it is missing.
pub fn require_wrk() {
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is not installed (apt-get install wrk)"
    );
}

pub struct Figures {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

pub fn duration_ms(text: &str) -> f64 {
    let (number, unit) =
        text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let value: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => f64::NAN,
    }
}

/// `wrk` against `base` + `path` (with `script`) for `seconds` at `connections`.
pub fn wrk(
    base: &str,
    path: &str,
    script: Option<&Path>,
    seconds: u64,
    connections: u64,
) -> Figures {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = command.arg(format!("{base}{path}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_owned()))
    };
    Figures {
        requests_per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50_ms: field("50%").map_or(f64::NAN, |v| duration_ms(&v)),
        p99_ms: field("99%").map_or(f64::NAN, |v| duration_ms(&v)),
        errors: field("Non-2xx or 3xx responses:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    }
}

/// Writes the wrk script that verifies the `KEY;NAME` lines of `keys_file` in turn, as
/// the API's JSON requests.
pub fn write_valid_script(path: &Path, keys_file: &Path) {
    std::fs::write(
        path,
        format!(
            r#"local keys = {{}}
for line in io.lines("{}") do
  local key, name = line:match("([^;]+);(.+)")
  keys[#keys + 1] = string.format('{{"cle":"%s","nom":"%s"}}', key, name:gsub('"', ''))
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, keys[(i * 7919) % #keys + 1])
end
"#,
            keys_file.display()
        ),
    )
    .unwrap();
}
