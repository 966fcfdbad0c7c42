//! The web frame and what every handler shares: the frame around every request
//! (`frame`), sessions and cookies (`session`), CSRF (`csrf`), and the page helpers
//! (the layout's [`Chrome`], [`page`], [`see_other`], [`read_form`]). Errors are in
//! [`crate::error`].

mod csrf;
mod frame;
mod session;

use askama::Template;
use poem::Body;
use poem::Response;
use poem::http::{StatusCode, header};
use serde::de::DeserializeOwned;

pub use crate::error::WebError;
pub(crate) use frame::frame;
pub use session::{
    MAX_SESSIONS_PER_ACCOUNT, SignedIn, Visitor, end_session, return_target, start_session,
};
pub(crate) use session::{
    clear_session_cookie, device_cookie_name, fc_cookie_name, second_factor_cookie_name,
    session_cookie_name_for, set_cookie,
};

use crate::state::AppState;

/// The request's id, in every log line of the request and on every error page.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What every page's layout needs.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub operator: String,
    pub demo: bool,
    pub signed_in: bool,
    pub csrf: String,
    pub request_id: String,
    pub franceconnect: bool,
    pub title: String,
    /// The page shows a form's errors: its title starts with "Erreur :".
    pub refused: bool,
    /// For a signed-in visitor: when the session ends without activity.
    pub session: Option<SessionClock>,
    /// The accessibility statement's status, in the footer's link.
    pub conformance: crate::state::Conformance,
    /// The page's language (French but on the verification space, when asked for).
    pub lang: crate::i18n::Lang,
    /// The page exists in both languages: it shows the switch to the other.
    pub bilingual: bool,
}

impl Chrome {
    #[must_use]
    pub fn new(state: &AppState, visitor: &Visitor, title: impl Into<String>) -> Self {
        Self {
            operator: state.settings.operator_name.clone(),
            demo: state.settings.demo,
            signed_in: visitor.signed_in.is_some(),
            csrf: visitor.csrf.clone(),
            request_id: visitor.request_id.clone(),
            franceconnect: state.ports.franceconnect.is_some(),
            title: title.into(),
            refused: false,
            session: visitor
                .signed_in
                .as_ref()
                .map(|s| SessionClock::of(s.ends_at, state.ports.clock.now())),
            conformance: state.settings.accessibility.conformance,
            lang: visitor.lang,
            bilingual: false,
        }
    }

    /// A page that exists in both languages (the verification space): it speaks the
    /// visitor's and offers the other.
    #[must_use]
    pub fn bilingual(mut self) -> Self {
        self.bilingual = true;
        self
    }

    /// The text of message `id` in the page's language.
    #[must_use]
    pub fn t(&self, id: &str) -> String {
        self.lang.t(id)
    }

    /// The footer's first line.
    #[must_use]
    pub fn footer_about(&self) -> String {
        self.lang
            .t_with("footer-about", &[("operator", self.operator.as_str())])
    }

    /// The footer's link to the accessibility statement, with its status.
    #[must_use]
    pub fn footer_accessibility(&self) -> String {
        let status = self.lang.t(match self.conformance {
            crate::state::Conformance::Full => "conformance-full",
            crate::state::Conformance::Partial => "conformance-partial",
            crate::state::Conformance::None => "conformance-none",
        });
        self.lang
            .t_with("footer-accessibility", &[("status", status.as_str())])
    }

    /// The same page, showing `errors` (its title then starts with "Erreur :").
    #[must_use]
    pub fn refusing(mut self, errors: &FormErrors) -> Self {
        self.refused = !errors.is_empty();
        self
    }
}

/// When a session ends without activity, as the page says it and its script counts it.
#[derive(Debug, Clone)]
pub struct SessionClock {
    /// The hour, in Paris time: `11h30`.
    pub ends: String,
    /// Seconds left (the script counts from the page's arrival, not the device's clock).
    pub left_secs: i64,
}

impl SessionClock {
    #[must_use]
    pub fn of(ends_at: time::OffsetDateTime, now: time::OffsetDateTime) -> Self {
        let paris = sand_domain::text::paris_time(ends_at);
        Self {
            ends: format!("{}h{:02}", paris.hour(), paris.minute()),
            left_secs: (ends_at - now).whole_seconds().max(0),
        }
    }
}

/// What a form refused, each refusal tied to the field it concerns — RGAA's error
/// pattern: the page's title starts with "Erreur :", a summary that takes the focus on
/// arrival lists every error at once, each a link to its field; each field in error says
/// so (`aria-invalid`) and points to its message (`aria-describedby`).
#[derive(Debug, Clone, Default)]
pub struct FormErrors(Vec<FieldError>, crate::i18n::Lang);

/// One refusal: the `id` of the field it concerns (empty when it concerns the whole
/// form), and what to do, in French.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: &'static str,
    pub text: String,
}

