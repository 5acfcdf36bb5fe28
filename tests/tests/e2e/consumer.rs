//! The consumer loop under handlers that misbehave, on the real NATS and PostgreSQL: a handler
//! that panics, and one that never settles its message. Either message ends in the dead letters
//! with the reason, and the consumer goes on with the next message.
//!
//! Issue finding: two members declaring 4611686018427387904 fen made a consumer panic; after
//! `max_deliver` there was no dead letter, and the consumer stopped at that message.

use mesh::consumer::Outcome;
use mesh::{Delivery, HandlerError, ServiceBuilder, Stream};
use mesh_tests::{Options, TestMesh};
use serde_json::json;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(30);

/// A service `misbehaving` reading `intake.test.>` (kept by the intake stream): a payload
/// `"panic"` panics, `"hang"` never returns, anything else is applied and counted.
async fn start_misbehaving(
    mesh: &TestMesh,
    ack_wait_ms: &str,
) -> (tokio::task::JoinHandle<anyhow::Result<()>>, Arc<AtomicU32>) {
    let settings = mesh
        .mesh_settings(
            "misbehaving",
            &[("nats.max_deliver", "3"), ("nats.ack_wait_ms", ack_wait_ms)],
        )
        .unwrap();
    let m = mesh::Mesh::connect(
        settings,
        &mesh::db::MESH_MIGRATOR,
        mesh.clock.clone(),
        contract::channels::CATALOG,
    )
    .await
    .unwrap();
    let applied = Arc::new(AtomicU32::new(0));
    let counter = applied.clone();
    let filter = mesh::Subjects::new(&mesh.prefix).of("intake.test.>");
    let app = ServiceBuilder::new(m)
        .consume_stream("tests", Stream::Intake, filter, move |d: Delivery| {
            let counter = counter.clone();
            async move {
                match &d.payload[..] {
                    b"panic" => panic!("a handler bug"),
                    b"hang" => {
                        std::future::pending::<()>().await;
                        Err(HandlerError::Poison("unreachable".into()))
                    }
                    _ => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(Outcome::Applied)
                    }
                }
            }
        })
        .build()
        .await
        .unwrap();
    let port = app.port();
    let handle = tokio::spawn(app.run_until_stopped(std::future::pending()));
    mesh_tests::eventually(WITHIN, || async move {
        reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    })
    .await;
    (handle, applied)
}

async fn letters_of(mesh: &TestMesh) -> Vec<serde_json::Value> {
    // The dead letters of `misbehaving`, read from the stream as an operator would.
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(Stream::DeadLetter.name(&subjects))
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut next = 1;
    while let Ok(m) = stream
        .direct_get_next_for_subject(subjects.of("deadletter.misbehaving"), Some(next))
        .await
    {
        next = m.sequence + 1;
        let h = |k: &str| m.headers.get(k).map(|v| v.as_str().to_owned());
        out.push(json!({
            "msg_id": h(mesh::deadletter::H_ORIGINAL_MSG_ID),
            "reason": h(mesh::deadletter::H_REASON),
            "deliveries": h(mesh::deadletter::H_DELIVERIES),
        }));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_retried_then_dead_lettered_and_the_consumer_goes_on() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let (service, applied) = start_misbehaving(&mesh, "2000").await;
    mesh.publish_raw("intake.test.a", "panics-1", b"panic".to_vec())
        .await
        .unwrap();
    mesh.publish_raw("intake.test.b", "fine-1", b"fine".to_vec())
        .await
        .unwrap();
    let parked =
        mesh_tests::eventually(WITHIN, || async { !letters_of(&mesh).await.is_empty() }).await;
    assert!(parked, "the panicking message was never dead-lettered");
    let letters = letters_of(&mesh).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["msg_id"], "panics-1");
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("the handler panicked: a handler bug"),
        "{reason}"
    );
    assert_eq!(
        letters[0]["deliveries"], "3",
        "retried up to max_deliver first"
    );
    assert!(
        mesh_tests::eventually(WITHIN, || async { applied.load(Ordering::SeqCst) == 1 }).await,
        "the next message was not handled"
    );
    // The consumer is still there and takes new messages.
    mesh.publish_raw("intake.test.c", "fine-2", b"fine".to_vec())
        .await
        .unwrap();
    assert!(
        mesh_tests::eventually(WITHIN, || async { applied.load(Ordering::SeqCst) == 2 }).await,
        "the consumer stopped after the panic"
    );
    service.abort();
    mesh.teardown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_handler_never_settles_is_dead_lettered_on_the_extra_delivery() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    let (service, applied) = start_misbehaving(&mesh, "1000").await;
    mesh.publish_raw("intake.test.a", "hangs-1", b"hang".to_vec())
        .await
        .unwrap();
    mesh.publish_raw("intake.test.b", "fine-1", b"fine".to_vec())
        .await
        .unwrap();
    let parked =
        mesh_tests::eventually(WITHIN, || async { !letters_of(&mesh).await.is_empty() }).await;
    assert!(parked, "the message nobody settled was dropped unseen");
    let letters = letters_of(&mesh).await;
    assert_eq!(letters[0]["msg_id"], "hangs-1");
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("never settled"), "{reason}");
    assert_eq!(
        letters[0]["deliveries"], "4",
        "max_deliver 3, then the extra delivery"
    );
    assert_eq!(
        applied.load(Ordering::SeqCst),
        1,
        "the other message was handled"
    );
    service.abort();
    mesh.teardown().await.unwrap();
}
