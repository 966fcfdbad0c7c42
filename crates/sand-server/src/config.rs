//! Layered configuration of `sand serve` (and `sand config check`): built-in defaults <
//! a TOML file < `SAND_*` environment variables < command-line options.
//!
//! The file's keys are the long option names of `sand serve` with underscores
//! (`smtp_host = "relay.example.fr"`). It is applied by turning each key into the
//! option's default before the command line is parsed, so that clap's own precedence
//! (command line, then environment, then default) gives the layering, and every value,
//! wherever it comes from, goes through the same parser. An unknown key, a value of the
//! wrong type and a file holding secrets that others may read are errors.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "SAND_CONFIG";
/// The subcommands that read the configuration file.
const CONFIGURED: [&str; 2] = ["serve", "config"];
/// Options never printed: their values are secrets.
const SECRET_KEYS: [&str; 5] = [
    "secret",
    "smtp_password",
    "franceconnect_client_secret",
    "proconnect_client_secret",
    "signing_key",
];
/// Options whose URL may carry a password, hidden when printed.
fn carries_password(id: &str) -> bool {
    matches!(
        id,
        "database_url" | "database_read_url" | "staff_database_url" | "rate_limit_store_url"
    )
}
/// A configuration file is a few hundred bytes; anything this large is a mistake.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// A secret of the configuration (the server secret, a password, a client secret, the
/// signing key): its `Debug` shows only that it is there, so that printing the
/// configuration, or an error holding it, never shows the value. Read it with
/// [`Secret::expose`] where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that uses it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// A database URL: its `Debug` hides the password it may carry
/// (`postgres://sand:********@db/sand`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The whole URL, password included, for connecting.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// From a URL read elsewhere (an environment variable).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// Whether it names an embedded SQLite database.
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.0.trim_start().starts_with("sqlite:")
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", mask_url(&self.0))
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("impossible de lire le fichier de configuration {path} : {error}")]
    Read { path: String, error: io::Error },
    #[error("fichier de configuration {path} : {message}")]
    Invalid { path: String, message: String },
    /// A secret given as a command-line argument, which every user of the machine can
    /// read (`ps`, `/proc/PID/cmdline`) and which shells keep in their history.
    #[error(
        "l'option {option} est refusée en ligne de commande (tout utilisateur de la machine peut l'y lire) : {instead}"
    )]
    SecretOnCommandLine { option: String, instead: String },
}

/// Refuses secrets given on the command line, in `matches` and its subcommands: the
/// server secret, passwords, client secrets, the signing key, and a database URL that
/// carries a password. Each has an environment variable and a file form.
///
/// # Errors
/// [`ConfigError::SecretOnCommandLine`].
pub fn refuse_secrets_on_command_line(
    command: &Command,
    matches: &ArgMatches,
) -> Result<(), ConfigError> {
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let option = format!("--{}", arg.get_long().unwrap_or(id));
        let env = arg
            .get_env()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        if SECRET_KEYS.contains(&id) {
            return Err(ConfigError::SecretOnCommandLine {
                option,
                instead: format!(
                    "définissez {env}, ou désignez un fichier qui le contient (la variante -file de l'option, ou le fichier de configuration, mode 600)"
                ),
            });
        }
        let url = matches
            .get_raw(id)
            .and_then(|mut values| values.next())
            .map(|value| value.to_string_lossy().into_owned())
            .filter(|_| carries_password(id));
        if let Some(url) = url
            && mask_url(&url) != url
        {
            return Err(ConfigError::SecretOnCommandLine {
                option: format!("{option} avec un mot de passe"),
                instead: format!(
                    "définissez {env}, ou retirez le mot de passe de l'URL et donnez-le dans PGPASSWORD ou dans un fichier ~/.pgpass"
                ),
            });
        }
    }
    if let Some((name, sub_matches)) = matches.subcommand()
        && let Some(sub) = command.find_subcommand(name)
    {
        refuse_secrets_on_command_line(sub, sub_matches)?;
    }
    Ok(())
}

/// The values of a configuration file, as option name → textual values.
#[derive(Debug, Default)]
pub struct FileLayer {
    pub path: Option<PathBuf>,
    values: Vec<(String, Vec<String>)>,
}

impl FileLayer {
    /// Whether the file set this option (by its id, e.g. `smtp_host`).
    #[must_use]
    pub fn sets(&self, key: &str) -> bool {
        self.values.iter().any(|(k, _)| k == key)
    }

