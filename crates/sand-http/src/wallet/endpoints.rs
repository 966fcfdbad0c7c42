//! The credential issuer's endpoints (OpenID4VCI 1.0, pre-authorized code flow) and its
//! metadata. Errors are OAuth's (`{"error", "error_description"}`, RFC 6749 §5.2 and
//! OpenID4VCI §8.3.1.2); none is logged above INFO: a wallet's refusal is expected.
//! Every answer that carries a secret or a nonce is `Cache-Control: no-store`.

use std::sync::Arc;

use bytes::Bytes;
use poem::http::{StatusCode, header};
use poem::web::Data;
use poem::{Request, Response, handler};
use sand_domain::wallet::{IssueCredentialError, RedeemError, RedeemRefusal};
use serde_json::{Value, json};

use super::{CONFIGURATION_ID, CREDENTIAL_PATH, NONCE_MINUTES, NONCE_PATH, PRE_AUTHORIZED_GRANT};
use super::{TOKEN_PATH, Wallet};
use crate::error::WebError;
use crate::state::AppState;
use crate::tokens::Purpose;

fn wallet(state: &AppState) -> Result<&Wallet, WebError> {
    state.wallet.as_ref().ok_or(WebError::NotFound)
}

fn no_store_json(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.to_string())
}

/// An OAuth error answer; `code` is the stable code the wallet acts on.
fn refusal(status: StatusCode, code: &'static str, description: &str) -> Response {
    tracing::info!(error = code, reason = description, "wallet request refused");
    no_store_json(
        status,
        &json!({ "error": code, "error_description": description }),
    )
}

fn public_json(body: &Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .header("access-control-allow-origin", "*")
        .body(body.to_string())
}

/// The claims of the credential, as wallets display them (French and English).
const CLAIMS: &[(&str, &str, &str)] = &[
    ("nom_naissance", "Nom de naissance", "Birth name"),
    ("nom_usage", "Nom d'usage", "Name in use"),
    ("prenoms", "Prénoms", "Given names"),
    ("date_naissance", "Date de naissance", "Date of birth"),
    ("intitule", "Diplôme", "Diploma"),
    ("diplome", "Code du diplôme", "Diploma code"),
    ("specialite", "Spécialité", "Speciality"),
    ("session", "Session", "Session"),
    ("mention", "Mention", "Honours"),
    (
        "date_deliberation",
        "Date de délibération du jury",
        "Date of the jury's decision",
    ),
    ("academie_nom", "Académie", "Académie (education region)"),
    ("academie", "Code de l'académie", "Académie code"),
    ("resultat_tenu_par", "Résultat tenu par", "Result held by"),
];

/// `/.well-known/openid-credential-issuer`: what the issuer offers and where.
#[handler]
pub async fn issuer_metadata(state: Data<&Arc<AppState>>) -> Result<Response, WebError> {
    let issuer = &wallet(&state)?.issuer;
    let operator = &state.settings.operator_name;
    let claims: Vec<Value> = CLAIMS
        .iter()
        .map(|(name, fr, en)| {
            json!({
                "path": [name],
                "display": [{ "name": fr, "locale": "fr" }, { "name": en, "locale": "en" }],
            })
        })
        .collect();
    Ok(public_json(&json!({
        "credential_issuer": issuer,
        "credential_endpoint": format!("{issuer}{CREDENTIAL_PATH}"),
        "nonce_endpoint": format!("{issuer}{NONCE_PATH}"),
        "display": [
            { "name": operator, "locale": "fr" },
            { "name": operator, "locale": "en" },
        ],
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": sand_attestation::sd_jwt::SD_JWT_VC_TYPE,
                "vct": sand_attestation::sd_jwt::VCT,
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["ES256"],
                "proof_types_supported": {
                    "jwt": { "proof_signing_alg_values_supported": ["ES256"] },
                },
                "credential_metadata": {
                    "display": [
                        { "name": "Attestation de diplôme", "locale": "fr" },
                        { "name": "Diploma certificate", "locale": "en" },
                    ],
                    "claims": claims,
                },
            },
        },
    })))
}

