//! Issuers: the bodies that award diplomas or hold their results, and where a graduate
//! is sent when the service cannot help.
//!
//! An issuer is data, not code: the registry is loaded from a file shipped with the
//! service and extended by the operator's own (see the import crate). This module holds
//! the rules every registry must satisfy, checked once when it is built:
//!
//! - codes are unique (an académie's exam office has the académie's code, `10` for Lyon;
//!   the inter-académie exam house of Paris, Créteil and Versailles is `SIEC`; a
//!   higher-education establishment its public UAI code);
//! - every académie has exactly one exam office that answers its graduates (the SIEC for
//!   Paris, Créteil and Versailles; Normandie's for Caen and Rouen, merged into it);
//! - a web address is `https://`, and a shipped one names where it was found.
//!
//! The registry is what routes every case the service does not cover to a concrete place:
//! the office's contact when the operator configured one, otherwise its public website,
//! otherwise the national page on how to get an attestation the usual way.

use std::collections::BTreeMap;
use std::fmt;

use crate::academie::Academie;
use crate::credentials::Email;

pub use crate::issuer_kind::IssuerKind;

/// An issuer's code as batches and records carry it: an académie's exam office has the
/// académie's code (`10`), the inter-académie exam house `SIEC`, a higher-education
/// establishment its UAI code (`0691774D`). 1 to 16 capital letters, digits or dashes;
/// kept inline so that it copies like a number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssuerCode {
    bytes: [u8; 16],
    len: u8,
}

/// A scope and the issuer whose batch holds it: what the catalogue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IssuedScope {
    pub scope: crate::diploma::DiplomaScope,
    pub issuer: IssuerCode,
}

/// The text given is not an issuer code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an issuer code is 1 to 16 capital letters, digits or dashes")]
pub struct BadIssuerCode;

impl IssuerCode {
    /// The SIEC, the exam house of Paris, Créteil and Versailles.
    pub const SIEC: IssuerCode = IssuerCode {
        bytes: *b"SIEC\0\0\0\0\0\0\0\0\0\0\0\0",
        len: 4,
    };

    /// Reads a code: letters are taken in capitals, and a one-digit académie code gets
    /// its leading zero (`1` → `01`), as académie codes are read everywhere.
    ///
    /// # Errors
    /// [`BadIssuerCode`].
    pub fn parse(text: &str) -> Result<Self, BadIssuerCode> {
        let text = text.trim();
        if let Ok(academie) = Academie::from_code(text) {
            return Ok(Self::of_academie(academie));
        }
        let upper = text.to_ascii_uppercase();
        let ok = (1..=16).contains(&upper.len())
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(BadIssuerCode);
        }
        let mut bytes = [0u8; 16];
        bytes[..upper.len()].copy_from_slice(upper.as_bytes());
        Ok(Self {
            bytes,
            len: u8::try_from(upper.len()).map_err(|_| BadIssuerCode)?,
        })
    }

    /// The exam office of an académie.
    #[must_use]
    pub fn of_academie(academie: Academie) -> Self {
        let code = academie.code().as_bytes();
        let mut bytes = [0u8; 16];
        bytes[..code.len()].copy_from_slice(code);
        Self {
            bytes,
            len: u8::try_from(code.len()).unwrap_or(2),
        }
    }

    /// The code as written.
    #[must_use]
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for IssuerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for IssuerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerCode({})", self.code())
    }
}

/// Why an issuer may not export a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportRefusal {
    #[error("issuer `{0}` is not in the registry")]
    UnknownIssuer(IssuerCode),
    #[error("issuer `{issuer}` does not export the diplomas of académie {}", .academie.code())]
    OutsideScope {
        issuer: IssuerCode,
        name: String,
        academie: Academie,
    },
    #[error("issuer `{issuer}` ({kind}) may not export {}", .diploma.code())]
    KindNotExported {
        issuer: IssuerCode,
        kind: IssuerKind,
        diploma: crate::diploma::DiplomaKind,
    },
    #[error("session {session} of {} is before its coverage ({first})", .diploma.code())]
    BeforeCoverage {
        diploma: crate::diploma::DiplomaKind,
        session: u16,
        first: u16,
    },
}

/// A public web page, with where it was found (shipped data says where each address comes
/// from; an operator's own addresses may leave `source` empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Website {
    pub url: String,
    pub source: String,
}

