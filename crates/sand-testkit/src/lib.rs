//! What SAND's tests and benchmarks share: the fixtures of the adapters' suites
//! ([`fixtures`]), and the way to run the real binary: start `sand serve` on port 0 and
//! learn the address it bound from its machine-readable readiness line (`--ready-json`:
//! one JSON object on standard output), never from the French text meant for people.
//!
//! ```no_run
//! let mut command = std::process::Command::new("sand");
//! command.args(["serve", "--demo", "--listen", "127.0.0.1:0"]);
//! let served = sand_testkit::serve(command).expect("sand did not start");
//! println!("http://{}", served.ready.listen);
//! ```

pub mod fixtures;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

/// What `sand serve --ready-json` says once it listens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Ready {
    /// Always `ready`.
    pub event: String,
    /// The address bound (`127.0.0.1:PORT`).
    pub listen: String,
    /// The public URL links are made with.
    pub public_url: String,
    /// The metrics address bound, when metrics are served.
    pub metrics_listen: Option<String>,
}

/// Reads `reader` until the readiness line. Every line read (the readiness line too) is
/// appended to `seen`, for the caller's assertions and error messages.
///
/// # Errors
/// The output ended (the process stopped) before the line, or the line is malformed.
pub fn read_ready(reader: &mut impl BufRead, seen: &mut String) -> Result<Ready, String> {
    loop {
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| format!("reading the standard output: {e}"))?;
        if read == 0 {
            return Err(format!(
                "the output ended before the readiness line:\n{seen}"
            ));
        }
        seen.push_str(&line);
        if line.starts_with('{') {
            let ready: Ready = serde_json::from_str(line.trim_end())
                .map_err(|e| format!("malformed readiness line {line:?}: {e}"))?;
            if ready.event == "ready" {
                return Ok(ready);
            }
        }
    }
}

/// A started `sand serve`.
#[derive(Debug)]
pub struct Served {
    pub child: Child,
    pub ready: Ready,
    /// What it printed up to its readiness line.
    pub stdout: String,
}

impl Served {
    /// `http://ADDRESS`, the base of every request.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}", self.ready.listen)
    }

    /// Stops the service with SIGTERM (a graceful stop) and waits for it.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child
            .wait()
            .unwrap_or_else(|_| std::process::ExitStatus::default())
    }
}

/// Starts `command` (a `sand serve …` to which `--ready-json` is added through the
/// environment), waits for its readiness line, then keeps draining its standard
/// output (and its standard error when piped) so that it never blocks on a full pipe.
///
/// # Errors
/// It could not start, or stopped before listening: its standard error (when piped)
/// or its output so far.
pub fn serve(mut command: Command) -> Result<Served, String> {
    let mut child = command
        .env("SAND_READY_JSON", "true")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let mut reader: BufReader<ChildStdout> = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| "no standard output".to_owned())?,
    );
    let mut stdout = String::new();
    match read_ready(&mut reader, &mut stdout) {
        Ok(ready) => {
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            if let Some(mut stderr) = child.stderr.take() {
                std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            }
            Ok(Served {
                child,
                ready,
                stdout,
            })
        }
        Err(e) => {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let _ = child.kill();
            let _ = child.wait();
            Err(if stderr.is_empty() { e } else { stderr })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_readiness_line_is_found_among_lines_for_people() {
        let out = "SAND écoute sur http://127.0.0.1:4242 (adresse publique : http://localhost:4242).\n\
                   {\"event\":\"ready\",\"listen\":\"127.0.0.1:4242\",\"public_url\":\"http://localhost:4242\",\"metrics_listen\":null}\n";
        let mut seen = String::new();
        let ready = read_ready(&mut out.as_bytes(), &mut seen).unwrap();
        assert_eq!(ready.listen, "127.0.0.1:4242");
        assert_eq!(ready.metrics_listen, None);
        assert!(seen.starts_with("SAND écoute"));
    }

    #[test]
    fn an_output_that_ends_first_or_a_malformed_line_is_an_error() {
        let mut seen = String::new();
        let err = read_ready(&mut "Erreur : base illisible\n".as_bytes(), &mut seen).unwrap_err();
        assert!(err.contains("base illisible"), "{err}");
        assert!(read_ready(&mut "{\"event\":\n".as_bytes(), &mut String::new()).is_err());
    }
}
