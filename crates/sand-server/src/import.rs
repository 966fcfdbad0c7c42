//! `sand import`: the only way diploma records enter SAND.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sand_domain::issuer::ExportRefusal;
use sand_domain::ports::Clock;
use sand_domain::ports::RecordWriter;
use sand_domain::record::NewRecord;
use sand_domain::record::batch::BatchHeader;
use sand_domain::record::import::{
    BatchProblem, ImportBatchError, ImportOutcome, ImportRecords, ImportStart, SourceProblem,
};
use sand_import::{BatchReader, fingerprint_file, read_manifest};
use sand_persistence::{BulkLoad, BulkLoadError, RecordWriteAccess, StoreSettings};

use crate::batch::Trust;
use time::OffsetDateTime;

/// Test hook: after staging this many chunks, say so on standard error and wait for
/// standard input to close (a test kills the process meanwhile). Never set it otherwise.
pub const FAULT_PAUSE_ENV: &str = "SAND_FAULT_PAUSE_AFTER_CHUNKS";

/// Exit statuses (sysexits.h).
pub const EXIT_DATA: u8 = 65;
pub const EXIT_NO_INPUT: u8 = 66;
pub const EXIT_UNAVAILABLE: u8 = 69;
pub const EXIT_NO_PERMISSION: u8 = 77;
pub const EXIT_CONFIG: u8 = 78;

#[derive(Debug)]
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// What the command was asked.
#[derive(Debug)]
pub struct ImportOptions {
    pub paths: Vec<PathBuf>,
    pub database_url: crate::config::DatabaseUrl,
    pub dry_run: bool,
    pub chunk_size: usize,
    pub quiet: bool,
    /// Whether batches must be signed (by default: on PostgreSQL, not on SQLite).
    pub signatures: Signatures,
    /// Accept `sand-batch/1` manifests (unsigned, as their `exam_office`).
    pub accept_v1: bool,
    /// The operator's issuer registry, laid over the shipped one.
    pub issuers_file: Option<PathBuf>,
    /// The demonstration's own data: its fictional issuers are known.
    pub demo: bool,
    /// Load every batch into an empty record table in one transaction, indexes built at
    /// the end (see `sand_persistence::bulk`).
    pub initial_load: Option<InitialLoad>,
}

/// The settings of an initial load.
#[derive(Debug, Clone, Copy)]
pub struct InitialLoad {
    /// PostgreSQL's `maintenance_work_mem` for the index builds.
    pub index_memory_mb: u32,
}

/// The operator's switch on signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    /// Required on PostgreSQL (production), optional on the embedded SQLite (demo).
    ByDatabase,
    Required,
    Optional,
}

/// How the command ended, for its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    AllDone,
    SomeRefused,
    MissingInput,
    DatabaseUnavailable,
    NotPermitted,
    /// The issuer registry is refused.
    Config,
    Failed,
}

impl ImportStatus {
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Self::AllDone => 0,
            Self::SomeRefused => EXIT_DATA,
            Self::MissingInput => EXIT_NO_INPUT,
            Self::DatabaseUnavailable => EXIT_UNAVAILABLE,
            Self::NotPermitted => EXIT_NO_PERMISSION,
            Self::Config => EXIT_CONFIG,
            Self::Failed => 1,
        }
    }
}

/// Manifests named on the command line: files as given, directories' `*.toml` sorted.
fn manifests(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{} : dossier illisible ({e})", path.display()))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            out.extend(found);
        } else if path.exists() {
            out.push(path.clone());
        } else {
            return Err(format!("{} : fichier introuvable", path.display()));
        }
    }
    if out.is_empty() {
        return Err("aucun manifeste (*.toml) à importer".to_owned());
    }
    Ok(out)
}