/// How to reach an office, as its operator configured it (every part optional; never
/// shipped: e-mail addresses and phone numbers are not invented).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// The service's own name, when it differs from the issuer's.
    pub service: String,
    pub address: String,
    pub email: Option<Email>,
    pub phone: String,
    /// A page of the office's own (a contact form, say).
    pub web: String,
}

impl Contact {
    /// Whether any way to reach the office is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.address.is_empty()
            && self.email.is_none()
            && self.phone.is_empty()
            && self.web.is_empty()
    }
}

/// A body that awards diplomas or holds their results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// Stable code: the académie code for an académie's exam office, `SIEC`, a UAI code.
    pub code: String,
    pub kind: IssuerKind,
    /// Its name as French writes it in a sentence ("le service des examens de …" is not
    /// added): "Service interacadémique des examens et concours (SIEC)".
    pub name: String,
    /// The académies whose diplomas it may export.
    pub exports: Vec<Academie>,
    /// The académies whose graduates it answers as their exam office.
    pub serves: Vec<Academie>,
    pub website: Option<Website>,
    pub contact: Contact,
    /// Kinds whose coverage starts later for this issuer than the kind's own first
    /// session (e.g. a university that exports its licences from 2023 on).
    pub covers_from: BTreeMap<crate::diploma::DiplomaKind, u16>,
}

impl Issuer {
    /// The first session of `kind` the service covers for this issuer: the kind's own
    /// first session, or the issuer's later one.
    #[must_use]
    pub fn first_session(&self, kind: crate::diploma::DiplomaKind) -> u16 {
        self.covers_from
            .get(&kind)
            .map_or(kind.first_session(), |&from| from.max(kind.first_session()))
    }
}

/// Why a registry was refused; each names the issuer (and académie) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("issuer code `{0}` is not 1 to 16 capital letters, digits or dashes")]
    BadCode(String),
    #[error("issuer `{0}` is listed twice")]
    Duplicate(String),
    #[error("issuer `{0}` has no name")]
    NoName(String),
    #[error("issuer `{code}`: an issuer of kind `{kind}` cannot be an académie's exam office")]
    NotAnExamOffice { code: String, kind: IssuerKind },
    #[error("académie {academie} ({name}) has no exam office", name = .academie.name(), academie = .academie.code())]
    NoExamOffice { academie: Academie },
    #[error("académie {} has two exam offices: `{first}` and `{second}`", .academie.code())]
    TwoExamOffices {
        academie: Academie,
        first: String,
        second: String,
    },
    #[error("issuer `{code}`: `{url}` is not an https:// address")]
    BadUrl { code: String, url: String },
    #[error("issuer `{0}`: its website does not say where it was found (`source`)")]
    UnsourcedWebsite(String),
}

/// Every issuer the service knows, checked (see the module's rules).
#[derive(Debug, Clone)]
pub struct IssuerRegistry {
    issuers: Vec<Issuer>,
    /// Each académie's exam office, as an index into `issuers` (one for every académie).
    offices: BTreeMap<Academie, usize>,
    national: Option<Website>,
}

/// The SIEC's code.
pub const SIEC: &str = crate::academie::SIEC_CODE;

impl IssuerRegistry {
    /// Checks and builds a registry. `national` is the public page on how to get an
    /// attestation the usual way, for an office with neither contact nor website.
    ///
    /// # Errors
    /// The first [`RegistryError`] found, in the issuers' order.
    pub fn new(issuers: Vec<Issuer>, national: Option<Website>) -> Result<Self, RegistryError> {
        for (i, issuer) in issuers.iter().enumerate() {
            let code_ok = (1..=16).contains(&issuer.code.len())
                && issuer
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
            if !code_ok {
                return Err(RegistryError::BadCode(issuer.code.clone()));
            }
            if issuers[..i].iter().any(|o| o.code == issuer.code) {
                return Err(RegistryError::Duplicate(issuer.code.clone()));
            }
            if issuer.name.trim().is_empty() {
                return Err(RegistryError::NoName(issuer.code.clone()));
            }
            if !issuer.serves.is_empty() && !issuer.kind.may_be_exam_office() {
                return Err(RegistryError::NotAnExamOffice {
                    code: issuer.code.clone(),
                    kind: issuer.kind,
                });
            }
            for url in issuer
                .website
                .iter()
                .map(|w| &w.url)
                .chain(Some(&issuer.contact.web).filter(|w| !w.is_empty()))
            {
                check_url(&issuer.code, url)?;
            }
            if issuer
                .website
                .as_ref()
                .is_some_and(|w| w.source.trim().is_empty())
            {
                return Err(RegistryError::UnsourcedWebsite(issuer.code.clone()));
            }
        }
        if let Some(page) = &national {
            check_url("national", &page.url)?;
        }
        let offices = office_of_each_academie(&issuers)?;
        Ok(Self {
            issuers,
            offices,
            national,
        })
    }

