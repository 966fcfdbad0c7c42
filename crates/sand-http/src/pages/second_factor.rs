//! The optional second factor of password accounts (ASVS 5.0 6.3.3): an authenticator
//! application's six-digit codes (TOTP, RFC 6238: SHA-1, 30 s, one step of tolerance
//! either side) and ten single-use recovery codes. Turned on and off from the profile
//! page; asked for after the password at login. Each code is accepted once; wrong codes
//! count as failed logins (the same limits and slowing).

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Query};
use poem::{Response, handler};
use sand_domain::credentials::Password;
use sand_domain::profile::second_factor::{RECOVERY_CODES, RecoveryCodeDigest, TotpSecret};
use sand_domain::profile::{LoginMethod, Profile, ProfileId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::Duration;
use totp_rs::Totp;

use super::MessagePage;
use super::known_device::{email_key, signed_in_response};
use crate::audit::{self, SecurityEvent, Subject};
use crate::error::Limited;
use crate::limits::LoginGate;
use crate::state::AppState;
use crate::tokens::Purpose;
use crate::totp::check_code;
use crate::web::{
    Chrome, FormErrors, PageForm, Visitor, WebError, page, return_target,
    second_factor_cookie_name, see_other, set_cookie,
};

/// How long an offered secret may wait for its first code.
const ENROLMENT_VALID: Duration = Duration::minutes(15);
/// How long a right password waits for its second factor.
const LOGIN_STEP_VALID: Duration = Duration::minutes(5);

/// The code generator of `secret` for `account` (the address shown in the
/// authenticator application) at `issuer` (the operator's name).
fn generator(secret: &[u8], account: &str, issuer: &str) -> Result<Totp, WebError> {
    crate::totp::generator(secret, account, issuer).map_err(WebError::unexpected)
}

/// A recovery code as typed, normalised: base32 letters and digits, upper case, no
/// separators; `None` if it cannot be one.
fn normalised_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == 16 && code.chars().all(|c| matches!(c, 'A'..='Z' | '2'..='7'))).then_some(code)
}

fn recovery_digest(normalised: &str) -> RecoveryCodeDigest {
    RecoveryCodeDigest(hex::encode(Sha256::digest(normalised.as_bytes())))
}

/// Ten new recovery codes (80 random bits each, `ABCD-EFGH-IJKL-MNOP`) and their digests.
fn new_recovery_codes() -> (Vec<String>, Vec<RecoveryCodeDigest>) {
    (0..RECOVERY_CODES)
        .map(|_| {
            let bare =
                totp_rs::Secret::from(crate::system::random_bytes::<10>().to_vec()).to_base32();
            let digest = recovery_digest(&bare);
            let shown = bare
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            (shown, digest)
        })
        .unzip()
}

