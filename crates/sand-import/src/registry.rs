//! The issuer registry as files: the one shipped with the service (`registry/issuers.toml`,
//! every web address with its source) and the operator's own, which adds issuers,
//! replaces shipped ones by code, and gives offices their contacts.
//!
//! Both are `sand-issuers/1` TOML (docs/operations.md, "Issuers"). A file that does not
//! make sense is refused as a whole, each problem in French with its line.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use sand_domain::academie::Academie;
use sand_domain::credentials::Email;
use std::str::FromStr;

use sand_domain::diploma::{DiplomaKind, KindDefinition, KindRegistry, KindRegistryError};
use sand_domain::issuer::{
    Contact, Issuer, IssuerKind, IssuerRegistry, RegistryError, Website, is_https_url,
};
use serde::Deserialize;
use toml::Spanned;

/// The registry shipped with the service.
pub const SHIPPED: &str = include_str!("../registry/issuers.toml");
/// The only format version this reader knows.
pub const FORMAT: &str = "sand-issuers/1";
const ISSUERS: &str = "des émetteurs";
const KINDS: &str = "des types de diplômes";
/// A registry file larger than this is refused unread.
pub const MAX_REGISTRY_BYTES: u64 = 1024 * 1024;
const MAX_TEXT_CHARS: usize = 300;

/// Why a registry file was refused: every problem found, in French, each with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFileError {
    /// Which registry: `des émetteurs`, `des types de diplômes`.
    pub registry: &'static str,
    /// The file, or `<registre livré>` for the shipped one.
    pub origin: String,
    pub problems: Vec<String>,
}

