//! Attaching a diploma: the graduate names a (diploma kind, session, académie); SAND
//! looks for the one published record of that scope whose holder has the profile's
//! identity at exam time, and links it with a fresh control key.
//!
//! Every way this can fail carries the next steps of the support checklist, in order, so
//! the UI walks the graduate through them. No outcome ever carries another person's data.

use std::fmt;
use std::sync::Arc;

use crate::academie::Academie;
use crate::diploma::DiplomaScope;
use crate::error::PortError;
use crate::link::{KEY_ATTEMPTS, Link, LinkId, NewLink};
use crate::ports::{
    Catalogue, Clock, CreateLinkStoreError, KeyGenerator, LinkRepository, Mail, ProfileRepository,
    RecordReader, TakeOverStoreError,
};
use crate::profile::{Profile, ProfileId};
use crate::record::DiplomaRecord;

/// What the graduate asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachDiplomaRequest {
    pub profile: ProfileId,
    pub scope: DiplomaScope,
}

/// One step of the first-level support checklist, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportStep {
    /// Check the diploma, session and académie in the public catalogue.
    CheckTheCatalogue,
    /// This diploma is not (yet) available online: ask the académie's exam office for an
    /// attestation the usual way.
    StandardProcedure { academie: Academie },
    /// Results are published only once every group of tests is known; come back later.
    WaitForFinalResults,
    /// The profile must carry the birth name (not a married name).
    CheckBirthName,
    /// The profile must carry all first names, in civil-status order.
    CheckAllFirstNames,
    /// The birth date must be exactly the one on the civil status.
    CheckBirthDate,
    /// A wrong identity is fixed by deleting the profile and creating it again, or by
    /// logging in with FranceConnect, whose identity is certified.
    RecreateProfileOrUseFranceConnect,
    /// The diploma is attached to another profile, most likely another of the graduate's
    /// own (an older one, another address): sign in to it (or recover it by its address),
    /// delete its attestation or the profile, then attach here. Said before the exam
    /// office, which is for when that profile is not theirs.
    AnotherProfileOfYours,
    /// Second-level support: the exam office of the académie that awarded the diploma.
    ContactExamOffice { academie: Academie },
    /// A diploma no exam office holds (higher education, agricultural education…): the
    /// establishment that awarded it is the one to ask.
    ContactTheEstablishment,
}

/// The office step for `scope`: its académie's exam office (`standard`: the usual
/// procedure, for a diploma not in the service; otherwise to examine a case), or the
/// establishment for a kind no exam office holds.
#[must_use]
pub fn office_step(scope: &DiplomaScope, standard: bool) -> SupportStep {
    let academie = scope.academie;
    if !scope.kind.held_by_exam_offices() {
        SupportStep::ContactTheEstablishment
    } else if standard {
        SupportStep::StandardProcedure { academie }
    } else {
        SupportStep::ContactExamOffice { academie }
    }
}

/// How attaching ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachOutcome {
    /// The record is now linked to the profile with a new control key.
    Attached {
        link: Link,
        record: Box<DiplomaRecord>,
    },
    /// This record was already attached to this profile.
    AlreadyAttachedToYou { link: LinkId },
    /// The scope is not in the catalogue (not imported, or not final yet).
    NotInCatalogue {
        scope: DiplomaScope,
        next_steps: Vec<SupportStep>,
    },
    /// No record of this scope carries the profile's identity.
    NoMatch {
        scope: DiplomaScope,
        next_steps: Vec<SupportStep>,
    },
    /// Several records of this scope carry the same identity: none is attached
    /// automatically.
    AmbiguousHomonyms {
        scope: DiplomaScope,
        next_steps: Vec<SupportStep>,
    },
    /// The matching record is attached to another profile.
    AttachedToAnotherProfile {
        scope: DiplomaScope,
        next_steps: Vec<SupportStep>,
    },
}

/// Why the request could not be handled at all.
#[derive(Debug, thiserror::Error)]
pub enum AttachDiplomaError {
    /// The profile does not exist (deleted in another tab, stale session).
    #[error("profile not found")]
    ProfileNotFound,
    /// Every key drawn collided: the random source is broken.
    #[error("could not draw an unused control key")]
    KeySpaceExhausted,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: attach a diploma to a profile.
#[derive(Clone)]
pub struct AttachDiploma {
    pub catalogue: Arc<dyn Catalogue>,
    pub profiles: Arc<dyn ProfileRepository>,
    pub records: Arc<dyn RecordReader>,
    pub links: Arc<dyn LinkRepository>,
    pub keys: Arc<dyn KeyGenerator>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for AttachDiploma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AttachDiploma")
    }
}