/// Whether `typed` is a valid second-factor code of `profile` now: a TOTP code of a step
/// not used before, or an unused recovery code (used up). Returns whether a recovery
/// code was used.
async fn accept_code(
    state: &AppState,
    profile: &Profile,
    typed: &str,
) -> Result<Option<bool>, WebError> {
    let Some(factor) = state.ports.profiles.second_factor(profile.id).await? else {
        return Ok(None);
    };
    let now = state.ports.clock.now();
    let totp = generator(
        factor.secret.expose(),
        profile.email.as_str(),
        &state.settings.operator_name,
    )?;
    if let Some(step) = check_code(&totp, typed, now) {
        // a code is accepted once: a code seen over a shoulder, or replayed, is refused
        return Ok(state
            .ports
            .profiles
            .accept_totp_step(profile.id, step)
            .await?
            .then_some(false));
    }
    if let Some(code) = normalised_recovery_code(typed)
        && state
            .ports
            .profiles
            .use_recovery_code(profile.id, &recovery_digest(&code))
            .await?
    {
        return Ok(Some(true));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// From the profile page: turn on, turn off
// ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    enabled: bool,
    enabled_on: String,
    codes_left: u64,
    // enrolment
    qr_svg: String,
    secret_text: String,
    enrolment: String,
    errors: FormErrors,
}

/// The signed-in password profile, or the page saying FranceConnect accounts have none.
async fn password_profile(
    state: &AppState,
    visitor: &Visitor,
) -> Result<Result<Profile, Response>, WebError> {
    let signed_in = visitor.require()?;
    let Some(profile) = state.ports.profiles.get(signed_in.profile).await? else {
        return Err(WebError::SignIn);
    };
    if !matches!(profile.login, LoginMethod::Password) {
        return Ok(Err(page(
            StatusCode::OK,
            &MessagePage {
                chrome: Chrome::new(state, visitor, "Double authentification"),
                paragraphs: vec!["Vous vous connectez avec FranceConnect : la connexion passe par le compte que vous y choisissez (impots.gouv.fr, ameli.fr, La Poste…), qui a ses propres protections. La double authentification de SAND concerne les profils créés avec une adresse e-mail et un mot de passe.".to_owned()],
                link: Some(("/espace/profil".to_owned(), "Retour à mon profil".to_owned())),
            },
        )?));
    }
    Ok(Ok(profile))
}

/// The enrolment page for a new secret, or for the secret of `enrolment` again.
fn enrolment_page(
    state: &AppState,
    visitor: &Visitor,
    profile: &Profile,
    secret: &[u8],
    enrolment: String,
    status: StatusCode,
    errors: FormErrors,
) -> Result<Response, WebError> {
    let totp = generator(
        secret,
        profile.email.as_str(),
        &state.settings.operator_name,
    )?;
    let url = totp.to_url().map_err(WebError::unexpected)?;
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(WebError::unexpected)?;
    let svg = super::qr::inline_svg(
        &code,
        200,
        "QR code à scanner avec votre application d'authentification",
    );
    let base32 = totp.secret().to_base32();
    let secret_text = base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    page(
        status,
        &SecondFactorPage {
            chrome: Chrome::new(state, visitor, "Double authentification").refusing(&errors),
            enabled: false,
            enabled_on: String::new(),
            codes_left: 0,
            qr_svg: svg,
            secret_text,
            enrolment,
            errors,
        },
    )
}

#[handler]
pub async fn settings(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
) -> Result<Response, WebError> {
    let profile = match password_profile(&state, &visitor).await? {
        Ok(profile) => profile,
        Err(response) => return Ok(response),
    };
    if let Some(factor) = state.ports.profiles.second_factor(profile.id).await? {
        return page(
            StatusCode::OK,
            &SecondFactorPage {
                chrome: Chrome::new(&state, &visitor, "Double authentification"),
                enabled: true,
                enabled_on: sand_domain::text::french_day(factor.enabled_at),
                codes_left: factor.recovery_codes_left,
                qr_svg: String::new(),
                secret_text: String::new(),
                enrolment: String::new(),
                errors: FormErrors::default(),
            },
        );
    }
    let secret = crate::system::random_bytes::<20>();
    let enrolment = state.signer.sign(
        Purpose::SecondFactorEnrolment,
        &hex::encode(secret),
        &visitor.require()?.digest,
        state.ports.clock.now() + ENROLMENT_VALID,
    );
    enrolment_page(
        &state,
        &visitor,
        &profile,
        &secret,
        enrolment,
        StatusCode::OK,
        FormErrors::default(),
    )
}

#[derive(Debug, Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    pub inscription: String,
    #[serde(default)]
    pub code: String,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
}

