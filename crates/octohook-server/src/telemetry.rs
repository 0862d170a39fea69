//! [`Telemetry`]: the pipeline's OpenTelemetry spans, exported over OTLP
//! (HTTP/protobuf) to a collector.
//!
//! One trace per delivery:
//!
//! | span | where | parent |
//! | --- | --- | --- |
//! | `receive` | the route, once the delivery is verified | none: the root (or the service's own request span) |
//! | `store` | the inbox's insert | `receive` |
//! | `attempt` | each handler attempt, on any worker, any machine: its number, its `outcome` (`done`, `retry`, `failed`, `lost`), an error status when the handler failed | `store`, through the `trace_parent` kept with the delivery |
//!
//! The brokers' `publish` span (inside `attempt`) and a consumer's `consume`
//! span join the same trace, through the `traceparent` message header.
//!
//! What the network can make it spend: a span is created for verified
//! deliveries only (a request refused before or at verification creates
//! none, so it exports nothing), each delivery's spans are queued in a bounded
//! queue ([`DEFAULT_MAX_QUEUE_SIZE`] spans; more are dropped, never waited
//! for), and the export runs on a thread of its own: a slow or dead collector
//! never holds up an answer.
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//! use octohook_server::Telemetry;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = Telemetry::builder()
//!     .endpoint("http://127.0.0.1:4318")?
//!     .service_name("github-hooks")
//!     .build()?;
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::fmt::layer())
//!     .with(telemetry.layer())
//!     .init();
//! // ... serve; then, at shutdown, export what is queued:
//! telemetry.shutdown()?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, LevelFilter, filter_fn};
use tracing_subscriber::registry::LookupSpan;
use url::Url;

/// The names of the spans [`Telemetry::layer`] exports, when their target is
/// in an `octohook` crate: the receiver's, the inbox's and the brokers'.
pub const TRACE_SPANS: &[&str] = &["receive", "store", "attempt", "publish", "consume"];

/// The spans of finished work held for export at most, by default; past it,
/// spans are dropped (`OTEL_BSP_MAX_QUEUE_SIZE` sets it for `octohook serve`).
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;

/// The service name when none is configured.
pub const DEFAULT_SERVICE_NAME: &str = "octohook";

/// How long [`Telemetry::shutdown`] (and dropping a [`Telemetry`]) waits for
/// the queued spans to be exported.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The standard variables `octohook serve` reads (see
/// [`TelemetryBuilder::from_env`]).
pub mod variables {
    /// The collector's base URL; traces go to `{URL}/v1/traces`.
    pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// The traces URL itself, used as it is; wins over [`ENDPOINT`].
    pub const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    /// The `service.name` of the spans.
    pub const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    /// `true` turns the exporter off whatever else is set.
    pub const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
    /// `none` turns the exporter off; `otlp` (or unset) is the only other value.
    pub const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
    /// The OTLP protocol: only `http/protobuf` is built in.
    pub const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    /// The traces' OTLP protocol, wins over [`PROTOCOL`].
    pub const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    /// The queue bound, in spans.
    pub const MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The collector's URL is not an `http` or `https` URL. The URL is not
    /// quoted: it may hold a token.
    #[error("{variable} is not an http:// or https:// URL: {reason}")]
    Endpoint {
        /// The setting or variable that held it.
        variable: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An OTLP protocol other than `http/protobuf` was asked for.
    #[error("{variable}={protocol:?}: only http/protobuf is supported")]
    Protocol {
        /// The variable that asked for it.
        variable: &'static str,
        /// Its value.
        protocol: String,
    },
    /// A variable holds something that is not what it takes.
    #[error("{variable}: {reason}")]
    Variable {
        /// The variable.
        variable: &'static str,
        /// What it takes.
        reason: &'static str,
    },
    /// No endpoint was given to the builder.
    #[error("no OTLP endpoint configured")]
    NoEndpoint,
    /// The exporter could not be built.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// Shutting down failed (or timed out) before every queued span was
    /// exported.
    #[error("cannot flush the queued spans: {0}")]
    Shutdown(String),
}

/// How to export traces: a collector's URL, a service name, a queue bound.
///
/// Build one with [`Telemetry::builder`], or from the standard variables with
/// [`from_env`](Self::from_env).
#[derive(Clone, PartialEq, Eq)]
pub struct TelemetryBuilder {
    traces_url: Option<Url>,
    service_name: Option<String>,
    max_queue_size: usize,
    timeout: Option<Duration>,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field(
                "traces_url",
                &self
                    .traces_url
                    .as_ref()
                    .map(|url| redacted(url).to_string()),
            )
            .field("service_name", &self.service_name)
            .field("max_queue_size", &self.max_queue_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        Self {
            traces_url: None,
            service_name: None,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            timeout: None,
        }
    }
}

impl TelemetryBuilder {
    /// Exports to the collector at `base` (as `OTEL_EXPORTER_OTLP_ENDPOINT`
    /// says it): traces go to `{base}/v1/traces`.
    ///
    /// ```
    /// let builder = octohook_server::Telemetry::builder().endpoint("http://127.0.0.1:4318/").unwrap();
    /// assert_eq!(builder.traces_url().unwrap().as_str(), "http://127.0.0.1:4318/v1/traces");
    /// ```
    pub fn endpoint(self, base: &str) -> Result<Self, TelemetryError> {
        self.set_endpoint(base, "the OTLP endpoint", true)
    }