impl FormErrors {
    /// One refusal of `field`.
    #[must_use]
    pub fn one(field: &'static str, text: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, text);
        errors
    }

    /// The same errors, said in `lang` (the summary's heading, the fields' prefix).
    #[must_use]
    pub fn in_lang(mut self, lang: crate::i18n::Lang) -> Self {
        self.1 = lang;
        self
    }

    /// The summary's heading: how many errors.
    #[must_use]
    pub fn heading(&self) -> String {
        if self.0.len() == 1 {
            self.1.t("errors-one")
        } else {
            self.1
                .t_with("errors-many", &[("count", &self.0.len().to_string())])
        }
    }

    /// What a screen reader hears before a field's message.
    #[must_use]
    pub fn hidden_prefix(&self) -> String {
        self.1.t("error-hidden-prefix")
    }

    pub fn add(&mut self, field: &'static str, text: impl Into<String>) {
        self.0.push(FieldError {
            field,
            text: text.into(),
        });
    }

    /// Moves the refusals of `from` onto the field `to` (one form control standing for
    /// several values).
    pub fn rename(&mut self, from: &str, to: &'static str) {
        for error in &mut self.0 {
            if error.field == from {
                error.field = to;
            }
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldError> {
        self.0.iter()
    }

    /// The first refusal of `field`.
    #[must_use]
    pub fn on(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.text.as_str())
    }

    /// The ARIA attributes of `field`'s input: what describes it (its `hint`'s id when it
    /// has one, then its error message's id), and `aria-invalid` when refused. Both are
    /// ids written in the code, never user input.
    #[must_use]
    pub fn aria(&self, field: &str, hint: &str) -> String {
        let refused = self.on(field).is_some();
        let mut described: Vec<String> = Vec::new();
        if !hint.is_empty() {
            described.push(hint.to_owned());
        }
        if refused {
            described.push(format!("{field}-erreur"));
        }
        let mut attributes = String::new();
        if !described.is_empty() {
            attributes.push_str(&format!(r#" aria-describedby="{}""#, described.join(" ")));
        }
        if refused {
            attributes.push_str(r#" aria-invalid="true""#);
        }
        attributes
    }
}

impl From<Vec<FieldError>> for FormErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors, crate::i18n::Lang::Fr)
    }
}

/// A rendered page with a status.
///
/// # Errors
/// [`WebError::Unexpected`] when the template fails.
pub fn page(status: StatusCode, template: &impl Template) -> Result<Response, WebError> {
    let html = template.render().map_err(WebError::unexpected)?;
    Ok(Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

/// A file to download: its media type, `Content-Disposition: attachment` with its name
/// (quotes, backslashes and line breaks dropped), and `no-store` when it is personal.
#[must_use]
pub fn attachment(file: sand_domain::ports::RenderedAttestation, no_store: bool) -> Response {
    let file_name = file.file_name.replace(['"', '\\', '\r', '\n'], "");
    let mut response = Response::builder().content_type(file.media_type).header(
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{file_name}\""),
    );
    if no_store {
        response = response.header(header::CACHE_CONTROL, "no-store");
    }
    response.body(file.bytes)
}

/// A 303 redirect (after a form, or to log in).
#[must_use]
pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .finish()
}

/// Reads an `application/x-www-form-urlencoded` body of at most `limit` bytes.
///
/// # Errors
/// [`WebError::TooLarge`], [`WebError::BadRequest`].
async fn read_form<T: DeserializeOwned>(body: Body, limit: usize) -> Result<T, WebError> {
    let bytes = body.into_bytes_limit(limit).await.map_err(|e| match e {
        poem::error::ReadBodyError::PayloadTooLarge => WebError::TooLarge,
        _ => WebError::BadRequest,
    })?;
    serde_urlencoded::from_bytes(&bytes).map_err(|_| WebError::BadRequest)
}

/// A diploma link's id from a path: anything else is a diploma the graduate does not have.
pub(crate) fn link_id(raw: &str) -> Result<sand_domain::link::LinkId, WebError> {
    uuid::Uuid::try_parse(raw)
        .map(sand_domain::link::LinkId)
        .map_err(|_| WebError::NoSuchDiploma)
}

/// A page form's fields, as a handler takes them: the frame has checked the form's CSRF
/// token before routing; the body is read within the service's limit (413 beyond it)
/// and an unreadable form is a 400.
#[derive(Debug)]
pub struct PageForm<T>(pub T);

impl<'a, T: DeserializeOwned + Send> poem::FromRequest<'a> for PageForm<T> {
    async fn from_request(
        req: &'a poem::Request,
        body: &mut poem::RequestBody,
    ) -> poem::Result<Self> {
        let limit = req
            .data::<std::sync::Arc<AppState>>()
            .map_or(0, |state| state.settings.max_body_bytes);
        let body = body.take().map_err(|_| WebError::BadRequest)?;
        Ok(Self(read_form(body, limit).await?))
    }
}
