//! Test certificates made by the `openssl` command: a CA and the server
//! and client certificates it issues.

use std::path::{Path, PathBuf};
use std::process::Command;

use causeway_client::TlsSettings;

/// A CA and the certificates it issued, as PEM files in one directory.
pub struct Pki {
    /// Where its files are.
    pub dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A new CA named `name` in `dir/name`.
    pub fn new(dir: &Path, name: &str) -> Pki {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Pki { dir }
    }

    /// The CA certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues `name.pem`/`name.key` for a server (SAN 127.0.0.1) or a client.
    pub fn issue(&self, name: &str, server: bool) -> (PathBuf, PathBuf) {
        let (cert, key, csr, ext) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
        );
        let extensions = if server {
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        } else {
            "extendedKeyUsage=clientAuth\n"
        };
        std::fs::write(self.dir.join(&ext), extensions).unwrap();
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-out", &cert,
                "-days", "1", "-extfile", &ext,
            ],
        );
        (self.dir.join(cert), self.dir.join(key))
    }

    /// Client TLS settings trusting this CA, with a client certificate if given.
    pub fn settings(&self, client: Option<&(PathBuf, PathBuf)>) -> TlsSettings {
        TlsSettings {
            ca_pem: Some(std::fs::read(self.ca()).unwrap()),
            identity_pem: client
                .map(|(c, k)| (std::fs::read(c).unwrap(), std::fs::read(k).unwrap())),
        }
    }
}
