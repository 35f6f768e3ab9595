//! Idempotence state: for each request id, the exact signed credential
//! entry, written durably before it is sent to the log. A retry after a
//! crash re-sends those bytes, so the log holds at most one credential per
//! request id.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// One recorded request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Issued {
    /// The caller's request id.
    pub request_id: String,
    /// SHA-256 hex of the request's parameters, to tell a retry from a
    /// reuse of the id.
    pub params: String,
    /// The signed entry, standard base64.
    pub entry: String,
}

impl Issued {
    /// The entry's bytes.
    pub fn entry_bytes(&self) -> anyhow::Result<Vec<u8>> {
        BASE64.decode(&self.entry).context("a corrupt state record")
    }
}

/// The state directory.
pub struct State {
    dir: PathBuf,
}

fn name(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl State {
    /// Opens (creating) `state_dir/requests` and `state_dir/credentials`.
    ///
    /// # Errors
    /// If they cannot be created.
    pub fn open(state_dir: &Path) -> anyhow::Result<State> {
        for sub in ["requests", "credentials"] {
            std::fs::create_dir_all(state_dir.join(sub))
                .with_context(|| format!("cannot create {}", state_dir.join(sub).display()))?;
        }
        Ok(State {
            dir: state_dir.to_owned(),
        })
    }

    fn request_path(&self, request_id: &str) -> PathBuf {
        self.dir.join("requests").join(name(request_id))
    }

    /// The record of a request id, if any.
    ///
    /// # Errors
    /// If it exists but cannot be read.
    pub fn get(&self, request_id: &str) -> anyhow::Result<Option<Issued>> {
        let path = self.request_path(request_id);
        match std::fs::read(&path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("{} is corrupt", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Durably records `issued`, whose entry has leaf hash `credential`
    /// (hex), before it is sent.
    ///
    /// # Errors
    /// On any I/O error: then nothing may be sent.
    pub fn put(&self, issued: &Issued, credential: &str) -> anyhow::Result<()> {
        // The credential's request id first: a crash between the two
        // leaves an unused name, never a request without it.
        causeway_io::files::write_atomic(
            &self.dir.join("credentials").join(credential),
            issued.request_id.as_bytes(),
        )?;
        let json = serde_json::to_vec(issued)?;
        causeway_io::files::write_atomic(&self.request_path(&issued.request_id), &json)?;
        Ok(())
    }

    /// Forgets a request the log definitively refused, so that a retry is
    /// checked afresh.
    pub fn forget(&self, request_id: &str) {
        let _ = std::fs::remove_file(self.request_path(request_id));
    }

    /// The request id a credential (leaf hash hex) was issued for, when
    /// this issuer issued it.
    pub fn request_of(&self, credential: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join("credentials").join(credential)).ok()
    }
}

/// SHA-256 hex of some parameters' canonical JSON.
pub fn params_digest(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}
