//! No error body repeats the value sent (issue 15 item 3): a 4xx names the field and the rule.
//! Every operation of `docs/openapi.yaml`, on every service that serves it, is called as a person
//! it allows with a marker text and a valid resident ID number in every place a client writes:
//! each path parameter, each query parameter (and one the operation does not have), each leaf of the body (a text in a text field, the
//! same text in a field of another type, the ID number as a JSON number in a text field), an
//! unknown field named by the marker, a body that is not JSON or not an object, and, for the CSV
//! and XML bodies, in their columns, cells, elements and attributes. No answer of status 400 to
//! 499 may hold either, nor the ids of the path (of records that do not exist: a 404 says what
//! it did not find, not the id asked for).

use mesh_tests::roles::{self, Operation};
use mesh_tests::{Options, TestMesh};
use policy::Department;
use serde_json::{json, Map, Value};

/// A text that no rule could produce: found in an answer only if the answer repeats the request.
const MARK: &str = "Zq7NoEchoMarker";
/// A valid resident ID number (its check character is right), the personal datum at stake.
const ID: &str = "410102198305120312";

fn document() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| serde_yaml::from_str(include_str!("../../../docs/openapi.yaml")).unwrap())
}

/// `value` with its `$ref` (`#/components/…`) followed.
fn resolve(value: &Value) -> &Value {
    let mut v = value;
    for _ in 0..8 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let pointer = r.trim_start_matches('#');
        match document().pointer(pointer) {
            Some(target) => v = target,
            None => break,
        }
    }
    v
}

/// A value of the shape `schema` describes: its example, else a made-up one.
fn sample(schema: &Value, depth: usize) -> Value {
    let s = resolve(schema);
    if let Some(example) = s.get("example") {
        return example.clone();
    }
    if depth > 6 {
        return Value::Null;
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = s.get(key).and_then(Value::as_array) {
            if key != "allOf" {
                return parts.first().map_or(Value::Null, |p| sample(p, depth + 1));
            }
            let mut merged = Map::new();
            for p in parts {
                if let Value::Object(o) = sample(p, depth + 1) {
                    merged.extend(o);
                }
            }
            return Value::Object(merged);
        }
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = match s.get("type") {
        Some(Value::Array(types)) => types.iter().find_map(Value::as_str).unwrap_or("string"),
        Some(Value::String(t)) => t.as_str(),
        _ if s.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => Value::Object(
            s.get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, p)| (k.clone(), sample(p, depth + 1)))
                .collect(),
        ),
        "array" => json!([sample(s.get("items").unwrap_or(&Value::Null), depth + 1)]),
        "integer" | "number" => s.get("minimum").cloned().unwrap_or(json!(1)),
        "boolean" => json!(true),
        _ => match s.get("format").and_then(Value::as_str) {
            Some("uuid") => json!(uuid::Uuid::new_v4()),
            Some("date") => json!("2026-11-01"),
            Some("date-time") => json!("2026-11-01T08:00:00Z"),
            _ => json!("text"),
        },
    }
}

/// The operation's JSON object in the document.
fn definition(op: &Operation) -> &'static Value {
    &document()["paths"][&op.path][op.method.to_lowercase()]
}

