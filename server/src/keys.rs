//! The log's two signing keys and its origin, kept in the data directory.
//!
//! ```text
//! <data-dir>/origin            the checkpoint origin, also the key name
//! <data-dir>/keys/ecdsa.pem    ECDSA P-256, PKCS#8 PEM, mode 0600
//! <data-dir>/keys/ed25519.pem  Ed25519, PKCS#8 PEM, mode 0600
//! ```
//!
//! Two keys because C2SP tlog-tiles and the public witness network require
//! an Ed25519 log signature, while ECDSA P-256 is what HSMs and cloud KMSs
//! offer (and what Rekor and transparency-dev/formats use).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use causeway_tlog::note::{EcdsaSigner, Ed25519Signer, KeyError, KeyName, VerifierKey};

/// Why keys could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A key file or origin is invalid.
    #[error("{path}: {source}")]
    Key {
        /// The file involved.
        path: PathBuf,
        /// What is wrong with it.
        source: KeyError,
    },
    /// `init` found keys already there.
    #[error("{0} is already initialized for origin {1:?}; refusing to overwrite its keys")]
    AlreadyInitialized(PathBuf, String),
    /// The data directory holds keys for another origin.
    #[error(
        "{dir} holds the keys of origin {found:?}, not {wanted:?}; use another --data-dir or drop --origin"
    )]
    OriginMismatch {
        /// The data directory.
        dir: PathBuf,
        /// The origin on disk.
        found: String,
        /// The origin asked for.
        wanted: String,
    },
}

/// The log's signing keys.
pub struct LogKeys {
    /// The origin and key name.
    pub origin: KeyName,
    /// The ECDSA P-256 key (note type 0x02).
    pub ecdsa: EcdsaSigner,
    /// The Ed25519 key (note type 0x01).
    pub ed25519: Ed25519Signer,
}

impl LogKeys {
    /// The verifier keys, ECDSA first, as `init --json` prints them.
    pub fn vkeys(&self) -> [VerifierKey; 2] {
        [self.ecdsa.verifier(), self.ed25519.verifier()]
    }

    /// Whether `dir` holds an initialized log.
    pub fn exists(dir: &Path) -> bool {
        dir.join("origin").exists()
    }

    /// Creates new keys in `dir` (created if needed).
    ///
    /// # Errors
    /// If `dir` is already initialized, the origin is not a valid key name,
    /// or a file cannot be written.
    pub fn create(dir: &Path, origin: &str) -> Result<Self, KeysError> {
        let origin_path = dir.join("origin");
        if let Ok(found) = fs::read_to_string(&origin_path) {
            return Err(KeysError::AlreadyInitialized(
                dir.to_owned(),
                found.trim().to_owned(),
            ));
        }
        let name = KeyName::new(origin).map_err(|source| KeysError::Key {
            path: origin_path.clone(),
            source,
        })?;
        let mut rng = rand::rngs::OsRng;
        let keys = LogKeys {
            ecdsa: EcdsaSigner::generate(name.clone(), &mut rng),
            ed25519: Ed25519Signer::generate(name.clone(), &mut rng),
            origin: name,
        };
        let key_dir = dir.join("keys");
        fs::create_dir_all(&key_dir).map_err(|source| KeysError::Io {
            path: key_dir.clone(),
            source,
        })?;
        let _ = fs::set_permissions(&key_dir, fs::Permissions::from_mode(0o700));
        let pem = |r: Result<String, KeyError>, path: &Path| {
            r.map_err(|source| KeysError::Key {
                path: path.to_owned(),
                source,
            })
        };
        let ecdsa_path = key_dir.join("ecdsa.pem");
        let ed_path = key_dir.join("ed25519.pem");
        write_private(
            &ecdsa_path,
            pem(keys.ecdsa.to_pkcs8_pem(), &ecdsa_path)?.as_bytes(),
        )?;
        write_private(
            &ed_path,
            pem(keys.ed25519.to_pkcs8_pem(), &ed_path)?.as_bytes(),
        )?;
        // The origin file is written last: its presence means "initialized".
        // Each write also syncs its directory, so this makes the keys/
        // entry durable too.
        write_file(&origin_path, format!("{origin}\n").as_bytes(), 0o644)?;
        Ok(keys)
    }

    /// Loads the keys of an initialized data directory.
    ///
    /// # Errors
    /// If a file is missing or invalid.
    pub fn load(dir: &Path) -> Result<Self, KeysError> {
        let origin_path = dir.join("origin");
        let origin = read(&origin_path)?;
        let origin = KeyName::new(origin.trim()).map_err(|source| KeysError::Key {
            path: origin_path,
            source,
        })?;
        let ecdsa_path = dir.join("keys/ecdsa.pem");
        let ed_path = dir.join("keys/ed25519.pem");
        let ecdsa =
            EcdsaSigner::from_pkcs8_pem(origin.clone(), &read(&ecdsa_path)?).map_err(|source| {
                KeysError::Key {
                    path: ecdsa_path,
                    source,
                }
            })?;
        let ed25519 =
            Ed25519Signer::from_pkcs8_pem(origin.clone(), &read(&ed_path)?).map_err(|source| {
                KeysError::Key {
                    path: ed_path,
                    source,
                }
            })?;
        Ok(LogKeys {
            origin,
            ecdsa,
            ed25519,
        })
    }

    /// Loads the keys of `dir`, creating them first if `dir` is not
    /// initialized. `origin`, when given, must match what is on disk.
    ///
    /// # Errors
    /// As [`LogKeys::create`] and [`LogKeys::load`], plus an origin mismatch.
    pub fn load_or_create(
        dir: &Path,
        origin: Option<&str>,
        default_origin: &str,
    ) -> Result<Self, KeysError> {
        if !Self::exists(dir) {
            return Self::create(dir, origin.unwrap_or(default_origin));
        }
        let keys = Self::load(dir)?;
        if let Some(wanted) = origin
            && wanted != keys.origin.as_str()
        {
            return Err(KeysError::OriginMismatch {
                dir: dir.to_owned(),
                found: keys.origin.to_string(),
                wanted: wanted.to_owned(),
            });
        }
        Ok(keys)
    }
}

fn read(path: &Path) -> Result<String, KeysError> {
    fs::read_to_string(path).map_err(|source| KeysError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Creates a private key file (0600), durably; never overwrites.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeysError> {
    causeway_io::files::create_private(path, bytes).map_err(|source| KeysError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Creates a file durably with the given mode; never overwrites.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeysError> {
    causeway_io::files::create_new(path, bytes, mode).map_err(|source| KeysError::Io {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_load_and_refuse_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let made = LogKeys::create(dir.path(), "example.com/log").unwrap();
        let mode = fs::metadata(dir.path().join("keys/ecdsa.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = fs::metadata(dir.path().join("keys/ed25519.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = LogKeys::load(dir.path()).unwrap();
        assert_eq!(made.vkeys(), loaded.vkeys());
        assert!(matches!(
            LogKeys::create(dir.path(), "example.com/log"),
            Err(KeysError::AlreadyInitialized(..))
        ));
        assert!(matches!(
            LogKeys::load_or_create(dir.path(), Some("other"), "x"),
            Err(KeysError::OriginMismatch { .. })
        ));
        assert!(LogKeys::load_or_create(dir.path(), None, "x").is_ok());
        assert!(matches!(
            LogKeys::create(tempfile::tempdir().unwrap().path(), "has space"),
            Err(KeysError::Key { .. })
        ));
    }
}
