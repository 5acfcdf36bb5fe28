//! The dev/test OpenID Provider (`deploy/oidc`) gives the identity contract's tokens by real
//! flows: every demo user signs in through the login page (authorization code + PKCE) and gets
//! an access token for one service family with the contract's `aud sub name roles areas
//! department rights`; a wrong password is refused; every department's system gets its
//! client-credentials token; an unknown resource is refused; a provider of the test's own signs
//! with its keys file's first key, and after a restart with another key set with the new key.
//!
//! The shared provider is the one `deploy/scripts/ensure-infra.sh` starts on 127.0.0.1:8100.
//! Tokens are only decoded here, never verified: that is the services' job.

use mesh_tests::oidc::{
    self, audience, client_credentials, department_client, key_ids, login, rotate_keys, OidcServer,
    Tokens, DEMO_PASSWORD, ISSUER,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FAMILIES: [&str; 5] = ["intake", "verification", "monitoring", "relief", "payment"];

/// A line of the contract's table of dev/test users.
struct User {
    login: &'static str,
    name: &'static str,
    roles: &'static [&'static str],
    areas: &'static [&'static str],
    department: Option<&'static str>,
    rights: &'static [&'static str],
}

const fn user(
    login: &'static str,
    name: &'static str,
    roles: &'static [&'static str],
    areas: &'static [&'static str],
    department: Option<&'static str>,
    rights: &'static [&'static str],
) -> User {
    User {
        login,
        name,
        roles,
        areas,
        department,
        rights,
    }
}