impl AttachDiploma {
    /// # Errors
    /// [`AttachDiplomaError`].
    pub async fn execute(
        &self,
        request: AttachDiplomaRequest,
    ) -> Result<AttachOutcome, AttachDiplomaError> {
        let scope = request.scope;
        if !self.catalogue.is_published(&scope).await? {
            return Ok(AttachOutcome::NotInCatalogue {
                scope,
                next_steps: vec![
                    SupportStep::CheckTheCatalogue,
                    SupportStep::WaitForFinalResults,
                    office_step(&scope, true),
                ],
            });
        }
        let profile = self
            .profiles
            .get(request.profile)
            .await?
            .ok_or(AttachDiplomaError::ProfileNotFound)?;

        let identity = &profile.identity;
        let candidates = self
            .records
            .find_candidates(&scope, &identity.key())
            .await?;
        // The store narrows by birth name and date; the complete identity is decided here,
        // by the one matching rule.
        let mut matching: Vec<DiplomaRecord> = candidates
            .into_iter()
            .filter(|r| r.scope == scope && r.holder.identity.matches(identity))
            .collect();

        let record = match matching.len() {
            0 => {
                let mut next_steps = Vec::new();
                if !profile.identity_certified {
                    next_steps.extend([
                        SupportStep::CheckBirthName,
                        SupportStep::CheckAllFirstNames,
                        SupportStep::CheckBirthDate,
                        SupportStep::RecreateProfileOrUseFranceConnect,
                    ]);
                }
                next_steps.push(office_step(&scope, false));
                return Ok(AttachOutcome::NoMatch { scope, next_steps });
            }
            1 => matching.remove(0),
            _ => {
                return Ok(AttachOutcome::AmbiguousHomonyms {
                    scope,
                    next_steps: vec![office_step(&scope, false)],
                });
            }
        };

        if let Some(existing) = self.links.find_by_record(record.id).await? {
            if let Some(outcome) = self.take_over(&profile, &record, &existing).await? {
                return Ok(outcome);
            }
            return Ok(self.already_linked(&existing, profile.id, scope));
        }

        for _ in 0..KEY_ATTEMPTS {
            let new_link = NewLink {
                profile: profile.id,
                record: record.id,
                key: self.keys.generate(),
                created_at: self.clock.now(),
            };
            match self.links.create(new_link).await {
                Ok(link) => {
                    return Ok(AttachOutcome::Attached {
                        link,
                        record: Box::new(record),
                    });
                }
                Err(CreateLinkStoreError::KeyCollision) => {}
                Err(CreateLinkStoreError::RecordAlreadyLinked) => {
                    // Lost a race with another attach of the same record: it is theirs, or
                    // it is ours already; or that link was deleted meanwhile (by the holder's
                    // other request), and the record is free again: try again.
                    if let Some(existing) = self.links.find_by_record(record.id).await? {
                        return Ok(self.already_linked(&existing, profile.id, scope));
                    }
                }
                Err(CreateLinkStoreError::ProfileGone) => {
                    return Err(AttachDiplomaError::ProfileNotFound);
                }
                Err(CreateLinkStoreError::Port(e)) => return Err(e.into()),
            }
        }
        Err(AttachDiplomaError::KeySpaceExhausted)
    }

