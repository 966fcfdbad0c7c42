//! Synthetic batches that look French: for the demo site, tests and benchmarks.
//!
//! Deterministic for a seed. Every person is invented; the names are common French
//! family and first names combined at random.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sand_domain::academie::Academie;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Mention, Session};
use sand_domain::issuer::IssuerCode;
use sand_domain::record::SourceSystem;
use time::{Date, Month, OffsetDateTime, Time};

use crate::manifest::{Encoding, Manifest, render_manifest};
use crate::reader::COLUMNS;

/// First and last session generated.
pub const SESSIONS: std::ops::RangeInclusive<u16> = 2009..=2025;

/// Records per batch, on average, when spreading a data set over many batches (until
/// every scope has its batch: a national-size set has fewer, larger batches).
pub const RECORDS_PER_BATCH: u64 = 250;

/// How much larger than the smallest a scope's batch may be, when sizes vary: real
/// académies' batches range from a few hundred results to tens of thousands.
const SIZE_SPREAD: f64 = 100.0;

const FAMILY_NAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Müller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "N'Diaye",
    "D'Almeida",
    "Le Goff",
    "Le Gall",
    "de La Fontaine",
    "Cœur",
    "Nguyễn",
    "Saint-Martin",
    "Hoarau",
    "Payet",
    "Grondin",
    "Ah-Thion",
    "Jean-Baptiste",
    "Éboué",
    "Bœuf",
    "Lætitia-Pérez",
    "O'Neill",
    "Dos Santos",
    "Ben Saïd",
    "Kerjean",
    "Le Bihan",
];

const FEMALE_NAMES: &[&str] = &[
    "Marie",
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Emma",
    "Inès",
    "Sarah",
    "Anaïs",
    "Lucie",
    "Océane",
    "Zoé",
    "Mathilde",
    "Juliette",
    "Élodie",
    "Maëlle",
    "Clémence",
    "Noémie",
    "Anne-Sophie",
    "Marie-Claire",
    "Aminata",
    "Fatoumata",
    "Laetitia",
    "Cécile",
    "Hélène",
    "Agnès",
    "Françoise",
    "Gaëlle",
    "Bérénice",
    "Aurélie",
    "Solène",
    "Capucine",
];

const MALE_NAMES: &[&str] = &[
    "Lucas",
    "Hugo",
    "Théo",
    "Nathan",
    "Louis",
    "Enzo",
    "Mathis",
    "Thomas",
    "Maxime",
    "Clément",
    "Antoine",
    "Alexandre",
    "Quentin",
    "Jean-Baptiste",
    "Jean-Pierre",
    "François",
    "Loïc",
    "Gaël",
    "Noël",
    "Raphaël",
    "Mamadou",
    "Moussa",
    "Benoît",
    "Jérôme",
    "Stéphane",
    "Grégoire",
    "Aurélien",
    "Joël",
    "Yann",
    "Pierre-Louis",
    "Matthieu",
    "Éric",
];

/// Places of birth with their INSEE code (a commune's, or `99xxx` for a country).
const PLACES: &[(&str, &str)] = &[
    ("Paris", "75056"),
    ("Lyon", "69123"),
    ("Marseille", "13055"),
    ("Toulouse", "31555"),
    ("Nice", "06088"),
    ("Nantes", "44109"),
    ("Strasbourg", "67482"),
    ("Montpellier", "34172"),
    ("Bordeaux", "33063"),
    ("Lille", "59350"),
    ("Rennes", "35238"),
    ("Reims", "51454"),
    ("Saint-Étienne", "42218"),
    ("Le Havre", "76351"),
    ("Toulon", "83137"),
    ("Grenoble", "38185"),
    ("Dijon", "21231"),
    ("Angers", "49007"),
    ("Nîmes", "30189"),
    ("Saint-Denis (La Réunion)", "97411"),
    ("Fort-de-France", "97209"),
    ("Pointe-à-Pitre", "97120"),
    ("Cayenne", "97302"),
    ("Mamoudzou", "97611"),
    ("Ajaccio", "2A004"),
    ("Besançon", "25056"),
    ("Clermont-Ferrand", "63113"),
    ("Orléans", "45234"),
    ("Caen", "14118"),
    ("Rouen", "76540"),
    ("Limoges", "87085"),
    ("Amiens", "80021"),
    ("Poitiers", "86194"),
    ("Nancy", "54395"),
    ("Metz", "57463"),
    ("Créteil", "94028"),
    ("Versailles", "78646"),
    ("Bamako (Mali)", "99335"),
    ("Dakar (Sénégal)", "99341"),
    ("Porto (Portugal)", "99139"),
];

