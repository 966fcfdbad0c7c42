//! `sand secret`: the server secret that protects control keys at rest and keys the
//! service's tokens — a new one, and its rotation.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sand_persistence::keys::KeyProtector;
use sand_persistence::{Store, StoreSettings};

use crate::serve::{ServeError, read_secret_file};

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Write a new random server secret (32 random bytes, in hex) into FILE, readable by
    /// its owner only. Refuses to overwrite a file.
    Generate {
        /// The file to create.
        file: PathBuf,
    },
    /// Re-protect every stored control key with a new server secret.
    ///
    /// Reads each link's sealed key with the current secret, then writes its lookup hash
    /// and sealed key under the new one, a batch per transaction. Stop the web nodes
    /// first (a node still on the current secret no longer finds the rotated keys), run
    /// this, then start them with SAND_SECRET_FILE naming the new file. An interrupted
    /// run is resumed by running it again: links already rotated are recognised. Links
    /// signed off by the current secret — confirmation and password-reset links in
    /// mailboxes, forms open in browsers — stop working; sessions survive.
    ///
    /// Exit status: 0 every key is under the new secret, 3 some keys were left (listed).
    Rotate {
        /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (the web role may do it).
        #[arg(long, env = "SAND_DATABASE_URL", default_value = crate::DEFAULT_DATABASE_URL, hide_env_values = true)]
        database_url: crate::config::DatabaseUrl,
        /// The file holding the secret in service now.
        #[arg(long, env = "SAND_SECRET_FILE", value_name = "FILE")]
        current_secret_file: PathBuf,
        /// The file holding the new secret (`sand secret generate FILE` makes one).
        #[arg(long, value_name = "FILE")]
        new_secret_file: PathBuf,
        /// Links per transaction.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch: u64,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

/// Why a secret command failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretCommandError {
    #[error(transparent)]
    Secret(#[from] ServeError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] sand_persistence::StoreError),
    #[error(
        "the database failed during the rotation (what was committed stays rotated: run it again): {0}"
    )]
    Database(#[source] sand_domain::PortError),
    #[error("{0} key(s) are not under the new secret yet")]
    Incomplete(usize),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Runs a `sand secret` command.
///
/// # Errors
/// [`SecretCommandError`].
pub async fn run(command: SecretCommand, out: &mut impl Write) -> Result<(), SecretCommandError> {
    match command {
        SecretCommand::Generate { file } => generate(&file, out),
        SecretCommand::Rotate {
            database_url,
            current_secret_file,
            new_secret_file,
            batch,
            quiet,
        } => {
            rotate(
                database_url.expose(),
                &current_secret_file,
                &new_secret_file,
                batch,
                quiet,
                out,
            )
            .await
        }
    }
}

fn generate(file: &Path, out: &mut impl Write) -> Result<(), SecretCommandError> {
    let text = sand_http::system::random_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let create = |source| SecretCommandError::Create {
        path: file.display().to_string(),
        source,
    };
    let mut handle = options.open(file).map_err(create)?;
    writeln!(handle, "{text}").map_err(create)?;
    writeln!(
        out,
        "Nouveau secret écrit dans {} (lisible par son seul propriétaire).",
        file.display()
    )?;
    Ok(())
}

fn protector(path: &Path) -> Result<KeyProtector, SecretCommandError> {
    let secret = read_secret_file(path)?;
    KeyProtector::from_secret(&secret)
        .map_err(|e| SecretCommandError::Invalid(format!("{}: {e}", path.display())))
}

async fn rotate(
    database_url: &str,
    current: &Path,
    new_path: &Path,
    batch: u64,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), SecretCommandError> {
    if read_secret_file(current)? == read_secret_file(new_path)? {
        return Err(SecretCommandError::Invalid(
            "the new secret is the current one: nothing to rotate".to_owned(),
        ));
    }
    let old = protector(current)?;
    let new = protector(new_path)?;
    let store = Store::connect(&StoreSettings::new(database_url), old).await?;
    let total = store
        .count_links()
        .await
        .map_err(SecretCommandError::Database)?;
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} clés")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let report = store
        .rotate_key_protection(&new, batch, |done| bar.set_position(done))
        .await
        .map_err(SecretCommandError::Database);
    bar.finish_and_clear();
    let report = report?;
    tracing::info!(
        rotated = report.rotated,
        already_rotated = report.already_rotated,
        changed_meanwhile = report.changed_meanwhile,
        unreadable = report.unreadable.len(),
        "server secret rotation"
    );
    writeln!(
        out,
        "Clés de contrôle re-protégées : {} ; déjà sous le nouveau secret : {} ; modifiées pendant la rotation : {} ; illisibles : {}.",
        report.rotated,
        report.already_rotated,
        report.changed_meanwhile,
        report.unreadable.len()
    )?;
    writeln!(
        out,
        "Doubles authentifications re-protégées : {} ; illisibles : {}.",
        report.second_factors_rotated,
        report.unreadable_second_factors.len()
    )?;
    for id in &report.unreadable {
        writeln!(
            out,
            "  illisible avec l'un et l'autre secret : rattachement {id}"
        )?;
    }
    for id in &report.unreadable_second_factors {
        writeln!(
            out,
            "  illisible avec l'un et l'autre secret : double authentification du profil {id}"
        )?;
    }
    if report.changed_meanwhile > 0 {
        writeln!(
            out,
            "Des clés ont changé pendant la rotation : relancez la commande (le service est-il arrêté ?)."
        )?;
    }
    if !report.complete() {
        return Err(SecretCommandError::Incomplete(
            report.unreadable.len()
                + report.unreadable_second_factors.len()
                + usize::try_from(report.changed_meanwhile).unwrap_or(usize::MAX),
        ));
    }
    writeln!(
        out,
        "Terminé. Démarrez le service avec SAND_SECRET_FILE={} ; gardez l'ancien secret hors ligne jusqu'à la prochaine sauvegarde de la base.",
        new_path.display()
    )?;
    Ok(())
}
