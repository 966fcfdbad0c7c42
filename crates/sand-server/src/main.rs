//! The `sand` command: composes SAND's domain and adapters.

mod attestation;
mod backoffice;
mod batch;
mod config;
mod import;
mod one_way;
mod secret;
mod serve;
mod staff;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use sand_domain::academie::Academie;
use sand_domain::diploma::DiplomaKind;
use sand_domain::identity::{compact_key, normalize};
use sand_persistence::{DatabaseRoles, RecordWriteAccess, StoreSettings};

use crate::one_way::Deployment;

/// The default database: an embedded SQLite file in ./data, created on first use.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://data/sand.db";

// The command line. Its help is user-facing, hence in French; `sand` alone starts the
// demonstration site.
#[derive(Debug, Parser)]
#[command(
    name = "sand",
    version,
    propagate_version = true,
    about = "SAND : attestations numériques certifiées de diplômes français",
    long_about = "SAND : attestations numériques certifiées de diplômes français.\n\n\
                  Lancé sans commande, `sand` démarre le site de démonstration sur la base de \
                  données embarquée (en y chargeant ses données de démonstration la première \
                  fois), comme le ferait `sand serve --demo`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[arg(
        long,
        global = true,
        env = "SAND_DIPLOMA_KINDS_FILE",
        help = "Types de diplômes de l'exploitant, ajoutés aux types livrés sans recompiler \
                (voir docs/examples/diploma-kinds.toml et `sand diploma-kinds`)"
    )]
    diploma_kinds_file: Option<std::path::PathBuf>,
}

/// Where `sand` with no command keeps its demonstration batches.
const DEMO_DIR: &str = "data/demo";
/// Size and seed of the demonstration data set.
const DEMO_RECORDS: u64 = 10_000;
const DEMO_SEED: u64 = 1;

