//! The attestation document: an A4 page laid out by hand with printpdf, DejaVu fonts
//! embedded (subset), the QR code drawn as vector squares, then signed.

use std::sync::Arc;

use async_trait::async_trait;
use printpdf::{
    Color, FontId, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem, TextMatrix, WindingOrder,
};
use qrcode::EcLevel;
use qrcode::canvas::{Canvas, MaskPattern};
use sand_domain::PortError;
use sand_domain::issuer::IssuerRegistry;
use sand_domain::ports::{Attestation, AttestationRenderer, RenderedAttestation};
use tracing::instrument;

pub use crate::error::RenderError;
use crate::keys::SigningKeys;
use crate::payload::{Facts, SignedFacts};
use crate::verify;

/// Who issues the attestations, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// The operator's name, printed as the issuing authority.
    pub operator: String,
    /// The public verification page, printed and opened by the QR code
    /// (e.g. `https://attestations.example.fr/verifier`).
    pub verification_url: String,
}

const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN: f32 = 56.0;
const CONTENT_WIDTH: f32 = PAGE_WIDTH - 2.0 * MARGIN;
const LABEL_WIDTH: f32 = 150.0;
const QR_SIZE: f32 = 124.0;

const INK: (f32, f32, f32) = (0.08, 0.09, 0.12);
const MUTED: (f32, f32, f32) = (0.33, 0.35, 0.40);
const ACCENT: (f32, f32, f32) = (0.10, 0.23, 0.45);
const DEMO_RED: (f32, f32, f32) = (0.75, 0.08, 0.08);
const WATERMARK: (f32, f32, f32) = (0.98, 0.80, 0.80);

/// The watermark on every page of a demonstration attestation.
pub const SPECIMEN_TEXT: &str = "SPÉCIMEN — document de démonstration sans valeur";

/// Renders attestations as signed PDF documents.
pub struct PdfAttestationRenderer {
    issuer: Issuer,
    keys: Arc<SigningKeys>,
    /// Names the body that holds each record's result (printed, not signed: the signed
    /// facts stay those of format v1, so attestations issued before issuers existed
    /// still verify).
    holders: Arc<IssuerRegistry>,
    regular: ParsedFont,
    bold: ParsedFont,
    /// The sRGB colour profile every document declares as its output intent.
    srgb: Vec<u8>,
}

impl std::fmt::Debug for PdfAttestationRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfAttestationRenderer")
            .field("issuer", &self.issuer)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn font(bytes: &[u8]) -> Result<ParsedFont, RenderError> {
    ParsedFont::from_bytes(bytes, 0, &mut Vec::new()).ok_or(RenderError::Font)
}

pub use sand_domain::text::french_date;

