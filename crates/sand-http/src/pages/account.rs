//! Accounts: create (two steps, the identity shown before it is fixed for good), confirm
//! the e-mail address, log in and out, forgotten password.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{Response, handler};
use sand_attestation::french_date;
use sand_domain::SecretToken;
use sand_domain::credentials::{Email, Password};
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity};
use sand_domain::profile::create::{CreateProfileError, CreateProfileRequest};
use sand_domain::profile::mailbox::{
    CONFIRMATION_LINK_VALID, ConfirmEmailError, RESET_LINK_VALID, ResetPasswordError,
};
use sand_domain::profile::sign_in::LogInError;
use sand_domain::public_paths;
use sand_domain::text::{DateWriting, french_duration};
use serde::Deserialize;
use time::Date;

use super::MessagePage;
use super::form_errors::{
    birth_date_error, email_error, first_names_error, name_error, password_error,
};
use super::known_device::{email_key, known_device, signed_in_response, slowed_message};
use crate::audit::{self, SecurityEvent, Subject};
use crate::error::Limited;
use crate::limits::LoginGate;
use crate::state::AppState;
use crate::web::{
    Chrome, FormErrors, PageForm, Visitor, WebError, end_session, page, return_target, see_other,
};

// ---------------------------------------------------------------------------------------
// Create an account
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    pub nom: String,
    #[serde(default)]
    pub prenoms: String,
    #[serde(default)]
    pub naissance: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    confirmation: String,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    form: RegisterForm,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "register_confirm.html")]
struct RegisterConfirmPage {
    chrome: Chrome,
    form: RegisterForm,
    errors: FormErrors,
    shown_name: String,
    shown_first_names: String,
    shown_birth_date: String,
}

fn parse_identity(form: &RegisterForm, today: Date) -> Result<(Identity, Email), FormErrors> {
    let mut errors = FormErrors::default();
    let birth_name = BirthName::parse(&form.nom)
        .map_err(|e| errors.add("nom", name_error("Nom de naissance", &e)))
        .ok();
    let first_names = FirstNames::parse_text(&form.prenoms)
        .map_err(|e| errors.add("prenoms", first_names_error(&e)))
        .ok();
    let birth_date = BirthDate::parse(&form.naissance, DateWriting::Typed, today)
        .map_err(|e| errors.add("naissance", birth_date_error(&e)))
        .ok();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.add("email", email_error(&e)))
        .ok();
    match (birth_name, first_names, birth_date, email) {
        (Some(birth_name), Some(first_names), Some(birth_date), Some(email))
            if errors.is_empty() =>
        {
            Ok((
                Identity {
                    birth_name,
                    first_names,
                    birth_date,
                    birth_place: None,
                    birth_place_code: None,
                },
                email,
            ))
        }
        _ => Err(errors),
    }
}

#[handler]
pub async fn register_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &RegisterPage {
            chrome: Chrome::new(&state, &visitor, "Créer mon profil"),
            form: RegisterForm::default(),
            errors: FormErrors::default(),
        },
    )
}

/// Back from the confirmation step to the form, with what was typed (never the
/// password): correcting one letter must not mean typing everything again.
#[handler]
pub async fn register_correct(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<RegisterForm>,
) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &RegisterPage {
            chrome: Chrome::new(&state, &visitor, "Créer mon profil"),
            form: RegisterForm {
                mot_de_passe: String::new(),
                confirmation: String::new(),
                ..form
            },
            errors: FormErrors::default(),
        },
    )
}

fn confirm_page(
    state: &AppState,
    visitor: &Visitor,
    form: RegisterForm,
    identity: &Identity,
    errors: FormErrors,
) -> Result<Response, WebError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut form = form;
    form.mot_de_passe.clear();
    form.confirmation.clear();
    page(
        status,
        &RegisterConfirmPage {
            chrome: Chrome::new(state, visitor, "Vérifiez votre identité").refusing(&errors),
            shown_name: identity.birth_name.to_string(),
            shown_first_names: identity.first_names.to_string(),
            shown_birth_date: french_date(identity.birth_date.date()),
            form,
            errors,
        },
    )
}