#[derive(Debug, Args)]
struct DatabaseArgs {
    #[arg(
        long,
        env = "SAND_DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true,
        help = "URL de la base de données : sqlite://CHEMIN (créée si elle n'existe pas) ou \
                postgres://UTILISATEUR@HÔTE/BASE"
    )]
    database_url: crate::config::DatabaseUrl,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(
        about = "Lance le service web : l'espace diplômé, l'espace de vérification, le \
                 catalogue, l'aide et l'API JSON (/api/v1, documentée sur /api/v1/docs)",
        long_about = "Lance le service web : l'espace diplômé, l'espace de vérification, le \
                      catalogue, l'aide et l'API JSON (/api/v1, documentée sur /api/v1/docs).\n\n\
                      La configuration provient des options ou de leurs variables \
                      d'environnement SAND_*. Sur SQLite, le schéma est créé ou mis à jour au \
                      démarrage ; sur PostgreSQL, lancez d'abord `sand migrate` et connectez le \
                      service avec le rôle web, qui ne peut pas écrire les enregistrements de \
                      diplômes. S'arrête proprement sur SIGTERM ou Ctrl-C (les requêtes en cours \
                      se terminent)."
    )]
    Serve(Box<serve::ServeArgs>),
    #[command(
        about = "Crée ou met à jour le schéma de la base de données (et, sur PostgreSQL, les \
                 rôles web et importateur et leurs privilèges). La commande peut être relancée \
                 sans risque : elle ne fait que ce qui manque"
    )]
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(
            long,
            env = "SAND_DATABASE_WEB_ROLE",
            default_value = "sand_web",
            help = "Rôle PostgreSQL du serveur web : il ne peut que lire les enregistrements \
                    de diplômes"
        )]
        web_role: String,
        #[arg(
            long,
            env = "SAND_DATABASE_IMPORTER_ROLE",
            default_value = "sand_importer",
            help = "Rôle PostgreSQL de l'import : il peut écrire les enregistrements de diplômes"
        )]
        importer_role: String,
        #[arg(
            long,
            env = "SAND_DATABASE_BACKOFFICE_ROLE",
            default_value = "sand_backoffice",
            help = "Rôle PostgreSQL de l'espace agents : il lit les enregistrements, libère \
                    des rattachements et écrit le journal d'audit, sans pouvoir écrire un \
                    enregistrement ni changer le journal"
        )]
        backoffice_role: String,
    },
    #[command(
        about = "Importe les résultats d'examens : la seule voie d'entrée des enregistrements \
                 de diplômes dans SAND",
        long_about = "Importe les résultats d'examens : la seule voie d'entrée des \
                      enregistrements de diplômes dans SAND.\n\n\
                      Prend des manifestes de lots (ou des dossiers qui en contiennent, \
                      `*.toml`), contrôle chaque ligne de chaque fichier de données au regard du \
                      manifeste et des règles, et applique chaque lot de façon atomique : un lot \
                      qui présente le moindre problème ne change rien, et ses problèmes sont \
                      listés avec leur ligne et leur colonne. Importer de nouveau le même lot ne \
                      change rien ; un lot corrigé remplace le lot précédent de même périmètre. \
                      Sur PostgreSQL, connectez l'import avec le rôle importateur.\n\n\
                      Chargement initial (`--initial-load`, PostgreSQL) : tous les lots dans \
                      une table des diplômes vide, en une seule transaction, les index et clés \
                      étrangères reconstruits une fois à la fin ; plusieurs fois plus rapide \
                      pour une base nationale. Connectez-le avec le propriétaire des tables.\n\n\
                      Code de retour : 0 tous les lots traités, 65 un lot refusé, 66 un fichier \
                      manquant, 69 base de données indisponible, 77 utilisateur de la base de \
                      données non autorisé à écrire les enregistrements, 78 chargement initial \
                      impossible (table non vide, base SQLite)."
    )]
    Import {
        #[arg(
            required = true,
            help = "Manifestes (*.toml) ou dossiers qui en contiennent"
        )]
        paths: Vec<std::path::PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long, help = "Contrôle tout, n'écrit rien")]
        dry_run: bool,
        #[arg(
            long,
            default_value_t = 5_000,
            value_parser = clap::value_parser!(u32).range(1..=100_000),
            help = "Nombre d'enregistrements par tranche écrite dans la zone de préparation de \
                    la base de données"
        )]
        chunk_size: u32,
        #[arg(long, short, help = "Sans barre de progression")]
        quiet: bool,
        #[arg(
            long,
            help = "Chargement initial dans une table des diplômes vide (PostgreSQL, \
                    propriétaire des tables) : une transaction pour tous les lots, index \
                    reconstruits à la fin ; la table est verrouillée pendant le chargement"
        )]
        initial_load: bool,
        #[arg(
            long,
            env = "SAND_IMPORT_INDEX_MEMORY_MB",
            default_value_t = 1024,
            value_parser = clap::value_parser!(u32).range(16..=65_536),
            requires = "initial_load",
            help = "Mémoire de tri de PostgreSQL pour reconstruire les index du chargement \
                    initial, en Mio (maintenance_work_mem)"
        )]
        index_memory_mb: u32,
        #[arg(
            long,
            env = "SAND_IMPORT_REQUIRE_SIGNATURES",
            conflicts_with = "allow_unsigned",
            help = "Exige que chaque lot soit signé par une clé enregistrée de son émetteur \
                    (le défaut avec PostgreSQL ; sans effet sur la vérification d'une signature \
                    présente, toujours faite)"
        )]
        require_signatures: bool,
        #[arg(
            long,
            env = "SAND_IMPORT_ALLOW_UNSIGNED",
            help = "Accepte les lots non signés avec PostgreSQL (le défaut avec la base \
                    embarquée de démonstration) ; une signature présente est toujours vérifiée"
        )]
        allow_unsigned: bool,
        #[arg(
            long,
            env = "SAND_IMPORT_ACCEPT_V1",
            help = "Accepte les manifestes « sand-batch/1 » (non signés, émetteur donné par \
                    `exam_office`) ; refusés par défaut"
        )]
        accept_v1: bool,
        #[arg(
            long,
            env = "SAND_ISSUERS_FILE",
            help = "Registre des émetteurs de l'exploitant (voir docs/examples/issuers.toml)"
        )]
        issuers_file: Option<std::path::PathBuf>,
    },
    #[command(
        subcommand,
        about = "Lots signés, côté service des examens : clé de signature et signature des \
                 manifestes"
    )]
    Batch(batch::BatchCommand),
    #[command(subcommand, about = "Données de démonstration")]
    Demo(DemoCommand),
    #[command(
        subcommand,
        about = "Le secret du serveur : création d'un nouveau secret et rotation"
    )]
    Secret(secret::SecretCommand),
    #[command(subcommand, about = "Clés de signature des attestations")]
    Keys(attestation::KeysCommand),
    #[command(
        subcommand,
        about = "Attestations : un exemple à consulter et le contrôle hors ligne"
    )]
    Attestation(attestation::AttestationCommand),
    #[command(subcommand, about = "Contrôles de la base de données")]
    Db(DbCommand),
    #[command(subcommand, about = "Configuration de `sand serve`")]
    Config(ConfigCommand),
    #[command(
        about = "Liste les académies avec le code utilisé dans les fichiers d'import et les URL"
    )]
    Academies,
    #[command(
        about = "Liste les types de diplômes avec le code utilisé dans les fichiers d'import \
                 et les URL"
    )]
    DiplomaKinds,
    #[command(
        subcommand,
        about = "Émetteurs : le registre (services des examens, SIEC…) et les clés avec \
                 lesquelles ils signent leurs lots"
    )]
    Issuers(IssuersCommand),
    #[command(
        subcommand,
        about = "Agents de l'espace agents (assistance, services des examens, administration, \
                 audit) : comptes locaux avec second facteur"
    )]
    Staff(staff::StaffCommand),
    #[command(
        subcommand,
        about = "Journal d'audit de l'espace agents : export CSV et purge après la durée de \
                 conservation"
    )]
    Audit(staff::AuditCommand),
    #[command(
        about = "Montre comment SAND compare les noms : la forme normalisée et la clé de nom \
                 servant au rapprochement",
        long_about = "Montre comment SAND compare les noms : la forme normalisée et la clé de \
                      nom servant au rapprochement.\n\n\
                      Deux noms de naissance correspondent quand leurs clés sont égales ; les \
                      prénoms sont comparés sur la forme normalisée de la liste complète, dans \
                      son ordre."
    )]
    Normalize {
        #[arg(
            required = true,
            help = "Noms à normaliser, par exemple \"N'Diaye\" \"Cœur\" \"Jean-Baptiste Paul\""
        )]
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum DemoCommand {
    #[command(
        about = "Écrit des lots synthétiques (chacun un manifeste et un fichier de données) de \
                 diplômés français fictifs, prêts pour `sand import`. La même graine donne les \
                 mêmes fichiers"
    )]
    Generate {
        #[arg(
            long,
            default_value_t = 10_000,
            help = "Nombre total d'enregistrements, répartis en lots d'environ 250 en moyenne \
                    (académies, types de diplômes et sessions 2009–2025 tour à tour), un lot \
                    par périmètre au plus : au-delà d'environ un million, les lots grossissent \
                    (de quelques centaines à des dizaines de milliers d'enregistrements, comme \
                    ceux des académies)"
        )]
        records: u64,
        #[arg(
            long,
            default_value_t = 1,
            help = "La graine aléatoire : la même graine écrit les mêmes fichiers"
        )]
        seed: u64,
        #[arg(
            long,
            default_value = "data/demo",
            help = "Dossier de sortie (créé s'il n'existe pas)"
        )]
        out: std::path::PathBuf,
        #[arg(
            long,
            help = "Met tous les enregistrements dans un seul lot (pour les mesures de \
                    performance)",
            conflicts_with = "batch_size"
        )]
        single_batch: bool,
        #[arg(
            long,
            value_name = "N",
            help = "Exactement N enregistrements par lot (le dernier reçoit le reste), pour \
                    mesurer de nombreux petits lots de façon reproductible"
        )]
        batch_size: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    #[command(
        about = "Affiche la configuration effective de `sand serve`, chaque valeur avec sa \
                 provenance (défaut < fichier < environnement < ligne de commande), secrets \
                 masqués, puis la contrôle comme `serve` le fait avant toute connexion",
        long_about = "Affiche la configuration effective de `sand serve`, chaque valeur avec sa \
                      provenance (défaut < fichier < environnement < ligne de commande), secrets \
                      masqués, puis la contrôle comme `serve` le fait avant toute connexion.\n\n\
                      Le fichier est désigné par --config ou SAND_CONFIG ; ses clés sont les noms \
                      longs des options de `sand serve`, avec des tirets bas. Code de retour 0 \
                      quand `serve` l'accepterait."
    )]
    Check(Box<serve::ServeArgs>),
}

