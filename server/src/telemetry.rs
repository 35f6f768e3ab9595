//! Logs, traces and metrics.
//!
//! Logs go to stderr through `tracing` (text or JSON). With an OTLP
//! endpoint, the same `tracing` spans are exported as OpenTelemetry traces
//! and the instruments of [`Metrics`] as OpenTelemetry metrics, both over
//! OTLP/gRPC. Without one, the trace spans are disabled at the subscriber
//! (they are `DEBUG` spans the log filter does not want) and the
//! instruments are no-ops, so telemetry costs nothing when it is off.
//!
//! One submission's trace is `submit` (with `validate` and `sequence`) →
//! `integrate` (with `sign` and `commit`; in the sequencer thread, a child
//! of the batch's first submission and linked to the others) → `cosign`
//! (with one `add-checkpoint` per witness) → `anchor`. The stages run in
//! different tasks and threads and at different times; a [`TraceLink`]
//! carries the parent across.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};
use opentelemetry::trace::{SpanContext, TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::storage::Storage;

/// The `service.name` of everything exported.
pub const SERVICE_NAME: &str = "causeway-server";

/// Where and how to export.
#[derive(Clone, Debug)]
pub struct OtlpConfig {
    /// The OTLP/gRPC collector, e.g. `http://127.0.0.1:4317`.
    pub endpoint: String,
    /// How often metrics are exported and queued spans are sent.
    pub interval: Duration,
    /// The fraction of submissions whose trace is recorded (0 to 1).
    pub trace_ratio: f64,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("--otlp-endpoint {endpoint}: {message}")]
    Exporter {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

/// The exporters; [`Telemetry::shutdown`] flushes what is still queued.
#[must_use = "dropping Telemetry without shutdown() loses the last spans and metrics"]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Installs the global `tracing` subscriber (stderr in `format`, "text"
    /// or "json", filtered by `RUST_LOG`, default `info`: see
    /// `causeway_io::logging`) and, with `otlp`,
    /// the OpenTelemetry exporters. Must be called inside a Tokio runtime
    /// (the OTLP client is tonic), before anything records a metric.
    ///
    /// # Errors
    /// If the OTLP endpoint is unusable.
    pub fn init(format: &str, otlp: Option<&OtlpConfig>) -> Result<Self, TelemetryError> {
        // `--log-format` is checked by clap: text or json.
        let fmt = causeway_io::logging::stderr_layer(format.parse().unwrap_or_default());
        let Some(otlp) = otlp else {
            tracing_subscriber::registry().with(fmt).init();
            return Ok(Telemetry {
                tracer: None,
                meter: None,
            });
        };
        let error = |e: &dyn std::fmt::Display| TelemetryError::Exporter {
            endpoint: otlp.endpoint.clone(),
            message: e.to_string(),
        };
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(SERVICE_NAME)
            .build();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&otlp.endpoint)
            .build()
            .map_err(|e| error(&e))?;
        let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(spans)
            .with_batch_config(
                opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_scheduled_delay(otlp.interval)
                    .build(),
            )
            .build();
        let ratio = otlp.trace_ratio.clamp(0.0, 1.0);
        let tracer = SdkTracerProvider::builder()
            .with_span_processor(batch)
            .with_sampler(opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
                opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(ratio),
            )))
            .with_resource(resource.clone())
            .build();
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(&otlp.endpoint)
            .build()
            .map_err(|e| error(&e))?;
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(metrics)
            .with_interval(otlp.interval)
            .build();
        let meter = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_meter_provider(meter.clone());
        // Only this crate's spans become traces: they are the pipeline's
        // stages, where library spans (h2, tonic) would only be noise.
        let traced = tracing_subscriber::filter::Targets::new()
            .with_target("causeway_server", tracing::Level::DEBUG);
        let otel = tracing_opentelemetry::layer()
            .with_tracer(tracer.tracer(SERVICE_NAME))
            .with_threads(false)
            .with_filter(traced);
        tracing_subscriber::registry().with(fmt).with(otel).init();
        Ok(Telemetry {
            tracer: Some(tracer),
            meter: Some(meter),
        })
    }

    /// Exports what is still queued and stops the exporters.
    pub fn shutdown(self) {
        if let Some(t) = self.tracer
            && let Err(e) = t.shutdown()
        {
            tracing::warn!(error = %e, "flushing traces failed");
        }
        if let Some(m) = self.meter
            && let Err(e) = m.shutdown()
        {
            tracing::warn!(error = %e, "flushing metrics failed");
        }
    }
}

/// A span's identity, carried to the stage that continues its trace in
/// another task or thread. Holding one never keeps the span open.
#[derive(Clone, Debug)]
pub struct TraceLink(SpanContext);

impl TraceLink {
    /// No trace (telemetry off, or not sampled).
    pub fn none() -> Self {
        TraceLink(SpanContext::empty_context())
    }

    /// The identity of `span`.
    pub fn of(span: &tracing::Span) -> Self {
        TraceLink(span.context().span().span_context().clone())
    }

    /// Makes `span` a child of this one.
    pub fn parent_of(&self, span: &tracing::Span) {
        if self.0.is_valid() {
            let _ = span
                .set_parent(opentelemetry::Context::new().with_remote_span_context(self.0.clone()));
        }
    }

