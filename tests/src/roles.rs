//! The roles of every operation, read from `docs/openapi.yaml` (`x-roles`), and the demo person
//! of each role (`deploy/oidc/accounts.json`): a test that is not about sign-in calls an
//! operation as the first person the document allows, by real tokens of the dev provider.

use anyhow::Context as _;
use serde_json::Value;
use std::sync::OnceLock;

/// One operation of the OpenAPI document.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    /// The path template, `/v1/households/{household_id}/chain`.
    pub path: String,
    /// The service families whose tag it has (`intake` …), or `every service`.
    pub tags: Vec<String>,
    /// `x-roles`; empty for an open operation.
    pub roles: Vec<String>,
    /// Whether the operation has `x-roles` at all (every one must).
    pub declared: bool,
    /// The operation's own `security` (an empty list: open).
    pub open: bool,
}

/// Every operation of `docs/openapi.yaml`.
pub fn operations() -> &'static [Operation] {
    static OPS: OnceLock<Vec<Operation>> = OnceLock::new();
    OPS.get_or_init(|| load().expect("docs/openapi.yaml has the operations"))
}

fn load() -> anyhow::Result<Vec<Operation>> {
    let text = include_str!("../../docs/openapi.yaml");
    let doc: Value = serde_yaml::from_str(text).context("openapi is YAML")?;
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().context("paths")? {
        for (method, op) in item.as_object().context("path item")? {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            };
            out.push(Operation {
                id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                method: method.to_uppercase(),
                path: path.clone(),
                tags: strings(&op["tags"]),
                roles: strings(&op["x-roles"]),
                declared: op.get("x-roles").is_some_and(|r| r.is_array()),
                open: op["security"].as_array().is_some_and(|s| s.is_empty()),
            });
        }
    }
    Ok(out)
}

/// The service family of an instance: `relief-medical` → `relief`.
pub fn family(service: &str) -> &str {
    service.split('-').next().unwrap_or(service)
}

/// The operation `method path` (a real path, with ids and perhaps a query) of `service`: the
/// template that matches it with the most literal segments.
pub fn operation(service: &str, method: &str, path: &str) -> Option<&'static Operation> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let fam = family(service);
    operations()
        .iter()
        .filter(|op| op.method.eq_ignore_ascii_case(method))
        .filter(|op| op.tags.iter().any(|t| t == fam || t == "every service"))
        .filter_map(|op| {
            let tpl: Vec<&str> = op.path.trim_matches('/').split('/').collect();
            if tpl.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (t, s) in tpl.iter().zip(&segments) {
                if t.starts_with('{') {
                    continue;
                }
                if t != s {
                    return None;
                }
                literal += 1;
            }
            Some((literal, op))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, op)| op)
}

/// Who a test acts as: a demo person's login, or a department's system (client credentials).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    Person(String),
    System(String),
}

impl Who {
    pub fn person(login: &str) -> Who {
        Who::Person(login.to_owned())
    }
}

/// The demo person (or system) of `role` for `service`: the township officer of 410102001, the
/// officers and approver of 410102, the city's supervisor, the department's own officer.
pub fn default_for(role: &str, service: &str) -> Option<Who> {
    let dept = service.strip_prefix("relief-");
    let login = match role {
        "township_officer" => "wang.fang",
        "county_officer" => "zhao.min",
        "county_approver" => "chen.jing",
        "city_supervisor" => "sun.li",
        "auditor" => "qian.hui",
        "platform_operator" => "ma.chao",
        "department_officer" => department_officer(dept?)?,
        "department_system" => return Some(Who::System(dept?.to_owned())),
        _ => return None,
    };
    Some(Who::person(login))
}

/// The demo officer of a department.
pub fn department_officer(department: &str) -> Option<&'static str> {
    Some(match department {
        "medical" => "he.ping",
        "education" => "wu.hao",
        "housing" => "zheng.jie",
        "employment" => "feng.tao",
        "disaster" => "huang.lei",
        _ => return None,
    })
}

/// Whom a test calls `method path` of `service` as, when it does not say: the first of the
/// operation's roles that has a demo person for this service; `None` for an open operation (or
/// one the document does not have, which then gets no token and fails as it should).
pub fn default_caller(service: &str, method: &str, path: &str) -> Option<Who> {
    let op = operation(service, method, path)?;
    if op.open {
        return None;
    }
    op.roles.iter().find_map(|r| default_for(r, service))
}
