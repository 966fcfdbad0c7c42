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
    #[command(
        about = "Écrit dans FILE un nouveau secret du serveur, tiré au hasard (32 octets \
                 aléatoires, en hexadécimal) et lisible par son seul propriétaire. Refuse \
                 d'écraser un fichier existant"
    )]
    Generate {
        #[arg(help = "Le fichier à créer")]
        file: PathBuf,
    },
    #[command(
        about = "Re-protège chaque clé de contrôle enregistrée avec un nouveau secret du serveur",
        long_about = "Re-protège chaque clé de contrôle enregistrée avec un nouveau secret du \
                      serveur.\n\n\
                      Lit la clé scellée de chaque rattachement avec le secret actuel, puis écrit \
                      son empreinte de recherche et sa clé scellée avec le nouveau, un lot par \
                      transaction. Arrêtez d'abord les nœuds web (un nœud resté sur le secret \
                      actuel ne trouve plus les clés déjà traitées), lancez cette commande, puis \
                      redémarrez-les avec SAND_SECRET_FILE désignant le nouveau fichier. Une \
                      exécution interrompue se reprend en relançant la commande : les \
                      rattachements déjà traités sont reconnus. Les liens signés avec le secret \
                      actuel — liens de confirmation et de réinitialisation du mot de passe dans \
                      les boîtes aux lettres, formulaires ouverts dans les navigateurs — cessent \
                      de fonctionner ; les sessions ouvertes sont conservées.\n\n\
                      Code de retour : 0 toutes les clés sont sous le nouveau secret, 3 des clés \
                      restent à traiter (elles sont listées)."
    )]
    Rotate {
        #[arg(
            long,
            env = "SAND_DATABASE_URL",
            default_value = crate::DEFAULT_DATABASE_URL,
            hide_env_values = true,
            help = "URL de la base de données : sqlite://CHEMIN ou \
                    postgres://UTILISATEUR@HÔTE/BASE (le rôle web suffit)"
        )]
        database_url: crate::config::DatabaseUrl,
        #[arg(
            long,
            env = "SAND_SECRET_FILE",
            value_name = "FILE",
            help = "Le fichier contenant le secret actuellement en service"
        )]
        current_secret_file: PathBuf,
        #[arg(
            long,
            value_name = "FILE",
            help = "Le fichier contenant le nouveau secret (`sand secret generate FILE` en crée un)"
        )]
        new_secret_file: PathBuf,
        #[arg(
            long,
            default_value_t = 1000,
            value_parser = clap::value_parser!(u64).range(1..=100_000),
            help = "Rattachements par transaction"
        )]
        batch: u64,
        #[arg(long, help = "Sans barre de progression")]
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
    #[error("impossible de créer {path} : {source}")]
    Create {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] sand_persistence::StoreError),
    #[error(
        "erreur de la base de données pendant la rotation (ce qui a été validé reste sous le nouveau secret : relancez la commande) : {}",
        crate::port_message(.0)
    )]
    Database(#[source] sand_domain::PortError),
    #[error("{0} clé(s) ne sont pas encore sous le nouveau secret")]
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
    KeyProtector::from_secret(&secret).map_err(|e| {
        SecretCommandError::Invalid(format!(
            "{} : {}",
            path.display(),
            crate::key_protection_message(&e)
        ))
    })
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
            "le nouveau secret est le secret actuel : aucune rotation à faire".to_owned(),
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
