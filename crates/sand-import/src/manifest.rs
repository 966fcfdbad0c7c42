//! The batch manifest: a small TOML file that declares what its data file holds.
//! See docs/import-format.md.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use sand_domain::academie::Academie;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, FIRST_SESSION, Session, SessionError};
use sand_domain::issuer::IssuerCode;
use sand_domain::record::import::BatchHeader;
use sand_domain::record::{BatchFingerprint, SourceSystem};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The first format: the manifest names its exam office (`exam_office`); never signed.
pub const FORMAT_V1: &str = "sand-batch/1";
/// The current format: the manifest names its issuer (`issuer`, a code of the issuer
/// registry) and is signed by a detached signature beside it (`<manifest>.sig`).
pub const FORMAT: &str = "sand-batch/2";
/// The detached signature's format.
pub const SIGNATURE_FORMAT: &str = "sand-batch-signature/1";
/// Largest signature file accepted, in bytes.
pub const MAX_SIGNATURE_BYTES: u64 = 4 * 1024;

/// Which version of the format a manifest is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// Text encoding of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    /// Windows-1252, as older French administrative exports use.
    Windows1252,
}

impl FromStr for Encoding {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UTF-8" | "UTF8" => Ok(Self::Utf8),
            "WINDOWS-1252" | "CP1252" | "WINDOWS1252" => Ok(Self::Windows1252),
            _ => Err(()),
        }
    }
}

impl Encoding {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Windows1252 => "WINDOWS-1252",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    format: String,
    #[serde(default)]
    exam_office: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    academie: String,
    diploma_kind: String,
    session: u16,
    source_system: String,
    exported_at: String,
    results_final: bool,
    record_count: u64,
    data_file: String,
    data_sha256: String,
    #[serde(default)]
    encoding: Option<String>,
}

/// A manifest that parsed and made sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub version: Version,
    /// The issuer's code as the manifest gives it (`issuer`, or v1's `exam_office`).
    pub issuer: String,
    pub exam_office: IssuerCode,
    pub scope: DiplomaScope,
    pub source_system: SourceSystem,
    pub exported_at: OffsetDateTime,
    /// The exam office declares that the results of every group of tests are known.
    pub results_final: bool,
    pub record_count: u64,
    /// The data file, resolved next to the manifest.
    pub data_path: PathBuf,
    pub data_sha256: BatchFingerprint,
    pub encoding: Encoding,
    /// The manifest's bytes exactly as read: what its signature signs.
    pub bytes: Vec<u8>,
}

impl Manifest {
    /// The domain's header of this batch (the fingerprint as declared; the caller checks
    /// it against the file).
    #[must_use]
    pub fn header(&self) -> BatchHeader {
        BatchHeader {
            exam_office: self.exam_office,
            scope: self.scope,
            source_system: self.source_system,
            exported_at: self.exported_at,
            complete: self.results_final,
            declared_record_count: self.record_count,
            fingerprint: self.data_sha256,
            signature: None,
        }
    }
}

/// Why a manifest was refused: every problem found, in French, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "manifeste {} refusé :", self.path.display())?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

fn fail(path: &Path, problem: impl Into<String>) -> ManifestError {
    ManifestError {
        path: path.to_owned(),
        problems: vec![problem.into()],
    }
}

