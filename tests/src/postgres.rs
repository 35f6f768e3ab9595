//! A private PostgreSQL server for tests: Debian's `postgresql` binaries
//! (installed by `.ci/run`), its own cluster in a directory of the test,
//! on a free loopback port, trust authentication, stopped on drop.
//!
//! PostgreSQL refuses to run as root, so when the tests are root (as in
//! CI) the cluster belongs to the `postgres` user and the server runs
//! under it through `setpriv`, which execs it: the child is the postmaster
//! itself, so stopping it needs no process group games.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The user the cluster runs as when the tests are root.
const SERVER_USER: &str = "postgres";

/// A running PostgreSQL server.
pub struct Postgres {
    child: Option<Child>,
    /// Its data directory (the cluster).
    pub dir: PathBuf,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect())
            .unwrap_or_default();
        versions.retain(|p| p.join("postgres").exists());
        versions.sort();
        versions.pop().expect(
            "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/postgres); .ci/run installs Debian's postgresql",
        )
    })
}

fn is_root() -> bool {
    // The effective uid, without libc: /proc/self/status "Uid: real effective ...".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A command for a PostgreSQL binary, as the server user when we are root.
fn pg_command(program: &str) -> Command {
    let path = bin_dir().join(program);
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={SERVER_USER}"),
            &format!("--regid={SERVER_USER}"),
            "--init-groups",
            "--",
        ])
        .arg(path);
        cmd
    } else {
        Command::new(path)
    }
}

/// Makes `path` the server user's when we are root (PostgreSQL insists on
/// owning its cluster and key files).
fn give_to_server_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .arg(format!("{SERVER_USER}:{SERVER_USER}"))
            .arg(path)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Lets the server user reach `dir` (traverse only) through its parents,
/// which `tempfile` creates as 0700 root directories.
fn open_path_to(dir: &Path) {
    for ancestor in dir.ancestors().skip(1) {
        if ancestor == Path::new("/") || ancestor == std::env::temp_dir() {
            break;
        }
        if let Ok(meta) = std::fs::metadata(ancestor) {
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                let _ = std::fs::set_permissions(
                    ancestor,
                    std::fs::Permissions::from_mode(mode | 0o011),
                );
            }
        }
    }
}

impl Postgres {
    /// Starts a server on the cluster in `dir`, creating the cluster if
    /// `dir` does not hold one (so a restart on the same `dir` finds the
    /// data again), and waits until it accepts connections.
    pub fn start(dir: &Path) -> Postgres {
        Self::start_on(dir, free_port())
    }

    /// Like [`Postgres::start`], on a given port.
    pub fn start_on(dir: &Path, port: u16) -> Postgres {
        Self::start_with(dir, port, &[])
    }

    /// Like [`Postgres::start`], also serving TLS with this certificate
    /// and key (copied into the cluster, where the server user may read them).
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Postgres {
        Self::init(dir);
        for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
            std::fs::copy(from, dir.join(to)).expect("copying the TLS files");
            std::fs::set_permissions(dir.join(to), std::fs::Permissions::from_mode(0o600))
                .expect("chmod");
            give_to_server_user(&dir.join(to));
        }
        Self::start_with(dir, free_port(), &["ssl=on"])
    }

    /// Creates the cluster in `dir` unless it holds one.
    fn init(dir: &Path) {
        if !dir.join("PG_VERSION").exists() {
            std::fs::create_dir_all(dir).expect("creating the cluster directory");
            if is_root() {
                open_path_to(dir);
            }
            give_to_server_user(dir);
            let out = pg_command("initdb")
                .arg("-D")
                .arg(dir)
                .args([
                    "-U",
                    "causeway",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--no-instructions",
                ])
                .output()
                .expect("running initdb");
            assert!(
                out.status.success(),
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Starts a server on the cluster in `dir` (created if needed) on
    /// `port`, with extra `name=value` settings.
    fn start_with(dir: &Path, port: u16, settings: &[&str]) -> Postgres {
        Self::init(dir);
        let log = dir.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("postgres log file");
        let child = pg_command("postgres")
            .arg("-D")
            .arg(dir)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "shared_buffers=64MB",
                "-c",
                "max_connections=200",
            ])
            .args(settings.iter().flat_map(|s| ["-c", s]))
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("starting postgres");
        let pg = Postgres {
            child: Some(child),
            dir: dir.to_owned(),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(bin_dir().join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return pg;
            }
            assert!(
                Instant::now() < deadline,
                "postgres did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The postmaster's process ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://causeway@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs one SQL command with `psql` on database `db`; returns its
    /// unaligned output.
    pub fn sql(&self, db: &str, command: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(db),
                "-c",
                command,
            ])
            .output()
            .expect("psql (Debian's postgresql-client)");
        assert!(
            out.status.success(),
            "psql {command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Stops the server (fast shutdown: transactions in flight roll back,
    /// committed ones are on disk) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
