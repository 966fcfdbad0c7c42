//! `sand serve`: the web service, composed from the storage, attestation, mail and
//! FranceConnect adapters.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use poem::listener::{Acceptor, Listener, TcpListener};
use sand_attestation::{PdfAttestationRenderer, SigningKeys, VerificationKeys};
use sand_domain::ports::MailQueue;
use sand_http::timeouts::{ConnectionTimeouts, GuardedAcceptor};
use sand_http::{AppState, DemoPerson, WebSettings};
use sand_mail::{
    MailSettings, MailTransport, OutboxSender, Security, SenderSettings, TransportConfig,
};
use sand_persistence::keys::KeyProtector;
use sand_persistence::replica::{ReplicaRouting, ReplicaSettings};
use sand_persistence::{DatabaseRoles, Store, StoreSettings};
use tokio::sync::watch;

use crate::attestation::{SigningArgs, key_message, render_message};
use crate::one_way::{self, Deployment};

/// How long a mail that could not be delivered is kept (with its address) for the
/// operator to look into.
const ABANDONED_MAIL_KEPT: time::Duration = time::Duration::days(30);

/// Where the demo site keeps its generated server secret.
pub(crate) const DEMO_SECRET_FILE: &str = "data/secret.key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpSecurity {
    #[value(help = "STARTTLS, obligatoire (port 587)")]
    Starttls,
    #[value(help = "TLS dès le premier octet (port 465)")]
    Tls,
    #[value(help = "Aucun chiffrement : uniquement pour un relais sur la même machine")]
    None,
}

/// The conformance status of the accessibility statement (RGAA).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AccessibilityStatus {
    #[value(help = "Un audit a établi que tous les critères applicables sont respectés")]
    Totalement,
    #[value(
        help = "Tous les critères ne sont pas respectés, ou aucun audit n'a établi le contraire"
    )]
    Partiellement,
    #[value(help = "Moins de la moitié des critères sont respectés")]
    Non,
}

