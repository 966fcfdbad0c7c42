//! The batch data file: `;`-separated values with a header row, read as a stream.
//!
//! Memory stays constant whatever the file size: one record at a time, and no line may
//! exceed [`MAX_LINE_BYTES`]. Each line becomes a record or the list of its problems
//! (line, column, reason); problems that make the rest of the file unreadable (binary
//! data, an endless line, a broken header) stop the reading.

use std::borrow::Cow;
use std::io::{self, Read};

use sand_domain::academie::Academie;
use sand_domain::diploma::{
    DiplomaKind, DiplomaScope, FIRST_SESSION, Mention, Session, SessionError, Speciality,
    SpecialityError,
};
use sand_domain::identity::{
    BirthDate, BirthDateError, BirthName, BirthPlace, BirthPlaceCode, BirthPlaceError, Civility,
    FirstNames, FirstNamesError, Identity, NameError, UsageName,
};
use sand_domain::record::import::SourceProblem;
use sand_domain::record::{
    Award, CandidateNumber, CandidateNumberError, Ine, MAX_CANDIDATE_NUMBER_CHARS, NewRecord,
    RecordHolder,
};
use sand_domain::text::{DateWriting, read_date};
use time::Date;

use crate::manifest::Encoding;

/// The columns of a data file, in their documented order (any order is accepted).
pub const COLUMNS: [&str; 15] = [
    "numero_candidat",
    "civilite",
    "nom_naissance",
    "nom_usage",
    "prenoms",
    "date_naissance",
    "lieu_naissance",
    "ine",
    "diplome",
    "academie",
    "session",
    "specialite",
    "mention",
    "date_deliberation",
    "code_lieu_naissance",
];

/// Columns a header may leave out (added to the format later: older exports lack them).
pub const OPTIONAL_COLUMNS: [&str; 1] = ["code_lieu_naissance"];

const CANDIDATE: usize = 0;
const CIVILITY: usize = 1;
const BIRTH_NAME: usize = 2;
const USAGE_NAME: usize = 3;
const FIRST_NAMES: usize = 4;
const BIRTH_DATE: usize = 5;
const BIRTH_PLACE: usize = 6;
const INE: usize = 7;
const KIND: usize = 8;
const ACADEMIE: usize = 9;
const SESSION: usize = 10;
const SPECIALITY: usize = 11;
const MENTION: usize = 12;
const DELIBERATION: usize = 13;
const BIRTH_PLACE_CODE: usize = 14;

/// Longest line accepted, in bytes. Real lines are under 1 KiB.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Guards the byte stream: refuses binary data and endless lines before the CSV
/// parser buffers them, and counts lines for the messages.
struct Guard<R> {
    inner: R,
    since_newline: usize,
    line: u64,
    bytes: u64,
}

#[derive(Debug, thiserror::Error)]
enum GuardError {
    #[error("ligne de plus de {MAX_LINE_BYTES} octets")]
    LineTooLong,
    #[error("données binaires (octet nul)")]
    Binary,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // up to the first null byte, if any: what comes first is reported
        let zero = memchr::memchr(0, &buf[..n]);
        let scanned = &buf[..zero.unwrap_or(n)];
        let mut line_start = 0;
        for newline in memchr::memchr_iter(b'\n', scanned) {
            if self.since_newline + (newline - line_start) > MAX_LINE_BYTES {
                return Err(too_long());
            }
            self.since_newline = 0;
            self.line += 1;
            line_start = newline + 1;
        }
        self.since_newline += scanned.len() - line_start;
        if self.since_newline > MAX_LINE_BYTES {
            return Err(too_long());
        }
        if zero.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                GuardError::Binary,
            ));
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

fn too_long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, GuardError::LineTooLong)
}

/// One line's outcome.
pub type LineResult = Result<NewRecord, Vec<SourceProblem>>;

/// Reads the records of one data file.
pub struct BatchReader<R: Read> {
    csv: csv::Reader<Guard<R>>,
    columns: [usize; COLUMNS.len()],
    encoding: Encoding,
    today: Date,
    record: csv::ByteRecord,
    finished: bool,
}

impl<R: Read> std::fmt::Debug for BatchReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchReader")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

fn problem(line: u64, column: Option<&str>, reason: impl Into<String>) -> SourceProblem {
    SourceProblem {
        line,
        column: column.map(str::to_owned),
        reason: reason.into(),
    }
}