    /// A registry made of the académies' exam offices alone, named but with no website:
    /// what a service started without registry data falls back to.
    #[must_use]
    pub fn offices_only() -> Self {
        let mut issuers: Vec<Issuer> = Academie::ALL
            .iter()
            .filter(|a| a.merged_into().is_none())
            .map(|&a| {
                let mut serves = vec![a];
                serves.extend(
                    Academie::ALL
                        .iter()
                        .filter(|m| m.merged_into().is_some_and(|(into, _)| into == a)),
                );
                Issuer {
                    code: a.code().to_owned(),
                    kind: if a.is_vice_rectorat() {
                        IssuerKind::ViceRectorat
                    } else {
                        IssuerKind::Rectorat
                    },
                    name: format!("Service des examens et concours du {}", a.authority()),
                    exports: serves.clone(),
                    serves,
                    website: None,
                    contact: Contact::default(),
                    covers_from: BTreeMap::new(),
                }
            })
            .collect();
        let ile_de_france = [Academie::Paris, Academie::Creteil, Academie::Versailles];
        for issuer in &mut issuers {
            issuer.serves.retain(|a| !ile_de_france.contains(a));
        }
        issuers.push(Issuer {
            code: SIEC.to_owned(),
            kind: IssuerKind::ExamHouse,
            name: "Service interacadémique des examens et concours (SIEC)".to_owned(),
            exports: ile_de_france.to_vec(),
            serves: ile_de_france.to_vec(),
            website: None,
            contact: Contact::default(),
            covers_from: BTreeMap::new(),
        });
        // the tests hold that these satisfy every rule; nothing here can break them
        let offices = office_of_each_academie(&issuers).unwrap_or_default();
        Self {
            issuers,
            offices,
            national: None,
        }
    }

    /// Every issuer, in the registry's order.
    #[must_use]
    pub fn all(&self) -> &[Issuer] {
        &self.issuers
    }

    /// The issuer with this code.
    #[must_use]
    pub fn get(&self, code: &str) -> Option<&Issuer> {
        self.issuers.iter().find(|i| i.code == code)
    }

    /// The exam office that answers `academie`'s graduates (the SIEC for Paris, Créteil
    /// and Versailles, whatever the session: its attestation of success is authoritative).
    #[must_use]
    pub fn exam_office(&self, academie: Academie) -> &Issuer {
        &self.issuers[self.offices[&academie]]
    }

    /// Whether `issuer` may export a batch of `scope`: known, exporting the académie, for
    /// a kind its kind of issuer may export, from the kind's first session.
    ///
    /// # Errors
    /// [`ExportRefusal`].
    pub fn may_export(
        &self,
        issuer: IssuerCode,
        scope: &crate::diploma::DiplomaScope,
    ) -> Result<&Issuer, ExportRefusal> {
        let known = self
            .get(issuer.code())
            .ok_or(ExportRefusal::UnknownIssuer(issuer))?;
        if !known.exports.contains(&scope.academie) {
            return Err(ExportRefusal::OutsideScope {
                issuer,
                name: known.name.clone(),
                academie: scope.academie,
            });
        }
        if !scope.kind.exported_by(known.kind) {
            return Err(ExportRefusal::KindNotExported {
                issuer,
                kind: known.kind,
                diploma: scope.kind,
            });
        }
        let first = known.first_session(scope.kind);
        if scope.session.year() < first {
            return Err(ExportRefusal::BeforeCoverage {
                diploma: scope.kind,
                session: scope.session.year(),
                first,
            });
        }
        Ok(known)
    }

    /// The national page on how to get an attestation the usual way, if configured.
    #[must_use]
    pub fn national(&self) -> Option<&Website> {
        self.national.as_ref()
    }