/// The baccalauréat général had series (S, ES, L) until the 2020 session and
/// spécialités from the 2021 reform on.
const LAST_SESSION_WITH_SERIES: u16 = 2020;

fn specialities(kind: DiplomaKind, session: u16) -> &'static [&'static str] {
    match kind {
        DiplomaKind::BacGeneral if session <= LAST_SESSION_WITH_SERIES => {
            &["Série S", "Série ES", "Série L"]
        }
        DiplomaKind::Dnb => &["Série générale", "Série professionnelle"],
        DiplomaKind::Cap => &[
            "Cuisine",
            "Coiffure",
            "Électricien",
            "Petite enfance",
            "Menuisier fabricant",
        ],
        DiplomaKind::Bep => &[
            "Métiers de la relation aux clients et aux usagers",
            "Métiers de l'électricité",
        ],
        DiplomaKind::BacGeneral => &[
            "Mathématiques, physique-chimie",
            "Sciences économiques et sociales, histoire-géographie",
            "Humanités, littérature et philosophie, langues",
        ],
        DiplomaKind::BacTechnologique => &["STMG", "STI2D", "ST2S", "STL", "STD2A"],
        DiplomaKind::BacProfessionnel => &[
            "Commerce",
            "Gestion-administration",
            "Maintenance des véhicules",
            "Cuisine",
        ],
        DiplomaKind::Bts => &[
            "Services informatiques aux organisations",
            "Management commercial opérationnel",
            "Comptabilité et gestion",
            "Tourisme",
        ],
        _ => match kind.code() {
            "LIC" => &["Droit", "Économie et gestion", "Informatique", "Histoire"],
            "BTSA" => &[
                "Agronomie : productions végétales",
                "Gestion et protection de la nature",
                "Viticulture-œnologie",
            ],
            // other kinds are not generated (the data set cycles the built-in ones)
            _ => &[],
        },
    }
}

fn typical_age(kind: DiplomaKind) -> (i32, i32) {
    match kind {
        DiplomaKind::Dnb => (14, 16),
        DiplomaKind::Cap | DiplomaKind::Bep => (16, 19),
        DiplomaKind::BacGeneral | DiplomaKind::BacTechnologique | DiplomaKind::BacProfessionnel => {
            (17, 20)
        }
        DiplomaKind::Bts => (19, 23),
        _ => (18, 30),
    }
}

/// The demonstration's batches from issuers beyond the rectorats (the fictional issuers
/// of `registry/demo-issuers.toml`): a university's licences of 2023, with the
/// demonstration people, and an agricultural authority's BTSA of 2022, académie de Lyon.
///
/// # Errors
/// Any I/O error.
pub fn generate_other_issuers(dir: &Path, seed: u64) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5A4D);
    let mut manifests = Vec::new();
    for (code, year, issuer, count, people) in [
        ("LIC", 2023, "DEMO-UNIV", 60, true),
        ("BTSA", 2022, "DEMO-AGRI", 40, false),
    ] {
        let (Ok(kind), Ok(session), Ok(issuer)) = (
            code.parse::<DiplomaKind>(),
            sand_domain::diploma::Session::new(year),
            IssuerCode::parse(issuer),
        ) else {
            return Err(io::Error::other(format!(
                "the diploma kind {code} is not in this process's registry"
            )));
        };
        let scope = DiplomaScope {
            kind,
            session,
            academie: Academie::Lyon,
        };
        manifests.push(write_batch(
            dir,
            scope,
            count,
            people,
            Some(issuer),
            &mut rng,
        )?);
    }
    Ok(manifests)
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Records in all.
    pub records: u64,
    pub seed: u64,
    /// Put every record in one batch (for memory and speed measurements).
    pub single_batch: bool,
    /// Exactly this many records per batch (the last one holds the rest), for
    /// reproducible measurements of many small batches; by default sizes vary by scope.
    pub batch_size: Option<u64>,
}