/// `/.well-known/oauth-authorization-server` (RFC 8414): the issuer is its own
/// authorization server, with the pre-authorized code grant only, for wallets that do
/// not authenticate (anonymous access).
#[handler]
pub async fn authorization_server_metadata(
    state: Data<&Arc<AppState>>,
) -> Result<Response, WebError> {
    let issuer = &wallet(&state)?.issuer;
    Ok(public_json(&json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}{TOKEN_PATH}"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": true,
    })))
}

fn media_type_is(req: &Request, expected: &str) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
}

/// The form's parameters, each at most once (RFC 6749 §3.2), or why not.
fn form_parameters(body: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| "the body is not a URL-encoded form")?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(other, _)| other == name) {
            return Err("a parameter is repeated");
        }
    }
    Ok(pairs)
}

/// The token endpoint: the offer's pre-authorized code and the mailed transaction code
/// for an access token (one credential, a few minutes).
#[handler]
pub async fn token_endpoint(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Bytes,
) -> Result<Response, WebError> {
    let wallet = wallet(&state)?;
    let bad = |text: &str| refusal(StatusCode::BAD_REQUEST, "invalid_request", text);
    if !media_type_is(req, "application/x-www-form-urlencoded") {
        return Ok(bad("the request must be application/x-www-form-urlencoded"));
    }
    let parameters = match form_parameters(&body) {
        Ok(p) => p,
        Err(why) => return Ok(bad(why)),
    };
    let get = |name: &str| {
        parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    match get("grant_type") {
        None => return Ok(bad("grant_type is missing")),
        Some(PRE_AUTHORIZED_GRANT) => {}
        Some(_) => {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the pre-authorized code grant is supported",
            ));
        }
    }
    let Some(code) = get("pre-authorized_code") else {
        return Ok(bad("pre-authorized_code is missing"));
    };
    let Some(tx_code) = get("tx_code") else {
        return Ok(bad(
            "tx_code is missing: the offer's transaction code was sent by e-mail",
        ));
    };
    match wallet.redeem.execute(code, tx_code).await {
        Ok(access) => Ok(no_store_json(
            StatusCode::OK,
            &json!({
                "access_token": access.token.expose(),
                "token_type": "Bearer",
                "expires_in": access.lifetime.whole_seconds(),
            }),
        )),
        Err(RedeemError::Refused(RedeemRefusal::InvalidCode)) => Ok(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the pre-authorized code is unknown, expired or already used",
        )),
        Err(RedeemError::Refused(RedeemRefusal::WrongTxCode { left })) => Ok(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &if left == 0 {
                "wrong transaction code: the offer has ended, make a new one".to_owned()
            } else {
                format!("wrong transaction code ({left} tries left)")
            },
        )),
        Err(RedeemError::Unexpected(e)) => Err(e.into()),
    }
}

/// The nonce endpoint: a fresh `c_nonce` the next key proof must carry (stateless:
/// signed with the server secret, valid a few minutes).
#[handler]
pub async fn nonce_endpoint(state: Data<&Arc<AppState>>) -> Result<Response, WebError> {
    wallet(&state)?;
    let now = state.ports.clock.now();
    let c_nonce = state.signer.sign(
        Purpose::WalletNonce,
        &crate::system::random_token()[..32],
        "",
        now + time::Duration::minutes(NONCE_MINUTES),
    );
    Ok(no_store_json(
        StatusCode::OK,
        &json!({ "c_nonce": c_nonce }),
    ))
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// 401 with the Bearer challenge (RFC 6750 §3): `challenge` is `Bearer` alone when no
/// token came, with `error="invalid_token"` when one did.
fn unauthorized(description: &str, challenge: &'static str) -> Response {
    let mut response = refusal(StatusCode::UNAUTHORIZED, "invalid_token", description);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        poem::http::HeaderValue::from_static(challenge),
    );
    response
}

