//! The `sand` command: composes SAND's domain and adapters.

mod attestation;
mod config;
mod import;
mod one_way;
mod secret;
mod serve;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use sand_domain::academie::Academie;
use sand_domain::diploma::DiplomaKind;
use sand_domain::identity::{compact_key, normalize};
use sand_persistence::{DatabaseRoles, RecordWriteAccess, StoreSettings};

use crate::one_way::Deployment;

/// The default database: an embedded SQLite file in ./data, created on first use.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://data/sand.db";

/// SAND: certified digital attestations of French diplomas.
///
/// Run without a command, `sand` starts the demonstration site on the embedded database
/// (loading its demonstration data the first time), as `sand serve --demo` would.
#[derive(Debug, Parser)]
#[command(name = "sand", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where `sand` with no command keeps its demonstration batches.
const DEMO_DIR: &str = "data/demo";
/// Size and seed of the demonstration data set.
const DEMO_RECORDS: u64 = 10_000;
const DEMO_SEED: u64 = 1;

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, env = "SAND_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: crate::config::DatabaseUrl,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web service: the graduate space, the verification space, the catalogue,
    /// help and the JSON API (/api/v1, documented at /api/v1/docs).
    ///
    /// Configuration comes from the options or their SAND_* environment variables. On
    /// SQLite the schema is created or upgraded at start; on PostgreSQL run `sand migrate`
    /// first and connect as the web role, which cannot write diploma records. Stops
    /// gracefully on SIGTERM or Ctrl-C (requests in flight finish).
    Serve(Box<serve::ServeArgs>),
    /// Create or upgrade the database schema (and, on PostgreSQL, the web and importer
    /// roles and their privileges). Safe to run again: it does only what is missing.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
        /// PostgreSQL role of the web server: may only read diploma records.
        #[arg(long, env = "SAND_DATABASE_WEB_ROLE", default_value = "sand_web")]
        web_role: String,
        /// PostgreSQL role of the import: may write diploma records.
        #[arg(
            long,
            env = "SAND_DATABASE_IMPORTER_ROLE",
            default_value = "sand_importer"
        )]
        importer_role: String,
    },
    /// Import exam results: the only way diploma records enter SAND.
    ///
    /// Takes batch manifests (or directories of them, `*.toml`), checks every line of
    /// each data file against the manifest and the rules, and applies each batch
    /// atomically: a batch with any problem changes nothing, and its problems are listed
    /// with their line and column. Importing the same batch again changes nothing; a
    /// corrected batch replaces the previous one of its scope. On PostgreSQL, connect with
    /// the importer role.
    ///
    /// Exit status: 0 all batches done, 65 a batch refused, 66 a file missing,
    /// 69 database unavailable, 77 database user not allowed to write records.
    Import {
        /// Manifests (*.toml) or directories holding them.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Check everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Records per chunk staged in the database.
        #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        chunk_size: u32,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Demonstration data.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// The server secret: a new one, and its rotation.
    #[command(subcommand)]
    Secret(secret::SecretCommand),
    /// Attestation signing keys.
    #[command(subcommand)]
    Keys(attestation::KeysCommand),
    /// Attestations: a sample to look at, and the offline checker.
    #[command(subcommand)]
    Attestation(attestation::AttestationCommand),
    /// Database checks.
    #[command(subcommand)]
    Db(DbCommand),
    /// The configuration of `sand serve`.
    #[command(subcommand)]
    Config(ConfigCommand),
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

#[derive(Debug, Subcommand)]
enum DemoCommand {
    /// Write synthetic batches (manifest + data file each) of invented French graduates,
    /// ready for `sand import`. The same seed gives the same files.
    Generate {
        /// Records in all, spread over batches of about 250 (académies, diploma kinds and
        /// sessions 2009–2025 in turn).
        #[arg(long, default_value_t = 10_000)]
        records: u64,
        /// The random seed: the same seed writes the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output directory (created if missing).
        #[arg(long, default_value = "data/demo")]
        out: std::path::PathBuf,
        /// Put every record into one batch (for benchmarks).
        #[arg(long)]
        single_batch: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration of `sand serve`, each value with where it
    /// comes from (default < file < environment < command line), secrets masked, then
    /// check it as `serve` does before it connects to anything.
    ///
    /// The file is named by --config or SAND_CONFIG; its keys are the long option names
    /// of `sand serve` with underscores. Exit status 0 when `serve` would accept it.
    Check(Box<serve::ServeArgs>),
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Check that this database user cannot write diploma records, as the web server
    /// requires at start. Exit status 0 when it may serve, 3 when it must not.
    CheckAccess {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Accept a database that cannot restrict writes (SQLite) for a single-user or
        /// demo deployment.
        #[arg(long, env = "SAND_SINGLE_USER")]
        single_user: bool,
    },
}

/// Exit status when a check refuses (distinct from errors, 1, and usage, 2).
const EXIT_REFUSED: u8 = 3;
/// Exit status of a configuration error (sysexits' EX_CONFIG): the service cannot start
/// as configured.
const EXIT_CONFIG: u8 = 78;

#[derive(Debug, thiserror::Error)]
enum CommandError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] sand_persistence::StoreError),
    #[error(transparent)]
    Refused(#[from] one_way::OneWayError),
    #[error("import ended with status {0}")]
    Import(u8),
    #[error(transparent)]
    Attestation(#[from] attestation::AttestationCommandError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error(transparent)]
    Secret(#[from] secret::SecretCommandError),
}

fn print_reference(command: &Command, out: &mut impl Write) -> io::Result<()> {
    match command {
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
                writeln!(out, "{name}\t{}\t{}", normalize(name), compact_key(name))?;
            }
        }
        Command::Migrate { .. }
        | Command::Db(_)
        | Command::Import { .. }
        | Command::Demo(_)
        | Command::Keys(_)
        | Command::Secret(_)
        | Command::Serve(_)
        | Command::Config(_)
        | Command::Attestation(_) => {}
    }
    Ok(())
}

