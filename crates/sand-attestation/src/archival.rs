//! The attestation as an archival document: PDF/A-1b (ISO 19005-1, level B), so that it
//! still renders the same in decades, on any conforming reader.
//!
//! What printpdf does not write, added here before sealing: an sRGB output intent (the
//! colours are device RGB), the document's description twice — in the information
//! dictionary and, identical, as XMP metadata that declares the conformance level —, and
//! the glyph set (`CIDSet`) of each embedded font subset. The fonts are already embedded
//! with their Unicode mapping; nothing is transparent, encrypted or external.
//!
//! Checked by Apache PDFBox's Preflight validator in the test suite.

use lopdf::{Dictionary, Document, Object, Stream};
use read_fonts::TableProvider as _;
use time::{OffsetDateTime, UtcOffset};

use crate::error::RenderError;
use crate::tagging::{name, text_string};

/// What the document says of itself, written in both places PDF/A requires to agree.
#[derive(Debug, Clone)]
pub(crate) struct Description {
    pub title: String,
    pub author: String,
    pub subject: String,
    pub keywords: Vec<String>,
    /// When the document was produced (its creation and modification date).
    pub produced: OffsetDateTime,
}

/// The producing software, as the document names it.
const PRODUCER: &str = "SAND";

/// The output condition of screens and office printers.
const SRGB: &str = "sRGB IEC61966-2.1";

fn pdf_error(what: &str) -> RenderError {
    RenderError::Pdf(format!("PDF/A: {what}"))
}

/// The sRGB colour profile, ICC version 2.1 (PDF/A-1 reads no later version), made by
/// Little CMS once per renderer.
pub(crate) fn srgb_profile() -> Result<Vec<u8>, RenderError> {
    let mut profile = lcms2::Profile::new_srgb();
    profile.set_version(2.1);
    profile
        .icc()
        .map_err(|e| RenderError::Pdf(format!("the sRGB colour profile: {e}")))
}

/// Makes `doc` a PDF/A-1b document described by `description`, its colours in the
/// `srgb` profile.
pub(crate) fn make_archival(
    doc: &mut Document,
    description: &Description,
    srgb: &[u8],
) -> Result<(), RenderError> {
    doc.version = "1.4".to_owned();
    describe(doc, description)?;
    let metadata = doc.add_object(
        Stream::new(
            Dictionary::from_iter([("Type", name("Metadata")), ("Subtype", name("XML"))]),
            xmp(description).into_bytes(),
        )
        // PDF/A-1 wants the metadata readable by tools that know no PDF filter
        .with_compression(false),
    );
    let profile = doc.add_object(Stream::new(
        Dictionary::from_iter([("N", Object::Integer(3))]),
        srgb.to_vec(),
    ));
    let intent = Dictionary::from_iter([
        ("Type", name("OutputIntent")),
        ("S", name("GTS_PDFA1")),
        ("OutputConditionIdentifier", Object::string_literal(SRGB)),
        (
            "RegistryName",
            Object::string_literal("http://www.color.org"),
        ),
        ("Info", Object::string_literal(SRGB)),
        ("DestOutputProfile", Object::Reference(profile)),
    ]);
    let catalog = doc
        .catalog_mut()
        .map_err(|_| pdf_error("no document catalog"))?;
    catalog.set("Metadata", metadata);
    catalog.set("OutputIntents", vec![Object::Dictionary(intent)]);
    declare_glyph_sets(doc)
}

/// The information dictionary: exactly what the XMP metadata says, nothing of PDF/X.
fn describe(doc: &mut Document, description: &Description) -> Result<(), RenderError> {
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
        .map_err(|_| pdf_error("the information dictionary"))?;
    for key in ["GTS_PDFXVersion", "Identifier", "Trapped"] {
        info.remove(key.as_bytes());
    }
    let date = Object::string_literal(pdf_date(description.produced));
    info.set("Title", text_string(&description.title));
    info.set("Author", text_string(&description.author));
    info.set("Subject", text_string(&description.subject));
    info.set("Keywords", text_string(&description.keywords.join(", ")));
    info.set("Creator", Object::string_literal(PRODUCER));
    info.set("Producer", Object::string_literal(PRODUCER));
    info.set("CreationDate", date.clone());
    info.set("ModDate", date);
    Ok(())
}

fn utc(moment: OffsetDateTime) -> OffsetDateTime {
    moment.to_offset(UtcOffset::UTC)
}

/// `D:20261124100000+00'00'` (ISO 32000-1 §7.9.4).
fn pdf_date(moment: OffsetDateTime) -> String {
    let m = utc(moment);
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        m.year(),
        u8::from(m.month()),
        m.day(),
        m.hour(),
        m.minute(),
        m.second()
    )
}

/// `2026-11-24T10:00:00+00:00`: the same instant as [`pdf_date`], as XMP writes it.
fn xmp_date(moment: OffsetDateTime) -> String {
    let m = utc(moment);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        m.year(),
        u8::from(m.month()),
        m.day(),
        m.hour(),
        m.minute(),
        m.second()
    )
}

