//! Public pages: home, catalogue (HTML, CSV, JSON), verification, help, legal.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Multipart, Query};
use poem::{Response, handler};
use sand_domain::academie::Academie;
use sand_domain::catalogue::CatalogueView;
use sand_domain::diploma::DiplomaKind;
use sand_domain::identity::BirthDate;
use sand_domain::issuer::{IssuerCode, IssuerRegistry};
use sand_domain::text::DateWriting;
use sand_domain::verification::{VerifyError, VerifyOutcome, VerifyRequest};
use serde::Deserialize;

use crate::catalogue_view::{ROWS_PER_PAGE, RenderedRows};
use crate::error::Limited;
use crate::present::{
    FileVerdict, Filtered, ShownDiploma, catalogue_entries, entries, file_verdict, issuer_name,
    verify_error_text,
};
use crate::state::AppState;
use crate::verifying::{self, Checked};
use crate::web::{Chrome, FormErrors, PageForm, Visitor, WebError, page, see_other};
use sand_domain::public_paths;

/// A demonstration identity shown on the home page of the demo site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPerson {
    pub birth_name: String,
    pub usage_name: String,
    pub first_names: String,
    pub birth_date: String,
    pub diploma: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    chrome: Chrome,
    demo_people: &'a [DemoPerson],
    mail_hint: &'a str,
}

#[handler]
pub async fn home(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    let template = HomePage {
        chrome: Chrome::new(&state, &visitor, "Accueil"),
        demo_people: if state.settings.demo {
            &state.settings.demo_people
        } else {
            &[]
        },
        mail_hint: &state.settings.demo_mail_hint,
    };
    page(StatusCode::OK, &template)
}

// ---------------------------------------------------------------------------------------
// Catalogue
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct CatalogueFilter {
    #[serde(default)]
    academie: String,
    #[serde(default)]
    diplome: String,
    #[serde(default)]
    session: String,
    /// The page of the table (1-based; anything else is the first).
    #[serde(default)]
    page: String,
}

/// One line of the catalogue: a diploma kind of an académie, with its sessions.
#[derive(Debug, Clone)]
pub struct CatalogueRow {
    pub academie: String,
    pub kind: String,
    pub sessions: String,
    /// Who holds the results: the issuer's name, or each issuer's name with its sessions
    /// when they differ from one session to another.
    pub issuers: String,
}

impl CatalogueFilter {
    fn parse(&self) -> Filtered {
        Filtered {
            academie: self.academie.parse().ok(),
            kind: self.diplome.parse().ok(),
            session: self.session.trim().parse().ok(),
        }
    }

    fn query(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("academie", self.academie.as_str()),
            ("diplome", self.diplome.as_str()),
            ("session", self.session.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty() && v.len() <= 16)
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!(
                "?{}",
                serde_urlencoded::to_string(pairs).unwrap_or_default()
            )
        }
    }
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    chrome: Chrome,
    academie_options: Vec<(&'static str, &'static str, bool)>,
    kind_options: Vec<(&'static str, &'static str, bool)>,
    session: String,
    /// The filter names a session before the service's coverage: what to do instead.
    before_coverage: Option<(String, String)>,
    rows: Arc<RenderedRows>,
    /// Links to the previous and the next page of the table, when there are.
    previous: Option<String>,
    next: Option<String>,
    query: String,
}

/// Highest page number read from a request (far past any catalogue's last page).
const MAX_PAGE: usize = 10_000;

#[derive(Template)]
#[template(path = "catalogue_rows.html")]
struct CatalogueRows<'a> {
    rows: &'a [CatalogueRow],
}

