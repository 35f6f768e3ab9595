//! The arithmetic of an OpenID Connect authorization-code login with PKCE
//! and a loopback redirect, as a native app does it (RFC 8252; `gcloud
//! auth login` works this way). The caller listens on the redirect URI,
//! opens the URL, and makes the HTTP requests.
//!
//! Kept by hand rather than taken from the `openidconnect` crate: the
//! login needs one URL, one random state and verifier, and two JSON
//! documents read; that crate brings its own HTTP stack and a second
//! JWT verifier, and the token is verified by [`crate::verify`] anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::LoginError;

/// The parts of an OpenID Provider's discovery document
/// (`/.well-known/openid-configuration`) the login uses.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    /// The provider's issuer; must be the one asked for.
    pub issuer: String,
    /// Where the browser goes to log in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged for tokens.
    pub token_endpoint: String,
    /// The provider's public keys.
    pub jwks_uri: String,
    /// The PKCE methods offered; absent means unknown.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl Discovery {
    /// Reads a discovery document and checks it is `issuer`'s (OpenID
    /// Connect Discovery §4.3) and offers PKCE with S256 when it lists
    /// methods.
    ///
    /// # Errors
    /// [`LoginError`] naming what does not match.
    pub fn parse(json: &str, issuer: &str) -> Result<Self, LoginError> {
        let doc: Discovery = serde_json::from_str(json).map_err(|e| LoginError::Url {
            what: "the discovery document",
            url: issuer.to_owned(),
            why: e.to_string(),
        })?;
        if doc.issuer != issuer {
            return Err(LoginError::DiscoveryIssuer {
                got: doc.issuer,
                want: issuer.to_owned(),
            });
        }
        if let Some(methods) = &doc.code_challenge_methods_supported
            && !methods.iter().any(|m| m == "S256")
        {
            return Err(LoginError::NoPkce(methods.clone()));
        }
        Ok(doc)
    }
}

/// The token endpoint's answer, of which only the ID token is used.
#[derive(Clone, Debug, Deserialize)]
pub struct TokenResponse {
    /// The ID token, a compact JWS.
    pub id_token: String,
}

impl TokenResponse {
    /// Reads the token endpoint's JSON answer.
    ///
    /// # Errors
    /// [`LoginError::TokenResponse`], or [`LoginError::Refused`] for an
    /// OAuth error answer.
    pub fn parse(json: &str) -> Result<Self, LoginError> {
        #[derive(Deserialize)]
        struct OauthError {
            error: String,
            error_description: Option<String>,
        }
        if let Ok(e) = serde_json::from_str::<OauthError>(json) {
            return Err(LoginError::Refused {
                error: e.error,
                description: e.error_description,
            });
        }
        serde_json::from_str(json).map_err(|e| LoginError::TokenResponse(e.to_string()))
    }
}

/// One login in progress: the URL to open and the secrets the redirect
/// and the code exchange are checked with.
#[derive(Clone, Debug)]
pub struct LoginRequest {
    /// The URL the person opens.
    pub url: Url,
    /// Where the provider sends the browser back.
    pub redirect_uri: String,
    /// Random; the redirect must carry it back (CSRF).
    pub state: String,
    /// Random; sent with the code so that only this process can redeem it.
    pub code_verifier: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE's S256 challenge of a verifier (RFC 7636 §4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl LoginRequest {
    /// A new login: fresh state and PKCE verifier, and the authorization
    /// URL asking for `openid email`, a code, and `nonce`.
    ///
    /// # Errors
    /// [`LoginError::Url`] if the endpoint is not a URL.
    pub fn new(
        authorization_endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
        nonce: &str,
    ) -> Result<Self, LoginError> {
        let mut url = Url::parse(authorization_endpoint).map_err(|e| LoginError::Url {
            what: "the authorization endpoint",
            url: authorization_endpoint.to_owned(),
            why: e.to_string(),
        })?;
        let state = random_token();
        let code_verifier = random_token();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email")
            .append_pair("state", &state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &code_challenge(&code_verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(LoginRequest {
            url,
            redirect_uri: redirect_uri.to_owned(),
            state,
            code_verifier,
        })
    }

    /// The authorization code from the redirect's query string, once its
    /// state is checked.
    ///
    /// # Errors
    /// [`LoginError::Refused`] when the provider sent an error,
    /// [`LoginError::State`] when the state is not this login's,
    /// [`LoginError::NoCode`] when there is no code.
    pub fn code_from_redirect(&self, query: &str) -> Result<String, LoginError> {
        let mut code = None;
        let mut state = None;
        let mut error = None;
        let mut description = None;
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "code" => code = Some(value.into_owned()),
                "state" => state = Some(value.into_owned()),
                "error" => error = Some(value.into_owned()),
                "error_description" => description = Some(value.into_owned()),
                _ => {}
            }
        }
        if state.as_deref() != Some(self.state.as_str()) {
            return Err(LoginError::State);
        }
        if let Some(error) = error {
            return Err(LoginError::Refused { error, description });
        }
        code.ok_or(LoginError::NoCode)
    }

    /// The form body of the code exchange (RFC 6749 §4.1.3 with the PKCE
    /// verifier; a public client, so no secret).
    pub fn token_request_body(&self, client_id: &str, code: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("client_id", client_id)
            .append_pair("code_verifier", &self.code_verifier)
            .finish()
    }
}
