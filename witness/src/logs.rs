//! The logs a witness trusts, from their verifier keys.
//!
//! A log's origin is the name of its keys (C2SP tlog-checkpoint asks logs
//! to name their keys after the origin). Several keys with one name are
//! keys of the same log: a Causeway log signs with both ECDSA P-256 (0x02)
//! and Ed25519 (0x01), and a checkpoint is accepted when any of them signed
//! it and none of the trusted keys' signatures fails.

use std::collections::BTreeMap;

use causeway_tlog::note::{KeyError, NoteVerifier, SignatureType, VerifierKey};

/// Why the trusted log configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogsError {
    /// A vkey did not parse.
    #[error("log key {vkey:?}: {error}")]
    Parse {
        /// The text given.
        vkey: String,
        /// What is wrong with it.
        error: KeyError,
    },
    /// A witness cosignature key was given as a log key.
    #[error(
        "log key {0} is a witness cosignature key (type 0x04), not a log key; logs sign with Ed25519 (0x01), ECDSA (0x02) or RFC 6962 (0x05) keys"
    )]
    CosignatureKey(String),
    /// Two different keys share a name and key ID, so signatures cannot be
    /// attributed to either.
    #[error("log keys {0} and {1} have the same name and key ID")]
    KeyIdCollision(String, String),
    /// No log is configured.
    #[error("no trusted log: give at least one log verifier key")]
    Empty,
}

/// The trusted logs: origin → verifier keys.
#[derive(Clone, Debug, Default)]
pub struct TrustedLogs {
    logs: BTreeMap<String, Vec<VerifierKey>>,
}

impl TrustedLogs {
    /// Groups parsed keys by origin. Exact duplicates are dropped.
    ///
    /// # Errors
    /// A cosignature key, a key-ID collision, or no key at all.
    pub fn new(keys: impl IntoIterator<Item = VerifierKey>) -> Result<Self, LogsError> {
        let mut logs: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
        for key in keys {
            if key.kind() == SignatureType::Cosignature {
                return Err(LogsError::CosignatureKey(key.to_string()));
            }
            let same_origin = logs.entry(key.name().to_string()).or_default();
            match same_origin.iter().find(|k| k.key_id() == key.key_id()) {
                Some(k) if *k == key => {}
                Some(k) => return Err(LogsError::KeyIdCollision(k.to_string(), key.to_string())),
                None => same_origin.push(key),
            }
        }
        if logs.is_empty() {
            return Err(LogsError::Empty);
        }
        Ok(TrustedLogs { logs })
    }

    /// Parses vkey strings (`<name>+<hex id>+<base64>`) and groups them.
    ///
    /// # Errors
    /// As [`TrustedLogs::new`], plus vkeys that do not parse.
    pub fn parse<S: AsRef<str>>(vkeys: &[S]) -> Result<Self, LogsError> {
        let keys = vkeys
            .iter()
            .map(|v| {
                VerifierKey::parse(v.as_ref()).map_err(|error| LogsError::Parse {
                    vkey: v.as_ref().to_owned(),
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// The trusted origins, sorted.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The keys of `origin`, if it is trusted.
    pub fn keys(&self, origin: &str) -> Option<&[VerifierKey]> {
        self.logs.get(origin).map(Vec::as_slice)
    }

    /// Origin and keys of every log.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[VerifierKey])> {
        self.logs.iter().map(|(o, k)| (o.as_str(), k.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use causeway_tlog::note::{CosignatureSigner, EcdsaSigner, Ed25519Signer, KeyName};

    use super::*;

    #[test]
    fn groups_keys_by_name() {
        let mut rng = rand::thread_rng();
        let name = KeyName::new("example.com/log").unwrap();
        let ed = Ed25519Signer::generate(name.clone(), &mut rng).verifier();
        let ec = EcdsaSigner::generate(name, &mut rng).verifier();
        let other = Ed25519Signer::generate(KeyName::new("b.example/x").unwrap(), &mut rng)
            .verifier()
            .to_string();
        let logs =
            TrustedLogs::parse(&[ed.to_string(), ec.to_string(), other, ed.to_string()]).unwrap();
        assert_eq!(
            logs.origins().collect::<Vec<_>>(),
            ["b.example/x", "example.com/log"]
        );
        assert_eq!(logs.keys("example.com/log").unwrap().len(), 2);
        assert!(logs.keys("nope").is_none());
    }

    #[test]
    fn refuses_cosignature_keys_garbage_and_nothing() {
        let w = CosignatureSigner::generate(KeyName::new("w").unwrap(), &mut rand::thread_rng());
        assert!(matches!(
            TrustedLogs::parse(&[w.verifier().to_string()]),
            Err(LogsError::CosignatureKey(_))
        ));
        assert!(matches!(
            TrustedLogs::parse(&["not a key"]),
            Err(LogsError::Parse { .. })
        ));
        assert!(matches!(
            TrustedLogs::parse::<&str>(&[]),
            Err(LogsError::Empty)
        ));
    }
}
