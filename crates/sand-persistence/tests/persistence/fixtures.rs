//! Domain values for the tests, and real (non-mock) clock and key generator.

use sand_domain::PortError;
use sand_domain::academie::{Academie, ExamOffice};
use sand_domain::control_key::{ControlKey, KEY_BYTES};
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Mention, Session, Speciality};
use sand_domain::identity::{
    BirthDate, BirthName, BirthPlace, Civility, FirstNames, Identity, UsageName,
};
use sand_domain::ports::RecordWriter;
use sand_domain::ports::{Clock, KeyGenerator};
use sand_domain::profile::{FranceConnectSubject, NewCredentials, NewProfile};
use sand_domain::record::import::{ApplyReport, BatchHeader, ImportBatchRequest};
use sand_domain::record::{
    Award, BatchFingerprint, CandidateNumber, Ine, NewRecord, RecordHolder, SourceSystem,
};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

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
    ImportBatchRequest {
        header: BatchHeader {
            exam_office: ExamOffice::Academie(Academie::Lyon),
            scope: scope(),
            source_system: SourceSystem::Ocean,
            exported_at: datetime!(2022-07-20 08:00 UTC),
            complete,
            declared_record_count: records.len() as u64,
            fingerprint: BatchFingerprint([fingerprint; 32]),
        },
        records,
    }
}

/// Stages and commits a whole checked batch through the writer's staging, in two chunks.
pub trait ApplyBatch {
    async fn replace_batch(&self, request: &ImportBatchRequest) -> Result<ApplyReport, PortError>;
}

impl<W: RecordWriter> ApplyBatch for W {
    async fn replace_batch(&self, request: &ImportBatchRequest) -> Result<ApplyReport, PortError> {
        let checked = request.check(NOW).expect("a valid test batch");
        let mut staging = self.begin(&request.header).await?;
        let (first, rest) = request.records.split_at(request.records.len() / 2);
        staging.stage(first).await?;
        staging.stage(rest).await?;
        staging.commit(&checked).await
    }
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
