//! Signed batches: the exam offices' side (`sand batch keygen`, `sand batch sign`), the
//! operator's (`sand issuers add-key`, `keys`, `revoke-key`), and the check `sand import`
//! makes of each batch before reading its data: a known issuer exporting within its
//! scope, the format the operator accepts, and a signature by a live key registered for
//! that issuer (required on PostgreSQL unless the operator says otherwise).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use sand_attestation::keys::{PublicKey, SigningKeys};
use sand_domain::issuer::IssuerRegistry;
use sand_domain::record::batch::BatchSignature;
use sand_import::manifest::{
    DetachedSignature, FORMAT, FORMAT_V1, Manifest, Version, read_signature, render_signature,
    signature_path,
};
use sand_persistence::StoreSettings;
use sand_persistence::issuer_keys::{self, AddKey, IssuerKey};
use time::OffsetDateTime;

use crate::attestation::{AttestationCommandError, write_private};

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    #[command(
        about = "Génère une clé de signature des lots pour un service des examens (Ed25519)",
        long_about = "Génère une clé de signature des lots pour un service des examens \
                      (Ed25519).\n\n\
                      Écrit dans le dossier `batch-key-<id>.pem` (la clé secrète, PKCS#8, \
                      lisible par son seul propriétaire : elle reste au service des examens) et \
                      `batch-public-key-<id>.pem` (à transmettre à l'exploitant, qui \
                      l'enregistre avec `sand issuers add-key`)."
    )]
    Keygen {
        #[arg(long, help = "Dossier des deux fichiers (créé s'il n'existe pas)")]
        out: PathBuf,
    },
    #[command(
        about = "Signe des manifestes : écrit à côté de chacun sa signature détachée \
                 (`<manifeste>.sig`)",
        long_about = "Signe des manifestes : écrit à côté de chacun sa signature détachée \
                      (`<manifeste>.sig`).\n\n\
                      La signature porte sur le manifeste tel qu'il est écrit, qui contient \
                      l'empreinte SHA-256 du fichier de données : modifier l'un ou l'autre \
                      après la signature fait refuser le lot. Le manifeste doit être lisible \
                      (format sand-batch/2) ; une signature existante est remplacée."
    )]
    Sign {
        #[arg(
            long,
            env = "SAND_BATCH_KEY_FILE",
            help = "La clé secrète (`sand batch keygen`)"
        )]
        key: PathBuf,
        #[arg(required = true, help = "Manifestes (*.toml) à signer")]
        manifests: Vec<PathBuf>,
    },
}