/// The one key proof of a credential request, or the OAuth error code and the reason
/// to answer with.
fn the_proof(request: &Value) -> Result<&str, (&'static str, &'static str)> {
    const INVALID: &str = "invalid_credential_request";
    let Some(request) = request.as_object() else {
        return Err((INVALID, "the body is not a JSON object"));
    };
    if request.contains_key("credential_identifier") {
        return Err((
            INVALID,
            "this issuer names credentials by credential_configuration_id",
        ));
    }
    match request.get("credential_configuration_id") {
        None => return Err((INVALID, "credential_configuration_id is missing")),
        Some(Value::String(id)) if id == CONFIGURATION_ID => {}
        Some(_) => {
            return Err((
                "unknown_credential_configuration",
                "this issuer offers attestation_diplome_sd_jwt only",
            ));
        }
    }
    if request.contains_key("proof") {
        return Err((INVALID, "the key proof goes in proofs.jwt (OpenID4VCI 1.0)"));
    }
    let proofs = request.get("proofs").and_then(Value::as_object);
    let jwts = match proofs {
        Some(p) if p.len() == 1 => p.get("jwt").and_then(Value::as_array),
        _ => None,
    };
    match jwts.map(Vec::as_slice) {
        Some([Value::String(jwt)]) => Ok(jwt),
        Some(_) => Err((
            INVALID,
            "one credential per offer: proofs.jwt holds exactly one proof",
        )),
        None => Err((INVALID, "a key proof of type jwt is required (proofs.jwt)")),
    }
}

/// The credential endpoint: the access token and a key proof for the SD-JWT VC bound
/// to the proven key. The request is checked before the token is used up, so that a
/// wallet told `invalid_nonce` can try again with a fresh one.
#[handler]
pub async fn credential_endpoint(
    state: Data<&Arc<AppState>>,
    req: &Request,
    body: Bytes,
) -> Result<Response, WebError> {
    let wallet = wallet(&state)?;
    let Some(token) = bearer(req) else {
        return Ok(unauthorized("an access token is required", "Bearer"));
    };
    if !media_type_is(req, "application/json") {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_credential_request",
            "the request must be application/json",
        ));
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_credential_request",
            "the body is not JSON",
        ));
    };
    let proof = match the_proof(&request) {
        Ok(proof) => proof,
        Err((code, why)) => return Ok(refusal(StatusCode::BAD_REQUEST, code, why)),
    };
    let now = state.ports.clock.now();
    let proven =
        match sand_attestation::key_proof::check(proof, &wallet.issuer, now.unix_timestamp()) {
            Ok(proven) => proven,
            Err(e) => {
                return Ok(refusal(
                    StatusCode::BAD_REQUEST,
                    "invalid_proof",
                    &e.to_string(),
                ));
            }
        };
    if state
        .signer
        .open(Purpose::WalletNonce, &proven.nonce, "", now)
        .is_none()
    {
        return Ok(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_nonce",
            "the proof's nonce is not a fresh one of this issuer: ask the nonce endpoint",
        ));
    }
    match wallet.issue.execute(token, &proven.jwk.to_string()).await {
        Ok(credential) => {
            tracing::info!("wallet credential issued");
            Ok(no_store_json(
                StatusCode::OK,
                &json!({ "credentials": [{ "credential": credential }] }),
            ))
        }
        Err(IssueCredentialError::InvalidToken) => Ok(unauthorized(
            "the access token is unknown, expired or already used",
            "Bearer error=\"invalid_token\"",
        )),
        Err(IssueCredentialError::LinkEnded) => Ok(refusal(
            StatusCode::BAD_REQUEST,
            "credential_request_denied",
            "the attestation is no longer held by its holder",
        )),
        Err(IssueCredentialError::Unexpected(e)) => Err(e.into()),
    }
}