// The options of `sand serve` (and `sand config check`); their help is user-facing, hence
// in French.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(
        long,
        env = crate::config::CONFIG_ENV,
        value_name = "FILE",
        help = "Fichier de configuration TOML dont les clés sont les noms longs de ces options, \
                avec des tirets bas (`smtp_host = \"relay.example.fr\"`) ; l'environnement et la \
                ligne de commande l'emportent sur lui. Voir `sand config check`"
    )]
    pub config: Option<PathBuf>,
    #[arg(
        long,
        env = "SAND_LISTEN",
        default_value = "127.0.0.1:8080",
        help = "Adresse et port d'écoute (le port 0 en choisit un libre, affiché au démarrage)"
    )]
    pub listen: String,
    #[arg(
        long,
        env = "SAND_DATABASE_URL",
        default_value = crate::DEFAULT_DATABASE_URL,
        hide_env_values = true,
        help = "URL de la base de données : sqlite://CHEMIN ou postgres://UTILISATEUR@HÔTE/BASE \
                (le rôle web)"
    )]
    pub database_url: crate::config::DatabaseUrl,
    #[arg(
        long,
        env = "SAND_DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=1000),
        help = "Connexions au plus dans le pool de la base de données du site (1 à 1000) ; \
                sur PostgreSQL, à garder sous max_connections du serveur, tous nœuds compris"
    )]
    pub database_max_connections: u32,
    #[arg(
        long,
        env = "SAND_DATABASE_READ_URL",
        hide_env_values = true,
        help = "URL d'une réplique PostgreSQL en flux (postgres://…, le rôle web) : le catalogue \
                et la recherche des diplômes à rattacher y sont lus tant que son retard reste \
                sous --database-read-max-lag ; tout le reste (écritures, sessions, \
                vérifications) va au primaire"
    )]
    pub database_read_url: Option<crate::config::DatabaseUrl>,
    #[arg(
        long,
        env = "SAND_DATABASE_READ_MAX_LAG_MS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        help = "Retard de la réplique (en millisecondes) au-delà duquel ses lectures vont au \
                primaire ; mesuré toutes les --database-read-check-ms"
    )]
    pub database_read_max_lag_ms: u64,
    #[arg(
        long,
        env = "SAND_DATABASE_READ_CHECK_MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(10..=60_000),
        help = "Intervalle (en millisecondes) entre deux mesures du retard de la réplique"
    )]
    pub database_read_check_ms: u64,
    #[arg(
        long,
        env = "SAND_RATE_LIMIT_STORE_URL",
        hide_env_values = true,
        help = "Magasin Redis ou Valkey (redis://HÔTE:PORT/BASE) où tous les nœuds comptent \
                les limites de débit ensemble ; sans lui, chaque nœud compte les siennes. S'il \
                ne répond plus, le nœud compte seul, l'annonce et continue de servir"
    )]
    pub rate_limit_store_url: Option<String>,
    #[arg(
        long,
        env = "SAND_PUBLIC_URL",
        help = "L'adresse à laquelle les usagers accèdent au service, pour les liens des e-mails \
                et les QR codes (par défaut : http://localhost:PORT). Une adresse https:// active \
                les cookies Secure et HSTS"
    )]
    pub public_url: Option<String>,
    #[arg(
        long,
        env = "SAND_OPERATOR_NAME",
        default_value = "SAND — démonstration",
        help = "Le nom de l'opérateur, sur chaque page et sur chaque attestation"
    )]
    pub operator: String,
    #[arg(
        long,
        env = "SAND_DEMO",
        help = "Site de démonstration (« miroir ») : données fictives, un bandeau sur chaque \
                page, la clé de signature publique de démonstration autorisée, SQLite autorisé"
    )]
    pub demo: bool,
    #[arg(
        long,
        env = "SAND_SINGLE_USER",
        help = "Hors mode démonstration, accepte une base de données qui ne peut pas empêcher le \
                serveur web d'écrire les enregistrements de diplômes (SQLite) : un déploiement \
                mono-utilisateur"
    )]
    pub single_user: bool,
    #[arg(
        long,
        env = "SAND_SECRET_FILE",
        help = "Fichier contenant le secret du serveur (32 octets ou plus), qui protège les clés \
                de contrôle au repos et signe les liens et les jetons"
    )]
    pub secret_file: Option<PathBuf>,
    #[arg(
        long,
        env = "SAND_SECRET",
        hide_env_values = true,
        conflicts_with = "secret_file",
        help = "Le secret du serveur lui-même, uniquement par l'environnement ou le fichier de \
                configuration (refusé en ligne de commande, où tout utilisateur de la machine peut \
                le lire). Jamais affiché"
    )]
    pub secret: Option<crate::config::Secret>,
    #[command(flatten)]
    pub signing: SigningArgs,
    #[arg(
        long = "public-key",
        env = "SAND_VERIFICATION_KEY_FILES",
        value_delimiter = ',',
        help = "Clés publiques précédentes dont les attestations restent vérifiables (fichiers \
                PEM, séparés par des virgules)"
    )]
    pub public_keys: Vec<PathBuf>,
    #[arg(
        long,
        env = "SAND_CREDENTIAL_KEY_FILE",
        help = "La clé ES256 (P-256, PEM PKCS#8 lisible par son seul propriétaire) qui signe les \
                listes de statut des justificatifs de portefeuille ; sans elle, ces adresses \
                répondent 404 (en démonstration : une clé publique de démonstration). Créez-la \
                avec `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out FICHIER`"
    )]
    pub credential_key_file: Option<PathBuf>,
    #[arg(
        long,
        env = "SAND_MAIL_DIR",
        default_value = "data/mail",
        help = "Écrit les e-mails sous forme de fichiers .eml dans ce dossier (par défaut quand \
                aucun relais SMTP n'est défini)"
    )]
    pub mail_dir: PathBuf,
    #[arg(
        long,
        env = "SAND_SMTP_HOST",
        help = "Hôte du relais SMTP ; les e-mails y sont envoyés au lieu d'être écrits dans le \
                dossier"
    )]
    pub smtp_host: Option<String>,
    #[arg(
        long,
        env = "SAND_SMTP_PORT",
        default_value_t = 587,
        help = "Port du relais SMTP"
    )]
    pub smtp_port: u16,
    #[arg(
        long,
        env = "SAND_SMTP_SECURITY",
        value_enum,
        default_value_t = SmtpSecurity::Starttls,
        help = "Chiffrement de la connexion au relais SMTP"
    )]
    pub smtp_security: SmtpSecurity,
    #[arg(
        long,
        env = "SAND_SMTP_USER",
        help = "Utilisateur pour s'authentifier auprès du relais SMTP (avec SAND_SMTP_PASSWORD)"
    )]
    pub smtp_user: Option<String>,
    #[arg(
        long,
        env = "SAND_SMTP_PASSWORD",
        hide_env_values = true,
        help = "Mot de passe du relais SMTP, uniquement par l'environnement ou le fichier de \
                configuration. Jamais affiché"
    )]
    pub smtp_password: Option<crate::config::Secret>,
    #[arg(
        long,
        env = "SAND_SMTP_CA_FILE",
        value_name = "FILE",
        help = "Une autorité de certification (fichier PEM) à reconnaître pour le relais, en \
                plus des autorités publiques"
    )]
    pub smtp_ca_file: Option<PathBuf>,
    #[arg(
        long,
        env = "SAND_MAIL_FROM",
        default_value = "SAND <ne-pas-repondre@localhost>",
        help = "Expéditeur de tous les e-mails"
    )]
    pub mail_from: String,
    #[arg(
        long,
        env = "SAND_FRANCECONNECT_ISSUER",
        help = "Émetteur FranceConnect, par exemple https://oidc.franceconnect.gouv.fr/api/v2 \
                (le bouton n'apparaît que si l'émetteur, l'identifiant client et le secret client \
                sont tous définis)"
    )]
    pub franceconnect_issuer: Option<String>,
    #[arg(
        long,
        env = "SAND_FRANCECONNECT_CLIENT_ID",
        help = "Identifiant client attribué par FranceConnect"
    )]
    pub franceconnect_client_id: Option<String>,
    #[arg(
        long,
        env = "SAND_FRANCECONNECT_CLIENT_SECRET",
        hide_env_values = true,
        help = "Secret client FranceConnect, uniquement par l'environnement ou le fichier de \
                configuration. Jamais affiché"
    )]
    pub franceconnect_client_secret: Option<crate::config::Secret>,
    #[arg(
        long,
        env = "SAND_ISSUERS_FILE",
        help = "Registre des émetteurs de l'exploitant, posé sur le registre livré : émetteurs \
                ajoutés ou remplacés (`[[issuer]]`) et coordonnées des services des examens \
                (`[contact.\"10\"]` service, address, email, phone, web) ; voir \
                docs/examples/issuers.toml et `sand issuers list`"
    )]
    pub issuers_file: Option<PathBuf>,
    /// Replaced by `--issuers-file`: refused with the way to migrate.
    #[arg(long, env = "SAND_EXAM_OFFICES_FILE", hide = true)]
    pub exam_offices_file: Option<PathBuf>,
    #[arg(
        long,
        env = "SAND_ALLOW_PLAIN_HTTP",
        help = "Hors mode démonstration, accepte une adresse publique en http:// simple (cookies \
                sans `Secure`, pas de HSTS) : un déploiement délibérément non chiffré, signalé à \
                chaque démarrage"
    )]
    pub allow_plain_http: bool,
    #[arg(
        long,
        env = "SAND_ALLOW_UNVERIFIED_DATABASE_TLS",
        help = "Hors mode démonstration, accepte un serveur PostgreSQL situé sur une autre \
                machine sans vérification de son certificat (l'URL ne contient ni \
                `sslmode=verify-full` ni `verify-ca`) : signalé à chaque démarrage"
    )]
    pub allow_unverified_database_tls: bool,
    #[arg(
        long,
        env = "SAND_ALLOW_PLAIN_SMTP",
        help = "Hors mode démonstration, accepte `--smtp-security none` vers un relais situé sur \
                une autre machine (les e-mails, leurs liens et l'éventuel mot de passe SMTP \
                circulent en clair sur le réseau) : signalé à chaque démarrage"
    )]
    pub allow_plain_smtp: bool,
    #[arg(
        long,
        env = "SAND_MAIL_TO_FILES",
        help = "Hors mode démonstration et sans relais SMTP, écrit les e-mails (liens de \
                confirmation et de réinitialisation compris) sous forme de fichiers dans \
                SAND_MAIL_DIR : signalé à chaque démarrage"
    )]
    pub mail_to_files: bool,
    #[arg(
        long,
        env = "SAND_TRUST_FORWARDED_FOR",
        help = "Prend les adresses des clients dans X-Forwarded-For (uniquement derrière un \
                proxy inverse de confiance)"
    )]
    pub trust_forwarded_for: bool,
    #[arg(
        long,
        env = "SAND_LIMIT_VERIFICATIONS_PER_MINUTE",
        default_value_t = 30,
        help = "Vérifications par adresse de client et par minute"
    )]
    pub verifications_per_minute: u32,
    #[arg(
        long,
        env = "SAND_LIMIT_SHARE_OPENINGS_PER_MINUTE",
        default_value_t = 30,
        help = "Ouvertures de liens de partage par adresse de client et par minute"
    )]
    pub share_openings_per_minute: u32,
    #[arg(
        long,
        env = "SAND_LIMIT_WRONG_ANSWERS_PER_KEY_PER_CLIENT",
        default_value_t = 5,
        help = "Mauvaises réponses (clé inconnue, nom ou date de naissance erronés) qu'un même \
                client peut recevoir pour une même clé de contrôle, par jour"
    )]
    pub wrong_answers_per_key_per_client: u32,
    #[arg(
        long,
        env = "SAND_LIMIT_WRONG_ANSWERS_PER_KEY",
        default_value_t = 50,
        help = "Mauvaises réponses pour une même clé de contrôle par jour, tous clients \
                confondus, au-delà desquelles sa vérification exige aussi la date de naissance du \
                titulaire pour la journée (et son titulaire en est averti)"
    )]
    pub wrong_answers_per_key: u32,
    #[arg(
        long,
        env = "SAND_LIMIT_FILE_CHECKS_PER_MINUTE",
        default_value_t = 10,
        help = "Contrôles de fichiers d'attestation par adresse de client et par minute"
    )]
    pub file_checks_per_minute: u32,
    #[arg(
        long,
        env = "SAND_METRICS_LISTEN",
        value_name = "ADDRESS",
        help = "Sert les métriques Prometheus sur http://ADDRESS/metrics, à cette adresse \
                distincte (à garder privée : par exemple 127.0.0.1:9464). Désactivé si non défini"
    )]
    pub metrics_listen: Option<String>,
    #[arg(
        long,
        env = "SAND_STAFF_LISTEN",
        value_name = "ADDRESS",
        help = "Sert l'espace agents (assistance, services des examens) à cette adresse \
                distincte, à garder privée (réseau interne, VPN). Désactivé si non défini ; en \
                démonstration, le port qui suit celui du site"
    )]
    pub staff_listen: Option<String>,
    #[arg(
        long,
        env = "SAND_STAFF_DATABASE_URL",
        hide_env_values = true,
        help = "URL de la base de données de l'espace agents, avec un utilisateur du rôle \
                PostgreSQL de l'espace agents (`sand migrate --backoffice-role`) ; obligatoire \
                avec PostgreSQL, la base du site par défaut avec SQLite"
    )]
    pub staff_database_url: Option<crate::config::DatabaseUrl>,
    #[arg(
        long,
        env = "SAND_STAFF_PUBLIC_URL",
        value_name = "URL",
        help = "Adresse de l'espace agents telle que les navigateurs des agents l'atteignent                 (https://agents.exemple.gouv.fr), pour les retours de ProConnect ; par défaut                 http:// suivi de l'adresse d'écoute de l'espace agents"
    )]
    pub staff_public_url: Option<String>,
    #[arg(
        long,
        env = "SAND_PROCONNECT_ISSUER",
        help = "Émetteur ProConnect de l'espace agents, par exemple                 https://auth.agentconnect.gouv.fr/api/v2 (le bouton n'apparaît que si                 l'émetteur, l'identifiant client et le secret client sont tous définis) ;                 retour à enregistrer chez ProConnect : SAND_STAFF_PUBLIC_URL/proconnect/retour,                 après déconnexion : SAND_STAFF_PUBLIC_URL/proconnect/deconnexion"
    )]
    pub proconnect_issuer: Option<String>,
    #[arg(
        long,
        env = "SAND_PROCONNECT_CLIENT_ID",
        help = "Identifiant client attribué par ProConnect"
    )]
    pub proconnect_client_id: Option<String>,
    #[arg(
        long,
        env = "SAND_PROCONNECT_CLIENT_SECRET",
        hide_env_values = true,
        help = "Secret client ProConnect, uniquement par l'environnement ou le fichier de                 configuration. Jamais affiché"
    )]
    pub proconnect_client_secret: Option<crate::config::Secret>,
    #[arg(
        long,
        env = "SAND_PROCONNECT_SECOND_FACTOR_OPTIONAL",
        help = "Environnements de test seulement : admet sans second facteur (`amr`) une                 connexion ProConnect d'un rôle qui voit des données personnelles (niveau 2,                 administrateur, auditeur) ; signalé à chaque démarrage"
    )]
    pub proconnect_second_factor_optional: bool,
    #[arg(
        long,
        env = "SAND_READY_JSON",
        help = "Une fois à l'écoute, écrit aussi une ligne JSON sur la sortie standard pour le \
                programme qui a démarré le service (les adresses réellement utilisées, par \
                exemple avec le port 0) : \
                `{\"event\":\"ready\",\"listen\":\"127.0.0.1:PORT\",\"public_url\":\"…\",\"metrics_listen\":null,\"staff_listen\":null}`"
    )]
    pub ready_json: bool,
    #[arg(
        long,
        env = "SAND_ACCESSIBILITY_STATUS",
        value_enum,
        default_value_t = AccessibilityStatus::Partiellement,
        help = "Déclaration d'accessibilité : l'état de conformité établi par un audit"
    )]
    pub accessibility_status: AccessibilityStatus,
    #[arg(
        long,
        env = "SAND_ACCESSIBILITY_CONTACT",
        help = "Déclaration d'accessibilité : comment signaler une difficulté (une adresse \
                e-mail ou une adresse https://)"
    )]
    pub accessibility_contact: Option<String>,
    #[arg(
        long,
        env = "SAND_ACCESSIBILITY_AUDIT",
        help = "Déclaration d'accessibilité : le dernier audit (qui, quand, ce qu'il a constaté), \
                en une phrase"
    )]
    pub accessibility_audit: Option<String>,
    #[arg(
        long,
        env = "SAND_ACCESSIBILITY_PLAN",
        help = "Déclaration d'accessibilité : l'adresse du schéma pluriannuel de mise en \
                accessibilité (https://)"
    )]
    pub accessibility_plan: Option<String>,
    #[arg(long, env = "SAND_HEADER_TIMEOUT", default_value_t = 10, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600),
          help = "Secondes accordées à une requête pour envoyer ses en-têtes, à partir de son \
                  premier octet")]
    pub header_timeout: u64,
    #[arg(long, env = "SAND_REQUEST_TIMEOUT", default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600),
          help = "Secondes accordées à une requête entre son premier octet et sa réponse (corps \
                  compris : un corps envoyé quelques octets à la fois est interrompu)")]
    pub request_timeout: u64,
    #[arg(long, env = "SAND_IDLE_TIMEOUT", default_value_t = 60, value_name = "SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=3600),
          help = "Secondes pendant lesquelles une connexion maintenue ouverte (keep-alive) peut \
                  rester sans requête en cours")]
    pub idle_timeout: u64,
}