fn fatal_from_csv(error: &csv::Error, fallback_line: u64) -> SourceProblem {
    let line = error.position().map_or(fallback_line, csv::Position::line);
    if let csv::ErrorKind::Io(io) = error.kind()
        && let Some(guard) = io.get_ref().and_then(|e| e.downcast_ref::<GuardError>())
    {
        return problem(line, None, format!("{guard} : lecture arrêtée"));
    }
    problem(line, None, format!("fichier illisible : {error}"))
}

impl<R: Read> BatchReader<R> {
    /// Reads the header row. `today` bounds birth dates (the export date).
    ///
    /// # Errors
    /// A [`SourceProblem`] on line 1 when the header is missing, has unknown, missing or
    /// repeated columns, or the file is unreadable.
    pub fn new(input: R, encoding: Encoding, today: Date) -> Result<Self, SourceProblem> {
        let guard = Guard {
            inner: input,
            since_newline: 0,
            line: 1,
            bytes: 0,
        };
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(true)
            .flexible(false)
            .from_reader(guard);
        let headers = csv
            .byte_headers()
            .map_err(|e| fatal_from_csv(&e, 1))?
            .clone();
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(problem(1, None, "fichier vide : la ligne d'en-tête manque"));
        }
        let mut columns = [usize::MAX; COLUMNS.len()];
        let mut unknown = Vec::new();
        for (index, raw) in headers.iter().enumerate() {
            let name = String::from_utf8_lossy(raw);
            let name = name.trim_start_matches('\u{feff}').trim().to_lowercase();
            match COLUMNS.iter().position(|c| *c == name) {
                Some(slot) if columns[slot] == usize::MAX => columns[slot] = index,
                Some(_) => return Err(problem(1, Some(&name), "colonne répétée")),
                None => unknown.push(name),
            }
        }
        let missing: Vec<&str> = COLUMNS
            .iter()
            .zip(columns)
            .filter(|(name, index)| *index == usize::MAX && !OPTIONAL_COLUMNS.contains(name))
            .map(|(name, _)| *name)
            .collect();
        if !unknown.is_empty() || !missing.is_empty() {
            let mut reason = String::from("en-tête incorrect");
            if !missing.is_empty() {
                reason.push_str(&format!(" ; colonnes manquantes : {}", missing.join(", ")));
            }
            if !unknown.is_empty() {
                reason.push_str(&format!(" ; colonnes inconnues : {}", unknown.join(", ")));
            }
            return Err(problem(1, None, reason));
        }
        Ok(Self {
            csv,
            columns,
            encoding,
            today,
            record: csv::ByteRecord::new(),
            finished: false,
        })
    }

    /// Bytes read so far (for progress displays).
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.csv.get_ref().bytes
    }

    /// The next line: `Ok(None)` at the end of the file.
    ///
    /// # Errors
    /// A [`SourceProblem`] that makes the rest of the file unreadable; reading stops.
    pub fn next_line(&mut self) -> Result<Option<LineResult>, SourceProblem> {
        if self.finished {
            return Ok(None);
        }
        match self.csv.read_byte_record(&mut self.record) {
            Ok(false) => {
                self.finished = true;
                Ok(None)
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, csv::Position::line);
                Ok(Some(self.parse_line(line)))
            }
            Err(e) => {
                if let csv::ErrorKind::UnequalLengths {
                    pos,
                    len,
                    expected_len,
                } = e.kind()
                {
                    let line = pos.as_ref().map_or(0, csv::Position::line);
                    return Ok(Some(Err(vec![problem(
                        line,
                        None,
                        format!("{len} champs au lieu de {expected_len} (séparateur « ; »)"),
                    )])));
                }
                self.finished = true;
                let fallback = self.csv.get_ref().line;
                Err(fatal_from_csv(&e, fallback))
            }
        }
    }

    /// The text of `column` on this line, trimmed: borrowed from the line when it is
    /// UTF-8 or plain ASCII. `None` (with the problem noted) when it is refused.
    fn cell<'a>(
        &'a self,
        line_text: Option<&'a str>,
        column: usize,
        line: u64,
        problems: &mut Vec<SourceProblem>,
    ) -> Option<Cow<'a, str>> {
        let index = self.columns[column];
        let raw = self.record.get(index).unwrap_or_default();
        // the line checked once: a cell of it is UTF-8 when it starts and ends on
        // character boundaries
        let in_line = || {
            let range = self.record.range(index)?;
            line_text?.get(range)
        };
        let text: Cow<'_, str> = match self.encoding {
            Encoding::Utf8 => match in_line().map_or_else(|| std::str::from_utf8(raw), Ok) {
                Ok(t) => Cow::Borrowed(t),
                Err(_) => {
                    problems.push(problem(
                        line,
                        Some(COLUMNS[column]),
                        "texte qui n'est pas de l'UTF-8 (le manifeste déclare UTF-8)",
                    ));
                    return None;
                }
            },
            // borrowed when the bytes are ASCII
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
        };
        if let Some(first) = text.trim().chars().next()
            && matches!(first, '=' | '+' | '-' | '@')
        {
            problems.push(problem(
                line,
                Some(COLUMNS[column]),
                format!("cellule commençant par « {first} » : formule de tableur refusée"),
            ));
            return None;
        }
        if has_control_character(&text) {
            problems.push(problem(
                line,
                Some(COLUMNS[column]),
                "caractère de contrôle",
            ));
            return None;
        }
        Some(match text {
            Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
            Cow::Owned(t) if t.trim().len() == t.len() => Cow::Owned(t),
            Cow::Owned(t) => Cow::Owned(t.trim().to_owned()),
        })
    }

    fn parse_line(&self, line: u64) -> LineResult {
        let mut problems = Vec::new();
        let line_text = match self.encoding {
            Encoding::Utf8 => std::str::from_utf8(self.record.as_slice()).ok(),
            Encoding::Windows1252 => None,
        };
        let mut cells: [Option<Cow<'_, str>>; COLUMNS.len()] =
            std::array::from_fn(|c| self.cell(line_text, c, line, &mut problems));
        let mut take = |column: usize| cells[column].take();
        let field = |column: usize, problems: &mut Vec<SourceProblem>, reason: String| {
            problems.push(problem(line, Some(COLUMNS[column]), reason));
        };

        macro_rules! required {
            ($column:expr, $parse:expr) => {
                match take($column) {
                    None => None,
                    Some(text) if text.is_empty() => {
                        field(
                            $column,
                            &mut problems,
                            "valeur obligatoire manquante".into(),
                        );
                        None
                    }
                    Some(text) => match $parse(&text) {
                        Ok(v) => Some(v),
                        Err(reason) => {
                            field($column, &mut problems, reason);
                            None
                        }
                    },
                }
            };
        }
        macro_rules! optional {
            ($column:expr, $parse:expr) => {
                match take($column) {
                    None => Err(()),
                    Some(text) if text.is_empty() => Ok(None),
                    Some(text) => match $parse(&text) {
                        Ok(v) => Ok(Some(v)),
                        Err(reason) => {
                            field($column, &mut problems, reason);
                            Err(())
                        }
                    },
                }
            };
        }

        let today = self.today;
        let candidate = required!(CANDIDATE, |t: &str| CandidateNumber::parse(t)
            .map_err(|e| format!("numéro de candidat invalide ({})", candidate_reason(&e))));
        let civility = optional!(CIVILITY, |t: &str| {
            // full upper-casing only for the rare text that is not ASCII
            let upper = if t.is_ascii() {
                Cow::Borrowed(t)
            } else {
                Cow::Owned(t.to_uppercase())
            };
            let is = |word: &str| upper.eq_ignore_ascii_case(word);
            if is("M") || is("M.") || is("MONSIEUR") {
                Ok(Civility::Monsieur)
            } else if is("MME") || is("MADAME") {
                Ok(Civility::Madame)
            } else {
                Err(format!("« {t} » : M, MME ou vide attendu"))
            }
        });
        let birth_name = required!(BIRTH_NAME, |t: &str| BirthName::parse(t)
            .map_err(name_reason));
        let usage_name = optional!(USAGE_NAME, |t: &str| UsageName::parse(t)
            .map_err(name_reason));
        let first_names = required!(FIRST_NAMES, |t: &str| FirstNames::parse(t.split(','))
            .map_err(first_names_reason));
        let birth_date = required!(BIRTH_DATE, |t: &str| parse_date(t).and_then(|(y, m, d)| {
            BirthDate::from_ymd(y, m, d, today).map_err(birth_date_reason)
        }));
        let birth_place = optional!(BIRTH_PLACE, |t: &str| BirthPlace::parse(t)
            .map_err(|e| format!("lieu de naissance invalide ({})", place_reason(&e))));
        let birth_place_code = optional!(BIRTH_PLACE_CODE, |t: &str| {
            BirthPlaceCode::parse(t)
            .map_err(|_| format!(
                "« {t} » : code INSEE de 5 caractères attendu (commune, ou 99 et 3 chiffres pour un pays)"
            ))
        });
        let ine = optional!(INE, |t: &str| Ine::parse(t)
            .map_err(|_| "INE invalide : 11 lettres et chiffres attendus".to_owned()));
        let kind = required!(KIND, |t: &str| t.parse::<DiplomaKind>().map_err(
            |_| format!("« {t} » : code de diplôme inconnu (voir `sand diploma-kinds`)")
        ));
        let academie = required!(ACADEMIE, |t: &str| Academie::from_code(t).map_err(
            |_| format!("« {t} » : code d'académie inconnu (voir `sand academies`)")
        ));
        let session = required!(SESSION, |t: &str| t.parse::<Session>().map_err(
            |e| match e {
                SessionError::NotAYear => format!("« {t} » : une année est attendue"),
                SessionError::TooEarly => format!(
                    "session {t} : antérieure à {FIRST_SESSION}, non couverte par le service"
                ),
                SessionError::TooLate => format!("session {t} : trop lointaine"),
            }
        ));
        let speciality = optional!(SPECIALITY, |t: &str| Speciality::parse(t)
            .map_err(|e| format!("spécialité invalide ({})", speciality_reason(&e))));
        let mention = optional!(MENTION, |t: &str| t
            .parse::<Mention>()
            .map_err(|_| format!("« {t} » : mention P, AB, B, TB, TBF ou vide attendue")));
        let deliberation = required!(DELIBERATION, |t: &str| parse_date(t).and_then(
            |(y, m, d)| {
                let month = time::Month::try_from(m).map_err(|_| "date inexistante".to_owned())?;
                Date::from_calendar_date(y, month, d).map_err(|_| "date inexistante".to_owned())
            }
        ));

        match (
            candidate,
            civility,
            birth_name,
            usage_name,
            first_names,
            birth_date,
            birth_place,
            ine,
            kind,
            academie,
            session,
            speciality,
            mention,
            deliberation,
            birth_place_code,
        ) {
            (
                Some(candidate_number),
                Ok(civility),
                Some(birth_name),
                Ok(usage_name),
                Some(first_names),
                Some(birth_date),
                Ok(birth_place),
                Ok(ine),
                Some(kind),
                Some(academie),
                Some(session),
                Ok(speciality),
                Ok(mention),
                Some(deliberation_date),
                Ok(birth_place_code),
            ) if problems.is_empty() => Ok(NewRecord {
                line,
                candidate_number,
                scope: DiplomaScope {
                    kind,
                    session,
                    academie,
                },
                holder: RecordHolder {
                    civility,
                    identity: Identity {
                        birth_name,
                        first_names,
                        birth_date,
                        birth_place,
                        birth_place_code,
                    },
                    usage_name,
                    ine,
                },
                award: Award {
                    speciality,
                    mention,
                    deliberation_date,
                },
            }),
            _ => Err(problems),
        }
    }
}