/// French text of a batch problem, for the operator.
fn describe(problem: &BatchProblem) -> String {
    match problem {
        BatchProblem::Source(SourceProblem {
            line,
            column,
            reason,
        }) => match (line, column) {
            (0, None) => reason.clone(),
            (0, Some(c)) => format!("{c} : {reason}"),
            (l, None) => format!("ligne {l} : {reason}"),
            (l, Some(c)) => format!("ligne {l}, colonne {c} : {reason}"),
        },
        BatchProblem::Empty => "le lot ne contient aucun enregistrement".into(),
        BatchProblem::TooManyRecords { max } => {
            format!("un lot contient au plus {max} enregistrements : découpez l'export")
        }
        BatchProblem::CountMismatch { declared, actual } => {
            format!(
                "le manifeste annonce {declared} enregistrements, le fichier en contient {actual}"
            )
        }
        BatchProblem::ExportedInTheFuture { exported_at } => {
            format!("date d'export dans le futur ({exported_at})")
        }
        BatchProblem::OutOfScope { line, found, .. } => {
            format!("ligne {line} : enregistrement hors du lot ({found})")
        }
        BatchProblem::DuplicateCandidate {
            line,
            first_line,
            candidate,
        } => {
            format!("ligne {line} : numéro de candidat {candidate} déjà présent ligne {first_line}")
        }
        BatchProblem::DeliberationOutsideSession {
            line,
            date,
            session,
        } => {
            format!("ligne {line} : délibération du {date} hors de la session {session}")
        }
        BatchProblem::DeliberationAfterExport { line, date } => {
            format!("ligne {line} : délibération du {date} postérieure à l'export")
        }
        BatchProblem::HolderTooYoung { line } => {
            format!("ligne {line} : date de naissance incompatible avec la délibération")
        }
    }
}

/// Peak resident memory of this process in MiB (Linux), for the final report.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

struct Totals {
    records: u64,
    done: u64,
    refused: u64,
}