#[handler]
pub async fn register_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<RegisterForm>,
) -> Result<Response, WebError> {
    let today = state.ports.clock.now().date();
    match parse_identity(&form, today) {
        Ok((identity, _)) => confirm_page(&state, &visitor, form, &identity, FormErrors::default()),
        Err(errors) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RegisterPage {
                chrome: Chrome::new(&state, &visitor, "Créer mon profil").refusing(&errors),
                form,
                errors,
            },
        ),
    }
}

fn verify_link(state: &AppState, token: &SecretToken) -> String {
    format!(
        "{}{}?{}={}",
        state.settings.public_url,
        public_paths::CONFIRM_EMAIL,
        public_paths::TOKEN,
        token.expose()
    )
}

fn check_your_mail(
    state: &AppState,
    visitor: &Visitor,
    demo_link: Option<String>,
) -> Result<Response, WebError> {
    let mut paragraphs = vec![
        format!("Si cette adresse peut être utilisée, un e-mail vient de vous y être envoyé avec un lien pour confirmer votre adresse (valable {}).", french_duration(CONFIRMATION_LINK_VALID)),
        "Suivez ce lien et saisissez le mot de passe que vous venez de choisir : vous serez connecté. Pensez à regarder dans vos indésirables.".to_owned(),
    ];
    let mut link = None;
    if state.settings.demo {
        paragraphs.push("Site de démonstration : aucun e-mail ne part vraiment. Le lien de confirmation est aussi ci-dessous.".to_owned());
        link = demo_link.map(|href| (href, "Confirmer mon adresse (démonstration)".to_owned()));
    }
    page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(state, visitor, "Consultez votre messagerie"),
            paragraphs,
            link,
        },
    )
}