/// Text as XML character data or attribute value.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The XMP packet: the description in Dublin Core, XMP and PDF terms, and the PDF/A
/// identification (part 1, conformance B).
fn xmp(description: &Description) -> String {
    let date = xmp_date(description.produced);
    format!(
        concat!(
            "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n",
            "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n",
            "<rdf:Description rdf:about=\"\"",
            " xmlns:dc=\"http://purl.org/dc/elements/1.1/\"",
            " xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\"",
            " xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\"",
            " xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\">\n",
            "<dc:format>application/pdf</dc:format>\n",
            "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{title}</rdf:li></rdf:Alt></dc:title>\n",
            "<dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>\n",
            "<dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">{subject}</rdf:li></rdf:Alt></dc:description>\n",
            "<dc:language><rdf:Bag><rdf:li>fr-FR</rdf:li></rdf:Bag></dc:language>\n",
            "<pdf:Keywords>{keywords}</pdf:Keywords>\n",
            "<pdf:Producer>{producer}</pdf:Producer>\n",
            "<xmp:CreatorTool>{producer}</xmp:CreatorTool>\n",
            "<xmp:CreateDate>{date}</xmp:CreateDate>\n",
            "<xmp:ModifyDate>{date}</xmp:ModifyDate>\n",
            "<xmp:MetadataDate>{date}</xmp:MetadataDate>\n",
            "<pdfaid:part>1</pdfaid:part>\n",
            "<pdfaid:conformance>B</pdfaid:conformance>\n",
            "</rdf:Description>\n",
            "</rdf:RDF>\n",
            "</x:xmpmeta>\n",
            "<?xpacket end=\"r\"?>"
        ),
        title = xml(&description.title),
        author = xml(&description.author),
        subject = xml(&description.subject),
        keywords = xml(&description.keywords.join(", ")),
        producer = PRODUCER,
        date = date,
    )
}

/// Gives each embedded TrueType subset its `CIDSet`: every glyph of the subset (its CIDs
/// are its glyph indexes), as PDF/A-1 requires of subsets.
fn declare_glyph_sets(doc: &mut Document) -> Result<(), RenderError> {
    let mut sets = Vec::new();
    for (&id, object) in &doc.objects {
        let Ok(descriptor) = object.as_dict() else {
            continue;
        };
        let is_subset = descriptor
            .get(b"FontName")
            .and_then(Object::as_name)
            .is_ok_and(|n| n.get(6) == Some(&b'+'));
        let Ok(program) = descriptor.get(b"FontFile2").and_then(Object::as_reference) else {
            continue;
        };
        if !is_subset {
            continue;
        }
        let stream = doc
            .get_object(program)
            .and_then(Object::as_stream)
            .map_err(|_| pdf_error("a font program is not a stream"))?;
        let bytes = stream
            .decompressed_content()
            .unwrap_or_else(|_| stream.content.clone());
        let glyphs = read_fonts::FontRef::new(&bytes)
            .and_then(|font| font.maxp())
            .map_err(|e| pdf_error(&format!("an embedded font cannot be read: {e}")))?
            .num_glyphs();
        let mut bits = vec![0_u8; usize::from(glyphs).div_ceil(8)];
        for glyph in 0..usize::from(glyphs) {
            bits[glyph / 8] |= 0x80 >> (glyph % 8);
        }
        sets.push((id, bits));
    }
    for (descriptor, bits) in sets {
        let set = doc.add_object(Stream::new(Dictionary::new(), bits));
        doc.get_dictionary_mut(descriptor)
            .map_err(|_| pdf_error("a font descriptor"))?
            .set("CIDSet", set);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn both_dates_name_the_same_instant_in_utc() {
        let moment = datetime!(2026-03-29 02:30:05 +02:00);
        assert_eq!(pdf_date(moment), "D:20260329003005+00'00'");
        assert_eq!(xmp_date(moment), "2026-03-29T00:30:05+00:00");
    }

    #[test]
    fn the_metadata_escapes_what_xml_reads() {
        let packet = xmp(&Description {
            title: "A & <B> \"C\" l'D".to_owned(),
            author: "x\u{0}y".to_owned(),
            subject: String::new(),
            keywords: vec![],
            produced: datetime!(2026-01-01 0:00 UTC),
        });
        assert!(packet.contains("A &amp; &lt;B&gt; &quot;C&quot; l&apos;D"));
        assert!(packet.contains("<rdf:li>xy</rdf:li>"));
    }

    #[test]
    fn the_srgb_profile_is_icc_version_2() {
        let profile = srgb_profile().unwrap();
        assert_eq!(&profile[36..40], b"acsp");
        assert_eq!(profile[8], 2, "major version");
        assert_eq!(&profile[16..20], b"RGB ");
    }
}
