//! Makes oversized gRPC requests fail with `RESOURCE_EXHAUSTED`.
//!
//! tonic rejects a message over the decoding limit with `OUT_OF_RANGE`,
//! while gRPC's convention (grpc-go, grpc-java, what `grpcurl` users
//! expect) is `RESOURCE_EXHAUSTED`. This layer rewrites exactly that
//! status, in the trailers-only response tonic sends for it, and says which
//! flag sets the limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