#[handler]
pub async fn register_confirm(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<RegisterForm>,
) -> Result<Response, WebError> {
    let today = state.ports.clock.now().date();
    let (identity, email) = match parse_identity(&form, today) {
        Ok(parsed) => parsed,
        Err(errors) => {
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &RegisterPage {
                    chrome: Chrome::new(&state, &visitor, "Créer mon profil").refusing(&errors),
                    form,
                    errors,
                },
            );
        }
    };
    let password = match Password::new_for_account(&form.mot_de_passe, &email, &identity.birth_name)
    {
        Ok(p) if form.mot_de_passe == form.confirmation => p,
        Ok(_) => {
            let errors = FormErrors::one(
                "confirmation",
                "Confirmation : les deux mots de passe saisis sont différents.",
            );
            return confirm_page(&state, &visitor, form, &identity, errors);
        }
        Err(e) => {
            let errors = FormErrors::one("mot_de_passe", password_error(&e));
            return confirm_page(&state, &visitor, form, &identity, errors);
        }
    };
    if !state.limiters.account(visitor.client).await {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    let request = CreateProfileRequest {
        identity,
        email: email.clone(),
        password,
    };
    match state.create_profile.execute(request).await {
        Ok(profile) => {
            let demo_link = if state.limiters.mail_to(email.as_str()).await {
                let token = state.mailbox.send_confirmation(&profile).await?;
                Some(verify_link(&state, &token))
            } else {
                tracing::warn!(event = "mail_capped", profile = %profile.id.0, "confirmation mails to one address capped this hour");
                state.metrics.mail_capped();
                None
            };
            audit::record(
                &state,
                &visitor,
                SecurityEvent::AccountCreated,
                Subject::Profile(profile.id),
            );
            check_your_mail(&state, &visitor, demo_link)
        }
        // the same answer as for a new address: the form does not tell who has a profile
        Err(CreateProfileError::EmailAlreadyUsed) => check_your_mail(&state, &visitor, None),
        Err(CreateProfileError::Unexpected(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub(crate) jeton: String,
}

fn invalid_link(
    state: &AppState,
    visitor: &Visitor,
    what: &str,
    retry: (&str, &str),
) -> Result<Response, WebError> {
    page(
        StatusCode::BAD_REQUEST,
        &MessagePage {
            chrome: Chrome::new(state, visitor, "Lien invalide ou expiré"),
            paragraphs: vec![format!(
                "Ce lien {what} n'est pas valide : il a expiré, il a déjà servi, ou il a été mal copié."
            )],
            link: Some((retry.0.to_owned(), retry.1.to_owned())),
        },
    )
}

#[derive(Template)]
#[template(path = "confirm_email.html")]
struct ConfirmEmailPage {
    chrome: Chrome,
    token: String,
    errors: FormErrors,
}

const CONFIRM_RETRY: (&str, &str) = ("/connexion", "Se connecter pour recevoir un nouveau lien");

/// The confirmation link's page: it asks for the password chosen at registration, so
/// that reading the mailbox alone does not confirm a profile someone else registered.
#[handler]
pub async fn confirm_email(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let Some(profile) = state.mailbox.confirmation_target(&q.jeton).await? else {
        return invalid_link(&state, &visitor, "de confirmation", CONFIRM_RETRY);
    };
    if profile.email_verified {
        return page(
            StatusCode::OK,
            &MessagePage {
                chrome: Chrome::new(&state, &visitor, "Adresse déjà confirmée"),
                paragraphs: vec!["Votre adresse e-mail est déjà confirmée. Connectez-vous pour rattacher vos diplômes.".to_owned()],
                link: Some(("/connexion".to_owned(), "Se connecter".to_owned())),
            },
        );
    }
    page(
        StatusCode::OK,
        &ConfirmEmailPage {
            chrome: Chrome::new(&state, &visitor, "Confirmer mon adresse e-mail"),
            token: q.jeton,
            errors: FormErrors::default(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ConfirmEmailForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    mot_de_passe: String,
}

#[handler]
pub async fn confirm_email_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<ConfirmEmailForm>,
) -> Result<Response, WebError> {
    let Some(profile) = state.mailbox.confirmation_target(&form.jeton).await? else {
        return invalid_link(&state, &visitor, "de confirmation", CONFIRM_RETRY);
    };
    // guessing the password here is guessing a login: the same limits
    let email_key = email_key(profile.email.as_str());
    let now = state.ports.clock.now();
    if state
        .limiters
        .login(now, visitor.client, &email_key, false)
        .await
        != LoginGate::Allowed
    {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    let refused = || {
        let errors = FormErrors::one(
            "mot_de_passe",
            "Mot de passe : ce n'est pas celui de ce profil. Saisissez celui que vous avez choisi en le créant ; si vous ne le reconnaissez pas, créez votre profil de nouveau.",
        );
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ConfirmEmailPage {
                chrome: Chrome::new(&state, &visitor, "Confirmer mon adresse e-mail")
                    .refusing(&errors),
                token: form.jeton.clone(),
                errors,
            },
        )
    };
    let Ok(password) = Password::for_login(&form.mot_de_passe) else {
        return refused();
    };
    match state.mailbox.confirm_email(&form.jeton, &password).await {
        Ok(confirmed) => {
            audit::record(
                &state,
                &visitor,
                SecurityEvent::EmailConfirmed,
                Subject::Profile(confirmed.id),
            );
            signed_in_response(&state, &visitor, confirmed.id, &email_key, "/espace").await
        }
        Err(ConfirmEmailError::WrongPassword) => {
            state.limiters.login_failed(now, &email_key).await;
            audit::record(
                &state,
                &visitor,
                SecurityEvent::LoginFailed,
                Subject::Profile(profile.id),
            );
            refused()
        }
        // expired between the two looks
        Err(ConfirmEmailError::InvalidLink) => {
            invalid_link(&state, &visitor, "de confirmation", CONFIRM_RETRY)
        }
        Err(ConfirmEmailError::Unexpected(e)) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// Sends a new verification link, off the request (same answer and timing whether the
/// address has an unverified profile or not).
#[handler]
pub async fn resend_verification(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<EmailForm>,
) -> Result<Response, WebError> {
    if !state.limiters.mail_request(visitor.client).await {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    let email = Email::parse(&form.email).ok();
    let capped = match &email {
        Some(email) => !state.limiters.mail_to(email.as_str()).await,
        None => false,
    };
    if capped {
        tracing::warn!(
            event = "mail_capped",
            "confirmation mails to one address capped this hour"
        );
        state.metrics.mail_capped();
    }
    if let Some(email) = email.filter(|_| !capped) {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            if let Err(e) = state.mailbox.resend_confirmation(&email).await {
                tracing::error!(error = %e, "could not send a confirmation link again");
            }
        });
    }
    check_your_mail(&state, &visitor, None)
}

// ---------------------------------------------------------------------------------------
// Log in and out
// ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    /// Fields left empty.
    errors: FormErrors,
    /// Why a login was refused (wrong credentials, slowed down): not a form error.
    refusal: Option<String>,
    unverified: bool,
    /// The visitor's session has just ended: say so.
    expired: bool,
    /// Where to go after signing in (a page of the space), or empty.
    retour: String,
}

/// What the login page's address may say: a session that ended, the page to come back to.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    expiree: Option<String>,
    #[serde(default)]
    retour: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    mot_de_passe: String,
    /// The page to come back to, carried from the login page's address.
    #[serde(default)]
    retour: String,
}

#[handler]
pub async fn login_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let retour = query
        .retour
        .as_deref()
        .and_then(return_target)
        .unwrap_or_default()
        .to_owned();
    if visitor.signed_in.is_some() {
        return Ok(see_other(if retour.is_empty() {
            "/espace"
        } else {
            &retour
        }));
    }
    page(
        StatusCode::OK,
        &LoginPage {
            chrome: Chrome::new(&state, &visitor, "Se connecter"),
            email: String::new(),
            errors: FormErrors::default(),
            refusal: None,
            unverified: false,
            expired: query.expiree.is_some(),
            retour,
        },
    )
}

#[handler]
pub async fn login_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, WebError> {
    // a field left empty is a form error (both said at once), not a refused login
    let mut errors = FormErrors::default();
    if form.email.trim().is_empty() {
        errors.add("email", "Adresse e-mail : ce champ est obligatoire.");
    }
    if form.mot_de_passe.is_empty() {
        errors.add("mot_de_passe", "Mot de passe : ce champ est obligatoire.");
    }
    if !errors.is_empty() {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &LoginPage {
                chrome: Chrome::new(&state, &visitor, "Se connecter").refusing(&errors),
                email: form.email.chars().take(254).collect(),
                errors,
                refusal: None,
                unverified: false,
                expired: false,
                retour: return_target(&form.retour).unwrap_or_default().to_owned(),
            },
        );
    }
    let email_key = email_key(&form.email);
    let now = state.ports.clock.now();
    let known = known_device(&state, &visitor, &email_key);
    match state
        .limiters
        .login(now, visitor.client, &email_key, known)
        .await
    {
        LoginGate::Allowed => {}
        LoginGate::TooMany => return Err(WebError::TooManyRequests(Limited::Requests)),
        LoginGate::SlowedDown { retry_after_secs } => {
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                &LoginPage {
                    chrome: Chrome::new(&state, &visitor, "Se connecter"),
                    email: form.email.chars().take(254).collect(),
                    errors: FormErrors::default(),
                    refusal: Some(slowed_message(retry_after_secs)),
                    unverified: false,
                    expired: false,
                    retour: return_target(&form.retour).unwrap_or_default().to_owned(),
                },
            )?;
            response.headers_mut().insert(
                header::RETRY_AFTER,
                retry_after_secs
                    .to_string()
                    .parse()
                    .map_err(WebError::unexpected)?,
            );
            return Ok(response);
        }
    }
    let refused = |unverified: bool, message: &str| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &LoginPage {
                chrome: Chrome::new(&state, &visitor, "Se connecter"),
                email: form.email.chars().take(254).collect(),
                errors: FormErrors::default(),
                refusal: Some(message.to_owned()),
                unverified,
                expired: false,
                retour: return_target(&form.retour).unwrap_or_default().to_owned(),
            },
        )
    };
    const WRONG: &str = "Adresse e-mail ou mot de passe incorrect.";
    let (Ok(email), Ok(password)) = (
        Email::parse(&form.email),
        Password::for_login(&form.mot_de_passe),
    ) else {
        state.limiters.login_failed(now, &email_key).await;
        audit::record(
            &state,
            &visitor,
            SecurityEvent::LoginFailed,
            Subject::Address(&email_key),
        );
        return refused(false, WRONG);
    };
    match state.log_in.execute(&email, &password).await {
        Ok(profile) => {
            // the password was right; a second factor, if on, comes before any session
            if state
                .ports
                .profiles
                .second_factor(profile.id)
                .await?
                .is_some()
            {
                return crate::pages::second_factor::ask_for_code(
                    &state,
                    profile.id,
                    Some(&form.retour),
                );
            }
            audit::record(
                &state,
                &visitor,
                SecurityEvent::LoginSucceeded,
                Subject::Profile(profile.id),
            );
            let to = return_target(&form.retour).unwrap_or("/espace");
            signed_in_response(&state, &visitor, profile.id, &email_key, to).await
        }
        Err(LogInError::InvalidCredentials) => {
            state.limiters.login_failed(now, &email_key).await;
            audit::record(
                &state,
                &visitor,
                SecurityEvent::LoginFailed,
                Subject::Address(&email_key),
            );
            refused(false, WRONG)
        }
        Err(LogInError::EmailNotVerified) => {
            audit::record(
                &state,
                &visitor,
                SecurityEvent::LoginUnconfirmed,
                Subject::Address(&email_key),
            );
            refused(true, "Confirmez d'abord votre adresse e-mail.")
        }
        Err(LogInError::Unexpected(e)) => Err(e.into()),
    }
}