/// The contract's table of dev/test users: login, name, roles, areas, department, rights.
#[rustfmt::skip]
const USERS: &[User] = &[
    user("wang.fang", "王芳", &["township_officer"], &["410102001"], None, &[]),
    user("li.qiang", "李强", &["township_officer"], &["410102002"], None, &[]),
    user("sun.hong", "孙红", &["township_officer"], &["410105001"], None, &[]),
    user("zhao.min", "赵敏", &["county_officer"], &["410102"], None, &[]),
    user("zhou.lei", "周磊", &["county_officer"], &["410105"], None, &[]),
    user("chen.jing", "陈静", &["county_approver"], &["410102"], None, &[]),
    user("liu.yang", "刘洋", &["county_approver"], &["410102"], None, &[]),
    user("gao.yan", "高岩", &["county_approver"], &["410105"], None, &[]),
    user("sun.li", "孙丽", &["city_supervisor"], &["410100"], None, &[]),
    user("he.ping", "何平", &["department_officer"], &[], Some("medical"), &[]),
    user("wu.hao", "吴昊", &["department_officer"], &[], Some("education"), &[]),
    user("zheng.jie", "郑洁", &["department_officer"], &[], Some("housing"), &[]),
    user("feng.tao", "冯涛", &["department_officer"], &[], Some("employment"), &[]),
    user("huang.lei", "黄磊", &["department_officer"], &[], Some("disaster"), &[]),
    user("qian.hui", "钱慧", &["auditor"], &["410100"], None, &[]),
    user("ma.chao", "马超", &["platform_operator"], &[], None, &[]),
    user("xu.ming", "徐明", &["platform_operator"], &[], None, &["unmask"]),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The departments of deploy/departments.txt (first word of each line, `#` starts a comment).
fn departments() -> Vec<String> {
    std::fs::read_to_string(repo_root().join("deploy/departments.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.split('#').next()?.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// A fresh directory for a test's key files.
fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("relief-oidc-keys-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn jwks_kids(issuer: &str) -> Vec<String> {
    let jwks_uri = oidc::discover(issuer).await.unwrap().jwks_uri;
    let jwks: Value = reqwest::get(jwks_uri).await.unwrap().json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert!(k.get("d").is_none(), "the JWKS publishes a private key");
            k["kid"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_user_signs_in_and_gets_the_contracts_claims() {
    let mut took = Vec::new();
    for (i, expected) in USERS.iter().enumerate() {
        let User {
            login: user,
            name,
            roles,
            areas,
            department,
            rights,
        } = expected;
        // Every audience is asked for by some user.
        let aud = audience(FAMILIES[i % FAMILIES.len()]);
        let started = Instant::now();
        let token = login(ISSUER, user, DEMO_PASSWORD, &aud)
            .await
            .unwrap_or_else(|e| panic!("{user}: {e:#}"));
        took.push(started.elapsed());

        let header = token.header().unwrap();
        assert_eq!(header["alg"], "RS256", "{user}: {header}");
        assert_eq!(header["typ"], "at+jwt", "{user}: {header}");
        assert!(header["kid"].is_string(), "{user}: {header}");

        let claims = token.claims().unwrap();
        assert_eq!(claims["iss"], ISSUER, "{user}: {claims}");
        assert_eq!(claims["aud"], json!(aud), "{user}: {claims}");
        assert_eq!(claims["sub"], json!(user), "{user}: {claims}");
        assert_eq!(claims["name"], json!(name), "{user}: {claims}");
        assert_eq!(claims["roles"], json!(roles), "{user}: {claims}");
        assert_eq!(claims["areas"], json!(areas), "{user}: {claims}");
        assert_eq!(
            claims.get("department"),
            department.map(|d| json!(d)).as_ref(),
            "{user}: {claims}"
        );
        assert_eq!(claims["rights"], json!(rights), "{user}: {claims}");
        assert!(
            token.expires_at > Instant::now() + Duration::from_secs(60),
            "{user}"
        );

        // The ID token names the user too.
        let id = oidc::jwt_part(token.id_token.as_deref().unwrap(), 1).unwrap();
        assert_eq!(id["sub"], json!(user), "{user}: {id}");
        assert_eq!(id["name"], json!(name), "{user}: {id}");
        assert_eq!(id["roles"], json!(roles), "{user}: {id}");
        assert_eq!(id["aud"], "relief-workbench", "{user}: {id}");
    }
    took.sort();
    eprintln!(
        "login flow (discovery, authorize, login page, form, code exchange): median {:?}, max {:?} over {}",
        took[took.len() / 2],
        took[took.len() - 1],
        took.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_an_unknown_user_is_refused() {
    for (user, password) in [
        ("wang.fang", "wrong"),
        ("wang.fang", ""),
        ("nobody", DEMO_PASSWORD),
    ] {
        let err = login(ISSUER, user, password, &audience("intake"))
            .await
            .expect_err("signed in with a wrong password");
        let message = format!("{err:#}");
        assert!(
            message.contains("wrong login or password"),
            "{user}/{password}: {message}"
        );
        assert!(
            message.contains("用户名或密码错误"),
            "{user}/{password}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_departments_system_gets_a_client_credentials_token() {
    let departments = departments();
    assert!(departments.len() >= 5, "{departments:?}");
    for dept in &departments {
        let (client_id, secret) = department_client(dept);
        for family in ["relief", "monitoring"] {
            let token = client_credentials(ISSUER, &client_id, &secret, &audience(family))
                .await
                .unwrap_or_else(|e| panic!("{client_id}: {e:#}"));
            let claims = token.claims().unwrap();
            assert_eq!(claims["aud"], json!(audience(family)), "{claims}");
            assert_eq!(claims["sub"], json!(client_id), "{claims}");
            assert_eq!(claims["roles"], json!(["department_system"]), "{claims}");
            assert_eq!(claims["department"], json!(dept), "{claims}");
            let name = claims["name"].as_str().unwrap();
            assert!(name.ends_with("部门系统"), "{claims}");
            assert!(token.id_token.is_none());
        }
    }
    assert_eq!(
        department_client("medical").0,
        "dept-medical",
        "the contract's client ids"
    );
    let medical = client_credentials(
        ISSUER,
        "dept-medical",
        "dept-medical-secret",
        &audience("relief"),
    )
    .await
    .unwrap();
    assert_eq!(medical.claims().unwrap()["name"], "医疗保障部门系统");

    let err = client_credentials(ISSUER, "dept-medical", "wrong", &audience("relief"))
        .await
        .expect_err("a wrong client secret got a token");
    assert!(format!("{err:#}").contains("invalid_client"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_missing_resource_is_refused() {
    for bad in [
        "urn:relief-mesh:nope",
        "urn:relief-mesh:relief-medical",
        "https://example.com/",
    ] {
        let err = login(ISSUER, "wang.fang", DEMO_PASSWORD, bad)
            .await
            .expect_err("a token for an unknown resource");
        assert!(
            format!("{err:#}").contains("invalid_target"),
            "{bad}: {err:#}"
        );
        let err = client_credentials(ISSUER, "dept-medical", "dept-medical-secret", bad)
            .await
            .expect_err("a token for an unknown resource");
        assert!(
            format!("{err:#}").contains("invalid_target"),
            "{bad}: {err:#}"
        );
    }
    // A client-credentials request must name its audience.
    let token_endpoint = oidc::discover(ISSUER).await.unwrap().token_endpoint;
    let answer = reqwest::Client::new()
        .post(token_endpoint)
        .basic_auth("dept-medical", Some("dept-medical-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_cached_per_login_and_audience_and_renewed_near_expiry() {
    let tokens = Tokens::shared();
    let intake = audience("intake");
    let a = tokens.user("zhao.min", &intake).await.unwrap();
    let b = tokens.user("zhao.min", &intake).await.unwrap();
    assert_eq!(
        a.access_token, b.access_token,
        "asked twice, signed in twice"
    );
    let other = tokens.user("zhao.min", &audience("payment")).await.unwrap();
    assert_ne!(a.access_token, other.access_token);
    assert_eq!(other.claims().unwrap()["aud"], json!(audience("payment")));
    let system = tokens
        .department("housing", &audience("relief"))
        .await
        .unwrap();
    assert_eq!(
        system.access_token,
        tokens
            .department("housing", &audience("relief"))
            .await
            .unwrap()
            .access_token
    );

    // Tokens that live less than the refresh margin are got again every time.
    let dir = scratch_dir();
    let server = OidcServer::start_with(&dir.join("jwks.json"), &[("OIDC_ACCESS_TOKEN_TTL", "30")])
        .await
        .unwrap();
    let short = Tokens::new(&server.issuer());
    let first = short.user("zhao.min", &intake).await.unwrap();
    assert!(first.expires_at <= Instant::now() + Duration::from_secs(30));
    let second = short.user("zhao.min", &intake).await.unwrap();
    assert_ne!(
        first.access_token, second.access_token,
        "a token within 60 s of expiry was reused"
    );
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_of_its_own_signs_with_its_keys_and_rotates_on_restart() {
    let dir = scratch_dir();
    let keys_a = dir.join("a.json");
    let mut server = OidcServer::start(&keys_a).await.unwrap();
    let issuer = server.issuer();
    assert_ne!(issuer, ISSUER);

    // The provider generated the missing key file; its one key signs.
    let kids_a = key_ids(&keys_a).unwrap();
    assert_eq!(kids_a.len(), 1, "{kids_a:?}");
    let (client_id, secret) = department_client("medical");
    let token = client_credentials(&issuer, &client_id, &secret, &audience("relief"))
        .await
        .unwrap();
    assert_eq!(token.kid().unwrap(), kids_a[0]);
    assert_eq!(token.claims().unwrap()["iss"], json!(issuer));
    let user = login(&issuer, "sun.li", DEMO_PASSWORD, &audience("monitoring"))
        .await
        .unwrap();
    assert_eq!(user.kid().unwrap(), kids_a[0]);
    assert_eq!(user.claims().unwrap()["areas"], json!(["410100"]));
    assert_eq!(jwks_kids(&issuer).await, kids_a);

    // Another key set: same issuer, the new key signs, the old one is no longer published.
    let keys_b = dir.join("b.json");
    server.restart(&keys_b).await.unwrap();
    assert_eq!(server.issuer(), issuer);
    let kids_b = key_ids(&keys_b).unwrap();
    assert_ne!(kids_b, kids_a);
    let token = client_credentials(&issuer, &client_id, &secret, &audience("relief"))
        .await
        .unwrap();
    assert_eq!(token.kid().unwrap(), kids_b[0]);
    assert_eq!(jwks_kids(&issuer).await, kids_b);

    // A rotation with overlap: a fresh key in front, the previous one still published.
    let keys_c = dir.join("c.json");
    std::fs::copy(&keys_b, &keys_c).unwrap();
    let kids_c = rotate_keys(&keys_c).unwrap();
    assert_eq!(kids_c.len(), 2);
    assert_eq!(kids_c[1], kids_b[0]);
    server.restart(&keys_c).await.unwrap();
    let token = login(&issuer, "wang.fang", DEMO_PASSWORD, &audience("intake"))
        .await
        .unwrap();
    assert_eq!(token.kid().unwrap(), kids_c[0]);
    assert_eq!(jwks_kids(&issuer).await, kids_c);
    assert!(server.log().contains("login wang.fang"), "{}", server.log());

    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
