//! Sealing a document and checking it offline.
//!
//! Two signatures by the same key travel in the PDF's document information dictionary:
//! - `/SandPayload` and `/SandSignature`: the signed facts (see [`crate::payload`]), also
//!   in the QR code;
//! - `/SandDocumentSignature`: Ed25519 over `"SAND attestation document v1\n"` and the
//!   SHA-256 of the whole file with this signature's own 128 hexadecimal digits set to
//!   `0` — as a PDF signature's byte range does. Any change to the file (text, fonts,
//!   an added annotation or incremental update, metadata) breaks it.
//!
//! The checker reads bytes only (no PDF parser runs on untrusted input).

use lopdf::{Dictionary, Object, StringFormat};
use sha2::{Digest, Sha256};

use crate::error::RenderError;
use crate::keys::{KeyId, SigningKeys, VerificationKeys};
use crate::payload::{Facts, FactsError, SignedFacts};

const DOCUMENT_CONTEXT: &[u8] = b"SAND attestation document v1\n";
const DOCUMENT_SIGNATURE: &[u8] = b"/SandDocumentSignature";
const PAYLOAD: &[u8] = b"/SandPayload";
const FACTS_SIGNATURE: &[u8] = b"/SandSignature";
/// Largest file the checker reads (an attestation is under 100 KB).
pub const MAX_PDF_BYTES: usize = 5 * 1024 * 1024;

/// What a check of a document found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The file is exactly as issued, signed by a known key. With `demo`, the key is the
    /// public demonstration key: the document is worthless.
    Intact {
        facts: Facts,
        key: KeyId,
        demo: bool,
    },
    /// The facts carry a valid signature but the file was modified after it was issued
    /// (its visible text may not be the signed facts).
    Altered { facts: Facts, demo: bool },
    /// Signed with a key this checker does not know.
    UnknownKey(KeyId),
    /// The signature does not match the facts: forged or tampered with.
    Forged,
    /// Not a SAND attestation, or unreadable.
    NotAnAttestation(String),
}

fn not_attestation(why: &str) -> Verdict {
    Verdict::NotAnAttestation(why.to_owned())
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The value after the only occurrence of `key`, between `open` and `close`.
fn delimited(bytes: &[u8], key: &[u8], open: u8, close: u8) -> Option<std::ops::Range<usize>> {
    let [at] = find_all(bytes, key)[..] else {
        return None;
    };
    let mut i = at + key.len();
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    if bytes.get(i) != Some(&open) {
        return None;
    }
    let start = i + 1;
    let len = bytes
        .get(start..)?
        .iter()
        .take(16 * 1024)
        .position(|&b| b == close)?;
    Some(start..start + len)
}

fn document_signature_range(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let range = delimited(bytes, DOCUMENT_SIGNATURE, b'<', b'>')?;
    (range.len() == 128 && bytes[range.clone()].iter().all(u8::is_ascii_hexdigit)).then_some(range)
}

fn document_message(bytes: &[u8], range: &std::ops::Range<usize>) -> Vec<u8> {
    let mut digest = Sha256::new();
    digest.update(&bytes[..range.start]);
    digest.update([b'0'; 128]);
    digest.update(&bytes[range.end..]);
    [DOCUMENT_CONTEXT, digest.finalize().as_slice()].concat()
}

fn pdf_error(e: impl std::fmt::Display) -> RenderError {
    RenderError::Pdf(e.to_string())
}

/// Compresses every stream not compressed yet, at zlib's default level (lopdf's own
/// `compress` uses the best level: several times slower for a few percent).
fn compress(doc: &mut lopdf::Document) -> Result<(), RenderError> {
    use std::io::Write;
    for object in doc.objects.values_mut() {
        let Object::Stream(stream) = object else {
            continue;
        };
        if !stream.allows_compression || stream.dict.get(b"Filter").is_ok() {
            continue;
        }
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&stream.content).map_err(pdf_error)?;
        let compressed = encoder.finish().map_err(pdf_error)?;
        if compressed.len() + 19 < stream.content.len() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(compressed);
        }
    }
    Ok(())
}

