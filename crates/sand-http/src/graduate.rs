//! The signed-in graduate's operations on their diplomas and profile, as both fronts
//! (the pages and the API) call them: the limit, the use case, its metrics and security
//! events, and the one mapping of its errors ([`WebError`]). A front only reads its
//! input and presents the outcome.

use sand_domain::diploma::DiplomaScope;
use sand_domain::link::attach::{AttachDiplomaRequest, AttachOutcome};
use sand_domain::link::attestation::DownloadAttestationRequest;
use sand_domain::link::detach::DetachDiplomaRequest;
use sand_domain::link::list::MyDiploma;
use sand_domain::link::renew_key::RenewKeyRequest;
use sand_domain::link::{Link, LinkId};
use sand_domain::ports::RenderedAttestation;
use sand_domain::profile::delete::{DeleteProfileError, DeletedProfile};
use sand_domain::sharing::{CreateShareError, CreateShareRequest, ShareId, ShareLink};

use crate::audit::{self, Requester, SecurityEvent, Subject};
use crate::error::{Limited, WebError};
use crate::state::AppState;
use crate::web::SignedIn;

/// Attaches the diploma of `scope` to the graduate's profile, within the profile's
/// limit of attempts.
///
/// # Errors
/// [`WebError::TooManyRequests`], or the use case's failure.
pub(crate) async fn attach(
    state: &AppState,
    me: &SignedIn,
    scope: DiplomaScope,
) -> Result<AttachOutcome, WebError> {
    if !state.limiters.attach(me.profile).await {
        return Err(WebError::TooManyRequests(Limited::Attachments));
    }
    let result = state
        .attach
        .execute(AttachDiplomaRequest {
            profile: me.profile,
            scope,
        })
        .await;
    state.metrics.attach(&result);
    let outcome = result?;
    if let AttachOutcome::Attached { link, .. } = &outcome {
        tracing::info!(link = %link.id.0, "diploma attached");
    }
    Ok(outcome)
}

/// Draws a new control key for one of the graduate's diplomas.
///
/// # Errors
/// [`WebError::NoSuchDiploma`], or the use case's failure.
pub(crate) async fn renew_key(
    state: &AppState,
    me: &SignedIn,
    link: LinkId,
) -> Result<Link, WebError> {
    Ok(state
        .renew_key
        .execute(RenewKeyRequest {
            profile: me.profile,
            link,
        })
        .await?)
}

/// Deletes one of the graduate's attestations (the link; the record stays).
///
/// # Errors
/// [`WebError::NoSuchDiploma`], or the use case's failure.
pub(crate) async fn detach(state: &AppState, me: &SignedIn, link: LinkId) -> Result<(), WebError> {
    Ok(state
        .detach
        .execute(DetachDiplomaRequest {
            profile: me.profile,
            link,
        })
        .await?)
}

/// The signed attestation of one of the graduate's diplomas.
///
/// # Errors
/// [`WebError::NoSuchDiploma`], [`WebError::Withdrawn`], or the use case's failure.
pub(crate) async fn download(
    state: &AppState,
    me: &SignedIn,
    link: LinkId,
) -> Result<RenderedAttestation, WebError> {
    Ok(state
        .download
        .execute(DownloadAttestationRequest {
            profile: me.profile,
            link,
        })
        .await?)
}

/// One of the graduate's diplomas as a W3C Verifiable Credential (`application/vc+jwt`).
///
/// # Errors
/// [`WebError::NoSuchDiploma`], [`WebError::Withdrawn`], or the use case's failure.
pub(crate) async fn credential(
    state: &AppState,
    me: &SignedIn,
    link: LinkId,
) -> Result<RenderedAttestation, WebError> {
    Ok(state
        .download
        .credential(DownloadAttestationRequest {
            profile: me.profile,
            link,
        })
        .await?)
}