#[handler]
pub async fn logout(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    let hint = visitor
        .signed_in
        .as_ref()
        .and_then(|s| s.id_token_hint.clone());
    let cookie = end_session(&state, &visitor).await?;
    if visitor.signed_in.is_some() {
        audit::record(&state, &visitor, SecurityEvent::Logout, Subject::Visitor);
    }
    let mut location = "/".to_owned();
    if let (Some(hint), Some(fc)) = (hint, &state.ports.franceconnect) {
        let logout_state = crate::system::random_token();
        match fc.logout_url(&hint, &logout_state).await {
            Ok(url) => location = url,
            Err(e) => tracing::warn!(error = %e, "FranceConnect logout address unavailable"),
        }
    }
    let mut response = see_other(&location);
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie.parse().map_err(WebError::unexpected)?,
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------
// Forgotten password
// ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    email: String,
    errors: FormErrors,
}

impl ForgotPage {
    /// How long the link it sends works, in words.
    #[allow(clippy::unused_self)] // called by the template
    fn valid_for(&self) -> String {
        french_duration(RESET_LINK_VALID)
    }
}

#[handler]
pub async fn forgot_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &ForgotPage {
            chrome: Chrome::new(&state, &visitor, "Mot de passe oublié"),
            email: String::new(),
            errors: FormErrors::default(),
        },
    )
}