/// Why a batch command failed, in French.
#[derive(Debug, thiserror::Error)]
pub enum BatchCommandError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Key(#[from] AttestationCommandError),
    #[error("{0}")]
    Refused(String),
    #[error("{}", crate::store_message(.0))]
    Store(#[from] sand_persistence::StoreError),
    #[error(transparent)]
    Registry(#[from] sand_import::registry::RegistryFileError),
}

/// Runs a `sand batch` command.
///
/// # Errors
/// [`BatchCommandError`].
pub fn batch(command: BatchCommand, out: &mut impl Write) -> Result<(), BatchCommandError> {
    match command {
        BatchCommand::Keygen { out: dir } => {
            let file_error = |path: &Path, error: io::Error| AttestationCommandError::File {
                path: path.display().to_string(),
                error,
            };
            std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
            let keys = SigningKeys::generate().map_err(AttestationCommandError::from)?;
            let secret = dir.join(format!("batch-key-{}.pem", keys.id()));
            let public = dir.join(format!("batch-public-key-{}.pem", keys.id()));
            let secret_pem = keys.to_pem().map_err(AttestationCommandError::from)?;
            write_private(&secret, &secret_pem).map_err(|e| file_error(&secret, e))?;
            let public_pem = keys.public_pem().map_err(AttestationCommandError::from)?;
            std::fs::write(&public, public_pem).map_err(|e| file_error(&public, e))?;
            writeln!(out, "Clé de signature des lots {} créée.", keys.id())?;
            writeln!(
                out,
                "  clé secrète (à garder au service) : {}",
                secret.display()
            )?;
            writeln!(
                out,
                "  clé publique (à transmettre à l'exploitant) : {}",
                public.display()
            )?;
        }
        BatchCommand::Sign { key, manifests } => {
            let keys = SigningKeys::from_file(&key).map_err(AttestationCommandError::from)?;
            for path in manifests {
                // the office signs what it exported: a sand-batch/2 manifest, whatever
                // kinds and issuers the operator's registries hold (checked at import)
                let bytes = manifest_bytes(&path)?;
                let signature = DetachedSignature {
                    key_id: keys.id().to_string(),
                    signature: keys.sign(&bytes),
                };
                let target = signature_path(&path);
                std::fs::write(&target, render_signature(&signature)).map_err(|e| {
                    AttestationCommandError::File {
                        path: target.display().to_string(),
                        error: e,
                    }
                })?;
                writeln!(out, "{} : signé par la clé {}", target.display(), keys.id())?;
            }
        }
    }
    Ok(())
}

/// A manifest's bytes, once they read as a `sand-batch/2` manifest's TOML.
fn manifest_bytes(path: &Path) -> Result<Vec<u8>, BatchCommandError> {
    let refused = |why: String| BatchCommandError::Refused(format!("{} : {why}", path.display()));
    let size = std::fs::metadata(path)
        .map_err(|e| refused(format!("fichier illisible ({e})")))?
        .len();
    if size > sand_import::manifest::MAX_MANIFEST_BYTES {
        return Err(refused(format!(
            "fichier de {size} octets : ce n'est pas un manifeste"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| refused(format!("fichier illisible ({e})")))?;
    let table: toml::Table = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| toml::from_str(text).ok())
        .ok_or_else(|| refused("ce n'est pas un manifeste TOML en UTF-8".to_owned()))?;
    match table.get("format").and_then(toml::Value::as_str) {
        Some(FORMAT) => Ok(bytes),
        Some(FORMAT_V1) => Err(refused(format!(
            "un manifeste « {FORMAT_V1} » ne se signe pas ; écrivez-le au format « {FORMAT} » (la clé `exam_office` devient `issuer`)"
        ))),
        _ => Err(refused(format!("la clé `format` doit valoir « {FORMAT} »"))),
    }
}

/// The operator's commands on registered keys.
#[derive(Debug, Clone, Copy)]
pub enum KeyAction<'a> {
    Add {
        issuer: &'a str,
        public_key: &'a Path,
    },
    List,
    Revoke {
        key_id: &'a str,
    },
}

/// Registers, lists or revokes issuers' batch keys.
///
/// # Errors
/// [`BatchCommandError`].
pub async fn keys(
    action: KeyAction<'_>,
    settings: &StoreSettings,
    registry: &IssuerRegistry,
    out: &mut impl Write,
) -> Result<(), BatchCommandError> {
    if settings.url.trim_start().starts_with("sqlite:") {
        sand_persistence::migrate_database(settings, &Default::default()).await?;
    }
    match action {
        KeyAction::Add { issuer, public_key } => {
            let Some(known) = registry.get(issuer) else {
                return Err(BatchCommandError::Refused(format!(
                    "émetteur « {issuer} » inconnu du registre (voir `sand issuers list`)"
                )));
            };
            let pem =
                std::fs::read_to_string(public_key).map_err(|e| AttestationCommandError::File {
                    path: public_key.display().to_string(),
                    error: e,
                })?;
            let key = PublicKey::from_pem(&pem).map_err(AttestationCommandError::from)?;
            if key.demo {
                return Err(BatchCommandError::Refused(
                    "la clé publique de démonstration ne peut être enregistrée pour aucun émetteur"
                        .to_owned(),
                ));
            }
            let stored = IssuerKey {
                key_id: key.id.to_string(),
                issuer: known.code.clone(),
                public_key: key.to_pem().map_err(AttestationCommandError::from)?,
                added_at: OffsetDateTime::now_utc(),
                revoked_at: None,
            };
            match issuer_keys::add(settings, &stored).await? {
                AddKey::Added => writeln!(
                    out,
                    "Clé {} enregistrée pour « {} » ({}).",
                    key.id, known.code, known.name
                )?,
                AddKey::AlreadyThere => writeln!(
                    out,
                    "Clé {} déjà enregistrée pour « {} » : rien n'a changé.",
                    key.id, known.code
                )?,
                AddKey::OtherIssuer(other) => {
                    return Err(BatchCommandError::Refused(format!(
                        "la clé {} est déjà enregistrée pour l'émetteur « {other} » : une clé ne sert qu'à un émetteur",
                        key.id
                    )));
                }
            }
        }
        KeyAction::List => {
            writeln!(out, "clé\témetteur\tenregistrée le\trévoquée le")?;
            for key in issuer_keys::list(settings).await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}",
                    key.key_id,
                    key.issuer,
                    iso(key.added_at),
                    key.revoked_at.map(iso).unwrap_or_default()
                )?;
            }
        }
        KeyAction::Revoke { key_id } => {
            let key_id = key_id.trim().to_ascii_lowercase();
            if issuer_keys::revoke(settings, &key_id, OffsetDateTime::now_utc()).await? {
                writeln!(
                    out,
                    "Clé {key_id} révoquée : les lots qu'elle signe sont refusés désormais."
                )?;
            } else {
                return Err(BatchCommandError::Refused(format!(
                    "aucune clé en service ne porte l'identifiant « {key_id} » (voir `sand issuers keys`)"
                )));
            }
        }
    }
    Ok(())
}

