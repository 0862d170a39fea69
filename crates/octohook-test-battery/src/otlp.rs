//! Trace collectors for the trace tests, on 127.0.0.1: [`OtlpCollector`]
//! decodes what an OTLP/HTTP exporter posts and keeps the spans;
//! [`SilentCollector`] accepts connections and never answers (a collector
//! that hangs).
//!
//! The spans are kept flat ([`CollectedSpan`]); [`traces`] groups them by
//! trace and [`CollectedSpan::is_child_of`] checks a parent link, so that a
//! test can check any tree: `receive` → `store` → `attempt` today, a broker's
//! `publish` and a consumer's `consume` after them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

/// One span as a collector received it, ids in lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectedSpan {
    /// The `service.name` of the resource that sent it.
    pub service_name: String,
    /// The span's name (`receive`, `store`, `attempt`...).
    pub name: String,
    /// The trace id (32 hex digits).
    pub trace_id: String,
    /// The span id (16 hex digits).
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// The span's attributes, each value as text.
    pub attributes: BTreeMap<String, String>,
    /// The OTLP span kind (1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// When it started and ended, in nanoseconds since the epoch.
    pub start_end_nanos: (u64, u64),
}

impl CollectedSpan {
    /// Whether `parent` is this span's parent, in the same trace.
    pub fn is_child_of(&self, parent: &CollectedSpan) -> bool {
        self.trace_id == parent.trace_id && self.parent_span_id.as_ref() == Some(&parent.span_id)
    }

    /// An attribute's value, as text.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// `spans` grouped by trace id.
pub fn traces(spans: &[CollectedSpan]) -> BTreeMap<String, Vec<CollectedSpan>> {
    let mut traces: BTreeMap<String, Vec<CollectedSpan>> = BTreeMap::new();
    for span in spans {
        traces
            .entry(span.trace_id.clone())
            .or_default()
            .push(span.clone());
    }
    traces
}

#[derive(Default)]
struct Received {
    spans: Mutex<Vec<CollectedSpan>>,
    requests: AtomicUsize,
}

/// An OTLP/HTTP (protobuf) trace collector on 127.0.0.1, on a thread and a
/// runtime of its own (so that sync and async tests can use it alike). It
/// answers each export with 200 and keeps every span; it stops when dropped.
///
/// Point an exporter at [`endpoint`](Self::endpoint) (as
/// `OTEL_EXPORTER_OTLP_ENDPOINT`); it serves `POST /v1/traces`.
#[derive(Debug)]
pub struct OtlpCollector {
    address: SocketAddr,
    received: Arc<Received>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl OtlpCollector {
    /// Starts a collector on a free port.
    ///
    /// # Panics
    /// When it cannot listen or start its thread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("its address");
        let received = Arc::new(Received::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&received);
        std::thread::Builder::new()
            .name("otlp-collector".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the collector");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    let app = axum::Router::new()
                        .route("/v1/traces", post(export))
                        .with_state(state);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .expect("the collector's thread");
        Self {
            address,
            received,
            stop: Some(stop),
        }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<CollectedSpan> {
        self.received.spans.lock().unwrap().clone()
    }

    /// How many export requests arrived (decodable or not).
    pub fn requests(&self) -> usize {
        self.received.requests.load(Ordering::SeqCst)
    }

    /// Waits up to `patience` until `done` holds of the spans received, and
    /// returns them; `Err` with what arrived when it never does.
    pub fn wait_for(
        &self,
        patience: Duration,
        done: impl Fn(&[CollectedSpan]) -> bool,
    ) -> Result<Vec<CollectedSpan>, Vec<CollectedSpan>> {
        let deadline = Instant::now() + patience;
        loop {
            let spans = self.spans();
            if done(&spans) {
                return Ok(spans);
            }
            if Instant::now() >= deadline {
                return Err(spans);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for OtlpCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn export(State(received): State<Arc<Received>>, body: Bytes) -> impl IntoResponse {
    received.requests.fetch_add(1, Ordering::SeqCst);
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
    };
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .iter()
            .flat_map(|resource| &resource.attributes)
            .find(|attribute| attribute.key == "service.name")
            .map(value_text)
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(CollectedSpan {
                    service_name: service_name.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty())
                        .then(|| hex(&span.parent_span_id)),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|attribute| (attribute.key.clone(), value_text(attribute)))
                        .collect(),
                    kind: span.kind,
                    start_end_nanos: (span.start_time_unix_nano, span.end_time_unix_nano),
                });
            }
        }
    }
    received.spans.lock().unwrap().extend(spans);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
        .into_response()
}

fn value_text(attribute: &KeyValue) -> String {
    match attribute
        .value
        .as_ref()
        .and_then(|value: &AnyValue| value.value.as_ref())
    {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// A collector that accepts connections and never answers, nor reads past
/// what the kernel buffers: an exporter pointed at it waits for its timeout.
/// Counts the connections it accepted; stops when dropped.
#[derive(Debug)]
pub struct SilentCollector {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl SilentCollector {
    /// Starts one on a free port.
    ///
    /// # Panics
    /// When it cannot listen.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("its address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stop) = (Arc::clone(&accepted), Arc::clone(&stopped));
        std::thread::spawn(move || {
            // Held open, unread, until the collector is dropped.
            let mut held = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((connection, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        held.push(connection);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            address,
            accepted,
            stopped,
        }
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many connections it accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentCollector {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
}