/// Why the service did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("configuration : {0}")]
    Config(String),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] sand_persistence::StoreError),
    #[error(transparent)]
    Refused(#[from] one_way::OneWayError),
}

fn config(message: impl Into<String>) -> ServeError {
    ServeError::Config(message.into())
}

pub(crate) fn read_secret_file(path: &Path) -> Result<Vec<u8>, ServeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| {
                config(format!(
                    "impossible de lire le fichier du secret {} : {e}",
                    path.display()
                ))
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(config(format!(
                "le fichier du secret {} est lisible par d'autres utilisateurs (mode {:o}) : faites chmod 600",
                path.display(),
                mode & 0o777
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        config(format!(
            "impossible de lire le fichier du secret {} : {e}",
            path.display()
        ))
    })?;
    Ok(text.trim().as_bytes().to_vec())
}

/// The demo site's secret: generated once, kept in `data/secret.key` (mode 600).
fn demo_secret() -> Result<Vec<u8>, ServeError> {
    let path = Path::new(DEMO_SECRET_FILE);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let secret = sand_http::system::random_token();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        writeln!(file, "{secret}")?;
    }
    read_secret_file(path)
}

fn load_secret(args: &ServeArgs) -> Result<Vec<u8>, ServeError> {
    let secret = match (&args.secret_file, &args.secret) {
        (Some(path), _) => read_secret_file(path)?,
        (None, Some(text)) => text.expose().trim().as_bytes().to_vec(),
        (None, None) if args.demo => demo_secret()?,
        (None, None) => {
            return Err(config(
                "aucun secret du serveur : définissez SAND_SECRET_FILE (un fichier de 32 octets ou plus, mode 600), ou lancez avec --demo",
            ));
        }
    };
    if secret.len() < sand_persistence::keys::MIN_SECRET_BYTES {
        return Err(config(
            "le secret du serveur doit compter au moins 32 octets",
        ));
    }
    Ok(secret)
}

