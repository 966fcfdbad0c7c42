//! The signed-in account's own security: its open sessions (see them, end one, end all
//! the others) and changing its password (the current one required, the other sessions
//! ended).

use std::sync::Arc;

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};
use sand_domain::credentials::Password;
use sand_domain::profile::password::ChangePasswordError;
use serde::Deserialize;
use time::OffsetDateTime;

use super::MessagePage;
use super::form_errors::password_error;
use super::known_device::email_key;
use crate::audit::{self, SecurityEvent, Subject};
use crate::error::Limited;
use crate::limits::LoginGate;
use crate::state::AppState;
use crate::web::{Chrome, FormErrors, PageForm, SignedIn, Visitor, WebError, page, see_other};

/// Tells the account's owner, by mail, that how it logs in changed (a change they did
/// not make must not go unnoticed). The change is made: a mail that cannot be queued is
/// logged, not turned into an error page.
pub(crate) async fn notify_security_change(
    state: &AppState,
    to: &sand_domain::credentials::Email,
    change: sand_domain::ports::SecurityChange,
) {
    if let Err(e) = state
        .ports
        .mailer
        .send(sand_domain::ports::Mail::SecurityChange {
            to: to.clone(),
            change,
        })
        .await
    {
        tracing::warn!(error = %e, "could not queue the notice of a security change");
    }
}

/// One open session as the profile page lists it.
#[derive(Debug, Clone)]
pub struct ShownSession {
    /// An opaque handle (a keyed digest of the stored digest): what the end button sends.
    pub handle: String,
    pub opened: String,
    pub last_seen: String,
    pub method: &'static str,
    pub current: bool,
}

/// How long ago `then` was, in words ("il y a 5 min"): sessions live hours, and a
/// relative time needs no time zone.
fn ago(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let minutes = (now - then).whole_minutes().max(0);
    match minutes {
        0 => "à l'instant".to_owned(),
        1..=59 => format!("il y a {minutes} min"),
        60..=1439 => format!("il y a {} h", minutes / 60),
        _ => format!("il y a {} j", minutes / 1440),
    }
}

/// The sessions of the signed-in account, the current one first.
pub async fn shown_sessions(
    state: &AppState,
    signed_in: &SignedIn,
) -> Result<Vec<ShownSession>, WebError> {
    let now = state.ports.clock.now();
    let mut sessions: Vec<ShownSession> = state
        .ports
        .sessions
        .list_for_profile(signed_in.profile)
        .await?
        .into_iter()
        .map(|s| ShownSession {
            handle: state.signer.pseudonym(&s.digest),
            opened: ago(now, s.created_at),
            last_seen: ago(now, s.last_seen_at),
            method: if s.id_token_hint.is_some() {
                "FranceConnect"
            } else {
                "Mot de passe"
            },
            current: s.digest == signed_in.digest,
        })
        .collect();
    sessions.sort_by_key(|s| !s.current);
    Ok(sessions)
}

#[derive(Debug, Deserialize)]
pub struct EndSessionForm {
    #[serde(default)]
    pub session: String,
}

/// Ends one of the account's other sessions (a stale handle ends nothing and says so
/// the same way: the list is shown again).
#[handler]
pub async fn end_one(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    PageForm(form): PageForm<EndSessionForm>,
) -> Result<Response, WebError> {
    let target = state
        .ports
        .sessions
        .list_for_profile(signed_in.profile)
        .await?
        .into_iter()
        .find(|s| {
            s.digest != signed_in.digest && state.signer.pseudonym(&s.digest) == form.session
        });
    if let Some(target) = target {
        state.ports.sessions.delete(&target.digest).await?;
        audit::record(
            &state,
            &visitor,
            SecurityEvent::SessionEnded,
            Subject::Visitor,
        );
    }
    Ok(see_other("/espace/profil#sessions"))
}

/// Ends every session of the account but this one.
#[handler]
pub async fn end_others(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    let ended = state
        .ports
        .sessions
        .delete_others(signed_in.profile, &signed_in.digest)
        .await?;
    if ended > 0 {
        audit::record(
            &state,
            &visitor,
            SecurityEvent::SessionEnded,
            Subject::Visitor,
        );
    }
    Ok(see_other("/espace/profil#sessions"))
}

#[derive(Template)]
#[template(path = "password_change.html")]
struct PasswordChangePage {
    chrome: Chrome,
    email: String,
    errors: FormErrors,
}

#[handler]
pub async fn password_form(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    let Some(profile) = state.ports.profiles.get(signed_in.profile).await? else {
        return Err(WebError::SignIn);
    };
    if state
        .ports
        .profiles
        .password_hash(profile.id)
        .await?
        .is_none()
    {
        return no_password(&state, &visitor);
    }
    page(
        StatusCode::OK,
        &PasswordChangePage {
            chrome: Chrome::new(&state, &visitor, "Changer mon mot de passe"),
            email: profile.email.to_string(),
            errors: FormErrors::default(),
        },
    )
}

