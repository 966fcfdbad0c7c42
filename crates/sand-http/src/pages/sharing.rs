//! Share links: the holder's page for one diploma (create, copy, revoke) and the
//! recipient's page, which shows the verified diploma without asking for a name.

use std::borrow::Cow;
use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Response, handler};
use sand_domain::sharing::{
    CreateShareError, MAX_LABEL_CHARS, MAX_LIVE_SHARES, MAX_SHARE_DAYS, ShareId, ShareLabelError,
    ShareLink, ShareState,
};
use sand_domain::text::{DateWriting, french_date, french_day, paris_time, read_date};
use serde::Deserialize;

use crate::error::{Limited, WebError};
use crate::graduate;
use crate::present::ShownDiploma;
use crate::state::AppState;
use crate::web::{Chrome, FormErrors, PageForm, SignedIn, Visitor, link_id, page, see_other};

pub use crate::SHARE_PREFIX;

/// `path` as logs may hold it: a share link's token is its secret.
#[must_use]
pub fn without_token(path: &str) -> Cow<'_, str> {
    if path.starts_with(SHARE_PREFIX) && path.len() > SHARE_PREFIX.len() {
        Cow::Owned(format!("{SHARE_PREFIX}(jeton)"))
    } else {
        Cow::Borrowed(path)
    }
}

/// One share link as its holder's page shows it.
struct ShownShare {
    id: String,
    label: String,
    /// The whole address, while it opens.
    address: Option<String>,
    created_on: String,
    /// "valable jusqu'au 31 mars 2027 inclus", "expiré le …", "révoqué le …".
    state_text: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "shares.html")]
