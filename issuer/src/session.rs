//! Session keys, derived rather than stored: HMAC-SHA256 of the issuer's
//! secret and the request id gives the P-256 scalar. A retry of a request
//! gets the same key back, and the issuer can sign a delegated credential
//! with its parent's session key, without any private key on disk in
//! clear other than the secret itself.

use std::path::Path;

use anyhow::Context as _;
use causeway_records::ProducerKey;
use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
use rand::RngCore as _;

/// The derivation secret: 32 random bytes in `state_dir/secret` (0600),
/// made on first start.
pub struct Secret(ring::hmac::Key);

impl Secret {
    /// Loads the secret, creating it when absent.
    ///
    /// # Errors
    /// If it cannot be read or written, or is not 32 bytes.
    pub fn load_or_create(state_dir: &Path) -> anyhow::Result<Secret> {
        let path = state_dir.join("secret");
        if !path.exists() {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            causeway_io::files::create_private(&path, &bytes)
                .with_context(|| format!("cannot create {}", path.display()))?;
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "{} is {} bytes, not 32: it is not an issuer secret (move it away to make a new \
             one, which changes every session key not yet issued)",
            path.display(),
            bytes.len()
        );
        Ok(Secret(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &bytes,
        )))
    }

    /// The session key of `request_id`, with its PKCS#8 DER.
    pub fn session_key(&self, request_id: &str) -> anyhow::Result<(ProducerKey, Vec<u8>)> {
        // A digest that is zero or at least the group order is not a
        // scalar (probability about 2^-32); the counter moves past it.
        for counter in 0u8..=255 {
            let mut ctx = ring::hmac::Context::with_key(&self.0);
            ctx.update(b"causeway-issuer session key v1\0");
            ctx.update(request_id.as_bytes());
            ctx.update(&[0, counter]);
            let tag = ctx.sign();
            let Ok(key) = p256::ecdsa::SigningKey::from_slice(tag.as_ref()) else {
                continue;
            };
            let der = key.to_pkcs8_der().context("encoding a session key")?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .context("encoding a session key")?;
            let producer = ProducerKey::from_pkcs8_pem(&pem)?;
            return Ok((producer, der.as_bytes().to_vec()));
        }
        anyhow::bail!("no session key could be derived for this request id")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn keys_are_derived_per_request_and_the_secret_persists() {
        let dir = std::env::temp_dir().join(format!(
            "causeway-issuer-secret-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let one = Secret::load_or_create(&dir).unwrap();
        let (a, a_der) = one.session_key("r-1").unwrap();
        let (b, _) = one.session_key("r-2").unwrap();
        assert_ne!(a.key_id(), b.key_id());
        let again = Secret::load_or_create(&dir).unwrap();
        let (a2, a2_der) = again.session_key("r-1").unwrap();
        assert_eq!(a.key_id(), a2.key_id());
        assert_eq!(a_der, a2_der);
        std::fs::write(dir.join("secret"), b"short").unwrap();
        assert!(Secret::load_or_create(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