fn no_password(state: &AppState, visitor: &Visitor) -> Result<Response, WebError> {
    page(
        StatusCode::OK,
        &MessagePage {
            chrome: Chrome::new(state, visitor, "Pas de mot de passe"),
            paragraphs: vec!["Vous vous connectez avec FranceConnect : votre profil n'a pas de mot de passe chez nous. Pour changer le mot de passe de votre compte FranceConnect, adressez-vous au compte que vous y utilisez (impots.gouv.fr, ameli.fr, La Poste…).".to_owned()],
            link: Some(("/espace/profil".to_owned(), "Retour à mon profil".to_owned())),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct PasswordChangeForm {
    #[serde(default)]
    pub actuel: String,
    #[serde(default)]
    pub mot_de_passe: String,
    #[serde(default)]
    pub confirmation: String,
}

#[handler]
pub async fn password_submit(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    PageForm(form): PageForm<PasswordChangeForm>,
) -> Result<Response, WebError> {
    let Some(profile) = state.ports.profiles.get(signed_in.profile).await? else {
        return Err(WebError::SignIn);
    };
    // guessing the current password from a stolen session is a login attempt: the same
    // limits, the same slowing
    let key = email_key(profile.email.as_str());
    let now = state.ports.clock.now();
    if state.limiters.login(now, visitor.client, &key, true).await != LoginGate::Allowed {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    let again = |errors: FormErrors| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordChangePage {
                chrome: Chrome::new(&state, &visitor, "Changer mon mot de passe").refusing(&errors),
                email: profile.email.to_string(),
                errors,
            },
        )
    };
    if form.mot_de_passe != form.confirmation {
        return again(FormErrors::one(
            "confirmation",
            "Confirmation : les deux nouveaux mots de passe saisis sont différents.",
        ));
    }
    let Ok(current) = Password::for_login(&form.actuel) else {
        state.limiters.login_failed(now, &key).await;
        return again(FormErrors::one(
            "actuel",
            "Mot de passe actuel : ce n'est pas le bon.",
        ));
    };
    match state
        .change_password
        .execute(profile.id, &current, &form.mot_de_passe, &signed_in.digest)
        .await
    {
        Ok(changed) => {
            audit::record(
                &state,
                &visitor,
                SecurityEvent::PasswordChanged,
                Subject::Visitor,
            );
            if let Some(e) = &changed.notice_not_queued {
                tracing::warn!(error = %e, "could not queue the notice of a password change");
            }
            let others = match changed.other_sessions_ended {
                0 => "Aucune autre session n'était ouverte.".to_owned(),
                1 => "Votre autre session ouverte a été fermée.".to_owned(),
                n => format!("Vos {n} autres sessions ouvertes ont été fermées."),
            };
            page(
                StatusCode::OK,
                &MessagePage {
                    chrome: Chrome::new(&state, &visitor, "Mot de passe changé"),
                    paragraphs: vec![format!(
                        "Votre mot de passe est changé. {others} Cette session reste ouverte."
                    )],
                    link: Some((
                        "/espace/profil".to_owned(),
                        "Retour à mon profil".to_owned(),
                    )),
                },
            )
        }
        Err(ChangePasswordError::WrongCurrentPassword) => {
            state.limiters.login_failed(now, &key).await;
            audit::record(
                &state,
                &visitor,
                SecurityEvent::LoginFailed,
                Subject::Visitor,
            );
            again(FormErrors::one(
                "actuel",
                "Mot de passe actuel : ce n'est pas le bon.",
            ))
        }
        Err(ChangePasswordError::Refused(e)) => {
            again(FormErrors::one("mot_de_passe", password_error(&e)))
        }
        Err(ChangePasswordError::NoPassword) => no_password(&state, &visitor),
        Err(ChangePasswordError::Unexpected(e)) => Err(e.into()),
    }
}

/// What the expiry warning's "Rester connecté" asks: the session is extended (its last
/// request is now), and the page is told when it ends.
#[handler]
pub async fn extend_session(
    state: Data<&Arc<AppState>>,
    signed_in: SignedIn,
) -> Result<Response, WebError> {
    let now = state.ports.clock.now();
    state.ports.sessions.touch(&signed_in.digest, now).await?;
    let (idle, _) = state.settings.session_limits();
    // extended by the idle limit, never past the absolute one
    let clock = crate::web::SessionClock::of((now + idle).min(signed_in.absolute_end), now);
    let body = serde_json::json!({ "reste": clock.left_secs, "fin": clock.ends });
    Ok(Response::builder()
        .content_type("application/json")
        .header(poem::http::header::CACHE_CONTROL, "no-store")
        .body(body.to_string()))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::ago;

    #[test]
    fn times_are_said_relative_to_now() {
        let now = datetime!(2026-12-01 12:00 UTC);
        assert_eq!(ago(now, now), "à l'instant");
        assert_eq!(ago(now, now + time::Duration::minutes(3)), "à l'instant");
        assert_eq!(ago(now, now - time::Duration::minutes(5)), "il y a 5 min");
        assert_eq!(ago(now, now - time::Duration::minutes(125)), "il y a 2 h");
        assert_eq!(ago(now, now - time::Duration::days(3)), "il y a 3 j");
    }
}