#[handler]
pub async fn forgot_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<EmailForm>,
) -> Result<Response, WebError> {
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let errors = FormErrors::one("email", email_error(&e));
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ForgotPage {
                    chrome: Chrome::new(&state, &visitor, "Mot de passe oublié").refusing(&errors),
                    email: form.email.chars().take(254).collect(),
                    errors,
                },
            );
        }
    };
    if !state.limiters.mail_request(visitor.client).await {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    audit::record(
        &state,
        &visitor,
        SecurityEvent::PasswordResetRequested,
        Subject::Address(email.as_str()),
    );
    // at most a few mails an hour to one address, whoever asks; counted for any address,
    // known or not, and answered alike: the cap tells nothing
    if !state.limiters.mail_to(email.as_str()).await {
        tracing::warn!(
            event = "mail_capped",
            "reset mails to one address capped this hour"
        );
        state.metrics.mail_capped();
        return forgot_sent(&state, &visitor);
    }
    // looked up and mailed off the request: known and unknown addresses answer alike
    let task_state = Arc::clone(&state);
    tokio::spawn(async move {
        if let Err(e) = task_state.mailbox.request_reset(&email).await {
            tracing::error!(error = %e, "could not send a password reset link");
        }
    });
    forgot_sent(&state, &visitor)
}

