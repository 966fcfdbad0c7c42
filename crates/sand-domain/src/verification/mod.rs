//! The verification space: a third party types a control key and the holder's name.
//!
//! An unknown key, a replaced key, a withdrawn record and a wrong name all get the same
//! answer, [`VerifyOutcome::NotValid`]: a key alone reveals nothing, and nobody can be
//! found by name.

use std::fmt;
use std::sync::Arc;

use crate::control_key::{ControlKey, ControlKeyError};
use crate::error::PortError;
use crate::identity::{BirthDate, BirthName, NameError};
use crate::ports::{AccountTokens, Clock, Mail, Mailer, VerificationLog, VerificationLookup};
use crate::profile::notices::stop_token_for;

pub mod event;
pub mod receipt;
pub mod verified;
pub use event::{
    MAX_ORGANISATION_CHARS, NewVerificationEvent, Organisation, OrganisationError,
    VerificationEvent,
};
pub use verified::VerifiedDiploma;

/// What the verifier typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRequest {
    pub key: String,
    /// The holder's birth name or usage name.
    pub holder_name: String,
    pub organisation: String,
    /// The holder's birth date, as printed on the attestation. Optional; when given it
    /// must match too.
    pub birth_date: Option<BirthDate>,
    /// Set by the delivery side when this key has collected too many wrong answers
    /// today: the birth date is then required (a stranger who knows the key cannot
    /// block the verifier who holds the attestation, and a guesser gets nowhere).
    pub birth_date_required: bool,
}

