//! Files that must survive a crash: atomic replacement, new files with a
//! mode (0600 for private keys), and the directory fsync that makes a new
//! or renamed name itself durable.
//!
//! A file's own fsync makes its bytes durable, not its name: after a
//! crash, a file created or renamed into a directory that was not synced
//! may be missing or still have its old contents. Every writer here syncs
//! the directory too.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` atomically and durably: writes a temporary
/// file in the same directory, fsyncs it, renames it over `path` and
/// fsyncs the directory. Readers see the old file or the new one, never
/// a mix.
///
/// # Errors
/// Any I/O error; the temporary file is removed on failure.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = parent(path);
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::other("write_atomic needs a file path"))?;
    // Unique per process and call, so concurrent writers never share one.
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Creates `path` holding `bytes` with permissions `mode` (less the
/// umask), durably: the file and its directory are fsynced. Never
/// overwrites: an existing `path` fails with
/// [`io::ErrorKind::AlreadyExists`].
///
/// # Errors
/// Any I/O error.
pub fn create_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    sync_dir(parent(path))
}

/// Creates a private key file: as [`create_new`] with mode 0600, readable
/// and writable by its owner only, whatever the umask.
///
/// # Errors
/// Any I/O error.
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_new(path, bytes, 0o600)?;
    // Re-applied in case a umask stripped bits we wanted; 0600 only ever
    // removes permissions, so this cannot widen access.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

/// Fsyncs a directory, making the entries created or renamed in it durable.
///
/// # Errors
/// If it cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// The directory `path` is in (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn write_atomic_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("no/such/file"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn create_new_never_overwrites_and_sets_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("name.json");
        create_new(&path, b"{}", 0o644).unwrap();
        assert_eq!(mode(&path), 0o644 & !umask());
        let again = create_new(&path, b"other", 0o644).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"{}");
    }

    #[test]
    fn private_files_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        create_private(&path, b"secret").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(create_private(&path, b"other").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"secret");
    }

    /// The process's umask, read from a file created with 0777.
    fn umask() -> u32 {
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join("probe");
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o777)
            .open(&probe)
            .unwrap();
        0o777 & !mode(&probe)
    }
}
