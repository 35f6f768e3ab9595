//! OpenTelemetry export, received by a real OTLP/gRPC collector started in
//! the test (a tonic server built from `opentelemetry-proto`): one trace
//! follows a submission through validation, sequencing, signing, the
//! witnesses and the TSA, and every documented metric arrives, failures
//! by witness and by reason included.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causeway_client::LogClient;
use causeway_tests::{Server, Tsa, Witness, init_log, start_witnesses};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;

const ORIGIN: &str = "test.causeway/otel";

/// One exported data point: metric name, attributes, value.
#[derive(Clone, Debug)]
struct Point {
    name: String,
    attributes: HashMap<String, String>,
    value: f64,
}

/// What the collector received.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    services: Arc<Mutex<BTreeSet<String>>>,
    points: Arc<Mutex<Vec<Point>>>,
}

fn attributes(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for rs in request.into_inner().resource_spans {
            if let Some(r) = &rs.resource
                && let Some(name) = attributes(&r.attributes).get("service.name")
            {
                self.services.lock().unwrap().insert(name.clone());
            }
            for ss in rs.scope_spans {
                self.spans.lock().unwrap().extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut points = self.points.lock().unwrap();
        for rm in request.into_inner().resource_metrics {
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    let numbers = match &m.data {
                        Some(metric::Data::Gauge(g)) => g.data_points.clone(),
                        Some(metric::Data::Sum(s)) => s.data_points.clone(),
                        Some(metric::Data::Histogram(h)) => {
                            for p in &h.data_points {
                                points.push(Point {
                                    name: m.name.clone(),
                                    attributes: attributes(&p.attributes),
                                    value: p.count as f64,
                                });
                            }
                            continue;
                        }
                        _ => continue,
                    };
                    for p in numbers {
                        let value = match p.value {
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            None => continue,
                        };
                        points.push(Point {
                            name: m.name.clone(),
                            attributes: attributes(&p.attributes),
                            value,
                        });
                    }
                }
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

impl Collector {
    async fn start() -> (Collector, String) {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        (collector, url)
    }

    /// The latest value of `name` whose attributes include `with`.
    fn latest(&self, name: &str, with: &[(&str, &str)]) -> Option<f64> {
        self.points
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|p| {
                p.name == name
                    && with
                        .iter()
                        .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|p| p.value)
    }

    /// The trace that reached `anchor`: its spans by name.
    fn anchored_trace(&self) -> Option<HashMap<String, Span>> {
        let spans = self.spans.lock().unwrap();
        let anchor = spans.iter().find(|s| {
            s.name == "anchor"
                && spans
                    .iter()
                    .any(|o| o.trace_id == s.trace_id && o.name == "submit")
        })?;
        let by_name: HashMap<String, Span> = spans
            .iter()
            .filter(|s| s.trace_id == anchor.trace_id)
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        let all = [
            "submit",
            "validate",
            "sequence",
            "integrate",
            "sign",
            "commit",
            "cosign",
            "add-checkpoint",
            "anchor",
        ];
        all.iter()
            .all(|n| by_name.contains_key(*n))
            .then_some(by_name)
    }
}

async fn wait_for<T>(what: &str, server: &Server, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not arrive at the collector in 40 s; server stderr:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_and_metrics_reach_an_otlp_collector() {
    let (collector, endpoint) = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log_dir = dir.path().join("log");
    let log_vkeys = init_log(&log_dir, ORIGIN);
    let mut witnesses = start_witnesses(dir.path(), "witness.test/w", &log_vkeys, 2);
    let tsa = Tsa::start(&dir.path().join("tsa"), "ec", 0);
    let flags: Vec<String> = witnesses.iter().map(Witness::flag).collect();
    let roots = tsa.roots.to_str().unwrap().to_owned();
    let mut args = vec![
        "--origin",
        ORIGIN,
        "--otlp-endpoint",
        &endpoint,
        "--otlp-interval",
        "200ms",
        "--tsa-url",
        &tsa.url,
        "--tsa-roots",
        &roots,
        "--tsa-interval",
        "0ms",
        "--witness-timeout",
        "1s",
    ];
    for f in &flags {
        args.extend(["--witness", f]);
    }
    let server = Server::start(&log_dir, &args);
    let mut client = LogClient::connect(&server.url).await.unwrap();

    // One request's trace, from submit to anchor.
    let added = client
        .add_entries((0..5).map(|i| format!("otel-{i}").into_bytes()).collect())
        .await
        .unwrap();
    let size = added.entries.last().unwrap().index + 1;
    let trace = wait_for("a trace from submit to anchor", &server, || {
        collector.anchored_trace()
    })
    .await;
    let parent = |child: &str, parent: &str| {
        assert_eq!(
            trace[child].parent_span_id, trace[parent].span_id,
            "{child} must be a child of {parent}"
        );
    };
    parent("validate", "submit");
    parent("sequence", "submit");
    parent("integrate", "sequence");
    parent("sign", "integrate");
    parent("commit", "integrate");
    parent("cosign", "integrate");
    parent("add-checkpoint", "cosign");
    parent("anchor", "cosign");
    assert!(
        trace["submit"].parent_span_id.is_empty(),
        "submit is the root"
    );
    assert!(
        collector
            .services
            .lock()
            .unwrap()
            .contains("causeway-server")
    );

    // A rejection by reason.
    let refused = client.add_entries(Vec::new()).await.unwrap_err();
    assert_eq!(refused.code(), Some(tonic::Code::InvalidArgument));
    wait_for(
        "causeway.rejections{reason=invalid_argument}",
        &server,
        || collector.latest("causeway.rejections", &[("reason", "invalid_argument")]),
    )
    .await;

    // Gauges and histograms with the values the log has.
    wait_for("causeway.tree.size at the submitted size", &server, || {
        collector
            .latest("causeway.tree.size", &[])
            .filter(|v| *v as u64 == size)
    })
    .await;
    wait_for("causeway.tree.published_size", &server, || {
        collector
            .latest("causeway.tree.published_size", &[])
            .filter(|v| *v as u64 == size)
    })
    .await;
    let new = wait_for("causeway.submissions{outcome=new}", &server, || {
        collector.latest("causeway.submissions", &[("outcome", "new")])
    })
    .await;
    assert_eq!(new as u64, size);
    for name in [
        "causeway.batch.entries",
        "causeway.integration.duration",
        "causeway.anchor.lag",
        "causeway.rocksdb.size",
        "causeway.leader",
    ] {
        wait_for(name, &server, || collector.latest(name, &[])).await;
    }
    assert_eq!(
        collector.latest("causeway.leader", &[]),
        Some(1.0),
        "a single instance takes writes"
    );
    assert!(
        collector
            .latest("causeway.rocksdb.size", &[("backend", "rocksdb")])
            .unwrap()
            > 0.0
    );
    for w in ["witness.test/w1", "witness.test/w2"] {
        wait_for("causeway.witness.lag per witness", &server, || {
            collector.latest("causeway.witness.lag", &[("witness", w)])
        })
        .await;
    }

    // Failures: a TSA that answers garbage, then a witness that is down.
    tsa.set_mode("garbage");
    client
        .add_entries(vec![b"while the TSA lies".to_vec()])
        .await
        .unwrap();
    wait_for("causeway.tsa.failures{reason=invalid}", &server, || {
        collector.latest("causeway.tsa.failures", &[("reason", "invalid")])
    })
    .await;
    tsa.set_mode("ok");
    witnesses.pop().unwrap().kill9();
    client
        .add_entries(vec![b"while a witness is down".to_vec()])
        .await
        .unwrap();
    wait_for(
        "causeway.witness.failures for the dead witness",
        &server,
        || {
            collector.latest(
                "causeway.witness.failures",
                &[("witness", "witness.test/w2"), ("reason", "unreachable")],
            )
        },
    )
    .await;
    drop(witnesses);
    assert!(server.terminate().success());
}