/// `sand` alone, on the embedded database: the demonstration ("mirror") site's data is
/// generated once and imported (idempotent), so that a newcomer can try everything.
async fn first_start(out: &mut impl Write) -> Result<(), CommandError> {
    let url =
        std::env::var("SAND_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    if !url.trim_start().starts_with("sqlite:") {
        writeln!(
            out,
            "Base de données non embarquée : aucune donnée de démonstration n'est chargée. Voir `sand --help`."
        )?;
        return Ok(());
    }
    let dir = std::path::PathBuf::from(DEMO_DIR);
    let has_batches = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .unwrap_or(false);
    if !has_batches {
        let options = sand_import::synthetic::GenerateOptions {
            records: DEMO_RECORDS,
            seed: DEMO_SEED,
            single_batch: false,
        };
        let manifests = sand_import::synthetic::generate(&dir, &options)?;
        writeln!(
            out,
            "Données de démonstration générées : {} lots dans {DEMO_DIR}.",
            manifests.len()
        )?;
    }
    let options = import::ImportOptions {
        paths: vec![dir],
        database_url: config::DatabaseUrl::new(url),
        dry_run: false,
        chunk_size: 5_000,
        quiet: true,
    };
    let mut report = Vec::new();
    let status = import::run(options, &mut report).await?;
    if status != import::ImportStatus::AllDone {
        out.write_all(&report)?;
        return Err(CommandError::Import(status.exit_code()));
    }
    if let Some(summary) = String::from_utf8_lossy(&report).lines().last() {
        writeln!(out, "Base de démonstration prête ({summary}).")?;
    }
    writeln!(
        out,
        "Site de démonstration : données fictives, sans aucune valeur."
    )?;
    writeln!(
        out,
        "Personnes de démonstration (bac général 2021, académie de Lyon) :"
    )?;
    for (birth_name, first_names, birth_date, usage) in sand_import::synthetic::DEMO_PEOPLE {
        let usage = if usage.is_empty() {
            String::new()
        } else {
            format!(", nom d'usage {usage}")
        };
        writeln!(
            out,
            "  {birth_name}, {first_names}, date de naissance {birth_date}{usage}"
        )?;
    }
    let Ok(Cli {
        command: Some(Command::Serve(args)),
    }) = Cli::try_parse_from(["sand", "serve", "--demo"])
    else {
        return Ok(());
    };
    serve::run(*args, out).await?;
    Ok(())
}

/// The parsed command line with the configuration file's layer applied.
struct Invocation {
    cli: Cli,
    matches: ArgMatches,
    command: clap::Command,
    layer: config::FileLayer,
}

/// Parses the command line, the configuration file's values becoming the defaults of
/// the commands that read it. Usage errors exit as clap does (status 2).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Invocation, config::ConfigError> {
    let layer = match config::file_named(&args) {
        Some(path) => config::FileLayer::read(&path)?,
        None => config::FileLayer::default(),
    };
    let matches = config::apply(Cli::command(), &layer)?.get_matches_from(args);
    config::refuse_secrets_on_command_line(&Cli::command(), &matches)?;
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    Ok(Invocation {
        cli,
        matches,
        // the options in their declared order, for `config check`
        command: Cli::command(),
        layer,
    })
}

/// `sand config check`.
fn config_check(
    invocation: &Invocation,
    args: &serve::ServeArgs,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let (Some(config_cmd), Some((_, config_matches))) = (
        invocation.command.find_subcommand("config"),
        invocation.matches.subcommand(),
    ) else {
        return Ok(());
    };
    let (Some(check_cmd), Some((_, check_matches))) = (
        config_cmd.find_subcommand("check"),
        config_matches.subcommand(),
    ) else {
        return Ok(());
    };
    config::print_effective(check_cmd, check_matches, &invocation.layer, out)?;
    let notes = serve::check(args)?;
    writeln!(out, "Configuration valide : {}.", notes.join(" ; "))?;
    Ok(())
}