#[derive(Debug, Subcommand)]
enum IssuersCommand {
    #[command(
        about = "Liste les émetteurs : le registre livré, avec le fichier de l'exploitant s'il \
                 est donné, contrôlés comme `serve` le fait",
        long_about = "Liste les émetteurs : le registre livré, avec le fichier de l'exploitant \
                      s'il est donné, contrôlés comme `serve` le fait.\n\n\
                      Une ligne par émetteur : code, nature, nom, académies dont il tient les \
                      résultats, site officiel, coordonnées renseignées ou non. Code de retour \
                      78 quand le registre est refusé, chaque problème avec sa ligne."
    )]
    List {
        #[arg(
            long = "issuers-file",
            env = "SAND_ISSUERS_FILE",
            help = "Registre des émetteurs de l'exploitant (voir docs/examples/issuers.toml)"
        )]
        file: Option<std::path::PathBuf>,
    },
    #[command(
        about = "Enregistre la clé publique avec laquelle un émetteur signe ses lots \
                 (`sand batch keygen` chez l'émetteur)"
    )]
    AddKey {
        #[arg(long, help = "Code de l'émetteur (`sand issuers list`)")]
        issuer: String,
        #[arg(long, help = "Sa clé publique (PEM)")]
        public_key: std::path::PathBuf,
        #[arg(
            long = "issuers-file",
            env = "SAND_ISSUERS_FILE",
            help = "Registre des émetteurs de l'exploitant (voir docs/examples/issuers.toml)"
        )]
        file: Option<std::path::PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(about = "Liste les clés enregistrées, avec leur émetteur et leur révocation")]
    Keys {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(
        about = "Révoque une clé : les lots qu'elle signe sont refusés désormais (les lots déjà \
                 importés gardent la trace de la clé qui les a signés)"
    )]
    RevokeKey {
        #[arg(help = "Identifiant de la clé (16 chiffres hexadécimaux, `sand issuers keys`)")]
        key_id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    #[command(
        about = "Vérifie que cet utilisateur de la base de données ne peut pas écrire les \
                 enregistrements de diplômes, comme l'exige le serveur web au démarrage. Code \
                 de retour 0 s'il peut servir, 3 s'il ne le doit pas"
    )]
    CheckAccess {
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(
            long,
            env = "SAND_SINGLE_USER",
            help = "Accepte une base de données qui ne peut pas restreindre les écritures \
                    (SQLite), pour un déploiement mono-utilisateur ou de démonstration"
        )]
        single_user: bool,
    },
}

