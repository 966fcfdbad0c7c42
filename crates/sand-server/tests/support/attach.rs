//! Control keys as graduates make them: profiles created in the store, one record each
//! attached through the attach use case. Shared by the load benchmark and the cluster
//! tests (`#[path]`-included).

use std::sync::Arc;

use sand_domain::academie::Academie;
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity};
use sand_domain::link::attach::{AttachDiploma, AttachDiplomaRequest, AttachOutcome};
use sand_domain::ports::{Clock, ProfileRepository};
use sand_domain::profile::{NewCredentials, NewProfile};
use sand_http::system::{OsKeyGenerator, SystemClock};
use sand_persistence::keys::KeyProtector;
use sand_persistence::{Store, StoreSettings};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};

/// A key attached through the use case.
#[derive(Debug, Clone)]
pub struct AttachedKey {
    pub key: String,
    /// The holder's birth name.
    pub name: String,
    /// How long the attach use case took (the scale benchmark reads it).
    #[allow(dead_code)]
    pub took: std::time::Duration,
}

/// Attaches one record per profile (records of people without a namesake) until
/// `wanted` keys exist, over the store at `url` whose server secret is `secret`.
pub async fn attach_keys(url: &str, secret: &str, wanted: u64) -> Vec<AttachedKey> {
    // the addresses of this call's profiles: several calls on one database never collide
    let run = uuid::Uuid::new_v4().simple().to_string();
    let store = Store::connect(
        &StoreSettings::new(url),
        KeyProtector::from_secret(secret.as_bytes()).unwrap(),
    )
    .await
    .unwrap();
    let db = Database::connect(url).await.unwrap();
    // the records of people without a namesake in their scope (homonyms cannot attach)
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT birth_name, first_names, birth_date::text, diploma_kind, session, academie \
                 FROM diploma_record r WHERE NOT EXISTS (SELECT 1 FROM diploma_record o \
                   WHERE o.batch_id = r.batch_id AND o.id <> r.id \
                   AND o.birth_name_key = r.birth_name_key \
                   AND o.birth_date = r.birth_date AND o.first_names = r.first_names \
                   AND o.diploma_kind = r.diploma_kind \
                   AND o.session = r.session AND o.academie = r.academie) \
                 LIMIT {}",
                wanted + wanted / 10
            ),
        ))
        .await
        .unwrap();
    let attach = Arc::new(AttachDiploma {
        catalogue: Arc::new(store.catalogue()),
        profiles: Arc::new(store.profiles()),
        records: Arc::new(store.record_reader()),
        links: Arc::new(store.links()),
        keys: Arc::new(OsKeyGenerator),
        clock: Arc::new(SystemClock),
    });
    let profiles: Arc<dyn ProfileRepository> = Arc::new(store.profiles());
    let today = SystemClock.now().date();
    let people: Vec<(String, String, String, String, i32, String)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
                r.try_get_by_index(3).unwrap(),
                r.try_get_by_index(4).unwrap(),
                r.try_get_by_index(5).unwrap(),
            )
        })
        .collect();
    let people = Arc::new(people);
    let workers = 8;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let people = Arc::clone(&people);
        let attach = Arc::clone(&attach);
        let profiles = Arc::clone(&profiles);
        let run = run.clone();
        let quota = wanted / workers as u64 + u64::from((worker as u64) < wanted % workers as u64);
        tasks.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            let mut refused = 0_u64;
            for (i, (name, first, born, kind, session, academie)) in
                people.iter().enumerate().skip(worker).step_by(workers)
            {
                if keys.len() as u64 == quota {
                    break;
                }
                let identity = Identity {
                    birth_name: BirthName::parse(name).unwrap(),
                    first_names: FirstNames::parse_text(&first.replace('|', ",")).unwrap(),
                    birth_date: BirthDate::parse_iso(born, today).unwrap(),
                    birth_place: None,
                    birth_place_code: None,
                };
                let profile = profiles
                    .create(NewProfile {
                        identity,
                        email: Email::parse(&format!("diplome{i}-{run}@charge.invalid")).unwrap(),
                        email_verified: true,
                        credentials: NewCredentials::Password(PasswordHash::new(
                            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
                        )),
                        identity_certified: false,
                        birth_date_presumed: false,
                        created_at: SystemClock.now(),
                    })
                    .await
                    .unwrap();
                let scope = DiplomaScope {
                    kind: *DiplomaKind::all()
                        .iter()
                        .find(|k| k.code() == kind)
                        .unwrap(),
                    session: Session::new(u16::try_from(*session).unwrap()).unwrap(),
                    academie: Academie::from_code(academie).unwrap(),
                };
                let started = std::time::Instant::now();
                let outcome = attach
                    .execute(AttachDiplomaRequest {
                        profile: profile.id,
                        scope,
                    })
                    .await
                    .unwrap();
                match outcome {
                    AttachOutcome::Attached { link, .. } => {
                        keys.push(AttachedKey {
                            key: link.key.as_str().to_owned(),
                            name: name.clone(),
                            took: started.elapsed(),
                        });
                    }
                    other => {
                        refused += 1;
                        if refused <= 2 {
                            let what = format!("{other:?}");
                            eprintln!(
                                "non rattaché ({name}, {born}) : {}",
                                &what[..what.len().min(120)]
                            );
                        }
                    }
                }
            }
            keys
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    assert!(
        all.len() as u64 >= wanted * 9 / 10,
        "only {} keys attached",
        all.len()
    );
    all
}
