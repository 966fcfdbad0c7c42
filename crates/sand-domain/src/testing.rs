//! Fixtures shared by the use-case tests.

use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::academie::Academie;
use crate::control_key::ControlKey;
use crate::credentials::Email;
use crate::diploma::{DiplomaKind, DiplomaScope, Mention, Session, Speciality};
use crate::identity::{BirthDate, BirthName, FirstNames, Identity, UsageName};
use crate::issuer::IssuerCode;
use crate::link::{Link, LinkId, LinkState};
use crate::ports::{MockClock, MockKeyGenerator};
use crate::profile::{LoginMethod, Profile, ProfileId};
use crate::record::{
    Award, BatchId, CandidateNumber, DiplomaRecord, RecordHolder, RecordId, SourceReference,
};

pub const TODAY: Date = date!(2026 - 11 - 24);
pub const NOW: OffsetDateTime = datetime!(2026-11-24 10:00 UTC);

pub fn identity(birth_name: &str, first_names: &[&str], birth_date: &str) -> Identity {
    Identity {
        birth_name: BirthName::parse(birth_name).unwrap(),
        first_names: FirstNames::parse(first_names).unwrap(),
        birth_date: BirthDate::parse_iso(birth_date, TODAY).unwrap(),
        birth_place: None,
        birth_place_code: None,
    }
}

pub fn marie() -> Identity {
    identity("Durand", &["Marie", "Claire"], "2001-05-17")
}

pub fn scope() -> DiplomaScope {
    DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2019).unwrap(),
        academie: Academie::Lyon,
    }
}

pub fn profile_id(n: u128) -> ProfileId {
    ProfileId(Uuid::from_u128(n))
}

pub fn record_id(n: u128) -> RecordId {
    RecordId(Uuid::from_u128(0x1000 + n))
}

pub fn link_id(n: u128) -> LinkId {
    LinkId(Uuid::from_u128(0x2000 + n))
}

pub fn profile(id: u128, identity: Identity) -> Profile {
    Profile {
        id: profile_id(id),
        identity,
        email: Email::parse(&format!("diplome{id}@exemple.fr")).unwrap(),
        email_verified: true,
        login: LoginMethod::Password,
        identity_certified: false,
        birth_date_presumed: false,
        notify_on_verification: false,
        created_at: NOW,
    }
}

pub fn record(id: u128, identity: Identity, scope: DiplomaScope) -> DiplomaRecord {
    DiplomaRecord {
        id: record_id(id),
        batch: BatchId(Uuid::from_u128(0x3000)),
        scope,
        source: SourceReference {
            exam_office: IssuerCode::of_academie(scope.academie),
            session: scope.session,
            candidate_number: CandidateNumber::parse(&format!("C{id:06}")).unwrap(),
        },
        holder: RecordHolder {
            civility: None,
            identity,
            usage_name: Some(UsageName::parse("Martin").unwrap()),
            ine: None,
        },
        award: Award {
            speciality: Some(Speciality::parse("Mathématiques, physique-chimie").unwrap()),
            mention: Some(Mention::Bien),
            deliberation_date: date!(2019 - 07 - 05),
        },
        withdrawn_at: None,
    }
}

pub fn key(text: &str) -> ControlKey {
    ControlKey::parse(text).unwrap()
}

pub fn link(id: u128, profile: u128, record: u128, key_text: &str) -> Link {
    Link {
        id: link_id(id),
        profile: profile_id(profile),
        record: record_id(record),
        key: key(key_text),
        created_at: NOW,
        key_issued_at: NOW,
        state: LinkState::Active,
    }
}

pub fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(NOW);
    clock
}

/// A key generator that yields `keys` in order, then panics.
pub fn keys(keys: &[&str]) -> MockKeyGenerator {
    let mut queue: std::collections::VecDeque<ControlKey> = keys.iter().map(|k| key(k)).collect();
    let mut generator = MockKeyGenerator::new();
    generator
        .expect_generate()
        .times(keys.len())
        .returning(move || queue.pop_front().unwrap());
    generator
}