/// Exit status when a check refuses (distinct from errors, 1, and usage, 2).
const EXIT_REFUSED: u8 = 3;
/// Exit status of a configuration error (sysexits' EX_CONFIG): the service cannot start
/// as configured.
const EXIT_CONFIG: u8 = 78;

#[derive(Debug, thiserror::Error)]
enum CommandError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] sand_persistence::StoreError),
    #[error(transparent)]
    Refused(#[from] one_way::OneWayError),
    #[error("l'import s'est terminé avec le code {0}")]
    Import(u8),
    #[error(transparent)]
    Attestation(#[from] attestation::AttestationCommandError),
    #[error(transparent)]
    Serve(#[from] serve::ServeError),
    #[error(transparent)]
    Secret(#[from] secret::SecretCommandError),
    #[error(transparent)]
    Registry(#[from] sand_import::registry::RegistryFileError),
    #[error(transparent)]
    Batch(#[from] batch::BatchCommandError),
    #[error(transparent)]
    Staff(#[from] staff::StaffCommandError),
}

/// A storage error in French for the operator (its `Display` is English, for logs); its
/// causes follow it.
fn store_message(e: &sand_persistence::StoreError) -> String {
    use sand_persistence::StoreError;
    match e {
        StoreError::UnsupportedUrl => {
            "URL de base de données non prise en charge (sqlite://CHEMIN ou postgres://…)"
                .to_owned()
        }
        StoreError::DataDirectory { path, .. } => {
            format!("impossible de créer le dossier de données {path}")
        }
        StoreError::Connect(_) => "impossible de se connecter à la base de données".to_owned(),
        StoreError::Migrate(_) => "impossible de migrer la base de données".to_owned(),
        StoreError::Roles(roles) => {
            format!("impossible de préparer les rôles de la base de données ({roles})")
        }
        StoreError::Configure(_) => "impossible de configurer la base de données".to_owned(),
        StoreError::Access(_) => {
            "impossible de lire les privilèges de l'utilisateur de la base de données".to_owned()
        }
        StoreError::NotWritable(_) => {
            "la base de données ne peut pas être écrite (fichier ou dossier en lecture seule, ou \
             disque plein)"
                .to_owned()
        }
    }
}

/// A key-protection error in French for the operator (its `Display` is English, for logs).
fn key_protection_message(e: &sand_persistence::KeyProtectionError) -> String {
    use sand_persistence::KeyProtectionError;
    match e {
        KeyProtectionError::SecretTooShort => format!(
            "le secret du serveur doit compter au moins {} octets",
            sand_persistence::keys::MIN_SECRET_BYTES
        ),
        KeyProtectionError::CannotOpen => "une clé de contrôle scellée n'a pas pu être ouverte \
                                           (mauvais secret ou données corrompues)"
            .to_owned(),
    }
}

/// A port's failure in French for the operator (its `Display` is English, for logs).
fn port_message(e: &sand_domain::PortError) -> &'static str {
    match e {
        sand_domain::PortError::Unavailable(_) => "un service dont SAND dépend est indisponible",
        sand_domain::PortError::Unexpected(_) => "défaillance inattendue de l'infrastructure",
    }
}

/// What the operator reads of an error, and where its causes start: the errors of the
/// storage and attestation libraries display in English, so they are said in French here.
fn operator_message(e: &CommandError) -> (String, Option<&(dyn std::error::Error + 'static)>) {
    use std::error::Error as _;
    match e {
        CommandError::Store(store)
        | CommandError::Serve(serve::ServeError::Store(store))
        | CommandError::Secret(secret::SecretCommandError::Store(store)) => {
            (store_message(store), store.source())
        }
        // the port error is said in French in the message: its causes follow
        CommandError::Secret(secret::SecretCommandError::Database(port)) => {
            (e.to_string(), port.source())
        }
        // the message already says the cause
        CommandError::Secret(secret::SecretCommandError::Create { .. }) => (e.to_string(), None),
        // the French message already holds what the key error's causes would say
        CommandError::Attestation(attestation::AttestationCommandError::Key(key)) => {
            (attestation::key_message(key), None)
        }
        CommandError::Attestation(attestation::AttestationCommandError::Render(render)) => {
            (attestation::render_message(render), None)
        }
        other => (other.to_string(), other.source()),
    }
}

fn print_reference(command: &Command, out: &mut impl Write) -> io::Result<()> {
    match command {
        Command::Academies => {
            writeln!(out, "code\tacadémie\toutre-mer\tfusionnée dans")?;
            for a in Academie::ALL {
                let merged = a
                    .merged_into()
                    .map(|(into, year)| format!("{} (sessions {year}+)", into.name()))
                    .unwrap_or_default();
                let overseas = if a.is_overseas() { "oui" } else { "non" };
                writeln!(out, "{}\t{}\t{overseas}\t{merged}", a.code(), a.name())?;
            }
        }
        Command::DiplomaKinds => {
            writeln!(out, "code\tdiplôme\tniveau\témetteurs\tdepuis la session")?;
            for k in DiplomaKind::all() {
                let issuers: Vec<&str> = sand_domain::issuer::IssuerKind::ALL
                    .iter()
                    .filter(|i| k.exported_by(**i))
                    .map(|i| i.code())
                    .collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    k.code(),
                    k.title(),
                    k.level().map(|l| l.to_string()).unwrap_or_default(),
                    issuers.join(","),
                    k.first_session()
                )?;
            }
        }
        Command::Normalize { names } => {
            writeln!(out, "saisie\tforme normalisée\tclé de nom")?;
            for name in names {
                writeln!(out, "{name}\t{}\t{}", normalize(name), compact_key(name))?;
            }
        }
        Command::Migrate { .. }
        | Command::Db(_)
        | Command::Import { .. }
        | Command::Demo(_)
        | Command::Keys(_)
        | Command::Secret(_)
        | Command::Serve(_)
        | Command::Config(_)
        | Command::Issuers(_)
        | Command::Batch(_)
        | Command::Staff(_)
        | Command::Audit(_)
        | Command::Attestation(_) => {}
    }
    Ok(())
}

/// `sand` alone, on the embedded database: the demonstration ("mirror") site's data is
/// generated once and imported (idempotent), so that a newcomer can try everything.
async fn first_start(out: &mut impl Write) -> Result<(), CommandError> {
    let url =
        std::env::var("SAND_DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    if !url.trim_start().starts_with("sqlite:") {
        writeln!(
            out,
            "Base de données non embarquée : aucune donnée de démonstration n'est chargée. Voir `sand --help`."
        )?;
        return Ok(());
    }
    let dir = std::path::PathBuf::from(DEMO_DIR);
    let has_batches = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .unwrap_or(false);
    if !has_batches {
        let options = sand_import::synthetic::GenerateOptions {
            records: DEMO_RECORDS,
            seed: DEMO_SEED,
            single_batch: false,
            batch_size: None,
        };
        let mut manifests = sand_import::synthetic::generate(&dir, &options)?;
        manifests.extend(sand_import::synthetic::generate_other_issuers(
            &dir, DEMO_SEED,
        )?);
        // signed as exam offices sign theirs, one key per issuer
        batch::sign_demo_batches(&dir)?;
        writeln!(
            out,
            "Données de démonstration générées : {} lots signés dans {DEMO_DIR} (services des examens, SIEC, une autorité de l'enseignement agricole et une université fictives).",
            manifests.len()
        )?;
    }
    batch::register_demo_keys(&dir, &StoreSettings::new(url.clone())).await?;
    let options = import::ImportOptions {
        paths: vec![dir],
        database_url: config::DatabaseUrl::new(url),
        dry_run: false,
        chunk_size: 5_000,
        quiet: true,
        initial_load: None,
        // the demonstration's own batches, on the embedded database: written unsigned
        // (and, by earlier versions, as sand-batch/1)
        signatures: import::Signatures::Optional,
        accept_v1: true,
        issuers_file: std::env::var_os("SAND_ISSUERS_FILE").map(std::path::PathBuf::from),
        demo: true,
    };
    let mut report = Vec::new();
    let status = import::run(options, &mut report).await?;
    if status != import::ImportStatus::AllDone {
        out.write_all(&report)?;
        return Err(CommandError::Import(status.exit_code()));
    }
    if let Some(summary) = String::from_utf8_lossy(&report).lines().last() {
        writeln!(out, "Base de démonstration prête ({summary}).")?;
    }
    writeln!(
        out,
        "Site de démonstration : données fictives, sans aucune valeur."
    )?;
    writeln!(
        out,
        "Personnes de démonstration (bac général 2021 et licence 2023 de l'université de démonstration, académie de Lyon) :"
    )?;
    for (birth_name, first_names, birth_date, usage) in sand_import::synthetic::DEMO_PEOPLE {
        let usage = if usage.is_empty() {
            String::new()
        } else {
            format!(", nom d'usage {usage}")
        };
        writeln!(
            out,
            "  {birth_name}, {first_names}, date de naissance {birth_date}{usage}"
        )?;
    }
    let Ok(Cli {
        command: Some(Command::Serve(args)),
        ..
    }) = Cli::try_parse_from(["sand", "serve", "--demo"])
    else {
        return Ok(());
    };
    serve::run(*args, out).await?;
    Ok(())
}

/// The parsed command line with the configuration file's layer applied.
struct Invocation {
    cli: Cli,
    matches: ArgMatches,
    command: clap::Command,
    layer: config::FileLayer,
}

/// Parses the command line, the configuration file's values becoming the defaults of
/// the commands that read it. Usage errors exit as clap does (status 2).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Invocation, config::ConfigError> {
    let layer = match config::file_named(&args) {
        Some(path) => config::FileLayer::read(&path)?,
        None => config::FileLayer::default(),
    };
    let matches = config::apply(Cli::command(), &layer)?.get_matches_from(args);
    config::refuse_secrets_on_command_line(&Cli::command(), &matches)?;
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    Ok(Invocation {
        cli,
        matches,
        // the options in their declared order, for `config check`
        command: Cli::command(),
        layer,
    })
}

/// `sand config check`.
fn config_check(
    invocation: &Invocation,
    args: &serve::ServeArgs,
    out: &mut impl Write,
) -> Result<(), CommandError> {
    let (Some(config_cmd), Some((_, config_matches))) = (
        invocation.command.find_subcommand("config"),
        invocation.matches.subcommand(),
    ) else {
        return Ok(());
    };
    let (Some(check_cmd), Some((_, check_matches))) = (
        config_cmd.find_subcommand("check"),
        config_matches.subcommand(),
    ) else {
        return Ok(());
    };
    config::print_effective(check_cmd, check_matches, &invocation.layer, out)?;
    let notes = serve::check(args)?;
    writeln!(out, "Configuration valide : {}.", notes.join(" ; "))?;
    Ok(())
}

async fn run(invocation: Invocation, out: &mut impl Write) -> Result<(), CommandError> {
    // the diploma kinds first: every command reads, writes or shows kinds
    let kinds = sand_import::registry::load_kinds(invocation.cli.diploma_kinds_file.as_deref())?;
    sand_domain::diploma::install(kinds).map_err(|e| sand_import::registry::RegistryFileError {
        registry: "des types de diplômes",
        origin: "SAND_DIPLOMA_KINDS_FILE".to_owned(),
        problems: vec![e.to_string()],
    })?;
    if let Some(Command::Config(ConfigCommand::Check(args))) = &invocation.cli.command {
        return config_check(&invocation, args, out);
    }
    let Some(command) = invocation.cli.command else {
        return first_start(out).await;
    };
    match command {
        Command::Migrate {
            database,
            web_role,
            importer_role,
            backoffice_role,
        } => {
            let roles = DatabaseRoles {
                web: web_role,
                importer: importer_role,
                backoffice: backoffice_role,
            };
            let applied = sand_persistence::migrate_database(
                &StoreSettings::new(database.database_url.expose()),
                &roles,
            )
            .await?;
            if applied.is_empty() {
                writeln!(out, "Le schéma est à jour (aucune migration à appliquer).")?;
            } else {
                writeln!(out, "{} migration(s) appliquée(s) :", applied.len())?;
                for name in applied {
                    writeln!(out, "  {name}")?;
                }
            }
        }
        Command::Db(DbCommand::CheckAccess {
            database,
            single_user,
        }) => {
            let access = sand_persistence::check_record_write_access(&StoreSettings::new(
                database.database_url.expose(),
            ))
            .await?;
            let deployment = if single_user {
                Deployment::SingleUser
            } else {
                Deployment::Shared
            };
            match &access {
                RecordWriteAccess::Denied => {
                    writeln!(out, "Accès aux diplômes : lecture seule (rôle web).")?;
                }
                RecordWriteAccess::NotEnforceable => {
                    writeln!(
                        out,
                        "Accès aux diplômes : non restreint par la base (SQLite)."
                    )?;
                }
                RecordWriteAccess::Granted(grants) => {
                    writeln!(
                        out,
                        "Accès aux diplômes : écriture possible ({}).",
                        grants.join(", ")
                    )?;
                }
            }
            one_way::check(&access, deployment)?;
            writeln!(out, "Le serveur web peut démarrer avec cet utilisateur.")?;
        }
        Command::Import {
            paths,
            database,
            dry_run,
            chunk_size,
            quiet,
            initial_load,
            index_memory_mb,
            require_signatures,
            allow_unsigned,
            accept_v1,
            issuers_file,
        } => {
            let options = import::ImportOptions {
                paths,
                database_url: database.database_url,
                dry_run,
                chunk_size: usize::try_from(chunk_size).unwrap_or(5_000),
                quiet,
                initial_load: initial_load.then_some(import::InitialLoad { index_memory_mb }),
                signatures: match (require_signatures, allow_unsigned) {
                    (true, _) => import::Signatures::Required,
                    (false, true) => import::Signatures::Optional,
                    (false, false) => import::Signatures::ByDatabase,
                },
                accept_v1,
                issuers_file,
                demo: false,
            };
            let status = import::run(options, out).await?;
            if status != import::ImportStatus::AllDone {
                return Err(CommandError::Import(status.exit_code()));
            }
        }
        Command::Demo(DemoCommand::Generate {
            records,
            seed,
            out: dir,
            single_batch,
            batch_size,
        }) => {
            let options = sand_import::synthetic::GenerateOptions {
                records,
                seed,
                single_batch,
                batch_size,
            };
            let manifests = sand_import::synthetic::generate(&dir, &options)?;
            writeln!(
                out,
                "{} lot(s), {records} enregistrement(s) écrits dans {} (graine {seed}).",
                manifests.len(),
                dir.display()
            )?;
            writeln!(
                out,
                "Personnes de démonstration (bac général 2021, académie de Lyon) :"
            )?;
            for (birth_name, first_names, birth_date, usage) in sand_import::synthetic::DEMO_PEOPLE
            {
                let usage = if usage.is_empty() {
                    String::new()
                } else {
                    format!(", nom d'usage {usage}")
                };
                writeln!(
                    out,
                    "  {birth_name}, {first_names}, née ou né le {birth_date}{usage}"
                )?;
            }
        }
        Command::Keys(command) => attestation::keys(command, out)?,
        Command::Secret(command) => secret::run(command, out).await?,
        Command::Config(_) => {}
        Command::Serve(args) => serve::run(*args, out).await?,
        Command::Attestation(command) => attestation::attestation(command, out)?,
        Command::Batch(command) => batch::batch(command, out)?,
        Command::Staff(command) => staff::staff(command, out).await?,
        Command::Audit(command) => staff::audit(command, out).await?,
        Command::Issuers(IssuersCommand::AddKey {
            issuer,
            public_key,
            file,
            database,
        }) => {
            let registry = sand_import::registry::load(file.as_deref())?;
            let settings = StoreSettings::new(database.database_url.expose());
            let action = batch::KeyAction::Add {
                issuer: &issuer,
                public_key: &public_key,
            };
            batch::keys(action, &settings, &registry, out).await?;
        }
        Command::Issuers(IssuersCommand::Keys { database }) => {
            let settings = StoreSettings::new(database.database_url.expose());
            let registry = sand_import::registry::shipped()?;
            batch::keys(batch::KeyAction::List, &settings, &registry, out).await?;
        }
        Command::Issuers(IssuersCommand::RevokeKey { key_id, database }) => {
            let settings = StoreSettings::new(database.database_url.expose());
            let registry = sand_import::registry::shipped()?;
            let action = batch::KeyAction::Revoke { key_id: &key_id };
            batch::keys(action, &settings, &registry, out).await?;
        }
        Command::Issuers(IssuersCommand::List { file }) => {
            let registry = sand_import::registry::load(file.as_deref())?;
            writeln!(
                out,
                "code\tnature\tnom\trésultats des académies\tsite\tcoordonnées\tcouverture propre"
            )?;
            for issuer in registry.all() {
                let serves: Vec<&str> = issuer.serves.iter().map(|a| a.code()).collect();
                // a later start than the kinds' own (`sand diploma-kinds`), e.g. `LIC≥2023`
                let covers: Vec<String> = issuer
                    .covers_from
                    .iter()
                    .map(|(kind, year)| format!("{}≥{year}", kind.code()))
                    .collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    issuer.code,
                    issuer.kind,
                    issuer.name,
                    serves.join(","),
                    issuer.website.as_ref().map_or("", |w| w.url.as_str()),
                    if issuer.contact.is_empty() {
                        "non"
                    } else {
                        "oui"
                    },
                    covers.join(",")
                )?;
            }
        }
        reference => print_reference(&reference, out)?,
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SAND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    // SAND_LOG_FORMAT=json: one JSON object a line (with the request's span and id), for
    // log collectors; otherwise human-readable
    if std::env::var("SAND_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let invocation = match parse(std::env::args_os().collect()) {
        Ok(invocation) => invocation,
        Err(e) => {
            let _ = writeln!(io::stderr(), "sand : {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = writeln!(
                io::stderr(),
                "sand : impossible de démarrer l'exécution asynchrone : {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let stdout = io::stdout();
    let result = runtime.block_on(run(invocation, &mut stdout.lock()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // a closed pipe (`sand academies | head`) is not an error worth a message
        Err(CommandError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(CommandError::Import(code)) => ExitCode::from(code),
        Err(CommandError::Attestation(attestation::AttestationCommandError::Invalid(code))) => {
            ExitCode::from(code)
        }
        Err(CommandError::Serve(serve::ServeError::Config(e))) => {
            let _ = writeln!(io::stderr(), "sand : configuration : {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(CommandError::Batch(batch::BatchCommandError::Refused(e))) => {
            let _ = writeln!(io::stderr(), "sand : refusé : {e}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(CommandError::Batch(batch::BatchCommandError::Registry(e))) => {
            let _ = writeln!(io::stderr(), "sand : configuration : {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(CommandError::Staff(staff::StaffCommandError::Usage(e))) => {
            let _ = writeln!(io::stderr(), "sand : {e}");
            ExitCode::from(2)
        }
        Err(CommandError::Staff(staff::StaffCommandError::Refused(e))) => {
            let _ = writeln!(io::stderr(), "sand : refusé : {e}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(CommandError::Staff(staff::StaffCommandError::Registry(e))) => {
            let _ = writeln!(io::stderr(), "sand : configuration : {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(CommandError::Registry(e)) => {
            let _ = writeln!(io::stderr(), "sand : configuration : {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(CommandError::Refused(e)) => {
            let _ = writeln!(io::stderr(), "sand : refusé : {e}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(CommandError::Secret(e @ secret::SecretCommandError::Incomplete(_))) => {
            let _ = writeln!(io::stderr(), "sand : {e}");
            ExitCode::from(EXIT_REFUSED)
        }
        Err(CommandError::Secret(secret::SecretCommandError::Secret(
            serve::ServeError::Config(e),
        ))) => {
            let _ = writeln!(io::stderr(), "sand : configuration : {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            let (text, mut source) = operator_message(&e);
            let mut message = format!("sand : {text}");
            while let Some(cause) = source {
                message.push_str(&format!("\n  cause : {cause}"));
                source = cause.source();
            }
            let _ = writeln!(io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}
