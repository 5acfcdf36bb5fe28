//! Prometheus metrics of one service instance. Labels stay low-cardinality: consumer names,
//! outcomes, routes as templates, status codes; never ids.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub messages: IntCounterVec,
    pub handler_seconds: HistogramVec,
    pub outbox_published: IntCounter,
    pub dead_letters: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
}

impl Metrics {
    #[allow(
        clippy::expect_used,
        reason = "fixed names, label sets and one registration each: these cannot fail at run time, and the unit test builds them"
    )]
    pub fn new(service: &str) -> Self {
        let labels = std::iter::once(("service".to_owned(), service.to_owned())).collect();
        let registry =
            Registry::new_custom(Some("relief".into()), Some(labels)).expect("valid registry");
        let messages = IntCounterVec::new(
            Opts::new(
                "messages_total",
                "Messages consumed, by consumer and outcome (ack, duplicate, nak, dead_letter).",
            ),
            &["consumer", "outcome"],
        )
        .expect("valid metric");
        let handler_seconds = HistogramVec::new(
            HistogramOpts::new(
                "handler_duration_seconds",
                "Time spent handling one message.",
            ),
            &["consumer"],
        )
        .expect("valid metric");
        let outbox_published = IntCounter::new(
            "outbox_published_total",
            "Outbox rows published and acknowledged by JetStream.",
        )
        .expect("valid metric");
        let dead_letters = IntCounterVec::new(
            Opts::new(
                "dead_letters_total",
                "Messages moved to the dead-letter stream.",
            ),
            &["consumer"],
        )
        .expect("valid metric");
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency."),
            &["route"],
        )
        .expect("valid metric");
        for c in [
            Box::new(messages.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(handler_seconds.clone()),
            Box::new(outbox_published.clone()),
            Box::new(dead_letters.clone()),
            Box::new(http_requests.clone()),
            Box::new(http_seconds.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            messages,
            handler_seconds,
            outbox_published,
            dead_letters,
            http_requests,
            http_seconds,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