impl VerifyRequest {
    /// Every reason the request cannot be looked at, field by field in the form's order
    /// (a form reports them all at once; [`VerifyAttestation::execute`] stops at the
    /// first). Empty when the request is well formed.
    #[must_use]
    pub fn refusals(&self) -> Vec<VerifyError> {
        let mut refusals = Vec::new();
        if let Err(e) = ControlKey::parse(&self.key) {
            refusals.push(e.into());
        }
        if let Err(e) = BirthName::parse(&self.holder_name) {
            refusals.push(e.into());
        }
        if self.birth_date_required && self.birth_date.is_none() {
            refusals.push(VerifyError::BirthDateRequired);
        }
        if let Err(e) = Organisation::parse(&self.organisation) {
            refusals.push(e.into());
        }
        refusals
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Valid(Box<VerifiedDiploma>),
    /// One answer for an unknown key, a replaced key, a withdrawn record and a wrong name.
    NotValid,
}

/// Why a verification request could not even be looked at (a form error, not an answer).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed control key: {0}")]
    MalformedKey(#[from] ControlKeyError),
    #[error("malformed holder name: {0}")]
    MalformedName(#[from] NameError),
    #[error("malformed organisation: {0}")]
    MalformedOrganisation(#[from] OrganisationError),
    /// This key needs the holder's birth date today, and none was given.
    #[error("the holder's birth date is required for this key today")]
    BirthDateRequired,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: verify a control key.
#[derive(Clone)]
pub struct VerifyAttestation {
    /// The live link of a key with its record and holder, in one read.
    pub lookup: Arc<dyn VerificationLookup>,
    pub log: Arc<dyn VerificationLog>,
    pub mailer: Arc<dyn Mailer>,
    /// Makes the token of the stop link each notice carries.
    pub tokens: Arc<dyn AccountTokens>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for VerifyAttestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyAttestation")
    }
}

impl VerifyAttestation {
    /// Checks the key and the name; logs a valid verification for the holder and tells
    /// them by mail when they opted in (a mail failure does not change the answer).
    ///
    /// # Errors
    /// [`VerifyError`] for malformed input or infrastructure failure.
    pub async fn execute(&self, request: VerifyRequest) -> Result<VerifyOutcome, VerifyError> {
        let key = ControlKey::parse(&request.key)?;
        let typed_name = BirthName::parse(&request.holder_name)?;
        let organisation = Organisation::parse(&request.organisation)?;
        if request.birth_date_required && request.birth_date.is_none() {
            return Err(VerifyError::BirthDateRequired);
        }

        // An unknown key does the same work as a live key with a wrong name: one read of
        // the key's live link with its record and holder, so that the time of the answer
        // does not tell a live key from an unknown one.
        let Some(found) = self.lookup.find_verifiable(&key).await? else {
            return Ok(VerifyOutcome::NotValid);
        };
        let (link, record) = (&found.link, &found.record);
        let holder = &record.holder;
        let name_matches = holder.answers_to(&typed_name);
        let birth_date_matches = request
            .birth_date
            .is_none_or(|typed| typed == holder.identity.birth_date);
        // a record its exam office withdrew certifies nothing, whatever its link says
        if !name_matches || !birth_date_matches || !record.is_live() {
            return Ok(VerifyOutcome::NotValid);
        }

        let now = self.clock.now();
        // the holder who opted in is told, through the outbox, in the log's transaction
        let contact = &found.holder;
        let notice = contact
            .notify_on_verification
            .then(|| Mail::AttestationVerified {
                stop: stop_token_for(self.tokens.as_ref(), contact.id, &contact.email, now),
                to: contact.email.clone(),
                scope: record.scope,
                at: now,
                organisation: organisation.as_ref().map(|o| o.as_str().to_owned()),
            });
        // answered only once the event is stored: every valid answer has its event
        self.log
            .record(
                NewVerificationEvent {
                    link: link.id,
                    at: now,
                    organisation,
                    share: None,
                },
                notice,
            )
            .await?;

        Ok(VerifyOutcome::Valid(Box::new(VerifiedDiploma::of(
            link, record,
        ))))
    }

    /// Tells the holder of `key`, if it is live, that strangers are trying names with
    /// it and that verifiers now need their birth date too. Nothing happens for an
    /// unknown key (the caller cannot tell, and learns nothing).
    ///
    /// # Errors
    /// [`PortError`] when the store or the outbox fails.
    pub async fn warn_holder_of_guessing(&self, key: &ControlKey) -> Result<(), PortError> {
        let Some(found) = self.lookup.find_verifiable(key).await? else {
            return Ok(());
        };
        self.mailer
            .send(Mail::KeyGuessing {
                to: found.holder.email,
                scope: found.record.scope,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::AccountTokenPurpose;
    use crate::ports::{
        HolderContact, MockAccountTokens, MockMailer, MockVerificationLog, MockVerificationLookup,
        VerifiableLink,
    };
    use crate::testing::*;
    use mockall::predicate::eq;

    struct Mocks {
        lookup: MockVerificationLookup,
        log: MockVerificationLog,
        mailer: MockMailer,
        tokens: MockAccountTokens,
    }

    impl Mocks {
        fn new() -> Self {
            Self {
                lookup: MockVerificationLookup::new(),
                log: MockVerificationLog::new(),
                mailer: MockMailer::new(),
                tokens: MockAccountTokens::new(),
            }
        }

        /// Key ABCD1234 belongs to link 1 → record 1 (Marie Durand, usage name Martin),
        /// held by profile 1, who did not ask to be told of verifications.
        fn with_valid_link(self) -> Self {
            self.with_link(false, |_| {})
        }

        fn with_link(
            mut self,
            notify: bool,
            change: impl Fn(&mut crate::record::DiplomaRecord) + Send + 'static,
        ) -> Self {
            self.lookup
                .expect_find_verifiable()
                .with(eq(key("ABCD1234")))
                .returning(move |_| Ok(Some(verifiable(notify, &change))));
            self
        }

        fn use_case(self) -> VerifyAttestation {
            VerifyAttestation {
                lookup: Arc::new(self.lookup),
                log: Arc::new(self.log),
                mailer: Arc::new(self.mailer),
                tokens: Arc::new(self.tokens),
                clock: Arc::new(clock()),
            }
        }
    }

    fn verifiable(
        notify: bool,
        change: &dyn Fn(&mut crate::record::DiplomaRecord),
    ) -> VerifiableLink {
        let mut record = record(1, marie(), scope());
        change(&mut record);
        let holder = profile(1, marie());
        VerifiableLink {
            link: link(1, 1, 1, "ABCD1234"),
            record,
            holder: HolderContact {
                id: holder.id,
                email: holder.email,
                notify_on_verification: notify,
            },
        }
    }

    fn request(key: &str, name: &str) -> VerifyRequest {
        VerifyRequest {
            key: key.into(),
            holder_name: name.into(),
            organisation: "  ACME  Recrutement ".into(),
            birth_date: None,
            birth_date_required: false,
        }
    }

    fn born(iso: &str) -> Option<BirthDate> {
        Some(BirthDate::parse_iso(iso, time::macros::date!(2026 - 01 - 01)).unwrap())
    }

    #[tokio::test]
    async fn a_valid_key_and_birth_name_verify_and_are_logged() {
        let mut mocks = Mocks::new().with_valid_link();
        mocks
            .log
            .expect_record()
            .withf(|e, notice| {
                e.link == link_id(1)
                    && e.organisation.as_ref().map(Organisation::as_str) == Some("ACME Recrutement")
                    && notice.is_none()
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let outcome = mocks
            .use_case()
            .execute(request("abcd-1234", "durand"))
            .await
            .unwrap();
        let VerifyOutcome::Valid(diploma) = outcome else {
            panic!("expected valid")
        };
        assert_eq!(diploma.birth_name.as_str(), "Durand");
        assert_eq!(diploma.scope, scope());
    }

    #[tokio::test]
    async fn the_usage_name_verifies_too() {
        let mut mocks = Mocks::new().with_valid_link();
        mocks.log.expect_record().times(1).returning(|_, _| Ok(()));
        let outcome = mocks
            .use_case()
            .execute(request("ABCD1234", "MARTIN"))
            .await
            .unwrap();
        assert!(matches!(outcome, VerifyOutcome::Valid(_)));
    }

    #[tokio::test]
    async fn a_wrong_name_gets_the_same_answer_as_an_unknown_key_and_is_not_logged() {
        let mut mocks = Mocks::new().with_valid_link();
        mocks.log.expect_record().never();
        let wrong_name = mocks
            .use_case()
            .execute(request("ABCD1234", "Dupont"))
            .await
            .unwrap();

        let mut mocks = Mocks::new();
        mocks
            .lookup
            .expect_find_verifiable()
            .returning(|_| Ok(None));
        mocks.log.expect_record().never();
        let unknown_key = mocks
            .use_case()
            .execute(request("ZZZZ9999", "Durand"))
            .await
            .unwrap();

        assert_eq!(wrong_name, VerifyOutcome::NotValid);
        assert_eq!(unknown_key, wrong_name);
    }

    #[test]
    fn every_refusal_is_reported_at_once() {
        let mut empty = request("", "");
        empty.organisation = "x".repeat(500);
        empty.birth_date_required = true;
        let refusals = empty.refusals();
        assert!(
            matches!(
                refusals.as_slice(),
                [
                    VerifyError::MalformedKey(_),
                    VerifyError::MalformedName(_),
                    VerifyError::BirthDateRequired,
                    VerifyError::MalformedOrganisation(_),
                ]
            ),
            "{refusals:?}"
        );
        assert!(request("ABCD1234", "Durand").refusals().is_empty());
    }

    #[tokio::test]
    async fn the_holder_who_opted_in_is_told_in_the_same_transaction_as_the_log() {
        let mut mocks = Mocks::new().with_link(true, |_| {});
        mocks
            .tokens
            .expect_issue()
            .withf(|purpose, _, _, _| *purpose == AccountTokenPurpose::StopVerificationNotices)
            .returning(|_, _, _, _| crate::SecretToken::new("arret".into()));
        mocks
            .log
            .expect_record()
            .withf(|_, notice| matches!(notice, Some(Mail::AttestationVerified { organisation: Some(o), stop, .. }) if o == "ACME Recrutement" && stop.expose() == "arret"))
            .times(1)
            .returning(|_, _| Ok(()));
        let outcome = mocks
            .use_case()
            .execute(request("ABCD1234", "Durand"))
            .await
            .unwrap();
        assert!(matches!(outcome, VerifyOutcome::Valid(_)));
    }

    /// The calls each negative path makes, in order.
    fn counting(live: bool) -> (Mocks, Arc<std::sync::Mutex<Vec<&'static str>>>) {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut mocks = Mocks::new();
        let c = calls.clone();
        mocks.lookup.expect_find_verifiable().returning(move |_| {
            c.lock().unwrap().push("lookup.find_verifiable");
            Ok(live.then(|| verifiable(false, &|_| {})))
        });
        let c = calls.clone();
        mocks.log.expect_record().returning(move |_, _| {
            c.lock().unwrap().push("log.record");
            Ok(())
        });
        (mocks, calls)
    }

    #[tokio::test]
    async fn an_unknown_key_makes_the_same_port_calls_as_a_live_key_with_a_wrong_name() {
        let (mocks, unknown_calls) = counting(false);
        let unknown = mocks
            .use_case()
            .execute(request("ZZZZ9999", "Durand"))
            .await
            .unwrap();
        let (mocks, wrong_name_calls) = counting(true);
        let wrong_name = mocks
            .use_case()
            .execute(request("ABCD1234", "Dupont"))
            .await
            .unwrap();
        assert_eq!(unknown, VerifyOutcome::NotValid);
        assert_eq!(wrong_name, VerifyOutcome::NotValid);
        assert_eq!(
            *unknown_calls.lock().unwrap(),
            vec!["lookup.find_verifiable"]
        );
        assert_eq!(
            *unknown_calls.lock().unwrap(),
            *wrong_name_calls.lock().unwrap()
        );
    }

    #[tokio::test]
    async fn a_record_withdrawn_by_its_exam_office_does_not_verify_whatever_its_link_says() {
        let mut mocks = Mocks::new().with_link(false, |r| r.withdrawn_at = Some(NOW));
        mocks.log.expect_record().never();
        let outcome = mocks
            .use_case()
            .execute(request("ABCD1234", "Durand"))
            .await
            .unwrap();
        assert_eq!(outcome, VerifyOutcome::NotValid);
    }

    #[tokio::test]
    async fn a_birth_date_given_must_match_and_a_required_one_must_be_given() {
        let mut mocks = Mocks::new().with_valid_link();
        mocks.log.expect_record().times(1).returning(|_, _| Ok(()));
        let uc = mocks.use_case();
        let mut wrong_date = request("ABCD1234", "Durand");
        wrong_date.birth_date = born("2001-01-01");
        assert_eq!(
            uc.execute(wrong_date).await.unwrap(),
            VerifyOutcome::NotValid
        );

        let mut required = request("ABCD1234", "Durand");
        required.birth_date_required = true;
        assert!(matches!(
            uc.execute(required.clone()).await,
            Err(VerifyError::BirthDateRequired)
        ));
        required.birth_date = Some(marie().birth_date);
        assert!(matches!(
            uc.execute(required).await.unwrap(),
            VerifyOutcome::Valid(_)
        ));
    }

    #[tokio::test]
    async fn the_holder_of_a_live_key_is_warned_of_guessing_and_nobody_for_an_unknown_key() {
        let mut mocks = Mocks::new().with_valid_link();
        mocks
            .mailer
            .expect_send()
            .withf(|mail| matches!(mail, Mail::KeyGuessing { scope: s, .. } if *s == scope()))
            .times(1)
            .returning(|_| Ok(()));
        mocks
            .use_case()
            .warn_holder_of_guessing(&key("ABCD1234"))
            .await
            .unwrap();

        let mut mocks = Mocks::new();
        mocks
            .lookup
            .expect_find_verifiable()
            .returning(|_| Ok(None));
        mocks.mailer.expect_send().never();
        mocks
            .use_case()
            .warn_holder_of_guessing(&key("ZZZZ9999"))
            .await
            .unwrap();
    }

    #[test]
    fn an_organisation_cannot_hide_or_reorder_what_the_holder_reads() {
        for hostile in [
            "ACME \u{202E}lanoitanretni",
            "ACME\u{200B}Recrutement",
            "Banque\u{2066} de France\u{2069}",
            "Ré\u{AD}seau",
            "ACME\u{7}Recrutement",
        ] {
            assert_eq!(
                Organisation::parse(hostile),
                Err(OrganisationError::ControlCharacter),
                "{hostile:?}"
            );
        }
        // French typography stays: non-breaking spaces, apostrophes, dashes, guillemets
        for fine in [
            "Société\u{A0}Générale",
            "Crédit Agricole – Île-de-France",
            "L’Oréal «\u{202F}Recrutement\u{202F}»",
        ] {
            assert!(Organisation::parse(fine).unwrap().is_some(), "{fine:?}");
        }
    }

    #[test]
    fn an_organisation_of_exactly_the_longest_length_is_accepted_and_shown_as_typed() {
        let longest = "x".repeat(MAX_ORGANISATION_CHARS);
        assert_eq!(
            Organisation::parse(&longest).unwrap().unwrap().as_str(),
            longest
        );
        assert_eq!(
            Organisation::parse(&format!("{longest}x")),
            Err(OrganisationError::TooLong)
        );
        let acme = Organisation::parse(" ACME  Recrutement ").unwrap().unwrap();
        assert_eq!(acme.to_string(), "ACME Recrutement");
        assert_eq!(
            format!("{:?}", Mocks::new().use_case()),
            "VerifyAttestation"
        );
    }

    #[tokio::test]
    async fn malformed_input_is_a_form_error_before_any_lookup() {
        let mut mocks = Mocks::new();
        mocks.lookup.expect_find_verifiable().never();
        let uc = mocks.use_case();
        assert!(matches!(
            uc.execute(request("ABC", "Durand")).await,
            Err(VerifyError::MalformedKey(_))
        ));
        assert!(matches!(
            uc.execute(request("ABCD1234", "")).await,
            Err(VerifyError::MalformedName(_))
        ));
        let mut long_org = request("ABCD1234", "Durand");
        long_org.organisation = "x".repeat(MAX_ORGANISATION_CHARS + 1);
        assert!(matches!(
            uc.execute(long_org).await,
            Err(VerifyError::MalformedOrganisation(_))
        ));
    }

    #[tokio::test]
    async fn a_storage_failure_is_an_error_not_a_negative_answer() {
        let mut mocks = Mocks::new();
        mocks
            .lookup
            .expect_find_verifiable()
            .returning(|_| Err(PortError::unavailable("db down")));
        let result = mocks
            .use_case()
            .execute(request("ABCD1234", "Durand"))
            .await;
        assert!(matches!(
            result,
            Err(VerifyError::Unexpected(PortError::Unavailable(_)))
        ));
    }
}