fn transport(args: &ServeArgs) -> Result<MailTransport, ServeError> {
    let config_ = match &args.smtp_host {
        Some(host) => TransportConfig::Smtp {
            host: host.clone(),
            port: args.smtp_port,
            security: match args.smtp_security {
                SmtpSecurity::Starttls => Security::StartTls,
                SmtpSecurity::Tls => Security::Tls,
                SmtpSecurity::None => Security::None,
            },
            credentials: match (&args.smtp_user, &args.smtp_password) {
                (Some(user), Some(password)) => Some((user.clone(), password.expose().to_owned())),
                (None, None) => None,
                _ => {
                    return Err(config(
                        "définissez à la fois SAND_SMTP_USER et SAND_SMTP_PASSWORD, ou aucun des deux",
                    ));
                }
            },
            extra_root_certificate: match &args.smtp_ca_file {
                Some(path) => {
                    Some(std::fs::read(path).map_err(|e| {
                        config(format!("SAND_SMTP_CA_FILE {} : {e}", path.display()))
                    })?)
                }
                None => None,
            },
            timeout: Duration::from_secs(30),
        },
        None => {
            std::fs::create_dir_all(&args.mail_dir)?;
            TransportConfig::Directory(args.mail_dir.clone())
        }
    };
    MailTransport::new(&config_).map_err(|e| config(format!("transport des e-mails : {e}")))
}

/// An OpenID Connect client's three settings as one, all or none: `None` when none is
/// set, the settings (with the redirect and post-logout URLs) when all are, else
/// `together` (the French refusal naming the three).
fn oidc_settings(
    (issuer, client_id, client_secret): (
        &Option<String>,
        &Option<String>,
        &Option<crate::config::Secret>,
    ),
    redirect_url: String,
    post_logout_redirect_url: String,
    together: &'static str,
) -> Result<Option<sand_franceconnect::OidcSettings>, ServeError> {
    match (issuer, client_id, client_secret) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(client_id), Some(client_secret)) => {
            Ok(Some(sand_franceconnect::OidcSettings {
                issuer: issuer.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.expose().to_owned(),
                redirect_url,
                post_logout_redirect_url,
                timeout: Duration::from_secs(10),
            }))
        }
        _ => Err(config(together)),
    }
}

/// ProConnect for the back office, when configured; `staff_url` is the back office's own
/// public address.
fn proconnect(
    args: &ServeArgs,
    staff_url: &str,
) -> Result<Option<Arc<dyn sand_domain::ports::AgentIdentityProvider>>, ServeError> {
    let Some(settings) = oidc_settings(
        (
            &args.proconnect_issuer,
            &args.proconnect_client_id,
            &args.proconnect_client_secret,
        ),
        format!("{staff_url}/proconnect/retour"),
        format!("{staff_url}/proconnect/deconnexion"),
        PROCONNECT_TOGETHER,
    )?
    else {
        return Ok(None);
    };
    let pc = sand_franceconnect::ProConnect::new(settings)
        .map_err(|e| config(format!("ProConnect : {e}")))?;
    Ok(Some(Arc::new(pc)))
}

const PROCONNECT_TOGETHER: &str = "ProConnect exige SAND_PROCONNECT_ISSUER, SAND_PROCONNECT_CLIENT_ID et SAND_PROCONNECT_CLIENT_SECRET ensemble";
const FRANCECONNECT_TOGETHER: &str = "FranceConnect exige SAND_FRANCECONNECT_ISSUER, SAND_FRANCECONNECT_CLIENT_ID et SAND_FRANCECONNECT_CLIENT_SECRET ensemble";

fn franceconnect(
    args: &ServeArgs,
    public_url: &str,
) -> Result<Option<Arc<dyn sand_domain::ports::IdentityProvider>>, ServeError> {
    let Some(settings) = oidc_settings(
        (
            &args.franceconnect_issuer,
            &args.franceconnect_client_id,
            &args.franceconnect_client_secret,
        ),
        format!("{public_url}/connexion/franceconnect/retour"),
        format!("{public_url}/"),
        FRANCECONNECT_TOGETHER,
    )?
    else {
        return Ok(None);
    };
    let fc = sand_franceconnect::FranceConnect::new(settings)
        .map_err(|e| config(format!("FranceConnect : {e}")))?;
    Ok(Some(Arc::new(fc)))
}

/// Whether `host` (of a URL) is this machine: loopback, or a Unix socket (empty host).
fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.is_empty()
        || host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host.starts_with("%2F")
        || host.starts_with("%2f")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host of a `postgres://user:password@host:port/db?query` URL, and its query.
