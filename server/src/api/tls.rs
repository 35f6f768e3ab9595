//! Connections for the gRPC and HTTP listeners: plain TCP, or TLS
//! (rustls) with an optional client certificate.
//!
//! [`accept`] takes TCP connections and, with TLS, completes each handshake
//! in its own task under a time limit, so a slow or hostile client never
//! holds up the others. Every connection carries its [`Peer`]: the
//! address, and the client certificate if one was verified.
//!
//! Every connection is also held to [`Limits`] (`causeway-io`'s time
//! limits), so that slow or silent clients (slow loris) cannot keep
//! connections, and with them file descriptors and shutdown, forever; and
//! to [`Guards`]: at most so many connections open at once, and per client
//! address, each with its share of the memory budget for request bodies
//! (see `grpc_limits`).
//!
//! The certificate, key and client CA are files; [`Acceptor::reload`]
//! re-reads them (on SIGHUP) and new connections use the new ones, while a
//! file that does not load leaves the running configuration in place.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use causeway_io::per_ip::{IpSlot, PerIpCap};
use causeway_io::{CappedListener, Guarded};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

use crate::api::grpc_limits::ConnectionShare;

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Time limits on what a client sends: [`Limits::HTTP`] for the tile API,
/// [`Limits::GRPC`] (the HTTP/2 preface) for gRPC, after which HTTP/2
/// keep-alive pings (see `serve`) drop silent or stuck clients.
pub use causeway_io::Limits;

/// Whether clients must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Anyone may connect and read; submitting needs a certificate from
    /// the client CA (refused with `UNAUTHENTICATED` otherwise).
    Writes,
    /// The handshake itself refuses a client without such a certificate.
    Required,
}

/// The files behind a TLS listener.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM CA certificate(s) that client certificates must chain to, for
    /// mutual TLS; `None` asks no client for a certificate.
    pub client_ca: Option<PathBuf>,
    /// What the client CA is required for.
    pub client_auth: ClientAuth,
}

/// Why a TLS configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file is missing, unreadable or not what it should be.
    #[error("{flag} {path}: {message}")]
    File {
        /// The option naming the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The files do not fit together (e.g. the key is not the
    /// certificate's).
    #[error("--tls-cert/--tls-key: {0}")]
    Mismatch(String),
}

/// What a listener speaks, for ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC: HTTP/2 only.
    Grpc,
    /// The tile API: HTTP/2 or HTTP/1.1.
    Http,
}

fn file_error(flag: &'static str, path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        flag,
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| file_error(flag, path, format!("cannot read it: {e}")))
}

fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(flag, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(flag, path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(file_error(
            flag,
            path,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(certs)
}

/// A client configuration that trusts only the PEM roots in `ca` (and
/// checks the server's name as usual), e.g. for the PostgreSQL connection.
///
/// # Errors
/// If the file is unusable.
pub fn client_config(flag: &'static str, ca: &Path) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(flag, ca)? {
        roots.add(cert).map_err(|e| file_error(flag, ca, e))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Mismatch(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Builds a server configuration from the files.
///
/// # Errors
/// If a file is unusable or the key does not match the certificate.
pub fn server_config(
    files: &TlsFiles,
    protocol: Protocol,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = certificates("--tls-cert", &files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read("--tls-key", &files.key)?).map_err(|e| {
        file_error(
            "--tls-key",
            &files.key,
            format!("no usable PEM private key: {e}"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    let builder = match (&files.client_ca, protocol) {
        (Some(ca), Protocol::Grpc) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates("--tls-client-ca", ca)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error("--tls-client-ca", ca, e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = match files.client_auth {
                ClientAuth::Writes => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            }
            .build()
            .map_err(|e| file_error("--tls-client-ca", ca, e))?;
            builder.with_client_cert_verifier(verifier)
        }
        // The tile API is public: it never asks for a client certificate.
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    config.alpn_protocols = match protocol {
        Protocol::Grpc => vec![b"h2".to_vec()],
        Protocol::Http => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    };
    Ok(config)
}

/// A TLS acceptor whose configuration can be reloaded.
#[derive(Clone)]
pub struct Acceptor {
    files: TlsFiles,
    protocol: Protocol,
    current: Arc<RwLock<tokio_rustls::TlsAcceptor>>,
}

impl Acceptor {
    /// Loads the files for a listener speaking `protocol`.
    ///
    /// # Errors
    /// See [`server_config`].
    pub fn new(files: TlsFiles, protocol: Protocol) -> Result<Self, TlsError> {
        let config = server_config(&files, protocol)?;
        Ok(Acceptor {
            files,
            protocol,
            current: Arc::new(RwLock::new(Arc::new(config).into())),
        })
    }

    /// Re-reads the files; new connections use them. On error the
    /// previous configuration stays.
    ///
    /// # Errors
    /// See [`server_config`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.files, self.protocol)?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(config).into();
        Ok(())
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Who is on the other end of a connection.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The client's address.
    pub addr: Option<SocketAddr>,
    /// The client certificate the handshake verified against the client CA.
    pub certificate: Option<CertificateDer<'static>>,
    /// This connection's share of the request-body memory budget.
    pub body_share: Option<ConnectionShare>,
}

impl Peer {
    /// A name for the client certificate: its subject and the start of its
    /// SHA-256 fingerprint (for rate limits and messages).
    pub fn certificate_identity(&self) -> Option<String> {
        use sha2::Digest as _;
        use x509_cert::der::Decode as _;
        let der = self.certificate.as_ref()?;
        let fingerprint = hex::encode(&sha2::Sha256::digest(der.as_ref())[..8]);
        let subject = x509_cert::Certificate::from_der(der.as_ref())
            .map(|c| c.tbs_certificate.subject.to_string())
            .unwrap_or_else(|_| "?".into());
        Some(format!("certificate {subject} (sha256 {fingerprint}…)"))
    }
}

/// What every connection of a listener is held to besides its [`Limits`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guards {
    /// Most connections open at once (0: no limit). Further ones wait in
    /// the listen backlog until one closes (see `causeway_io::accept`).
    pub max_open: usize,
    /// Most connections open at once from one IP address (0: no limit).
    /// Further ones are answered with an HTTP/2 GOAWAY
    /// (`ENHANCE_YOUR_CALM`, the reason in its debug data) and closed.
    pub max_per_ip: usize,
    /// Each connection's share of the request-body memory budget, in
    /// bytes (see `grpc_limits::BodyBudget`); `None` for listeners whose
    /// requests are not on the budget.
    pub body_share: Option<usize>,
}

/// One accepted connection, plain or TLS, held to its [`Limits`] and
/// [`Guards`].
pub struct Conn {
    io: Guarded<Stream>,
    peer: Peer,
    /// Counts this connection against its address's limit while it lives.
    _per_ip: Option<IpSlot>,
}

type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

impl Conn {
    /// Who connected.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Tells a connection over its address's limit why it is refused, in an
/// HTTP/2 GOAWAY (what gRPC clients read), then closes it.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, ip: IpAddr, max: usize) {
    // Hand-written frames: a refused connection gets no HTTP/2 server of
    // its own, only its server preface (an empty SETTINGS frame) and a
    // GOAWAY with ENHANCE_YOUR_CALM (0xb) and the reason as debug data.
    let reason = format!(
        "too many connections from {ip}: at most {max} at once (--max-connections-per-ip); \
         reuse an open connection"
    );
    let mut frames = vec![0, 0, 0, 0x4, 0, 0, 0, 0, 0];
    let len = u32::try_from(8 + reason.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    frames.extend_from_slice(&[len[1], len[2], len[3], 0x7, 0, 0, 0, 0, 0]);
    frames.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0xb]);
    frames.extend_from_slice(reason.as_bytes());
    let _ = tokio::time::timeout(REFUSAL_TIME, async {
        stream.write_all(&frames).await?;
        stream.shutdown().await?;
        // Read what the client sends until it closes: closing with unread
        // bytes would reset the connection and could lose the GOAWAY.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// How long a refused connection gets to read its GOAWAY.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Accepts connections on `listener` until the receiver is dropped, at
/// most [`Guards::max_open`] at once (counting TLS handshakes and
/// refusals). With `tls`, each handshake runs in its own task; failed
/// handshakes are logged at debug level and dropped. Connections over
/// [`Guards::max_per_ip`] are refused (see [`Guards`]).
pub fn accept(
    listener: TcpListener,
    tls: Option<Acceptor>,
    limits: Limits,
    guards: Guards,
) -> mpsc::Receiver<Conn> {
    let (tx, rx) = mpsc::channel(64);
    let mut listener = CappedListener::new(listener, guards.max_open);
    let per_ip = PerIpCap::new(guards.max_per_ip);
    let share = move || guards.body_share.map(ConnectionShare::new);
    tokio::spawn(async move {
        loop {
            let (tcp, addr, slot) = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = tx.closed() => return,
            };
            // Counted before the TLS handshake, so that handshakes count too.
            let per_ip_slot = per_ip.try_take(addr.ip());
            if per_ip_slot.is_none() {
                tracing::debug!(%addr, max = guards.max_per_ip, "too many connections from one address");
                crate::telemetry::metrics()
                    .rejections
                    .add(1, &crate::telemetry::reason("connections_per_ip"));
            }
            let Some(tls) = &tls else {
                let Some(per_ip_slot) = per_ip_slot else {
                    tokio::spawn(async move {
                        refuse(tcp, addr.ip(), guards.max_per_ip).await;
                        drop(slot);
                    });
                    continue;
                };
                let conn = Conn {
                    io: Guarded::new(Either::Left(tcp), limits, slot),
                    peer: Peer {
                        addr: Some(addr),
                        certificate: None,
                        body_share: share(),
                    },
                    _per_ip: Some(per_ip_slot),
                };
                if tx.send(conn).await.is_err() {
                    return;
                }
                continue;
            };
            let (acceptor, tx, body_share) = (tls.acceptor(), tx.clone(), share());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    // Refused over TLS too, so that the client can read why.
                    Ok(Ok(stream)) if per_ip_slot.is_none() => {
                        refuse(stream, addr.ip(), guards.max_per_ip).await;
                    }
                    Ok(Ok(stream)) => {
                        let certificate = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| c.clone().into_owned());
                        let conn = Conn {
                            io: Guarded::new(Either::Right(Box::new(stream)), limits, slot),
                            peer: Peer {
                                addr: Some(addr),
                                certificate,
                                body_share,
                            },
                            _per_ip: per_ip_slot,
                        };
                        let _ = tx.send(conn).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                }
            });
        }
    });
    rx
}

/// The accepted connections as an axum listener.
pub struct HttpListener {
    connections: mpsc::Receiver<Conn>,
    local: SocketAddr,
}

impl HttpListener {
    /// Wraps the connections accepted on a listener bound to `local`.
    pub fn new(connections: mpsc::Receiver<Conn>, local: SocketAddr) -> Self {
        HttpListener { connections, local }
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self.connections.recv().await {
            Some(conn) => {
                let addr = conn.peer.addr.unwrap_or(self.local);
                (conn, addr)
            }
            // The accept task only ends when this receiver is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Reloads every acceptor on SIGHUP until `stop` resolves.
pub async fn reload_on_sighup(
    acceptors: Vec<Acceptor>,
    stop: impl std::future::Future<Output = ()>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; TLS files will not be reloaded");
            return;
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            got = hup.recv() => if got.is_none() { return },
        }
        for a in &acceptors {
            match a.reload() {
                Ok(()) => tracing::info!(
                    cert = %a.files.cert.display(),
                    listener = ?a.protocol,
                    "SIGHUP: reloaded the TLS certificate and key"
                ),
                Err(e) => tracing::error!(
                    error = %e,
                    "SIGHUP: keeping the previous TLS configuration"
                ),
            }
        }
    }
}