/// Why a data set cannot be generated as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "{batches} lots de {size} enregistrements demandés, mais il n'existe que {scopes} périmètres distincts (académie, diplôme, session) : augmentez --batch-size"
    )]
    TooManyBatches {
        batches: u64,
        size: u64,
        scopes: u64,
    },
    #[error("--batch-size doit valoir au moins 1")]
    EmptyBatches,
}

impl From<PlanError> for io::Error {
    fn from(e: PlanError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
    }
}

/// Every distinct scope the generator draws from, the demonstration's first: académies,
/// kinds and sessions cycle together (36, 7 and 17 are pairwise coprime, so the 4 284
/// steps meet every combination), Caen and Rouen folded into Normandie from 2020.
#[must_use]
pub fn all_scopes() -> Vec<DiplomaScope> {
    let mut seen = HashSet::new();
    let mut scopes = Vec::new();
    for scope in demo_scope()
        .into_iter()
        .chain((0..4_284).filter_map(scope_at))
    {
        if seen.insert(scope) {
            scopes.push(scope);
        }
    }
    scopes
}

/// The batches a data set is made of: each a distinct scope and its record count, the
/// counts adding up to `options.records`. Without a fixed batch size, the number of
/// batches is one per [`RECORDS_PER_BATCH`] records up to one per scope, and their sizes
/// vary (deterministically for the seed) over a factor of [`SIZE_SPREAD`].
///
/// # Errors
/// [`PlanError`] when a fixed batch size asks for more batches than there are scopes.
pub fn plan(options: &GenerateOptions) -> Result<Vec<(DiplomaScope, u64)>, PlanError> {
    let scopes = all_scopes();
    let available = scopes.len() as u64;
    let records = options.records;
    if options.single_batch {
        return Ok(scopes.into_iter().take(1).map(|s| (s, records)).collect());
    }
    let sizes: Vec<u64> = match options.batch_size {
        Some(0) => return Err(PlanError::EmptyBatches),
        Some(size) => {
            let batches = records.div_ceil(size).max(1);
            if batches > available {
                return Err(PlanError::TooManyBatches {
                    batches,
                    size,
                    scopes: available,
                });
            }
            (0..batches).map(|i| size.min(records - i * size)).collect()
        }
        None => {
            let batches = records.div_ceil(RECORDS_PER_BATCH).clamp(1, available);
            varied_sizes(records, batches, options.seed)
        }
    };
    Ok(scopes.into_iter().zip(sizes).collect())
}

/// `total` records over `batches` batches of log-uniformly varied sizes (the largest up to
/// [`SIZE_SPREAD`] times the smallest), adding up exactly; the first (the demonstration's
/// batch) holds at least the demonstration people.
fn varied_sizes(total: u64, batches: u64, seed: u64) -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xB47C_5123);
    let weights: Vec<f64> = (0..batches)
        .map(|_| (rng.f64() * SIZE_SPREAD.ln()).exp())
        .collect();
    let sum: f64 = weights.iter().sum();
    // whole shares, then the records the rounding left, one by one from the first batch
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let mut sizes: Vec<u64> = weights
        .iter()
        .map(|w| ((w / sum) * total as f64).floor() as u64)
        .collect();
    let placed: u64 = sizes.iter().sum();
    let mut left = total.saturating_sub(placed);
    let len = sizes.len();
    for i in (0..len).cycle() {
        if left == 0 {
            break;
        }
        sizes[i] += 1;
        left -= 1;
    }
    // the demonstration's batch holds its people (taken from the largest batch)
    let demo = (DEMO_PEOPLE.len() as u64).min(total);
    if sizes[0] < demo {
        let need = demo - sizes[0];
        if let Some(largest) = (1..len).max_by_key(|&i| sizes[i]) {
            let moved = need.min(sizes[largest]);
            sizes[largest] -= moved;
            sizes[0] += moved;
        }
    }
    sizes
}