/// Whether `text` holds a control character other than the tab (Unicode's `Cc`:
/// U+0000–U+001F, U+007F–U+009F), read off its UTF-8 bytes: a C1 control is encoded
/// `C2 80`–`C2 9F`, and no other character's encoding holds a byte `C2` followed by one
/// of those (a continuation byte never starts a character).
fn has_control_character(text: &str) -> bool {
    let bytes = text.as_bytes();
    // the usual text has none of the bytes that may start one
    if !bytes.iter().any(|&b| b < 0x20 || b == 0x7f || b == 0xc2) {
        return false;
    }
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\t' => false,
        0x00..=0x1f | 0x7f => true,
        0xc2 => bytes
            .get(i + 1)
            .is_some_and(|next| (0x80..=0x9f).contains(next)),
        _ => false,
    })
}

/// `YYYY-MM-DD` or `DD/MM/YYYY`, exactly (the domain's one date reader).
fn parse_date(text: &str) -> Result<(i32, u8, u8), String> {
    read_date(text, DateWriting::Exact)
        .ok_or_else(|| format!("« {text} » : date AAAA-MM-JJ ou JJ/MM/AAAA attendue"))
}

fn name_reason(e: NameError) -> String {
    match e {
        NameError::Empty => "nom vide".into(),
        NameError::TooLong { max } => format!("nom de plus de {max} caractères"),
        NameError::ForbiddenCharacter(c) => format!("caractère interdit dans un nom : « {c} »"),
        NameError::NoLetter => "nom sans lettre".into(),
    }
}