    /// A certified claimant takes a record held by an uncertified profile, when both
    /// carry an INSEE birth-place code and the codes agree (true homonyms — same names,
    /// same birth date, different people — are told apart by their place of birth; when
    /// either code is missing nothing moves). `None` when the rule does not apply.
    async fn take_over(
        &self,
        claimant: &Profile,
        record: &DiplomaRecord,
        existing: &Link,
    ) -> Result<Option<AttachOutcome>, AttachDiplomaError> {
        let (Some(claimed), Some(recorded)) = (
            claimant.identity.birth_place_code,
            record.holder.identity.birth_place_code,
        ) else {
            return Ok(None);
        };
        if !claimant.identity_certified
            || claimed != recorded
            || existing.profile == claimant.id
            || !existing.is_active()
        {
            return Ok(None);
        }
        let Some(holder) = self.profiles.get(existing.profile).await? else {
            return Ok(None);
        };
        if holder.identity_certified {
            return Ok(None);
        }
        for _ in 0..KEY_ATTEMPTS {
            let new_link = NewLink {
                profile: claimant.id,
                record: record.id,
                key: self.keys.generate(),
                created_at: self.clock.now(),
            };
            let notice = Mail::AttestationTakenOver {
                to: holder.email.clone(),
                scope: record.scope,
            };
            match self
                .links
                .take_over(existing.id, holder.id, new_link, notice)
                .await
            {
                Ok(link) => {
                    return Ok(Some(AttachOutcome::Attached {
                        link,
                        record: Box::new(record.clone()),
                    }));
                }
                Err(TakeOverStoreError::KeyCollision) => {}
                // the holder deleted it, or someone took it, meanwhile: as if linked
                Err(TakeOverStoreError::Changed) => return Ok(None),
                Err(TakeOverStoreError::Port(e)) => return Err(e.into()),
            }
        }
        Err(AttachDiplomaError::KeySpaceExhausted)
    }

