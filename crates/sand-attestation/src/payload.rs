//! The signed facts of an attestation: a compact, canonical payload.
//!
//! Version 1 is UTF-8 text, one field per line, in this order:
//!
//! ```text
//! SAND1            format and version
//! 0 | 1            1: signed with the public demonstration key (worthless)
//! key id           16 hex characters (see KeyId)
//! control key      8 characters
//! issued on        YYYY-MM-DD
//! diploma kind     code (BACG, DNB, BTS…)
//! speciality       free text, may be empty
//! mention          code (P, AB, B, TB, TBF), may be empty
//! session          year
//! académie         ministry code
//! deliberation     YYYY-MM-DD
//! civility         Madame | Monsieur | empty
//! birth name
//! usage name       may be empty
//! first names      all of them, civil-status order, ", "-separated
//! birth date       YYYY-MM-DD
//! birth place      may be empty
//! ```
//!
//! No field may contain a control character, so the encoding is unambiguous. The
//! signature is Ed25519 over `"SAND attestation facts v1\n"` followed by the payload;
//! both travel base64url-encoded (no padding) in the QR code's URL and the PDF.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sand_domain::academie::Academie;
use sand_domain::diploma::{DiplomaKind, Mention};
use sand_domain::ports::Attestation;
use time::{Date, Month};

use crate::keys::{KeyId, PublicKey, SigningKeys, VerificationKeys};

const VERSION: &str = "SAND1";
const FIELDS: usize = 17;
const FACTS_CONTEXT: &[u8] = b"SAND attestation facts v1\n";
/// Longest payload accepted (a real one is about 200 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 2048;

/// Why a payload cannot be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("a field contains a control character")]
    ControlCharacter,
    #[error("the payload is longer than {MAX_PAYLOAD_BYTES} bytes")]
    TooLong,
    #[error("not base64url")]
    NotBase64,
    #[error("not UTF-8 text")]
    NotText,
    #[error("not a SAND attestation payload (version or field count)")]
    NotAPayload,
    #[error("field {0} is malformed")]
    BadField(&'static str),
}

/// The attested facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub demo: bool,
    pub key_id: KeyId,
    pub control_key: String,
    pub issued_on: Date,
    pub kind: String,
    pub speciality: String,
    pub mention: String,
    pub session: u16,
    pub academie: String,
    pub deliberation: Date,
    pub civility: String,
    pub birth_name: String,
    pub usage_name: String,
    pub first_names: String,
    pub birth_date: Date,
    pub birth_place: String,
}

pub(crate) fn iso(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// An instant to the second, in UTC, as RFC 3339 writes it (receipts, credentials).
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A `YYYY-MM-DD` date, if it is one.
pub(crate) fn parse_iso_date(text: &str) -> Option<Date> {
    parse_iso(text, "date").ok()
}

fn parse_iso(text: &str, field: &'static str) -> Result<Date, PayloadError> {
    let bad = || PayloadError::BadField(field);
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

impl Facts {
    /// The facts an attestation shows, for the key that signs them.
    #[must_use]
    pub fn of(attestation: &Attestation, keys: &SigningKeys) -> Self {
        let record = &attestation.record;
        let holder = &record.holder;
        let identity = &holder.identity;
        Self {
            demo: keys.is_demo(),
            key_id: keys.id(),
            control_key: attestation.key.as_str().to_owned(),
            issued_on: sand_domain::text::paris_time(attestation.issued_at).date(),
            kind: record.scope.kind.code().to_owned(),
            speciality: record
                .award
                .speciality
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            mention: record
                .award
                .mention
                .map(|m| m.code().to_owned())
                .unwrap_or_default(),
            session: record.scope.session.year(),
            academie: record.scope.academie.code().to_owned(),
            deliberation: record.award.deliberation_date,
            civility: holder
                .civility
                .map(|c| c.label().to_owned())
                .unwrap_or_default(),
            birth_name: identity.birth_name.as_str().to_owned(),
            usage_name: holder
                .usage_name
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            first_names: identity
                .first_names
                .names()
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            birth_date: identity.birth_date.date(),
            birth_place: identity
                .birth_place
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        }
    }

    /// The canonical payload.
    ///
    /// # Errors
    /// [`PayloadError::ControlCharacter`] or [`PayloadError::TooLong`].
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        let fields: [String; FIELDS] = [
            VERSION.to_owned(),
            if self.demo { "1" } else { "0" }.to_owned(),
            self.key_id.to_string(),
            self.control_key.clone(),
            iso(self.issued_on),
            self.kind.clone(),
            self.speciality.clone(),
            self.mention.clone(),
            self.session.to_string(),
            self.academie.clone(),
            iso(self.deliberation),
            self.civility.clone(),
            self.birth_name.clone(),
            self.usage_name.clone(),
            self.first_names.clone(),
            iso(self.birth_date),
            self.birth_place.clone(),
        ];
        if fields.iter().any(|f| f.chars().any(char::is_control)) {
            return Err(PayloadError::ControlCharacter);
        }
        let text = fields.join("\n");
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLong);
        }
        Ok(text.into_bytes())
    }

    /// Reads a canonical payload.
    ///
    /// # Errors
    /// [`PayloadError`].
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLong);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| PayloadError::NotText)?;
        let fields: Vec<&str> = text.split('\n').collect();
        if fields.len() != FIELDS || fields[0] != VERSION {
            return Err(PayloadError::NotAPayload);
        }
        if fields.iter().any(|f| f.chars().any(char::is_control)) {
            return Err(PayloadError::ControlCharacter);
        }
        let facts = Self {
            demo: match fields[1] {
                "0" => false,
                "1" => true,
                _ => return Err(PayloadError::BadField("demo")),
            },
            key_id: KeyId::parse(fields[2]).ok_or(PayloadError::BadField("key id"))?,
            control_key: fields[3].to_owned(),
            issued_on: parse_iso(fields[4], "issued on")?,
            kind: fields[5].to_owned(),
            speciality: fields[6].to_owned(),
            mention: fields[7].to_owned(),
            session: fields[8]
                .parse()
                .map_err(|_| PayloadError::BadField("session"))?,
            academie: fields[9].to_owned(),
            deliberation: parse_iso(fields[10], "deliberation")?,
            civility: fields[11].to_owned(),
            birth_name: fields[12].to_owned(),
            usage_name: fields[13].to_owned(),
            first_names: fields[14].to_owned(),
            birth_date: parse_iso(fields[15], "birth date")?,
            birth_place: fields[16].to_owned(),
        };
        // the canonical form is the only form: re-encoding gives the same bytes
        if facts.encode()? != bytes {
            return Err(PayloadError::NotAPayload);
        }
        Ok(facts)
    }

    /// The diploma's French title (its code if unknown).
    #[must_use]
    pub fn kind_title(&self) -> String {
        DiplomaKind::all()
            .iter()
            .find(|k| k.code() == self.kind)
            .map_or_else(|| self.kind.clone(), |k| k.title().to_owned())
    }

    /// The mention's French label, if any.
    #[must_use]
    pub fn mention_label(&self) -> Option<String> {
        if self.mention.is_empty() {
            return None;
        }
        Some(
            Mention::ALL
                .iter()
                .find(|m| m.code() == self.mention)
                .map_or_else(|| self.mention.clone(), |m| m.label().to_owned()),
        )
    }

    /// The académie's name (its code if unknown).
    #[must_use]
    pub fn academie_name(&self) -> String {
        Academie::from_code(&self.academie)
            .map_or_else(|_| self.academie.clone(), |a| a.name().to_owned())
    }
}

