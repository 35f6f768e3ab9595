//! Limits on gRPC requests: oversized ones fail with `RESOURCE_EXHAUSTED`
//! ([`OversizeLayer`]), and the bytes of requests still being received are
//! held to a memory budget and a deadline ([`BudgetLayer`]).
//!
//! tonic rejects a message over the decoding limit with `OUT_OF_RANGE`,
//! while gRPC's convention (grpc-go, grpc-java, what `grpcurl` users
//! expect) is `RESOURCE_EXHAUSTED`. This layer rewrites exactly that
//! status, in the trailers-only response tonic sends for it, and says which
//! flag sets the limit.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Semaphore;
use tonic::{Code, Status};
use tower::{Layer, Service};

/// The tower layer; `limit` is only used in the message.
#[derive(Clone, Debug)]
pub struct OversizeLayer {
    /// The configured request limit in bytes.
    pub limit: usize,
}

impl<S> Layer<S> for OversizeLayer {
    type Service = Oversize<S>;

    fn layer(&self, inner: S) -> Oversize<S> {
        Oversize {
            inner,
            limit: self.limit,
        }
    }
}

/// The service produced by [`OversizeLayer`].
#[derive(Clone, Debug)]
pub struct Oversize<S> {
    inner: S,
    limit: usize,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Oversize<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let limit = self.limit;
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers_mut();
            if let Some(status) = Status::from_header_map(headers)
                && status.code() == Code::OutOfRange
                && status
                    .message()
                    .contains("decoded message length too large")
            {
                let found = status
                    .message()
                    .split("found ")
                    .nth(1)
                    .and_then(|s| s.split(' ').next())
                    .unwrap_or("?");
                crate::telemetry::metrics()
                    .rejections
                    .add(1, &crate::telemetry::reason("request_too_large"));
                let replacement = Status::resource_exhausted(format!(
                    "the request is {found} bytes, over the server's limit of {limit} bytes \
                     (--max-request-bytes); send fewer entries per call"
                ));
                let _ = replacement.add_header(headers);
            }
            Ok(response)
        })
    }
}

// ---------------------------------------------------------------------------
// The memory budget for request bodies being received.
//
// tonic reserves a buffer of the size a gRPC message announces in its
// length prefix and keeps every byte received until the message is
// complete, so unfinished requests cost memory for as long as their
// senders like. Every request body is therefore wrapped in a
// [`BudgetBody`], which takes the bytes it receives from a global
// semaphore (`--max-inflight-bytes`) and from its connection's share of it
// as they arrive, refuses the request with `RESOURCE_EXHAUSTED` when
// either is used up, cuts it off with `DEADLINE_EXCEEDED` when it takes
// longer than `--request-body-timeout`, and gives the bytes back when it is
// dropped. Counting arrived bytes rather than announced lengths means a
// client has to actually send the memory it wants the server to hold.

/// Bytes of request bodies being received, server-wide.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    total: Arc<Semaphore>,
    total_bytes: usize,
    timeout: Duration,
}

impl BodyBudget {
    /// A budget of `total_bytes` (`--max-inflight-bytes`); a request body
    /// must have arrived completely within `timeout`
    /// (`--request-body-timeout`).
    pub fn new(total_bytes: usize, timeout: Duration) -> Self {
        BodyBudget {
            total: Arc::new(Semaphore::new(total_bytes.min(Semaphore::MAX_PERMITS))),
            total_bytes,
            timeout,
        }
    }

    /// Each connection's share of `total_bytes`: an eighth of it, so that a
    /// single client needs several connections to use it all up, but at
    /// least one request of `max_request_bytes` (plus its 5-byte gRPC
    /// prefix) so that the largest allowed request always fits.
    pub fn connection_share(total_bytes: usize, max_request_bytes: usize) -> usize {
        (total_bytes / 8)
            .max(max_request_bytes.saturating_add(5))
            .min(total_bytes)
    }
}

/// One connection's share of the [`BodyBudget`]; connections get theirs
/// when accepted (see `tls::Guards`).
#[derive(Clone, Debug)]
pub struct ConnectionShare {
    bytes: Arc<Semaphore>,
    size: usize,
}

impl ConnectionShare {
    /// A share of `size` bytes.
    pub fn new(size: usize) -> Self {
        ConnectionShare {
            bytes: Arc::new(Semaphore::new(size.min(Semaphore::MAX_PERMITS))),
            size,
        }
    }
}

