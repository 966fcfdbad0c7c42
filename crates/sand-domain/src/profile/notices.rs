//! The "your attestation was verified" mails: off until the holder turns them on in
//! their space; each one carries a link that turns them off in one step, without
//! signing in (the link is the authority: it names the profile, is bound to the address
//! it was mailed to, and expires).

use std::fmt;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::SecretToken;
use crate::credentials::Email;
use crate::error::PortError;
use crate::ports::{AccountTokenPurpose, AccountTokens, Clock, ProfileRepository};
use crate::profile::{Profile, ProfileId};

/// How long the stop link of a notice works: mails are read late, and a stop link that
/// died in a week would leave the holder no way out but signing in.
pub const STOP_LINK_VALID: Duration = Duration::days(365);

/// The token of the stop link a notice mailed to `profile` at `now` carries: bound to the
/// address it goes to, so a link from an old address stops nothing once it changed.
#[must_use]
pub fn stop_token(
    tokens: &dyn AccountTokens,
    profile: &Profile,
    now: OffsetDateTime,
) -> SecretToken {
    stop_token_for(tokens, profile.id, &profile.email, now)
}

/// [`stop_token`] from the profile's id and address alone (what a verification reads).
#[must_use]
pub fn stop_token_for(
    tokens: &dyn AccountTokens,
    profile: ProfileId,
    email: &Email,
    now: OffsetDateTime,
) -> SecretToken {
    tokens.issue(
        AccountTokenPurpose::StopVerificationNotices,
        profile,
        email.as_str(),
        now + STOP_LINK_VALID,
    )
}

/// What became of a stop link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// The notices of this profile are off (they may have been already).
    Stopped(Box<Profile>),
    /// The link is not one of ours, has expired, or its profile or address is gone.
    NotValid,
}

/// Use case: turn the verification notices on or off.
#[derive(Clone)]
pub struct VerificationNotices {
    pub profiles: Arc<dyn ProfileRepository>,
    pub tokens: Arc<dyn AccountTokens>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for VerificationNotices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerificationNotices")
    }
}

impl VerificationNotices {
    /// The holder's choice, from their space. False if the profile is gone.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn choose(&self, profile: ProfileId, on: bool) -> Result<bool, PortError> {
        self.profiles.set_verification_notices(profile, on).await
    }

    /// The profile a stop link is for, if the link holds (to show what it will stop).
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn stop_target(&self, token: &str) -> Result<Option<Profile>, PortError> {
        let Some(id) = self.tokens.named_profile(token) else {
            return Ok(None);
        };
        let Some(profile) = self.profiles.get(id).await? else {
            return Ok(None);
        };
        let holds = self.tokens.holds(
            AccountTokenPurpose::StopVerificationNotices,
            token,
            profile.email.as_str(),
            self.clock.now(),
        );
        Ok(holds.then_some(profile))
    }

    /// Turns the notices off for the profile a stop link names, if the link holds.
    /// Stopping twice is not an error (a mail client may send the request again).
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn stop(&self, token: &str) -> Result<Stopped, PortError> {
        let Some(profile) = self.stop_target(token).await? else {
            return Ok(Stopped::NotValid);
        };
        if !self
            .profiles
            .set_verification_notices(profile.id, false)
            .await?
        {
            return Ok(Stopped::NotValid);
        }
        Ok(Stopped::Stopped(Box::new(Profile {
            notify_on_verification: false,
            ..profile
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockAccountTokens, MockProfileRepository};
    use crate::testing::{NOW, clock, marie, profile};

    fn notices(profiles: MockProfileRepository, tokens: MockAccountTokens) -> VerificationNotices {
        VerificationNotices {
            profiles: Arc::new(profiles),
            tokens: Arc::new(tokens),
            clock: Arc::new(clock()),
        }
    }

    #[tokio::test]
    async fn a_stop_link_that_holds_turns_the_notices_off() {
        let mut profile = profile(1, marie());
        profile.notify_on_verification = true;
        let id = profile.id;
        let address = profile.email.as_str().to_owned();
        let mut profiles = MockProfileRepository::new();
        let found = profile.clone();
        profiles
            .expect_get()
            .returning(move |_| Ok(Some(found.clone())));
        profiles
            .expect_set_verification_notices()
            .withf(move |p, on| *p == id && !on)
            .times(1)
            .returning(|_, _| Ok(true));
        let mut tokens = MockAccountTokens::new();
        tokens.expect_named_profile().returning(move |_| Some(id));
        tokens
            .expect_holds()
            .withf(move |purpose, token, binding, now| {
                *purpose == AccountTokenPurpose::StopVerificationNotices
                    && token == "jeton"
                    && binding == address
                    && *now == NOW
            })
            .returning(|_, _, _, _| true);
        match notices(profiles, tokens).stop("jeton").await.unwrap() {
            Stopped::Stopped(p) => assert!(!p.notify_on_verification),
            Stopped::NotValid => panic!("the link holds"),
        }
    }

    #[tokio::test]
    async fn a_stop_link_that_does_not_hold_changes_nothing() {
        let profile = profile(1, marie());
        let id = profile.id;
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_get()
            .returning(move |_| Ok(Some(profile.clone())));
        profiles.expect_set_verification_notices().never();
        let mut tokens = MockAccountTokens::new();
        tokens.expect_named_profile().returning(move |_| Some(id));
        tokens.expect_holds().returning(|_, _, _, _| false);
        assert_eq!(
            notices(profiles, tokens).stop("jeton").await.unwrap(),
            Stopped::NotValid
        );

        // not shaped as a token: the store is not even asked
        let mut profiles = MockProfileRepository::new();
        profiles.expect_get().never();
        let mut tokens = MockAccountTokens::new();
        tokens.expect_named_profile().returning(|_| None);
        assert_eq!(
            notices(profiles, tokens)
                .stop("n'importe quoi")
                .await
                .unwrap(),
            Stopped::NotValid
        );
    }

    #[test]
    fn the_stop_token_is_bound_to_the_address_and_lasts_a_year() {
        let profile = profile(1, marie());
        let (id, address) = (profile.id, profile.email.as_str().to_owned());
        let mut tokens = MockAccountTokens::new();
        tokens
            .expect_issue()
            .withf(move |purpose, p, binding, expires| {
                *purpose == AccountTokenPurpose::StopVerificationNotices
                    && *p == id
                    && binding == address
                    && *expires == NOW + Duration::days(365)
            })
            .returning(|_, _, _, _| SecretToken::new("t".into()));
        assert_eq!(stop_token(&tokens, &profile, NOW).expose(), "t");
    }
}