/// Runs the import of every manifest; prints a report per batch and a summary.
pub async fn run(options: ImportOptions, out: &mut impl Write) -> io::Result<ImportStatus> {
    let mut err = io::stderr();
    let manifests = match manifests(&options.paths) {
        Ok(m) => m,
        Err(message) => {
            writeln!(err, "sand import : {message}")?;
            return Ok(ImportStatus::MissingInput);
        }
    };
    let settings = StoreSettings::new(options.database_url.expose());
    let sqlite = options.database_url.is_sqlite();
    let initial_load = options.initial_load.filter(|_| !options.dry_run);
    if sqlite && initial_load.is_some() {
        writeln!(
            err,
            "sand import : le chargement initial (--initial-load) demande PostgreSQL ; \
             importez sans cette option dans la base embarquée"
        )?;
        return Ok(ImportStatus::Config);
    }
    if sqlite {
        // the embedded database is created and migrated on first use
        if let Err(e) = sand_persistence::migrate_database(&settings, &Default::default()).await {
            writeln!(
                err,
                "sand import : base de données inutilisable : {}",
                chain(crate::store_message(&e), &e)
            )?;
            return Ok(ImportStatus::DatabaseUnavailable);
        }
    } else if !options.dry_run {
        {
            match sand_persistence::check_record_write_access(&settings).await {
                Ok(RecordWriteAccess::Granted(_) | RecordWriteAccess::NotEnforceable) => {}
                Ok(RecordWriteAccess::Denied) => {
                    writeln!(
                        err,
                        "sand import : cet utilisateur de la base ne peut pas écrire les diplômes ; \
                         connectez l'import avec le rôle importateur (docs/operations.md)"
                    )?;
                    return Ok(ImportStatus::NotPermitted);
                }
                Err(e) => {
                    let e = crate::store_message(&e);
                    writeln!(err, "sand import : base de données injoignable : {e}")?;
                    return Ok(ImportStatus::DatabaseUnavailable);
                }
            }
        }
    }
    let registry =
        match sand_import::registry::load_layers(options.issuers_file.as_deref(), options.demo) {
            Ok(registry) => registry,
            Err(e) => {
                writeln!(err, "sand import : {e}")?;
                return Ok(ImportStatus::Config);
            }
        };
    let keys = match sand_persistence::issuer_keys::list(&settings).await {
        Ok(keys) => keys,
        Err(e) => {
            let e = crate::store_message(&e);
            writeln!(err, "sand import : clés des émetteurs illisibles : {e}")?;
            return Ok(ImportStatus::DatabaseUnavailable);
        }
    };
    let trust = Trust {
        registry,
        keys,
        require_signatures: match options.signatures {
            Signatures::Required => true,
            Signatures::Optional => false,
            Signatures::ByDatabase => !sqlite,
        },
        accept_v1: options.accept_v1,
    };
    // opened last: an initial load holds the record table's lock until it ends
    let (writer, bulk): (Arc<dyn RecordWriter>, Option<Arc<BulkLoad>>) = match initial_load {
        None => match sand_persistence::open_record_writer(&settings).await {
            Ok(w) => (Arc::new(w), None),
            Err(e) => {
                let e = crate::store_message(&e);
                writeln!(err, "sand import : base de données injoignable : {e}")?;
                return Ok(ImportStatus::DatabaseUnavailable);
            }
        },
        Some(_) => match BulkLoad::start(&settings).await {
            Ok(load) => {
                let load = Arc::new(load);
                (load.clone(), Some(load))
            }
            Err(e) => {
                let (message, status) = bulk_refusal(&e);
                writeln!(err, "sand import : {message}")?;
                return Ok(status);
            }
        },
    };
    let use_case = ImportRecords {
        writer,
        clock: Arc::new(SystemClock),
        issuers: Arc::new(trust.registry.clone()),
    };

    let total_bytes: u64 = manifests
        .iter()
        .filter_map(|m| read_manifest(m).ok())
        .filter_map(|m| std::fs::metadata(&m.data_path).ok())
        .map(|meta| meta.len())
        .sum();
    let bar = ProgressBar::with_draw_target(
        Some(total_bytes),
        if options.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    let started = Instant::now();
    let mut totals = Totals {
        records: 0,
        done: 0,
        refused: 0,
    };
    let mut status = ImportStatus::AllDone;
    let mut bytes_before = 0u64;
    for path in &manifests {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let result = import_one(
            &use_case,
            &trust,
            path,
            &options,
            &bar,
            bytes_before,
            started,
            &mut totals,
        )
        .await;
        bytes_before += read_manifest(path)
            .ok()
            .and_then(|m| std::fs::metadata(&m.data_path).ok())
            .map_or(0, |meta| meta.len());
        bar.set_position(bytes_before);
        match result {
            Ok(line) => {
                totals.done += 1;
                bar.suspend(|| writeln!(out, "{name} : {line}"))?;
            }
            Err(Refusal::Invalid(lines)) => {
                totals.refused += 1;
                status = ImportStatus::SomeRefused;
                bar.suspend(|| -> io::Result<()> {
                    writeln!(out, "{name} : REFUSÉ, rien n'a été écrit")?;
                    for line in lines {
                        writeln!(out, "  - {line}")?;
                    }
                    Ok(())
                })?;
            }
            Err(Refusal::Unavailable(message)) => {
                bar.finish_and_clear();
                writeln!(
                    err,
                    "{name} : base de données indisponible, rien n'a été écrit ({message})"
                )?;
                abandon(bulk.as_deref(), &mut err).await?;
                return Ok(ImportStatus::DatabaseUnavailable);
            }
            Err(Refusal::Failed(message)) => {
                bar.finish_and_clear();
                writeln!(err, "{name} : échec, rien n'a été écrit ({message})")?;
                abandon(bulk.as_deref(), &mut err).await?;
                return Ok(ImportStatus::Failed);
            }
        }
    }
    if let (Some(load), Some(settings)) = (bulk.as_deref(), initial_load)
        && let Some(status) = finish_load(load, settings, &bar, out, &mut err).await?
    {
        bar.finish_and_clear();
        return Ok(status);
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    write!(
        out,
        "{} lot(s) : {} traité(s), {} refusé(s) ; {} enregistrements lus en {:.1} s ({:.0}/s)",
        manifests.len(),
        totals.done,
        totals.refused,
        totals.records,
        seconds,
        totals.records as f64 / seconds
    )?;
    if let Some(mib) = peak_memory_mib() {
        write!(out, " ; mémoire max {mib} Mio")?;
    }
    writeln!(
        out,
        "{}",
        if options.dry_run {
            " (simulation : rien n'a été écrit)"
        } else {
            ""
        }
    )?;
    Ok(status)
}

/// Rolls an initial load back after a batch stopped it, and says so.
async fn abandon(bulk: Option<&BulkLoad>, err: &mut impl Write) -> io::Result<()> {
    if let Some(load) = bulk {
        // a failed rollback leaves the server to roll back when the connection closes
        let _ = load.abandon().await;
        writeln!(
            err,
            "sand import : chargement initial annulé, aucun lot n'a été écrit"
        )?;
    }
    Ok(())
}

/// Builds the initial load's indexes and commits it. `Some(status)` when it failed (and
/// was rolled back).
async fn finish_load(
    load: &BulkLoad,
    settings: InitialLoad,
    bar: &ProgressBar,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<Option<ImportStatus>> {
    let started = Instant::now();
    bar.set_length(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let result = load
        .finish(settings.index_memory_mb, |kind, name| {
            bar.set_message(match kind {
                "index" => format!("construction de l'index {name}"),
                "constraint" => format!("construction de la contrainte {name}"),
                "foreign key" => format!("contrôle de la clé étrangère {name}"),
                "statistics" => "statistiques du planificateur".to_owned(),
                _ => "validation du chargement".to_owned(),
            });
        })
        .await;
    match result {
        Ok(rebuilt) => {
            bar.suspend(|| -> io::Result<()> {
                writeln!(
                    out,
                    "chargement initial validé : {} index et contrainte(s) reconstruits en {:.1} s",
                    rebuilt.len(),
                    started.elapsed().as_secs_f64()
                )?;
                for object in &rebuilt {
                    writeln!(
                        out,
                        "  - {} {} : {:.1} s",
                        object.kind,
                        object.name,
                        object.took.as_secs_f64()
                    )?;
                }
                Ok(())
            })?;
            Ok(None)
        }
        Err(e) => {
            let status = if e.is_unavailable() {
                ImportStatus::DatabaseUnavailable
            } else {
                ImportStatus::Failed
            };
            writeln!(
                err,
                "sand import : chargement initial annulé, aucun lot n'a été écrit ({})",
                chain(crate::port_message(&e).to_owned(), &e)
            )?;
            Ok(Some(status))
        }
    }
}

/// Why an initial load could not start, in French, with the command's status.
fn bulk_refusal(e: &BulkLoadError) -> (String, ImportStatus) {
    match e {
        BulkLoadError::NotPostgres => (
            "le chargement initial (--initial-load) demande PostgreSQL".to_owned(),
            ImportStatus::Config,
        ),
        BulkLoadError::NotEmpty(count) => (
            format!(
                "la table des diplômes contient déjà {count} enregistrement(s) : le chargement \
                 initial (--initial-load) ne remplit qu'une table vide ; importez sans cette option"
            ),
            ImportStatus::Config,
        ),
        BulkLoadError::NotOwner => (
            "le chargement initial reconstruit les index : connectez-le avec le propriétaire \
             des tables (celui de `sand migrate`), pas avec le rôle importateur"
                .to_owned(),
            ImportStatus::NotPermitted,
        ),
        BulkLoadError::Busy => (
            "la table des diplômes est occupée (un autre import, une longue requête) : \
             réessayez quand elle est libre"
                .to_owned(),
            ImportStatus::DatabaseUnavailable,
        ),
        BulkLoadError::Store(e) => (
            format!("base de données injoignable : {}", crate::store_message(e)),
            ImportStatus::DatabaseUnavailable,
        ),
        BulkLoadError::Port(e) if e.is_unavailable() => (
            format!(
                "base de données injoignable : {}",
                chain(crate::port_message(e).to_owned(), e)
            ),
            ImportStatus::DatabaseUnavailable,
        ),
        BulkLoadError::Port(e) => (
            format!(
                "chargement initial impossible : {}",
                chain(crate::port_message(e).to_owned(), e)
            ),
            ImportStatus::Failed,
        ),
    }
}

enum Refusal {
    Invalid(Vec<String>),
    Unavailable(String),
    Failed(String),
}

fn refusal(error: ImportBatchError) -> Refusal {
    match error {
        ImportBatchError::Invalid(invalid) => {
            let mut lines: Vec<String> = invalid.problems.iter().map(describe).collect();
            let listed = invalid.problems.len() as u64;
            if invalid.total > listed {
                lines.push(format!("… et {} autre(s) problème(s)", invalid.total - listed));
            }
            Refusal::Invalid(lines)
        }
        ImportBatchError::NotAllowed(refusal) => Refusal::Invalid(vec![export_refusal(&refusal)]),
        ImportBatchError::ScopeHeldByAnotherOffice { stored } => Refusal::Invalid(vec![format!(
            "ce lot est détenu par un autre service des examens ({stored})"
        )]),
        ImportBatchError::OlderThanStored { stored_export } => Refusal::Invalid(vec![format!(
            "le lot enregistré a été exporté plus tard ({stored_export}) : import plus ancien refusé"
        )]),
        ImportBatchError::WouldUnpublish => Refusal::Invalid(vec![
            "un lot publié ne peut pas être remplacé par un lot dont les résultats ne sont pas définitifs".into(),
        ]),
        ImportBatchError::Unexpected(e) if e.is_unavailable() => {
            Refusal::Unavailable(chain(crate::port_message(&e).to_owned(), &e))
        }
        ImportBatchError::Unexpected(e) => {
            Refusal::Failed(chain(crate::port_message(&e).to_owned(), &e))
        }
    }
}

/// Why an issuer may not export a batch, in French.
fn export_refusal(refusal: &ExportRefusal) -> String {
    match refusal {
        ExportRefusal::UnknownIssuer(code) => {
            format!("émetteur « {code} » inconnu du registre (voir `sand issuers list`)")
        }
        ExportRefusal::OutsideScope {
            issuer,
            name,
            academie,
        } => format!(
            "l'émetteur « {issuer} » ({name}) n'exporte pas les diplômes de l'académie {}",
            academie.with_de()
        ),
        ExportRefusal::KindNotExported {
            issuer,
            kind,
            diploma,
        } => format!(
            "l'émetteur « {issuer} » ({kind}) n'exporte pas ce type de diplôme ({})",
            diploma.code()
        ),
        ExportRefusal::BeforeCoverage {
            diploma,
            session,
            first,
        } => format!(
            "session {session} non couverte : le service ne tient les résultats de ce diplôme ({}) que depuis la session {first}",
            diploma.code()
        ),
    }
}

/// `text`, the French message of `e`, followed by the causes of `e` (third-party
/// libraries' own words).
fn chain(mut text: String, e: &dyn std::error::Error) -> String {
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(" : {cause}"));
        source = cause.source();
    }
    text
}

fn wait_for_stdin_to_close(chunks: usize) {
    let _ = writeln!(
        io::stderr(),
        "sand : pause après {chunks} tranche(s) ({FAULT_PAUSE_ENV})"
    );
    let stdin = io::stdin();
    for _ in stdin.lock().lines() {}
}

#[allow(clippy::too_many_arguments)]
async fn import_one(
    use_case: &ImportRecords,
    trust: &Trust,
    path: &Path,
    options: &ImportOptions,
    bar: &ProgressBar,
    bytes_before: u64,
    started: Instant,
    totals: &mut Totals,
) -> Result<String, Refusal> {
    let manifest = read_manifest(path).map_err(|e| Refusal::Invalid(e.problems))?;
    // who sent it, before anything of its data is read
    let signature = trust
        .check(path, &manifest)
        .map_err(|why| Refusal::Invalid(vec![why]))?;
    let (fingerprint, _) = fingerprint_file(&manifest.data_path).map_err(|e| {
        Refusal::Invalid(vec![format!(
            "{} : fichier de données illisible ({e})",
            manifest.data_path.display()
        )])
    })?;
    if fingerprint != manifest.data_sha256 {
        return Err(Refusal::Invalid(vec![format!(
            "empreinte SHA-256 du fichier de données ({}) différente de celle du manifeste : fichier modifié ou tronqué",
            fingerprint.to_hex()
        )]));
    }
    let scope = manifest.scope;
    let describe_scope = format!("{scope}");
    let mut run = match use_case
        .start(
            BatchHeader {
                signature,
                ..manifest.header()
            },
            options.dry_run,
        )
        .await
        .map_err(refusal)?
    {
        ImportStart::Done(outcome) => {
            return Ok(format!("{describe_scope} — {}", outcome_text(&outcome)));
        }
        ImportStart::Run(run) => run,
    };
    let file = File::open(&manifest.data_path)
        .map_err(|e| Refusal::Invalid(vec![format!("fichier de données illisible ({e})")]))?;
    let pause_after: Option<usize> = std::env::var(FAULT_PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    // Reading and parsing run on a thread of their own, a couple of chunks ahead of the
    // checks and the database writes: the two overlap, memory stays bounded.
    // The records written go back to the reader, which frees them on its own thread and
    // reuses their room for the next chunk.
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<ReadChunk>(2);
    let (spent, returned) = std::sync::mpsc::channel::<Vec<NewRecord>>();
    let chunk_size = options.chunk_size;
    let reader_thread = tokio::task::spawn_blocking(move || {
        read_chunks(file, &manifest, chunk_size, &sender, &returned);
    });
    let mut chunks_pushed = 0usize;
    while let Some(chunk) = chunks.recv().await {
        totals.records += chunk.lines;
        match chunk.items {
            ChunkLines::Records(records) => {
                let pushed = run.push_records(&records).await;
                // the reader may have finished: then they are freed here
                let _ = spent.send(records);
                pushed
            }
            ChunkLines::Mixed(items) => run.push(items).await,
        }
        .map_err(refusal)?;
        chunks_pushed += 1;
        bar.set_position(bytes_before + chunk.bytes_read);
        let rate = totals.records as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "{} enreg. ({rate:.0}/s) {describe_scope}",
            totals.records
        ));
        if pause_after == Some(chunks_pushed) {
            wait_for_stdin_to_close(chunks_pushed);
        }
    }
    reader_thread
        .await
        .map_err(|e| Refusal::Failed(format!("lecture du fichier interrompue ({e})")))?;
    let outcome = run.finish().await.map_err(refusal)?;
    Ok(format!("{describe_scope} — {}", outcome_text(&outcome)))
}

/// The lines of a chunk.
enum ChunkLines {
    /// Every line read as a record (the usual case: checked and written where they lie).
    Records(Vec<NewRecord>),
    /// Some lines could not be read, or the file could not be read further.
    Mixed(Vec<Result<NewRecord, Vec<BatchProblem>>>),
}

impl ChunkLines {
    fn len(&self) -> usize {
        match self {
            Self::Records(records) => records.len(),
            Self::Mixed(items) => items.len(),
        }
    }

    fn push(&mut self, line: Result<NewRecord, Vec<BatchProblem>>) {
        match (&mut *self, line) {
            (Self::Records(records), Ok(record)) => records.push(record),
            (Self::Records(records), Err(problems)) => {
                let mut items: Vec<_> = std::mem::take(records).into_iter().map(Ok).collect();
                items.push(Err(problems));
                *self = Self::Mixed(items);
            }
            (Self::Mixed(items), line) => items.push(line),
        }
    }
}

/// Lines read from a data file, ready for `ImportRun::push_records` or
/// `ImportRun::push`.
struct ReadChunk {
    items: ChunkLines,
    /// Lines of the file in `items` (a fatal problem of the file adds an item, not a line).
    lines: u64,
    /// Bytes of the data file read so far.
    bytes_read: u64,
}

/// Reads a data file chunk by chunk into `sender` until the end, a fatal problem, or the
/// receiver going away (the import stopped). Chunks of records already written come back
/// through `returned`, to be emptied and filled again.
fn read_chunks(
    file: File,
    manifest: &sand_import::Manifest,
    chunk_size: usize,
    sender: &tokio::sync::mpsc::Sender<ReadChunk>,
    returned: &std::sync::mpsc::Receiver<Vec<NewRecord>>,
) {
    let mut reader = match BatchReader::new(
        io::BufReader::with_capacity(256 * 1024, file),
        manifest.encoding,
        manifest.exported_at.date(),
    ) {
        Ok(reader) => reader,
        Err(problem) => {
            let _ = sender.blocking_send(ReadChunk {
                items: ChunkLines::Mixed(vec![Err(vec![BatchProblem::Source(problem)])]),
                lines: 0,
                bytes_read: 0,
            });
            return;
        }
    };
    loop {
        let mut room = None;
        while let Ok(mut records) = returned.try_recv() {
            records.clear();
            room = Some(records);
        }
        let mut items = ChunkLines::Records(room.unwrap_or_else(|| Vec::with_capacity(chunk_size)));
        let mut fatal = None;
        while items.len() < chunk_size {
            match reader.next_line() {
                Ok(Some(line)) => items
                    .push(line.map_err(|ps| ps.into_iter().map(BatchProblem::Source).collect())),
                Ok(None) => break,
                Err(problem) => {
                    fatal = Some(problem);
                    break;
                }
            }
        }
        let last = items.len() < chunk_size || fatal.is_some();
        let lines = items.len() as u64;
        if let Some(problem) = fatal {
            items.push(Err(vec![BatchProblem::Source(problem)]));
        }
        let chunk = ReadChunk {
            items,
            lines,
            bytes_read: reader.bytes_read(),
        };
        if sender.blocking_send(chunk).is_err() || last {
            return;
        }
    }
}

fn outcome_text(outcome: &ImportOutcome) -> String {
    let published = |p: bool| {
        if p {
            "publié"
        } else {
            "non publié (résultats non définitifs)"
        }
    };
    match outcome {
        ImportOutcome::Unchanged { published: p, .. } => {
            format!(
                "inchangé (lot déjà importé à l'identique), {}",
                published(*p)
            )
        }
        ImportOutcome::Published { .. } => "données inchangées, lot désormais publié".into(),
        ImportOutcome::Applied {
            report,
            published: p,
        } => format!(
            "importé : {} ajouté(s), {} remplacé(s), {} inchangé(s), {} retiré(s), {} rattachement(s) invalidé(s) ; {}",
            report.inserted,
            report.updated,
            report.unchanged,
            report.removed,
            report.links_withdrawn,
            published(*p)
        ),
        ImportOutcome::WouldApply {
            published: p,
            records,
        } => {
            format!(
                "valide : {records} enregistrement(s) seraient importés ; {}",
                published(*p)
            )
        }
    }
}
