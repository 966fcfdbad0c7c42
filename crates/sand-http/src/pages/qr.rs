//! QR codes shown in pages: inline SVG with an accessible name.

/// `code` as an inline `<svg>` at least `min_size` pixels wide, quiet zone included,
/// named `label` for assistive technologies (the document's XML header dropped).
pub(crate) fn inline_svg(code: &qrcode::QrCode, min_size: u32, label: &str) -> String {
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(min_size, min_size)
        .quiet_zone(true)
        .build();
    svg.split_once("<svg").map_or(svg.clone(), |(_, rest)| {
        format!("<svg role=\"img\" aria-label=\"{label}\" focusable=\"false\"{rest}")
    })
}