/// The names of the operation's parameters that are `in` (path or query).
fn parameters(op: &Operation, place: &str) -> Vec<String> {
    let item = &document()["paths"][&op.path];
    [&item["parameters"], &definition(op)["parameters"]]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .map(resolve)
        .filter(|p| p["in"] == place)
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// The request body the operation takes, as its media type and a valid-shaped example.
fn body_of(op: &Operation) -> Option<(String, Value)> {
    let content = resolve(&definition(op)["requestBody"])["content"].as_object()?;
    let (media, spec) = content.iter().next()?;
    let example = spec
        .get("example")
        .cloned()
        .or_else(|| {
            spec["examples"]
                .as_object()
                .and_then(|e| e.values().next())
                .map(|e| resolve(e)["value"].clone())
        })
        .unwrap_or_else(|| sample(&spec["schema"], 0));
    Some((media.clone(), example))
}

/// The path with its parameters filled: `replace` for the one named, a valid-shaped value for
/// the others.
fn path_with(template: &str, replace: Option<(&str, &str)>) -> String {
    template
        .split('/')
        .map(|seg| {
            let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                return seg.to_owned();
            };
            match (replace, name) {
                (Some((n, v)), _) if n == name => v.to_owned(),
                (_, "month") => "2026-11".to_owned(),
                (_, "sequence") => "1".to_owned(),
                (_, "source") => "death".to_owned(),
                (_, "msg_id") => "MSG-1".to_owned(),
                _ => uuid::Uuid::new_v4().to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The JSON pointers of every leaf of `value` (a text, number, boolean, null, an empty array or
/// object), and of every object (`objects`).
fn leaves(value: &Value, at: String, out: &mut Vec<String>, objects: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            objects.push(at.clone());
            for (k, v) in map {
                leaves(v, format!("{at}/{k}"), out, objects);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{at}/{i}"), out, objects);
            }
            out.push(at);
        }
        Value::Object(_)
        | Value::Array(_)
        | Value::String(_)
        | Value::Number(_)
        | Value::Bool(_)
        | Value::Null => out.push(at),
    }
}

/// `value` with every text set to `to`.
fn every_text(value: &Value, to: &str) -> Value {
    match value {
        Value::String(_) => json!(to),
        Value::Array(items) => Value::Array(items.iter().map(|v| every_text(v, to)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), every_text(v, to)))
                .collect(),
        ),
        Value::Number(_) | Value::Bool(_) | Value::Null => value.clone(),
    }
}

/// The JSON bodies sent to an operation that takes `base`.
fn json_bodies(base: &Value) -> Vec<Vec<u8>> {
    let mut bodies = vec![base.clone(), every_text(base, MARK), every_text(base, ID)];
    let (mut points, mut objects) = (Vec::new(), Vec::new());
    leaves(base, String::new(), &mut points, &mut objects);
    for p in &points {
        let was_text = base.pointer(p).is_some_and(Value::is_string);
        let mut replacements = vec![json!(MARK), json!(ID)];
        if was_text {
            replacements.push(json!(410_102_198_305_120_312_u64));
            replacements.push(json!(format!("{MARK} {ID}")));
        }
        for r in replacements {
            let mut b = base.clone();
            if let Some(slot) = b.pointer_mut(p) {
                *slot = r;
                bodies.push(b);
            }
        }
    }
    for o in &objects {
        for key in [MARK, ID] {
            let mut b = base.clone();
            if let Some(Value::Object(map)) = b.pointer_mut(o) {
                map.insert(key.to_owned(), json!(MARK));
                bodies.push(b);
            }
        }
    }
    bodies.extend([json!(MARK), json!([ID]), json!(410_102_198_305_120_312_u64)]);
    let mut raw: Vec<Vec<u8>> = bodies
        .iter()
        .map(|b| serde_json::to_vec(b).unwrap())
        .collect();
    raw.push(format!(r#"{{"{MARK}": "{ID}"#).into_bytes());
    raw.push(format!(r#"{{"note": {MARK}}}"#).into_bytes());
    raw.push(format!(r#"{{"note": "{ID}" "{MARK}"}}"#).into_bytes());
    raw
}

/// The CSV bodies sent to the feed upload: the marker and the ID number as a column, as every
/// cell and in each column.
fn csv_bodies() -> Vec<Vec<u8>> {
    let header = "record_id,id_number,region_code,occurred_on,illness,house_damage,displaced,disability_grade";
    let good = ["R-1", ID, "410102001", "2026-10-01", "", "", "", ""];
    let mut out = vec![
        format!("record_id,{MARK},{ID}\nR-1,{ID},{MARK}\n"),
        format!("{header}\n{}\n", [MARK; 8].join(",")),
        format!("{header}\n{}\n", [ID; 8].join(",")),
        format!("{header}\n\"{MARK}\"{ID},{MARK}\n"),
    ];
    for i in 0..good.len() {
        for v in [MARK, ID] {
            let mut row = good;
            row[i] = v;
            out.push(format!("{header}\n{}\n", row.join(",")));
        }
    }
    out.into_iter().map(String::into_bytes).collect()
}

/// The XML bodies sent to the pain.002 upload: the marker or the ID number in each element and
/// attribute a client writes.
fn xml_bodies() -> Vec<Vec<u8>> {
    let doc = |root: &str, ns: &str, msg: &str, orig: &str, grp: &str, e2e: &str, sts: &str| {
        format!(
            r#"<?xml version="1.0"?><{root} xmlns="{ns}"><CstmrPmtStsRpt><GrpHdr><MsgId>{msg}</MsgId></GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>{orig}</OrgnlMsgId><GrpSts>{grp}</GrpSts></OrgnlGrpInfAndSts><OrgnlPmtInfAndSts><TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{sts}</TxSts></TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></{root}>"#
        )
    };
    let ns = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.11";
    let mut out = Vec::new();
    for v in [MARK, ID] {
        out.extend([
            doc(v, ns, "M", "O", "ACCP", "E", "ACSC"),
            doc("Document", v, "M", "O", "ACCP", "E", "ACSC"),
            doc("Document", ns, v, "O", "ACCP", "E", "ACSC"),
            doc("Document", ns, "M", v, "ACCP", "E", "ACSC"),
            doc("Document", ns, "M", "O", v, "E", "ACSC"),
            doc("Document", ns, "M", "O", "ACCP", v, "ACSC"),
            doc("Document", ns, "M", "O", "ACCP", v, v),
            doc("Document", ns, "M", "O", "ACCP", "E", v),
            format!("<Document xmlns=\"{ns}\"><{v}></Other{v}></Document>"),
            format!("<Document xmlns=\"{ns}\"><MsgId>&{v};</MsgId></Document>"),
            format!("{v}<Document"),
        ]);
    }
    out.into_iter().map(String::into_bytes).collect()
}

/// The instances of a mesh with the medical department that serve `op`.
fn served_by(op: &Operation) -> Vec<&'static str> {
    let mut out = Vec::new();
    for tag in &op.tags {
        let instances: &[&'static str] = match tag.as_str() {
            "every service" => &[
                "intake",
                "verification",
                "monitoring",
                "payment",
                "relief-medical",
            ],
            "intake" => &["intake"],
            "verification" => &["verification"],
            "monitoring" => &["monitoring"],
            "payment" => &["payment"],
            "relief" => &["relief-medical"],
            _ => &[],
        };
        out.extend(instances.iter().copied());
    }
    out
}

/// One request to send: a path (with its query) and a body in the operation's media type.
struct Call {
    path: String,
    media: Option<String>,
    body: Vec<u8>,
}

/// Every request sent to `op`: each path and query parameter set to the marker and to the ID
/// number (with a valid-shaped body), then each body with valid-shaped parameters.
fn calls(op: &Operation) -> Vec<Call> {
    let body = body_of(op);
    let (media, base) = match &body {
        Some((m, b)) => (
            Some(m.clone()),
            match m.as_str() {
                "application/json" => serde_json::to_vec(b).unwrap(),
                _ => b.as_str().unwrap_or_default().as_bytes().to_vec(),
            },
        ),
        None => (None, Vec::new()),
    };
    let mut out = Vec::new();
    let call = |path: String, body: Vec<u8>| Call {
        path,
        media: media.clone(),
        body,
    };
    for v in [MARK, ID] {
        for p in parameters(op, "path") {
            out.push(call(path_with(&op.path, Some((&p, v))), base.clone()));
        }
        for q in parameters(op, "query") {
            let path = format!("{}?{q}={v}", path_with(&op.path, None));
            out.push(call(path, base.clone()));
        }
        // A query parameter the operation does not have, named by the value.
        let path = format!("{}?{v}={v}", path_with(&op.path, None));
        out.push(call(path, base.clone()));
    }
    let bodies = match &body {
        Some((m, b)) if m == "application/json" => json_bodies(b),
        Some((m, _)) if m == "text/csv" => csv_bodies(),
        Some((m, _)) if m.ends_with("xml") => xml_bodies(),
        Some(_) | None => Vec::new(),
    };
    for b in bodies {
        out.push(call(path_with(&op.path, None), b));
    }
    if media.is_some() {
        // The body in a media type the operation does not take.
        out.push(Call {
            path: path_with(&op.path, None),
            media: Some("text/plain".to_owned()),
            body: format!("{MARK} {ID}").into_bytes(),
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_4xx_body_repeats_a_value_sent_to_any_operation() {
    let mesh = TestMesh::start(Options {
        departments: vec![Department::Medical],
        ..Options::default()
    })
    .await
    .unwrap();
    let mut echoed = Vec::new();
    let (mut sent, mut refused) = (0, 0);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for op in roles::operations() {
        let method: reqwest::Method = op.method.parse().unwrap();
        for service in served_by(op) {
            let who = if op.open {
                None
            } else {
                op.roles.iter().find_map(|r| roles::default_for(r, service))
            };
            for c in calls(op) {
                let mut req = mesh
                    .request_as(who.as_ref(), method.clone(), service, &c.path)
                    .await
                    .unwrap();
                if let Some(media) = &c.media {
                    req = req.header("content-type", media).body(c.body.clone());
                }
                let r = req.send().await.unwrap();
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                sent += 1;
                *statuses.entry(status).or_insert(0) += 1;
                if !(400..500).contains(&status) {
                    continue;
                }
                refused += 1;
                // The ids the path names (of nothing that exists) are values sent too.
                let ids = c
                    .path
                    .split(['/', '?', '=', '&'])
                    .filter(|s| uuid::Uuid::parse_str(s).is_ok());
                if text.contains(MARK)
                    || text.contains(ID)
                    || ids.into_iter().any(|i| text.contains(i))
                {
                    echoed.push(format!(
                        "{} {} on {service} ({}) with {}: {status} {text}",
                        op.method,
                        c.path,
                        op.id,
                        String::from_utf8_lossy(&c.body)
                    ));
                }
            }
        }
    }
    assert!(
        refused > 1000,
        "only {refused} of {sent} requests were refused"
    );
    assert!(
        echoed.is_empty(),
        "{} of {refused} refusals repeat the value sent:\n{}",
        echoed.len(),
        echoed.join("\n")
    );
}
