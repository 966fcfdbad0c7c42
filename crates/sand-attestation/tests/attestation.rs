//! Attestations checked with real tools: poppler's `pdftotext`, `pdftoppm` and `pdfinfo`, Apache PDFBox Preflight
//! (installed by the test command) and a QR decoder.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use sand_attestation::payload::{Facts, SignedFacts};
use sand_attestation::sample::sample_attestation;
use sand_attestation::{
    Issuer, KeyId, PdfAttestationRenderer, SigningKeys, Verdict, VerificationKeys, verify_pdf,
};
use sand_domain::diploma::{Mention, Speciality};
use sand_domain::identity::{BirthName, BirthPlace, Civility, FirstNames, UsageName};
use sand_domain::ports::{Attestation, AttestationRenderer};
use time::macros::datetime;

const BASE: &str = "https://attestations.example.fr/verifier";

fn issuer() -> Issuer {
    Issuer {
        operator: "Opérateur d'exemple — Service des attestations".to_owned(),
        verification_url: BASE.to_owned(),
    }
}

fn renderer(keys: &Arc<SigningKeys>) -> PdfAttestationRenderer {
    PdfAttestationRenderer::new(issuer(), Arc::clone(keys)).unwrap()
}

fn real_keys() -> Arc<SigningKeys> {
    Arc::new(SigningKeys::generate().unwrap())
}

fn trusted(keys: &SigningKeys) -> VerificationKeys {
    let mut trusted = VerificationKeys::new();
    trusted.add_signing(keys);
    trusted
}

fn sample() -> Attestation {
    sample_attestation(datetime!(2026-11-24 10:00 UTC)).unwrap()
}

/// A holder with a very long compound birth name, many first names, every French
/// accented character, apostrophes.
fn tricky() -> Attestation {
    let mut a = sample();
    let h = &mut a.record.holder;
    h.civility = Some(Civility::Monsieur);
    h.identity.birth_name =
        BirthName::parse("de La Tour d'Auvergne-Lauraguais-Montmorency-Beaufort-Spontin").unwrap();
    h.identity.first_names = FirstNames::parse([
        "Jean-Baptiste",
        "Hélène",
        "Anaïs",
        "Joël",
        "François",
        "Jérôme",
        "Lætitia",
        "Œnone",
        "Zoé",
    ])
    .unwrap();
    h.identity.birth_place = Some(BirthPlace::parse("L'Haÿ-les-Roses").unwrap());
    h.usage_name = Some(UsageName::parse("N'Diaye-Lefèvre").unwrap());
    a.record.award.speciality = Some(
        Speciality::parse(
            "Lettres : été, mère, fête, Noël, là, âme, ça, cœur, Œdipe, ex æquo, naïf, rôle, où, sûr, aigüe, Ÿ",
        )
        .unwrap(),
    );
    a.record.award.mention = Some(Mention::TresBienFelicitations);
    a
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is missing: `bash tests/run.sh` installs it"
    );
    Command::new(name)
}