    /// Reads and checks the shape of a configuration file (the option names and value
    /// types are checked against the command in [`apply`]).
    ///
    /// # Errors
    /// Unreadable, too large, not TOML, nested tables, or secrets readable by others.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let metadata = std::fs::metadata(path).map_err(|error| ConfigError::Read {
            path: shown.clone(),
            error,
        })?;
        if metadata.len() > MAX_FILE_BYTES {
            return Err(invalid(format!("plus de {} Kio", MAX_FILE_BYTES / 1024)));
        }
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: shown.clone(),
            error,
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            invalid(e.to_string().trim_end().replace('\n', "\n    "))
        })?;
        let mut values = Vec::with_capacity(table.len());
        for (key, value) in table {
            let texts = match value {
                toml::Value::String(s) => vec![s],
                toml::Value::Integer(i) => vec![i.to_string()],
                toml::Value::Boolean(b) => vec![b.to_string()],
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|item| match item {
                        toml::Value::String(s) => Ok(s),
                        other => Err(invalid(format!(
                            "`{key}` : une liste de chaînes est attendue, et non {}",
                            french_type(&other)
                        ))),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(invalid(format!(
                        "`{key}` : une chaîne, un nombre, un booléen ou une liste est attendu, et non {}",
                        french_type(&other)
                    )));
                }
            };
            values.push((key, texts));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode();
            let secrets: Vec<&str> = SECRET_KEYS
                .iter()
                .copied()
                .filter(|k| values.iter().any(|(key, _)| key == k))
                .collect();
            if !secrets.is_empty() && mode & 0o007 != 0 {
                return Err(invalid(format!(
                    "contient des secrets ({}) et est lisible par les autres utilisateurs (mode {:o}) : faites chmod 640 ou 600",
                    secrets.join(", "),
                    mode & 0o777
                )));
            }
        }
        Ok(Self {
            path: Some(path.to_owned()),
            values,
        })
    }
}

/// A TOML value's type in French, with its article, for the messages.
fn french_type(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "une chaîne",
        toml::Value::Integer(_) => "un entier",
        toml::Value::Float(_) => "un nombre décimal",
        toml::Value::Boolean(_) => "un booléen",
        toml::Value::Datetime(_) => "une date",
        toml::Value::Array(_) => "une liste",
        toml::Value::Table(_) => "une table",
    }
}

/// The configuration file named by `--config FILE` (or `--config=FILE`) in the
/// arguments of a configured subcommand, else by `SAND_CONFIG`.
#[must_use]
pub fn file_named(args: &[OsString]) -> Option<PathBuf> {
    let subcommand = args.get(1).and_then(|a| a.to_str())?;
    if !CONFIGURED.contains(&subcommand) {
        return None;
    }
    let mut rest = args.iter().skip(2);
    while let Some(arg) = rest.next() {
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return rest.next().map(PathBuf::from);
        }
        if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Makes the file's values the defaults of `sand serve` and `sand config check`.
///
/// # Errors
/// An unknown key, or a value the option's parser refuses.
pub fn apply(command: Command, layer: &FileLayer) -> Result<Command, ConfigError> {
    let path = layer
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let invalid = |message: String| ConfigError::Invalid {
        path: path.clone(),
        message,
    };
    let Some(serve) = command.find_subcommand("serve") else {
        return Ok(command);
    };
    let serve = serve.clone();
    for (key, texts) in &layer.values {
        let arg = serve
            .get_arguments()
            .find(|a| a.get_id() == key.as_str() && a.get_long().is_some())
            .filter(|a| a.get_id() != "config");
        let Some(arg) = arg else {
            let known: Vec<&str> = serve
                .get_arguments()
                .filter(|a| a.get_long().is_some() && a.get_id() != "config")
                .map(|a| a.get_id().as_str())
                .collect();
            return Err(invalid(format!(
                "clé inconnue `{key}` (clés connues : {})",
                known.join(", ")
            )));
        };
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1)
            || arg.get_value_delimiter().is_some();
        if texts.len() != 1 && !many {
            return Err(invalid(format!(
                "`{key}` : une seule valeur est attendue, pas une liste"
            )));
        }
        let flag = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        for text in texts {
            if flag {
                if text != "true" && text != "false" {
                    return Err(invalid(format!("`{key}` : true ou false est attendu")));
                }
                continue;
            }
            // the option's own parser, as if the value had been given on the command line
            let long = arg.get_long().unwrap_or_default();
            let mut option = OsString::from(format!("--{long}="));
            option.push(text);
            serve
                .clone()
                .try_get_matches_from([OsString::from("serve"), option])
                .map_err(|e| {
                    let detail = e.to_string();
                    let detail = detail
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .trim_start_matches("error: ");
                    invalid(format!("`{key}` : valeur refusée ({detail})"))
                })?;
        }
    }
    let with_defaults = |mut sub: Command| {
        for (key, texts) in &layer.values {
            let texts = texts.clone();
            sub = sub.mut_arg(key.as_str(), move |arg| {
                arg.default_values(texts).required(false)
            });
        }
        sub
    };
    let command = command.mut_subcommand("serve", with_defaults);
    let command = command.mut_subcommand("config", |config| {
        config.mut_subcommand("check", with_defaults)
    });
    Ok(command)
}

