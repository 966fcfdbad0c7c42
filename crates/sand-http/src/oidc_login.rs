//! What both OpenID Connect logins do around their adapter (FranceConnect for graduates,
//! ProConnect for agents): keep the login in progress in a signed cookie value, and read
//! the provider's callback into the port's [`CallbackParams`], bounded and cleaned.

use sand_domain::ports::{CallbackParams, PendingLogin};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::tokens::{Purpose, Signer};

/// Longest `code` or `state` accepted from a callback.
const MAX_CALLBACK_PARAM: usize = 4096;

#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    pkce: Option<String>,
}

/// The login in progress as a signed token for `purpose`, valid until `expires`.
pub(crate) fn seal_pending(
    signer: &Signer,
    purpose: Purpose,
    pending: PendingLogin,
    expires: OffsetDateTime,
) -> Option<String> {
    let json = serde_json::to_vec(&Pending {
        state: pending.state,
        nonce: pending.nonce,
        pkce: pending.pkce_verifier,
    })
    .ok()?;
    Some(signer.sign(purpose, &hex::encode(json), "", expires))
}

/// The login in progress from its token, when it is genuine and still valid.
pub(crate) fn open_pending(
    signer: &Signer,
    purpose: Purpose,
    token: &str,
    now: OffsetDateTime,
) -> Option<PendingLogin> {
    let data = signer.open(purpose, token, "", now)?;
    let pending: Pending = serde_json::from_slice(&hex::decode(data).ok()?).ok()?;
    Some(PendingLogin {
        state: pending.state,
        nonce: pending.nonce,
        pkce_verifier: pending.pkce,
    })
}

/// The query of a provider's callback.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl CallbackQuery {
    /// The callback as the port takes it; `None` when it is neither an error nor a code
    /// with its state of reasonable size.
    pub(crate) fn params(self) -> Option<CallbackParams> {
        match (self.error, self.code, self.state) {
            (Some(error), _, state) => Some(CallbackParams::Error {
                error: oauth_error_code(&error),
                state,
            }),
            (None, Some(code), Some(state))
                if code.len() <= MAX_CALLBACK_PARAM && state.len() <= MAX_CALLBACK_PARAM =>
            {
                Some(CallbackParams::Code { code, state })
            }
            _ => None,
        }
    }
}

/// The provider's error code as OAuth 2.0 allows it (RFC 6749 §4.1.2.1: printable ASCII
/// without `"` and backslash), at most 200 characters; anything else is dropped, so that a
/// forged callback cannot write lines of its own into the logs.
fn oauth_error_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_reads_bounded_and_clean() {
        let query = |code: Option<&str>, state: Option<&str>, error: Option<&str>| CallbackQuery {
            code: code.map(str::to_owned),
            state: state.map(str::to_owned),
            error: error.map(str::to_owned),
        };
        assert!(matches!(
            query(Some("c"), Some("s"), None).params(),
            Some(CallbackParams::Code { .. })
        ));
        assert!(query(Some("c"), None, None).params().is_none());
        assert!(
            query(Some(&"c".repeat(5000)), Some("s"), None)
                .params()
                .is_none()
        );
        match query(None, None, Some("access_denied\n\u{1b}[31m\"x\\")).params() {
            Some(CallbackParams::Error { error, state }) => {
                assert_eq!(error, "access_denied[31mx");
                assert_eq!(state, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_login_in_progress_survives_its_token_and_nothing_else() {
        let signer = Signer::new(b"a secret of more than thirty-two bytes, for the test");
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let token = seal_pending(
            &signer,
            Purpose::StaffProConnectLogin,
            PendingLogin {
                state: "s".into(),
                nonce: "n".into(),
                pkce_verifier: Some("v".into()),
            },
            now + time::Duration::minutes(10),
        )
        .unwrap();
        let back = open_pending(&signer, Purpose::StaffProConnectLogin, &token, now).unwrap();
        assert_eq!(
            (
                back.state.as_str(),
                back.nonce.as_str(),
                back.pkce_verifier.as_deref()
            ),
            ("s", "n", Some("v"))
        );
        assert!(open_pending(&signer, Purpose::FranceConnectLogin, &token, now).is_none());
        assert!(
            open_pending(
                &signer,
                Purpose::StaffProConnectLogin,
                &token,
                now + time::Duration::minutes(11)
            )
            .is_none()
        );
    }
}