    /// Where a graduate of `academie` goes next: the office, and the one place to reach it
    /// (its contact page or website, else the national page).
    #[must_use]
    pub fn route(&self, academie: Academie) -> Route<'_> {
        let office = self.exam_office(academie);
        let web = if office.contact.web.is_empty() {
            office
                .website
                .as_ref()
                .or(self.national.as_ref())
                .map(|w| w.url.as_str())
        } else {
            Some(office.contact.web.as_str())
        };
        Route { office, web }
    }
}

/// Where an uncovered case goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub office: &'a Issuer,
    /// A web address to go to, when one is known.
    pub web: Option<&'a str>,
}

impl Route<'_> {
    /// Whether the graduate is given a concrete place: a contact or a web address.
    #[must_use]
    pub fn is_concrete(&self) -> bool {
        !self.office.contact.is_empty() || self.web.is_some()
    }
}

/// Each académie's one exam office.
fn office_of_each_academie(issuers: &[Issuer]) -> Result<BTreeMap<Academie, usize>, RegistryError> {
    let mut offices = BTreeMap::new();
    for &academie in Academie::ALL {
        let mut serving = issuers
            .iter()
            .enumerate()
            .filter(|(_, i)| i.serves.contains(&academie));
        let (index, first) = serving
            .next()
            .ok_or(RegistryError::NoExamOffice { academie })?;
        if let Some((_, second)) = serving.next() {
            return Err(RegistryError::TwoExamOffices {
                academie,
                first: first.code.clone(),
                second: second.code.clone(),
            });
        }
        offices.insert(academie, index);
    }
    Ok(offices)
}

/// Whether `url` is an `https://` address with a dotted host, at most 300 characters,
/// without spaces, control characters, quotes or angle brackets.
#[must_use]
pub fn is_https_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").unwrap_or_default();
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty()
        && host.contains('.')
        && url.len() <= 300
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>'))
}