/// The demonstration's batches in `dir`, signed as exam offices sign theirs: one key per
/// issuer, kept under `dir/keys` (worthless keys of a fictional data set), each manifest's
/// `.sig` written beside it.
///
/// # Errors
/// [`BatchCommandError`].
pub fn sign_demo_batches(dir: &Path) -> Result<(), BatchCommandError> {
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&keys_dir)?;
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    for path in manifests {
        let manifest = sand_import::manifest::read_manifest(&path)
            .map_err(|e| BatchCommandError::Refused(e.to_string()))?;
        let secret = keys_dir.join(format!("demo-key-{}.pem", manifest.issuer));
        let keys = if secret.exists() {
            SigningKeys::from_file(&secret).map_err(AttestationCommandError::from)?
        } else {
            let keys = SigningKeys::generate().map_err(AttestationCommandError::from)?;
            let pem = keys.to_pem().map_err(AttestationCommandError::from)?;
            write_private(&secret, &pem)?;
            let public = keys.public_pem().map_err(AttestationCommandError::from)?;
            std::fs::write(
                keys_dir.join(format!("demo-public-key-{}.pem", manifest.issuer)),
                public,
            )?;
            keys
        };
        let signature = DetachedSignature {
            key_id: keys.id().to_string(),
            signature: keys.sign(&manifest.bytes),
        };
        std::fs::write(signature_path(&path), render_signature(&signature))?;
    }
    Ok(())
}