struct SharesPage {
    chrome: Chrome,
    diploma_id: String,
    diploma: String,
    notice: Option<&'static str>,
    shares: Vec<ShownShare>,
    /// Live share links of the whole profile, against [`MAX_LIVE_SHARES`].
    live_in_profile: usize,
    max_live: usize,
    max_label: usize,
    errors: FormErrors,
    form: ShareForm,
    /// The date picker's bounds (ISO 8601).
    first_day: String,
    last_day: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ShareForm {
    #[serde(default)]
    destinataire: String,
    /// The last day the link opens: `aaaa-mm-jj` (date pickers) or `jj/mm/aaaa`.
    #[serde(default)]
    jusqu_au: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct SharesQuery {
    #[serde(default)]
    avis: String,
}

fn notice_text(code: &str) -> Option<&'static str> {
    match code {
        "cree" => Some(
            "Lien de partage créé. Copiez son adresse ci-dessous et transmettez-la à son destinataire.",
        ),
        "revoque" => Some("Lien de partage révoqué : il ne fonctionne plus."),
        _ => None,
    }
}

fn shown(state: &AppState, share: &ShareLink, now: time::OffsetDateTime) -> ShownShare {
    // the last day it opened, as the holder chose it (the expiry is the next midnight)
    let last_day = french_date(paris_time(share.expires_at - time::Duration::SECOND).date());
    let (state_text, live) = match share.state(now) {
        ShareState::Live => (format!("Valable jusqu'au {last_day} inclus"), true),
        ShareState::Expired => (format!("Expiré (valable jusqu'au {last_day})"), false),
        ShareState::Revoked => (
            format!(
                "Révoqué le {}",
                share.revoked_at.map(french_day).unwrap_or_default()
            ),
            false,
        ),
    };
    ShownShare {
        id: share.id.0.to_string(),
        label: share.label.to_string(),
        address: live.then(|| graduate::share_address(state, share)),
        created_on: french_day(share.created_at),
        state_text,
        live,
    }
}

/// What the holder's page says besides the share links: after an action, or a refused
/// form with what was typed.
struct Said {
    status: StatusCode,
    notice: Option<&'static str>,
    errors: FormErrors,
    form: ShareForm,
}

async fn shares_page(
    state: &AppState,
    visitor: &Visitor,
    signed_in: &SignedIn,
    id: &str,
    said: Said,
) -> Result<Response, WebError> {
    let Said {
        status,
        notice,
        errors,
        form,
    } = said;
    let link = link_id(id)?;
    let diploma = graduate::diploma(state, signed_in, link).await?;
    if !diploma.link.is_active() {
        return Err(WebError::NoSuchDiploma);
    }
    let now = state.ports.clock.now();
    let all = state
        .ports
        .shares
        .list_for_profile(signed_in.profile)
        .await?;
    let live_in_profile = all
        .iter()
        .filter(|s| s.state(now) == ShareState::Live)
        .count();
    let today = paris_time(now).date();
    let title = format!(
        "{} — session {}",
        diploma.record.scope.kind.title(),
        diploma.record.scope.session
    );
    let chrome_title = match (notice, errors.is_empty()) {
        (Some(_), true) if status == StatusCode::OK => {
            format!("Lien de partage créé — Partager : {title}")
        }
        _ => format!("Partager : {title}"),
    };
    let form = if form.jusqu_au.is_empty() {
        ShareForm {
            jusqu_au: (today + time::Duration::days(30)).to_string(),
            ..form
        }
    } else {
        form
    };
    page(
        status,
        &SharesPage {
            chrome: Chrome::new(state, visitor, chrome_title).refusing(&errors),
            diploma_id: link.0.to_string(),
            diploma: title,
            notice,
            shares: all
                .iter()
                .filter(|s| s.link == link)
                .map(|s| shown(state, s, now))
                .collect(),
            live_in_profile,
            max_live: MAX_LIVE_SHARES,
            max_label: MAX_LABEL_CHARS,
            errors,
            form,
            first_day: today.to_string(),
            last_day: (today + time::Duration::days(MAX_SHARE_DAYS)).to_string(),
        },
    )
}

/// The holder's share links of one diploma, and the form to create one.
#[handler]
pub async fn list(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<SharesQuery>,
) -> Result<Response, WebError> {
    shares_page(
        &state,
        &visitor,
        &signed_in,
        &id,
        Said {
            status: StatusCode::OK,
            notice: notice_text(&q.avis),
            errors: FormErrors::default(),
            form: ShareForm::default(),
        },
    )
    .await
}

#[handler]
pub async fn create(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Path(id): Path<String>,
    PageForm(form): PageForm<ShareForm>,
) -> Result<Response, WebError> {
    let link = link_id(&id)?;
    let refused = |errors: FormErrors, form: ShareForm| {
        shares_page(
            &state,
            &visitor,
            &signed_in,
            &id,
            Said {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                notice: None,
                errors,
                form,
            },
        )
    };
    let Some(last_day) = read_date(&form.jusqu_au, DateWriting::Typed).and_then(|(y, m, d)| {
        time::Month::try_from(m)
            .ok()
            .and_then(|m| time::Date::from_calendar_date(y, m, d).ok())
    }) else {
        let mut errors = FormErrors::default();
        if let Err(e) = sand_domain::sharing::ShareLabel::parse(&form.destinataire) {
            errors.add("destinataire", label_error(&e));
        }
        errors.add(
            "jusqu_au",
            "Indiquez le dernier jour de validité du lien, au format jj/mm/aaaa.",
        );
        return refused(errors, form).await;
    };
    let result = graduate::create_share(
        &state,
        &signed_in,
        link,
        form.destinataire.clone(),
        last_day,
    )
    .await;
    let (field, text): (&'static str, String) = match result {
        Ok(share) => {
            return Ok(see_other(&format!(
                "/espace/diplomes/{}/partages?avis=cree#partage-{}",
                link.0, share.id.0
            )));
        }
        Err(CreateShareError::MalformedLabel(e)) => ("destinataire", label_error(&e)),
        Err(CreateShareError::LastDayPast) => (
            "jusqu_au",
            "Le dernier jour de validité ne peut pas être passé.".to_owned(),
        ),
        Err(CreateShareError::LastDayTooFar) => (
            "jusqu_au",
            format!(
                "Un lien de partage vaut au plus un an : choisissez un jour d'ici {MAX_SHARE_DAYS} jours."
            ),
        ),
        Err(CreateShareError::TooManyLive) => (
            "",
            format!(
                "Vous avez déjà {MAX_LIVE_SHARES} liens de partage valables : révoquez-en un avant d'en créer un autre."
            ),
        ),
        Err(CreateShareError::NotFound) => return Err(WebError::NoSuchDiploma),
        Err(CreateShareError::Unexpected(e)) => return Err(e.into()),
    };
    refused(FormErrors::one(field, text), form).await
}

fn label_error(e: &ShareLabelError) -> String {
    match e {
        ShareLabelError::Empty => {
            "Indiquez à qui ce lien est destiné, par exemple « Entreprise X, recrutement mars »."
                .to_owned()
        }
        ShareLabelError::TooLong => {
            format!("Le destinataire tient en {MAX_LABEL_CHARS} caractères au plus.")
        }
        ShareLabelError::ControlCharacter => {
            "Le destinataire contient un caractère invisible : saisissez-le de nouveau.".to_owned()
        }
    }
}

#[handler]
pub async fn revoke(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
    Path((id, share)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let link = link_id(&id)?;
    // only the holder's own share links, and only once
    graduate::revoke_share(&state, &signed_in, ShareId(link_id(&share)?.0)).await?;
    Ok(see_other(&format!(
        "/espace/diplomes/{}/partages?avis=revoque",
        link.0
    )))
}

#[derive(Template)]
#[template(path = "shared.html")]
struct SharedPage {
    chrome: Chrome,
    shown: Option<Shown>,
}

struct Shown {
    diploma: ShownDiploma,
    checked_at: String,
    label: String,
    until: String,
}

impl SharedPage {
    fn shared_for(&self, shown: &Shown) -> String {
        self.chrome.lang.t_with(
            "shared-for",
            &[
                ("label", shown.label.as_str()),
                ("date", shown.until.as_str()),
            ],
        )
    }
}

/// A recipient opens a share link: the verified diploma, or one answer for every
/// reason it does not open. Never cached, never indexed.
#[handler]
pub async fn open(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    if !state.limiters.share_opening(visitor.client).await {
        return Err(WebError::TooManyRequests(Limited::Verifications));
    }
    let lang = visitor.lang;
    let opened = state.open_share.execute(&token).await?;
    state.metrics.share_opening(opened.is_some());
    let now = state.ports.clock.now();
    let (status, title, shown) = match opened {
        Some(shared) => (
            StatusCode::OK,
            lang.t("shared-title"),
            Some(Shown {
                diploma: ShownDiploma::of(&shared.diploma, lang, &state.settings.issuers),
                checked_at: lang.date(paris_time(now).date()),
                label: shared.label.to_string(),
                until: lang.date(paris_time(shared.expires_at - time::Duration::SECOND).date()),
            }),
        ),
        None => (StatusCode::NOT_FOUND, lang.t("shared-invalid"), None),
    };
    let response = page(
        status,
        &SharedPage {
            chrome: Chrome::new(&state, &visitor, title).bilingual(),
            shown,
        },
    )?;
    Ok(response
        .with_header(header::CACHE_CONTROL, "no-store")
        .with_header("x-robots-tag", "noindex, nofollow")
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_never_hold_a_share_token() {
        let token = "ab".repeat(32);
        assert_eq!(
            without_token(&format!("/partage/{token}")),
            "/partage/(jeton)"
        );
        assert_eq!(without_token("/partage/"), "/partage/");
        assert_eq!(without_token("/verifier"), "/verifier");
    }
}
