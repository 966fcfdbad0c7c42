//! The `sand` command: composes SAND's domain and adapters.
//!
//! Today it offers the reference data and the name normalisation to operators and
//! support agents; the web service, migrations and import land as their adapters do.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sand_domain::academie::Academie;
use sand_domain::diploma::DiplomaKind;
use sand_domain::identity::{compact_key, normalize};

/// SAND: certified digital attestations of French diplomas.
#[derive(Debug, Parser)]
#[command(name = "sand", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every académie with the code used in import files and URLs.
    Academies,
    /// List every diploma kind with the code used in import files and URLs.
    DiplomaKinds,
    /// Show how SAND compares names: the normalised form and the matching key.
    ///
    /// Two birth names match when their keys are equal; first names are compared on
    /// the normalised form of the whole ordered list.
    Normalize {
        /// Names to fold, e.g. "N'Diaye" "Cœur" "Jean-Baptiste Paul".
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn run(cli: Cli, out: &mut impl Write) -> io::Result<()> {
    match cli.command {
        Command::Academies => {
            writeln!(out, "code\tacadémie\toutre-mer\tfusionnée dans")?;
            for a in Academie::ALL {
                let merged = a
                    .merged_into()
                    .map(|(into, year)| format!("{} (sessions {year}+)", into.name()))
                    .unwrap_or_default();
                let overseas = if a.is_overseas() { "oui" } else { "non" };
                writeln!(out, "{}\t{}\t{overseas}\t{merged}", a.code(), a.name())?;
            }
        }
        Command::DiplomaKinds => {
            writeln!(out, "code\tdiplôme")?;
            for k in DiplomaKind::ALL {
                writeln!(out, "{}\t{}", k.code(), k.title())?;
            }
        }
        Command::Normalize { names } => {
            writeln!(out, "saisie\tforme normalisée\tclé de nom")?;
            for name in names {
                writeln!(out, "{name}\t{}\t{}", normalize(&name), compact_key(&name))?;
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    match run(cli, &mut stdout.lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // a closed pipe (`sand academies | head`) is not an error worth a message
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "sand: {e}");
            ExitCode::FAILURE
        }
    }
}