// The domain's errors display in English (for logs): the operator's report says them in
// French.
fn candidate_reason(e: &CandidateNumberError) -> String {
    match e {
        CandidateNumberError::Empty => "numéro vide".into(),
        CandidateNumberError::TooLong => format!("plus de {MAX_CANDIDATE_NUMBER_CHARS} caractères"),
        CandidateNumberError::InvalidCharacter => {
            "seuls les lettres, les chiffres et les tirets sont admis".into()
        }
    }
}

fn place_reason(e: &BirthPlaceError) -> String {
    match e {
        BirthPlaceError::Empty => "lieu vide".into(),
        BirthPlaceError::TooLong { max } => format!("plus de {max} caractères"),
        BirthPlaceError::ControlCharacter => "caractère de contrôle".into(),
    }
}

fn speciality_reason(e: &SpecialityError) -> String {
    match e {
        SpecialityError::Empty => "spécialité vide".into(),
        SpecialityError::TooLong { max } => format!("plus de {max} caractères"),
        SpecialityError::ControlCharacter => "caractère de contrôle".into(),
    }
}

fn first_names_reason(e: FirstNamesError) -> String {
    match e {
        FirstNamesError::Missing => "au moins un prénom est requis".into(),
        FirstNamesError::TooMany { max } => format!("plus de {max} prénoms"),
        FirstNamesError::Invalid { position, source } => {
            format!("prénom n° {position} : {}", name_reason(source))
        }
    }
}