    fn already_linked(
        &self,
        existing: &Link,
        profile: ProfileId,
        scope: DiplomaScope,
    ) -> AttachOutcome {
        if existing.profile == profile {
            AttachOutcome::AlreadyAttachedToYou { link: existing.id }
        } else {
            AttachOutcome::AttachedToAnotherProfile {
                scope,
                next_steps: vec![
                    SupportStep::AnotherProfileOfYours,
                    office_step(&scope, false),
                ],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diploma::{DiplomaKind, Session};
    use crate::ports::{
        MockCatalogue, MockLinkRepository, MockProfileRepository, MockRecordReader,
    };
    use crate::testing::*;

    struct Mocks {
        catalogue: MockCatalogue,
        profiles: MockProfileRepository,
        records: MockRecordReader,
        links: MockLinkRepository,
    }

    impl Mocks {
        /// Scope published, profile 1 is Marie Durand.
        fn new() -> Self {
            let mut catalogue = MockCatalogue::new();
            catalogue.expect_is_published().returning(|_| Ok(true));
            let mut profiles = MockProfileRepository::new();
            profiles
                .expect_get()
                .returning(|id| Ok((id == profile_id(1)).then(|| profile(1, marie()))));
            Self {
                catalogue,
                profiles,
                records: MockRecordReader::new(),
                links: MockLinkRepository::new(),
            }
        }

        fn with_records(mut self, records: Vec<DiplomaRecord>) -> Self {
            self.records
                .expect_find_candidates()
                .returning(move |_, _| Ok(records.clone()));
            self
        }

        fn use_case(self, key_sequence: &[&str]) -> AttachDiploma {
            AttachDiploma {
                catalogue: Arc::new(self.catalogue),
                profiles: Arc::new(self.profiles),
                records: Arc::new(self.records),
                links: Arc::new(self.links),
                keys: Arc::new(keys(key_sequence)),
                clock: Arc::new(clock()),
            }
        }
    }

    fn request() -> AttachDiplomaRequest {
        AttachDiplomaRequest {
            profile: profile_id(1),
            scope: scope(),
        }
    }

    fn created(link_request: &NewLink) -> Link {
        Link {
            id: link_id(1),
            profile: link_request.profile,
            record: link_request.record,
            key: link_request.key,
            created_at: link_request.created_at,
            key_issued_at: link_request.created_at,
            state: crate::link::LinkState::Active,
        }
    }

    #[tokio::test]
    async fn the_one_matching_record_is_attached_with_a_new_key() {
        // The record spells the identity differently (upper case, no accents, one list).
        let recorded = identity("DURAND", &["MARIE CLAIRE"], "2001-05-17");
        let mut mocks = Mocks::new().with_records(vec![record(7, recorded, scope())]);
        mocks.links.expect_find_by_record().returning(|_| Ok(None));
        mocks
            .links
            .expect_create()
            .withf(|l| {
                l.record == record_id(7) && l.profile == profile_id(1) && l.key == key("K3YK3Y00")
            })
            .times(1)
            .returning(|l| Ok(created(&l)));
        let outcome = mocks
            .use_case(&["K3YK3Y00"])
            .execute(request())
            .await
            .unwrap();
        let AttachOutcome::Attached { link, record } = outcome else {
            panic!("expected attached, got {outcome:?}")
        };
        assert_eq!(link.key, key("K3YK3Y00"));
        assert_eq!(record.id, record_id(7));
    }

    #[tokio::test]
    async fn a_scope_outside_the_catalogue_sends_to_the_standard_procedure() {
        let mut mocks = Mocks::new();
        mocks.catalogue = MockCatalogue::new();
        mocks
            .catalogue
            .expect_is_published()
            .returning(|_| Ok(false));
        mocks.records.expect_find_candidates().never();
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert_eq!(
            outcome,
            AttachOutcome::NotInCatalogue {
                scope: scope(),
                next_steps: vec![
                    SupportStep::CheckTheCatalogue,
                    SupportStep::WaitForFinalResults,
                    SupportStep::StandardProcedure {
                        academie: scope().academie
                    },
                ],
            }
        );
    }

    #[tokio::test]
    async fn a_married_name_finds_nothing_and_walks_through_the_identity_checklist() {
        // Marie declared her birth name "Durand"; the record only knows another birth name.
        let other = identity("Martin", &["Marie", "Claire"], "2001-05-17");
        let mocks = Mocks::new().with_records(vec![record(7, other, scope())]);
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        let AttachOutcome::NoMatch { next_steps, .. } = outcome else {
            panic!("expected no match, got {outcome:?}")
        };
        assert_eq!(
            next_steps,
            vec![
                SupportStep::CheckBirthName,
                SupportStep::CheckAllFirstNames,
                SupportStep::CheckBirthDate,
                SupportStep::RecreateProfileOrUseFranceConnect,
                SupportStep::ContactExamOffice {
                    academie: scope().academie
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_record_with_one_more_first_name_is_not_attached() {
        // The store narrows by birth name and date only; first names decide here.
        let more = identity("Durand", &["Marie", "Claire", "Anne"], "2001-05-17");
        let mocks = Mocks::new().with_records(vec![record(7, more, scope())]);
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert!(matches!(outcome, AttachOutcome::NoMatch { .. }));
    }

    #[tokio::test]
    async fn a_certified_identity_goes_straight_to_the_exam_office() {
        let mut mocks = Mocks::new().with_records(vec![]);
        mocks.profiles = MockProfileRepository::new();
        mocks.profiles.expect_get().returning(|_| {
            let mut p = profile(1, marie());
            p.identity_certified = true;
            Ok(Some(p))
        });
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert_eq!(
            outcome,
            AttachOutcome::NoMatch {
                scope: scope(),
                next_steps: vec![SupportStep::ContactExamOffice {
                    academie: scope().academie
                }],
            }
        );
    }

    #[tokio::test]
    async fn two_identical_homonym_records_are_ambiguous_and_neither_is_attached() {
        let mut mocks = Mocks::new().with_records(vec![
            record(7, marie(), scope()),
            record(8, marie(), scope()),
        ]);
        mocks.links.expect_create().never();
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert!(matches!(outcome, AttachOutcome::AmbiguousHomonyms { .. }));
    }

    #[tokio::test]
    async fn a_record_of_another_scope_returned_by_the_store_is_ignored() {
        let other_scope = DiplomaScope {
            kind: DiplomaKind::Bts,
            session: Session::new(2019).unwrap(),
            academie: scope().academie,
        };
        let mocks = Mocks::new().with_records(vec![record(7, marie(), other_scope)]);
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert!(matches!(outcome, AttachOutcome::NoMatch { .. }));
    }

    #[tokio::test]
    async fn a_record_attached_to_someone_else_is_not_attached_again() {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        mocks
            .links
            .expect_find_by_record()
            .returning(|_| Ok(Some(link(9, 2, 7, "ABCD1234"))));
        mocks.links.expect_create().never();
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert_eq!(
            outcome,
            AttachOutcome::AttachedToAnotherProfile {
                scope: scope(),
                next_steps: vec![
                    SupportStep::AnotherProfileOfYours,
                    SupportStep::ContactExamOffice {
                        academie: scope().academie
                    },
                ],
            }
        );
    }

    fn born_in(
        mut identity: crate::identity::Identity,
        code: Option<&str>,
    ) -> crate::identity::Identity {
        identity.birth_place_code =
            code.map(|c| crate::identity::BirthPlaceCode::parse(c).unwrap());
        identity
    }

    /// Profile 1 (the claimant) and profile 2 (the holder of link 9 to record 7), with
    /// their certification and birth-place codes, and the record's code.
    fn squatted(
        claimant: (bool, Option<&'static str>),
        holder: (bool, Option<&'static str>),
        recorded: Option<&'static str>,
    ) -> Mocks {
        let mut mocks = Mocks::new();
        mocks
            .records
            .expect_find_candidates()
            .returning(move |_, _| Ok(vec![record(7, born_in(marie(), recorded), scope())]));
        mocks.profiles = MockProfileRepository::new();
        mocks.profiles.expect_get().returning(move |id| {
            let (certified, code) = if id == profile_id(1) {
                claimant
            } else {
                holder
            };
            let mut p = profile(id.0.as_u128(), born_in(marie(), code));
            p.identity_certified = certified;
            Ok(Some(p))
        });
        mocks
            .links
            .expect_find_by_record()
            .returning(|_| Ok(Some(link(9, 2, 7, "ABCD1234"))));
        mocks
    }

    #[tokio::test]
    async fn a_certified_claimant_born_where_the_record_says_takes_it_from_an_uncertified_holder() {
        let mut mocks = squatted((true, Some("69383")), (false, None), Some("69383"));
        mocks
            .links
            .expect_take_over()
            .withf(|from, previous, new, notice| {
                *from == link_id(9)
                    && *previous == profile_id(2)
                    && new.profile == profile_id(1)
                    && new.record == record_id(7)
                    && new.key == key("NEWK0000")
                    && matches!(notice, Mail::AttestationTakenOver { scope: s, .. } if *s == scope())
            })
            .times(1)
            .returning(|_, _, new, _| Ok(link(10, 1, 7, new.key.as_str())));
        mocks.links.expect_create().never();
        let outcome = mocks
            .use_case(&["NEWK0000"])
            .execute(request())
            .await
            .unwrap();
        assert!(
            matches!(&outcome, AttachOutcome::Attached { link, .. } if link.profile == profile_id(1)),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn nothing_moves_unless_both_codes_are_known_and_agree_and_only_certified_beats_uncertified()
     {
        for (claimant, holder, recorded) in [
            // the claimant's code is unknown, or the record's, or they differ
            ((true, None), (false, None), Some("69383")),
            ((true, Some("69383")), (false, None), None),
            ((true, Some("69383")), (false, None), Some("13055")),
            // the claimant is not certified
            ((false, Some("69383")), (false, None), Some("69383")),
            // the holder is certified too
            ((true, Some("69383")), (true, Some("69383")), Some("69383")),
        ] {
            let mut mocks = squatted(claimant, holder, recorded);
            mocks.links.expect_take_over().never();
            mocks.links.expect_create().never();
            let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
            assert!(
                matches!(outcome, AttachOutcome::AttachedToAnotherProfile { .. }),
                "{claimant:?} {holder:?} {recorded:?}: {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_withdrawn_link_is_never_taken_over() {
        let mut mocks = squatted((true, Some("69383")), (false, None), Some("69383"));
        mocks.links = MockLinkRepository::new();
        mocks.links.expect_find_by_record().returning(|_| {
            let mut withdrawn = link(9, 2, 7, "ABCD1234");
            withdrawn.state = crate::link::LinkState::Withdrawn { at: NOW };
            Ok(Some(withdrawn))
        });
        mocks.links.expect_take_over().never();
        mocks.links.expect_create().never();
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert!(matches!(
            outcome,
            AttachOutcome::AttachedToAnotherProfile { .. }
        ));
        assert_eq!(format!("{:?}", Mocks::new().use_case(&[])), "AttachDiploma");
    }

    #[tokio::test]
    async fn a_take_over_that_lost_a_race_says_the_record_is_someone_elses() {
        let mut mocks = squatted((true, Some("69383")), (false, None), Some("69383"));
        mocks
            .links
            .expect_take_over()
            .returning(|_, _, _, _| Err(TakeOverStoreError::Changed));
        let outcome = mocks
            .use_case(&["NEWK0000"])
            .execute(request())
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            AttachOutcome::AttachedToAnotherProfile { .. }
        ));
    }

    #[tokio::test]
    async fn a_link_deleted_between_the_race_and_the_look_up_is_attached_again_not_called_someone_elses()
     {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        mocks.links.expect_find_by_record().returning(|_| Ok(None));
        let mut seq = mockall::Sequence::new();
        mocks
            .links
            .expect_create()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(CreateLinkStoreError::RecordAlreadyLinked));
        mocks
            .links
            .expect_create()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|l| Ok(link(3, 1, 7, l.key.as_str())));
        let outcome = mocks
            .use_case(&["AAAA0000", "BBBB1111"])
            .execute(request())
            .await
            .unwrap();
        assert!(
            matches!(outcome, AttachOutcome::Attached { .. }),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn attaching_twice_says_it_is_already_yours() {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        mocks
            .links
            .expect_find_by_record()
            .returning(|_| Ok(Some(link(3, 1, 7, "ABCD1234"))));
        let outcome = mocks.use_case(&[]).execute(request()).await.unwrap();
        assert_eq!(
            outcome,
            AttachOutcome::AlreadyAttachedToYou { link: link_id(3) }
        );
    }

    #[tokio::test]
    async fn a_key_collision_is_retried_with_a_new_key() {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        mocks.links.expect_find_by_record().returning(|_| Ok(None));
        let mut seq = mockall::Sequence::new();
        mocks
            .links
            .expect_create()
            .withf(|l| l.key == key("AAAA0000"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(CreateLinkStoreError::KeyCollision));
        mocks
            .links
            .expect_create()
            .withf(|l| l.key == key("BBBB1111"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|l| Ok(created(&l)));
        let outcome = mocks
            .use_case(&["AAAA0000", "BBBB1111"])
            .execute(request())
            .await
            .unwrap();
        assert!(
            matches!(outcome, AttachOutcome::Attached { link, .. } if link.key == key("BBBB1111"))
        );
    }

    #[tokio::test]
    async fn endless_collisions_give_up_after_a_bounded_number_of_tries() {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        mocks.links.expect_find_by_record().returning(|_| Ok(None));
        mocks
            .links
            .expect_create()
            .times(KEY_ATTEMPTS)
            .returning(|_| Err(CreateLinkStoreError::KeyCollision));
        let keys = ["AAAA0000"; KEY_ATTEMPTS];
        let result = mocks.use_case(&keys).execute(request()).await;
        assert!(matches!(result, Err(AttachDiplomaError::KeySpaceExhausted)));
    }

    #[tokio::test]
    async fn losing_a_race_for_the_same_record_ends_with_one_link() {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        let mut seq = mockall::Sequence::new();
        mocks
            .links
            .expect_find_by_record()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        mocks
            .links
            .expect_create()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(CreateLinkStoreError::RecordAlreadyLinked));
        mocks
            .links
            .expect_find_by_record()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(link(5, 1, 7, "CCCC2222"))));
        let outcome = mocks
            .use_case(&["AAAA0000"])
            .execute(request())
            .await
            .unwrap();
        assert_eq!(
            outcome,
            AttachOutcome::AlreadyAttachedToYou { link: link_id(5) }
        );
    }

    #[tokio::test]
    async fn a_profile_deleted_meanwhile_is_reported() {
        let mut mocks = Mocks::new().with_records(vec![record(7, marie(), scope())]);
        mocks.links.expect_find_by_record().returning(|_| Ok(None));
        mocks
            .links
            .expect_create()
            .returning(|_| Err(CreateLinkStoreError::ProfileGone));
        let result = mocks.use_case(&["AAAA0000"]).execute(request()).await;
        assert!(matches!(result, Err(AttachDiplomaError::ProfileNotFound)));

        let mocks = Mocks::new();
        let mut other = request();
        other.profile = profile_id(404);
        let result = mocks.use_case(&[]).execute(other).await;
        assert!(matches!(result, Err(AttachDiplomaError::ProfileNotFound)));
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut mocks = Mocks::new();
        mocks
            .records
            .expect_find_candidates()
            .returning(|_, _| Err(PortError::unavailable("db down")));
        let result = mocks.use_case(&[]).execute(request()).await;
        assert!(matches!(result, Err(AttachDiplomaError::Unexpected(_))));
    }
}
