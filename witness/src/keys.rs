//! The witness's cosigning key and name, kept in the data directory.
//!
//! ```text
//! <data-dir>/witness.pem   Ed25519, PKCS#8 PEM, mode 0600
//! <data-dir>/witness.json  {"name": "<key name>"}
//! ```
//!
//! The name is stored next to the key because the key ID, and so every
//! cosignature line, depends on it. `witness.json` is written last: its
//! presence means the directory is fully initialized.

use std::fs;
use std::path::{Path, PathBuf};

use causeway_tlog::note::{CosignatureSigner, KeyError, KeyName};

/// The private key file.
pub const KEY_FILE: &str = "witness.pem";
/// The file holding the witness's name.
pub const NAME_FILE: &str = "witness.json";

/// Why the witness key could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// File system trouble.
    #[error("{path}: {error}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A key or name is invalid.
    #[error("{path}: {error}")]
    Key {
        /// The file involved (or the data directory, for a name given on
        /// the command line).
        path: PathBuf,
        /// What is wrong with it.
        error: KeyError,
    },
    /// `witness.json` is not `{"name": ...}`.
    #[error("{path}: not a witness name file ({reason}); expected {{\"name\": \"<key name>\"}}")]
    BadNameFile {
        /// The file.
        path: PathBuf,
        /// The parse error.
        reason: String,
    },
    /// `init` found a key already there.
    #[error("{0} already holds a witness key; refusing to overwrite it")]
    AlreadyInitialized(PathBuf),
    /// Only one of the two files exists: an interrupted `init` or a
    /// damaged directory. Not repaired automatically, since guessing could
    /// replace a key that logs and monitors already trust.
    #[error(
        "{dir} is half initialized ({present} exists, {missing} does not); restore the missing file or remove the directory"
    )]
    Incomplete {
        /// The data directory.
        dir: PathBuf,
        /// The file that exists.
        present: &'static str,
        /// The file that is missing.
        missing: &'static str,
    },
    /// The data directory belongs to a witness of another name.
    #[error(
        "{dir} holds the key of witness {found:?}, not {wanted:?}; use another --data-dir or drop --name"
    )]
    NameMismatch {
        /// The data directory.
        dir: PathBuf,
        /// The name on disk.
        found: String,
        /// The name asked for.
        wanted: String,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct NameFile {
    name: String,
}

/// Whether `dir` holds (part of) a witness key.
pub fn exists(dir: &Path) -> bool {
    dir.join(KEY_FILE).exists() || dir.join(NAME_FILE).exists()
}

/// Creates a new cosigning key named `name` in `dir` (created if needed).
///
/// # Errors
/// If `dir` already holds a key, the name is invalid, or a file cannot be
/// written.
pub fn create(dir: &Path, name: &str) -> Result<CosignatureSigner, KeysError> {
    if exists(dir) {
        return Err(KeysError::AlreadyInitialized(dir.to_owned()));
    }
    let name = KeyName::new(name).map_err(|error| KeysError::Key {
        path: dir.to_owned(),
        error,
    })?;
    fs::create_dir_all(dir).map_err(|error| KeysError::Io {
        path: dir.to_owned(),
        error,
    })?;
    let signer = CosignatureSigner::generate(name.clone(), &mut rand::rngs::OsRng);
    let key_path = dir.join(KEY_FILE);
    let pem = signer.to_pkcs8_pem().map_err(|error| KeysError::Key {
        path: key_path.clone(),
        error,
    })?;
    // Each file and its directory entry are durable before the next.
    causeway_io::files::create_private(&key_path, pem.as_bytes()).map_err(|error| {
        KeysError::Io {
            path: key_path.clone(),
            error,
        }
    })?;
    let json = serde_json::to_string(&NameFile {
        name: name.to_string(),
    })
    .map_err(|e| KeysError::BadNameFile {
        path: dir.join(NAME_FILE),
        reason: e.to_string(),
    })?;
    let name_path = dir.join(NAME_FILE);
    causeway_io::files::create_new(&name_path, format!("{json}\n").as_bytes(), 0o644).map_err(
        |error| KeysError::Io {
            path: name_path,
            error,
        },
    )?;
    Ok(signer)
}

/// Loads the cosigning key of an initialized data directory.
///
/// # Errors
/// If a file is missing or invalid.
pub fn load(dir: &Path) -> Result<CosignatureSigner, KeysError> {
    let key_path = dir.join(KEY_FILE);
    let name_path = dir.join(NAME_FILE);
    match (key_path.exists(), name_path.exists()) {
        (true, false) => {
            return Err(KeysError::Incomplete {
                dir: dir.to_owned(),
                present: KEY_FILE,
                missing: NAME_FILE,
            });
        }
        (false, true) => {
            return Err(KeysError::Incomplete {
                dir: dir.to_owned(),
                present: NAME_FILE,
                missing: KEY_FILE,
            });
        }
        _ => {}
    }
    let file: NameFile =
        serde_json::from_str(&read(&name_path)?).map_err(|e| KeysError::BadNameFile {
            path: name_path.clone(),
            reason: e.to_string(),
        })?;
    let name = KeyName::new(file.name).map_err(|error| KeysError::Key {
        path: name_path,
        error,
    })?;
    CosignatureSigner::from_pkcs8_pem(name, &read(&key_path)?).map_err(|error| KeysError::Key {
        path: key_path,
        error,
    })
}

/// Loads the key of `dir`, creating it first (named `name`, or
/// `default_name`) if `dir` has none. A given `name` must match the one on
/// disk.
///
/// # Errors
/// As [`create`] and [`load`], plus a name mismatch.
pub fn load_or_create(
    dir: &Path,
    name: Option<&str>,
    default_name: &str,
) -> Result<(CosignatureSigner, bool), KeysError> {
    if !exists(dir) {
        return create(dir, name.unwrap_or(default_name)).map(|s| (s, true));
    }
    let signer = load(dir)?;
    if let Some(wanted) = name
        && wanted != signer.name().as_str()
    {
        return Err(KeysError::NameMismatch {
            dir: dir.to_owned(),
            found: signer.name().to_string(),
            wanted: wanted.to_owned(),
        });
    }
    Ok((signer, false))
}

fn read(path: &Path) -> Result<String, KeysError> {
    fs::read_to_string(path).map_err(|error| KeysError::Io {
        path: path.to_owned(),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn create_load_and_refuse_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let made = create(dir.path(), "example.com/witness").unwrap();
        let mode = fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = load(dir.path()).unwrap();
        assert_eq!(made.verifier(), loaded.verifier());
        assert!(matches!(
            create(dir.path(), "example.com/witness"),
            Err(KeysError::AlreadyInitialized(_))
        ));
        assert!(matches!(
            load_or_create(dir.path(), Some("other"), "x"),
            Err(KeysError::NameMismatch { .. })
        ));
        let (again, created) = load_or_create(dir.path(), None, "x").unwrap();
        assert!(!created);
        assert_eq!(again.verifier(), made.verifier());
    }

    #[test]
    fn bad_names_and_half_initialized_directories() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            create(dir.path(), "has space"),
            Err(KeysError::Key { .. })
        ));
        assert!(!exists(dir.path()));
        create(dir.path(), "w").unwrap();
        fs::remove_file(dir.path().join(NAME_FILE)).unwrap();
        let err = load(dir.path()).err().unwrap();
        assert!(matches!(err, KeysError::Incomplete { .. }), "{err}");
        fs::write(dir.path().join(NAME_FILE), "{\"nom\": 1}").unwrap();
        let err = load(dir.path()).err().unwrap();
        assert!(matches!(err, KeysError::BadNameFile { .. }), "{err}");
    }
}