/// Page `page` (1-based; past the last, the last) of `f`'s selection of `view`, rendered.
fn render_rows(
    view: &CatalogueView,
    f: &Filtered,
    page: usize,
    issuers: &IssuerRegistry,
) -> RenderedRows {
    let selected = entries(view, f);
    let count = selected.len();
    let pages = count.div_ceil(ROWS_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let rows: Vec<CatalogueRow> = selected
        .into_iter()
        .skip((page - 1) * ROWS_PER_PAGE)
        .take(ROWS_PER_PAGE)
        .map(|(a, k, years)| CatalogueRow {
            academie: a.name().to_owned(),
            kind: k.title().to_owned(),
            sessions: years
                .iter()
                .map(|(year, _)| year.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            issuers: held_by(&years, issuers),
        })
        .collect();
    RenderedRows {
        count,
        page,
        pages,
        // rendering plain strings into a String cannot fail
        html: CatalogueRows { rows: &rows }.render().unwrap_or_default(),
    }
}

/// Who holds a row's sessions: one name when one issuer holds them all, else each name
/// followed by its sessions, e.g. `SIEC (2019, 2020) ; Académie de Paris (2021)`.
fn held_by(years: &[(u16, IssuerCode)], issuers: &IssuerRegistry) -> String {
    let mut groups: Vec<(IssuerCode, Vec<u16>)> = Vec::new();
    for &(year, issuer) in years {
        match groups.iter_mut().find(|(code, _)| *code == issuer) {
            Some((_, group)) => group.push(year),
            None => groups.push((issuer, vec![year])),
        }
    }
    if let [(issuer, _)] = groups.as_slice() {
        return issuer_name(issuers, *issuer);
    }
    groups
        .iter()
        .map(|(issuer, group)| {
            let years: Vec<String> = group.iter().map(u16::to_string).collect();
            format!("{} ({})", issuer_name(issuers, *issuer), years.join(", "))
        })
        .collect::<Vec<_>>()
        .join(" ; ")
}

#[handler]
pub async fn catalogue(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, WebError> {
    let view = state.catalogue.execute().await?;
    let f = filter.parse();
    let early = crate::present::is_before_coverage(&filter.session);
    // a session before coverage has no rows (not every session, as an unreadable one)
    let rows = if early {
        Arc::new(RenderedRows {
            count: 0,
            page: 1,
            pages: 1,
            html: String::new(),
        })
    } else {
        // an unreadable page is the first; one past the last, the last (kept under the
        // page asked: the number of pages is known once the rows are)
        let page = filter
            .page
            .trim()
            .parse::<usize>()
            .unwrap_or(1)
            .clamp(1, MAX_PAGE);
        state.catalogue_rows.get_or(&view, (f, page), || {
            render_rows(&view, &f, page, &state.settings.issuers)
        })
    };
    let query = filter.query();
    let page_link = |page: usize| {
        let join = if query.is_empty() { '?' } else { '&' };
        format!("/catalogue{query}{join}page={page}")
    };
    let previous = (rows.page > 1).then(|| page_link(rows.page - 1));
    let next = (rows.page < rows.pages).then(|| page_link(rows.page + 1));
    let template = CataloguePage {
        chrome: Chrome::new(&state, &visitor, "Liste des diplômes disponibles"),
        academie_options: Academie::ALL
            .iter()
            .map(|a| (a.code(), a.name(), f.academie == Some(*a)))
            .collect(),
        kind_options: DiplomaKind::all()
            .iter()
            .map(|k| (k.code(), k.title(), f.kind == Some(*k)))
            .collect(),
        session: if early {
            filter.session.trim().to_owned()
        } else {
            f.session.map(|s| s.to_string()).unwrap_or_default()
        },
        before_coverage: early.then(|| {
            (
                crate::present::before_coverage_text(f.academie, &state.settings.issuers),
                f.academie.map_or_else(
                    || "/aide/services-examens".to_owned(),
                    |a| format!("/aide/services-examens#academie-{}", a.code()),
                ),
            )
        }),
        rows,
        previous,
        next,
        query,
    };
    page(StatusCode::OK, &template)
}

/// The catalogue as CSV (one line per académie, diploma kind and session).
#[handler]
pub async fn catalogue_csv(
    state: Data<&Arc<AppState>>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, WebError> {
    let view = state.catalogue.execute().await?;
    let issuers = &state.settings.issuers;
    let mut csv = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let header = [
        "academie",
        "academie_nom",
        "diplome",
        "diplome_nom",
        "session",
        "emetteur",
        "emetteur_nom",
    ];
    csv.write_record(header).map_err(WebError::unexpected)?;
    for (a, k, years) in entries(&view, &filter.parse()) {
        for (year, issuer) in years {
            csv.write_record([
                a.code(),
                a.name(),
                k.code(),
                k.title(),
                &year.to_string(),
                issuer.code(),
                &issuer_name(issuers, issuer),
            ])
            .map_err(WebError::unexpected)?;
        }
    }
    let csv = csv.into_inner().map_err(WebError::unexpected)?;
    Ok(Response::builder()
        .content_type("text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"catalogue.csv\"",
        )
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(csv))
}

#[handler]
pub async fn catalogue_json(
    state: Data<&Arc<AppState>>,
    Query(filter): Query<CatalogueFilter>,
) -> Result<Response, WebError> {
    let f = filter.parse();
    let list = catalogue_entries(&state, f.academie, f.kind, f.session).await?;
    let body = serde_json::to_vec(&list).map_err(WebError::unexpected)?;
    Ok(Response::builder()
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(body))
}

// ---------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    pub cle: String,
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub organisme: String,
    /// The holder's birth date, optional (required for a key under attack).
    #[serde(default)]
    pub naissance: String,
}

struct VerifyResult {
    valid: Option<ShownDiploma>,
    checked_at: String,
    /// The signed receipt of a valid verification (a compact JWS), to download.
    receipt: Option<String>,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    /// Opened from an attestation's QR code: the key is filled in, the name is asked.
    from_qr: bool,
    form: VerifyForm,
    errors: FormErrors,
    result: Option<VerifyResult>,
    /// The errors are the document form's (the page holds two forms).
    file_form: bool,
    /// What an uploaded document turned out to be.
    file: Option<FileVerdict>,
}

impl VerifyPage {
    /// "No valid attestation", with the day it was checked.
    fn invalid_text(&self, result: &VerifyResult) -> String {
        self.chrome.lang.t_with(
            "result-invalid-text",
            &[("date", result.checked_at.as_str())],
        )
    }

    /// An intact document's key, carried to the key form.
    fn key_carried(&self, key: &str) -> String {
        self.chrome.lang.t_with("file-key-carried", &[("key", key)])
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct VerifyQuery {
    #[serde(default)]
    cle: String,
}

#[handler]
pub async fn verify_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(query): Query<VerifyQuery>,
) -> Result<Response, WebError> {
    let form = VerifyForm {
        cle: query.cle.chars().take(32).collect(),
        ..VerifyForm::default()
    };
    page(
        StatusCode::OK,
        &VerifyPage {
            chrome: Chrome::new(&state, &visitor, visitor.lang.t("verify-title")).bilingual(),
            from_qr: !form.cle.trim().is_empty(),
            form,
            errors: FormErrors::default(),
            result: None,
            file_form: false,
            file: None,
        },
    )
}

/// The field of the verification form a refusal concerns.
fn verify_error_field(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::MalformedKey(_) => "cle",
        VerifyError::MalformedName(_) => "nom",
        VerifyError::BirthDateRequired => "naissance",
        VerifyError::MalformedOrganisation(_) => "organisme",
        VerifyError::Unexpected(_) => "",
    }
}

#[handler]
pub async fn verify_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<VerifyForm>,
) -> Result<Response, WebError> {
    let lang = visitor.lang;
    let checked_at = lang.date(sand_domain::text::paris_time(state.ports.clock.now()).date());
    // the page's title says the outcome first: a screen reader announces it on arrival
    let titled = |title: &str| Chrome::new(&state, &visitor, title).bilingual();
    let refused = |form: VerifyForm, errors: FormErrors| {
        let errors = errors.in_lang(lang);
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &VerifyPage {
                chrome: titled(&lang.t("verify-title")).refusing(&errors),
                from_qr: false,
                form,
                errors,
                result: None,
                file_form: false,
                file: None,
            },
        )
    };
    let mut errors = FormErrors::default();
    let birth_date = if form.naissance.trim().is_empty() {
        None
    } else {
        BirthDate::parse(
            &form.naissance,
            DateWriting::Typed,
            state.ports.clock.now().date(),
        )
        .map_err(|_| errors.add("naissance", lang.t("err-birth-unreadable")))
        .ok()
    };
    let request = VerifyRequest {
        key: form.cle.clone(),
        holder_name: form.nom.clone(),
        organisation: form.organisme.clone(),
        birth_date,
        birth_date_required: false,
    };
    // every error at once, in the form's order (the verification would stop at the first)
    for e in request.refusals() {
        if let Some(text) = verify_error_text(&e, lang) {
            errors.add(verify_error_field(&e), text);
        }
    }
    if !errors.is_empty() {
        let mut sorted = errors.iter().cloned().collect::<Vec<_>>();
        let order = ["cle", "nom", "naissance", "organisme"];
        sorted.sort_by_key(|e| order.iter().position(|f| *f == e.field));
        return refused(form, sorted.into());
    }
    let Checked::Done(result) = verifying::verify(&state, visitor.client, request.clone()).await
    else {
        return Err(WebError::TooManyRequests(Limited::Verifications));
    };
    match result {
        Ok(outcome) => {
            let (valid, receipt) = match outcome {
                VerifyOutcome::Valid(d) => (
                    Some(ShownDiploma::of(&d, lang, &state.settings.issuers)),
                    verifying::receipt(&state, &request, &d),
                ),
                VerifyOutcome::NotValid => (None, None),
            };
            let title = format!(
                "{} — {}",
                lang.t(if valid.is_some() {
                    "result-valid"
                } else {
                    "result-invalid"
                }),
                lang.t("verify-title")
            );
            page(
                StatusCode::OK,
                &VerifyPage {
                    chrome: titled(&title),
                    from_qr: false,
                    form,
                    errors: FormErrors::default(),
                    result: Some(VerifyResult {
                        valid,
                        checked_at,
                        receipt,
                    }),
                    file_form: false,
                    file: None,
                },
            )
        }
        Err(VerifyError::Unexpected(e)) => Err(e.into()),
        Err(e) => refused(
            form,
            FormErrors::one(
                verify_error_field(&e),
                verify_error_text(&e, lang).unwrap_or_default(),
            ),
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReceiptForm {
    /// The signed receipt the verification page gave (a compact JWS).
    #[serde(default)]
    recu: String,
    /// `pdf` or `json`.
    #[serde(default)]
    format: String,
}

/// The receipt of a verification, as a file: only one this service signed, unchanged.
#[handler]
pub async fn download_receipt(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<ReceiptForm>,
) -> Result<Response, WebError> {
    use sand_domain::verification::receipt::ReceiptFormat;
    // a PDF is a little work: the page's budget of document checks
    if !state.limiters.file_check(visitor.client).await {
        return Err(WebError::TooManyRequests(Limited::FileChecks));
    }
    let format = match form.format.as_str() {
        "pdf" => ReceiptFormat::Pdf,
        "json" => ReceiptFormat::Json,
        _ => return Err(WebError::BadRequest),
    };
    let signed = form.recu.clone();
    let receipts = Arc::clone(&state.ports.receipts);
    let file = crate::system::off_runtime(move || receipts.file(&signed, format))
        .await
        .map_err(WebError::unexpected)??;
    let Some(file) = file else {
        return Err(WebError::BadRequest);
    };
    Ok(crate::web::attachment(file, true))
}

/// The document form's address, opened directly: the form is on the verification page.
#[handler]
pub fn verify_file_form() -> Response {
    see_other(&format!("{}#fichier", public_paths::VERIFY))
}

/// A document uploaded from the verification page (`multipart/form-data`, the CSRF
/// token checked by the frame): is it exactly as issued? Said in plain French, with the
/// way to check its key when it is intact.
#[handler]
pub async fn verify_file(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    if !state.limiters.file_check(visitor.client).await {
        return Err(WebError::TooManyRequests(Limited::FileChecks));
    }
    let mut document = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WebError::BadRequest)?
    {
        if field.name() == Some("fichier") {
            document = Some(field.bytes().await.map_err(|_| WebError::BadRequest)?);
        }
    }
    let lang = visitor.lang;
    let limit = state.settings.max_pdf_bytes;
    let refusal = match &document {
        None => Some(lang.t("err-file-missing")),
        Some(bytes) if bytes.is_empty() => Some(lang.t("err-file-empty")),
        Some(bytes) if bytes.len() > limit => Some(lang.t_with(
            "err-file-too-large",
            &[("megabytes", &(limit / (1024 * 1024)).to_string())],
        )),
        Some(_) => None,
    };
    let chrome = |title: &str| Chrome::new(&state, &visitor, title).bilingual();
    if let Some(text) = refusal {
        let errors = FormErrors::one("fichier", text).in_lang(lang);
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &VerifyPage {
                chrome: chrome(&lang.t("verify-title")).refusing(&errors),
                from_qr: false,
                form: VerifyForm::default(),
                errors,
                result: None,
                file_form: true,
                file: None,
            },
        );
    }
    let bytes = document.unwrap_or_default();
    // reading a document is CPU work: off the async runtime
    let keys = Arc::clone(&state);
    let verdict = crate::system::off_runtime(move || {
        sand_attestation::verify::verify_pdf(&bytes, &keys.verification_keys)
    })
    .await
    .map_err(WebError::unexpected)?;
    let shown = file_verdict(verdict, lang);
    // the page's title says the verdict first; an intact document's key is filled in
    let form = VerifyForm {
        cle: shown
            .key
            .clone()
            .filter(|_| shown.intact)
            .unwrap_or_default(),
        ..VerifyForm::default()
    };
    page(
        StatusCode::OK,
        &VerifyPage {
            chrome: chrome(&format!("{} — {}", shown.title, lang.t("verify-title"))),
            from_qr: false,
            form,
            errors: FormErrors::default(),
            result: None,
            file_form: true,
            file: Some(shown),
        },
    )
}

#[derive(Template)]
#[template(path = "verifier_help.html")]
struct VerifierHelpPage {
    chrome: Chrome,
}

/// Help for verifiers, in French or English.
#[handler]
pub fn verifier_help(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &VerifierHelpPage {
            chrome: Chrome::new(&state, &visitor, visitor.lang.t("verifier-help-title"))
                .bilingual(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_names_one_issuer_or_each_issuer_with_its_sessions() {
        let issuers = IssuerRegistry::offices_only();
        let siec = IssuerCode::parse("SIEC").unwrap();
        let paris = IssuerCode::parse("01").unwrap();
        assert_eq!(
            held_by(&[(2021, siec), (2020, siec)], &issuers),
            "Service interacadémique des examens et concours (SIEC)"
        );
        assert_eq!(
            held_by(&[(2021, paris), (2020, siec), (2019, siec)], &issuers),
            "Service des examens et concours du rectorat de l'académie de Paris (2021) ; \
             Service interacadémique des examens et concours (SIEC) (2020, 2019)"
        );
        // an issuer retired from the registry since its batch: its code
        let gone = IssuerCode::parse("0691774D").unwrap();
        assert_eq!(held_by(&[(2022, gone)], &issuers), "0691774D");
    }
}