/// One page being laid out, top to bottom.
struct Layout<'f> {
    ops: Vec<Op>,
    y: f32,
    fonts: [(&'f ParsedFont, FontId); 2],
    /// The structure of what is drawn, in reading order: one element per marked-content
    /// sequence, its MCID being its index (see [`crate::tagging`]).
    tags: Vec<crate::tagging::Tag>,
    /// Text sizes and line spacing are multiplied by it: below 1 when the longest
    /// identities and issuer names would otherwise run into the footer.
    scale: f32,
}

/// The text scales tried in turn, largest first, until the page's body fits above its
/// footer.
const SCALES: [f32; 5] = [1.0, 0.94, 0.88, 0.82, 0.76];

#[derive(Clone, Copy)]
enum Face {
    Regular = 0,
    Bold = 1,
}

impl<'f> Layout<'f> {
    fn width(&self, face: Face, size: f32, text: &str) -> f32 {
        let font = self.fonts[face as usize].0;
        let units = f32::from(font.pdf_font_metrics.units_per_em.max(1));
        let advance: u32 = text
            .chars()
            .map(|c| {
                font.lookup_glyph_index(u32::from(c))
                    .map_or(0, |gid| u32::from(font.get_horizontal_advance(gid)))
            })
            .sum();
        advance as f32 * size / units
    }

    /// Opens the marked content of a new structure element (`role` such as `P`, `H1`,
    /// `Figure`; `lang` when it differs from the document's).
    fn open(&mut self, role: &'static str, lang: Option<&'static str>, alt: Option<String>) {
        let mcid = i64::try_from(self.tags.len()).unwrap_or(i64::MAX);
        let mut properties = std::collections::BTreeMap::new();
        properties.insert("MCID".to_owned(), printpdf::DictItem::Int(mcid));
        self.ops.push(Op::BeginMarkedContentWithProperties {
            tag: role.to_owned(),
            properties: printpdf::DictItem::Dict { map: properties },
        });
        self.tags.push(crate::tagging::Tag { role, lang, alt });
    }

    fn close(&mut self) {
        self.ops.push(Op::EndMarkedContent);
    }

    /// Draws what `draw` draws as an artifact: decoration that is not read (the rules,
    /// the demonstration watermark).
    fn artifact(&mut self, draw: impl FnOnce(&mut Self)) {
        self.ops.push(Op::BeginMarkedContent {
            tag: "Artifact".to_owned(),
        });
        draw(self);
        self.ops.push(Op::EndMarkedContent);
    }

    fn color(&mut self, (r, g, b): (f32, f32, f32)) {
        self.ops.push(Op::SetFillColor {
            col: Color::Rgb(Rgb::new(r, g, b, None)),
        });
    }

    fn text_at(&mut self, face: Face, size: f32, x: f32, y: f32, text: &str) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(self.fonts[face as usize].1.clone()),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32) {
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(width),
                height: Pt(height),
                mode: Some(PaintMode::Fill),
                winding_order: Some(WindingOrder::NonZero),
            },
        });
    }

    /// Breaks `text` into lines no wider than `width`: at spaces, then after hyphens,
    /// then anywhere (a name is never cut off or let overflow).
    fn wrap(&self, face: Face, size: f32, text: &str, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let fits = |s: &str| self.width(face, size, s) <= width;
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if fits(&candidate) {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // the word alone: split after hyphens, then by characters
            let mut rest = word.to_owned();
            while !fits(&rest) {
                let cut = rest
                    .char_indices()
                    .rev()
                    .find(|&(i, c)| c == '-' && fits(&rest[..i + 1]))
                    .map(|(i, _)| i + 1)
                    .or_else(|| {
                        rest.char_indices()
                            .map(|(i, c)| i + c.len_utf8())
                            .take_while(|&end| fits(&rest[..end]))
                            .last()
                    })
                    .unwrap_or_else(|| rest.chars().next().map_or(rest.len(), char::len_utf8));
                lines.push(rest[..cut].to_owned());
                rest = rest[cut..].to_owned();
            }
            line = rest;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// A wrapped paragraph at the cursor, tagged `P`; moves the cursor down.
    fn paragraph(&mut self, face: Face, size: f32, x: f32, width: f32, text: &str) {
        self.tagged(("P", None), face, size, x, width, text);
    }

    /// A wrapped paragraph at the cursor, one structure element of `role` (in `lang`
    /// when it is not the document's French); moves the cursor down.
    fn tagged(
        &mut self,
        (role, lang): (&'static str, Option<&'static str>),
        face: Face,
        size: f32,
        x: f32,
        width: f32,
        text: &str,
    ) {
        let size = size * self.scale;
        let leading = size * 1.35;
        self.open(role, lang, None);
        for line in self.wrap(face, size, text, width) {
            self.y -= leading;
            self.text_at(face, size, x, self.y, &line);
        }
        self.close();
    }

    /// `label` in the left column with its English line under it (for foreign
    /// verifiers), `value` (wrapped) in the right one.
    fn field(&mut self, (label, english): (&str, &str), value: &str) {
        let size = 10.5;
        let leading = size * 1.4 * self.scale;
        let top = self.y;
        // drawn in reading order: the label, its value, then the label's English words
        self.color(MUTED);
        self.paragraph(Face::Regular, 9.5, MARGIN, LABEL_WIDTH - 8.0, label);
        let french_bottom = self.y;
        self.y = top;
        self.color(INK);
        self.paragraph(
            Face::Bold,
            size,
            MARGIN + LABEL_WIDTH,
            CONTENT_WIDTH - LABEL_WIDTH,
            value,
        );
        let value_bottom = self.y;
        self.y = french_bottom;
        self.color(MUTED);
        self.tagged(
            ("P", Some("en")),
            Face::Regular,
            7.0,
            MARGIN,
            LABEL_WIDTH - 8.0,
            english,
        );
        // a value on several lines ends lower than its labels: keep it apart from the next
        let gap = if value_bottom < self.y { 3.0 } else { 0.0 };
        self.y = self.y.min(value_bottom) - (leading - size * 1.35 * self.scale) - gap;
    }

    /// A section's heading, with its English words after a slash.
    fn heading(&mut self, (text, english): (&str, &str)) {
        self.y -= 9.0;
        self.color(ACCENT);
        self.tagged(
            ("H2", None),
            Face::Bold,
            12.0,
            MARGIN,
            CONTENT_WIDTH,
            &format!("{text} / {english}"),
        );
        self.y -= 4.0;
        let y = self.y;
        self.artifact(|page| page.rect(MARGIN, y, CONTENT_WIDTH, 0.8));
        self.y -= 4.0;
    }
}

impl PdfAttestationRenderer {
    /// A renderer for `issuer`, signing with `keys`.
    ///
    /// # Errors
    /// [`RenderError::Font`] if an embedded font cannot be read.
    pub fn new(issuer: Issuer, keys: Arc<SigningKeys>) -> Result<Self, RenderError> {
        Ok(Self {
            issuer,
            keys,
            holders: Arc::new(IssuerRegistry::offices_only()),
            regular: font(dejavu::sans::regular())?,
            bold: font(dejavu::sans::bold())?,
            srgb: crate::archival::srgb_profile()?,
        })
    }

    /// Names each record's issuer from `registry` (by default, only the académies' exam
    /// offices and the SIEC are known).
    #[must_use]
    pub fn with_issuers(mut self, registry: Arc<IssuerRegistry>) -> Self {
        self.holders = registry;
        self
    }

    /// Whether documents are marked and signed as demonstrations.
    #[must_use]
    pub fn is_demo(&self) -> bool {
        self.keys.is_demo()
    }

    /// Renders and signs one attestation.
    ///
    /// # Errors
    /// [`RenderError`].
    #[instrument(skip_all, err(level = "debug"))]
    pub fn render_pdf(&self, attestation: &Attestation) -> Result<Vec<u8>, RenderError> {
        let facts = Facts::of(attestation, &self.keys);
        let signed = SignedFacts::sign(&facts, &self.keys)?;
        let url = signed.verification_url(&self.issuer.verification_url, &facts.control_key);
        let qr = qr_code(url.as_bytes())?;

        let mut doc = PdfDocument::new("Attestation de réussite au diplôme");
        let fonts = [
            (&self.regular, doc.add_font(&self.regular)),
            (&self.bold, doc.add_font(&self.bold)),
        ];
        let code = attestation.record.source.exam_office;
        let holder = self
            .holders
            .get(code.code())
            .map_or_else(|| code.code().to_owned(), |i| i.name.clone());
        let (page, room) = self.page(&fonts, &facts, &holder, &qr);
        if room < 0.0 {
            // still a valid, signed document: said once, for the layout to be fixed
            tracing::warn!(
                overlap_pt = -room,
                "the attestation's body runs into its footer"
            );
        }

        let description = crate::archival::Description {
            title: "Attestation de réussite au diplôme".to_owned(),
            author: self.issuer.operator.clone(),
            subject: format!(
                "{} — session {} — {}",
                facts.kind_title(),
                facts.session,
                facts.academie_name()
            ),
            keywords: vec!["attestation".into(), "diplôme".into()],
            produced: attestation.issued_at,
        };
        let mut lopdf = doc
            .with_pages(vec![PdfPage::new(
                Mm::from(Pt(PAGE_WIDTH)),
                Mm::from(Pt(PAGE_HEIGHT)),
                page.ops,
            )])
            .to_lopdf_document(&PdfSaveOptions::default(), &mut Vec::new());
        crate::tagging::add_structure(&mut lopdf, &page.tags)?;
        crate::archival::make_archival(&mut lopdf, &description, &self.srgb)?;
        verify::seal(&mut lopdf, &signed, &self.keys)
    }

    /// The page laid out at the largest text scale that fits, and the room left above
    /// its footer (negative if even the smallest scale does not fit).
    fn page<'f>(
        &self,
        fonts: &[(&'f ParsedFont, FontId); 2],
        facts: &Facts,
        holder: &str,
        qr: &Qr,
    ) -> (Layout<'f>, f32) {
        let mut tried = None;
        for scale in SCALES {
            let mut page = Layout {
                ops: Vec::with_capacity(512),
                y: PAGE_HEIGHT - MARGIN,
                fonts: fonts.clone(),
                tags: Vec::with_capacity(64),
                scale,
            };
            if facts.demo {
                page.artifact(watermark);
            }
            let room = self.lay_out(&mut page, facts, holder, qr);
            if room >= 0.0 {
                return (page, room);
            }
            tried = Some((page, room));
        }
        tried.unwrap_or_else(|| unreachable!("SCALES is not empty"))
    }

    /// Lays the page out; returns the room left between the body and the footer (in
    /// points; negative when they overlap).
    fn lay_out(&self, page: &mut Layout<'_>, facts: &Facts, holder: &str, qr: &Qr) -> f32 {
        if facts.demo {
            page.color(DEMO_RED);
            page.paragraph(
                Face::Bold,
                10.0,
                MARGIN,
                CONTENT_WIDTH,
                "DOCUMENT DE DÉMONSTRATION — SANS VALEUR — ne certifie aucun diplôme",
            );
            page.y -= 6.0;
        }
        page.color(MUTED);
        page.paragraph(
            Face::Bold,
            11.0,
            MARGIN,
            CONTENT_WIDTH,
            &self.issuer.operator,
        );
        page.y -= 14.0;
        page.color(INK);
        page.tagged(
            ("H1", None),
            Face::Bold,
            21.0,
            MARGIN,
            CONTENT_WIDTH,
            "Attestation de réussite au diplôme",
        );
        page.y -= 4.0;
        page.color(MUTED);
        page.paragraph(
            Face::Regular,
            10.0,
            MARGIN,
            CONTENT_WIDTH,
            &format!(
                "Attestation produite le {}, d'après les résultats définitifs transmis.",
                french_date(facts.issued_on),
            ),
        );

        page.heading(("Titulaire (identité à la date de l'examen)", "Holder"));
        if !facts.civility.is_empty() {
            page.field(("Civilité", "Title"), &facts.civility);
        }
        page.field(("Nom de naissance", "Surname at birth"), &facts.birth_name);
        if !facts.usage_name.is_empty() {
            page.field(("Nom d'usage", "Usual surname"), &facts.usage_name);
        }
        page.field(("Prénoms", "Given names"), &facts.first_names);
        let born = match facts.civility.as_str() {
            "Madame" => ("Née le", "Date of birth"),
            "Monsieur" => ("Né le", "Date of birth"),
            _ => ("Date de naissance", "Date of birth"),
        };
        page.field(born, &french_date(facts.birth_date));
        if !facts.birth_place.is_empty() {
            page.field(("Lieu de naissance", "Place of birth"), &facts.birth_place);
        }

        page.heading(("Diplôme obtenu", "Diploma awarded"));
        page.field(("Diplôme", "Diploma"), &facts.kind_title());
        if !facts.speciality.is_empty() {
            page.field(("Spécialité ou série", "Speciality"), &facts.speciality);
        }
        page.field(
            ("Mention", "Honours"),
            &facts.mention_label().unwrap_or_else(|| "—".to_owned()),
        );
        page.field(("Session", "Year of the exam"), &facts.session.to_string());
        page.field(("Académie", "Education authority"), &facts.academie_name());
        page.field(("Résultats tenus par", "Results held by"), holder);
        page.field(
            ("Délibération du jury", "Jury's decision"),
            &french_date(facts.deliberation),
        );

        // control key and QR code, side by side
        page.heading(("Vérification", "Verification"));
        let top = page.y - 6.0;
        let qr_x = PAGE_WIDTH - MARGIN - QR_SIZE;
        page.y = top;
        page.color(MUTED);
        page.paragraph(
            Face::Regular,
            10.0,
            MARGIN,
            qr_x - MARGIN - 16.0,
            "Clé de contrôle / Control key",
        );
        page.y -= 8.0;
        page.color(INK);
        let grouped = format!(
            "{} {}",
            facts.control_key.get(..4).unwrap_or(&facts.control_key),
            facts.control_key.get(4..).unwrap_or("")
        );
        page.y -= 26.0;
        page.open("P", None, None);
        page.text_at(Face::Bold, 30.0, MARGIN, page.y, &grouped);
        page.close();
        page.y -= 16.0;
        page.color(MUTED);
        page.paragraph(
            Face::Regular,
            9.5,
            MARGIN,
            qr_x - MARGIN - 16.0,
            &format!("Vérifier en ligne : {}", self.issuer.verification_url),
        );
        // the QR code beside them, read after them
        page.open(
            "Figure",
            None,
            Some(format!(
                "Code QR : il ouvre la page de vérification {} avec la clé {grouped} déjà saisie.",
                self.issuer.verification_url
            )),
        );
        draw_qr(page, qr, qr_x, top - QR_SIZE, QR_SIZE);
        page.close();
        page.y = page.y.min(top - QR_SIZE) - 6.0;
        page.color(INK);
        page.paragraph(
            Face::Regular,
            9.0,
            MARGIN,
            CONTENT_WIDTH,
            &format!(
                "Pour vérifier cette attestation, ouvrez {} et saisissez la clé de contrôle et \
                 le nom de naissance (ou le nom d'usage) du titulaire, ou scannez le code QR puis \
                 saisissez ce nom. Seule la vérification en ligne dit si la clé est toujours \
                 valide : le titulaire peut la révoquer, l'émetteur retirer un résultat. La \
                 signature électronique (Ed25519) du document se vérifie hors ligne ; toute \
                 modification du fichier l'invalide.",
                self.issuer.verification_url
            ),
        );
        page.color(MUTED);
        page.tagged(
            ("P", Some("en")),
            Face::Regular,
            8.0,
            MARGIN,
            CONTENT_WIDTH,
            &format!(
                "To verify: open {} (also in English), type the control key and the holder's \
                 surname at birth (or usual surname), or scan the QR code. Only this online \
                 check says whether the attestation is still valid.",
                self.issuer.verification_url
            ),
        );
        let footer = format!(
            "Émis par {} — clé de signature {}{}",
            self.issuer.operator,
            facts.key_id,
            if facts.demo { " (démonstration)" } else { "" },
        );
        let lines = page.wrap(Face::Regular, 7.5, &footer, CONTENT_WIDTH);
        page.color(MUTED);
        let body_bottom = page.y;
        page.y = MARGIN - 14.0 + lines.len() as f32 * 7.5 * 1.35;
        // the body's descenders against the footer's capitals, with 4 pt between them
        let room = (body_bottom - 2.5) - (page.y - 7.5 * 1.35 + 6.0) - 4.0;
        page.paragraph(Face::Regular, 7.5, MARGIN, CONTENT_WIDTH, &footer);
        room
    }
}

/// The diagonal "SPÉCIMEN" mark, beneath everything else.
fn watermark(page: &mut Layout<'_>) {
    page.color(WATERMARK);
    let size = 24.0;
    let width = page.width(Face::Bold, size, SPECIMEN_TEXT);
    let angle: f32 = 52.0;
    let (sin, cos) = angle.to_radians().sin_cos();
    let x = PAGE_WIDTH / 2.0 - cos * width / 2.0 + sin * size / 2.0;
    let y = PAGE_HEIGHT / 2.0 - sin * width / 2.0 - cos * size / 2.0;
    page.ops.extend([
        Op::StartTextSection,
        Op::SetFont {
            font: PdfFontHandle::External(page.fonts[Face::Bold as usize].1.clone()),
            size: Pt(size),
        },
        Op::SetTextMatrix {
            matrix: TextMatrix::TranslateRotate(Pt(x), Pt(y), angle),
        },
        Op::ShowText {
            items: vec![TextItem::Text(SPECIMEN_TEXT.to_owned())],
        },
        Op::EndTextSection,
    ]);
}

/// A QR code's modules, row by row (`true` is dark).
struct Qr {
    width: usize,
    dark: Vec<bool>,
}

/// Encodes `data` (error correction M) with a fixed mask pattern: choosing the "best"
/// of the eight masks, as encoders may, costs more than the rest of the document, and any
/// mask is valid (the decoder reads it from the code's format information).
fn qr_code(data: &[u8]) -> Result<Qr, RenderError> {
    let ec = EcLevel::M;
    let qr_error = |e: qrcode::types::QrError| RenderError::Qr(e.to_string());
    let bits = qrcode::bits::encode_auto(data, ec).map_err(qr_error)?;
    let version = bits.version();
    let (data, ec_data) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, ec).map_err(qr_error)?;
    let mut canvas = Canvas::new(version, ec);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec_data);
    canvas.apply_mask(MaskPattern::Checkerboard);
    let width =
        usize::try_from(version.width()).map_err(|_| RenderError::Qr("bad width".into()))?;
    let dark = canvas
        .into_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Ok(Qr { width, dark })
}