fn birth_date_reason(e: BirthDateError) -> String {
    match e {
        BirthDateError::NotACalendarDate => "date inexistante".into(),
        BirthDateError::Unreadable => "date illisible".into(),
        BirthDateError::TooEarly => "date de naissance antérieure à 1900".into(),
        BirthDateError::InTheFuture => "date de naissance postérieure à l'export".into(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What the guard must find, byte by byte: the first null byte or the first byte
    /// past [`MAX_LINE_BYTES`] on a line stops it; else the lines it saw.
    fn guard_by_hand(bytes: &[u8]) -> Result<u64, (&'static str, u64)> {
        let (mut line, mut since_newline) = (1u64, 0usize);
        for &b in bytes {
            match b {
                b'\n' => {
                    since_newline = 0;
                    line += 1;
                }
                0 => return Err(("binary", line)),
                _ => {
                    since_newline += 1;
                    if since_newline > MAX_LINE_BYTES {
                        return Err(("too long", line));
                    }
                }
            }
        }
        Ok(line)
    }

    /// A source that hands out at most `step` bytes a read.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn guard_reading(bytes: &[u8], step: usize) -> Result<u64, (&'static str, u64)> {
        let mut guard = Guard {
            inner: Trickle { bytes, step },
            since_newline: 0,
            line: 1,
            bytes: 0,
        };
        let mut buf = vec![0u8; 8192];
        loop {
            match guard.read(&mut buf) {
                Ok(0) => return Ok(guard.line),
                Ok(_) => {}
                Err(e) => {
                    let kind = match e.get_ref().and_then(|e| e.downcast_ref::<GuardError>()) {
                        Some(GuardError::Binary) => "binary",
                        Some(GuardError::LineTooLong) => "too long",
                        None => "other",
                    };
                    return Err((kind, guard.line));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn the_guard_stops_where_a_byte_by_byte_reading_would(
            pieces in prop::collection::vec((0usize..3, 0usize..(MAX_LINE_BYTES + 2)), 0..6),
            step in 1usize..20_000,
        ) {
            let mut bytes = Vec::new();
            for (kind, run) in pieces {
                match kind {
                    0 => bytes.extend(std::iter::repeat_n(b'a', run)),
                    1 => bytes.extend(std::iter::repeat_n(b'\n', run % 4)),
                    _ => bytes.push(if run % 7 == 0 { 0 } else { b'\n' }),
                }
            }
            let by_hand = guard_by_hand(&bytes);
            let read = guard_reading(&bytes, step);
            prop_assert_eq!(read.map_err(|e| e.0), by_hand.map_err(|e| e.0));
            if let (Err((_, at)), Err((_, expected))) = (guard_reading(&bytes, step), by_hand) {
                prop_assert_eq!(at, expected);
            }
        }
    }

    #[test]
    fn control_characters_are_found_in_the_bytes_as_unicode_finds_them() {
        let samples = (0u32..0x800)
            .chain(0xfff0..0x1_0010)
            .filter_map(char::from_u32);
        for c in samples {
            for text in [format!("{c}"), format!("a{c}b"), format!("é{c}")] {
                assert_eq!(
                    has_control_character(&text),
                    text.chars().any(|c| c.is_control() && c != '\t'),
                    "U+{:04X}",
                    u32::from(c)
                );
            }
        }
    }
}
