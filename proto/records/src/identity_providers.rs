//! The producer policy's `[[idp]]` tables: the identity providers whose ID
//! tokens bind an approval to a login (issue 19), and `require_idp`.
//!
//! ```toml
//! # Optional, default false: every authorization must carry an ID token
//! # from one of the providers below; the log refuses one without, and the
//! # auditor flags it (authorization_not_idp_bound).
//! require_idp = true
//!
//! [[idp]]
//! name = "corp-sso"                          # unique, in messages and reports
//! issuer = "https://sso.corp.example"        # exactly the tokens' iss
//! audience = "causeway-approve"              # the approval tool's client ID
//! # The provider's JWKS, saved from its jwks_uri, so audits need no
//! # network. Relative to the policy file. Or inline: jwks = '{"keys":[…]}'.
//! jwks_file = "corp-sso.jwks.json"
//! # Optional, default "15m": the oldest login an approval may rest on
//! # (auth_time before the record's time).
//! max_auth_age = "15m"
//! # Optional: keys rotated out. Tokens they issued after not_after are
//! # refused; earlier ones still verify.
//! retired = [{ kid = "2026-q3", not_after = "2026-10-01T00:00:00Z" }]
//! ```

use causeway_oidc::{IdentityProvider, IdpSettings, RetiredKey};
use serde::Deserialize;
use toml::Spanned;

use super::policy::PolicyError;
use super::time::Time;

/// The default of `max_auth_age`: fifteen minutes.
pub const DEFAULT_MAX_AUTH_AGE_SECS: i64 = 900;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdpFile {
    name: Spanned<String>,
    issuer: Spanned<String>,
    audience: Spanned<String>,
    jwks_file: Option<Spanned<String>>,
    jwks: Option<Spanned<String>>,
    max_auth_age: Option<Spanned<String>>,
    #[serde(default)]
    retired: Vec<RetiredFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetiredFile {
    kid: Spanned<String>,
    not_after: Spanned<String>,
}

/// Reads a file the policy names (`jwks_file`), relative to the policy.
pub type ReadFile<'a> = dyn FnMut(&str) -> Result<String, String> + 'a;

/// Checks the `[[idp]]` tables and pins each provider. `at` turns a byte
/// offset and a message into a [`PolicyError`] with its line.
pub(crate) fn parse(
    files: Vec<IdpFile>,
    read: &mut ReadFile<'_>,
    at: &dyn Fn(usize, String) -> PolicyError,
    parse_duration: &dyn Fn(&str) -> Option<i64>,
) -> Result<Vec<IdentityProvider>, PolicyError> {
    let mut providers: Vec<IdentityProvider> = Vec::with_capacity(files.len());
    for idp in files {
        let name = idp.name.get_ref();
        let start = idp.name.span().start;
        if name.trim().is_empty() {
            return Err(at(start, String::from("an idp's name must not be empty")));
        }
        if providers.iter().any(|p| p.name() == name) {
            return Err(at(start, format!("idp name {name:?} is used twice")));
        }
        if providers.iter().any(|p| p.issuer() == idp.issuer.get_ref()) {
            return Err(at(
                idp.issuer.span().start,
                format!(
                    "idp issuer {:?} is pinned twice; pin each provider once",
                    idp.issuer.get_ref()
                ),
            ));
        }
        let jwks = match (&idp.jwks_file, &idp.jwks) {
            (Some(file), None) => read(file.get_ref()).map_err(|e| {
                at(
                    file.span().start,
                    format!(
                        "idp {name:?}: jwks_file {:?}: {e}; save the provider's JWKS (its \
                         jwks_uri) there",
                        file.get_ref()
                    ),
                )
            })?,
            (None, Some(inline)) => inline.get_ref().clone(),
            _ => {
                return Err(at(
                    start,
                    format!("idp {name:?}: give exactly one of jwks_file and jwks"),
                ));
            }
        };
        let max_auth_age_secs = match &idp.max_auth_age {
            None => DEFAULT_MAX_AUTH_AGE_SECS,
            Some(age) => parse_duration(age.get_ref()).ok_or_else(|| {
                at(
                    age.span().start,
                    format!(
                        "idp {name:?}: max_auth_age {:?} is not a duration like \"15m\"",
                        age.get_ref()
                    ),
                )
            })?,
        };
        let mut retired = Vec::with_capacity(idp.retired.len());
        for r in &idp.retired {
            let not_after = Time::parse_rfc3339(r.not_after.get_ref()).map_err(|e| {
                at(
                    r.not_after.span().start,
                    format!("idp {name:?}: retired key not_after: {e}"),
                )
            })?;
            retired.push(RetiredKey {
                kid: r.kid.get_ref().clone(),
                not_after: not_after.seconds(),
            });
        }
        let provider = IdentityProvider::new(&IdpSettings {
            name,
            issuer: idp.issuer.get_ref(),
            audience: idp.audience.get_ref(),
            jwks: &jwks,
            retired: &retired,
            max_auth_age_secs,
        })
        .map_err(|e| at(start, format!("idp {name:?}: {e}")))?;
        providers.push(provider);
    }
    Ok(providers)
}