async fn run(invocation: Invocation, out: &mut impl Write) -> Result<(), CommandError> {
    if let Some(Command::Config(ConfigCommand::Check(args))) = &invocation.cli.command {
        return config_check(&invocation, args, out);
    }
    let Some(command) = invocation.cli.command else {
        return first_start(out).await;
    };
    match command {
        Command::Migrate {
            database,
            web_role,
            importer_role,
        } => {
            let roles = DatabaseRoles {
                web: web_role,
                importer: importer_role,
            };
            let applied = sand_persistence::migrate_database(
                &StoreSettings::new(database.database_url.expose()),
                &roles,
            )
            .await?;
            if applied.is_empty() {
                writeln!(out, "Le schéma est à jour (aucune migration à appliquer).")?;
            } else {
                writeln!(out, "{} migration(s) appliquée(s) :", applied.len())?;
                for name in applied {
                    writeln!(out, "  {name}")?;
                }
            }
        }
        Command::Db(DbCommand::CheckAccess {
            database,
            single_user,
        }) => {
            let access = sand_persistence::check_record_write_access(&StoreSettings::new(
                database.database_url.expose(),
            ))
            .await?;
            let deployment = if single_user {
                Deployment::SingleUser
            } else {
                Deployment::Shared
            };
            match &access {
                RecordWriteAccess::Denied => {
                    writeln!(out, "Accès aux diplômes : lecture seule (rôle web).")?;
                }
                RecordWriteAccess::NotEnforceable => {
                    writeln!(
                        out,
                        "Accès aux diplômes : non restreint par la base (SQLite)."
                    )?;
                }
                RecordWriteAccess::Granted(grants) => {
                    writeln!(
                        out,
                        "Accès aux diplômes : écriture possible ({}).",
                        grants.join(", ")
                    )?;
                }
            }
            one_way::check(&access, deployment)?;
            writeln!(out, "Le serveur web peut démarrer avec cet utilisateur.")?;
        }
        Command::Import {
            paths,
            database,
            dry_run,
            chunk_size,
            quiet,
        } => {
            let options = import::ImportOptions {
                paths,
                database_url: database.database_url,
                dry_run,
                chunk_size: usize::try_from(chunk_size).unwrap_or(5_000),
                quiet,
            };
            let status = import::run(options, out).await?;
            if status != import::ImportStatus::AllDone {
                return Err(CommandError::Import(status.exit_code()));
            }
        }
        Command::Demo(DemoCommand::Generate {
            records,
            seed,
            out: dir,
            single_batch,
        }) => {
            let options = sand_import::synthetic::GenerateOptions {
                records,
                seed,
                single_batch,
            };
            let manifests = sand_import::synthetic::generate(&dir, &options)?;
            writeln!(
                out,
                "{} lot(s), {records} enregistrement(s) écrits dans {} (graine {seed}).",
                manifests.len(),
                dir.display()
            )?;
            writeln!(
                out,
                "Personnes de démonstration (bac général 2021, académie de Lyon) :"
            )?;
            for (birth_name, first_names, birth_date, usage) in sand_import::synthetic::DEMO_PEOPLE
            {
                let usage = if usage.is_empty() {
                    String::new()
                } else {
                    format!(", nom d'usage {usage}")
                };
                writeln!(
                    out,
                    "  {birth_name}, {first_names}, née ou né le {birth_date}{usage}"
                )?;
            }
        }
        Command::Keys(command) => attestation::keys(command, out)?,
        Command::Secret(command) => secret::run(command, out).await?,
        Command::Config(_) => {}
        Command::Serve(args) => serve::run(*args, out).await?,
        Command::Attestation(command) => attestation::attestation(command, out)?,
        reference => print_reference(&reference, out)?,
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    // SAND_LOG_FORMAT=json: one JSON object a line (with the request's span and id), for
    // log collectors; otherwise human-readable
    if std::env::var("SAND_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let invocation = match parse(std::env::args_os().collect()) {
        Ok(invocation) => invocation,
        Err(e) => {
            let _ = writeln!(io::stderr(), "sand: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(io::stderr(), "sand: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = io::stdout();
    let result = runtime.block_on(run(invocation, &mut stdout.lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // a closed pipe (`sand academies | head`) is not an error worth a message
        Err(CommandError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(CommandError::Import(code)) => ExitCode::from(code),
        Err(CommandError::Attestation(attestation::AttestationCommandError::Invalid(code))) => {
            ExitCode::from(code)
        }
        Err(CommandError::Serve(serve::ServeError::Config(e))) => {
            let _ = writeln!(io::stderr(), "sand: configuration: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(CommandError::Refused(e)) => {
            let _ = writeln!(io::stderr(), "sand: refused: {e}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(CommandError::Secret(e @ secret::SecretCommandError::Incomplete(_))) => {
            let _ = writeln!(io::stderr(), "sand: {e}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(CommandError::Secret(secret::SecretCommandError::Secret(
            serve::ServeError::Config(e),
        ))) => {
            let _ = writeln!(io::stderr(), "sand: configuration: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            let mut message = format!("sand: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            let _ = writeln!(io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}