/// People every demo data set contains, so that a visitor can try attaching.
pub const DEMO_PEOPLE: &[(&str, &str, &str, &str)] = &[
    // birth name, first names (comma-separated), birth date, usage name
    ("Durand", "Camille, Marie", "2003-04-12", "Martin"),
    ("N'Diaye", "Aminata", "2002-11-30", ""),
    ("Lefèvre", "Jean-Baptiste, Paul", "2001-02-28", ""),
];

/// The scopes of a data set: académies, kinds and sessions cycle together (36, 7 and 17
/// are pairwise coprime, so the first 4 284 are all different).
fn scope_at(i: u64) -> Option<DiplomaScope> {
    let academies = Academie::ALL;
    let kinds = DiplomaKind::BUILT_IN;
    let sessions: Vec<u16> = SESSIONS.collect();
    let len = |n: usize| n as u64;
    let pick = |n: u64| usize::try_from(i % n).unwrap_or(0);
    let mut academie = academies[pick(len(academies.len()))];
    let year = sessions[pick(len(sessions.len()))];
    // Caen and Rouen became Normandie in 2020.
    if matches!(academie, Academie::Caen | Academie::Rouen) && year >= 2020 {
        academie = Academie::Normandie;
    }
    if academie == Academie::Normandie && year < 2020 {
        academie = Academie::Caen;
    }
    Some(DiplomaScope {
        kind: kinds[pick(len(kinds.len()))],
        session: Session::new(year).ok()?,
        academie,
    })
}

/// The batch that holds [`DEMO_PEOPLE`]: baccalauréat général 2021, académie de Lyon.
fn demo_scope() -> Option<DiplomaScope> {
    Some(DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2021).ok()?,
        academie: Academie::Lyon,
    })
}

/// Writes batches (one manifest and one data file each) into `dir`; returns the
/// manifests' paths.
///
/// # Errors
/// Any I/O error.
pub fn generate(dir: &Path, options: &GenerateOptions) -> io::Result<Vec<PathBuf>> {
    let plan = plan(options)?;
    std::fs::create_dir_all(dir)?;
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let mut manifests = Vec::with_capacity(plan.len());
    for (i, (scope, count)) in plan.into_iter().enumerate() {
        // the demonstration's people go into the first batch (not a single batch's)
        let with_demo_people = i == 0 && !options.single_batch;
        manifests.push(write_batch(
            dir,
            scope,
            count,
            with_demo_people,
            None,
            &mut rng,
        )?);
    }
    Ok(manifests)
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, list: &[T]) -> T {
    list[rng.usize(..list.len())]
}

