//! Attestation rendering speed: `just bench-pdf`.
//!
//! On one thread: renders the sample attestation (layout, QR code, two embedded
//! subset fonts, two Ed25519 signatures) N times and prints attestations per second and
//! the size of one PDF, beside a baseline measured in the same run: a one-line printpdf
//! document with one embedded DejaVu font (the fixed cost of writing a PDF with a
//! subset font). Also times the offline check. Goal: ≥ 200 attestations/s, < 100 KB.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use printpdf::{
    Mm, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem,
};
use sand_attestation::sample::sample_attestation;
use sand_attestation::{
    Issuer, PdfAttestationRenderer, SigningKeys, Verdict, VerificationKeys, verify_pdf,
};

/// Rounds per measurement (`SAND_BENCH_ROUNDS` to change, e.g. under a profiler).
fn rounds() -> u32 {
    std::env::var("SAND_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn per_second(rounds: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    f64::from(rounds) / start.elapsed().as_secs_f64()
}

fn main() {
    let keys = Arc::new(SigningKeys::generate().unwrap());
    let renderer = PdfAttestationRenderer::new(
        Issuer {
            operator: "Opérateur d'exemple — Service des attestations".into(),
            verification_url: "https://attestations.example.fr/verifier".into(),
        },
        Arc::clone(&keys),
    )
    .unwrap();
    let attestation = sample_attestation(time::OffsetDateTime::now_utc()).unwrap();
    let one = renderer.render_pdf(&attestation).unwrap();
    let mut trusted = VerificationKeys::new();
    trusted.add_signing(&keys);
    assert!(matches!(verify_pdf(&one, &trusted), Verdict::Intact { .. }));

    let font = ParsedFont::from_bytes(dejavu::sans::regular(), 0, &mut Vec::new()).unwrap();
    let rounds = rounds();
    let baseline = per_second(rounds, || {
        let mut doc = PdfDocument::new("baseline");
        let id = doc.add_font(&font);
        let ops = vec![
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(id),
                size: Pt(12.0),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(56.0),
                    y: Pt(700.0),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(
                    "Attestation de réussite au diplôme".to_owned(),
                )],
            },
            Op::EndTextSection,
        ];
        let bytes = doc
            .with_pages(vec![PdfPage::new(Mm(210.0), Mm(297.0), ops)])
            .save(&PdfSaveOptions::default(), &mut Vec::new());
        black_box(bytes);
    });
    let rendered = per_second(rounds, || {
        black_box(renderer.render_pdf(black_box(&attestation)).unwrap());
    });
    let verified = per_second(rounds * 10, || {
        black_box(verify_pdf(black_box(&one), &trusted));
    });

    println!("attestation PDF, one thread, {rounds} rounds each (same run)");
    println!("{:<58} {:>12}", "", "per second");
    println!(
        "{:<58} {:>12.0}",
        "baseline: one-line printpdf document, one subset font", baseline
    );
    println!(
        "{:<58} {:>12.0}",
        "SAND attestation (2 fonts, QR code, 2 signatures)", rendered
    );
    println!(
        "{:<58} {:>12.0}",
        "offline check (sand attestation verify)", verified
    );
    println!(
        "one attestation: {:.1} KB ({} bytes); {:.2} ms to render; goal ≥ 200/s and < 100 KB",
        one.len() as f64 / 1024.0,
        one.len(),
        1000.0 / rendered
    );
    println!("ratio SAND / baseline: {:.2}", rendered / baseline);
}