/// Where an option's effective value came from.
fn source(matches: &ArgMatches, layer: &FileLayer, id: &str) -> String {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => "ligne de commande".to_owned(),
        Some(ValueSource::EnvVariable) => "environnement".to_owned(),
        Some(ValueSource::DefaultValue) if layer.sets(id) => "fichier".to_owned(),
        Some(ValueSource::DefaultValue) => "défaut".to_owned(),
        _ => String::new(),
    }
}

/// A database URL with its password hidden.
#[must_use]
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:********@{host}"),
        None => url.to_owned(),
    }
}

/// Prints every option of `sand serve` with its effective value and where it came
/// from; secrets show only whether they are set.
///
/// # Errors
/// Writing fails.
pub fn print_effective(
    serve: &Command,
    matches: &ArgMatches,
    layer: &FileLayer,
    out: &mut impl Write,
) -> io::Result<()> {
    match &layer.path {
        Some(path) => writeln!(out, "# fichier de configuration : {}", path.display())?,
        None => writeln!(
            out,
            "# aucun fichier de configuration ({CONFIG_ENV} ou --config)"
        )?,
    }
    let width = serve
        .get_arguments()
        .map(|a| a.get_id().as_str().len())
        .max()
        .unwrap_or(0);
    for arg in serve.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.get_long().is_none() || id == "config" {
            continue;
        }
        let raw: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let shown = if raw.is_empty() || (raw.len() == 1 && raw[0].is_empty()) {
            "(non défini)".to_owned()
        } else if SECRET_KEYS.contains(&id) {
            "******** (défini)".to_owned()
        } else if carries_password(id) {
            mask_url(&raw.join(","))
        } else {
            raw.join(",")
        };
        let origin = [
            source(matches, layer, id),
            arg.get_env()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
        writeln!(out, "{id:<width$} = {shown}   # {origin}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_configuration_s_debug_output_holds_no_secret() {
        #[derive(clap::Parser, Debug)]
        struct Sand {
            #[command(flatten)]
            serve: crate::serve::ServeArgs,
        }
        let secrets = [
            "le-secret-du-serveur-0123456789abcdef",
            "mot-de-passe-smtp",
            "secret-client-franceconnect",
            "-----BEGIN PRIVATE KEY-----cle",
            "mot-de-passe-postgres",
            "secret-client-proconnect",
        ];
        let parsed = <Sand as clap::Parser>::try_parse_from([
            "sand",
            "--secret",
            secrets[0],
            "--smtp-user",
            "sand",
            "--smtp-password",
            secrets[1],
            "--franceconnect-client-secret",
            secrets[2],
            &format!("--signing-key={}", secrets[3]),
            "--database-url",
            &format!("postgres://sand:{}@db.interne/sand", secrets[4]),
            "--proconnect-client-secret",
            secrets[5],
        ])
        .unwrap();
        let printed = format!("{parsed:?}");
        for secret in secrets {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("Secret(********)"), "{printed}");
        assert!(
            printed.contains("postgres://sand:********@db.interne/sand"),
            "{printed}"
        );
        // the values are there for the code that uses them
        assert_eq!(
            parsed.serve.secret.as_ref().map(Secret::expose),
            Some(secrets[0])
        );
    }

    #[test]
    fn passwords_in_database_urls_are_hidden() {
        assert_eq!(
            mask_url("postgres://sand_web:s3cret@db.internal:5432/sand"),
            "postgres://sand_web:********@db.internal:5432/sand"
        );
        assert_eq!(
            mask_url("postgres://sand_web@db/sand"),
            "postgres://sand_web@db/sand"
        );
        assert_eq!(mask_url("sqlite://data/sand.db"), "sqlite://data/sand.db");
        assert_eq!(
            mask_url("postgres://u:p@ss@host/db"),
            "postgres://u:********@host/db"
        );
    }

    #[test]
    fn the_file_is_found_only_for_the_commands_that_read_it() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            file_named(&args(&["sand", "serve", "--config", "a.toml"])),
            Some(PathBuf::from("a.toml"))
        );
        assert_eq!(
            file_named(&args(&["sand", "config", "check", "--config=b.toml"])),
            Some(PathBuf::from("b.toml"))
        );
        assert_eq!(
            file_named(&args(&["sand", "academies", "--config", "a.toml"])),
            None
        );
    }
}