/// The one answer to a reset request, whatever happens behind it.
fn forgot_sent(state: &AppState, visitor: &Visitor) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(state, visitor, "Consultez votre messagerie"),
            paragraphs: std::iter::once(format!("Si cette adresse correspond à un profil, un e-mail vient d'y être envoyé avec un lien pour choisir un nouveau mot de passe (valable {}).", french_duration(RESET_LINK_VALID)))
                // only where FranceConnect is offered can a profile have been made with it
                .chain(state.ports.franceconnect.is_some().then(|| "Un profil créé avec FranceConnect n'a pas de mot de passe ici : connectez-vous avec FranceConnect.".to_owned()))
                .collect(),
            link: Some(("/connexion".to_owned(), "Retour à la connexion".to_owned())),
        },
    )
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    chrome: Chrome,
    token: String,
    errors: FormErrors,
}

const RESET_RETRY: (&str, &str) = ("/mot-de-passe-oublie", "Demander un nouveau lien");

#[handler]
pub async fn reset_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    if state.mailbox.reset_target(&q.jeton).await?.is_none() {
        return invalid_link(
            &state,
            &visitor,
            "de changement de mot de passe",
            RESET_RETRY,
        );
    }
    page(
        StatusCode::OK,
        &ResetPage {
            chrome: Chrome::new(&state, &visitor, "Nouveau mot de passe"),
            token: q.jeton,
            errors: FormErrors::default(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    jeton: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    confirmation: String,
}

#[handler]
pub async fn reset_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<ResetForm>,
) -> Result<Response, WebError> {
    let again = |errors: FormErrors| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                chrome: Chrome::new(&state, &visitor, "Nouveau mot de passe").refusing(&errors),
                token: form.jeton.clone(),
                errors,
            },
        )
    };
    let reset = match state
        .mailbox
        .reset_password(&form.jeton, &form.mot_de_passe, &form.confirmation)
        .await
    {
        Ok(reset) => reset,
        Err(ResetPasswordError::InvalidLink) => {
            return invalid_link(
                &state,
                &visitor,
                "de changement de mot de passe",
                RESET_RETRY,
            );
        }
        Err(ResetPasswordError::Mismatch) => {
            return again(FormErrors::one(
                "confirmation",
                "Confirmation : les deux mots de passe saisis sont différents.",
            ));
        }
        Err(ResetPasswordError::Refused(e)) => {
            return again(FormErrors::one("mot_de_passe", password_error(&e)));
        }
        Err(ResetPasswordError::Unexpected(e)) => return Err(e.into()),
    };
    // the owner proved the mailbox and chose a new password: the account is not slowed
    state
        .limiters
        .login_cleared(&email_key(reset.profile.email.as_str()))
        .await;
    tracing::info!(
        sessions_ended = reset.sessions_ended,
        "all sessions of the account ended"
    );
    if let Some(e) = &reset.notice_not_queued {
        tracing::warn!(error = %e, "could not queue the notice of a security change");
    }
    audit::record(
        &state,
        &visitor,
        SecurityEvent::PasswordReset,
        Subject::Profile(reset.profile.id),
    );
    page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(&state, &visitor, "Mot de passe changé"),
            paragraphs: vec!["Votre mot de passe est changé ; toutes vos sessions ouvertes ont été fermées. Connectez-vous avec le nouveau.".to_owned()],
            link: Some(("/connexion".to_owned(), "Se connecter".to_owned())),
        },
    )
}