impl fmt::Display for RegistryFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registre {} {} refusé :", self.registry, self.origin)?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RegistryFileError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    format: Spanned<String>,
    #[serde(default)]
    national: Option<Spanned<RawWebsite>>,
    #[serde(default)]
    issuer: Vec<Spanned<RawIssuer>>,
    #[serde(default)]
    contact: BTreeMap<String, Spanned<RawContact>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebsite {
    url: String,
    #[serde(default)]
    source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    code: Spanned<String>,
    kind: Spanned<String>,
    name: String,
    #[serde(default)]
    exports: Vec<Spanned<String>>,
    #[serde(default)]
    serves: Vec<Spanned<String>>,
    #[serde(default)]
    website: Option<String>,
    #[serde(default)]
    source: Option<String>,
    /// Diploma kind code → the first session the service covers for this issuer, when
    /// later than the kind's own.
    #[serde(default)]
    covers_from: BTreeMap<String, Spanned<u16>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContact {
    #[serde(default)]
    service: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    email: Option<Spanned<String>>,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    web: String,
}

/// One file, read: its issuers, contacts and national page, with where each came from.
struct Layer {
    origin: String,
    text: String,
    national: Option<Website>,
    issuers: Vec<(Issuer, Range<usize>)>,
    contacts: Vec<(String, Contact, Range<usize>)>,
}

impl Layer {
    fn line(&self, span: &Range<usize>) -> usize {
        line_of(&self.text, span.start)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .unwrap_or(text)
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The shipped registry, checked.
///
/// # Errors
/// Never for the file the service ships (a test holds it); the error is there for a
/// service built with an edited file.
pub fn shipped() -> Result<IssuerRegistry, RegistryFileError> {
    load(None)
}

/// The shipped registry with the operator's file (if any) laid over it: its issuers are
/// added (or replace the shipped one with the same code), its contacts given to their
/// offices, its national page used instead of the shipped one.
///
/// # Errors
/// [`RegistryFileError`]: unreadable or oversized file, TOML syntax, unknown keys, unknown
/// codes, an académie left without exam office or given two, a web address that is not
/// `https://`, a shipped address without its source.
pub fn load(operator: Option<&Path>) -> Result<IssuerRegistry, RegistryFileError> {
    load_layers(operator, false)
}

/// The issuers of the demonstration site only (fictional: a university, an agricultural
/// authority).
pub const DEMO_ISSUERS: &str = include_str!("../registry/demo-issuers.toml");

/// As [`load`], with the demonstration's issuers between the shipped registry and the
/// operator's file when `demo`.
///
/// # Errors
/// As [`load`].
pub fn load_layers(
    operator: Option<&Path>,
    demo: bool,
) -> Result<IssuerRegistry, RegistryFileError> {
    let shipped = parse("<registre livré>".to_owned(), SHIPPED.to_owned(), true)?;
    let mut layers = Vec::new();
    if demo {
        layers.push(parse(
            "<émetteurs de démonstration>".to_owned(),
            DEMO_ISSUERS.to_owned(),
            true,
        )?);
    }
    if let Some(path) = operator {
        layers.push(parse(
            path.display().to_string(),
            read(path, ISSUERS)?,
            false,
        )?);
    }
    combine(shipped, layers)
}

fn read(path: &Path, registry: &'static str) -> Result<String, RegistryFileError> {
    let fail = |problem: String| RegistryFileError {
        registry,
        origin: path.display().to_string(),
        problems: vec![problem],
    };
    let size = std::fs::metadata(path)
        .map_err(|e| fail(format!("fichier illisible : {e}")))?
        .len();
    if size > MAX_REGISTRY_BYTES {
        return Err(fail(format!(
            "le fichier fait {size} octets, plus que la limite de {MAX_REGISTRY_BYTES}"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("fichier illisible : {e}")))?;
    String::from_utf8(bytes).map_err(|_| fail("le fichier n'est pas en UTF-8".to_owned()))
}

fn parse(origin: String, text: String, shipped: bool) -> Result<Layer, RegistryFileError> {
    let raw: RawFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        let message = e.message().trim().to_owned();
        RegistryFileError {
            registry: ISSUERS,
            origin: origin.clone(),
            problems: vec![match line {
                Some(line) => format!("ligne {line} : {}", french_toml(&message)),
                None => french_toml(&message),
            }],
        }
    })?;
    let mut problems = Vec::new();
    let at = |span: &Range<usize>, what: String| {
        format!("ligne {} : {what}", line_of(&text, span.start))
    };

    if raw.format.get_ref() != FORMAT {
        problems.push(at(
            &raw.format.span(),
            format!(
                "format « {} » inconnu (attendu : « {FORMAT} »)",
                raw.format.get_ref()
            ),
        ));
    }
    let national = raw.national.map(|n| {
        let span = n.span();
        let n = n.into_inner();
        if shipped && n.source.trim().is_empty() {
            problems.push(at(
                &span,
                "la page nationale ne dit pas où elle a été trouvée (`source`)".to_owned(),
            ));
        }
        Website {
            url: n.url,
            source: n.source,
        }
    });

    let mut issuers = Vec::new();
    for entry in raw.issuer {
        let span = entry.span();
        let raw = entry.into_inner();
        let Some(kind) = IssuerKind::from_code(raw.kind.get_ref()) else {
            problems.push(at(
                &raw.kind.span(),
                format!(
                    "nature « {} » inconnue (possibles : {})",
                    raw.kind.get_ref(),
                    IssuerKind::ALL
                        .iter()
                        .map(|k| k.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        };
        let mut academies = |codes: &[Spanned<String>]| -> Vec<Academie> {
            codes
                .iter()
                .filter_map(|code| match Academie::from_code(code.get_ref()) {
                    Ok(a) => Some(a),
                    Err(_) => {
                        problems.push(at(
                            &code.span(),
                            format!(
                                "code d'académie « {} » inconnu (voir `sand academies`)",
                                code.get_ref()
                            ),
                        ));
                        None
                    }
                })
                .collect()
        };
        let exports = academies(&raw.exports);
        let serves = academies(&raw.serves);
        let mut covers_from = BTreeMap::new();
        for (code, year) in &raw.covers_from {
            match DiplomaKind::from_str(code) {
                Ok(kind) if *year.get_ref() >= kind.first_session() => {
                    covers_from.insert(kind, *year.get_ref());
                }
                Ok(kind) => problems.push(at(
                    &year.span(),
                    format!(
                        "« {} » : `covers_from.{code}` ne peut précéder la première session du diplôme ({})",
                        raw.code.get_ref(),
                        kind.first_session()
                    ),
                )),
                Err(_) => problems.push(at(
                    &year.span(),
                    format!(
                        "« {} » : diplôme « {code} » inconnu dans `covers_from` (voir `sand diploma-kinds`)",
                        raw.code.get_ref()
                    ),
                )),
            }
        }
        if raw.name.chars().count() > MAX_TEXT_CHARS || raw.name.chars().any(char::is_control) {
            problems.push(at(
                &span,
                format!(
                    "le nom de « {} » est trop long ou contient des caractères de contrôle",
                    raw.code.get_ref()
                ),
            ));
        }
        let website = match (raw.website, raw.source) {
            (Some(url), source) => Some(Website {
                url,
                source: source.unwrap_or_default(),
            }),
            (None, Some(_)) => {
                problems.push(at(
                    &span,
                    format!("« {} » : `source` sans `website`", raw.code.get_ref()),
                ));
                None
            }
            (None, None) => None,
        };
        issuers.push((
            Issuer {
                code: raw.code.into_inner(),
                kind,
                name: raw.name,
                exports,
                serves,
                website,
                contact: Contact::default(),
                covers_from,
            },
            span,
        ));
    }

    let mut contacts = Vec::new();
    for (code, entry) in raw.contact {
        let span = entry.span();
        let raw = entry.into_inner();
        let email = match &raw.email {
            Some(given) if !given.get_ref().trim().is_empty() => {
                match Email::parse(given.get_ref()) {
                    Ok(email) => Some(email),
                    Err(_) => {
                        problems.push(at(
                            &given.span(),
                            format!("« {} » n'est pas une adresse e-mail", given.get_ref()),
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        if !raw.web.is_empty() && !is_https_url(&raw.web) {
            problems.push(at(
                &span,
                format!(
                    "contact de « {code} » : « {} » n'est pas une adresse https:// valide",
                    raw.web
                ),
            ));
        }
        for value in [&raw.service, &raw.address, &raw.phone, &raw.web] {
            if value.chars().count() > MAX_TEXT_CHARS || value.chars().any(char::is_control) {
                problems.push(at(&span, format!("contact de « {code} » : une valeur est trop longue ou contient des caractères de contrôle")));
            }
        }
        contacts.push((
            code,
            Contact {
                service: raw.service,
                address: raw.address,
                email,
                phone: raw.phone,
                web: raw.web,
            },
            span,
        ));
    }
    if shipped && !contacts.is_empty() {
        problems.push("le registre livré ne donne aucun contact : e-mails et téléphones ne sont jamais inventés".to_owned());
    }
    if !problems.is_empty() {
        return Err(RegistryFileError {
            registry: ISSUERS,
            origin,
            problems,
        });
    }
    Ok(Layer {
        origin,
        text,
        national,
        issuers,
        contacts,
    })
}

fn combine(shipped: Layer, layers: Vec<Layer>) -> Result<IssuerRegistry, RegistryFileError> {
    // where each issuer came from, to name the line of a problem the domain finds
    let mut issuers: Vec<(Issuer, &Layer, Range<usize>)> = shipped
        .issuers
        .iter()
        .map(|(i, span)| (i.clone(), &shipped, span.clone()))
        .collect();
    let mut national = shipped.national.clone();
    for layer in &layers {
        let mut problems = Vec::new();
        for (issuer, span) in &layer.issuers {
            if layer
                .issuers
                .iter()
                .filter(|(o, _)| o.code == issuer.code)
                .count()
                > 1
            {
                problems.push(format!(
                    "ligne {} : l'émetteur « {} » figure deux fois",
                    layer.line(span),
                    issuer.code
                ));
                continue;
            }
            match issuers.iter_mut().find(|(i, _, _)| i.code == issuer.code) {
                Some(slot) => *slot = (issuer.clone(), layer, span.clone()),
                None => issuers.push((issuer.clone(), layer, span.clone())),
            }
        }
        for (code, contact, span) in &layer.contacts {
            match issuers.iter_mut().find(|(i, _, _)| &i.code == code) {
                Some((issuer, _, _)) => issuer.contact = contact.clone(),
                None => problems.push(format!(
                    "ligne {} : contact pour « {code} », qui n'est pas un émetteur connu (voir `sand issuers list`)",
                    layer.line(span)
                )),
            }
        }
        if layer.national.is_some() {
            national.clone_from(&layer.national);
        }
        if !problems.is_empty() {
            return Err(RegistryFileError {
                registry: ISSUERS,
                origin: layer.origin.clone(),
                problems,
            });
        }
    }
    let list: Vec<Issuer> = issuers.iter().map(|(i, _, _)| i.clone()).collect();
    IssuerRegistry::new(list, national).map_err(|error| {
        let code = match &error {
            RegistryError::BadCode(c)
            | RegistryError::Duplicate(c)
            | RegistryError::NoName(c)
            | RegistryError::UnsourcedWebsite(c)
            | RegistryError::NotAnExamOffice { code: c, .. }
            | RegistryError::BadUrl { code: c, .. } => Some(c.clone()),
            RegistryError::TwoExamOffices { second, .. } => Some(second.clone()),
            RegistryError::NoExamOffice { .. } => None,
        };
        let place = code.and_then(|c| issuers.iter().rev().find(|(i, _, _)| i.code == c));
        let (origin, problem) = match place {
            Some((_, layer, span)) => (
                layer.origin.clone(),
                format!("ligne {} : {}", layer.line(span), french(&error)),
            ),
            None => (
                layers
                    .last()
                    .map_or_else(|| shipped.origin.clone(), |l| l.origin.clone()),
                french(&error),
            ),
        };
        RegistryFileError {
            registry: ISSUERS,
            origin,
            problems: vec![problem],
        }
    })
}

fn french(error: &RegistryError) -> String {
    match error {
        RegistryError::BadCode(c) => format!(
            "code d'émetteur « {c} » invalide (1 à 16 lettres capitales, chiffres ou tirets)"
        ),
        RegistryError::Duplicate(c) => format!("l'émetteur « {c} » figure deux fois"),
        RegistryError::NoName(c) => format!("l'émetteur « {c} » n'a pas de nom"),
        RegistryError::NotAnExamOffice { code, kind } => format!(
            "« {code} » : un émetteur de nature « {kind} » ne peut pas être le service des examens d'une académie (`serves`)"
        ),
        RegistryError::NoExamOffice { academie } => format!(
            "l'académie {} ({}) n'a aucun service des examens (`serves`)",
            academie.code(),
            academie.name()
        ),
        RegistryError::TwoExamOffices {
            academie,
            first,
            second,
        } => format!(
            "l'académie {} ({}) a deux services des examens : « {first} » et « {second} »",
            academie.code(),
            academie.name()
        ),
        RegistryError::BadUrl { code, url } => {
            format!("« {code} » : « {url} » n'est pas une adresse https:// valide")
        }
        RegistryError::UnsourcedWebsite(c) => {
            format!("« {c} » : le site ne dit pas où il a été trouvé (`source`)")
        }
    }
}

/// The TOML reader's messages the operator is most likely to meet, in French.
fn french_toml(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = rest.split(',').next().unwrap_or(rest);
        return format!("clé inconnue {field}");
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("clé obligatoire absente : {rest}");
    }
    if message.starts_with("invalid type") {
        return format!("valeur du mauvais type ({message})");
    }
    format!("syntaxe TOML invalide ({message})")
}

// ---------------------------------------------------------------------------------------
// Diploma kinds
// ---------------------------------------------------------------------------------------

/// The diploma kinds shipped with the service.
pub const SHIPPED_KINDS: &str = include_str!("../registry/diploma-kinds.toml");
/// The only format version of a kinds file this reader knows.
pub const KINDS_FORMAT: &str = "sand-diploma-kinds/1";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKindsFile {
    format: Spanned<String>,
    #[serde(default)]
    kind: Vec<Spanned<RawKind>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    code: String,
    short_name: String,
    title: String,
    #[serde(default)]
    level: Option<u8>,
    issuers: Vec<Spanned<String>>,
    first_session: u16,
}

fn parse_kinds(
    origin: &str,
    text: &str,
) -> Result<Vec<(KindDefinition, Range<usize>)>, RegistryFileError> {
    let fail = |problems: Vec<String>| RegistryFileError {
        registry: KINDS,
        origin: origin.to_owned(),
        problems,
    };
    let raw: RawKindsFile = toml::from_str(text).map_err(|e| {
        let message = french_toml(e.message().trim());
        fail(vec![match e.span() {
            Some(span) => format!("ligne {} : {message}", line_of(text, span.start)),
            None => message,
        }])
    })?;
    let mut problems = Vec::new();
    let at =
        |span: &Range<usize>, what: String| format!("ligne {} : {what}", line_of(text, span.start));
    if raw.format.get_ref() != KINDS_FORMAT {
        problems.push(at(
            &raw.format.span(),
            format!(
                "format « {} » inconnu (attendu : « {KINDS_FORMAT} »)",
                raw.format.get_ref()
            ),
        ));
    }
    let mut kinds = Vec::new();
    for entry in raw.kind {
        let span = entry.span();
        let raw = entry.into_inner();
        let mut issuer_kinds = Vec::new();
        for issuer in &raw.issuers {
            match IssuerKind::from_code(issuer.get_ref()) {
                Some(kind) => issuer_kinds.push(kind),
                None => problems.push(at(
                    &issuer.span(),
                    format!(
                        "nature d'émetteur « {} » inconnue (possibles : {})",
                        issuer.get_ref(),
                        IssuerKind::ALL
                            .iter()
                            .map(|k| k.code())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        kinds.push((
            KindDefinition {
                code: raw.code,
                short_name: raw.short_name,
                title: raw.title,
                level: raw.level,
                issuer_kinds,
                first_session: raw.first_session,
            },
            span,
        ));
    }
    if problems.is_empty() {
        Ok(kinds)
    } else {
        Err(fail(problems))
    }
}

/// The shipped diploma kinds with the operator's file (if any) after them: it only adds
/// kinds (a code already known is refused: stored records and attestations name it).
///
/// # Errors
/// [`RegistryFileError`], each problem with its line: TOML syntax, unknown keys, an
/// unknown issuer kind, a code reused or malformed, a first session before 2009.
pub fn load_kinds(operator: Option<&Path>) -> Result<KindRegistry, RegistryFileError> {
    let shipped_origin = "<types de diplômes livrés>";
    let mut kinds = parse_kinds(shipped_origin, SHIPPED_KINDS)?;
    let shipped_count = kinds.len();
    let mut operator_text = String::new();
    let mut origin = shipped_origin.to_owned();
    if let Some(path) = operator {
        origin = path.display().to_string();
        operator_text = read(path, KINDS)?;
        kinds.extend(parse_kinds(&origin, &operator_text)?);
    }
    let definitions: Vec<KindDefinition> = kinds.iter().map(|(k, _)| k.clone()).collect();
    KindRegistry::new(definitions).map_err(|error| {
        let code = match &error {
            KindRegistryError::BadCode(c)
            | KindRegistryError::Duplicate(c)
            | KindRegistryError::BadText(c)
            | KindRegistryError::NoIssuerKind(c)
            | KindRegistryError::TooEarly { code: c, .. }
            | KindRegistryError::Shrinks(c) => Some(c.clone()),
            KindRegistryError::BuiltInMissing { .. } | KindRegistryError::TooMany(_) => None,
        };
        // the last entry with that code is the one at fault (a duplicate's second)
        let place = code.and_then(|c| kinds.iter().rposition(|(k, _)| k.code == c));
        let (origin, problem) = match place {
            Some(i) => {
                let (file, text) = if i < shipped_count {
                    (shipped_origin.to_owned(), SHIPPED_KINDS)
                } else {
                    (origin.clone(), operator_text.as_str())
                };
                (
                    file,
                    format!(
                        "ligne {} : {}",
                        line_of(text, kinds[i].1.start),
                        french_kind(&error)
                    ),
                )
            }
            None => (origin.clone(), french_kind(&error)),
        };
        RegistryFileError {
            registry: KINDS,
            origin,
            problems: vec![problem],
        }
    })
}

fn french_kind(error: &KindRegistryError) -> String {
    match error {
        KindRegistryError::BuiltInMissing { position, expected } => format!(
            "le type de diplôme « {expected} » doit être le n° {position} du registre livré"
        ),
        KindRegistryError::BadCode(c) => {
            format!("code « {c} » invalide (1 à 12 lettres capitales ou chiffres)")
        }
        KindRegistryError::Duplicate(c) => {
            format!("le type de diplôme « {c} » existe déjà (un code ne change jamais de sens)")
        }
        KindRegistryError::BadText(c) => format!(
            "« {c} » : `short_name` et `title` sont obligatoires, 200 caractères au plus, sans caractère de contrôle"
        ),
        KindRegistryError::NoIssuerKind(c) => {
            format!("« {c} » : `issuers` doit nommer au moins une nature d'émetteur")
        }
        KindRegistryError::TooEarly { code, first } => {
            format!("« {code} » : `first_session` ne peut précéder {first}")
        }
        KindRegistryError::Shrinks(c) => {
            format!("le type de diplôme « {c} », en service, ne peut pas disparaître")
        }
        KindRegistryError::TooMany(n) => {
            format!("un registre compte au plus {n} types de diplômes")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_loads_and_routes() {
        let registry = shipped().unwrap();
        assert_eq!(registry.exam_office(Academie::Paris).code, "SIEC");
        assert_eq!(registry.exam_office(Academie::Lyon).code, "10");
        assert_eq!(registry.exam_office(Academie::Rouen).code, "70");
    }

    #[test]
    fn the_shipped_kinds_start_with_the_built_in_ones() {
        let kinds = load_kinds(None).unwrap();
        let built_in = KindRegistry::built_in();
        assert_eq!(&kinds.definitions()[..7], built_in.definitions());
        let codes: Vec<&str> = kinds.definitions()[7..]
            .iter()
            .map(|k| k.code.as_str())
            .collect();
        assert_eq!(codes, ["BTSA", "DAEU", "LIC", "MASTER"]);
    }

    #[test]
    fn the_demonstration_adds_a_university_and_an_agricultural_authority() {
        sand_domain::diploma::install(load_kinds(None).unwrap()).unwrap();
        let demo = load_layers(None, true).unwrap();
        let university = demo.get("DEMO-UNIV").unwrap();
        assert_eq!(university.kind, IssuerKind::HigherEducation);
        let licence = DiplomaKind::from_str("LIC").unwrap();
        assert_eq!(university.first_session(licence), 2020);
        assert_eq!(
            demo.get("DEMO-AGRI")
                .unwrap()
                .first_session(DiplomaKind::from_str("BTSA").unwrap()),
            2015
        );
        assert_eq!(demo.get("DEMO-AGRI").unwrap().kind, IssuerKind::Agriculture);
        let university = |covers: &str| {
            let file = format!(
                "format = \"sand-issuers/1\"\n[[issuer]]\ncode = \"U\"\nkind = \"enseignement-superieur\"\nname = \"U\"\nexports = [\"10\"]\ncovers_from = {covers}\n"
            );
            combine(
                parse("<registre livré>".to_owned(), SHIPPED.to_owned(), true).unwrap(),
                vec![parse("u.toml".to_owned(), file, false)?],
            )
        };
        assert!(university("{ LIC = 2021 }").is_ok());
        let early = university("{ LIC = 1999 }").unwrap_err().to_string();
        assert!(
            early.contains("ligne 7") && early.contains("ne peut précéder"),
            "{early}"
        );
        let unknown = university("{ XYZ = 2021 }").unwrap_err().to_string();
        assert!(
            unknown.contains("ligne 7") && unknown.contains("« XYZ » inconnu"),
            "{unknown}"
        );
        assert!(
            load(None).unwrap().get("DEMO-UNIV").is_none(),
            "never outside the demo"
        );
    }

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
