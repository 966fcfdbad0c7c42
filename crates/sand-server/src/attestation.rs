//! `sand keys …` and `sand attestation …`: signing keys, a sample document, the offline
//! checker.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use sand_attestation::keys::PublicKey;
use sand_attestation::receipt::{ReceiptVerdict, verify_receipt};
use sand_attestation::{
    Facts, Issuer, KeyError, PdfAttestationRenderer, RenderError, SigningKeys, Verdict,
    VerificationKeys, french_date, verify_pdf,
};

/// Exit status of `sand attestation verify` for a demonstration document.
pub const EXIT_DEMO: u8 = 3;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    #[command(
        about = "Génère une nouvelle clé de signature des attestations (Ed25519)",
        long_about = "Génère une nouvelle clé de signature des attestations (Ed25519).\n\n\
                      Écrit dans le dossier `signing-key-<id>.pem` (PKCS#8, lisible par son seul \
                      propriétaire) et `public-key-<id>.pem` (à publier). La clé secrète n'est \
                      jamais affichée. Pour changer de clé : générez-en une nouvelle, faites \
                      pointer SAND_SIGNING_KEY_FILE vers elle et ajoutez la clé publique \
                      précédente à SAND_VERIFICATION_KEY_FILES, pour que les documents déjà \
                      délivrés restent vérifiables (docs/operations.md)."
    )]
    Generate {
        #[arg(
            long,
            default_value = "data/keys",
            help = "Dossier des deux fichiers (créé s'il n'existe pas)"
        )]
        out: PathBuf,
    },
    #[command(
        about = "Remplace la clé de signature : en génère une nouvelle dans le dossier des clés, \
                 y conserve toutes les clés publiques précédentes pour que les attestations \
                 déjà délivrées restent vérifiables, et affiche les réglages à utiliser",
        long_about = "Remplace la clé de signature : en génère une nouvelle dans le dossier des \
                      clés, y conserve toutes les clés publiques précédentes pour que les \
                      attestations déjà délivrées restent vérifiables, et affiche les réglages à \
                      utiliser.\n\n\
                      Rien ne change pour le service en cours d'exécution tant qu'il n'est pas \
                      redémarré avec les valeurs affichées de SAND_SIGNING_KEY_FILE et \
                      SAND_VERIFICATION_KEY_FILES. Ensuite, détruisez l'ancienne clé secrète (ou \
                      archivez-la hors ligne) : elle ne doit plus rien signer. Les clés publiques \
                      précédentes doivent rester publiées tant que les attestations qu'elles ont \
                      signées sont en usage."
    )]
    Rotate {
        #[arg(
            long,
            default_value = "data/keys",
            help = "Le dossier des clés (tel que l'écrit `sand keys generate`)"
        )]
        dir: PathBuf,
        #[arg(
            long,
            env = "SAND_SIGNING_KEY_FILE",
            help = "La clé de signature actuellement en service (sa clé publique est ajoutée au \
                    dossier si elle n'y est pas)"
        )]
        current: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AttestationCommand {
    #[command(
        about = "Écrit une attestation d'exemple au nom d'une personne fictive (Camille Durand, \
                 baccalauréat général 2021), à consulter. Sans clé de signature, elle est signée \
                 avec la clé publique de démonstration et porte la mention SPÉCIMEN"
    )]
    Sample {
        #[arg(
            long,
            default_value = "attestation-exemple.pdf",
            help = "Le PDF à écrire"
        )]
        out: PathBuf,
        #[command(flatten)]
        signing: SigningArgs,
        #[command(flatten)]
        issuer: IssuerArgs,
    },
    #[command(
        about = "Contrôle hors ligne un PDF d'attestation ou un reçu de vérification (PDF ou \
                 JSON) : est-il signé par une clé connue, et le fichier est-il exactement tel \
                 qu'il a été délivré ? Affiche les faits signés",
        long_about = "Contrôle hors ligne un PDF d'attestation ou un reçu de vérification (PDF \
                      ou JSON) : est-il signé par une clé connue, et le fichier est-il exactement \
                      tel qu'il a été délivré ? Affiche les faits signés.\n\n\
                      La signature prouve que les faits ont été émis par le détenteur de la clé ; \
                      seule la vérification en ligne dit si la clé de contrôle est toujours \
                      valide (son titulaire peut la révoquer, le service des examens peut retirer \
                      un résultat).\n\n\
                      Code de retour : 0 authentique et intact ; 1 modifié, falsifié, clé \
                      inconnue ou pas une attestation ; 3 document de démonstration (sans \
                      valeur)."
    )]
    Verify {
        #[arg(
            help = "Le fichier à contrôler : attestation (PDF), reçu de vérification (PDF ou JSON)"
        )]
        file: PathBuf,
        #[arg(
            long = "public-key",
            env = "SAND_VERIFICATION_KEY_FILES",
            value_delimiter = ',',
            help = "Clés publiques de confiance (PEM), en plus de celle de la clé de signature ; \
                    répétez l'option ou séparez-les par des virgules. La clé de démonstration est \
                    toujours connue, et signalée comme telle"
        )]
        public_keys: Vec<PathBuf>,
        #[command(flatten)]
        signing: SigningArgs,
    },
}