/// The QR code as filled rectangles (one per run of dark modules), its quiet zone left
/// white.
fn draw_qr(page: &mut Layout<'_>, qr: &Qr, x: f32, y: f32, size: f32) {
    let modules = qr.width;
    let quiet = 4;
    let cell = size / (modules + 2 * quiet) as f32;
    page.color((0.0, 0.0, 0.0));
    for row in 0..modules {
        let mut col = 0;
        while col < modules {
            if !qr.dark[row * modules + col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < modules && qr.dark[row * modules + col] {
                col += 1;
            }
            let left = x + (quiet + start) as f32 * cell;
            let top = y + size - (quiet + row) as f32 * cell;
            page.rect(left, top - cell, (col - start) as f32 * cell, cell);
        }
    }
}

#[async_trait]
impl AttestationRenderer for PdfAttestationRenderer {
    async fn render(&self, attestation: &Attestation) -> Result<RenderedAttestation, PortError> {
        let bytes = self
            .render_pdf(attestation)
            .map_err(PortError::unexpected)?;
        let scope = &attestation.record.scope;
        Ok(RenderedAttestation {
            media_type: "application/pdf",
            file_name: format!(
                "attestation-{}-{}-{}.pdf",
                scope.kind.code().to_lowercase(),
                scope.session.year(),
                attestation.key.as_str()
            ),
            bytes,
        })
    }
}

impl PdfAttestationRenderer {
    /// The PDF of a receipt this renderer signed (`compact`, whose claims are `claims`):
    /// it states the claims, carries the JWS, and is itself signed.
    ///
    /// # Errors
    /// [`RenderError`].
    #[instrument(skip_all, err(level = "debug"))]
    pub fn render_receipt_pdf(
        &self,
        compact: &str,
        claims: &serde_json::Value,
    ) -> Result<Vec<u8>, RenderError> {
        let text = |path: &[&str]| -> String {
            let mut at = claims;
            for name in path {
                at = at.get(*name).unwrap_or(&serde_json::Value::Null);
            }
            match at {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => String::new(),
            }
        };
        let day = |iso_date: String| {
            crate::payload::parse_iso_date(&iso_date).map_or(iso_date, french_date)
        };
        // `iat` is `verifie_le`, in seconds
        let checked = time::OffsetDateTime::from_unix_timestamp(
            claims
                .get("iat")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
        )
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let checked_at = sand_domain::text::french_moment(checked);
        let demo = claims.get("demonstration") == Some(&serde_json::Value::Bool(true));

        let mut doc = PdfDocument::new("Reçu de vérification d'une attestation de diplôme");
        let fonts = [
            (&self.regular, doc.add_font(&self.regular)),
            (&self.bold, doc.add_font(&self.bold)),
        ];
        let mut page = Layout {
            ops: Vec::with_capacity(512),
            y: PAGE_HEIGHT - MARGIN,
            fonts,
            tags: Vec::with_capacity(64),
            scale: 0.94,
        };
        if demo {
            page.artifact(watermark);
            page.color(DEMO_RED);
            page.paragraph(
                Face::Bold,
                10.0,
                MARGIN,
                CONTENT_WIDTH,
                "DOCUMENT DE DÉMONSTRATION — SANS VALEUR — ne certifie aucune vérification",
            );
            page.y -= 6.0;
        }
        page.color(MUTED);
        page.paragraph(
            Face::Bold,
            11.0,
            MARGIN,
            CONTENT_WIDTH,
            &self.issuer.operator,
        );
        page.y -= 12.0;
        page.color(INK);
        page.tagged(
            ("H1", None),
            Face::Bold,
            20.0,
            MARGIN,
            CONTENT_WIDTH,
            "Reçu de vérification / Verification receipt",
        );
        page.y -= 4.0;
        let organisation = text(&["organisme"]);
        page.paragraph(
            Face::Regular,
            10.0,
            MARGIN,
            CONTENT_WIDTH,
            &format!(
                "Le service a vérifié le {checked_at} (heure de Paris){} la clé de contrôle et le nom ci-dessous. Sa réponse : l'attestation est valide et certifie le diplôme décrit.",
                if organisation.is_empty() {
                    String::new()
                } else {
                    format!(", à la demande de l'organisme « {organisation} »,")
                }
            ),
        );
        page.heading(("Ce qui a été vérifié", "What was checked"));
        page.field(
            ("Clé de contrôle", "Control key"),
            &text(&["saisie", "cle"]),
        );
        page.field(("Nom saisi", "Name typed"), &text(&["saisie", "nom"]));
        let born = text(&["saisie", "date_naissance"]);
        if !born.is_empty() {
            page.field(("Date de naissance saisie", "Birth date typed"), &day(born));
        }
        if !organisation.is_empty() {
            page.field(
                ("Organisme (tel que saisi)", "Organisation (as typed)"),
                &organisation,
            );
        }
        page.field(("Vérifié le", "Checked on"), &checked_at);
        page.heading(("Réponse", "Answer"));
        page.field(
            ("Résultat", "Result"),
            "Attestation valide / Valid attestation",
        );
        page.heading(("Diplôme certifié", "Certified diploma"));
        let mut holder = format!(
            "{} {}",
            text(&["diplome", "titulaire", "prenoms"]),
            text(&["diplome", "titulaire", "nom_naissance"])
        );
        let usage = text(&["diplome", "titulaire", "nom_usage"]);
        if !usage.is_empty() {
            holder.push_str(&format!(" (nom d'usage {usage})"));
        }
        page.field(("Titulaire", "Holder"), &holder);
        page.field(
            ("Né(e) le", "Born on"),
            &day(text(&["diplome", "titulaire", "date_naissance"])),
        );
        page.field(("Diplôme", "Diploma"), &text(&["diplome", "intitule"]));
        for (label, path) in [
            (("Spécialité", "Speciality"), "specialite"),
            (("Mention", "Honours"), "mention"),
        ] {
            let value = text(&["diplome", path]);
            if !value.is_empty() {
                page.field(label, &value);
            }
        }
        page.field(("Session", "Session"), &text(&["diplome", "session"]));
        page.field(
            ("Académie", "Académie"),
            &text(&["diplome", "academie_nom"]),
        );
        page.field(
            ("Résultat tenu par", "Result held by"),
            &text(&["diplome", "resultat_tenu_par"]),
        );
        page.field(
            ("Date de délibération", "Deliberation date"),
            &day(text(&["diplome", "date_deliberation"])),
        );
        page.y -= 10.0;
        page.color(MUTED);
        page.paragraph(
            Face::Regular,
            8.5,
            MARGIN,
            CONTENT_WIDTH,
            &format!(
                "Ce reçu est signé par le service (clé {}) : `sand attestation verify` ou toute bibliothèque JOSE le vérifie hors ligne avec la clé publiée à l'adresse /.well-known/sand-attestation-keys.json du service. Il atteste une vérification faite à cette date ; il ne dit pas si l'attestation est encore valide aujourd'hui.",
                self.keys.id()
            ),
        );

        let description = crate::archival::Description {
            title: "Reçu de vérification d'une attestation de diplôme".to_owned(),
            author: self.issuer.operator.clone(),
            subject: format!(
                "{} — session {}",
                text(&["diplome", "intitule"]),
                text(&["diplome", "session"])
            ),
            keywords: vec!["reçu".into(), "vérification".into(), "diplôme".into()],
            produced: checked,
        };
        let mut lopdf = doc
            .with_pages(vec![PdfPage::new(
                Mm::from(Pt(PAGE_WIDTH)),
                Mm::from(Pt(PAGE_HEIGHT)),
                page.ops,
            )])
            .to_lopdf_document(&PdfSaveOptions::default(), &mut Vec::new());
        crate::tagging::add_structure(&mut lopdf, &page.tags)?;
        crate::archival::make_archival(&mut lopdf, &description, &self.srgb)?;
        verify::seal_with(
            &mut lopdf,
            &[("SandReceipt", compact.to_owned())],
            &self.keys,
        )
    }

    /// The verification keys this renderer's documents verify with.
    fn own_keys(&self) -> crate::keys::VerificationKeys {
        let mut keys = crate::keys::VerificationKeys::new();
        keys.add_signing(&self.keys);
        keys
    }
}

impl sand_domain::ports::CredentialExporter for PdfAttestationRenderer {
    fn export(&self, attestation: &Attestation) -> Result<RenderedAttestation, PortError> {
        let verify_url = &self.issuer.verification_url;
        // the service's address: the verification page's, without its path
        let issuer_id = verify_url
            .strip_suffix(sand_domain::public_paths::VERIFY)
            .unwrap_or(verify_url);
        let credential = crate::credential::credential(
            attestation,
            issuer_id,
            &self.issuer.operator,
            verify_url,
            self.keys.is_demo(),
            &self.holders,
        );
        let scope = &attestation.record.scope;
        Ok(RenderedAttestation {
            media_type: crate::credential::VC_JWT_MEDIA_TYPE,
            file_name: format!(
                "attestation-{}-{}-{}.vc.jwt",
                scope.kind.code().to_lowercase(),
                scope.session.year(),
                attestation.key.as_str()
            ),
            bytes: crate::credential::secure(&credential, &self.keys).into_bytes(),
        })
    }
}

impl sand_domain::ports::ReceiptSigner for PdfAttestationRenderer {
    fn sign(
        &self,
        receipt: &sand_domain::verification::receipt::VerificationReceipt,
    ) -> Result<String, PortError> {
        let claims = crate::receipt::claims(
            receipt,
            &self.issuer.verification_url,
            self.keys.is_demo(),
            &self.holders,
        );
        Ok(crate::receipt::sign_receipt(&claims, &self.keys))
    }

    fn file(
        &self,
        signed: &str,
        format: sand_domain::verification::receipt::ReceiptFormat,
    ) -> Result<Option<RenderedAttestation>, PortError> {
        use sand_domain::verification::receipt::ReceiptFormat;
        // only a receipt this service signed, unchanged, with its current key
        let keys = self.own_keys();
        let Ok(found) = crate::jws::verify(signed, crate::receipt::RECEIPT_TYPE, &keys) else {
            return Ok(None);
        };
        let key = found
            .payload
            .pointer("/saisie/cle")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let key: String = key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        Ok(Some(match format {
            ReceiptFormat::Json => RenderedAttestation {
                media_type: "application/json",
                file_name: format!("recu-verification-{key}.json"),
                bytes: crate::jws::flattened(signed)
                    .map_err(PortError::unexpected)?
                    .to_string()
                    .into_bytes(),
            },
            ReceiptFormat::Pdf => RenderedAttestation {
                media_type: "application/pdf",
                file_name: format!("recu-verification-{key}.pdf"),
                bytes: self
                    .render_receipt_pdf(signed, &found.payload)
                    .map_err(PortError::unexpected)?,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sand_domain::identity::{BirthName, BirthPlace, Civility, FirstNames, UsageName};
    use sand_domain::issuer::{Contact, Issuer as Holder, IssuerCode, IssuerKind};

    use super::*;

    /// The body never runs into the footer, however long the names: the longest
    /// identity the import accepts, a long speciality, a long issuer name, the demo's
    /// warning line.
    #[test]
    fn the_longest_attestation_leaves_room_above_the_footer() {
        let long_holder = "Établissement public expérimental d'enseignement supérieur et de \
                           recherche Université d'exemple des Hauts-de-Seine — Faculté";
        let mut issuers = IssuerRegistry::offices_only().all().to_vec();
        issuers.push(Holder {
            code: "0921234X".to_owned(),
            kind: IssuerKind::HigherEducation,
            name: long_holder.to_owned(),
            exports: Vec::new(),
            serves: Vec::new(),
            website: None,
            contact: Contact::default(),
            covers_from: std::collections::BTreeMap::new(),
        });
        let registry = IssuerRegistry::new(issuers, None).unwrap();
        let mut a =
            crate::sample::sample_attestation(time::macros::datetime!(2026-11-24 10:00 UTC))
                .unwrap();
        let h = &mut a.record.holder;
        h.civility = Some(Civility::Monsieur);
        h.identity.birth_name = BirthName::parse(
            "de La Tour d'Auvergne-Lauraguais-Montmorency-Beaufort-Spontin-Wittelsbach",
        )
        .unwrap();
        h.identity.first_names = FirstNames::parse([
            "Jean-Baptiste",
            "Marie-Hélène",
            "Anaïs",
            "Joël",
            "François-Xavier",
            "Jérôme",
            "Lætitia",
            "Œnone",
            "Zoé",
        ])
        .unwrap();
        h.identity.birth_place =
            Some(BirthPlace::parse("Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson").unwrap());
        h.usage_name = Some(UsageName::parse("N'Diaye-Lefèvre-Montmorency").unwrap());
        a.record.award.speciality = Some(
            sand_domain::diploma::Speciality::parse(
                "Sciences et technologies de l'industrie et du développement durable : \
                 architecture et construction, énergies et environnement",
            )
            .unwrap(),
        );
        a.record.source.exam_office = IssuerCode::parse("0921234X").unwrap();

        let keys = Arc::new(SigningKeys::demo());
        let renderer = PdfAttestationRenderer::new(
            Issuer {
                operator: "Ministère de l'Éducation nationale — service des attestations".into(),
                verification_url: "https://attestations.education.gouv.fr/verifier".into(),
            },
            Arc::clone(&keys),
        )
        .unwrap();
        let facts = Facts::of(&a, &keys);
        let qr = qr_code(b"https://attestations.education.gouv.fr/verifier?cle=SPEC1MEN#p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&s=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let mut doc = PdfDocument::new("test");
        let fonts = [
            (&renderer.regular, doc.add_font(&renderer.regular)),
            (&renderer.bold, doc.add_font(&renderer.bold)),
        ];
        let holder = registry.get("0921234X").unwrap().name.clone();
        let (page, room) = renderer.page(&fonts, &facts, &holder, &qr);
        assert!(room >= 0.0, "the body overlaps the footer by {} pt", -room);
        assert!(page.scale < 1.0, "the longest identity is set smaller");

        // a usual attestation keeps the full size
        let usual =
            crate::sample::sample_attestation(time::macros::datetime!(2026-11-24 10:00 UTC))
                .unwrap();
        let (page, room) = renderer.page(
            &fonts,
            &Facts::of(&usual, &keys),
            "Service des examens et concours du rectorat de l'académie de Lyon",
            &qr,
        );
        assert!(
            room >= 0.0 && page.scale == 1.0,
            "{room} pt at {}",
            page.scale
        );
    }
}