    /// Exports traces to exactly this URL (as
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` says it).
    pub fn traces_endpoint(self, url: &str) -> Result<Self, TelemetryError> {
        self.set_endpoint(url, "the OTLP traces endpoint", false)
    }

    fn set_endpoint(
        mut self,
        text: &str,
        variable: &'static str,
        append_path: bool,
    ) -> Result<Self, TelemetryError> {
        let endpoint = |reason: String| TelemetryError::Endpoint { variable, reason };
        let mut url = Url::parse(text).map_err(|error| endpoint(error.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(endpoint(format!("a {} URL without a host", url.scheme())));
        }
        if append_path {
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
        }
        self.traces_url = Some(url);
        Ok(self)
    }

    /// The `service.name` of the spans ([`DEFAULT_SERVICE_NAME`] when unset).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The most finished spans held for export ([`DEFAULT_MAX_QUEUE_SIZE`] by
    /// default, at least 1); past it, spans are dropped.
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.max_queue_size = spans.max(1);
        self
    }

    /// How long one export request may take (`OTEL_EXPORTER_OTLP_TIMEOUT`, or
    /// 10 s, when unset).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Where the traces go, once set.
    pub fn traces_url(&self) -> Option<&Url> {
        self.traces_url.as_ref()
    }

    /// The configuration the standard variables give, read from the
    /// process's environment: `None` when they configure no exporter (no
    /// endpoint, `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`).
    /// See [`variables`].
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), with the variables read through `var`.
    ///
    /// ```
    /// use octohook_server::TelemetryBuilder;
    ///
    /// let none = TelemetryBuilder::from_vars(|_| None).unwrap();
    /// assert!(none.is_none());
    /// let vars = |name: &str| match name {
    ///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_owned()),
    ///     "OTEL_SERVICE_NAME" => Some("hooks".to_owned()),
    ///     _ => None,
    /// };
    /// let builder = TelemetryBuilder::from_vars(vars).unwrap().unwrap();
    /// assert_eq!(builder.traces_url().unwrap().as_str(), "http://collector:4318/v1/traces");
    /// ```
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, TelemetryError> {
        let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        if set(variables::SDK_DISABLED)
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        match set(variables::TRACES_EXPORTER).as_deref().map(str::trim) {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(_) => {
                return Err(TelemetryError::Variable {
                    variable: variables::TRACES_EXPORTER,
                    reason: "only otlp and none are supported",
                });
            }
        }
        let mut builder = Self::default();
        builder = match (set(variables::TRACES_ENDPOINT), set(variables::ENDPOINT)) {
            (Some(url), _) => {
                builder.set_endpoint(url.trim(), variables::TRACES_ENDPOINT, false)?
            }
            (None, Some(base)) => builder.set_endpoint(base.trim(), variables::ENDPOINT, true)?,
            (None, None) => return Ok(None),
        };
        for variable in [variables::TRACES_PROTOCOL, variables::PROTOCOL] {
            if let Some(protocol) = set(variable) {
                if protocol.trim() != "http/protobuf" {
                    return Err(TelemetryError::Protocol { variable, protocol });
                }
                break;
            }
        }
        if let Some(name) = set(variables::SERVICE_NAME) {
            builder = builder.service_name(name);
        }
        if let Some(size) = set(variables::MAX_QUEUE_SIZE) {
            let size = size.trim().parse::<usize>().ok().filter(|size| *size > 0);
            let size = size.ok_or(TelemetryError::Variable {
                variable: variables::MAX_QUEUE_SIZE,
                reason: "a number of spans, at least 1",
            })?;
            builder = builder.max_queue_size(size);
        }
        Ok(Some(builder))
    }