fn check_url(code: &str, url: &str) -> Result<(), RegistryError> {
    if is_https_url(url) {
        Ok(())
    } else {
        Err(RegistryError::BadUrl {
            code: code.to_owned(),
            url: url.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(code: &str, serves: &[Academie]) -> Issuer {
        Issuer {
            code: code.to_owned(),
            kind: IssuerKind::Rectorat,
            name: format!("Office {code}"),
            exports: serves.to_vec(),
            serves: serves.to_vec(),
            website: None,
            contact: Contact::default(),
            covers_from: BTreeMap::new(),
        }
    }

    fn without(code: &str) -> Vec<Issuer> {
        IssuerRegistry::offices_only()
            .all()
            .iter()
            .filter(|i| i.code != code)
            .cloned()
            .collect()
    }

    #[test]
    fn an_issuer_exports_a_kind_from_its_own_first_session_when_it_is_later() {
        use crate::diploma::{DiplomaKind, DiplomaScope, Session};
        let mut issuers = without("10");
        let mut lyon = office("10", &[Academie::Lyon]);
        lyon.covers_from.insert(DiplomaKind::Bts, 2015);
        // a later start for one kind only; an earlier one than the kind's cannot widen it
        lyon.covers_from.insert(DiplomaKind::Dnb, 1990);
        issuers.push(lyon);
        let registry = IssuerRegistry::new(issuers, None).unwrap();
        let scope = |kind, year| DiplomaScope {
            kind,
            session: Session::new(year).unwrap(),
            academie: Academie::Lyon,
        };
        let code = IssuerCode::parse("10").unwrap();
        assert_eq!(
            registry.may_export(code, &scope(DiplomaKind::Bts, 2014)),
            Err(ExportRefusal::BeforeCoverage {
                diploma: DiplomaKind::Bts,
                session: 2014,
                first: 2015
            })
        );
        assert!(
            registry
                .may_export(code, &scope(DiplomaKind::Bts, 2015))
                .is_ok()
        );
        assert!(
            registry
                .may_export(code, &scope(DiplomaKind::BacGeneral, 2009))
                .is_ok()
        );
        let lyon = registry.get("10").unwrap();
        assert_eq!(lyon.first_session(DiplomaKind::Dnb), 2009);
        assert_eq!(lyon.first_session(DiplomaKind::Bts), 2015);
    }

    #[test]
    fn the_built_in_offices_satisfy_the_rules() {
        let built_in = IssuerRegistry::offices_only();
        let checked = IssuerRegistry::new(built_in.all().to_vec(), None).unwrap();
        assert_eq!(checked.offices, built_in.offices);
    }

    #[test]
    fn the_built_in_offices_send_ile_de_france_to_the_siec_and_caen_to_normandie() {
        let registry = IssuerRegistry::offices_only();
        for a in [Academie::Paris, Academie::Creteil, Academie::Versailles] {
            assert_eq!(registry.exam_office(a).code, SIEC);
        }
        assert_eq!(registry.exam_office(Academie::Lyon).code, "10");
        assert_eq!(registry.exam_office(Academie::Caen).code, "70");
        assert_eq!(registry.exam_office(Academie::Rouen).code, "70");
        assert_eq!(
            registry.exam_office(Academie::PolynesieFrancaise).kind,
            IssuerKind::ViceRectorat
        );
        assert!(!registry.route(Academie::Lyon).is_concrete());
    }

    #[test]
    fn every_academie_needs_exactly_one_exam_office() {
        let missing = IssuerRegistry::new(without("10"), None).unwrap_err();
        assert_eq!(
            missing,
            RegistryError::NoExamOffice {
                academie: Academie::Lyon
            }
        );
        assert!(missing.to_string().contains("10 (Lyon)"));

        let mut twice = without("");
        twice.push(office("LYON-BIS", &[Academie::Lyon]));
        assert!(matches!(
            IssuerRegistry::new(twice, None),
            Err(RegistryError::TwoExamOffices {
                academie: Academie::Lyon,
                ..
            })
        ));
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut issuers = without("");
        issuers.push(office("10", &[]));
        assert_eq!(
            IssuerRegistry::new(issuers, None).unwrap_err(),
            RegistryError::Duplicate("10".to_owned())
        );
        for bad in ["", "lyon", "A B", "ABCDEFGHIJKLMNOPQ"] {
            let mut issuers = without("");
            issuers.push(office(bad, &[]));
            assert_eq!(
                IssuerRegistry::new(issuers, None).unwrap_err(),
                RegistryError::BadCode(bad.to_owned())
            );
        }
    }

    #[test]
    fn a_university_cannot_be_an_academies_exam_office() {
        let mut issuers = without("10");
        let mut university = office("0691774D", &[Academie::Lyon]);
        university.kind = IssuerKind::HigherEducation;
        issuers.push(university);
        assert!(matches!(
            IssuerRegistry::new(issuers, None),
            Err(RegistryError::NotAnExamOffice { .. })
        ));
    }

    #[test]
    fn websites_are_https_and_sourced() {
        let with_site = |url: &str, source: &str| {
            let mut issuers = without("");
            let lyon = issuers.iter_mut().find(|i| i.code == "10").unwrap();
            lyon.website = Some(Website {
                url: url.to_owned(),
                source: source.to_owned(),
            });
            IssuerRegistry::new(issuers, None)
        };
        assert!(with_site("https://www.ac-lyon.fr", "https://example.org/list").is_ok());
        for bad in [
            "http://www.ac-lyon.fr",
            "https://",
            "https://x y.fr",
            "javascript:alert(1)",
            "https://localhost",
        ] {
            assert!(
                matches!(with_site(bad, "s"), Err(RegistryError::BadUrl { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            with_site("https://www.ac-lyon.fr", " ").unwrap_err(),
            RegistryError::UnsourcedWebsite("10".to_owned())
        );
    }

    #[test]
    fn a_route_prefers_the_contact_page_then_the_website_then_the_national_page() {
        let national = Website {
            url: "https://www.service-public.fr/x".to_owned(),
            source: "s".to_owned(),
        };
        let mut issuers = without("");
        issuers.iter_mut().find(|i| i.code == "10").unwrap().website = Some(Website {
            url: "https://www.ac-lyon.fr".to_owned(),
            source: "s".to_owned(),
        });
        issuers
            .iter_mut()
            .find(|i| i.code == SIEC)
            .unwrap()
            .contact
            .web = "https://siec.example.fr/contact".to_owned();
        let registry = IssuerRegistry::new(issuers, Some(national)).unwrap();
        assert_eq!(
            registry.route(Academie::Lyon).web,
            Some("https://www.ac-lyon.fr")
        );
        assert_eq!(
            registry.route(Academie::Paris).web,
            Some("https://siec.example.fr/contact")
        );
        assert_eq!(
            registry.route(Academie::Dijon).web,
            Some("https://www.service-public.fr/x")
        );
        assert!(registry.route(Academie::Dijon).is_concrete());
    }
}
