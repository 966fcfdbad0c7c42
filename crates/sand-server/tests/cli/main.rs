//! The `sand` binary, run as a user runs it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

fn sand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sand"))
        .args(args)
        .output()
        .expect("the sand binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

#[test]
fn help_lists_every_command() {
    let out = sand(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for command in ["academies", "diploma-kinds", "normalize"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}

#[test]
fn academies_lists_overseas_academies_with_their_codes() {
    let out = sand(&["academies"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("28\tLa Réunion\toui"));
    assert!(text.contains("43\tMayotte\toui"));
    assert!(text.contains("05\tCaen\tnon\tNormandie (sessions 2020+)"));
    assert!(
        !text.contains("SIEC"),
        "the SIEC is an exam office, not an académie"
    );
}

#[test]
fn normalize_shows_the_matching_forms() {
    let out = sand(&["normalize", "N'Diaye", "Cœur", "E\u{301}lodie"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("N'Diaye\tN DIAYE\tNDIAYE"));
    assert!(text.contains("Cœur\tCOEUR\tCOEUR"));
    assert!(text.contains("\tELODIE\tELODIE"));
}

#[test]
fn bad_usage_fails_with_a_clear_message() {
    let out = sand(&["normalize"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("required"), "{err}");

    let out = sand(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}