/// The tower layer that puts every request body on the budget.
#[derive(Clone, Debug)]
pub struct BudgetLayer {
    /// The server-wide budget.
    pub budget: BodyBudget,
}

impl<S> Layer<S> for BudgetLayer {
    type Service = Budget<S>;

    fn layer(&self, inner: S) -> Budget<S> {
        Budget {
            inner,
            budget: self.budget.clone(),
        }
    }
}

/// The service produced by [`BudgetLayer`].
#[derive(Clone, Debug)]
pub struct Budget<S> {
    inner: S,
    budget: BodyBudget,
}

impl<S, ReqBody> Service<http::Request<ReqBody>> for Budget<S>
where
    S: Service<http::Request<BudgetBody<ReqBody>>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // The accept loop gives every gRPC connection a share; a
        // connection without one (none is expected) still counts against
        // the server-wide budget.
        let share = request
            .extensions()
            .get::<crate::api::tls::Peer>()
            .and_then(|p| p.body_share.clone());
        let budget = self.budget.clone();
        self.inner
            .call(request.map(|body| BudgetBody::new(body, budget, share)))
    }
}

/// A request body that holds the bytes it received against the budget
/// until it is dropped, and must end before its deadline.
pub struct BudgetBody<B> {
    inner: Pin<Box<B>>,
    budget: BodyBudget,
    share: Option<ConnectionShare>,
    /// Bytes taken from the budget (and from the share).
    held: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// The whole body arrived: no deadline any more.
    complete: bool,
}

impl<B> BudgetBody<B> {
    fn new(inner: B, budget: BodyBudget, share: Option<ConnectionShare>) -> Self {
        BudgetBody {
            inner: Box::pin(inner),
            deadline: Box::pin(tokio::time::sleep(budget.timeout)),
            budget,
            share,
            held: 0,
            complete: false,
        }
    }

    /// Takes `n` more bytes from the connection's share and the budget.
    fn reserve(&mut self, n: usize) -> Result<(), Status> {
        // A DATA frame is at most 16 MiB (HTTP/2's largest frame size).
        let permits = u32::try_from(n).unwrap_or(u32::MAX);
        let from_share = match &self.share {
            Some(share) => match share.bytes.try_acquire_many(permits) {
                Ok(p) => Some(p),
                Err(_) => {
                    return Err(refused(format!(
                        "this connection's unfinished requests already hold {} bytes, its share \
                         of the server's memory budget for requests in flight \
                         (--max-inflight-bytes {}); wait for answers before sending more on \
                         one connection",
                        share.size - share.bytes.available_permits(),
                        self.budget.total_bytes
                    )));
                }
            },
            None => None,
        };
        let Ok(from_total) = self.budget.total.try_acquire_many(permits) else {
            // `from_share` is dropped, giving its bytes back.
            return Err(refused(format!(
                "the server's memory budget for requests in flight is used up \
                 (--max-inflight-bytes {}); retry shortly",
                self.budget.total_bytes
            )));
        };
        // Given back by hand in `release`: the count is what matters, and
        // one integer is cheaper to keep than a permit per frame.
        from_total.forget();
        if let Some(p) = from_share {
            p.forget();
        }
        self.held += n;
        Ok(())
    }

    fn release(&mut self) {
        if self.held > 0 {
            self.budget.total.add_permits(self.held);
            if let Some(share) = &self.share {
                share.bytes.add_permits(self.held);
            }
            self.held = 0;
        }
    }
}

fn refused(message: String) -> Status {
    crate::telemetry::metrics()
        .rejections
        .add(1, &crate::telemetry::reason("memory_budget"));
    Status::resource_exhausted(message)
}

impl<B> Drop for BudgetBody<B> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<B> http_body::Body for BudgetBody<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Data = Bytes;
    type Error = tonic::codegen::StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        // Every field is Unpin (the body and the timer are boxed).
        let this = self.get_mut();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(status) = this.reserve(data.len())
                {
                    this.release();
                    this.complete = true;
                    return Poll::Ready(Some(Err(status.into())));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => {
                this.complete = true;
                Poll::Ready(None)
            }
            Poll::Pending if this.complete => Poll::Pending,
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.release();
                    this.complete = true;
                    crate::telemetry::metrics()
                        .rejections
                        .add(1, &crate::telemetry::reason("request_body_timeout"));
                    Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                        "the request did not arrive completely within {:?} \
                         (--request-body-timeout); send each request without pausing",
                        this.budget.timeout
                    ))
                    .into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