    /// Links `span` to this one (a batch to the submissions it carries).
    pub fn link_from(&self, span: &tracing::Span) {
        if self.0.is_valid() {
            span.add_link(self.0.clone());
        }
    }
}

/// Trace links say nothing about the data they travel with.
impl PartialEq for TraceLink {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for TraceLink {}

/// The log's instruments. Names follow OpenTelemetry's conventions
/// (dot-separated, units in `unit`); the README lists them.
pub struct Metrics {
    /// `causeway.tree.size`: the durable tree size.
    pub tree_size: Gauge<u64>,
    /// `causeway.tree.published_size`: the size of the published checkpoint.
    pub published_size: Gauge<u64>,
    /// `causeway.submissions`: submitted entries, by `outcome`
    /// (`new`, `duplicate`).
    pub submissions: Counter<u64>,
    /// `causeway.rejections`: refused requests, by `reason`.
    pub rejections: Counter<u64>,
    /// `causeway.batch.entries`: new entries per committed batch.
    pub batch_entries: Histogram<u64>,
    /// `causeway.integration.duration`: seconds from a request's arrival in
    /// the sequencer queue to its durable acknowledgement.
    pub integration: Histogram<f64>,
    /// `causeway.witness.lag`: entries between the durable head and the
    /// latest size a witness cosigned, by `witness`.
    pub witness_lag: Gauge<u64>,
    /// `causeway.witness.failures`: failed cosignature requests, by
    /// `witness` and `reason`.
    pub witness_failures: Counter<u64>,
    /// `causeway.anchor.lag`: entries between the published checkpoint and
    /// the latest anchored one.
    pub anchor_lag: Gauge<u64>,
    /// `causeway.tsa.failures`: failed time-stamp requests, by `reason`.
    pub tsa_failures: Counter<u64>,
    /// `causeway.leader`: 1 while this instance takes writes, else 0.
    pub leader: Gauge<u64>,
}

impl Metrics {
    fn new(meter: &Meter) -> Self {
        Metrics {
            leader: meter
                .u64_gauge("causeway.leader")
                .with_description(
                    "1 while this instance takes writes (the leader with --ha), else 0",
                )
                .build(),
            tree_size: meter
                .u64_gauge("causeway.tree.size")
                .with_description("Durable tree size")
                .with_unit("{entry}")
                .build(),
            published_size: meter
                .u64_gauge("causeway.tree.published_size")
                .with_description("Size of the published (cosigned) checkpoint")
                .with_unit("{entry}")
                .build(),
            submissions: meter
                .u64_counter("causeway.submissions")
                .with_description("Submitted entries by outcome (new, duplicate)")
                .with_unit("{entry}")
                .build(),
            rejections: meter
                .u64_counter("causeway.rejections")
                .with_description("Refused AddEntries requests by reason")
                .with_unit("{request}")
                .build(),
            batch_entries: meter
                .u64_histogram("causeway.batch.entries")
                .with_description("New entries per committed batch")
                .with_unit("{entry}")
                .with_boundaries(vec![1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0])
                .build(),
            integration: meter
                .f64_histogram("causeway.integration.duration")
                .with_description("Time from queueing to durable acknowledgement")
                .with_unit("s")
                .with_boundaries(vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ])
                .build(),
            witness_lag: meter
                .u64_gauge("causeway.witness.lag")
                .with_description("Entries the witness's latest cosigned size is behind the log")
                .with_unit("{entry}")
                .build(),
            witness_failures: meter
                .u64_counter("causeway.witness.failures")
                .with_description("Failed cosignature requests by witness and reason")
                .with_unit("{request}")
                .build(),
            anchor_lag: meter
                .u64_gauge("causeway.anchor.lag")
                .with_description(
                    "Entries the latest anchored checkpoint is behind the published one",
                )
                .with_unit("{entry}")
                .build(),
            tsa_failures: meter
                .u64_counter("causeway.tsa.failures")
                .with_description("Failed RFC 3161 time-stamp requests by reason")
                .with_unit("{request}")
                .build(),
        }
    }
}

/// The instruments, created from the global meter provider on first use
/// (after [`Telemetry::init`]; before it, or without OTLP, they do nothing).
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| Metrics::new(&opentelemetry::global::meter(SERVICE_NAME)))
}

/// Reports `causeway.rocksdb.size` from `storage` at every export: bytes
/// of live SST and WAL files, or of the PostgreSQL database (the name is
/// kept for dashboards; the `backend` attribute says which).
pub fn observe_storage(storage: Arc<dyn Storage>) {
    static GAUGE: OnceLock<opentelemetry::metrics::ObservableGauge<u64>> = OnceLock::new();
    GAUGE.get_or_init(|| {
        opentelemetry::global::meter(SERVICE_NAME)
            .u64_observable_gauge("causeway.rocksdb.size")
            .with_description(
                "Bytes of the store: RocksDB files (SST and WAL) or the PostgreSQL database",
            )
            .with_unit("By")
            .with_callback(move |observer| {
                if let Some(bytes) = storage.disk_bytes() {
                    observer.observe(bytes, &[KeyValue::new("backend", storage.backend())]);
                }
            })
            .build()
    });
}

/// A `reason` attribute.
pub fn reason(reason: &'static str) -> [KeyValue; 1] {
    [KeyValue::new("reason", reason)]
}

/// The error with its causes: reqwest's own message omits the useful part
/// ("connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
