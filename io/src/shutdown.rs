//! SIGTERM and SIGINT: how both binaries are asked to stop.

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C), logging which one.
/// If SIGTERM cannot be listened for (which should not happen), that is
/// logged and only SIGINT stops the process.
pub async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            None
        }
    };
    let sigterm = async {
        match &mut term {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = sigterm => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}