/// Reads and checks a manifest.
///
/// # Errors
/// [`ManifestError`] listing every problem: unreadable or oversized file, TOML syntax,
/// unknown or missing keys, values that are not codes SAND knows, a data file outside
/// the manifest's directory.
pub fn read_manifest(path: &Path) -> Result<Manifest, ManifestError> {
    let size = std::fs::metadata(path)
        .map_err(|e| fail(path, format!("fichier illisible : {e}")))?
        .len();
    if size > MAX_MANIFEST_BYTES {
        return Err(fail(
            path,
            format!(
                "fichier de {size} octets : un manifeste fait au plus {MAX_MANIFEST_BYTES} octets"
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(path, format!("fichier illisible : {e}")))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| fail(path, "le manifeste n'est pas en UTF-8"))?;
    let raw: RawManifest =
        toml::from_str(text).map_err(|e| fail(path, format!("syntaxe TOML : {}", e.message())))?;
    parse(path, raw, bytes.clone())
}

fn parse(path: &Path, raw: RawManifest, bytes: Vec<u8>) -> Result<Manifest, ManifestError> {
    let mut problems = Vec::new();
    let version = match raw.format.as_str() {
        FORMAT => Some(Version::V2),
        FORMAT_V1 => Some(Version::V1),
        other => {
            problems.push(format!(
                "format « {other} » inconnu (attendu : « {FORMAT} », ou « {FORMAT_V1} » où l'exploitant l'accepte)"
            ));
            None
        }
    };
    let issuer = match (version, raw.issuer, raw.exam_office) {
        (Some(Version::V2), Some(issuer), None) | (Some(Version::V1), None, Some(issuer)) => {
            Some(issuer.trim().to_owned())
        }
        (Some(Version::V2), _, Some(_)) => {
            problems.push(format!(
                "exam_office : remplacé par `issuer` dans le format « {FORMAT} »"
            ));
            None
        }
        (Some(Version::V2), None, None) => {
            problems.push(
                "issuer : clé obligatoire absente (le code de l'émetteur, voir `sand issuers`)"
                    .to_owned(),
            );
            None
        }
        (Some(Version::V1), Some(_), _) => {
            problems.push(format!(
                "issuer : inconnu du format « {FORMAT_V1} », qui nomme `exam_office`"
            ));
            None
        }
        (Some(Version::V1), None, None) => {
            problems.push("exam_office : clé obligatoire absente".to_owned());
            None
        }
        // the format is unknown: still check the code given, for a complete report
        (None, issuer, exam_office) => issuer.or(exam_office).map(|c| c.trim().to_owned()),
    };
    // whether the registry knows it, and what it may export, is checked at import
    let exam_office = issuer
        .as_deref()
        .and_then(|code| {
            IssuerCode::parse(code)
                .map_err(|_| {
                    problems.push(format!(
                        "émetteur « {code} » : code invalide (1 à 16 lettres capitales, chiffres ou tirets ; voir `sand issuers list`)"
                    ))
                })
                .ok()
        });
    let academie = Academie::from_code(&raw.academie)
        .map_err(|_| {
            problems.push(format!(
                "academie « {} » : code inconnu (voir `sand academies`)",
                raw.academie
            ))
        })
        .ok();
    let kind = DiplomaKind::from_str(&raw.diploma_kind)
        .map_err(|_| {
            problems.push(format!(
                "diploma_kind « {} » : code inconnu (voir `sand diploma-kinds`)",
                raw.diploma_kind
            ))
        })
        .ok();
    let session = Session::new(raw.session)
        .map_err(|e| {
            problems.push(match e {
                SessionError::TooEarly => format!(
                    "session {} : antérieure à {FIRST_SESSION}, non couverte par le service",
                    raw.session
                ),
                SessionError::TooLate | SessionError::NotAYear => {
                    format!("session {} : trop lointaine", raw.session)
                }
            });
        })
        .ok();
    let source_system = SourceSystem::from_str(&raw.source_system)
        .map_err(|_| {
            problems.push(format!(
                "source_system « {} » : OCEAN ou CYCLADES attendu",
                raw.source_system
            ))
        })
        .ok();
    let exported_at = OffsetDateTime::parse(&raw.exported_at, &Rfc3339)
        .map_err(|_| {
            problems.push(format!(
                "exported_at « {} » : date RFC 3339 attendue (2024-07-20T08:00:00Z)",
                raw.exported_at
            ))
        })
        .ok();
    let data_sha256 = BatchFingerprint::from_hex(&raw.data_sha256)
        .map_err(|_| problems.push("data_sha256 : 64 chiffres hexadécimaux attendus".to_owned()))
        .ok();
    let encoding = match raw.encoding.as_deref() {
        None => Some(Encoding::Utf8),
        Some(e) => Encoding::from_str(e)
            .map_err(|()| {
                problems.push(format!("encoding « {e} » : UTF-8 ou WINDOWS-1252 attendu"))
            })
            .ok(),
    };
    let data_file = Path::new(&raw.data_file);
    // one plain name: no directory (`sub/file.csv`), no `..`, no root, no backslash
    let mut components = data_file.components();
    let plain_name = !raw.data_file.is_empty()
        && !raw.data_file.contains(['/', '\\'])
        && matches!(components.next(), Some(Component::Normal(_)))
        && components.next().is_none();
    if !plain_name {
        problems.push(format!(
            "data_file « {} » : un nom de fichier du même dossier que le manifeste est attendu",
            raw.data_file
        ));
    }
    let data_path = path.parent().unwrap_or(Path::new(".")).join(data_file);
    match (
        exam_office,
        academie,
        kind,
        session,
        source_system,
        exported_at,
        data_sha256,
        encoding,
    ) {
        (
            Some(exam_office),
            Some(academie),
            Some(kind),
            Some(session),
            Some(source_system),
            Some(exported_at),
            Some(data_sha256),
            Some(encoding),
        ) if problems.is_empty() => Ok(Manifest {
            version: version.unwrap_or(Version::V2),
            issuer: issuer.unwrap_or_default(),
            exam_office,
            scope: DiplomaScope {
                kind,
                session,
                academie,
            },
            source_system,
            exported_at,
            results_final: raw.results_final,
            record_count: raw.record_count,
            data_path,
            data_sha256,
            encoding,
            bytes,
        }),
        _ => Err(ManifestError {
            path: path.to_owned(),
            problems,
        }),
    }
}

/// Writes a manifest (used by the synthetic generator and tests).
#[must_use]
pub fn render_manifest(manifest: &Manifest) -> String {
    let file_name = manifest
        .data_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let exported_at = manifest.exported_at.format(&Rfc3339).unwrap_or_default();
    format!(
        "# SAND batch manifest (docs/import-format.md)\n\
         format = \"{FORMAT}\"\n\
         issuer = \"{}\"\n\
         academie = \"{}\"\n\
         diploma_kind = \"{}\"\n\
         session = {}\n\
         source_system = \"{}\"\n\
         exported_at = \"{exported_at}\"\n\
         results_final = {}\n\
         record_count = {}\n\
         data_file = \"{file_name}\"\n\
         data_sha256 = \"{}\"\n\
         encoding = \"{}\"\n",
        manifest.exam_office.code(),
        manifest.scope.academie.code(),
        manifest.scope.kind.code(),
        manifest.scope.session,
        manifest.source_system.code(),
        manifest.results_final,
        manifest.record_count,
        manifest.data_sha256.to_hex(),
        manifest.encoding.name(),
    )
}

/// A manifest's detached signature, as read from `<manifest>.sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachedSignature {
    /// The signing key's id: 16 lowercase hexadecimal digits.
    pub key_id: String,
    pub signature: [u8; 64],
}

impl DetachedSignature {
    /// The signature in lowercase hexadecimal.
    #[must_use]
    pub fn signature_hex(&self) -> String {
        self.signature.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    format: String,
    key_id: String,
    signature: String,
}

/// Where a manifest's detached signature is: beside it, its name with `.sig` added.
#[must_use]
pub fn signature_path(manifest: &Path) -> PathBuf {
    let mut name = manifest.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Reads the detached signature of the manifest at `manifest`, if there is one.
///
/// # Errors
/// [`ManifestError`] naming the signature file: unreadable, oversized, not TOML, an
/// unknown format, a key id or signature that is not hexadecimal of the right length.
pub fn read_signature(manifest: &Path) -> Result<Option<DetachedSignature>, ManifestError> {
    let path = signature_path(manifest);
    let size = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(&path, format!("fichier illisible : {e}"))),
    };
    if size > MAX_SIGNATURE_BYTES {
        return Err(fail(
            &path,
            format!(
                "fichier de {size} octets : une signature fait au plus {MAX_SIGNATURE_BYTES} octets"
            ),
        ));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(&path, format!("fichier illisible ou pas en UTF-8 : {e}")))?;
    let raw: RawSignature = toml::from_str(&text)
        .map_err(|e| fail(&path, format!("syntaxe TOML : {}", e.message())))?;
    let mut problems = Vec::new();
    if raw.format != SIGNATURE_FORMAT {
        problems.push(format!(
            "format « {} » inconnu (attendu : « {SIGNATURE_FORMAT} »)",
            raw.format
        ));
    }
    let key_id = raw.key_id.trim().to_ascii_lowercase();
    if key_id.len() != 16 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        problems.push("key_id : 16 chiffres hexadécimaux attendus".to_owned());
    }
    let signature = from_hex::<64>(raw.signature.trim());
    if signature.is_none() {
        problems.push("signature : 128 chiffres hexadécimaux attendus".to_owned());
    }
    match signature {
        Some(signature) if problems.is_empty() => Ok(Some(DetachedSignature { key_id, signature })),
        _ => Err(ManifestError { path, problems }),
    }
}

/// Writes a detached signature file's text.
#[must_use]
pub fn render_signature(signature: &DetachedSignature) -> String {
    format!(
        "# Detached signature of the manifest beside it (docs/import-format.md)\n\
         format = \"{SIGNATURE_FORMAT}\"\n\
         key_id = \"{}\"\n\
         signature = \"{}\"\n",
        signature.key_id,
        signature.signature_hex()
    )
}

fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
