//! What a form says of a value it refused, in French: one sentence per domain error,
//! naming the field (the registration, login, password and verification forms share
//! them).

use sand_domain::credentials::{EmailError, PasswordError};
use sand_domain::identity::{BirthDateError, FirstNamesError, NameError};

pub(crate) fn name_error(field: &str, e: &NameError) -> String {
    match e {
        NameError::Empty => format!("{field} : ce champ est obligatoire."),
        NameError::TooLong { max } => format!("{field} : {max} caractères au plus."),
        NameError::ForbiddenCharacter(c) => {
            format!(
                "{field} : le caractère « {} » n'est pas admis dans un nom.",
                c.escape_default()
            )
        }
        NameError::NoLetter => format!("{field} : indiquez au moins une lettre."),
    }
}

pub(crate) fn first_names_error(e: &FirstNamesError) -> String {
    match e {
        FirstNamesError::Missing => "Prénoms : indiquez au moins un prénom.".to_owned(),
        FirstNamesError::TooMany { max } => format!("Prénoms : {max} prénoms au plus."),
        FirstNamesError::Invalid { position, source } => {
            name_error(&format!("Prénom n° {position}"), source)
        }
    }
}

pub(crate) fn birth_date_error(e: &BirthDateError) -> String {
    match e {
        BirthDateError::Unreadable => {
            "Date de naissance : écrivez-la sous la forme jj/mm/aaaa, par exemple 14/07/2003."
        }
        BirthDateError::NotACalendarDate => "Date de naissance : cette date n'existe pas.",
        BirthDateError::TooEarly => {
            "Date de naissance : elle doit être postérieure au 1er janvier 1900."
        }
        BirthDateError::InTheFuture => "Date de naissance : elle ne peut pas être dans le futur.",
    }
    .to_owned()
}

pub(crate) fn email_error(e: &EmailError) -> String {
    match e {
        EmailError::Empty => "Adresse e-mail : ce champ est obligatoire.",
        EmailError::TooLong => "Adresse e-mail : 254 caractères au plus.",
        EmailError::Malformed => "Adresse e-mail : elle doit avoir la forme nom@domaine.fr.",
    }
    .to_owned()
}

pub(crate) fn password_error(e: &PasswordError) -> String {
    match e {
        PasswordError::TooShort => "Mot de passe : 12 caractères au moins.",
        PasswordError::TooLong => "Mot de passe : 256 caractères au plus.",
        PasswordError::TooWeak => "Mot de passe : trop simple ou trop courant. Choisissez par exemple une phrase de plusieurs mots.",
        PasswordError::ContainsPersonalData => "Mot de passe : il ne doit contenir ni votre nom ni votre adresse e-mail.",
    }
    .to_owned()
}