fn postgres_host_and_query(url: &str) -> Option<(String, String)> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))?;
    let (authority_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority_and_path
        .split_once('/')
        .map_or(authority_and_path, |(a, _)| a);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']').map_or(bracketed, |(h, _)| h)
    } else {
        host_port.split_once(':').map_or(host_port, |(h, _)| h)
    };
    // `?host=/run/postgresql` names a socket whatever the authority says
    let socket = query
        .split('&')
        .any(|pair| pair.starts_with("host=/") || pair.starts_with("host=%2F"));
    Some((
        if socket {
            String::new()
        } else {
            host.to_owned()
        },
        query.to_owned(),
    ))
}

/// Outside demo mode, transport that would fail open is refused unless its named
/// override is set; returns what each override in use lets through, to say at start.
fn transport_overrides(args: &ServeArgs) -> Result<Vec<String>, ServeError> {
    if args.demo {
        return Ok(Vec::new());
    }
    let mut overrides = Vec::new();
    let https = args
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    if !https {
        if !args.allow_plain_http {
            return Err(config(
                "hors mode démonstration, SAND_PUBLIC_URL doit être une adresse https:// (c'est seulement alors que les cookies sont Secure et __Host- et que HSTS est envoyé) : définissez-la, ou définissez SAND_ALLOW_PLAIN_HTTP=true pour un déploiement délibérément non chiffré",
            ));
        }
        overrides.push(
            "SAND_ALLOW_PLAIN_HTTP : adresse publique en http://, cookies sans Secure, pas de HSTS"
                .to_owned(),
        );
    }
    if let Some((host, query)) = postgres_host_and_query(args.database_url.expose().trim()) {
        let verified = query
            .split('&')
            .any(|pair| pair == "sslmode=verify-full" || pair == "sslmode=verify-ca");
        if !verified && !is_local_host(&host) {
            if !args.allow_unverified_database_tls {
                return Err(config(format!(
                    "le serveur PostgreSQL {host} est sur une autre machine et son certificat n'est pas vérifié : ajoutez sslmode=verify-full (et sslrootcert=FICHIER si son autorité de certification est privée) à SAND_DATABASE_URL, ou définissez SAND_ALLOW_UNVERIFIED_DATABASE_TLS=true"
                )));
            }
            overrides.push(format!(
                "SAND_ALLOW_UNVERIFIED_DATABASE_TLS : certificat du serveur PostgreSQL {host} non vérifié"
            ));
        }
    }
    match &args.smtp_host {
        Some(host) if args.smtp_security == SmtpSecurity::None && !is_local_host(host) => {
            if !args.allow_plain_smtp {
                return Err(config(format!(
                    "SAND_SMTP_SECURITY=none vers {host}, une autre machine, envoie en clair les e-mails et leurs liens{} : utilisez starttls ou tls, ou définissez SAND_ALLOW_PLAIN_SMTP=true",
                    if args.smtp_password.is_some() {
                        ", ainsi que le mot de passe SMTP"
                    } else {
                        ""
                    }
                )));
            }
            overrides.push(format!(
                "SAND_ALLOW_PLAIN_SMTP : e-mails vers {host} sans chiffrement"
            ));
        }
        Some(_) => {}
        None => {
            if !args.mail_to_files {
                return Err(config(
                    "hors mode démonstration, l'envoi des e-mails exige un relais SMTP : définissez SAND_SMTP_HOST, ou définissez SAND_MAIL_TO_FILES=true pour écrire les e-mails (avec leurs liens de confirmation et de réinitialisation) sous forme de fichiers dans SAND_MAIL_DIR",
                ));
            }
            overrides.push(format!(
                "SAND_MAIL_TO_FILES : e-mails écrits dans {} au lieu d'être envoyés",
                args.mail_dir.display()
            ));
        }
    }
    Ok(overrides)
}

/// `https://host[:port]` of a URL, if it is an http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "https" | "http") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// The issuer registry: the shipped one with the operator's file laid over it.
fn issuers(args: &ServeArgs) -> Result<sand_domain::issuer::IssuerRegistry, ServeError> {
    if let Some(old) = &args.exam_offices_file {
        return Err(config(format!(
            "SAND_EXAM_OFFICES_FILE ({}) est remplacé par SAND_ISSUERS_FILE : dans un fichier \
             qui commence par `format = \"sand-issuers/1\"`, chaque table `[\"10\"]` devient \
             `[contact.\"10\"]`, avec les clés service, address, email, phone, web \
             (voir docs/operations.md, « Émetteurs »)",
            old.display()
        )));
    }
    sand_import::registry::load_layers(args.issuers_file.as_deref(), args.demo)
        .map_err(|e| config(e.to_string()))
}

/// The operator's part of the accessibility statement, checked: a contact is an e-mail
/// address or an https:// address, the plan an https:// address, texts without control
/// characters.
fn accessibility_statement(
    args: &ServeArgs,
) -> Result<sand_http::AccessibilityStatement, ServeError> {
    let text = |value: &Option<String>, what: &str| -> Result<String, ServeError> {
        let value = value.as_deref().unwrap_or_default().trim().to_owned();
        if value.chars().count() > 500 || value.chars().any(char::is_control) {
            return Err(config(format!(
                "{what} : 500 caractères au plus, sans caractère de contrôle"
            )));
        }
        Ok(value)
    };
    let web = |value: &str| value.starts_with("https://") && !value.contains(char::is_whitespace);
    let contact = text(&args.accessibility_contact, "SAND_ACCESSIBILITY_CONTACT")?;
    if !contact.is_empty()
        && !web(&contact)
        && sand_domain::credentials::Email::parse(&contact).is_err()
    {
        return Err(config(
            "SAND_ACCESSIBILITY_CONTACT : une adresse e-mail ou une adresse https:// est attendue",
        ));
    }
    let plan = text(&args.accessibility_plan, "SAND_ACCESSIBILITY_PLAN")?;
    if !plan.is_empty() && !web(&plan) {
        return Err(config(
            "SAND_ACCESSIBILITY_PLAN : une adresse https:// est attendue",
        ));
    }
    Ok(sand_http::AccessibilityStatement {
        conformance: match args.accessibility_status {
            AccessibilityStatus::Totalement => sand_http::Conformance::Full,
            AccessibilityStatus::Partiellement => sand_http::Conformance::Partial,
            AccessibilityStatus::Non => sand_http::Conformance::None,
        },
        contact,
        audit: text(&args.accessibility_audit, "SAND_ACCESSIBILITY_AUDIT")?,
        plan,
    })
}

