use super::*;
use sand_domain::SecretToken;
use sand_domain::academie::Academie;
use sand_domain::credentials::Email;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use time::macros::datetime;

pub(crate) fn settings() -> MailSettings {
    MailSettings {
        from: "Attestations d'essai <ne-pas-repondre@attestations.example.fr>"
            .parse()
            .unwrap(),
        operator: "Opérateur d'essai".to_owned(),
        public_url: "https://attestations.example.fr/".to_owned(),
    }
}

fn scope() -> DiplomaScope {
    DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    }
}

fn to() -> Email {
    Email::parse("camille.durand@exemple.fr").unwrap()
}

#[test]
fn every_mail_has_a_french_subject_a_text_and_an_html_part() {
    let mails = [
        Mail::VerifyEmail {
            to: to(),
            token: SecretToken::new("abc-DEF_123".to_owned()),
        },
        Mail::PasswordReset {
            to: to(),
            token: SecretToken::new("tok/en+=".to_owned()),
        },
        Mail::ProfileDeleted { to: to() },
        Mail::SecurityChange {
            to: to(),
            change: sand_domain::ports::SecurityChange::PasswordChanged,
        },
        Mail::SecurityChange {
            to: to(),
            change: sand_domain::ports::SecurityChange::SecondFactorDisabled,
        },
        Mail::AttestationVerified {
            to: to(),
            scope: scope(),
            at: datetime!(2026-11-24 10:05 UTC),
            organisation: Some("Société <Générale> & Cie".to_owned()),
            stop: sand_domain::SecretToken::new("arret-jeton".to_owned()),
        },
        Mail::RecordWithdrawn {
            to: to(),
            scope: scope(),
        },
        Mail::KeyGuessing {
            to: to(),
            scope: scope(),
        },
        Mail::WalletTxCode {
            to: to(),
            code: sand_domain::wallet::TxCode::parse("042917").unwrap(),
            scope: scope(),
            expires_at: datetime!(2026-11-24 10:15 UTC),
        },
        Mail::AttestationTakenOver {
            to: to(),
            scope: scope(),
        },
        Mail::LinkReleased {
            to: to(),
            scope: scope(),
            reason: sand_domain::staff::records::ReleaseReason::LostAccess,
        },
    ];
    for mail in mails {
        let (subject, text, html) = render(&mail, &settings()).unwrap();
        assert!(!subject.is_empty());
        assert!(text.contains("Opérateur d'essai"), "{text}");
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(html.contains("https://attestations.example.fr/"), "{html}");
        assert!(
            !text.contains("<p>") && !text.contains("<a "),
            "no markup in the text part: {text}"
        );
        let message = compose(&mail, &settings()).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("Content-Language: fr"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("To: camille.durand@exemple.fr"), "{raw}");
    }
}

#[test]
fn links_carry_the_token_encoded_and_html_is_escaped() {
    let (_, text, html) = render(
        &Mail::PasswordReset {
            to: to(),
            token: SecretToken::new("tok/en+=".to_owned()),
        },
        &settings(),
    )
    .unwrap();
    assert!(
        text.contains("https://attestations.example.fr/compte/mot-de-passe?jeton=tok%2Fen%2B%3D")
    );
    assert!(text.contains("1 heure"));
    assert!(html.contains("jeton=tok%2Fen%2B%3D"));

    let (_, text, html) = render(
        &Mail::AttestationVerified {
            to: to(),
            scope: scope(),
            at: datetime!(2026-11-01 08:00 UTC),
            organisation: Some("Société <Générale> & Cie".to_owned()),
            stop: sand_domain::SecretToken::new("arret-jeton".to_owned()),
        },
        &settings(),
    )
    .unwrap();
    assert!(
        text.contains("Baccalauréat général, session 2021, académie de Lyon"),
        "{text}"
    );
    assert!(
        text.contains("1er novembre 2026 à 9h00 (heure de Paris)"),
        "{text}"
    );
    assert!(text.contains("« Société <Générale> & Cie »"), "{text}");
    assert!(
        html.contains("Société &#60;Générale&#62; &#38; Cie"),
        "{html}"
    );
    assert!(!html.contains("<Générale>"));
}

/// The verification notice, the one mail the holder chose, carries its stop link in both
/// parts and in the headers mail clients read for a one-click stop (RFC 2369, RFC 8058);
/// no other mail has them.
#[test]
fn the_verification_notice_can_be_stopped_in_one_click() {
    let notice = Mail::AttestationVerified {
        to: to(),
        scope: scope(),
        at: datetime!(2026-11-01 08:00 UTC),
        organisation: None,
        stop: sand_domain::SecretToken::new("ab.12/cd+".to_owned()),
    };
    let link = "https://attestations.example.fr/notifications/arreter?jeton=ab.12%2Fcd%2B";
    let (_, text, html) = render(&notice, &settings()).unwrap();
    assert!(
        text.contains(&format!(
            "Pour ne plus être prévenu des vérifications : {link}"
        )),
        "{text}"
    );
    assert!(
        html.contains(&format!(r#"<a href="{link}">Ne plus être prévenu"#)),
        "{html}"
    );
    let raw = String::from_utf8(compose(&notice, &settings()).unwrap().formatted()).unwrap();
    assert!(
        raw.contains(&format!("List-Unsubscribe: <{link}>\r\n")),
        "{raw}"
    );
    assert!(
        raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
        "{raw}"
    );

    let other = compose(
        &Mail::RecordWithdrawn {
            to: to(),
            scope: scope(),
        },
        &settings(),
    )
    .unwrap();
    assert!(
        !String::from_utf8(other.formatted())
            .unwrap()
            .contains("List-Unsubscribe")
    );
}

#[test]
fn the_transaction_code_mail_shows_the_code_and_its_end_in_paris_time() {
    let (subject, text, html) = render(
        &Mail::WalletTxCode {
            to: to(),
            code: sand_domain::wallet::TxCode::parse("042917").unwrap(),
            scope: scope(),
            expires_at: datetime!(2026-11-24 10:15 UTC),
        },
        &settings(),
    )
    .unwrap();
    assert!(subject.contains("portefeuille"));
    assert!(text.contains("    042917\n"), "{text}");
    assert!(text.contains("11h15 (heure de Paris)"), "{text}");
    assert!(html.contains(">042917</p>"), "{html}");
}