/// A payload and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedFacts {
    pub payload: Vec<u8>,
    pub signature: [u8; 64],
}

/// Why signed facts are not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("the signature is not 64 bytes of base64url")]
    BadSignature,
    #[error("signed with an unknown key ({0})")]
    UnknownKey(KeyId),
    #[error("the signature does not match the facts")]
    Forged,
}

impl SignedFacts {
    /// Signs `facts` with `keys`.
    ///
    /// # Errors
    /// [`PayloadError`] when the facts cannot be encoded.
    pub fn sign(facts: &Facts, keys: &SigningKeys) -> Result<Self, PayloadError> {
        let payload = facts.encode()?;
        let signature = keys.sign(&[FACTS_CONTEXT, &payload].concat());
        Ok(Self { payload, signature })
    }

    /// Reads the base64url forms (from a URL or a PDF).
    ///
    /// # Errors
    /// [`FactsError`].
    pub fn from_base64(payload: &str, signature: &str) -> Result<Self, FactsError> {
        if payload.len() > MAX_PAYLOAD_BYTES * 4 / 3 + 4 {
            return Err(PayloadError::TooLong.into());
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload.trim())
            .map_err(|_| PayloadError::NotBase64)?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature.trim())
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or(FactsError::BadSignature)?;
        Ok(Self { payload, signature })
    }

    #[must_use]
    pub fn payload_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.payload)
    }

    #[must_use]
    pub fn signature_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.signature)
    }

    /// Checks the signature with the key the payload names.
    ///
    /// # Errors
    /// [`FactsError`].
    pub fn verify<'k>(
        &self,
        keys: &'k VerificationKeys,
    ) -> Result<(Facts, &'k PublicKey), FactsError> {
        let facts = Facts::decode(&self.payload)?;
        let key = keys
            .get(facts.key_id)
            .ok_or(FactsError::UnknownKey(facts.key_id))?;
        if !key.verifies(&[FACTS_CONTEXT, &self.payload].concat(), &self.signature) {
            return Err(FactsError::Forged);
        }
        if facts.demo != key.demo {
            return Err(FactsError::Forged);
        }
        Ok((facts, key))
    }

    /// The address the QR code opens: the verification page, its key pre-filled. The
    /// signed facts (the holder's identity among them) travel in the fragment (`#p=…&s=…`),
    /// which a browser never sends: they stay out of request lines, proxy and server logs,
    /// while a program that reads the QR code checks them offline.
    #[must_use]
    pub fn verification_url(&self, base: &str, control_key: &str) -> String {
        let separator = if base.contains('?') { '&' } else { '?' };
        format!(
            "{base}{separator}cle={control_key}#p={}&s={}",
            self.payload_base64(),
            self.signature_base64()
        )
    }
}