    /// Starts the exporter: a batch processor on a thread of its own that
    /// posts the spans to the collector. It connects only when it first
    /// exports.
    pub fn build(self) -> Result<Telemetry, TelemetryError> {
        let url = self.traces_url.ok_or(TelemetryError::NoEndpoint)?;
        // The exporter's HTTP client takes the process's rustls provider (an
        // https collector): ring, as every client in the workspace.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.as_str());
        if let Some(timeout) = self.timeout {
            exporter = exporter.with_timeout(timeout);
        }
        let exporter = exporter
            .build()
            .map_err(|error| TelemetryError::Exporter(error.to_string()))?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(self.max_queue_size)
            .build();
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch)
            .build();
        let service_name = self
            .service_name
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder().with_service_name(service_name).build())
            .build();
        let tracer = provider.tracer("octohook");
        Ok(Telemetry {
            provider,
            tracer,
            traces_url: url,
            max_queue_size: self.max_queue_size,
        })
    }
}

/// Exports the pipeline's spans over OTLP: a guard that holds the exporter,
/// gives the [`layer`](Self::layer) to add to the process's subscriber, and
/// exports what is queued on [`shutdown`](Self::shutdown) or when dropped
/// (waiting [`SHUTDOWN_TIMEOUT`] at most). See the [module](self) docs.
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    traces_url: Url,
    max_queue_size: usize,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("traces_url", &redacted(&self.traces_url).to_string())
            .field("max_queue_size", &self.max_queue_size)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// A builder with no endpoint yet.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// The exporter the standard variables configure (see
    /// [`TelemetryBuilder::from_env`]); `None`, and nothing started, when they
    /// configure none.
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        TelemetryBuilder::from_env()?
            .map(TelemetryBuilder::build)
            .transpose()
    }

    /// A `tracing` layer that exports the pipeline's spans ([`TRACE_SPANS`]
    /// of the `octohook` crates) and nothing else: no other span, no log
    /// event. For a layer over the service's own spans too, build one from
    /// [`tracer`](Self::tracer) with `tracing_opentelemetry::layer()`.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            .with_location(false)
            .with_threads(false)
            .with_filter(trace_spans_only())
    }

    /// The OpenTelemetry tracer the spans are exported through.
    pub fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Where the traces go, without credentials or query.
    pub fn traces_url(&self) -> String {
        redacted(&self.traces_url).to_string()
    }

    /// The bound of the export queue, in spans.
    pub fn max_queue_size(&self) -> usize {
        self.max_queue_size
    }

    /// Exports the queued spans and stops the exporter, waiting
    /// [`SHUTDOWN_TIMEOUT`] at most. It blocks the calling thread: from async
    /// code, run it with `spawn_blocking` (or drop the guard outside the
    /// runtime).
    pub fn shutdown(self) -> Result<(), TelemetryError> {
        self.provider
            .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
            .map_err(|error| TelemetryError::Shutdown(error.to_string()))
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // After `shutdown`, this fails at once (already shut down).
        let _ = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
    }
}

