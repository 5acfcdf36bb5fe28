//! `tracing` set-up, OpenTelemetry export and W3C trace context on NATS headers.
//!
//! Spans always carry OpenTelemetry ids (an SDK tracer provider is installed even without an
//! exporter), so the trace id of each step can be recorded in the household's chain whether or
//! not a collector is configured. The log filter does not decide which spans exist: the
//! OpenTelemetry layer has its own filter, so `RELIEF_TELEMETRY__FILTER=warn` keeps traces whole.

use crate::settings::TelemetrySettings;
use async_nats::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and shuts the exporter down when dropped; keep it alive for the life of `main`.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            if let Err(error) = p.shutdown() {
                eprintln!("telemetry shutdown: {error}");
            }
        }
    }
}

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs the global subscriber, tracer provider and propagator. Safe to call more than once
/// in a process (tests start many services): only the first call installs anything.
pub fn init(service: &str, settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    init_with(service, settings, |builder| builder)
}

/// As [`init`], letting the caller add to the tracer provider (a span processor that collects
/// spans in memory, in tests).
pub fn init_with(
    service: &str,
    settings: &TelemetrySettings,
    configure: impl FnOnce(
        opentelemetry_sdk::trace::TracerProviderBuilder,
    ) -> opentelemetry_sdk::trace::TracerProviderBuilder,
) -> anyhow::Result<TelemetryGuard> {
    if INSTALLED.get().is_some() {
        return Ok(TelemetryGuard { provider: None });
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = settings.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint)
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = configure(builder).build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer("relief-mesh");

    let otel_filter = EnvFilter::new(
        "info,h2=off,hyper=off,hyper_util=off,tower=off,reqwest=off,sqlx=off,async_nats=off,opentelemetry=off,opentelemetry_sdk=off",
    );
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(otel_filter);
    let log_filter =
        EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = if settings.format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_filter(log_filter)
            .boxed()
    } else {
        use std::io::IsTerminal;
        let ansi = std::io::stdout().is_terminal();
        tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_filter(log_filter)
            .boxed()
    };
    let installed = tracing_subscriber::registry()
        .with(otel)
        .with(fmt)
        .try_init()
        .is_ok();
    let _ = INSTALLED.set(());
    Ok(TelemetryGuard {
        provider: installed.then_some(provider),
    })
}

/// W3C `traceparent` (and `tracestate`, when it is not empty) of a context.
pub fn trace_headers(cx: &Context) -> HashMap<String, String> {
    let mut map = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut map);
    map.retain(|_, v| !v.is_empty());
    map
}

/// The current span's `traceparent`/`tracestate`, for storing with an outbox row.
pub fn current_trace_headers() -> (Option<String>, Option<String>) {
    let map = trace_headers(&tracing::Span::current().context());
    (
        map.get("traceparent").cloned(),
        map.get("tracestate").cloned().filter(|s| !s.is_empty()),
    )
}

/// The current span's trace id, if it has a valid one.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current().context())
}

pub fn trace_id_of(cx: &Context) -> Option<String> {
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The trace id inside a `traceparent` value.
pub fn trace_id_of_traceparent(tp: &str) -> Option<String> {
    let parts: Vec<&str> = tp.split('-').collect();
    (parts.len() == 4 && parts[1].len() == 32 && parts[1] != "0".repeat(32))
        .then(|| parts[1].to_owned())
}

/// Context from stored `traceparent`/`tracestate` strings.
pub fn context_from(traceparent: Option<&str>, tracestate: Option<&str>) -> Context {
    let mut map = HashMap::new();
    if let Some(tp) = traceparent {
        map.insert("traceparent".to_owned(), tp.to_owned());
    }
    if let Some(ts) = tracestate {
        map.insert("tracestate".to_owned(), ts.to_owned());
    }
    TraceContextPropagator::new().extract(&map)
}

/// Writes the context into NATS headers; an empty `tracestate` is left out, not sent empty.
pub fn inject_nats(cx: &Context, headers: &mut HeaderMap) {
    struct Inj<'a>(&'a mut HeaderMap);
    impl Injector for Inj<'_> {
        fn set(&mut self, key: &str, value: String) {
            if !value.is_empty() {
                self.0.insert(key, value.as_str());
            }
        }
    }
    TraceContextPropagator::new().inject_context(cx, &mut Inj(headers));
}

/// Reads the context from NATS headers (an empty context when absent or malformed).
pub fn extract_nats(headers: Option<&HeaderMap>) -> Context {
    struct Ext<'a>(&'a HeaderMap);
    impl Extractor for Ext<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).map(|v| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(k, _)| k.as_ref()).collect()
        }
    }
    match headers {
        Some(h) => TraceContextPropagator::new().extract(&Ext(h)),
        None => Context::new(),
    }
}

/// Reads the context from HTTP headers.
pub fn extract_http(headers: &axum::http::HeaderMap) -> Context {
    struct Ext<'a>(&'a axum::http::HeaderMap);
    impl Extractor for Ext<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    TraceContextPropagator::new().extract(&Ext(headers))
}

/// Sets a span's parent, ignoring the case where no OpenTelemetry layer is installed.
pub fn set_parent(span: &tracing::Span, cx: Context) {
    let _ = span.set_parent(cx);
}

pub use opentelemetry::Context as OtelContext;

/// The OpenTelemetry context of the current `tracing` span.
pub fn current_context() -> Context {
    tracing::Span::current().context()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn context(state: TraceState) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("df6ec66d87505aa279cafb7093bc8250").unwrap(),
            SpanId::from_hex("4a6a493a9f0edd6d").unwrap(),
            TraceFlags::SAMPLED,
            true,
            state,
        ))
    }

    #[test]
    fn an_empty_tracestate_is_left_out_and_a_real_one_is_sent() {
        let mut headers = HeaderMap::new();
        inject_nats(&context(TraceState::default()), &mut headers);
        assert!(headers.get("traceparent").is_some());
        assert!(headers.get("tracestate").is_none());
        assert!(!trace_headers(&context(TraceState::default())).contains_key("tracestate"));
        let state = TraceState::from_key_value([("vendor", "v1")]).unwrap();
        let mut headers = HeaderMap::new();
        inject_nats(&context(state), &mut headers);
        assert_eq!(
            headers.get("tracestate").map(|v| v.as_str()),
            Some("vendor=v1")
        );
    }
}