#[handler]
pub async fn enrol(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<EnrolForm>,
) -> Result<Response, WebError> {
    let profile = match password_profile(&state, &visitor).await? {
        Ok(profile) => profile,
        Err(response) => return Ok(response),
    };
    let now = state.ports.clock.now();
    // the secret offered to this session, not expired
    let Some(secret) = state
        .signer
        .open(
            Purpose::SecondFactorEnrolment,
            &form.inscription,
            &visitor.require()?.digest,
            now,
        )
        .and_then(|hex_secret| hex::decode(hex_secret).ok())
    else {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage {
                chrome: Chrome::new(&state, &visitor, "Double authentification"),
                paragraphs: vec!["Cette inscription a expiré (elle vaut 15 minutes). Recommencez : un nouveau QR code vous sera proposé ; supprimez l'ancien de votre application.".to_owned()],
                link: Some((
                    "/espace/profil/double-authentification".to_owned(),
                    "Recommencer".to_owned(),
                )),
            },
        );
    };
    let totp = generator(
        &secret,
        profile.email.as_str(),
        &state.settings.operator_name,
    )?;
    let Some(step) = check_code(&totp, &form.code, now) else {
        return enrolment_page(
            &state,
            &visitor,
            &profile,
            &secret,
            form.inscription.clone(),
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::one(
                "code",
                "Code : ce n'est pas le code affiché par votre application pour ce compte. Vérifiez que l'heure de votre téléphone est exacte, puis saisissez le code actuel (6 chiffres).",
            ),
        );
    };
    let (codes, digests) = new_recovery_codes();
    let enabled = state
        .ports
        .profiles
        .enable_second_factor(profile.id, &TotpSecret::new(secret), step, &digests, now)
        .await?;
    if !enabled {
        // already on (another tab): show its state
        return Ok(see_other("/espace/profil/double-authentification"));
    }
    audit::record(
        &state,
        &visitor,
        SecurityEvent::SecondFactorEnabled,
        Subject::Visitor,
    );
    crate::pages::security::notify_security_change(
        &state,
        &profile.email,
        sand_domain::ports::SecurityChange::SecondFactorEnabled,
    )
    .await;
    page(
        StatusCode::OK,
        &RecoveryCodesPage {
            chrome: Chrome::new(&state, &visitor, "Vos codes de secours"),
            codes,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    pub mot_de_passe: String,
    #[serde(default)]
    pub code: String,
}

#[handler]
pub async fn disable(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<DisableForm>,
) -> Result<Response, WebError> {
    let profile = match password_profile(&state, &visitor).await? {
        Ok(profile) => profile,
        Err(response) => return Ok(response),
    };
    let key = email_key(profile.email.as_str());
    let now = state.ports.clock.now();
    if state.limiters.login(now, visitor.client, &key, true).await != LoginGate::Allowed {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    // both factors: a stolen session alone cannot take the second one away
    let password_ok = match (
        Password::for_login(&form.mot_de_passe),
        state.ports.profiles.password_hash(profile.id).await?,
    ) {
        (Ok(password), Some(hash)) => state.ports.hasher.verify(&password, &hash).await?,
        _ => false,
    };
    let code = if password_ok {
        accept_code(&state, &profile, &form.code).await?
    } else {
        None
    };
    let Some(recovery_used) = code else {
        state.limiters.login_failed(now, &key).await;
        audit::record(
            &state,
            &visitor,
            SecurityEvent::SecondFactorFailed,
            Subject::Visitor,
        );
        let factor = state.ports.profiles.second_factor(profile.id).await?;
        let errors = FormErrors::one(
            "",
            "Mot de passe ou code incorrect : la double authentification reste activée.",
        );
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SecondFactorPage {
                chrome: Chrome::new(&state, &visitor, "Double authentification").refusing(&errors),
                enabled: factor.is_some(),
                enabled_on: factor
                    .as_ref()
                    .map(|f| sand_domain::text::french_day(f.enabled_at))
                    .unwrap_or_default(),
                codes_left: factor.map_or(0, |f| f.recovery_codes_left),
                qr_svg: String::new(),
                secret_text: String::new(),
                enrolment: String::new(),
                errors,
            },
        );
    };
    if recovery_used {
        audit::record(
            &state,
            &visitor,
            SecurityEvent::RecoveryCodeUsed,
            Subject::Visitor,
        );
    }
    state
        .ports
        .profiles
        .disable_second_factor(profile.id)
        .await?;
    audit::record(
        &state,
        &visitor,
        SecurityEvent::SecondFactorDisabled,
        Subject::Visitor,
    );
    crate::pages::security::notify_security_change(
        &state,
        &profile.email,
        sand_domain::ports::SecurityChange::SecondFactorDisabled,
    )
    .await;
    page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(&state, &visitor, "Double authentification désactivée"),
            paragraphs: vec!["La double authentification est désactivée : votre mot de passe suffit de nouveau pour vous connecter. Supprimez ce compte de votre application d'authentification ; vos codes de secours ne valent plus rien.".to_owned()],
            link: Some(("/espace/profil".to_owned(), "Retour à mon profil".to_owned())),
        },
    )
}

// ---------------------------------------------------------------------------------------
// At login
// ---------------------------------------------------------------------------------------

/// After a right password, for a profile with a second factor: no session yet, a
/// short-lived cookie naming the profile, and the code form.
pub fn ask_for_code(
    state: &AppState,
    profile: ProfileId,
    retour: Option<&str>,
) -> Result<Response, WebError> {
    let pending = state.signer.sign(
        Purpose::SecondFactorLogin,
        &profile.0.simple().to_string(),
        "",
        state.ports.clock.now() + LOGIN_STEP_VALID,
    );
    // the page asked for before signing in is carried to the code step, and back
    let mut response = see_other(&match retour.and_then(return_target) {
        Some(target) => format!(
            "/connexion/code?{}",
            serde_urlencoded::to_string([("retour", target)]).map_err(WebError::unexpected)?
        ),
        None => "/connexion/code".to_owned(),
    });
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            state,
            second_factor_cookie_name(state),
            &pending,
            Some(LOGIN_STEP_VALID.whole_seconds()),
        )
        .parse()
        .map_err(WebError::unexpected)?,
    );
    Ok(response)
}