/// Creates a share link of one of the graduate's diplomas (the use case's refusals as
/// they are: each front words them).
///
/// # Errors
/// [`CreateShareError`].
pub(crate) async fn create_share(
    state: &AppState,
    me: &SignedIn,
    link: LinkId,
    label: String,
    last_day: time::Date,
) -> Result<ShareLink, CreateShareError> {
    let share = state
        .create_share
        .execute(CreateShareRequest {
            profile: me.profile,
            link,
            label,
            last_day,
        })
        .await?;
    tracing::info!(share = %share.id.0, "share link created");
    Ok(share)
}

/// The address a share link's recipient opens.
pub(crate) fn share_address(state: &AppState, share: &ShareLink) -> String {
    format!(
        "{}{}{}",
        state.settings.public_url,
        crate::SHARE_PREFIX,
        share.token.expose()
    )
}

/// Revokes one of the graduate's share links.
///
/// # Errors
/// [`WebError::NoSuchDiploma`] when there is no such unrevoked link of theirs, or the
/// store's failure.
pub(crate) async fn revoke_share(
    state: &AppState,
    me: &SignedIn,
    share: ShareId,
) -> Result<(), WebError> {
    if !state
        .ports
        .shares
        .revoke(share, me.profile, state.ports.clock.now())
        .await?
    {
        return Err(WebError::NoSuchDiploma);
    }
    tracing::info!(share = %share.0, "share link revoked");
    Ok(())
}

/// An offer to put one of the graduate's diplomas in their wallet: the offer's address
/// (`openid-credential-offer://…`) and when it ends; its transaction code is mailed. Each
/// offer sends a mail, so it counts against the client's mail requests.
///
/// # Errors
/// [`WebError::NotFound`] without the wallet, [`WebError::TooManyRequests`],
/// [`WebError::NoSuchDiploma`], [`WebError::Withdrawn`], or the store's failure.
pub(crate) async fn offer_to_wallet(
    state: &AppState,
    me: &SignedIn,
    client: crate::limits::ClientKey,
    link: LinkId,
) -> Result<(String, time::OffsetDateTime), WebError> {
    use sand_domain::ports::SafeHandOver;
    use sand_domain::wallet::SendToSafeError;
    let wallet = state.wallet.as_ref().ok_or(WebError::NotFound)?;
    if !state.limiters.mail_request(client).await {
        return Err(WebError::TooManyRequests(Limited::Requests));
    }
    match wallet.send.execute(me.profile, link).await {
        Ok(SafeHandOver::WalletOffer {
            offer_uri,
            expires_at,
        }) => Ok((offer_uri, expires_at)),
        Err(SendToSafeError::NotFound) => Err(WebError::NoSuchDiploma),
        Err(SendToSafeError::Withdrawn) => Err(WebError::Withdrawn),
        Err(SendToSafeError::Unexpected(e)) => Err(e.into()),
    }
}

/// The graduate's diplomas, with keys and verifications.
///
/// # Errors
/// The store's failure.
pub(crate) async fn diplomas(state: &AppState, me: &SignedIn) -> Result<Vec<MyDiploma>, WebError> {
    Ok(state.list.execute(me.profile).await?)
}

/// One of the graduate's diplomas, as listed.
///
/// # Errors
/// [`WebError::NoSuchDiploma`] (deleted meanwhile, or never theirs), or the store's
/// failure.
pub(crate) async fn diploma(
    state: &AppState,
    me: &SignedIn,
    link: LinkId,
) -> Result<MyDiploma, WebError> {
    diplomas(state, me)
        .await?
        .into_iter()
        .find(|d| d.link.id == link)
        .ok_or(WebError::NoSuchDiploma)
}

/// Deletes the graduate's profile, recorded as a security event. A profile already
/// gone (another request deleted it) is not an error: `None`.
///
/// # Errors
/// The use case's failure; then nothing was deleted.
pub(crate) async fn delete_profile(
    state: &AppState,
    requester: &impl Requester,
    me: &SignedIn,
) -> Result<Option<DeletedProfile>, WebError> {
    match state.delete_profile.execute(me.profile).await {
        Ok(deleted) => {
            tracing::info!(links_removed = deleted.links_removed, "profile deleted");
            audit::record(
                state,
                requester,
                SecurityEvent::ProfileDeleted,
                Subject::Visitor,
            );
            Ok(Some(deleted))
        }
        Err(DeleteProfileError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