fn demo_people() -> Vec<DemoPerson> {
    sand_import::synthetic::DEMO_PEOPLE
        .iter()
        .map(|(birth_name, first_names, birth_date, usage)| {
            let shown_date = birth_date.split('-').rev().collect::<Vec<_>>().join("/");
            DemoPerson {
                birth_name: (*birth_name).to_owned(),
                usage_name: (*usage).to_owned(),
                first_names: first_names.replace(',', ""),
                birth_date: shown_date,
                diploma: "Baccalauréat général, session 2021, académie de Lyon".to_owned(),
            }
        })
        .collect()
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The secrets and keys the service needs, loaded and checked.
struct Keys {
    secret: Vec<u8>,
    signing: SigningKeys,
    verification: VerificationKeys,
    /// The ES256 key of wallet credentials and status lists, if any.
    credential: Option<sand_attestation::status_list::CredentialKeys>,
}

fn load_keys(args: &ServeArgs) -> Result<Keys, ServeError> {
    let secret = load_secret(args)?;
    let signing = args
        .signing
        .load()
        .map_err(|e| config(format!("clé de signature : {}", key_message(&e))))?;
    if signing.is_demo() && !args.demo {
        return Err(config(
            "aucune clé de signature des attestations : définissez SAND_SIGNING_KEY_FILE (voir `sand keys generate`), ou lancez avec --demo",
        ));
    }
    let mut verification = VerificationKeys::new();
    verification.add_signing(&signing);
    for path in &args.public_keys {
        let pem = std::fs::read_to_string(path).map_err(|e| {
            config(format!(
                "impossible de lire la clé publique {} : {e}",
                path.display()
            ))
        })?;
        verification.add_pem(&pem).map_err(|e| {
            config(format!(
                "clé publique {} : {}",
                path.display(),
                key_message(&e)
            ))
        })?;
    }
    let credential = match (&args.credential_key_file, args.demo) {
        (Some(path), _) => Some(
            sand_attestation::status_list::CredentialKeys::from_file(path)
                .map_err(|e| config(format!("clé des justificatifs : {}", key_message(&e))))?,
        ),
        (None, true) => Some(
            sand_attestation::status_list::CredentialKeys::demo()
                .map_err(|e| config(format!("clé des justificatifs : {}", key_message(&e))))?,
        ),
        (None, false) => None,
    };
    Ok(Keys {
        secret,
        signing,
        verification,
        credential,
    })
}

fn mail_from(args: &ServeArgs) -> Result<sand_mail::Mailbox, ServeError> {
    args.mail_from
        .parse()
        .map_err(|e| config(format!("SAND_MAIL_FROM : {e}")))
}

/// What the checks loaded, for `run` to use rather than load again.
struct Checked {
    keys: Keys,
    issuers: sand_domain::issuer::IssuerRegistry,
    /// What a reader should know about the result.
    notes: Vec<String>,
}

/// Checks everything `serve` checks before it connects to anything: secrets, keys,
/// files, addresses, the completeness of the SMTP and FranceConnect settings. Returns
/// what a reader should know about the result.
///
/// # Errors
/// The first problem found, as `serve` would report it.
pub fn check(args: &ServeArgs) -> Result<Vec<String>, ServeError> {
    checked(args).map(|c| c.notes)
}

fn checked(args: &ServeArgs) -> Result<Checked, ServeError> {
    let keys = load_keys(args)?;
    let mut notes = vec![format!(
        "clé de signature {}{}",
        keys.signing.id(),
        if keys.signing.is_demo() {
            " (démonstration : documents SPÉCIMEN)"
        } else {
            ""
        }
    )];
    notes.push(match &keys.credential {
        Some(credential) => format!(
            "clé des justificatifs (ES256) {}{}",
            credential.kid(),
            if credential.is_demo() {
                " (démonstration)"
            } else {
                ""
            }
        ),
        None => "listes de statut des justificatifs désactivées (SAND_CREDENTIAL_KEY_FILE absent)"
            .to_owned(),
    });
    mail_from(args)?;
    accessibility_statement(args)?;
    notes.extend(transport_overrides(args)?);
    if let Some(path) = &args.smtp_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| config(format!("SAND_SMTP_CA_FILE {} : {e}", path.display())))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(config(format!(
                "SAND_SMTP_CA_FILE {} : ce fichier ne contient aucun certificat PEM",
                path.display()
            )));
        }
    }
    if args.smtp_user.is_some() != args.smtp_password.is_some() {
        return Err(config(
            "définissez à la fois SAND_SMTP_USER et SAND_SMTP_PASSWORD, ou aucun des deux",
        ));
    }
    let fc = [
        args.franceconnect_issuer.is_some(),
        args.franceconnect_client_id.is_some(),
        args.franceconnect_client_secret.is_some(),
    ];
    match fc.iter().filter(|set| **set).count() {
        0 => notes.push("FranceConnect désactivé".to_owned()),
        3 => notes.push("FranceConnect configuré".to_owned()),
        _ => return Err(config(FRANCECONNECT_TOGETHER)),
    }
    let pc = [
        args.proconnect_issuer.is_some(),
        args.proconnect_client_id.is_some(),
        args.proconnect_client_secret.is_some(),
    ];
    match pc.iter().filter(|set| **set).count() {
        0 => {}
        3 if args.staff_listen.is_none() && !args.demo => {
            return Err(config(
                "ProConnect sert l'espace agents : définissez aussi SAND_STAFF_LISTEN",
            ));
        }
        3 if args.proconnect_second_factor_optional => notes.push(
            "ProConnect configuré pour l'espace agents, SANS exiger de second facteur (environnement de test)".to_owned(),
        ),
        3 => notes.push("ProConnect configuré pour l'espace agents".to_owned()),
        _ => return Err(config(PROCONNECT_TOGETHER)),
    }
    let issuers = issuers(args)?;
    let with_contact = issuers
        .all()
        .iter()
        .filter(|i| !i.contact.is_empty())
        .count();
    notes.push(format!(
        "{} émetteur(s), dont {with_contact} avec des coordonnées",
        issuers.all().len()
    ));
    for (name, address) in [
        ("listen", Some(&args.listen)),
        ("metrics_listen", args.metrics_listen.as_ref()),
    ] {
        if let Some(address) = address {
            std::net::ToSocketAddrs::to_socket_addrs(address.as_str())
                .map_err(|e| config(format!("{name} `{address}` : {e}")))?;
        }
    }
    if let Some(url) = &args.public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(config(
            "SAND_PUBLIC_URL doit commencer par https:// ou http://",
        ));
    }
    if let Some(read_url) = &args.database_read_url {
        if args.database_url.is_sqlite() || read_url.is_sqlite() {
            return Err(config(
                "SAND_DATABASE_READ_URL : une réplique en lecture ne se conçoit qu'avec PostgreSQL, \
                 pour SAND_DATABASE_URL comme pour elle",
            ));
        }
        notes.push(format!(
            "réplique en lecture pour le catalogue et la recherche à rattacher, tant que son retard reste sous {} ms",
            args.database_read_max_lag_ms
        ));
    }
    match &args.rate_limit_store_url {
        Some(url) => {
            sand_limits::SharedCounters::new(
                url,
                b"",
                &sand_http::RateLimits::default(),
                sand_limits::SharedSettings::default(),
            )
            .map_err(|e| config(format!("SAND_RATE_LIMIT_STORE_URL : {e}")))?;
            notes.push("limites de débit partagées entre les nœuds (Redis/Valkey)".to_owned());
        }
        None => notes.push("limites de débit comptées par ce nœud seul".to_owned()),
    }
    notes.push(format!(
        "e-mails : {}",
        args.smtp_host.as_ref().map_or_else(
            || format!("fichiers dans {}", args.mail_dir.display()),
            |h| format!("relais SMTP {h}:{}", args.smtp_port)
        )
    ));
    Ok(Checked {
        keys,
        issuers,
        notes,
    })
}