#[derive(Debug, Args)]
pub struct SigningArgs {
    #[arg(
        long,
        env = "SAND_SIGNING_KEY_FILE",
        help = "La clé de signature des attestations : un fichier PEM PKCS#8 lisible par son \
                seul propriétaire. Sans elle (ni SAND_SIGNING_KEY), la clé publique de \
                démonstration signe et chaque document porte la mention SPÉCIMEN"
    )]
    signing_key_file: Option<PathBuf>,
    #[arg(
        long,
        env = "SAND_SIGNING_KEY",
        hide_env_values = true,
        conflicts_with = "signing_key_file",
        help = "Le texte PEM de la clé de signature lui-même (pour les plateformes qui \
                transmettent les secrets par l'environnement ; refusé en ligne de commande). \
                Jamais affiché"
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
    #[arg(
        long,
        env = "SAND_OPERATOR_NAME",
        default_value = "SAND — démonstration",
        help = "Le nom de l'opérateur, inscrit sur chaque attestation comme autorité émettrice"
    )]
    operator: String,
    #[arg(
        long,
        env = "SAND_VERIFICATION_URL",
        default_value = "http://localhost:8080/verifier",
        help = "La page publique de vérification, inscrite sur l'attestation et ouverte par le \
                QR code"
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
    #[error("{}", key_message(.0))]
    Key(#[from] KeyError),
    #[error("{}", render_message(.0))]
    Render(#[from] RenderError),
    #[error("{path} : {error}")]
    File { path: String, error: io::Error },
    #[error(
        "aucune clé à remplacer dans {0} : désignez la clé en service avec --current (ou SAND_SIGNING_KEY_FILE), ou utilisez `sand keys generate`"
    )]
    NothingToRotate(String),
    /// The document is not valid (the verdict was printed).
    #[error("attestation non valide")]
    Invalid(u8),
}

/// A key error in French for the operator (its `Display` is English, for logs).
pub fn key_message(e: &KeyError) -> String {
    match e {
        KeyError::BadPrivateKey(why) => {
            format!("ce n'est pas une clé privée Ed25519 au format PEM PKCS#8 ({why})")
        }
        KeyError::BadPublicKey(why) => {
            format!("ce n'est pas une clé publique Ed25519 au format PEM ({why})")
        }
        KeyError::Read { path, source } => format!("impossible de lire {path} : {source}"),
        KeyError::TooOpen { path, mode } => format!(
            "{path} est lisible par d'autres utilisateurs (mode {mode:o}) : lancez `chmod 600 \
             {path}` — une clé de signature doit rester privée"
        ),
        KeyError::Random(why) => format!("aucune source d'aléa disponible : {why}"),
        KeyError::Encode(why) => format!("impossible d'encoder la clé : {why}"),
    }
}