/// The profile waiting for its second factor in this browser, if the cookie holds.
async fn pending_profile(state: &AppState, visitor: &Visitor) -> Result<Option<Profile>, WebError> {
    let now = state.ports.clock.now();
    let Some(id) = visitor
        .second_factor_pending
        .as_deref()
        .and_then(|token| {
            state
                .signer
                .open(Purpose::SecondFactorLogin, token, "", now)
        })
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
    else {
        return Ok(None);
    };
    Ok(state.ports.profiles.get(ProfileId(id)).await?)
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct LoginCodePage {
    chrome: Chrome,
    errors: FormErrors,
    /// Where to go once the code is right (a page of the space), or empty.
    retour: String,
}

/// The code step's address may carry the page to come back to.
#[derive(Debug, Default, Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    retour: String,
}

#[handler]
pub async fn code_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    Query(query): Query<CodeQuery>,
) -> Result<Response, WebError> {
    if pending_profile(&state, &visitor).await?.is_none() {
        return Ok(see_other("/connexion"));
    }
    page(
        StatusCode::OK,
        &LoginCodePage {
            chrome: Chrome::new(&state, &visitor, "Code de vérification"),
            errors: FormErrors::default(),
            retour: return_target(&query.retour).unwrap_or_default().to_owned(),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub retour: String,
}

#[handler]
pub async fn code_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    PageForm(form): PageForm<CodeForm>,
) -> Result<Response, WebError> {
    let Some(profile) = pending_profile(&state, &visitor).await? else {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &MessagePage {
                chrome: Chrome::new(&state, &visitor, "Connexion expirée"),
                paragraphs: vec!["Le code doit être saisi dans les 5 minutes qui suivent le mot de passe. Connectez-vous de nouveau.".to_owned()],
                link: Some(("/connexion".to_owned(), "Se connecter".to_owned())),
            },
        );
    };
    let key = email_key(profile.email.as_str());
    let now = state.ports.clock.now();
    if state.limiters.login(now, visitor.client, &key, false).await != LoginGate::Allowed {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    let Some(recovery_used) = accept_code(&state, &profile, &form.code).await? else {
        state.limiters.login_failed(now, &key).await;
        audit::record(
            &state,
            &visitor,
            SecurityEvent::SecondFactorFailed,
            Subject::Profile(profile.id),
        );
        let errors = FormErrors::one(
            "code",
            "Code incorrect ou déjà utilisé. Saisissez le code actuel de votre application (6 chiffres), ou un code de secours.",
        );
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &LoginCodePage {
                chrome: Chrome::new(&state, &visitor, "Code de vérification").refusing(&errors),
                retour: return_target(&form.retour).unwrap_or_default().to_owned(),
                errors,
            },
        );
    };
    if recovery_used {
        audit::record(
            &state,
            &visitor,
            SecurityEvent::RecoveryCodeUsed,
            Subject::Profile(profile.id),
        );
    }
    audit::record(
        &state,
        &visitor,
        SecurityEvent::LoginSucceeded,
        Subject::Profile(profile.id),
    );
    let mut response = signed_in_response(
        &state,
        &visitor,
        profile.id,
        &key,
        return_target(&form.retour).unwrap_or("/espace"),
    )
    .await?;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, second_factor_cookie_name(&state), "", Some(0))
            .parse()
            .map_err(WebError::unexpected)?,
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_80_random_bits_and_read_back_however_typed() {
        let (codes, digests) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(digests.len(), RECOVERY_CODES);
        let first = &codes[0];
        assert_eq!(first.len(), 19, "{first}");
        let typed = first.to_lowercase().replace('-', " ");
        let normalised = normalised_recovery_code(&typed).unwrap();
        assert_eq!(recovery_digest(&normalised), digests[0]);
        assert!(normalised_recovery_code("123456").is_none());
        assert!(normalised_recovery_code("ABCD-EFGH-IJKL-MNO1").is_none());
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
    }

    #[test]
    fn a_code_is_six_digits_of_the_current_step_or_its_neighbours() {
        let totp = generator(&[7; 20], "marie@exemple.fr", "SAND").unwrap();
        let now = time::macros::datetime!(2026-12-01 12:00:00 UTC);
        let at = |t: time::OffsetDateTime| {
            totp.generate(u64::try_from(t.unix_timestamp()).unwrap())
                .to_string()
        };
        let code = at(now);
        let step = u64::try_from(now.unix_timestamp()).unwrap() / 30;
        assert_eq!(check_code(&totp, &code, now), Some(step));
        assert_eq!(
            check_code(&totp, &format!("{} {}", &code[..3], &code[3..]), now),
            Some(step)
        );
        assert_eq!(
            check_code(&totp, &at(now - Duration::seconds(30)), now),
            Some(step - 1)
        );
        assert_eq!(
            check_code(&totp, &at(now - Duration::seconds(90)), now),
            None
        );
        assert_eq!(check_code(&totp, "12345", now), None);
        assert_eq!(check_code(&totp, "abcdef", now), None);
    }
}
