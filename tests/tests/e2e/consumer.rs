//! The consumer loop under handlers that misbehave, on the real NATS and PostgreSQL: a handler
//! that panics, and one that never settles its message. Either message ends in the dead letters
//! with the reason, and the consumer goes on with the next message. A batched consumer commits a
//! batch at a time, and a message that fails its batch is split out and parked alone.
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

/// A test service `service` of this mesh, connected with `extra` settings.
async fn connect(mesh: &TestMesh, service: &str, extra: &[(&str, &str)]) -> mesh::Mesh {
    let settings = mesh.mesh_settings(service, extra).unwrap();
    mesh::Mesh::connect(
        settings,
        &mesh::db::MESH_MIGRATOR,
        mesh.clock.clone(),
        contract::channels::CATALOG,
    )
    .await
    .unwrap()
}

/// A service `misbehaving` reading `intake.test.>` (kept by the intake stream): a payload
/// `"panic"` panics, `"hang"` never returns, anything else is applied and counted.
async fn start_misbehaving(
    mesh: &TestMesh,
    ack_wait_ms: &str,
) -> (tokio::task::JoinHandle<anyhow::Result<()>>, Arc<AtomicU32>) {
    let m = connect(
        mesh,
        "misbehaving",
        &[("nats.max_deliver", "3"), ("nats.ack_wait_ms", ack_wait_ms)],
    )
    .await;
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
    letters_of_service(mesh, "misbehaving").await
}

async fn letters_of_service(mesh: &TestMesh, service: &str) -> Vec<serde_json::Value> {
    // The dead letters of `service`, read from the stream as an operator would.
    let subjects = mesh::Subjects::new(&mesh.prefix);
    let stream = mesh
        .js
        .get_stream(Stream::DeadLetter.name(&subjects))
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut next = 1;
    while let Ok(m) = stream
        .direct_get_next_for_subject(subjects.of(&format!("deadletter.{service}")), Some(next))
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

/// Group commit: 40 messages waiting when a batched consumer starts are handled in batches (one
/// transaction each, rows for all its messages); one whose row breaks a constraint fails its
/// batch, which is then handled message by message: the other 40 are committed once each, the
/// bad one is retried alone and dead-lettered, and nothing was acknowledged before its commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_consumer_commits_batches_and_parks_a_failing_message_alone() {
    let mesh = TestMesh::start(Options {
        departments: vec![],
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..40 {
        if i == 17 {
            mesh.publish_raw("intake.test.bad", "bad-1", b"bad".to_vec())
                .await
                .unwrap();
        }
        mesh.publish_raw(
            &format!("intake.test.m{i}"),
            &format!("ok-{i}"),
            format!("ok-{i}").into_bytes(),
        )
        .await
        .unwrap();
    }
    let m = connect(
        &mesh,
        "batching",
        &[
            ("nats.max_deliver", "3"),
            ("nats.batch_max", "16"),
            ("nats.batch_wait_ms", "50"),
        ],
    )
    .await;
    sqlx::query("CREATE TABLE applied (payload TEXT PRIMARY KEY CHECK (payload LIKE 'ok-%'))")
        .execute(&m.db)
        .await
        .unwrap();
    let db = m.db.clone();
    let largest = Arc::new(AtomicU32::new(0));
    let seen = largest.clone();
    let filter = mesh::Subjects::new(&mesh.prefix).of("intake.test.>");
    let app = ServiceBuilder::new(m)
        .consume_stream_batched(
            "tests",
            Stream::Intake,
            filter,
            move |batch: Vec<Delivery>| {
                let (db, seen) = (db.clone(), seen.clone());
                async move {
                    seen.fetch_max(batch.len() as u32, Ordering::SeqCst);
                    let mut tx = db.begin().await?;
                    let mut results = Vec::with_capacity(batch.len());
                    for d in &batch {
                        let id = d.header("Nats-Msg-Id").unwrap_or_default().to_owned();
                        let fresh = d.claim_in(&mut tx, &id).await?;
                        if fresh {
                            sqlx::query("INSERT INTO applied (payload) VALUES ($1)")
                                .bind(String::from_utf8_lossy(&d.payload).into_owned())
                                .execute(&mut *tx)
                                .await?;
                            results.push(Ok(Outcome::Applied));
                        } else {
                            results.push(Ok(Outcome::Duplicate));
                        }
                    }
                    tx.commit().await?;
                    Ok(results)
                }
            },
        )
        .build()
        .await
        .unwrap();
    let pool = app.mesh().db.clone();
    let service = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let parked = mesh_tests::eventually(WITHIN, || async {
        !letters_of_service(&mesh, "batching").await.is_empty()
    })
    .await;
    assert!(parked, "the failing message was never dead-lettered");
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM applied")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert!(mesh_tests::eventually(WITHIN, || async { count().await == 40 }).await);
    let letters = letters_of_service(&mesh, "batching").await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["msg_id"], "bad-1");
    assert_eq!(
        letters[0]["deliveries"], "3",
        "retried alone up to max_deliver"
    );
    assert!(
        largest.load(Ordering::SeqCst) > 1,
        "the waiting messages were taken in batches"
    );
    // Every message committed once, and all acknowledged: none comes back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count().await, 40);
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM mesh_inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(inbox, 40, "one inbox row per committed message");
    service.abort();
    mesh.teardown().await.unwrap();
}
