//! `sand keys …` and `sand attestation …`: signing keys, a sample document, the offline
//! checker.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use sand_attestation::keys::PublicKey;
use sand_attestation::{
    Facts, Issuer, KeyError, PdfAttestationRenderer, RenderError, SigningKeys, Verdict,
    VerificationKeys, french_date, verify_pdf,
};

/// Exit status of `sand attestation verify` for a demonstration document.
pub const EXIT_DEMO: u8 = 3;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new attestation signing key (Ed25519).
    ///
    /// Writes `signing-key-<id>.pem` (PKCS#8, readable by its owner only) and
    /// `public-key-<id>.pem` (to publish) into the directory. The secret is never
    /// printed. To rotate: generate a new key, point SAND_SIGNING_KEY_FILE at it, and add
    /// the previous public key to SAND_VERIFICATION_KEY_FILES so that documents already
    /// issued keep verifying (docs/operations.md).
    Generate {
        /// Directory for the two files (created if missing).
        #[arg(long, default_value = "data/keys")]
        out: PathBuf,
    },
    /// Replace the signing key: generate a new one in the key directory, keep every
    /// earlier public key there so that attestations already issued keep verifying, and
    /// print the settings to use.
    ///
    /// Nothing running changes until the service is restarted with the printed
    /// SAND_SIGNING_KEY_FILE and SAND_VERIFICATION_KEY_FILES. Afterwards, destroy the
    /// previous secret key (or archive it offline): it must not sign again. The previous
    /// public keys must stay published for as long as the attestations they signed are
    /// in use.
    Rotate {
        /// The key directory (as written by `sand keys generate`).
        #[arg(long, default_value = "data/keys")]
        dir: PathBuf,
        /// The signing key in service now (its public key is added to the directory
        /// if missing).
        #[arg(long, env = "SAND_SIGNING_KEY_FILE")]
        current: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AttestationCommand {
    /// Write a sample attestation of an invented person (Camille Durand, baccalauréat
    /// général 2021), to look at. Without a signing key it is signed with the public
    /// demonstration key and marked SPÉCIMEN on the page.
    Sample {
        /// The PDF to write.
        #[arg(long, default_value = "attestation-exemple.pdf")]
        out: PathBuf,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        issuer: IssuerArgs,
    },
    /// Check an attestation PDF offline: is it signed by a known key, and is the file
    /// exactly as issued? Prints the signed facts.
    ///
    /// The signature proves that the facts were issued by the key's holder; only the
    /// online verification says whether the control key is still valid (its holder may
    /// revoke it, the exam office may withdraw a result).
    ///
    /// Exit status: 0 authentic and intact; 1 altered, forged, unknown key or not an
    /// attestation; 3 a demonstration document (worthless).
    Verify {
        /// The PDF to check.
        file: PathBuf,
        /// Public keys to trust (PEM), besides the signing key's; repeat or separate
        /// with commas. The demonstration key is always known, and reported as such.
        #[arg(
            long = "public-key",
            env = "SAND_VERIFICATION_KEY_FILES",
            value_delimiter = ','
        )]
        public_keys: Vec<PathBuf>,
        #[command(flatten)]
        signing: SigningArgs,
    },
}

#[derive(Debug, Args)]
pub struct SigningArgs {
    /// The attestation signing key: a PKCS#8 PEM file readable by its owner only. Without
    /// one (nor SAND_SIGNING_KEY), the public demonstration key signs and every document
    /// is marked SPÉCIMEN.
    #[arg(long, env = "SAND_SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// The signing key's PEM text itself (for platforms that pass secrets in the
    /// environment; refused on the command line). Never printed.
    #[arg(
        long,
        env = "SAND_SIGNING_KEY",
        hide_env_values = true,
        conflicts_with = "signing_key_file"
    )]
    signing_key: Option<crate::config::Secret>,
}

impl SigningArgs {
    /// The configured signing key, or the demonstration key.
    pub fn load(&self) -> Result<SigningKeys, KeyError> {
        match (&self.signing_key_file, &self.signing_key) {
            (Some(path), _) => SigningKeys::from_file(path),
            (None, Some(pem)) => SigningKeys::from_pem(pem.expose()),
            (None, None) => Ok(SigningKeys::demo()),
        }
    }
}

#[derive(Debug, Args)]
pub struct IssuerArgs {
    /// The operator's name, printed on every attestation as the issuing authority.
    #[arg(
        long,
        env = "SAND_OPERATOR_NAME",
        default_value = "SAND — démonstration"
    )]
    operator: String,
    /// The public verification page, printed and opened by the QR code.
    #[arg(
        long,
        env = "SAND_VERIFICATION_URL",
        default_value = "http://localhost:8080/verifier"
    )]
    verification_url: String,
}

impl IssuerArgs {
    pub fn issuer(&self) -> Issuer {
        Issuer {
            operator: self.operator.clone(),
            verification_url: self.verification_url.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AttestationCommandError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("{path} : {error}")]
    File { path: String, error: io::Error },
    #[error(
        "no key to rotate in {0}: name the key in service with --current (or SAND_SIGNING_KEY_FILE), or use `sand keys generate`"
    )]
    NothingToRotate(String),
    /// The document is not valid (the verdict was printed).
    #[error("attestation not valid")]
    Invalid(u8),
}

fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

pub fn keys(command: KeysCommand, out: &mut impl Write) -> Result<(), AttestationCommandError> {
    match command {
        KeysCommand::Generate { out: dir } => {
            let (keys, secret, public) = generate(&dir)?;
            writeln!(out, "Clé de signature {} créée.", keys.id())?;
            writeln!(
                out,
                "  secrète (à garder, lisible par son seul propriétaire) : {}",
                secret.display()
            )?;
            writeln!(out, "  publique (à publier) : {}", public.display())?;
            writeln!(
                out,
                "Utilisation : SAND_SIGNING_KEY_FILE={}",
                secret.display()
            )?;
        }
        KeysCommand::Rotate { dir, current } => rotate(&dir, current.as_deref(), out)?,
    }
    Ok(())
}

fn file_error(path: &Path) -> impl FnOnce(io::Error) -> AttestationCommandError + '_ {
    move |error| AttestationCommandError::File {
        path: path.display().to_string(),
        error,
    }
}

/// `sand keys rotate`: a new key beside the previous ones, whose public keys stay.
fn rotate(
    dir: &Path,
    current: Option<&Path>,
    out: &mut impl Write,
) -> Result<(), AttestationCommandError> {
    let mut previous: Vec<PathBuf> = Vec::new();
    if let Some(current) = current {
        let keys = SigningKeys::from_file(current)?;
        let public = dir.join(format!("public-key-{}.pem", keys.id()));
        if !public.exists() {
            std::fs::create_dir_all(dir).map_err(file_error(dir))?;
            std::fs::write(&public, keys.public_pem()?).map_err(file_error(&public))?;
        }
    }
    if dir.exists() {
        for entry in std::fs::read_dir(dir).map_err(file_error(dir))? {
            let path = entry.map_err(file_error(dir))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("public-key-") && name.ends_with(".pem") {
                let pem = std::fs::read_to_string(&path).map_err(file_error(&path))?;
                // a file that is not a public key is not kept silently
                let mut check = VerificationKeys::new();
                check.add_pem(&pem)?;
                previous.push(path);
            }
        }
    }
    if previous.is_empty() {
        return Err(AttestationCommandError::NothingToRotate(
            dir.display().to_string(),
        ));
    }
    previous.sort();
    let (keys, secret, public) = generate(dir)?;
    writeln!(out, "Nouvelle clé de signature {} créée.", keys.id())?;
    writeln!(out, "  secrète : {}", secret.display())?;
    writeln!(out, "  publique : {}", public.display())?;
    let previous: Vec<String> = previous.iter().map(|p| p.display().to_string()).collect();
    writeln!(
        out,
        "Clés publiques précédentes, gardées pour vérifier les attestations déjà délivrées :"
    )?;
    for path in &previous {
        writeln!(out, "  {path}")?;
    }
    writeln!(out, "Nouveaux réglages (puis redémarrez le service) :")?;
    writeln!(out, "  SAND_SIGNING_KEY_FILE={}", secret.display())?;
    writeln!(out, "  SAND_VERIFICATION_KEY_FILES={}", previous.join(","))?;
    writeln!(
        out,
        "Après le redémarrage, détruisez l'ancienne clé secrète (ou archivez-la hors ligne)."
    )?;
    Ok(())
}

/// A new key pair written into `dir`: (keys, secret file, public file).
fn generate(dir: &Path) -> Result<(SigningKeys, PathBuf, PathBuf), AttestationCommandError> {
    std::fs::create_dir_all(dir).map_err(|source| AttestationCommandError::File {
        path: dir.display().to_string(),
        error: source,
    })?;
    let keys = SigningKeys::generate()?;
    let secret = dir.join(format!("signing-key-{}.pem", keys.id()));
    let public = dir.join(format!("public-key-{}.pem", keys.id()));
    write_private(&secret, &keys.to_pem()?).map_err(|source| AttestationCommandError::File {
        path: secret.display().to_string(),
        error: source,
    })?;
    std::fs::write(&public, keys.public_pem()?).map_err(|source| {
        AttestationCommandError::File {
            path: public.display().to_string(),
            error: source,
        }
    })?;
    Ok((keys, secret, public))
}