/// The filter of [`Telemetry::layer`]: the pipeline's spans, decided once per
/// call site.
fn trace_spans_only() -> FilterFn<fn(&tracing::Metadata<'_>) -> bool> {
    fn is_trace_span(metadata: &tracing::Metadata<'_>) -> bool {
        metadata.is_span()
            && metadata.target().starts_with("octohook")
            && TRACE_SPANS.contains(&metadata.name())
    }
    filter_fn(is_trace_span as fn(&tracing::Metadata<'_>) -> bool)
        .with_max_level_hint(LevelFilter::INFO)
}

/// `url` without user name, password, query or fragment: what may be logged.
fn redacted(url: &Url) -> Url {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn nothing_configured_is_no_exporter() {
        assert_eq!(TelemetryBuilder::from_vars(|_| None).unwrap(), None);
        let only_a_name = [
            (variables::SERVICE_NAME, "hooks"),
            (variables::MAX_QUEUE_SIZE, "10"),
        ];
        assert_eq!(
            TelemetryBuilder::from_vars(vars(&only_a_name)).unwrap(),
            None
        );
        let empty = [(variables::ENDPOINT, " ")];
        assert_eq!(TelemetryBuilder::from_vars(vars(&empty)).unwrap(), None);
        let disabled = [
            (variables::ENDPOINT, "http://127.0.0.1:4318"),
            (variables::SDK_DISABLED, "true"),
        ];
        assert_eq!(TelemetryBuilder::from_vars(vars(&disabled)).unwrap(), None);
        let none = [
            (variables::ENDPOINT, "http://127.0.0.1:4318"),
            (variables::TRACES_EXPORTER, "none"),
        ];
        assert_eq!(TelemetryBuilder::from_vars(vars(&none)).unwrap(), None);
    }

    #[test]
    fn the_traces_endpoint_wins_and_is_used_as_it_is() {
        let both = [
            (variables::ENDPOINT, "http://a:4318/otel/"),
            (variables::TRACES_ENDPOINT, "https://b/custom"),
        ];
        let builder = TelemetryBuilder::from_vars(vars(&both)).unwrap().unwrap();
        assert_eq!(builder.traces_url().unwrap().as_str(), "https://b/custom");
        let base = [(variables::ENDPOINT, "http://a:4318/otel/")];
        let builder = TelemetryBuilder::from_vars(vars(&base)).unwrap().unwrap();
        assert_eq!(
            builder.traces_url().unwrap().as_str(),
            "http://a:4318/otel/v1/traces"
        );
    }

    #[test]
    fn bad_settings_are_refused_without_quoting_the_url() {
        let cases: [&[(&str, &str)]; 5] = [
            &[(variables::ENDPOINT, "ftp://user:hunter2@a/")],
            &[(variables::ENDPOINT, "not a url hunter2")],
            &[
                (variables::ENDPOINT, "http://a:4318"),
                (variables::PROTOCOL, "grpc"),
            ],
            &[
                (variables::ENDPOINT, "http://a:4318"),
                (variables::MAX_QUEUE_SIZE, "0"),
            ],
            &[
                (variables::ENDPOINT, "http://a:4318"),
                (variables::TRACES_EXPORTER, "zipkin"),
            ],
        ];
        for case in cases {
            let error = TelemetryBuilder::from_vars(vars(case)).unwrap_err();
            let text = format!("{error} {error:?}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        let protocol = [
            (variables::ENDPOINT, "http://a:4318"),
            (variables::TRACES_PROTOCOL, "grpc"),
        ];
        assert!(matches!(
            TelemetryBuilder::from_vars(vars(&protocol)),
            Err(TelemetryError::Protocol { .. })
        ));
        let fine = [
            (variables::ENDPOINT, "http://a:4318"),
            (variables::PROTOCOL, "http/protobuf"),
            (variables::MAX_QUEUE_SIZE, "64"),
        ];
        let builder = TelemetryBuilder::from_vars(vars(&fine)).unwrap().unwrap();
        assert_eq!(builder.max_queue_size, 64);
    }

    #[test]
    fn credentials_in_the_url_are_never_shown() {
        let builder = Telemetry::builder()
            .traces_endpoint("https://user:hunter2@collector/v1/traces?token=hunter2")
            .unwrap();
        assert!(!format!("{builder:?}").contains("hunter2"));
        let telemetry = builder.build().unwrap();
        assert!(!format!("{telemetry:?}").contains("hunter2"));
        assert_eq!(telemetry.traces_url(), "https://collector/v1/traces");
        assert_eq!(telemetry.max_queue_size(), DEFAULT_MAX_QUEUE_SIZE);
    }

    #[test]
    fn a_builder_needs_an_endpoint() {
        assert!(matches!(
            Telemetry::builder().build(),
            Err(TelemetryError::NoEndpoint)
        ));
    }
}