/// Adds the signed facts and the document signature to `doc` and writes it.
pub(crate) fn seal(
    doc: &mut lopdf::Document,
    signed: &SignedFacts,
    keys: &SigningKeys,
) -> Result<Vec<u8>, RenderError> {
    seal_with(
        doc,
        &[
            ("SandPayload", signed.payload_base64()),
            ("SandSignature", signed.signature_base64()),
        ],
        keys,
    )
}

/// Adds `entries` (literal strings) and the document signature to `doc`'s information
/// dictionary and writes it, signed.
pub(crate) fn seal_with(
    doc: &mut lopdf::Document,
    entries: &[(&str, String)],
    keys: &SigningKeys,
) -> Result<Vec<u8>, RenderError> {
    let info_id = match doc.trailer.get(b"Info").and_then(Object::as_reference) {
        Ok(id) => id,
        Err(_) => {
            let id = doc.add_object(Dictionary::new());
            doc.trailer.set("Info", id);
            id
        }
    };
    let info = doc
        .get_object_mut(info_id)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_error)?;
    for (name, value) in entries {
        info.set(*name, Object::string_literal(value.as_str()));
    }
    info.set(
        "SandDocumentSignature",
        Object::String(vec![0; 64], StringFormat::Hexadecimal),
    );
    compress(doc)?;
    let mut bytes = Vec::with_capacity(64 * 1024);
    doc.save_to(&mut bytes).map_err(pdf_error)?;
    let range = document_signature_range(&bytes)
        .ok_or_else(|| RenderError::Pdf("the signature placeholder was not written".into()))?;
    let signature = keys.sign(&document_message(&bytes, &range));
    let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
    bytes[range].copy_from_slice(hex.as_bytes());
    Ok(bytes)
}

/// Whether the document signature of `bytes` is `key`'s over the file as it is.
pub(crate) fn document_intact(bytes: &[u8], key: &crate::keys::PublicKey) -> bool {
    document_signature_range(bytes).is_some_and(|range| {
        let mut signature = [0u8; 64];
        let hex = &bytes[range.clone()];
        for (i, byte) in signature.iter_mut().enumerate() {
            let pair = std::str::from_utf8(&hex[2 * i..2 * i + 2]).unwrap_or("zz");
            match u8::from_str_radix(pair, 16) {
                Ok(b) => *byte = b,
                Err(_) => return false,
            }
        }
        key.verifies(&document_message(bytes, &range), &signature)
    })
}

/// The literal string after the only `/name` of `bytes` (a receipt's JWS), if any.
pub(crate) fn info_string<'b>(bytes: &'b [u8], name: &[u8]) -> Option<&'b str> {
    let range = delimited(bytes, name, b'(', b')')?;
    std::str::from_utf8(&bytes[range]).ok()
}

/// Checks a document offline with `keys`.
#[must_use]
pub fn verify_pdf(bytes: &[u8], keys: &VerificationKeys) -> Verdict {
    if bytes.len() > MAX_PDF_BYTES {
        return not_attestation("fichier trop grand pour être une attestation");
    }
    if !bytes.starts_with(b"%PDF-") {
        return not_attestation("ce fichier n'est pas un PDF");
    }
    let (Some(payload), Some(signature)) = (
        delimited(bytes, PAYLOAD, b'(', b')'),
        delimited(bytes, FACTS_SIGNATURE, b'(', b')'),
    ) else {
        return not_attestation("aucune attestation SAND signée dans ce PDF");
    };
    let (Ok(payload), Ok(signature)) = (
        std::str::from_utf8(&bytes[payload]),
        std::str::from_utf8(&bytes[signature]),
    ) else {
        return Verdict::Forged;
    };
    let signed = match SignedFacts::from_base64(payload, signature) {
        Ok(signed) => signed,
        Err(_) => return Verdict::Forged,
    };
    let (facts, key) = match signed.verify(keys) {
        Ok(found) => found,
        Err(FactsError::UnknownKey(id)) => return Verdict::UnknownKey(id),
        Err(_) => return Verdict::Forged,
    };
    let demo = key.demo;
    if document_intact(bytes, key) {
        Verdict::Intact {
            key: key.id,
            facts,
            demo,
        }
    } else {
        Verdict::Altered { facts, demo }
    }
}
