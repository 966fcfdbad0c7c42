//! The attestation as a tagged PDF (ISO 32000-1 §14.8): its language, a structure tree
//! in reading order (a level-1 heading, level-2 headings, paragraphs, the QR code as a
//! figure with its text alternative, the English lines marked as English), and its
//! decoration — the rules, the demonstration watermark — as artifacts that are not read.
//! Screen readers and text extraction follow the structure, not the drawing.

use lopdf::{Dictionary, Document, Object, StringFormat};

use crate::error::RenderError;

/// The document's language.
const LANGUAGE: &str = "fr-FR";

/// One structure element: what a marked-content sequence of the page is. Its index in
/// the page's list is its MCID.
#[derive(Debug, Clone)]
pub(crate) struct Tag {
    /// A standard structure type: `H1`, `H2`, `P`, `Figure`.
    pub role: &'static str,
    /// Its language, when not the document's.
    pub lang: Option<&'static str>,
    /// The text alternative of a figure.
    pub alt: Option<String>,
}

/// A PDF text string: UTF-16BE with its byte order mark (any French character).
pub(crate) fn text_string(text: &str) -> Object {
    let mut bytes = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_be_bytes());
    }
    Object::String(bytes, StringFormat::Hexadecimal)
}

pub(crate) fn name(value: &str) -> Object {
    Object::Name(value.as_bytes().to_vec())
}

fn pdf_error(what: &str) -> RenderError {
    RenderError::Pdf(format!("tagging: {what}"))
}

/// Adds the structure tree of the single page's `tags` to `doc`, and marks the document
/// as tagged, in French, its title shown by viewers.
pub(crate) fn add_structure(doc: &mut Document, tags: &[Tag]) -> Result<(), RenderError> {
    let page_id = *doc
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| pdf_error("no page"))?;
    let root_id = doc.new_object_id();
    let document_id = doc.new_object_id();
    let mut elements = Vec::with_capacity(tags.len());
    for (mcid, tag) in tags.iter().enumerate() {
        let mut element = Dictionary::new();
        element.set("Type", name("StructElem"));
        element.set("S", name(tag.role));
        element.set("P", document_id);
        element.set("Pg", page_id);
        element.set(
            "K",
            Object::Integer(i64::try_from(mcid).map_err(|_| pdf_error("too many elements"))?),
        );
        if let Some(lang) = tag.lang {
            element.set("Lang", Object::string_literal(lang));
        }
        if let Some(alt) = &tag.alt {
            element.set("Alt", text_string(alt));
        }
        elements.push(Object::Reference(doc.add_object(element)));
    }

    let mut document = Dictionary::new();
    document.set("Type", name("StructElem"));
    document.set("S", name("Document"));
    document.set("P", root_id);
    document.set("K", Object::Array(elements.clone()));
    doc.objects
        .insert(document_id, Object::Dictionary(document));

    // the page's marked content, MCID by MCID, back to its element
    let mut parent_tree = Dictionary::new();
    parent_tree.set("Nums", vec![Object::Integer(0), Object::Array(elements)]);
    let mut root = Dictionary::new();
    root.set("Type", name("StructTreeRoot"));
    root.set("K", document_id);
    root.set("ParentTree", parent_tree);
    root.set("ParentTreeNextKey", 1);
    doc.objects.insert(root_id, Object::Dictionary(root));

    let page = doc
        .get_dictionary_mut(page_id)
        .map_err(|_| pdf_error("the page is not a dictionary"))?;
    page.set("StructParents", 0);
    // the keyboard follows the structure
    page.set("Tabs", name("S"));

    let catalog = doc
        .catalog_mut()
        .map_err(|_| pdf_error("no document catalog"))?;
    catalog.set("StructTreeRoot", root_id);
    let mut mark_info = Dictionary::new();
    mark_info.set("Marked", true);
    catalog.set("MarkInfo", mark_info);
    catalog.set("Lang", Object::string_literal(LANGUAGE));
    let mut viewer = Dictionary::new();
    viewer.set("DisplayDocTitle", true);
    catalog.set("ViewerPreferences", viewer);
    Ok(())
}
