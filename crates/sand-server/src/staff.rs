//! `sand staff` and `sand audit`: the operator's side of the back office's local
//! accounts (added with a generated password and a TOTP second factor) and of its audit
//! log (exported as CSV, purged past its retention by an audited command).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use sand_domain::credentials::{Email, Password};
use sand_domain::issuer::{IssuerCode, IssuerRegistry};
use sand_domain::ports::{
    AddStaffStoreError, AuditLog as _, PasswordHasher as _, StaffDirectory as _,
};
use sand_domain::profile::second_factor::TotpSecret;
use sand_domain::staff::audit::{Actor, AuditAction, AuditEntry, NewAuditEntry};
use sand_domain::staff::sign_in::Siret;
use sand_domain::staff::{NewStaffMember, Role, StaffChange, StaffLogin};
use sand_persistence::{KeyProtector, Store, StoreSettings};
use time::OffsetDateTime;

use crate::DatabaseArgs;

/// The audit log's default retention, in days (`sand audit purge`).
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// Where the server secret comes from (it seals the staff's TOTP secrets).
#[derive(Debug, clap::Args)]
pub struct SecretArgs {
    #[arg(
        long,
        env = "SAND_SECRET_FILE",
        help = "Fichier du secret du serveur (celui de `sand serve`) : il scelle le secret \
                TOTP des agents. Sur la base embarquée de démonstration, data/secret.key \
                par défaut"
    )]
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    #[command(
        about = "Ajoute un agent de l'espace agents : compte local avec un mot de passe tiré \
                 au hasard et un second facteur TOTP, affichés une seule fois",
        long_about = "Ajoute un agent de l'espace agents : compte local avec un mot de passe \
                      tiré au hasard et un second facteur TOTP (RFC 6238), affichés une seule \
                      fois : transmettez-les à l'agent par deux canaux distincts.\n\n\
                      Rôles : niveau1 (assistance, sans données personnelles), niveau2 \
                      (service des examens : un ou plusieurs --emetteur obligatoires), \
                      administrateur (agents et journal), auditeur (journal). L'ajout est \
                      inscrit au journal d'audit. Code de retour 3 si l'identifiant est déjà \
                      pris, 2 si la demande est incorrecte."
    )]
    Add {
        #[arg(help = "Identifiant de connexion (minuscules, chiffres, . - _ ; ex. m.dupont)")]
        login: String,
        #[arg(long = "nom", help = "Nom affiché de l'agent")]
        name: String,
        #[arg(long = "role", help = "niveau1, niveau2, administrateur ou auditeur")]
        role: String,
        #[arg(
            long = "emetteur",
            help = "Code d'un émetteur dont l'agent traite les résultats (niveau2 ; répétable ; \
                    `sand issuers list`)"
        )]
        issuers: Vec<String>,
        #[arg(
            long = "adresse",
            help = "Adresse professionnelle de l'agent : la clé de sa connexion avec ProConnect"
        )]
        email: Option<String>,
        #[arg(
            long = "siret",
            help = "SIRET de l'établissement employeur que ProConnect doit transmettre pour cet \
                    agent (14 chiffres ; facultatif)"
        )]
        siret: Option<String>,
        #[arg(
            long = "issuers-file",
            env = "SAND_ISSUERS_FILE",
            help = "Registre des émetteurs de l'exploitant (voir docs/examples/issuers.toml)"
        )]
        issuers_file: Option<PathBuf>,
        #[arg(
            long = "operateur",
            env = "USER",
            default_value = "inconnu",
            help = "Qui ajoute l'agent, tel que le journal d'audit le nomme"
        )]
        operator: String,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(
        about = "Modifie l'accès d'un agent : rôle, émetteurs, adresse professionnelle, SIRET ; \
                 un changement de rôle ou d'émetteurs ferme ses sessions ouvertes",
        long_about = "Modifie l'accès d'un agent : rôle, émetteurs, adresse professionnelle \
                      (connexion avec ProConnect), SIRET. Ce qui n'est pas donné reste tel quel ; \
                      un rôle autre que niveau2 n'a pas d'émetteurs. Un changement de rôle ou \
                      d'émetteurs ferme les sessions ouvertes de l'agent. La modification est \
                      inscrite au journal d'audit. Code de retour 3 si aucun compte ouvert ne \
                      porte cet identifiant ou si l'adresse est déjà celle d'un autre agent, 2 si \
                      la demande est incorrecte."
    )]
    Change {
        #[arg(help = "Identifiant de l'agent")]
        login: String,
        #[arg(long = "role", help = "niveau1, niveau2, administrateur ou auditeur")]
        role: Option<String>,
        #[arg(
            long = "emetteur",
            help = "Code d'un émetteur dont l'agent traite les résultats (niveau2 ; répétable ; \
                    remplace les émetteurs actuels)"
        )]
        issuers: Vec<String>,
        #[arg(
            long = "adresse",
            help = "Nouvelle adresse professionnelle",
            conflicts_with = "no_email"
        )]
        email: Option<String>,
        #[arg(
            long = "sans-adresse",
            help = "Retire l'adresse : plus de connexion avec ProConnect"
        )]
        no_email: bool,
        #[arg(
            long = "siret",
            help = "Nouveau SIRET de l'établissement employeur",
            conflicts_with = "no_siret"
        )]
        siret: Option<String>,
        #[arg(long = "sans-siret", help = "Retire le SIRET attendu")]
        no_siret: bool,
        #[arg(
            long = "issuers-file",
            env = "SAND_ISSUERS_FILE",
            help = "Registre des émetteurs de l'exploitant (voir docs/examples/issuers.toml)"
        )]
        issuers_file: Option<PathBuf>,
        #[arg(
            long = "operateur",
            env = "USER",
            default_value = "inconnu",
            help = "Qui modifie l'accès, tel que le journal d'audit le nomme"
        )]
        operator: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(
        about = "Ferme le compte d'un agent : il ne peut plus se connecter, et ses sessions \
                 prennent fin à leur prochaine demande ; la fermeture est inscrite au journal \
                 d'audit. Code de retour 3 si aucun compte ouvert ne porte cet identifiant"
    )]
    Close {
        #[arg(help = "Identifiant de l'agent")]
        login: String,
        #[arg(
            long = "operateur",
            env = "USER",
            default_value = "inconnu",
            help = "Qui ferme le compte, tel que le journal d'audit le nomme"
        )]
        operator: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(about = "Liste les agents : identifiant, rôle, émetteurs, création, fermeture")]
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(
        about = "Affiche le code TOTP actuel d'un agent (démonstration et essais : un agent \
                 réel lit le sien dans son application d'authentification)"
    )]
    Totp {
        #[arg(help = "Identifiant de l'agent")]
        login: String,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    #[command(
        about = "Exporte le journal d'audit de l'espace agents en CSV (séparateur ;) sur la \
                 sortie standard ou dans un fichier",
        long_about = "Exporte le journal d'audit de l'espace agents en CSV (séparateur ;) sur \
                      la sortie standard ou dans un fichier.\n\n\
                      Colonnes : numero, date (RFC 3339, UTC), acteur, action (code stable), \
                      resultats (identifiants), rattachement, lot, detail, origine. Aucune \
                      donnée personnelle de diplômé : des identifiants seulement."
    )]
    Export {
        #[arg(long = "depuis", help = "Première date incluse (AAAA-MM-JJ, UTC)")]
        from: Option<String>,
        #[arg(long = "jusqua", help = "Dernière date incluse (AAAA-MM-JJ, UTC)")]
        to: Option<String>,
        #[arg(
            long = "sortie",
            help = "Fichier CSV à écrire (sinon la sortie standard)"
        )]
        out: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    #[command(
        about = "Supprime les lignes du journal plus anciennes que la durée de conservation \
                 (365 jours par défaut) ; la purge est elle-même inscrite au journal",
        long_about = "Supprime les lignes du journal plus anciennes que la durée de \
                      conservation (365 jours par défaut) ; la purge est elle-même inscrite au \
                      journal.\n\n\
                      Aucun rôle applicatif ne peut modifier ni supprimer une ligne : la purge \
                      se lance avec l'utilisateur propriétaire du schéma (celui de \
                      `sand migrate`)."
    )]
    Purge {
        #[arg(
            long = "conservation-jours",
            env = "SAND_AUDIT_RETENTION_DAYS",
            default_value_t = DEFAULT_RETENTION_DAYS,
            value_parser = clap::value_parser!(u32).range(30..=3650),
            help = "Durée de conservation, en jours (30 à 3650)"
        )]
        retention_days: u32,
        #[arg(
            long = "operateur",
            env = "USER",
            default_value = "inconnu",
            help = "Qui purge, tel que le journal d'audit le nomme"
        )]
        operator: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Why a staff or audit command failed, in French.