impl From<crate::backoffice::BackofficeError> for ServeError {
    fn from(e: crate::backoffice::BackofficeError) -> Self {
        match e {
            crate::backoffice::BackofficeError::Store(e) => ServeError::Store(e),
            crate::backoffice::BackofficeError::Io(e) => ServeError::Io(e),
            crate::backoffice::BackofficeError::Config(text) => ServeError::Config(text),
        }
    }
}

/// Runs the web service until SIGTERM or Ctrl-C.
pub async fn run(args: ServeArgs, out: &mut impl Write) -> Result<(), ServeError> {
    let Checked {
        keys:
            Keys {
                secret,
                signing,
                verification: verification_keys,
                credential,
            },
        issuers,
        ..
    } = checked(&args)?;

    // every override of a transport safety is said at every start
    for text in transport_overrides(&args)? {
        tracing::warn!(what = %text, "a transport safety is overridden");
        writeln!(out, "Attention : {text}")?;
    }
    let keys = KeyProtector::from_secret(&secret)
        .map_err(|e| config(crate::key_protection_message(&e)))?;
    let mut store_settings = StoreSettings::new(args.database_url.expose());
    store_settings.max_connections = args.database_max_connections;
    let store = Store::connect(&store_settings, keys.clone()).await?;
    let replica = match &args.database_read_url {
        Some(url) => {
            let mut replica_settings = StoreSettings::new(url.expose());
            replica_settings.max_connections = args.database_max_connections;
            Some(Store::connect(&replica_settings, keys).await?)
        }
        None => None,
    };
    let sqlite = args.database_url.is_sqlite();
    if sqlite {
        store.migrate(&DatabaseRoles::default()).await?;
        store.check_writable().await?;
    } else {
        let pending = store.pending_migrations().await?;
        if !pending.is_empty() {
            return Err(config(format!(
                "le schéma de la base de données n'est pas à jour ({} migration(s) en attente) : lancez d'abord `sand migrate`",
                pending.len()
            )));
        }
    }
    let access = store
        .record_write_access()
        .await
        .map_err(|e| config(format!("base de données : {e}")))?;
    let deployment = if args.demo || args.single_user {
        Deployment::SingleUser
    } else {
        Deployment::Shared
    };
    one_way::check(&access, deployment)?;

    let listener = TcpListener::bind(args.listen.clone());
    // slow clients cannot hold connections: header, request and idle deadlines
    let acceptor = GuardedAcceptor::new(
        listener.into_acceptor().await?,
        ConnectionTimeouts {
            header: Duration::from_secs(args.header_timeout),
            request: Duration::from_secs(args.request_timeout),
            idle: Duration::from_secs(args.idle_timeout),
        },
    );
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| config("aucune adresse locale"))?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}", local.port()))
        .trim_end_matches('/')
        .to_owned();

    let issuer = sand_attestation::Issuer {
        operator: args.operator.clone(),
        verification_url: format!("{public_url}{}", sand_domain::public_paths::VERIFY),
    };
    let issuers = Arc::new(issuers);
    let renderer = PdfAttestationRenderer::new(issuer, Arc::new(signing))
        .map_err(|e| {
            config(format!(
                "production des attestations : {}",
                render_message(&e)
            ))
        })?
        .with_issuers(Arc::clone(&issuers));
    let mut ports = sand_server::compose::ports(
        &store,
        sand_server::compose::Adapters {
            franceconnect: franceconnect(&args, &public_url)?,
            ..sand_server::compose::Adapters::new(Arc::new(renderer))
        },
    );
    // the catalogue and the attach lookup on the replica while it keeps up
    let routing = replica.map(|replica| {
        let (routing, watcher) = ReplicaRouting::start(
            store.clone(),
            replica,
            ReplicaSettings {
                max_lag: Duration::from_millis(args.database_read_max_lag_ms),
                check_every: Duration::from_millis(args.database_read_check_ms),
            },
        );
        let routing = Arc::new(routing);
        ports.catalogue = routing.clone();
        ports.records = routing.clone();
        (routing, watcher)
    });
    let mut settings = WebSettings::new(args.operator.clone(), public_url.clone());
    settings.demo = args.demo;
    settings.trust_forwarded_for = args.trust_forwarded_for;
    settings.limits.verifications_per_client_per_minute = args.verifications_per_minute;
    settings.limits.share_openings_per_client_per_minute = args.share_openings_per_minute;
    settings.limits.wrong_answers_per_key_per_client_per_day =
        args.wrong_answers_per_key_per_client;
    settings.limits.wrong_answers_per_key_per_day = args.wrong_answers_per_key;
    settings.limits.file_checks_per_client_per_minute = args.file_checks_per_minute;
    settings.issuers = issuers;
    settings.accessibility = accessibility_statement(&args)?;
    // FranceConnect's single logout follows the logout form: its origin is a form target
    if let Some(origin) = args.franceconnect_issuer.as_deref().and_then(origin_of) {
        settings.form_action_origins.push(origin);
    }
    if args.demo {
        settings.demo_people = demo_people();
        if args.smtp_host.is_none() {
            settings.demo_mail_hint = args.mail_dir.display().to_string();
        }
    }
    let mut state = AppState::new(settings.clone(), ports, &secret, verification_keys)
        .with_credential_keys(credential.map(Arc::new));
    if let Some((routing, _)) = &routing {
        state = state.with_read_routing(routing.clone());
    }
    if let Some(url) = &args.rate_limit_store_url {
        let counters = sand_limits::SharedCounters::new(
            url,
            &secret,
            &settings.limits,
            sand_limits::SharedSettings::default(),
        )
        .map_err(|e| config(format!("SAND_RATE_LIMIT_STORE_URL : {e}")))?;
        state = state.with_limit_counters(Arc::new(counters));
    }
    let state = Arc::new(state);

    let mail_settings = MailSettings {
        from: mail_from(&args)?,
        operator: args.operator.clone(),
        public_url: public_url.clone(),
    };
    let sender = OutboxSender::new(
        Arc::new(store.mail_queue()),
        transport(&args)?,
        mail_settings,
        SenderSettings::default(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sender_stop = stop_rx.clone();
    let sender_task = tokio::spawn(async move {
        sender
            .run(async move {
                let _ = sender_stop.wait_for(|stop| *stop).await;
            })
            .await;
    });
    let housekeeping_state = Arc::clone(&state);
    let abandoned_mails = store.mail_queue();
    let mut housekeeping_stop = stop_rx;
    let housekeeping = tokio::spawn(async move {
        let state = housekeeping_state;
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = housekeeping_stop.wait_for(|stop| *stop) => break,
            }
            state.limiters.forget_idle(state.ports.clock.now());
            let now = state.ports.clock.now();
            let (idle, absolute) = state.settings.session_limits();
            match state.ports.sessions.purge(now - idle, now - absolute).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove expired sessions"),
            }
            // profiles whose confirmation link expired unused hold no claim to anything
            let confirmation = sand_domain::profile::mailbox::CONFIRMATION_LINK_VALID;
            match state
                .ports
                .profiles
                .purge_unconfirmed(now - confirmation)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(profiles = n, "profiles never confirmed removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove unconfirmed profiles"),
            }
            // a mail that could not be delivered keeps its address for a month, for the
            // operator to look into, then goes
            match abandoned_mails
                .purge_abandoned(now - ABANDONED_MAIL_KEPT)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(mails = n, "abandoned mails removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove abandoned mails"),
            }
        }
    });

    // Prometheus metrics on their own (private) address; stop with the service
    let metrics = match &args.metrics_listen {
        Some(address) => {
            let acceptor = TcpListener::bind(address.clone()).into_acceptor().await?;
            let local = acceptor
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr().copied())
                .ok_or_else(|| config("aucune adresse locale pour les métriques"))?;
            Some((acceptor, local))
        }
        None => None,
    };

    // the back office, on its own (private) address; the demonstration's implicit one is
    // not served on PostgreSQL without the back office's own connection (an explicit
    // SAND_STAFF_LISTEN without it is refused below)
    let implicit_without_connection = args.staff_listen.is_none()
        && !args.database_url.is_sqlite()
        && args.staff_database_url.is_none();
    let staff_address =
        crate::backoffice::address(args.staff_listen.as_deref(), args.demo, &args.listen)
            .filter(|_| !implicit_without_connection);
    if args.demo && implicit_without_connection {
        writeln!(
            out,
            "Espace agents non servi : sur PostgreSQL, il se connecte avec un utilisateur de son propre rôle (SAND_STAFF_DATABASE_URL, voir `sand migrate --backoffice-role`)."
        )?;
    }
    let staff = match staff_address {
        Some(address) => {
            let staff_store = crate::backoffice::store(
                args.staff_database_url.as_ref(),
                &args.database_url,
                &store,
                &secret,
            )
            .await?;
            let acceptor = TcpListener::bind(address).into_acceptor().await?;
            let local = acceptor
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr().copied())
                .ok_or_else(|| config("aucune adresse locale pour l'espace agents"))?;
            let staff_url = args.staff_public_url.as_deref().map_or_else(
                || format!("http://{local}"),
                |u| u.trim_end_matches('/').to_owned(),
            );
            let mut staff_settings = sand_http::staff::StaffSettings::new(args.operator.clone());
            staff_settings.demo = args.demo;
            staff_settings.trust_forwarded_for = args.trust_forwarded_for;
            staff_settings.secure = staff_url.starts_with("https://");
            staff_settings.second_factor_required = !args.proconnect_second_factor_optional;
            if args.proconnect_second_factor_optional {
                tracing::warn!(
                    "ProConnect logins of roles that see personal data are admitted without a second factor (SAND_PROCONNECT_SECOND_FACTOR_OPTIONAL)"
                );
            }
            let staff_state = crate::backoffice::state(
                staff_settings,
                &staff_store,
                &secret,
                crate::backoffice::StateParts {
                    issuers: Arc::clone(&state.settings.issuers),
                    clock: Arc::clone(&state.ports.clock),
                    proconnect: proconnect(&args, &staff_url)?,
                },
            );
            Some((acceptor, local, staff_store, staff_state))
        }
        None => None,
    };

    writeln!(
        out,
        "SAND écoute sur http://{local} (adresse publique : {public_url})."
    )?;
    if let Some((_, address, staff_store, _)) = &staff {
        writeln!(out, "Espace agents sur http://{address}.")?;
        if args.demo {
            crate::backoffice::demo_agents(staff_store, &secret, &format!("http://{address}"), out)
                .await?;
        }
    }
    if args.demo {
        writeln!(
            out,
            "Site de démonstration : ouvrez {public_url}/ ; les e-mails sont écrits dans {}.",
            args.mail_dir.display()
        )?;
    }
    if let Some((_, address)) = &metrics {
        writeln!(out, "Métriques Prometheus sur http://{address}/metrics.")?;
    }
    if args.ready_json {
        let ready = serde_json::json!({
            "event": "ready",
            "listen": local.to_string(),
            "public_url": public_url,
            "metrics_listen": metrics.as_ref().map(|(_, address)| address.to_string()),
            "staff_listen": staff.as_ref().map(|(_, address, _, _)| address.to_string()),
        });
        writeln!(out, "{ready}")?;
    }
    tracing::info!(listen = %local, public_url = %public_url, demo = args.demo, "serving");

    let metrics_task = metrics.map(|(acceptor, _)| {
        let endpoint = sand_http::health::metrics_endpoint(Arc::clone(&state));
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(endpoint, stopped, Some(Duration::from_secs(5)))
                .await
        })
    });
    let staff_task = staff.map(|(acceptor, _, _, staff_state)| {
        let endpoint = sand_http::staff::staff_app(Arc::new(staff_state));
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(endpoint, stopped, Some(Duration::from_secs(5)))
                .await
        })
    });
    out.flush()?;

    let app = sand_http::app(state);
    let result = poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, shutdown_signal(), Some(Duration::from_secs(30)))
        .await;
    tracing::info!("stopping: requests in flight finished, stopping the mail sender");
    let _ = stop_tx.send(true);
    let _ = sender_task.await;
    let _ = housekeeping.await;
    if let Some((_, watcher)) = routing {
        watcher.abort();
    }
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(task) = staff_task {
        let _ = task.await;
    }
    result?;
    Ok(())
}
