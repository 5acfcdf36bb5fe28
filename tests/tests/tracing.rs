//! One application is one trace: the spans of every HTTP request, publish and consume, collected
//! in memory while an application runs through intake, verification, monitoring, a department and
//! payment, form one tree under the HTTP request, with messaging attributes and no personal data.

use mesh::settings::TelemetrySettings;
use mesh_tests::{demo_household, silent_fixtures, Options, TestMesh};
use opentelemetry::trace::{SpanId, SpanKind};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SimpleSpanProcessor, SpanData, SpanExporter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().expect("not poisoned").extend(batch);
        Ok(())
    }
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_application_is_one_trace_from_the_http_request_to_the_payment() {
    let collected = Collected::default();
    let exporter = collected.clone();
    // Installed before the mesh starts, so every service of this process reports here.
    let settings = TelemetrySettings {
        filter: "warn".into(),
        format: "text".into(),
        otlp_endpoint: None,
    };
    std::mem::forget(
        mesh::telemetry::init_with("mesh-tests", &settings, move |b| {
            b.with_span_processor(SimpleSpanProcessor::new(exporter))
        })
        .unwrap(),
    );
    let demo = demo_household();
    let mesh = TestMesh::start(Options {
        fixtures: silent_fixtures(&demo),
        ..Default::default()
    })
    .await
    .unwrap();
    let (_, accepted) = mesh.submit(&demo).await.unwrap();
    let trace_id = accepted["trace_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(
        accepted["household_id"].as_str().unwrap(),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    mesh.settle(Duration::from_secs(30)).await.unwrap();

    let spans: Vec<SpanData> = collected
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.span_context.trace_id().to_string() == trace_id)
        .cloned()
        .collect();
    let by_id: HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();

    // The root is the intake request; every other span's parent is in the same trace.
    let roots: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.parent_span_id == SpanId::INVALID)
        .collect();
    assert_eq!(
        roots.len(),
        1,
        "one root: {:?}",
        roots.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert_eq!(roots[0].name, "POST /v1/applications");
    assert_eq!(roots[0].span_kind, SpanKind::Server);
    for s in &spans {
        if s.parent_span_id != SpanId::INVALID {
            assert!(
                by_id.contains_key(&s.parent_span_id),
                "{} has its parent in the trace",
                s.name
            );
        }
    }

    // Each hop: a producer span for the publish, a consumer span for each consumer, its child.
    let producer = |subject: &str| {
        spans
            .iter()
            .find(|s| {
                s.span_kind == SpanKind::Producer
                    && attr(s, "messaging.destination.name").is_some_and(|d| d.ends_with(subject))
            })
            .unwrap_or_else(|| panic!("a publish span for {subject}"))
    };
    let consumers_of = |publish: &SpanData| -> Vec<&SpanData> {
        spans
            .iter()
            .filter(|s| {
                s.span_kind == SpanKind::Consumer
                    && s.parent_span_id == publish.span_context.span_id()
            })
            .collect()
    };
    for subject in [
        "intake.application.submitted",
        "verify.household.verified",
        "eligibility.household.determined",
        "referral.medical.push",
        "referral.medical.feedback",
        "payment.instruction.created",
    ] {
        let publish = producer(subject);
        assert_eq!(attr(publish, "messaging.system").as_deref(), Some("nats"));
        assert!(attr(publish, "messaging.message.id").is_some_and(|id| !id.is_empty()));
        let consumers = consumers_of(publish);
        assert!(
            !consumers.is_empty(),
            "{subject} was consumed within the trace"
        );
        for c in consumers {
            assert_eq!(attr(c, "messaging.system").as_deref(), Some("nats"));
            assert_eq!(
                attr(c, "household_id").as_deref(),
                accepted["household_id"].as_str(),
                "{subject} consumer names the household"
            );
        }
    }
    // The data holders' answers are children of verification's requests.
    let requests: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(requests.len(), 8, "one request per data source");
    for r in &requests {
        let answered = spans.iter().any(|s| {
            s.span_kind == SpanKind::Server && s.parent_span_id == r.span_context.span_id()
        });
        assert!(answered, "{} was answered within the trace", r.name);
    }
    // The payment instruction descends, hop by hop, from the HTTP request.
    let mut at = producer("payment.instruction.created");
    let mut depth = 0;
    while at.parent_span_id != SpanId::INVALID {
        at = by_id[&at.parent_span_id];
        depth += 1;
    }
    assert_eq!(at.span_context.span_id(), roots[0].span_context.span_id());
    assert!(depth >= 6, "the payment is {depth} spans below the request");

    // Never a name or an ID number on a span.
    for s in &spans {
        for kv in &s.attributes {
            let v = kv.value.to_string();
            for m in demo["members"].as_array().unwrap() {
                assert!(
                    !v.contains(m["id_number"].as_str().unwrap()),
                    "{}: {}",
                    s.name,
                    kv.key
                );
                assert!(
                    !v.contains(m["name"].as_str().unwrap()),
                    "{}: {}",
                    s.name,
                    kv.key
                );
            }
        }
    }
    mesh.teardown().await.unwrap();
}