fn temp_pdf(bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "sand-attestation-{}-{}.pdf",
        std::process::id(),
        uuid_like()
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The page's text: `-layout` keeps each label beside its value, `-raw` follows the
/// content stream (the diagonal watermark comes out whole).
fn pdftotext(path: &Path, mode: &str) -> String {
    let out = tool("pdftotext")
        .args([mode, "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The text with lines joined: whitespace collapsed, a hyphen at a line's end glued
/// to the next line (where a long name was wrapped).
fn flat(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("- ", "-")
}

fn render(renderer: &PdfAttestationRenderer, a: &Attestation) -> Vec<u8> {
    renderer.render_pdf(a).unwrap()
}

#[test]
fn every_field_of_a_tricky_identity_is_in_the_text_exactly() {
    let keys = real_keys();
    let attestation = tricky();
    let bytes = render(&renderer(&keys), &attestation);
    assert!(bytes.len() < 100 * 1024, "{} bytes", bytes.len());
    let path = temp_pdf(&bytes);
    // in the order the page is written (its reading order): label, value, English label
    let text = flat(&pdftotext(&path, "-raw"));
    for expected in [
        "Attestation de réussite au diplôme",
        "Opérateur d'exemple — Service des attestations",
        "Civilité Monsieur",
        "Nom d'usage N'Diaye-Lefèvre",
        "de La Tour d'Auvergne-Lauraguais-Montmorency-Beaufort-Spontin",
        "N'Diaye-Lefèvre",
        "Jean-Baptiste, Hélène, Anaïs, Joël, François, Jérôme, Lætitia, Œnone, Zoé",
        "Né le 12 avril 2003",
        "L'Haÿ-les-Roses",
        "Diplôme Baccalauréat général",
        "Session 2021",
        "Académie Lyon",
        "Résultats tenus par Service des examens et concours du rectorat de l'académie de Lyon Results held by",
        "Délibération du jury 5 juillet 2021",
        "Lettres : été, mère, fête, Noël, là, âme, ça, cœur, Œdipe, ex æquo, naïf, rôle, où, sûr, aigüe, Ÿ",
        "Mention très bien avec les félicitations du jury",
        "24 novembre 2026",
        "SPEC 1MEN",
        BASE,
        // the verifier types the key and the holder's name: the document says both
        "saisissez la clé de contrôle et le nom de naissance (ou le nom d'usage) du titulaire",
        "scannez le code QR puis saisissez ce nom",
        // an English line under each label, and the verification told in English
        "Civilité Monsieur Title",
        "Nom de naissance de La Tour d'Auvergne-Lauraguais-Montmorency-Beaufort-Spontin Surname at birth",
        "Né le 12 avril 2003 Date of birth",
        "Délibération du jury 5 juillet 2021 Jury's decision",
        "Titulaire (identité à la date de l'examen) / Holder",
        "Clé de contrôle / Control key",
        "type the control key and the holder's surname at birth (or usual surname)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("SPÉCIMEN"),
        "a real key's document is not a specimen"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn long_names_wrap_inside_the_page() {
    let keys = real_keys();
    let bytes = render(&renderer(&keys), &tricky());
    let path = temp_pdf(&bytes);
    // -bbox gives every word's box: none may cross the right margin (595 pt - 56 pt)
    let out = tool("pdftotext")
        .args(["-bbox", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    let mut words = 0;
    for line in html.lines().filter(|l| l.contains("<word ")) {
        let x_max: f32 = line
            .split("xMax=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(x_max <= 595.28 - 56.0 + 1.0, "overflow: {line}");
        words += 1;
    }
    assert!(words > 50);
    // and nothing runs into the footer ("Émis par …", the page's last line)
    let y = |line: &str, attribute: &str| -> f32 {
        line.split(&format!("{attribute}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let word_lines: Vec<&str> = html.lines().filter(|l| l.contains("<word ")).collect();
    let footer_top = word_lines
        .iter()
        .find(|l| l.contains(">Émis<"))
        .map(|l| y(l, "yMin"))
        .expect("the footer");
    let lowest_above = word_lines
        .iter()
        .take_while(|l| !l.contains(">Émis<"))
        .map(|l| y(l, "yMax"))
        .fold(0.0_f32, f32::max);
    assert!(
        lowest_above < footer_top,
        "the text reaches the footer: {lowest_above} ≥ {footer_top}"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn metadata_is_set() {
    let keys = real_keys();
    let path = temp_pdf(&render(&renderer(&keys), &sample()));
    let out = tool("pdfinfo").arg(&path).output().unwrap();
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(
        info.contains("Attestation de réussite au diplôme"),
        "{info}"
    );
    assert!(info.contains("Opérateur d'exemple"), "{info}");
    assert!(info.contains("2026"), "{info}");
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(info.contains("A4"), "{info}");
    std::fs::remove_file(path).unwrap();
}

fn png_of(path: &Path, dpi: u32) -> image::GrayImage {
    let prefix = path.with_extension("");
    let out = tool("pdftoppm")
        .args([
            "-png",
            "-gray",
            "-r",
            &dpi.to_string(),
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
        ])
        .arg(path)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = prefix.with_extension("png");
    let image = image::open(&png).unwrap().to_luma8();
    std::fs::remove_file(png).unwrap();
    image
}

#[test]
fn the_page_renders_and_its_qr_code_opens_the_prefilled_verification() {
    let keys = real_keys();
    let attestation = sample();
    let path = temp_pdf(&render(&renderer(&keys), &attestation));
    let image = png_of(&path, 300);
    let dark = image.pixels().filter(|p| p.0[0] < 128).count();
    let share = dark as f64 / (image.width() * image.height()) as f64;
    assert!(share > 0.01 && share < 0.5, "dark share {share}");

    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the page");
    let (_, content) = grids[0].decode().unwrap();
    let signed = SignedFacts::sign(&Facts::of(&attestation, &keys), &keys).unwrap();
    assert_eq!(content, signed.verification_url(BASE, "SPEC1MEN"));
    // what a browser sends (everything before the fragment) carries the key alone: the
    // identity stays out of request lines and logs
    let (sent, fragment) = content.split_once('#').unwrap();
    assert_eq!(sent, format!("{BASE}?cle=SPEC1MEN"));
    // a program checks the QR code's facts offline, from the fragment
    let param = |name: &str| {
        fragment
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
    };
    let (facts, _) = SignedFacts::from_base64(param("p"), param("s"))
        .unwrap()
        .verify(&trusted(&keys))
        .map(|(f, k)| (f, k.id))
        .unwrap();
    assert_eq!(facts.birth_name, "Durand");
    assert_eq!(facts.control_key, "SPEC1MEN");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn an_intact_document_verifies_and_names_its_facts() {
    let keys = real_keys();
    let bytes = render(&renderer(&keys), &tricky());
    match verify_pdf(&bytes, &trusted(&keys)) {
        Verdict::Intact { facts, key, demo } => {
            assert!(!demo);
            assert_eq!(key, keys.id());
            assert_eq!(facts.mention, "TBF");
            assert_eq!(facts.usage_name, "N'Diaye-Lefèvre");
        }
        other => panic!("{other:?}"),
    }
}

fn replace_once(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    bytes[at..at + from.len()].copy_from_slice(to);
}

fn payload_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.find("/SandPayload").unwrap();
    let rest = &text[start..];
    let open = rest.find('(').unwrap();
    let close = rest.find(')').unwrap();
    rest[open + 1..close].to_owned()
}

#[test]
fn a_changed_payload_is_refused() {
    let keys = real_keys();
    let mut bytes = render(&renderer(&keys), &sample());
    let payload = payload_of(&bytes);
    // the mention "B" becomes "TB" in the signed facts, re-encoded in place
    let mut facts = Facts::decode(&base64_decode(&payload)).unwrap();
    facts.mention = "TB".into();
    let forged = base64_encode(&facts.encode().unwrap());
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let forged_pdf = text.replacen(&payload, &forged, 1).into_bytes();
    assert_eq!(verify_pdf(&forged_pdf, &trusted(&keys)), Verdict::Forged);

    // the control key changed in the payload (same length)
    let mut facts = Facts::decode(&base64_decode(&payload)).unwrap();
    facts.control_key = "ZZZZZZZZ".into();
    let other = base64_encode(&facts.encode().unwrap());
    assert_eq!(other.len(), payload.len());
    replace_once(&mut bytes, payload.as_bytes(), other.as_bytes());
    assert_eq!(verify_pdf(&bytes, &trusted(&keys)), Verdict::Forged);
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn an_edited_document_is_altered_even_with_genuine_facts() {
    let keys = real_keys();
    let bytes = render(&renderer(&keys), &sample());
    let trusted = trusted(&keys);

    // the page's text edited with a PDF library: the visible mention changes
    let mut doc = lopdf::Document::load_mem(&bytes).unwrap();
    let page = *doc.get_pages().values().next().unwrap();
    let mut content = doc.get_page_content(page);
    content.extend_from_slice(b"\nBT /F1 30 Tf 100 100 Td <0041> Tj ET\n");
    doc.change_page_content(page, content).unwrap();
    let mut edited = Vec::new();
    doc.save_to(&mut edited).unwrap();
    assert!(
        matches!(verify_pdf(&edited, &trusted), Verdict::Altered { .. }),
        "edited text"
    );

    // one byte flipped in the middle of the file
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    assert!(matches!(
        verify_pdf(&flipped, &trusted),
        Verdict::Altered { .. }
    ));

    // an incremental update appended
    let mut appended = bytes.clone();
    appended.extend_from_slice(b"\n1 0 obj << /Type /Annot >> endobj\n%%EOF\n");
    assert!(matches!(
        verify_pdf(&appended, &trusted),
        Verdict::Altered { .. }
    ));

    // and the untouched file still verifies
    assert!(matches!(
        verify_pdf(&bytes, &trusted),
        Verdict::Intact { .. }
    ));
}

#[test]
fn another_key_is_unknown_or_forged() {
    let keys = real_keys();
    let attacker = real_keys();
    let bytes = render(&renderer(&attacker), &sample());
    assert_eq!(
        verify_pdf(&bytes, &trusted(&keys)),
        Verdict::UnknownKey(attacker.id())
    );
    // facts claiming the genuine key, signed by another
    let mut facts = Facts::of(&sample(), &keys);
    facts.mention = "TBF".into();
    let forged = SignedFacts::sign(&facts, &attacker).unwrap();
    assert!(forged.verify(&trusted(&keys)).is_err());
    let mut doc_bytes = bytes.clone();
    let payload = payload_of(&doc_bytes);
    let text = String::from_utf8_lossy(&doc_bytes).into_owned();
    doc_bytes = text
        .replacen(&payload, &forged.payload_base64(), 1)
        .into_bytes();
    assert_eq!(verify_pdf(&doc_bytes, &trusted(&keys)), Verdict::Forged);
}

#[test]
fn after_a_rotation_old_documents_still_verify() {
    let old = real_keys();
    let new = real_keys();
    let old_doc = render(&renderer(&old), &sample());
    let mut keys = VerificationKeys::new();
    keys.add_signing(&new);
    keys.add_pem(&old.public_pem().unwrap()).unwrap();
    assert!(matches!(verify_pdf(&old_doc, &keys), Verdict::Intact { key, .. } if key == old.id()));
    let new_doc = render(&renderer(&new), &sample());
    assert!(matches!(verify_pdf(&new_doc, &keys), Verdict::Intact { key, .. } if key == new.id()));
}

#[test]
fn a_demo_document_says_so_on_the_page_and_to_the_checker() {
    let keys = Arc::new(SigningKeys::demo());
    let bytes = render(&renderer(&keys), &sample());
    let path = temp_pdf(&bytes);
    let text = flat(&pdftotext(&path, "-raw"));
    // the diagonal mark comes out letter-spaced: compare without spaces
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        compact.contains("SPÉCIMEN—documentdedémonstrationsansvaleur"),
        "{text}"
    );
    assert!(
        text.contains("DOCUMENT DE DÉMONSTRATION — SANS VALEUR"),
        "{text}"
    );
    assert!(
        matches!(
            verify_pdf(&bytes, &VerificationKeys::new()),
            Verdict::Intact { demo: true, .. }
        ),
        "the demo key is always known, and reported as such"
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn hostile_files_are_not_attestations() {
    let keys = VerificationKeys::new();
    for bytes in [
        Vec::new(),
        b"hello".to_vec(),
        b"%PDF-1.7\n%%EOF".to_vec(),
        vec![0u8; 10_000],
        b"%PDF-1.7 /SandPayload (!!!) /SandSignature (???)".to_vec(),
        vec![b'%'; sand_attestation::verify::MAX_PDF_BYTES + 1],
    ] {
        assert!(
            matches!(
                verify_pdf(&bytes, &keys),
                Verdict::NotAnAttestation(_) | Verdict::Forged
            ),
            "{:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        );
    }
    // two payloads: ambiguous, refused
    let demo = Arc::new(SigningKeys::demo());
    let mut bytes = render(&renderer(&demo), &sample());
    let payload = payload_of(&bytes);
    bytes.extend_from_slice(format!("/SandPayload ({payload})").as_bytes());
    assert!(matches!(
        verify_pdf(&bytes, &keys),
        Verdict::NotAnAttestation(_)
    ));
}

#[tokio::test]
async fn the_port_names_the_file_and_its_type() {
    let keys = real_keys();
    let rendered = renderer(&keys).render(&sample()).await.unwrap();
    assert_eq!(rendered.media_type, "application/pdf");
    assert_eq!(rendered.file_name, "attestation-bacg-2021-SPEC1MEN.pdf");
    assert!(rendered.bytes.starts_with(b"%PDF-"));
}

#[test]
fn key_ids_are_stable_text() {
    let keys = SigningKeys::demo();
    assert_eq!(KeyId::parse(&keys.id().to_string()), Some(keys.id()));
}

/// The day of issue is Paris's day: issued at 22:30 UTC on 30 June (0h30 in Paris), the
/// document and its signed facts say 1 July.
#[test]
fn the_day_of_issue_is_the_day_in_paris() {
    let keys = real_keys();
    let attestation = sample_attestation(datetime!(2027-06-30 22:30 UTC)).unwrap();
    let bytes = render(&renderer(&keys), &attestation);
    let path = temp_pdf(&bytes);
    let text = flat(&pdftotext(&path, "-layout"));
    assert!(text.contains("1er juillet 2027"), "{text}");
    assert!(!text.contains("30 juin 2027"), "{text}");
    match verify_pdf(&bytes, &trusted(&keys)) {
        Verdict::Intact { facts, .. } => {
            assert_eq!(facts.issued_on, time::macros::date!(2027 - 07 - 01));
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(path).unwrap();
}

/// The attestation is a tagged PDF: French as its language, a structure tree in reading
/// order (the title a level-1 heading, the sections level-2 headings, each label and
/// value a paragraph, the English lines in English, the QR code a figure with its text
/// alternative, read after the key it carries), the demonstration watermark and the
/// rules artifacts that are not read; and it still verifies.
#[test]
fn the_attestation_is_a_tagged_pdf_in_reading_order() {
    let keys = Arc::new(SigningKeys::demo());
    let bytes = render(&renderer(&keys), &sample());
    let path = temp_pdf(&bytes);
    let info = String::from_utf8(tool("pdfinfo").arg(&path).output().unwrap().stdout).unwrap();
    assert!(info.contains("Tagged:          yes"), "{info}");
    let structure = String::from_utf8(
        tool("pdfinfo")
            .args(["-struct-text"])
            .arg(&path)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(structure.starts_with("Document\n"), "{structure}");
    let at = |needle: &str| {
        structure
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in:\n{structure}"))
    };
    let title = at("H1 (block)\n    \"Attestation de réussite au diplôme\"");
    let holder = at("H2 (block)\n    \"Titulaire (identité à la date de l'examen) / Holder\"");
    let name = at("P (block)\n    \"Durand\"");
    let verification = at("H2 (block)\n    \"Vérification / Verification\"");
    let key = at("P (block)\n    \"SPEC 1MEN\"");
    let figure = at("Figure");
    assert!(title < holder && holder < name && name < verification);
    assert!(
        verification < key && key < figure,
        "the QR code after the key it carries"
    );
    assert_eq!(structure.matches("H2 (block)").count(), 3);
    // the watermark is drawn, but not read
    assert!(!structure.contains("SPÉCIMEN"), "{structure}");
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("/Lang(fr-FR)"), "the document's language");
    assert!(raw.contains("/MarkInfo<</Marked true>>"));
    assert!(raw.contains("/DisplayDocTitle true"));
    assert!(
        raw.matches("/Lang(en)").count() >= 12,
        "each English line is marked as English"
    );
    assert_eq!(raw.matches("/S/Figure").count(), 1);
    assert!(raw.contains("/Alt<FEFF"), "the QR code's text alternative");
    // tagging happens before sealing: the document still verifies
    assert!(matches!(
        verify_pdf(&bytes, &trusted(&keys)),
        Verdict::Intact { demo: true, .. }
    ));
    std::fs::remove_file(path).unwrap();
}

/// The libraries of Apache PDFBox's Preflight, the PDF/A-1b validator, as Debian installs
/// them (packages libpdfbox2-java, libactivation-java, libjaxb-api-java).
const PREFLIGHT_CLASSPATH: [&str; 7] = [
    "preflight.jar",
    "pdfbox2.jar",
    "fontbox2.jar",
    "xmpbox.jar",
    "commons-logging.jar",
    "javax.activation.jar",
    "jaxb-api.jar",
];

/// What Apache PDFBox's Preflight says of `pdf`.
fn preflight(pdf: &Path) -> String {
    let jars: Vec<String> = PREFLIGHT_CLASSPATH
        .iter()
        .map(|jar| {
            let path = Path::new("/usr/share/java").join(jar);
            assert!(
                path.exists(),
                "{} is missing (Apache PDFBox Preflight): `bash tests/run.sh` installs it",
                path.display()
            );
            path.display().to_string()
        })
        .collect();
    let out = tool("java")
        .args([
            "-cp",
            &jars.join(":"),
            "org.apache.pdfbox.preflight.Validator_A1b",
        ])
        .arg(pdf)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every attestation is a PDF/A-1b document, as an independent validator (Apache PDFBox
/// Preflight) reads it: a demonstration and a real one with every French character;
/// its metadata declares it; and it still verifies.
#[test]
fn the_attestation_is_pdf_a_1b_by_an_independent_validator() {
    let demo = Arc::new(SigningKeys::demo());
    let real = real_keys();
    for (keys, attestation) in [(&demo, sample()), (&real, tricky())] {
        let bytes = render(&renderer(keys), &attestation);
        let path = temp_pdf(&bytes);
        let report = preflight(&path);
        assert!(report.contains("is a valid PDF/A-1b file"), "{report}");
        let raw = String::from_utf8_lossy(&bytes);
        assert!(
            raw.contains("<pdfaid:part>1</pdfaid:part>"),
            "XMP, uncompressed"
        );
        assert!(raw.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
        assert!(raw.contains("/S/GTS_PDFA1"), "the sRGB output intent");
        assert!(matches!(
            verify_pdf(&bytes, &trusted(keys)),
            Verdict::Intact { .. }
        ));
        std::fs::remove_file(path).unwrap();
    }
}

/// The validator is no rubber stamp: the same attestation without its output intent is
/// refused (its colours then have no defined meaning).
#[test]
fn the_validator_refuses_an_attestation_without_its_output_intent() {
    let keys = Arc::new(SigningKeys::demo());
    let bytes = render(&renderer(&keys), &sample());
    let mut doc = lopdf::Document::load_mem(&bytes).unwrap();
    doc.catalog_mut().unwrap().remove(b"OutputIntents");
    let mut stripped = Vec::new();
    doc.save_to(&mut stripped).unwrap();
    let path = temp_pdf(&stripped);
    let report = preflight(&path);
    assert!(report.contains("is not a valid PDF/A-1b file"), "{report}");
    std::fs::remove_file(path).unwrap();
}

/// The signed facts of the sample attestation, issued with the public demonstration key
/// by SAND before issuers existed (format v1; Ed25519 signatures are deterministic).
/// Attestations in graduates' hands carry such payloads: they must verify forever, so
/// the encoding of the signed facts may not change, and issuers are printed beside them,
/// never signed into them.
const ISSUED_BEFORE_ISSUERS: (&str, &str) = (
    "U0FORDEKMQo4OWFmYzc4MDBkZjY0Mzg4ClNQRUMxTUVOCjIwMjYtMTEtMjQKQkFDRwpNYXRow6ltYXRpcXVlcywgcGh5c2lxdWUtY2hpbWllCkIKMjAyMQoxMAoyMDIxLTA3LTA1Ck1hZGFtZQpEdXJhbmQKTWFydGluCkNhbWlsbGUsIE1hcmllCjIwMDMtMDQtMTIKTHlvbiAzZSBBcnJvbmRpc3NlbWVudA",
    "xx9gu4C3EFvFQI73Xp4VYhdav8ZotIxEo-3AkBtPaBGc12tz6mQfNOafZMhRmpgn8F88glQMBuE2HUxpqDL4Cg",
);

#[test]
fn an_attestation_issued_before_issuers_existed_still_verifies_and_is_encoded_the_same() {
    let demo = SigningKeys::demo();
    let signed = SignedFacts::sign(&Facts::of(&sample(), &demo), &demo).unwrap();
    assert_eq!(
        (
            signed.payload_base64().as_str(),
            signed.signature_base64().as_str()
        ),
        ISSUED_BEFORE_ISSUERS,
        "the signed facts' encoding changed: attestations already issued would not verify"
    );
    let (payload, signature) = ISSUED_BEFORE_ISSUERS;
    let old = SignedFacts::from_base64(payload, signature).unwrap();
    let (facts, _) = old.verify(&trusted(&demo)).unwrap();
    assert_eq!(facts.academie, "10");
    assert_eq!(facts.birth_name, "Durand");
}

#[test]
fn the_page_names_the_issuer_that_holds_the_result_from_the_registry() {
    use sand_domain::issuer::{Contact, Issuer as Holder, IssuerCode, IssuerKind, IssuerRegistry};
    let mut issuers = IssuerRegistry::offices_only().all().to_vec();
    issuers.push(Holder {
        code: "0691774D".to_owned(),
        kind: IssuerKind::HigherEducation,
        name: "Université d'exemple Lyon 4".to_owned(),
        exports: vec![sand_domain::academie::Academie::Lyon],
        serves: Vec::new(),
        website: None,
        contact: Contact::default(),
        covers_from: std::collections::BTreeMap::new(),
    });
    let registry = Arc::new(IssuerRegistry::new(issuers, None).unwrap());
    let keys = real_keys();
    let mut attestation = sample();
    attestation.record.source.exam_office = IssuerCode::parse("0691774D").unwrap();
    let bytes = render(
        &renderer(&keys).with_issuers(Arc::clone(&registry)),
        &attestation,
    );
    let path = temp_pdf(&bytes);
    let text = flat(&pdftotext(&path, "-raw"));
    assert!(
        text.contains("Résultats tenus par Université d'exemple Lyon 4 Results held by"),
        "{text}"
    );
    assert!(!text.contains("rectorat"), "{text}");
    // printed, not signed: the facts are those of format v1, and the document verifies
    assert!(matches!(
        verify_pdf(&bytes, &trusted(&keys)),
        Verdict::Intact { .. }
    ));
    // an issuer the renderer does not know is named by its code
    attestation.record.source.exam_office = IssuerCode::parse("0751717J").unwrap();
    let unknown = temp_pdf(&render(&renderer(&keys), &attestation));
    assert!(flat(&pdftotext(&unknown, "-raw")).contains("Résultats tenus par 0751717J"));
    std::fs::remove_file(path).unwrap();
    std::fs::remove_file(unknown).unwrap();
}
