//! The one path of every verification (the page, the API, each item of a batch): the
//! client's rate, the key's daily budget of wrong answers, the check itself, its
//! metrics, and the warning to a holder whose key is being guessed.

use sand_domain::control_key::ControlKey;
use sand_domain::verification::receipt::VerificationReceipt;
use sand_domain::verification::{
    Organisation, VerifiedDiploma, VerifyError, VerifyOutcome, VerifyRequest,
};

use crate::limits::{ClientKey, KeyGate};
use crate::state::AppState;

/// What became of a verification request.
#[derive(Debug)]
pub(crate) enum Checked {
    /// Refused by a limit (the client's rate, or its wrong answers for this key today).
    TooMany,
    /// Checked: the domain's answer.
    Done(Result<VerifyOutcome, VerifyError>),
}

/// Verifies `request` for `client` within the limits.
///
/// The limits count the canonical key (every spelling of one key shares its budget) and
/// only wrong answers, which an unknown key and a wrong name both are: the limits behave
/// the same for a live key and an unknown one, and tell nothing either.
pub(crate) async fn verify(
    state: &AppState,
    client: ClientKey,
    mut request: VerifyRequest,
) -> Checked {
    if !state.limiters.verification(client).await {
        return Checked::TooMany;
    }
    let today = state.ports.clock.now().date();
    let key = ControlKey::parse(&request.key).ok();
    if let Some(key) = &key {
        match state.limiters.key_gate(today, client, key).await {
            KeyGate::Refused => return Checked::TooMany,
            KeyGate::Open {
                birth_date_required,
            } => request.birth_date_required = birth_date_required,
        }
    }
    let result = state.verify.execute(request).await;
    state.metrics.verification(&result);
    if let (Ok(VerifyOutcome::NotValid), Some(key)) = (&result, &key)
        && state.limiters.wrong_answer(today, client, key).await
    {
        tracing::warn!(
            event = "key_guessing",
            "a control key collected its day's wrong answers: the birth date is now required to check it"
        );
        if let Err(e) = state.verify.warn_holder_of_guessing(key).await {
            tracing::warn!(error = %e, "the holder of a guessed key could not be told");
        }
    }
    Checked::Done(result)
}

/// The signed receipt of a valid verification of `request`: the key, name, birth date
/// and organisation as checked, and the diploma. `None` (logged) if signing failed: the
/// answer stands without its receipt.
pub(crate) fn receipt(
    state: &AppState,
    request: &VerifyRequest,
    diploma: &VerifiedDiploma,
) -> Option<String> {
    let receipt = VerificationReceipt {
        checked_at: state.ports.clock.now(),
        key: ControlKey::parse(&request.key).ok()?,
        typed_name: request
            .holder_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        typed_birth_date: request.birth_date,
        organisation: Organisation::parse(&request.organisation).ok()?,
        diploma: diploma.clone(),
    };
    match state.ports.receipts.sign(&receipt) {
        Ok(signed) => Some(signed),
        Err(e) => {
            tracing::error!(error = %e, "a verification receipt could not be signed");
            None
        }
    }
}