/// Registers the demonstration's public keys (`dir/keys/demo-public-key-<issuer>.pem`)
/// for their issuers; registering one again changes nothing.
///
/// # Errors
/// [`BatchCommandError`].
pub async fn register_demo_keys(
    dir: &Path,
    settings: &StoreSettings,
) -> Result<(), BatchCommandError> {
    let Ok(entries) = std::fs::read_dir(dir.join("keys")) else {
        return Ok(());
    };
    // the embedded database is created and migrated on first use
    sand_persistence::migrate_database(settings, &Default::default()).await?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(issuer) = name
            .strip_prefix("demo-public-key-")
            .and_then(|rest| rest.strip_suffix(".pem"))
        else {
            continue;
        };
        let pem = std::fs::read_to_string(entry.path())?;
        let key = PublicKey::from_pem(&pem).map_err(AttestationCommandError::from)?;
        let stored = IssuerKey {
            key_id: key.id.to_string(),
            issuer: issuer.to_owned(),
            public_key: key.to_pem().map_err(AttestationCommandError::from)?,
            added_at: OffsetDateTime::now_utc(),
            revoked_at: None,
        };
        if let AddKey::OtherIssuer(other) = issuer_keys::add(settings, &stored).await? {
            return Err(BatchCommandError::Refused(format!(
                "la clé de démonstration {} est enregistrée pour « {other} »",
                key.id
            )));
        }
    }
    Ok(())
}

/// What `sand import` trusts: the registry, the registered keys and the operator's two
/// switches.
#[derive(Debug)]
pub struct Trust {
    pub registry: IssuerRegistry,
    pub keys: Vec<IssuerKey>,
    /// Every batch must be signed.
    pub require_signatures: bool,
    /// `sand-batch/1` manifests are accepted (as their `exam_office`, unsigned even when
    /// signatures are required: they cannot carry one).
    pub accept_v1: bool,
}

impl Trust {
    /// Checks who sent the batch of `manifest` (read from `path`): the format, a known
    /// issuer, the signature by one of its live keys. Returns the signature to keep with
    /// the batch. What the issuer may export is the import use case's rule.
    ///
    /// # Errors
    /// Why the batch is refused, in French (nothing has been written).
    pub fn check(
        &self,
        path: &Path,
        manifest: &Manifest,
    ) -> Result<Option<BatchSignature>, String> {
        if manifest.version == Version::V1 && !self.accept_v1 {
            return Err(format!(
                "format « {FORMAT_V1} » refusé : l'exploitant n'accepte que « {FORMAT} » (--accept-v1 ou SAND_IMPORT_ACCEPT_V1 pour l'accepter)"
            ));
        }
        let Some(issuer) = self.registry.get(&manifest.issuer) else {
            return Err(format!(
                "émetteur « {} » inconnu du registre (voir `sand issuers list`)",
                manifest.issuer
            ));
        };
        // its scope, kinds and sessions are the import use case's to check
        let signature = read_signature(path).map_err(|e| e.to_string())?;
        let Some(signature) = signature else {
            // a sand-batch/1 manifest cannot be signed: accepting v1 is accepting that
            if self.require_signatures && manifest.version == Version::V2 {
                return Err(format!(
                    "lot non signé : sa signature est attendue dans {} (`sand batch sign`)",
                    signature_path(path).display()
                ));
            }
            return Ok(None);
        };
        let Some(key) = self.keys.iter().find(|k| k.key_id == signature.key_id) else {
            return Err(format!(
                "signé par la clé « {} », qu'aucun émetteur n'a enregistrée (`sand issuers add-key`)",
                signature.key_id
            ));
        };
        if key.issuer != issuer.code {
            return Err(format!(
                "la clé « {} » est celle de l'émetteur « {} », pas de « {} »",
                key.key_id, key.issuer, issuer.code
            ));
        }
        if let Some(at) = key.revoked_at {
            return Err(format!(
                "la clé « {} » a été révoquée le {}",
                key.key_id,
                iso(at)
            ));
        }
        let public = PublicKey::from_pem(&key.public_key)
            .map_err(|_| format!("la clé « {} » enregistrée est illisible", key.key_id))?;
        if !public.verifies(&manifest.bytes, &signature.signature) {
            return Err(
                "signature invalide : le manifeste a été modifié depuis sa signature, ou signé par une autre clé"
                    .to_owned(),
            );
        }
        Ok(Some(BatchSignature {
            key_id: signature.key_id.clone(),
            signature: signature.signature_hex(),
        }))
    }
}

/// An instant as ISO 8601 (RFC 3339, UTC).
fn iso(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