fn print_facts(out: &mut impl Write, facts: &Facts) -> io::Result<()> {
    let mut holder = String::new();
    if !facts.civility.is_empty() {
        holder.push_str(&facts.civility);
        holder.push(' ');
    }
    holder.push_str(&facts.first_names);
    holder.push(' ');
    holder.push_str(&facts.birth_name);
    writeln!(out, "  Titulaire : {holder}")?;
    if !facts.usage_name.is_empty() {
        writeln!(out, "  Nom d'usage : {}", facts.usage_name)?;
    }
    let place = if facts.birth_place.is_empty() {
        String::new()
    } else {
        format!(" à {}", facts.birth_place)
    };
    writeln!(
        out,
        "  Naissance : {}{place}",
        french_date(facts.birth_date)
    )?;
    writeln!(out, "  Diplôme : {}", facts.kind_title())?;
    if !facts.speciality.is_empty() {
        writeln!(out, "  Spécialité ou série : {}", facts.speciality)?;
    }
    if let Some(mention) = facts.mention_label() {
        writeln!(out, "  Mention : {mention}")?;
    }
    writeln!(out, "  Session : {}", facts.session)?;
    writeln!(out, "  Académie : {}", facts.academie_name())?;
    writeln!(
        out,
        "  Délibération du jury : {}",
        french_date(facts.deliberation)
    )?;
    writeln!(out, "  Clé de contrôle : {}", facts.control_key)?;
    writeln!(
        out,
        "  Attestation produite le {}",
        french_date(facts.issued_on)
    )?;
    Ok(())
}

pub fn attestation(
    command: AttestationCommand,
    out: &mut impl Write,
) -> Result<(), AttestationCommandError> {
    match command {
        AttestationCommand::Sample {
            out: path,
            signing,
            issuer,
        } => {
            let keys = Arc::new(signing.load()?);
            let demo = keys.is_demo();
            let renderer = PdfAttestationRenderer::new(issuer.issuer(), keys)?;
            let attestation =
                sand_attestation::sample::sample_attestation(time::OffsetDateTime::now_utc())
                    .map_err(|e| RenderError::Pdf(e.to_string()))?;
            let bytes = renderer.render_pdf(&attestation)?;
            std::fs::write(&path, &bytes).map_err(|source| AttestationCommandError::File {
                path: path.display().to_string(),
                error: source,
            })?;
            writeln!(
                out,
                "Attestation d'exemple écrite dans {} ({} Ko){}.",
                path.display(),
                bytes.len().div_ceil(1024),
                if demo {
                    ", document de démonstration marqué SPÉCIMEN"
                } else {
                    ""
                }
            )?;
            Ok(())
        }
        AttestationCommand::Verify {
            file,
            public_keys,
            signing,
        } => {
            let mut trusted = VerificationKeys::new();
            if signing.signing_key_file.is_some() || signing.signing_key.is_some() {
                trusted.add_signing(&signing.load()?);
            }
            for path in &public_keys {
                let pem = std::fs::read_to_string(path).map_err(|source| {
                    AttestationCommandError::File {
                        path: path.display().to_string(),
                        error: source,
                    }
                })?;
                trusted.add(PublicKey::from_pem(&pem)?);
            }
            let meta =
                std::fs::metadata(&file).map_err(|source| AttestationCommandError::File {
                    path: file.display().to_string(),
                    error: source,
                })?;
            let verdict = if meta.len() > sand_attestation::verify::MAX_PDF_BYTES as u64 {
                Verdict::NotAnAttestation("fichier trop grand pour être une attestation".into())
            } else {
                let bytes =
                    std::fs::read(&file).map_err(|source| AttestationCommandError::File {
                        path: file.display().to_string(),
                        error: source,
                    })?;
                verify_pdf(&bytes, &trusted)
            };
            report(&verdict, out)
        }
    }
}

fn report(verdict: &Verdict, out: &mut impl Write) -> Result<(), AttestationCommandError> {
    match verdict {
        Verdict::Intact {
            facts,
            key,
            demo: false,
        } => {
            writeln!(
                out,
                "AUTHENTIQUE : document intact, signé par la clé {key}."
            )?;
            print_facts(out, facts)?;
            writeln!(
                out,
                "La signature prouve que ces faits ont été émis par le détenteur de cette clé. \
                 Seule la vérification en ligne dit si la clé de contrôle est toujours valide."
            )?;
            Ok(())
        }
        Verdict::Intact {
            facts, demo: true, ..
        } => {
            writeln!(
                out,
                "DÉMONSTRATION : document intact, mais signé avec la clé publique de démonstration : il ne certifie rien."
            )?;
            print_facts(out, facts)?;
            Err(AttestationCommandError::Invalid(EXIT_DEMO))
        }
        Verdict::Altered { facts, demo } => {
            writeln!(
                out,
                "MODIFIÉ : le fichier a été modifié après son émission ; son contenu visible n'est pas garanti."
            )?;
            writeln!(
                out,
                "Faits signés d'origine{} :",
                if *demo {
                    " (clé de démonstration)"
                } else {
                    ""
                }
            )?;
            print_facts(out, facts)?;
            Err(AttestationCommandError::Invalid(1))
        }
        Verdict::UnknownKey(key) => {
            writeln!(
                out,
                "CLÉ INCONNUE : signé par la clé {key}, qui n'est pas parmi les clés de confiance (--public-key)."
            )?;
            Err(AttestationCommandError::Invalid(1))
        }
        Verdict::Forged => {
            writeln!(
                out,
                "FALSIFIÉ : la signature ne correspond pas aux faits inscrits dans le document."
            )?;
            Err(AttestationCommandError::Invalid(1))
        }
        Verdict::NotAnAttestation(why) => {
            writeln!(out, "NON RECONNU : {why}.")?;
            Err(AttestationCommandError::Invalid(1))
        }
    }
}