/// A rendering error in French for the operator (its `Display` is English, for logs).
pub fn render_message(e: &RenderError) -> String {
    match e {
        RenderError::Payload(payload) => {
            format!("contenu de l'attestation impossible à encoder ({payload})")
        }
        RenderError::Font => "la police embarquée est illisible".to_owned(),
        RenderError::Qr(why) => {
            format!("le QR code ne peut pas contenir l'adresse de vérification : {why}")
        }
        RenderError::Pdf(why) => format!("le PDF ne peut pas être écrit : {why}"),
    }
}

pub(crate) fn write_private(path: &Path, text: &str) -> io::Result<()> {
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
                // a receipt (JSON, or a PDF that carries one) is told apart from an attestation
                let receipt = verify_receipt(&bytes, &trusted);
                if !bytes.starts_with(b"%PDF-")
                    || !matches!(receipt, ReceiptVerdict::NotAReceipt(_))
                {
                    return report_receipt(&receipt, out);
                }
                verify_pdf(&bytes, &trusted)
            };
            report(&verdict, out)
        }
    }
}

fn print_receipt(out: &mut impl Write, claims: &serde_json::Value) -> io::Result<()> {
    let text = |pointer: &str| match claims.pointer(pointer) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => "—".to_owned(),
    };
    for (label, pointer) in [
        ("Vérifié le (UTC)", "/verifie_le"),
        ("Organisme", "/organisme"),
        ("Clé de contrôle", "/saisie/cle"),
        ("Nom saisi", "/saisie/nom"),
        ("Date de naissance saisie", "/saisie/date_naissance"),
        ("Réponse", "/reponse"),
        ("Titulaire", "/diplome/titulaire/nom_naissance"),
        ("Prénoms", "/diplome/titulaire/prenoms"),
        ("Né(e) le", "/diplome/titulaire/date_naissance"),
        ("Diplôme", "/diplome/intitule"),
        ("Session", "/diplome/session"),
        ("Académie", "/diplome/academie_nom"),
        ("Service", "/iss"),
    ] {
        writeln!(out, "  {label} : {}", text(pointer))?;
    }
    Ok(())
}

fn report_receipt(
    verdict: &ReceiptVerdict,
    out: &mut impl Write,
) -> Result<(), AttestationCommandError> {
    match verdict {
        ReceiptVerdict::Intact {
            claims,
            key,
            demo: false,
        } => {
            writeln!(
                out,
                "REÇU AUTHENTIQUE : reçu de vérification intact, signé par la clé {key}."
            )?;
            print_receipt(out, claims)?;
            writeln!(
                out,
                "Il prouve la vérification faite à cette date, pas que l'attestation est encore valide aujourd'hui."
            )?;
            Ok(())
        }
        ReceiptVerdict::Intact {
            claims, demo: true, ..
        } => {
            writeln!(
                out,
                "DÉMONSTRATION : reçu intact, mais signé avec la clé publique de démonstration : il ne prouve rien."
            )?;
            print_receipt(out, claims)?;
            Err(AttestationCommandError::Invalid(EXIT_DEMO))
        }
        ReceiptVerdict::Altered { claims } => {
            writeln!(
                out,
                "MODIFIÉ : le fichier du reçu a été modifié après son émission ; seul le reçu signé qu'il contient est garanti :"
            )?;
            print_receipt(out, claims)?;
            Err(AttestationCommandError::Invalid(1))
        }
        ReceiptVerdict::UnknownKey(key) => {
            writeln!(
                out,
                "CLÉ INCONNUE : reçu signé par la clé {key}, qui n'est pas parmi les clés de confiance (--public-key)."
            )?;
            Err(AttestationCommandError::Invalid(1))
        }
        ReceiptVerdict::Forged => {
            writeln!(
                out,
                "FALSIFIÉ : la signature du reçu ne correspond pas à son contenu."
            )?;
            Err(AttestationCommandError::Invalid(1))
        }
        ReceiptVerdict::NotAReceipt(why) => {
            writeln!(
                out,
                "NON RECONNU : ni une attestation ni un reçu SAND ({why})."
            )?;
            Err(AttestationCommandError::Invalid(1))
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