fn write_batch(
    dir: &Path,
    scope: DiplomaScope,
    count: u64,
    with_demo_people: bool,
    issuer: Option<IssuerCode>,
    rng: &mut fastrand::Rng,
) -> io::Result<PathBuf> {
    let stem = format!(
        "{}-{}-{}",
        scope.academie.code(),
        scope.kind.code().to_lowercase(),
        scope.session
    );
    let data_path = dir.join(format!("{stem}.csv"));
    let year = i32::from(scope.session.year());
    let exam_office = issuer.unwrap_or(match scope.academie {
        Academie::Paris | Academie::Creteil | Academie::Versailles
            if scope.kind != DiplomaKind::Dnb =>
        {
            IssuerCode::SIEC
        }
        a => IssuerCode::of_academie(a),
    });
    let deliberation = Date::from_calendar_date(year, Month::July, 5).unwrap_or(Date::MIN);
    let exported_at = OffsetDateTime::new_utc(
        Date::from_calendar_date(year, Month::July, 20).unwrap_or(Date::MIN),
        Time::MIDNIGHT,
    );
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(BufWriter::new(File::create(&data_path)?));
    writer.write_record(COLUMNS)?;
    let (youngest, oldest) = typical_age(scope.kind);
    let mut previous: Option<[String; 3]> = None;
    let mut written = 0u64;
    let mut demo = if with_demo_people {
        DEMO_PEOPLE.iter()
    } else {
        [].iter()
    };
    while written < count {
        let candidate = format!(
            "{}{}{:07}",
            scope.academie.code(),
            scope.kind.code(),
            written + 1
        );
        let female = rng.bool();
        let (birth_name, first_names, birth_date, usage_name) =
            if let Some((b, f, d, u)) = demo.next() {
                (
                    (*b).to_owned(),
                    (*f).to_owned(),
                    (*d).to_owned(),
                    (*u).to_owned(),
                )
            } else if let (Some(prev), true) = (&previous, rng.u32(..1000) < 5) {
                // a homonym: same identity as the previous candidate
                (
                    prev[0].clone(),
                    prev[1].clone(),
                    prev[2].clone(),
                    String::new(),
                )
            } else {
                let given = if female { FEMALE_NAMES } else { MALE_NAMES };
                let how_many = 1 + rng.usize(..3) + usize::from(rng.u32(..10) == 0);
                let first: Vec<&str> = (0..how_many).map(|_| pick(rng, given)).collect();
                let age = rng.i32(youngest..=oldest);
                let born = Date::from_calendar_date(year - age, Month::January, 1)
                    .map(|d| d + time::Duration::days(i64::from(rng.u32(..365))))
                    .unwrap_or(Date::MIN);
                let usage = if female && rng.u32(..20) == 0 {
                    pick(rng, FAMILY_NAMES).to_owned()
                } else {
                    String::new()
                };
                (
                    pick(rng, FAMILY_NAMES).to_owned(),
                    first.join(", "),
                    born.to_string(),
                    usage,
                )
            };
        previous = Some([birth_name.clone(), first_names.clone(), birth_date.clone()]);
        let mention = match rng.u32(..10) {
            0..=3 => Mention::Passable,
            4..=6 => Mention::AssezBien,
            7 | 8 => Mention::Bien,
            _ => Mention::TresBien,
        };
        let ine = if rng.u32(..10) < 6 {
            format!(
                "{:010}{}",
                rng.u64(..10_000_000_000),
                char::from(b'A' + rng.u8(..26))
            )
        } else {
            String::new()
        };
        let session = scope.session.to_string();
        let deliberation = deliberation.to_string();
        let (place, place_code) = pick(rng, PLACES);
        // some exports carry the INSEE code of the place of birth, not all
        let place_code = if rng.u32(..10) < 7 { place_code } else { "" };
        writer.write_record([
            candidate.as_str(),
            if female { "MME" } else { "M" },
            &birth_name,
            &usage_name,
            &first_names,
            &birth_date,
            place,
            &ine,
            scope.kind.code(),
            scope.academie.code(),
            &session,
            pick(rng, specialities(scope.kind, scope.session.year())),
            if scope.kind == DiplomaKind::Cap {
                ""
            } else {
                mention.code()
            },
            &deliberation,
            place_code,
        ])?;
        written += 1;
    }
    writer.flush()?;
    drop(writer);
    let (fingerprint, _) = crate::fingerprint_file(&data_path)?;
    let manifest = Manifest {
        version: crate::manifest::Version::V2,
        issuer: exam_office.code().to_owned(),
        exam_office,
        scope,
        source_system: if year >= 2021 {
            SourceSystem::Cyclades
        } else {
            SourceSystem::Ocean
        },
        exported_at,
        // The latest BTS session is still waiting for its second group of tests.
        results_final: !(scope.kind == DiplomaKind::Bts && scope.session.year() == *SESSIONS.end()),
        record_count: count,
        data_path,
        data_sha256: fingerprint,
        encoding: Encoding::Utf8,
        bytes: Vec::new(),
    };
    let manifest_path = dir.join(format!("{stem}.toml"));
    File::create(&manifest_path)?.write_all(render_manifest(&manifest).as_bytes())?;
    Ok(manifest_path)
}
