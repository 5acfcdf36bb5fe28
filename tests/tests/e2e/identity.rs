//! Every action by a known person (issue 13), against the real dev OpenID Provider, NATS and
//! PostgreSQL:
//!
//! - the table of `docs/openapi.yaml`: every operation declares `x-roles`; each is 401 without a
//!   token or with a bad one, 403 for every role it does not list and neither for every role it
//!   lists — so the roles of the code are exactly the document's;
//! - the verifier: a valid token gives the caller; expired, another audience, a changed
//!   signature are refused with their reason; a rotated key is fetched; a provider that cannot
//!   be reached is "unavailable", not "unauthenticated";
//! - the audit trail: reads of unmasked dead letters are recorded, published on the audit
//!   stream and listed for auditors; an edited, deleted or truncated record is found by
//!   `audit verify`; the table refuses updates;
//! - a body that names an officer is refused, and no event of a whole chain names anyone but
//!   the people whose tokens made it.

use mesh::auth::{AuthError, AuthSettings, ClaimNames, Role, Verifier};
use mesh_tests::oidc::{self, OidcServer};
use mesh_tests::roles::{self, Operation};
use mesh_tests::{demo_household, eventually, Options, TestMesh, Who};
use policy::Department;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// Path parameters filled with values of the right shape (that name nothing that exists).
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg {
            "{month}" => "2026-11".to_owned(),
            "{sequence}" => "1".to_owned(),
            "{source}" => "death".to_owned(),
            "{msg_id}" => "MSG-1".to_owned(),
            s if s.starts_with('{') => uuid::Uuid::new_v4().to_string(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The instances an operation is served by in a mesh with the medical department.
fn instances(op: &Operation) -> Vec<&'static str> {
    let mut out = Vec::new();
    for tag in &op.tags {
        match tag.as_str() {
            "every service" => out.extend([
                "intake",
                "verification",
                "monitoring",
                "payment",
                "relief-medical",
            ]),
            "intake" => out.push("intake"),
            "verification" => out.push("verification"),
            "monitoring" => out.push("monitoring"),
            "payment" => out.push("payment"),
            "relief" => out.push("relief-medical"),
            _ => {}
        }
    }
    out
}

/// A demo person (or system) holding `role`, for calls to `service`.
fn holder(role: Role, service: &str) -> Who {
    let service = if service.starts_with("relief-") {
        service.to_owned()
    } else {
        "relief-medical".to_owned()
    };
    match role {
        Role::DepartmentOfficer | Role::DepartmentSystem => {
            roles::default_for(role.as_str(), &service)
        }
        _ => roles::default_for(role.as_str(), "intake"),
    }
    .expect("every role has a demo holder")
}

#[tokio::test]
async fn every_operation_takes_exactly_the_roles_the_document_lists() {
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Medical],
        ..Options::default()
    })
    .await
    .unwrap();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for op in roles::operations() {
        assert!(op.declared, "{} has no x-roles", op.id);
        for role in &op.roles {
            assert!(
                Role::parse(role).is_some(),
                "{} lists an unknown role {role}",
                op.id
            );
        }
        let method: reqwest::Method = op.method.parse().unwrap();
        let services = instances(op);
        if services.is_empty() {
            // The bank simulator's own API: no service of the mesh serves it.
            assert!(op.tags.iter().any(|t| t == "bank simulator"), "{}", op.id);
            continue;
        }
        for service in services {
            let path = fill(&op.path);
            let send = |who: Option<Who>, bearer: Option<&'static str>| {
                let mesh = &mesh;
                let method = method.clone();
                let path = path.clone();
                async move {
                    let mut req = mesh
                        .request_as(who.as_ref(), method.clone(), service, &path)
                        .await
                        .unwrap();
                    if let Some(b) = bearer {
                        req = req.header("Authorization", b);
                    }
                    if method != reqwest::Method::GET {
                        req = req.json(&json!({}));
                    }
                    let r = req.send().await.unwrap();
                    let status = r.status().as_u16();
                    let challenge = r.headers().get("www-authenticate").is_some();
                    (status, challenge, r.text().await.unwrap_or_default())
                }
            };
            let at = format!("{} {} on {service} ({})", op.method, path, op.id);
            if op.open {
                let (status, _, _) = send(None, None).await;
                if status == 401 || status == 403 {
                    wrong.push(format!("{at}: open, but {status} without a token"));
                }
                checked += 1;
                continue;
            }
            let (status, challenge, body) = send(None, None).await;
            if status != 401 || !challenge || !body.contains("bearer access token") {
                wrong.push(format!("{at}: without a token {status} {body}"));
            }
            let (status, _, body) = send(None, Some("Bearer not.a.jwt")).await;
            if status != 401 || !body.contains("not a well-formed JWT") {
                wrong.push(format!("{at}: with a malformed token {status} {body}"));
            }
            for role in Role::ALL {
                let who = holder(role, service);
                let (status, _, body) = send(Some(who.clone()), None).await;
                let listed = op.roles.iter().any(|r| r == role.as_str());
                if listed && (status == 401 || status == 403) {
                    wrong.push(format!(
                        "{at}: {role} ({who:?}) is listed but got {status} {body}"
                    ));
                }
                if !listed && status != 403 {
                    wrong.push(format!(
                        "{at}: {role} ({who:?}) is not listed but got {status}"
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked > 80, "only {checked} operation instances checked");
    mesh.teardown().await.unwrap();
}

#[tokio::test]
async fn a_token_for_another_service_is_refused_with_the_reason() {
    let mesh = TestMesh::start(Options::default()).await.unwrap();
    let payment = oidc::Tokens::shared()
        .user("wang.fang", &oidc::audience("payment"))
        .await
        .unwrap();
    let r = mesh
        .http
        .get(mesh.url(
            "intake",
            &format!("/v1/applications/{}", uuid::Uuid::new_v4()),
        ))
        .bearer_auth(&payment.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(
        body["error"]["message"],
        "the access token is not for this service (audience urn:relief-mesh:intake)"
    );
    mesh.teardown().await.unwrap();
}

fn verifier_settings(issuer: &str) -> AuthSettings {
    AuthSettings {
        issuer: issuer.to_owned(),
        audience: String::new(),
        leeway_seconds: 0,
        jwks_refresh_min_seconds: 0,
        jwks_max_age_seconds: 3600,
        fetch_timeout_ms: 2000,
        algorithms: vec!["RS256".into()],
        claims: ClaimNames {
            name: "name".into(),
            roles: "roles".into(),
            areas: "areas".into(),
            department: "department".into(),
            rights: "rights".into(),
        },
    }
}

#[tokio::test]
async fn the_verifier_takes_valid_tokens_and_names_why_it_refuses_the_others() {
    let dir = std::env::temp_dir().join(format!("relief-verifier-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys_a = dir.join("a.json");
    let mut op = OidcServer::start_with(&keys_a, &[("OIDC_ACCESS_TOKEN_TTL", "2")])
        .await
        .unwrap();
    let issuer = op.issuer();
    let verifier = Verifier::new(&verifier_settings(&issuer), "intake").unwrap();
    let intake = oidc::audience("intake");
    let login = |who: &'static str, aud: String| {
        let issuer = issuer.clone();
        async move {
            oidc::login(&issuer, who, oidc::DEMO_PASSWORD, &aud)
                .await
                .unwrap()
        }
    };

    let t = login("wang.fang", intake.clone()).await;
    let caller = verifier.verify(&t.access_token).await.unwrap();
    assert_eq!(caller.sub, "wang.fang");
    assert_eq!(caller.name, "王芳");
    assert_eq!(caller.roles, [Role::TownshipOfficer]);
    assert_eq!(caller.areas, ["410102001"]);

    let other = login("wang.fang", oidc::audience("payment")).await;
    assert_eq!(
        verifier.verify(&other.access_token).await,
        Err(AuthError::Audience(intake.clone()))
    );

    // One character of the signature changed: one in the middle, whose six bits all count (the
    // last character's low bits are padding, and changing them can make the base64 invalid).
    let mut forged = t.access_token.clone().into_bytes();
    let at = forged.len() - 20;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(verifier.verify(&forged).await, Err(AuthError::Signature));

    // The provider's tokens live 2 s; with no leeway the first one has expired after 3.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        verifier.verify(&t.access_token).await,
        Err(AuthError::Expired)
    );

    // Key rotation: the provider now signs with a new key only; the verifier fetches the new
    // key set when a token names a key it does not know.
    let keys_b = dir.join("b.json");
    op.restart(&keys_b).await.unwrap();
    let rotated = login("chen.jing", intake.clone()).await;
    assert_ne!(rotated.kid().unwrap(), t.kid().unwrap());
    let caller = verifier.verify(&rotated.access_token).await.unwrap();
    assert_eq!(caller.roles, [Role::CountyApprover]);

    // A fresh verifier with nothing cached, and the provider gone: 503, not 401.
    op.stop();
    let cold = Verifier::new(&verifier_settings(&issuer), "intake").unwrap();
    assert_eq!(
        cold.verify(&rotated.access_token).await,
        Err(AuthError::Unavailable)
    );
    // The warm one still holds the key it fetched.
    assert!(verifier.verify(&rotated.access_token).await.is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

async fn audit_verify(mesh: &TestMesh, service: &str) -> Value {
    let (status, v) = mesh
        .get_as(Some(&Who::person("qian.hui")), service, "/v1/audit/verify")
        .await
        .unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

/// Runs `sql` on `service`'s database with triggers off (as an intruder with the database's
/// owner rights would).
async fn tamper(mesh: &TestMesh, service: &str, sql: &str) {
    let pool = sqlx::PgPool::connect(&mesh.database_url(service))
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn dead_letters_are_masked_and_an_unmasked_read_is_in_a_trail_that_finds_any_edit() {
    let mesh = TestMesh::start(Options::default()).await.unwrap();
    // A message intake's consumer can never apply, carrying a name and an ID number.
    let secret = json!({"name": "张三", "id_number": "410102198305120312", "n": 7});
    mesh.publish_raw(
        "verify.household.verified",
        "poison-1",
        serde_json::to_vec(&secret).unwrap(),
    )
    .await
    .unwrap();
    let operator = Who::person("ma.chao");
    let unmasker = Who::person("xu.ming");
    let listed = eventually(Duration::from_secs(30), || async {
        mesh.get_as(Some(&operator), "intake", "/v1/dead-letters")
            .await
            .map(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty()))
            .unwrap_or(false)
    })
    .await;
    assert!(listed, "the poison message was not dead-lettered");
    let (_, masked) = mesh
        .get_as(Some(&operator), "intake", "/v1/dead-letters")
        .await
        .unwrap();
    let payload = masked[0]["payload"].as_str().unwrap();
    assert!(
        !payload.contains("张三") && !payload.contains("410102198305120312"),
        "{payload}"
    );
    assert!(payload.contains("\"n\":7"), "numbers stay: {payload}");
    let (status, _) = mesh
        .get_as(Some(&operator), "intake", "/v1/dead-letters?unmask=true")
        .await
        .unwrap();
    assert_eq!(status, 403, "unmask needs the right");
    for _ in 0..3 {
        let (status, raw) = mesh
            .get_as(Some(&unmasker), "intake", "/v1/dead-letters?unmask=true")
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert!(raw[0]["payload"].as_str().unwrap().contains("张三"));
    }

    let (_, page) = mesh
        .get_as(
            Some(&Who::person("qian.hui")),
            "intake",
            "/v1/audit?actor=xu.ming",
        )
        .await
        .unwrap();
    let records = page["records"].as_array().unwrap();
    assert_eq!(records.len(), 3, "{page}");
    assert_eq!(
        records[0]["actor"],
        json!({"sub": "xu.ming", "name": "徐明", "role": "platform_operator"})
    );
    assert_eq!(records[0]["action"], "dead_letters.read_unmasked");
    assert_eq!(records[1]["prev_hash"], records[0]["hash"]);
    let (status, _) = mesh
        .get_as(Some(&operator), "intake", "/v1/audit")
        .await
        .unwrap();
    assert_eq!(status, 403, "the trail is the auditors'");

    // Published on the audit stream, one message per record.
    let stream = mesh
        .js
        .get_stream(mesh::Stream::Audit.name(&mesh::Subjects::new(&mesh.prefix)))
        .await
        .unwrap();
    let published = eventually(Duration::from_secs(10), || async {
        stream
            .get_info()
            .await
            .map(|i| i.state.messages >= 3)
            .unwrap_or(false)
    })
    .await;
    assert!(published, "the records did not reach the audit stream");

    let v = audit_verify(&mesh, "intake").await;
    assert_eq!(v["intact"], true, "{v}");
    let count = v["records"].as_i64().unwrap();
    assert!(count >= 3);

    // The table itself refuses an edit.
    let pool = sqlx::PgPool::connect(&mesh.database_url("intake"))
        .await
        .unwrap();
    let refused = sqlx::query("UPDATE mesh_audit SET actor_name = 'x' WHERE seq = 1")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("append-only"), "{refused}");
    pool.close().await;

    let seq = records[1]["seq"].as_i64().unwrap();
    tamper(
        &mesh,
        "intake",
        &format!("UPDATE mesh_audit SET actor_name = '王五' WHERE seq = {seq}"),
    )
    .await;
    let v = audit_verify(&mesh, "intake").await;
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_broken"]["seq"], seq);
    assert_eq!(
        v["first_broken"]["reason"],
        format!("record {seq} was changed after it was written")
    );

    tamper(
        &mesh,
        "intake",
        &format!("DELETE FROM mesh_audit WHERE seq = {seq}"),
    )
    .await;
    let v = audit_verify(&mesh, "intake").await;
    assert_eq!(v["first_broken"]["seq"], seq);
    assert!(
        v["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("is missing"),
        "{v}"
    );

    // The trail of the command line is the same function.
    let pool = sqlx::PgPool::connect(&mesh.database_url("intake"))
        .await
        .unwrap();
    let outcome = mesh::audit::verify(&pool, "intake").await.unwrap();
    assert_eq!(outcome.first_broken.unwrap().seq, seq);
    pool.close().await;

    // Removing the newest record is found too (the head remembers it).
    let last = records[2]["seq"].as_i64().unwrap();
    tamper(
        &mesh,
        "intake",
        &format!("DELETE FROM mesh_audit WHERE seq >= {seq}"),
    )
    .await;
    let v = audit_verify(&mesh, "intake").await;
    assert_eq!(v["intact"], false);
    assert!(
        v["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("were removed"),
        "{v} (last was {last})"
    );
    mesh.teardown().await.unwrap();
}

/// Every `actor` object anywhere in `v`.
fn actors(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if k == "actor" && item.is_object() {
                    out.push(item.clone());
                }
                actors(item, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| actors(i, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

#[tokio::test]
async fn no_event_names_an_officer_who_did_not_hold_the_token() {
    let mesh = TestMesh::start(Options::default()).await.unwrap();
    let mut forged = demo_household();
    forged["officer"] = json!("Forged Officer");
    let (status, body) = mesh.submit(&forged).await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "officer");
    assert!(
        !body.to_string().contains("Forged"),
        "the value is not echoed: {body}"
    );

    let (status, body) = mesh.submit(&demo_household()).await.unwrap();
    assert_eq!(status, 202, "{body}");
    let household = body["household_id"].as_str().unwrap().to_owned();
    mesh.complete_chain(&household, Duration::from_secs(60))
        .await
        .unwrap();

    let subjects = mesh::Subjects::new(&mesh.prefix);
    let mut seen = Vec::new();
    let mut messages = 0;
    for s in mesh::Stream::ALL {
        let Ok(mut stream) = mesh.js.get_stream(s.name(&subjects)).await else {
            continue;
        };
        let last = stream.info().await.unwrap().state.last_sequence;
        for seq in 1..=last {
            let m = stream.direct_get(seq).await.unwrap();
            messages += 1;
            let text = String::from_utf8_lossy(&m.payload);
            assert!(!text.contains("Forged"), "{text}");
            if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
                actors(&v, &mut seen);
            }
        }
    }
    // Submitted, verified, determined at least.
    assert!(messages >= 3, "only {messages} messages");
    let people: BTreeSet<&str> = ["wang.fang"].into();
    for a in &seen {
        let sub = a["sub"].as_str().unwrap_or_default();
        assert!(
            people.contains(sub) || sub.starts_with("system:"),
            "an event names {a}, who held no token"
        );
    }
    assert!(
        seen.iter()
            .any(|a| a["sub"] == "wang.fang" && a["name"] == "王芳"),
        "the submission's events name the officer who submitted it: {seen:?}"
    );
    mesh.teardown().await.unwrap();
}