#[derive(Debug, thiserror::Error)]
pub enum StaffCommandError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The request is wrong (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// Refused (exit status 3): a login already taken, an unknown login.
    #[error("{0}")]
    Refused(String),
    #[error("{}", crate::store_message(.0))]
    Store(#[from] sand_persistence::StoreError),
    #[error("base de données : {0}")]
    Port(#[from] sand_domain::PortError),
    #[error(transparent)]
    Registry(#[from] sand_import::registry::RegistryFileError),
    #[error("secret du serveur : {0}")]
    Secret(String),
}

fn secret(args: &SecretArgs, database: &DatabaseArgs) -> Result<KeyProtector, StaffCommandError> {
    let path = match &args.secret_file {
        Some(path) => path.clone(),
        None if database.database_url.is_sqlite() => PathBuf::from(crate::serve::DEMO_SECRET_FILE),
        None => {
            return Err(StaffCommandError::Secret(
                "définissez SAND_SECRET_FILE (le fichier du secret de `sand serve`)".to_owned(),
            ));
        }
    };
    let bytes = crate::serve::read_secret_file(&path)
        .map_err(|e| StaffCommandError::Secret(e.to_string()))?;
    KeyProtector::from_secret(&bytes)
        .map_err(|e| StaffCommandError::Secret(crate::key_protection_message(&e)))
}

async fn store(database: &DatabaseArgs, keys: KeyProtector) -> Result<Store, StaffCommandError> {
    let store = Store::connect(&StoreSettings::new(database.database_url.expose()), keys).await?;
    if database.database_url.is_sqlite() {
        store
            .migrate(&sand_persistence::DatabaseRoles::default())
            .await?;
    }
    Ok(store)
}

/// The key protector of a command that opens no sealed secret (list, export, purge).
fn any_keys() -> KeyProtector {
    KeyProtector::from_secret(&sand_http::system::random_bytes::<32>())
        .unwrap_or_else(|_| unreachable!("32 random bytes are a valid secret"))
}

/// Runs a `sand staff` command.
///
/// # Errors
/// [`StaffCommandError`].
pub async fn staff(command: StaffCommand, out: &mut impl Write) -> Result<(), StaffCommandError> {
    match command {
        StaffCommand::Add {
            login,
            name,
            role,
            issuers,
            email,
            siret,
            issuers_file,
            operator,
            secret: secret_args,
            database,
        } => {
            let registry = sand_import::registry::load(issuers_file.as_deref())?;
            let mut member = new_member(&login, &name, &role, &issuers, &registry)?;
            member.email = email.as_deref().map(parse_email).transpose()?;
            member.siret = siret.as_deref().map(parse_siret).transpose()?;
            let store = store(&database, secret(&secret_args, &database)?).await?;
            let password = sand_http::system::random_token()[..24].to_owned();
            let hash = sand_http::hasher::Argon2Hasher::new(1)
                .hash(
                    &Password::for_login(&password)
                        .map_err(|e| StaffCommandError::Usage(e.to_string()))?,
                )
                .await?;
            let totp_secret = TotpSecret::new(sand_http::system::random_bytes::<20>().to_vec());
            let audit = NewAuditEntry {
                at: member.created_at,
                actor: Actor::Operator(operator),
                action: AuditAction::StaffAdd,
                records: Vec::new(),
                link: None,
                batch: None,
                detail: format!("{} ({})", member.login, member.role),
                origin: "cli".to_owned(),
            };
            let added = match store
                .staff()
                .add(&member, &hash, &totp_secret, &audit)
                .await
            {
                Ok(added) => added,
                Err(AddStaffStoreError::LoginTaken) => {
                    return Err(StaffCommandError::Refused(format!(
                        "l'identifiant « {} » est déjà pris",
                        member.login
                    )));
                }
                Err(AddStaffStoreError::EmailTaken) => return Err(email_taken()),
                Err(AddStaffStoreError::Port(e)) => return Err(e.into()),
            };
            let totp = totp_of(&totp_secret, &added.login)?;
            writeln!(
                out,
                "Agent « {} » ajouté : {}{}.",
                added.login,
                added.role.label(),
                scope_text(&added.issuers)
            )?;
            writeln!(out, "  mot de passe : {password}")?;
            writeln!(
                out,
                "  second facteur (TOTP) : {} — ou ajoutez dans l'application d'authentification : {}",
                sand_http::totp::base32(&totp),
                totp.to_url().unwrap_or_default()
            )?;
            writeln!(
                out,
                "Transmettez le mot de passe et le second facteur par deux canaux distincts : ils ne seront plus affichés."
            )?;
        }
        StaffCommand::Close {
            login,
            operator,
            database,
        } => {
            let login = StaffLogin::parse(&login).map_err(|_| {
                StaffCommandError::Usage(format!("« {login} » n'est pas un identifiant d'agent"))
            })?;
            let store = store(&database, any_keys()).await?;
            let now = OffsetDateTime::now_utc();
            let audit = NewAuditEntry {
                at: now,
                actor: Actor::Operator(operator),
                action: AuditAction::StaffChange,
                records: Vec::new(),
                link: None,
                batch: None,
                detail: format!("{login} : compte fermé"),
                origin: "cli".to_owned(),
            };
            if !store.staff().close(&login, now, &audit).await? {
                return Err(StaffCommandError::Refused(format!(
                    "aucun compte ouvert « {login} »"
                )));
            }
            writeln!(out, "Compte de l'agent « {login} » fermé.")?;
        }
        StaffCommand::Change {
            login,
            role,
            issuers,
            email,
            no_email,
            siret,
            no_siret,
            issuers_file,
            operator,
            database,
        } => {
            let registry = sand_import::registry::load(issuers_file.as_deref())?;
            let login = StaffLogin::parse(&login).map_err(|_| {
                StaffCommandError::Usage(format!("« {login} » n'est pas un identifiant d'agent"))
            })?;
            let store = store(&database, any_keys()).await?;
            let member = store
                .staff()
                .list()
                .await?
                .into_iter()
                .find(|m| m.login == login && m.disabled_at.is_none())
                .ok_or_else(|| {
                    StaffCommandError::Refused(format!("aucun compte ouvert « {login} »"))
                })?;
            let role = match role {
                Some(role) => parse_role(&role)?,
                None => member.role,
            };
            let issuers = if !issuers.is_empty() {
                parse_issuers(&issuers)?
            } else if role.is_scoped() {
                member.issuers.clone()
            } else {
                Vec::new()
            };
            let change = StaffChange {
                role,
                issuers,
                email: if no_email {
                    None
                } else {
                    match email.as_deref() {
                        Some(e) => Some(parse_email(e)?),
                        None => member.email.clone(),
                    }
                },
                siret: if no_siret {
                    None
                } else {
                    match siret.as_deref() {
                        Some(s) => Some(parse_siret(s)?),
                        None => member.siret.clone(),
                    }
                },
            };
            change
                .check(&registry)
                .map_err(|e| StaffCommandError::Usage(rule_text(&e)))?;
            let now = OffsetDateTime::now_utc();
            let ends_sessions = change.changes_rights_of(&member);
            let audit = NewAuditEntry {
                at: now,
                actor: Actor::Operator(operator),
                action: AuditAction::StaffChange,
                records: Vec::new(),
                link: None,
                batch: None,
                detail: format!(
                    "{login} : {}{}{}",
                    change.role,
                    scope_text(&change.issuers),
                    if ends_sessions {
                        ", sessions fermées"
                    } else {
                        ""
                    }
                ),
                origin: "cli".to_owned(),
            };
            match store
                .staff()
                .change(&login, &change, ends_sessions.then_some(now), &audit)
                .await
            {
                Ok(true) => {}
                Ok(false) | Err(AddStaffStoreError::LoginTaken) => {
                    return Err(StaffCommandError::Refused(format!(
                        "aucun compte ouvert « {login} »"
                    )));
                }
                Err(AddStaffStoreError::EmailTaken) => return Err(email_taken()),
                Err(AddStaffStoreError::Port(e)) => return Err(e.into()),
            }
            writeln!(
                out,
                "Accès de l'agent « {login} » modifié : {}{}{}.",
                change.role.label(),
                scope_text(&change.issuers),
                if ends_sessions {
                    " ; ses sessions ouvertes sont fermées"
                } else {
                    ""
                }
            )?;
        }
        StaffCommand::List { database } => {
            let store = store(&database, any_keys()).await?;
            writeln!(
                out,
                "identifiant\trôle\témetteurs\tnom\tcréé le\tfermé le\tadresse\tsiret"
            )?;
            for member in store.staff().list().await? {
                let issuers: Vec<&str> = member.issuers.iter().map(IssuerCode::code).collect();
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    member.login,
                    member.role,
                    issuers.join(","),
                    member.name,
                    rfc3339(member.created_at),
                    member.disabled_at.map(rfc3339).unwrap_or_default(),
                    member
                        .email
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    member
                        .siret
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )?;
            }
        }
        StaffCommand::Totp {
            login,
            secret: secret_args,
            database,
        } => {
            let login = StaffLogin::parse(&login).map_err(|_| {
                StaffCommandError::Usage(format!("« {login} » n'est pas un identifiant d'agent"))
            })?;
            let store = store(&database, secret(&secret_args, &database)?).await?;
            let Some(credentials) = store.staff().credentials(&login).await? else {
                return Err(StaffCommandError::Refused(format!(
                    "aucun agent « {login} »"
                )));
            };
            let totp = totp_of(&credentials.totp, &login)?;
            writeln!(
                out,
                "{}",
                sand_http::totp::current_code(&totp, OffsetDateTime::now_utc())
            )?;
        }
    }
    Ok(())
}

fn new_member(
    login: &str,
    name: &str,
    role: &str,
    issuers: &[String],
    registry: &IssuerRegistry,
) -> Result<NewStaffMember, StaffCommandError> {
    let usage = StaffCommandError::Usage;
    let member = NewStaffMember {
        login: StaffLogin::parse(login).map_err(|_| {
            usage(format!(
                "« {login} » n'est pas un identifiant : de 2 à 64 minuscules, chiffres, points, tirets ou soulignés, en commençant par une lettre"
            ))
        })?,
        name: name.trim().to_owned(),
        role: parse_role(role)?,
        issuers: parse_issuers(issuers)?,
        email: None,
        siret: None,
        created_at: OffsetDateTime::now_utc(),
    };
    member.check(registry).map_err(|e| usage(rule_text(&e)))?;
    Ok(member)
}

fn parse_role(role: &str) -> Result<Role, StaffCommandError> {
    role.parse::<Role>().map_err(|_| {
        StaffCommandError::Usage(format!(
            "rôle « {role} » inconnu (possibles : niveau1, niveau2, administrateur, auditeur)"
        ))
    })
}

fn parse_issuers(codes: &[String]) -> Result<Vec<IssuerCode>, StaffCommandError> {
    codes
        .iter()
        .map(|code| {
            IssuerCode::parse(code).map_err(|_| {
                StaffCommandError::Usage(format!("« {code} » n'est pas un code d'émetteur"))
            })
        })
        .collect()
}

fn parse_email(text: &str) -> Result<Email, StaffCommandError> {
    Email::parse(text).map_err(|_| {
        StaffCommandError::Usage(format!("« {text} » n'est pas une adresse e-mail valide"))
    })
}

fn parse_siret(text: &str) -> Result<Siret, StaffCommandError> {
    Siret::parse(text).map_err(|_| {
        StaffCommandError::Usage(format!("« {text} » n'est pas un SIRET (14 chiffres)"))
    })
}

fn email_taken() -> StaffCommandError {
    StaffCommandError::Refused(
        "cette adresse professionnelle est déjà celle d'un autre agent".to_owned(),
    )
}

fn rule_text(e: &sand_domain::staff::StaffRuleError) -> String {
    use sand_domain::staff::StaffRuleError as E;
    match e {
        E::BadName => "le nom est vide, trop long (120 caractères au plus) ou contient des caractères de contrôle".to_owned(),
        E::NoIssuer => "un agent de niveau 2 traite les résultats d'au moins un émetteur : donnez --emetteur CODE".to_owned(),
        E::IssuersNotAllowed => "seuls les agents de niveau 2 sont rattachés à des émetteurs".to_owned(),
        E::UnknownIssuer(code) => format!("émetteur « {code} » inconnu (voir `sand issuers list`)"),
    }
}

fn totp_of(secret: &TotpSecret, login: &StaffLogin) -> Result<totp_rs::Totp, StaffCommandError> {
    sand_http::totp::generator(secret.expose(), login.as_str(), "SAND espace agents")
        .map_err(|e| StaffCommandError::Secret(e.to_string()))
}

fn scope_text(issuers: &[IssuerCode]) -> String {
    if issuers.is_empty() {
        String::new()
    } else {
        let codes: Vec<&str> = issuers.iter().map(IssuerCode::code).collect();
        format!(", émetteurs {}", codes.join(", "))
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn day(text: &str, what: &str) -> Result<time::Date, StaffCommandError> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| StaffCommandError::Usage(format!("{what} « {text} » : attendu AAAA-MM-JJ")))
}

/// Runs a `sand audit` command.
///
/// # Errors
/// [`StaffCommandError`].
pub async fn audit(command: AuditCommand, out: &mut impl Write) -> Result<(), StaffCommandError> {
    match command {
        AuditCommand::Export {
            from,
            to,
            out: path,
            database,
        } => {
            let from = match from {
                Some(text) => day(&text, "--depuis")?.midnight().assume_utc(),
                None => OffsetDateTime::UNIX_EPOCH,
            };
            let to = match to {
                Some(text) => {
                    (day(&text, "--jusqua")?.midnight().assume_utc()) + time::Duration::days(1)
                }
                None => OffsetDateTime::now_utc() + time::Duration::days(1),
            };
            if to <= from {
                return Err(StaffCommandError::Usage(
                    "--jusqua précède --depuis".to_owned(),
                ));
            }
            let store = store(&database, any_keys()).await?;
            let rows = store.audit_log().entries(from, to, u64::MAX >> 1).await?;
            let csv = audit_csv(&rows)?;
            match path {
                Some(path) => {
                    write_file(&path, &csv)?;
                    writeln!(
                        out,
                        "{} ligne(s) exportée(s) dans {}.",
                        rows.len(),
                        path.display()
                    )?;
                }
                None => out.write_all(&csv)?,
            }
        }
        AuditCommand::Purge {
            retention_days,
            operator,
            database,
        } => {
            let now = OffsetDateTime::now_utc();
            let before = now - time::Duration::days(i64::from(retention_days));
            let store = store(&database, any_keys()).await?;
            let entry = NewAuditEntry {
                at: now,
                actor: Actor::Operator(operator),
                action: AuditAction::AuditPurge,
                records: Vec::new(),
                link: None,
                batch: None,
                detail: format!("avant {}", rfc3339(before)),
                origin: "cli".to_owned(),
            };
            let removed = store.audit_log().purge_before(before, &entry).await?;
            writeln!(
                out,
                "{removed} ligne(s) du journal antérieure(s) au {} supprimée(s) ; la purge est inscrite au journal.",
                rfc3339(before)
            )?;
        }
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StaffCommandError> {
    std::fs::write(path, bytes).map_err(|e| {
        StaffCommandError::Usage(format!("impossible d'écrire {} : {e}", path.display()))
    })
}

/// The log as CSV (see [`sand_http::staff::audit_csv`]).
///
/// # Errors
/// [`StaffCommandError::Io`] only.
pub fn audit_csv(rows: &[AuditEntry]) -> Result<Vec<u8>, StaffCommandError> {
    sand_http::staff::audit_csv(rows).map_err(|e| StaffCommandError::Io(io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_members_are_refused_in_french_with_the_reason() {
        let registry = IssuerRegistry::offices_only();
        let refused = |login: &str, role: &str, issuers: &[&str]| {
            let issuers: Vec<String> = issuers.iter().map(|s| (*s).to_owned()).collect();
            match new_member(login, "Agent", role, &issuers, &registry) {
                Err(StaffCommandError::Usage(text)) => text,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused("Bad Login", "niveau1", &[]).contains("n'est pas un identifiant"));
        assert!(refused("agent", "chef", &[]).contains("rôle « chef » inconnu"));
        assert!(refused("agent", "niveau2", &[]).contains("--emetteur"));
        assert!(refused("agent", "niveau2", &["ZZ"]).contains("émetteur « ZZ » inconnu"));
        assert!(refused("agent", "niveau2", &["a b"]).contains("n'est pas un code"));
        assert!(refused("agent", "auditeur", &["10"]).contains("seuls les agents de niveau 2"));
        assert!(new_member("agent", "Agent", "niveau2", &["10".into()], &registry).is_ok());
    }
}
