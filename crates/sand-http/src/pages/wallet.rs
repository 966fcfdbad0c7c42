//! "Ajouter à mon portefeuille": the holder's page that makes a credential offer for one
//! diploma (QR code and link) whose transaction code goes to them by e-mail.

use std::sync::Arc;

use askama::Template;
use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{IntoResponse, Response, handler};
use sand_domain::wallet::{MAX_WRONG_TX_CODES, OFFER_MINUTES};

use crate::error::WebError;
use crate::graduate;
use crate::state::AppState;
use crate::web::{Chrome, SignedIn, Visitor, link_id, page};

/// An offer as the page shows it.
struct ShownOffer {
    uri: String,
    qr_svg: String,
    /// "24 novembre 2026 à 11h05".
    until: String,
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    chrome: Chrome,
    diploma_id: String,
    diploma: String,
    offer: Option<ShownOffer>,
    minutes: i64,
    tries: u32,
}

/// The offer as a QR code: level L (7 % correction) keeps the modules large enough for a
/// phone's camera with an offer of some 500 characters.
fn offer_qr(uri: &str) -> Result<qrcode::QrCode, qrcode::types::QrError> {
    qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::L)
}

fn qr_svg(uri: &str) -> Result<String, WebError> {
    let code = offer_qr(uri).map_err(WebError::unexpected)?;
    Ok(super::qr::inline_svg(
        &code,
        280,
        "QR code de l'offre, à scanner avec votre portefeuille numérique",
    ))
}

async fn wallet_page(
    state: &AppState,
    visitor: &Visitor,
    signed_in: &SignedIn,
    id: &str,
    offer: Option<ShownOffer>,
) -> Result<Response, WebError> {
    if state.wallet.is_none() {
        return Err(WebError::NotFound);
    }
    let link = link_id(id)?;
    let diploma = graduate::diploma(state, signed_in, link).await?;
    if !diploma.link.is_active() {
        return Err(WebError::Withdrawn);
    }
    let title = format!(
        "{} — session {}",
        diploma.record.scope.kind.title(),
        diploma.record.scope.session
    );
    let chrome_title = if offer.is_some() {
        format!("Offre prête — Ajouter à mon portefeuille : {title}")
    } else {
        format!("Ajouter à mon portefeuille : {title}")
    };
    let shown = offer.is_some();
    let response = page(
        StatusCode::OK,
        &WalletPage {
            chrome: Chrome::new(state, visitor, chrome_title),
            diploma_id: link.0.to_string(),
            diploma: title,
            offer,
            minutes: OFFER_MINUTES,
            tries: MAX_WRONG_TX_CODES,
        },
    )?;
    // the offer's code is a secret: no cache keeps the page
    Ok(if shown {
        response
            .with_header(header::CACHE_CONTROL, "no-store")
            .into_response()
    } else {
        response
    })
}

/// What adding a diploma to a wallet means, and the button that makes the offer.
#[handler]
pub async fn show(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    wallet_page(&state, &visitor, &signed_in, &id, None).await
}

/// Makes an offer (ending the diploma's previous unused one) and shows it; its
/// transaction code is mailed.
#[handler]
pub async fn make_offer(
    state: Data<&Arc<AppState>>,
    visitor: Data<&Visitor>,
    signed_in: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (offer_uri, expires_at) =
        graduate::offer_to_wallet(&state, &signed_in, visitor.client, link_id(&id)?).await?;
    let shown = ShownOffer {
        qr_svg: qr_svg(&offer_uri)?,
        uri: offer_uri,
        until: sand_domain::text::french_moment(expires_at),
    };
    wallet_page(&state, &visitor, &signed_in, &id, Some(shown)).await
}

#[cfg(test)]
mod tests {
    use sand_domain::wallet::PreAuthorizedCode;

    use super::*;

    #[test]
    fn the_qr_code_reads_back_as_the_whole_offer() {
        let code = PreAuthorizedCode::from_random_bytes([9; 32]);
        // a long public address, as an académie's deployment could have
        let uri = crate::wallet::offer_uri(
            "https://attestations-diplomes.ac-clermont-ferrand.education.gouv.fr",
            &code,
        );
        let qr = offer_qr(&uri).unwrap();
        let (width, colors) = (qr.width(), qr.to_colors());
        let (scale, quiet) = (4, 4);
        let side = (width + 2 * quiet) * scale;
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(side, side, |x, y| {
            let (column, row) = (x / scale, y / scale);
            (quiet..width + quiet).contains(&column)
                && (quiet..width + quiet).contains(&row)
                && colors[(row - quiet) * width + column - quiet] == qrcode::Color::Dark
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, uri);
        // the version a phone must read
        assert!(width <= 97, "{width} modules");
    }
}
