//! Domain values for the tests, and real (non-mock) clock and key generator.

use sand_domain::academie::Academie;
use sand_domain::control_key::{ControlKey, KEY_BYTES};
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Mention, Session, Speciality};
use sand_domain::identity::{
    BirthDate, BirthName, BirthPlace, Civility, FirstNames, Identity, UsageName,
};
use sand_domain::ports::{Clock, KeyGenerator};
use sand_domain::profile::{FranceConnectSubject, NewCredentials, NewProfile};
use sand_domain::record::import::ImportBatchRequest;
use sand_domain::record::{Award, CandidateNumber, Ine, NewRecord, RecordHolder};
use time::OffsetDateTime;
use time::macros::{date, datetime};

pub use sand_testkit::fixtures::{ApplyBatch, NOW, TODAY, identity};

/// An identity full of characters a database could mangle, born on 29 February.
pub fn zoe() -> Identity {
    Identity {
        birth_name: BirthName::parse("N'Diaye-Lœwenbrück de l’Éstrée").unwrap(),
        first_names: FirstNames::parse(["Zoë", "Anaïs-Çéline", "Straße"]).unwrap(),
        birth_date: BirthDate::parse_iso("2004-02-29", TODAY).unwrap(),
        birth_place: Some(BirthPlace::parse("Saint-Étienne (Loire)").unwrap()),
        birth_place_code: None,
    }
}

pub fn scope() -> DiplomaScope {
    DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2022).unwrap(),
        academie: Academie::Lyon,
    }
}

pub fn new_record(line: u64, candidate: &str, identity: Identity) -> NewRecord {
    NewRecord {
        line,
        candidate_number: CandidateNumber::parse(candidate).unwrap(),
        scope: scope(),
        holder: RecordHolder {
            civility: Some(Civility::Madame),
            identity,
            usage_name: Some(UsageName::parse("Dupont-Ærøe").unwrap()),
            ine: Some(Ine::parse("123456789AB").unwrap()),
        },
        award: Award {
            speciality: Some(
                Speciality::parse("Mathématiques, physique-chimie — « option » œnologie").unwrap(),
            ),
            mention: Some(Mention::TresBienFelicitations),
            deliberation_date: date!(2022 - 07 - 05),
        },
    }
}

pub fn batch(records: Vec<NewRecord>, complete: bool, fingerprint: u8) -> ImportBatchRequest {
    sand_testkit::fixtures::batch_request(
        scope(),
        records,
        datetime!(2022-07-20 08:00 UTC),
        complete,
        fingerprint,
    )
}

pub fn password_profile(email: &str, identity: Identity) -> NewProfile {
    NewProfile {
        identity,
        email: Email::parse(email).unwrap(),
        email_verified: false,
        credentials: NewCredentials::Password(PasswordHash::new(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        )),
        identity_certified: false,
        birth_date_presumed: false,
        created_at: NOW,
    }
}

pub fn franceconnect_profile(email: &str, subject: &str, identity: Identity) -> NewProfile {
    NewProfile {
        identity,
        email: Email::parse(email).unwrap(),
        email_verified: true,
        credentials: NewCredentials::FranceConnect(FranceConnectSubject {
            issuer: "https://fc.exemple".into(),
            subject: subject.into(),
        }),
        identity_certified: true,
        birth_date_presumed: true,
        created_at: NOW,
    }
}

pub fn key(text: &str) -> ControlKey {
    ControlKey::parse(text).unwrap()
}

#[derive(Debug)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        NOW
    }
}

/// Keys from the operating system's CSPRNG (through UUID v4's random bytes).
#[derive(Debug)]
pub struct RandomKeys;

impl KeyGenerator for RandomKeys {
    fn generate(&self) -> ControlKey {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        let mut five = [0u8; KEY_BYTES];
        five.copy_from_slice(&bytes[..KEY_BYTES]);
        ControlKey::from_random_bytes(five)
    }
}
