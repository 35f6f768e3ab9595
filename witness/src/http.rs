//! The witness's HTTP API.
//!
//! | route | answer |
//! |---|---|
//! | `POST /add-checkpoint` | c2sp.org/tlog-witness: 200 with the cosignature line, or 400/403/404/409/422 with a one-line reason |
//! | `GET /` | `{"name", "vkey", "logs": [origins]}` |
//! | `GET /logs` | `[{"origin", "size", "root", "checkpoint_path"}]`; size and root are null before the first cosignature |
//! | `GET /<hex sha256(origin)>/checkpoint` | the latest cosigned checkpoint: text, log signatures, cosignature |
//! | `GET /evidence` | every split-view evidence record, oldest first |
//! | `GET /evidence/<id>` | one evidence record |
//!
//! Other paths answer 404, other methods on these paths 405, bodies over
//! [`MAX_BODY_BYTES`] 413. [`status`] is the one place that turns an
//! [`AddError`] into a status code.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use causeway_tlog::witness::{ADD_CHECKPOINT_PATH, SIZE_CONTENT_TYPE, size_body};

use crate::check::RejectReason;
use crate::state::StateError;
use crate::witness::{AddError, Witness};

/// The largest request body accepted. A note is at most 1 MiB and nobody
/// needs more than 63 proof lines, so this leaves no room for abuse.
pub const MAX_BODY_BYTES: usize = 1 << 20;

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// The witness's routes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(ADD_CHECKPOINT_PATH, post(add_checkpoint))
        .route("/logs", get(logs))
        .route("/evidence", get(evidence_list))
        .route("/evidence/{id}", get(evidence_one))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(witness)
}

/// The HTTP status of an `add-checkpoint` failure.
pub fn status(err: &AddError) -> StatusCode {
    match err {
        AddError::Malformed(_) => StatusCode::BAD_REQUEST,
        AddError::UnknownOrigin { .. } => StatusCode::NOT_FOUND,
        AddError::Unverified { .. } => StatusCode::FORBIDDEN,
        AddError::Rejected(r) => match r.reason {
            RejectReason::OldSizeBeyondCheckpoint { .. } => StatusCode::BAD_REQUEST,
            RejectReason::SizeMismatch { .. } => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
        AddError::Storage(_) | AddError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    match witness.add_checkpoint(&body, crate::unix_now()).await {
        Ok(cosigned) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, TEXT)],
            cosigned.body(),
        )
            .into_response(),
        Err(err) => error_response(&err),
    }
}

fn error_response(err: &AddError) -> Response {
    let code = status(err);
    let message = one_line(&err.to_string());
    match code {
        c if c.is_server_error() => {
            tracing::error!(status = c.as_u16(), "add-checkpoint failed: {message}")
        }
        // A conflict that carries evidence is logged by the evidence store
        // (once per conflict, rate-limited); a line per request at warn
        // level would let anybody who replays a checkpoint flood the log.
        StatusCode::UNPROCESSABLE_ENTITY if !matches!(err, AddError::Rejected(r) if r.evidence.is_some()) =>
        {
            tracing::warn!(status = code.as_u16(), "add-checkpoint refused: {message}");
        }
        _ => tracing::info!(status = code.as_u16(), "add-checkpoint refused: {message}"),
    }
    // The 409 body is machine-readable: the size the log should use as `old`.
    if let AddError::Rejected(r) = err
        && let RejectReason::SizeMismatch { latest, .. } = r.reason
    {
        return (
            code,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            size_body(latest),
        )
            .into_response();
    }
    text(code, message)
}

async fn index(State(witness): State<Arc<Witness>>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({
            "name": witness.name().as_str(),
            "vkey": witness.vkey().to_string(),
            "logs": witness.origins().collect::<Vec<_>>(),
        }),
    )
}

async fn logs(State(witness): State<Arc<Witness>>) -> Response {
    json(StatusCode::OK, &witness.summaries().await)
}

async fn checkpoint(State(witness): State<Arc<Witness>>, Path(hash): Path<String>) -> Response {
    match witness.latest_by_hash(&hash).await {
        Some(latest) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, TEXT)],
            latest.note.to_string(),
        )
            .into_response(),
        None => text(
            StatusCode::NOT_FOUND,
            format!(
                "no cosigned checkpoint for origin hash {hash:?}; GET /logs lists the logs and their paths"
            ),
        ),
    }
}

async fn evidence_list(State(witness): State<Arc<Witness>>) -> Response {
    let data = witness.data_dir().clone();
    match blocking(move || data.list_evidence()).await {
        Ok(records) => json(StatusCode::OK, &records),
        Err(e) => storage_error(&e),
    }
}

async fn evidence_one(State(witness): State<Arc<Witness>>, Path(id): Path<String>) -> Response {
    let data = witness.data_dir().clone();
    let wanted = id.clone();
    match blocking(move || data.read_evidence(&wanted)).await {
        Ok(Some(record)) => json(StatusCode::OK, &record),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            format!("no evidence {id:?}; GET /evidence lists them"),
        ),
        Err(e) => storage_error(&e),
    }
}

async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "not found: this witness serves POST /add-checkpoint (c2sp.org/tlog-witness), GET /, /logs, /<sha256(origin)>/checkpoint, /evidence and /evidence/<id>".into(),
    )
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("task failed: {e}")),
    }
}

fn storage_error(e: &str) -> Response {
    tracing::error!(error = %e, "reading evidence failed");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("reading evidence failed: {e}"),
    )
}

/// A plain-text answer of one line: error reasons may quote input, which
/// must not break the one-line promise.
fn text(code: StatusCode, message: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, TEXT)],
        one_line(&message) + "\n",
    )
        .into_response()
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn json(code: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(mut body) => {
            body.push(b'\n');
            (code, [(header::CONTENT_TYPE, JSON)], body).into_response()
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding JSON failed: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests;
