//! The development TSA of `causeway-server --dev`: OpenSSL's
//! `openssl ts -reply` behind a loopback HTTP endpoint, with a throwaway CA
//! and TSA certificate (ECDSA P-256, `extendedKeyUsage =
//! critical,timeStamping`) created in `<dev-dir>/tsa/`. Only used when the
//! machine has `openssl`; it is clearly not a trusted time source, but it
//! exercises the same anchoring path (and the same verification) as a real
//! TSA.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse as _;

/// The OpenSSL configuration: certificate extensions and the TSA section.
fn config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "[ req ]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [ dn ]\n\
         CN = placeholder\n\
         [ ca_ext ]\n\
         basicConstraints = critical,CA:TRUE\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [ tsa_ext ]\n\
         basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = critical,timeStamping\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n\
         [ tsa ]\n\
         default_tsa = tsa_config\n\
         [ tsa_config ]\n\
         dir = {d}\n\
         serial = {d}/serial\n\
         crypto_device = builtin\n\
         signer_cert = {d}/tsa.pem\n\
         signer_key = {d}/tsa.key\n\
         signer_digest = sha256\n\
         default_policy = 1.3.6.1.4.1.99999.1\n\
         digests = sha256, sha384, sha512\n\
         accuracy = secs:1\n\
         ordering = yes\n\
         tsa_name = yes\n\
         ess_cert_id_chain = no\n\
         ess_cert_id_alg = sha256\n"
    )
}

/// Runs `openssl` with `args`; its stderr is the error. The dev issuer's
/// PKI uses it too.
pub fn openssl(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .context("running openssl")?;
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.first().copied().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether `openssl` can be run here.
pub fn available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Creates (once) the CA and TSA keys and certificates in `dir`; returns
/// the path of the CA certificate (the `--tsa-roots` of the log).
pub fn prepare(dir: &Path) -> anyhow::Result<PathBuf> {
    let ca = dir.join("ca.pem");
    if dir.join("tsa.pem").exists() {
        return Ok(ca);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cnf = dir.join("tsa.cnf");
    std::fs::write(&cnf, config(dir))?;
    std::fs::write(dir.join("serial"), "01\n")?;
    let p = |name: &str| dir.join(name).display().to_string();
    let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    openssl(&[&["genpkey"][..], &ec, &["-out", &p("ca.key")]].concat())?;
    openssl(&[
        "req",
        "-new",
        "-x509",
        "-days",
        "3650",
        "-key",
        &p("ca.key"),
        "-subj",
        "/O=Causeway development/CN=Causeway DEVELOPMENT TSA root (not trusted)",
        "-config",
        &p("tsa.cnf"),
        "-extensions",
        "ca_ext",
        "-out",
        &p("ca.pem"),
    ])?;
    openssl(&[&["genpkey"][..], &ec, &["-out", &p("tsa.key")]].concat())?;
    openssl(&[
        "req",
        "-new",
        "-key",
        &p("tsa.key"),
        "-subj",
        "/O=Causeway development/CN=Causeway DEVELOPMENT TSA (not trusted)",
        "-config",
        &p("tsa.cnf"),
        "-out",
        &p("tsa.csr"),
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("tsa.csr"),
        "-days",
        "3650",
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca.key"),
        "-CAcreateserial",
        "-extfile",
        &p("tsa.cnf"),
        "-extensions",
        "tsa_ext",
        "-out",
        &p("tsa.pem"),
    ])?;
    Ok(ca)
}

/// Serves the TSA on `listener` until the process ends: each POSTed
/// `TimeStampReq` is answered by `openssl ts -reply`.
pub async fn serve(dir: PathBuf, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let reply = move |body: Bytes| {
        let dir = dir.clone();
        async move {
            let result = tokio::task::spawn_blocking(move || timestamp(&dir, &body)).await;
            match result {
                Ok(Ok(der)) => {
                    ([(header::CONTENT_TYPE, "application/timestamp-reply")], der).into_response()
                }
                Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("{e:#}\n")).into_response(),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
            }
        }
    };
    let app = axum::Router::new().route("/", axum::routing::post(reply));
    axum::serve(listener, app).await
}

fn timestamp(dir: &Path, query: &[u8]) -> anyhow::Result<Vec<u8>> {
    let work = dir.join(format!("work-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&work)?;
    let result = (|| {
        let (q, r) = (work.join("q.tsq"), work.join("r.tsr"));
        std::fs::write(&q, query)?;
        openssl(&[
            "ts",
            "-reply",
            "-config",
            &dir.join("tsa.cnf").display().to_string(),
            "-queryfile",
            &q.display().to_string(),
            "-out",
            &r.display().to_string(),
        ])?;
        Ok(std::fs::read(&r)?)
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}
