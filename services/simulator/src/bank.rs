//! Bank **simulator**: stands in for the bank that holds the dedicated fund accounts. It takes
//! ISO 20022 pain.001.001.03 files over HTTP (`POST /v1/pain001`, as payment's
//! `POST /v1/batches/{id}/transmit` sends them) and answers each with pain.002.001.11 status
//! reports, published on `payment.bank.status` (or POSTed to payment's
//! `/v1/bank/status-reports` with `deliver = "http"`):
//!
//! 1. at once: the file accepted (`ACTC`/`PART`, or `RJCT` when its count or control sum is
//!    wrong); each transfer `ACCP`, or `RJCT` with `AC01` (account number listed as invalid),
//!    `AC04` (account listed as closed) or `AM05` (a payment already taken, in this file or an
//!    earlier one);
//! 2. after `settle_after_ms`: `ACSC` for every accepted transfer — sent twice, the same report
//!    (same MsgId), when `duplicate_reports`;
//! 3. when `late_reports`: a stale `ACCP` report (a new MsgId) after the settlement;
//! 4. after `return_after_ms`: a return of each settled transfer to an account listed as
//!    returning — a pain.002 `RJCT` (`AC04`) for a transfer already reported `ACSC`.
//!
//! The same file (MsgId) sent twice is taken once. Every report sent is kept and listed by
//! `GET /v1/status-reports`. Rules come from a fixtures file or the settings.

use anyhow::Context as _;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use contract::channels::PAYMENT_BANK_STATUS;
use contract::BankStatusReport;
use mesh::settings::{HttpSettings, NatsSettings, TelemetrySettings};
use mesh::{ChainRef, Envelope, Subjects};
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

pub const DEFAULTS: &str = r#"
service = "bank-simulator"
[http]
port = 8090
[bank]
deliver = "nats"
settle_after_ms = 300
return_after_ms = 600
duplicate_reports = true
late_reports = true
invalid_accounts = []
closed_accounts = []
returning_accounts = []
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct BankSettings {
    pub service: String,
    pub http: HttpSettings,
    pub nats: NatsSettings,
    pub telemetry: TelemetrySettings,
    pub bank: BankRules,
}

/// How the simulated bank answers.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct BankRules {
    /// `nats` (publish on `payment.bank.status`) or `http` (POST to `payment_url`).
    #[serde(default = "nats")]
    pub deliver: String,
    #[serde(default)]
    pub payment_url: Option<String>,
    #[serde(default)]
    pub settle_after_ms: u64,
    #[serde(default)]
    pub return_after_ms: u64,
    #[serde(default)]
    pub duplicate_reports: bool,
    #[serde(default)]
    pub late_reports: bool,
    /// Account numbers that do not exist: `RJCT AC01`.
    #[serde(default)]
    pub invalid_accounts: Vec<String>,
    /// Closed accounts: `RJCT AC04`.
    #[serde(default)]
    pub closed_accounts: Vec<String>,
    /// Accounts that take the money and send it back later: `ACSC`, then `RJCT AC04`.
    #[serde(default)]
    pub returning_accounts: Vec<String>,
    /// A JSON file with the three lists above; added to them.
    #[serde(default)]
    pub fixtures_file: Option<String>,
}

fn nats() -> String {
    "nats".into()
}

impl BankSettings {
    pub fn load() -> anyhow::Result<Self> {
        mesh::settings::load(DEFAULTS)
    }
}

#[derive(Debug, Default, Deserialize)]
struct RuleFixtures {
    #[serde(default)]
    invalid_accounts: Vec<String>,
    #[serde(default)]
    closed_accounts: Vec<String>,
    #[serde(default)]
    returning_accounts: Vec<String>,
}

/// One transfer of a pain.001 as the bank reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain001Tx {
    pub end_to_end_id: String,
    pub instr_id: String,
    pub amount: String,
    pub creditor_account: String,
}

/// A pain.001 as the bank reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pain001 {
    pub msg_id: String,
    pub nb_of_txs: String,
    pub ctrl_sum: String,
    pub payment_info_id: String,
    pub transactions: Vec<Pain001Tx>,
}

/// Reads the parts of a pain.001.001.03 the bank needs.
pub fn parse_pain001(xml: &str) -> Result<Pain001, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut f = Pain001 {
        msg_id: String::new(),
        nb_of_txs: String::new(),
        ctrl_sum: String::new(),
        payment_info_id: String::new(),
        transactions: Vec::new(),
    };
    let mut tx: Option<Pain001Tx> = None;
    loop {
        match reader.read_event() {
            Err(e) => return Err(format!("not well-formed XML: {e}")),
            Ok(Event::Eof) => break,
            Ok(Event::Start(s)) => {
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    let ns = s
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == b"xmlns")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        .unwrap_or_default();
                    if name != "Document" || !ns.contains(":pain.001.") {
                        return Err("not a pain.001 Document".into());
                    }
                }
                if name == "CdtTrfTxInf" {
                    tx = Some(Pain001Tx {
                        end_to_end_id: String::new(),
                        instr_id: String::new(),
                        amount: String::new(),
                        creditor_account: String::new(),
                    });
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                if path.last().map(String::as_str) == Some("CdtTrfTxInf") {
                    if let Some(t) = tx.take() {
                        f.transactions.push(t);
                    }
                }
                path.pop();
            }
            Ok(Event::Text(t)) => {
                let v = t
                    .xml_content()
                    .map_err(|e| format!("bad text: {e}"))?
                    .into_owned();
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                match p.as_slice() {
                    [.., "GrpHdr", "MsgId"] => f.msg_id = v,
                    [.., "GrpHdr", "NbOfTxs"] => f.nb_of_txs = v,
                    [.., "GrpHdr", "CtrlSum"] => f.ctrl_sum = v,
                    [.., "PmtInf", "PmtInfId"] => f.payment_info_id = v,
                    [.., "CdtTrfTxInf", "PmtId", "EndToEndId"] => {
                        if let Some(t) = tx.as_mut() {
                            t.end_to_end_id = v;
                        }
                    }
                    [.., "CdtTrfTxInf", "PmtId", "InstrId"] => {
                        if let Some(t) = tx.as_mut() {
                            t.instr_id = v;
                        }
                    }
                    [.., "CdtTrfTxInf", "Amt", "InstdAmt"] => {
                        if let Some(t) = tx.as_mut() {
                            t.amount = v;
                        }
                    }
                    [.., "CdtTrfTxInf", "CdtrAcct", "Id", "Othr", "Id"] => {
                        if let Some(t) = tx.as_mut() {
                            t.creditor_account = v;
                        }
                    }
                    _ => {}
                }
            }
            Ok(_) => {}
        }
    }
    if f.msg_id.is_empty() {
        return Err("the file has no GrpHdr/MsgId".into());
    }
    Ok(f)
}

/// Fen from a `123.45` amount; `None` when malformed.
fn fen(amount: &str) -> Option<i64> {
    let (y, f) = amount.split_once('.').unwrap_or((amount, "0"));
    let f = format!("{f:0<2}");
    if f.len() != 2 {
        return None;
    }
    Some(y.parse::<i64>().ok()? * 100 + f.parse::<i64>().ok()?)
}

/// One transfer's status in a report.
#[derive(Debug, Clone)]
pub struct TxAnswer {
    pub instr_id: String,
    pub end_to_end_id: String,
    pub status: &'static str,
    pub reason: Option<&'static str>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes a pain.002.001.11 report (customer payment status report).
pub fn pain002(
    msg_id: &str,
    file: &Pain001,
    group_status: &str,
    group_reason: Option<&str>,
    txs: &[TxAnswer],
) -> String {
    let mut x = String::with_capacity(512 + txs.len() * 200);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.11\"><CstmrPmtStsRpt>");
    x.push_str(&format!(
        "<GrpHdr><MsgId>{}</MsgId><CreDtTm>{}</CreDtTm><InitgPty><Nm>Simulated bank</Nm></InitgPty></GrpHdr>",
        esc(msg_id),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S")
    ));
    x.push_str(&format!(
        "<OrgnlGrpInfAndSts><OrgnlMsgId>{}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>",
        esc(&file.msg_id)
    ));
    if !file.nb_of_txs.is_empty() {
        x.push_str(&format!(
            "<OrgnlNbOfTxs>{}</OrgnlNbOfTxs>",
            esc(&file.nb_of_txs)
        ));
    }
    if !file.ctrl_sum.is_empty() {
        x.push_str(&format!(
            "<OrgnlCtrlSum>{}</OrgnlCtrlSum>",
            esc(&file.ctrl_sum)
        ));
    }
    x.push_str(&format!("<GrpSts>{group_status}</GrpSts>"));
    if let Some(r) = group_reason {
        x.push_str(&format!("<StsRsnInf><Rsn><Cd>{r}</Cd></Rsn></StsRsnInf>"));
    }
    x.push_str("</OrgnlGrpInfAndSts>");
    if !txs.is_empty() {
        x.push_str(&format!(
            "<OrgnlPmtInfAndSts><OrgnlPmtInfId>{}</OrgnlPmtInfId>",
            esc(&file.payment_info_id)
        ));
        for t in txs {
            x.push_str("<TxInfAndSts>");
            if !t.instr_id.is_empty() {
                x.push_str(&format!(
                    "<OrgnlInstrId>{}</OrgnlInstrId>",
                    esc(&t.instr_id)
                ));
            }
            x.push_str(&format!(
                "<OrgnlEndToEndId>{}</OrgnlEndToEndId><TxSts>{}</TxSts>",
                esc(&t.end_to_end_id),
                t.status
            ));
            if let Some(r) = t.reason {
                x.push_str(&format!("<StsRsnInf><Rsn><Cd>{r}</Cd></Rsn></StsRsnInf>"));
            }
            x.push_str("</TxInfAndSts>");
        }
        x.push_str("</OrgnlPmtInfAndSts>");
    }
    x.push_str("</CstmrPmtStsRpt></Document>\n");
    x
}

/// A report the bank sent.
#[derive(Debug, Clone, Serialize)]
pub struct SentReport {
    pub msg_id: String,
    pub original_msg_id: String,
    /// `acceptance`, `settlement`, `duplicate`, `late` or `return`.
    pub kind: String,
    pub xml: String,
}

struct Bank {
    rules: BankRules,
    invalid: HashSet<String>,
    closed: HashSet<String>,
    returning: HashSet<String>,
    files: Mutex<HashSet<String>>,
    /// End-to-end ids taken (not rejected) in any file: a second is a duplication (AM05).
    taken: Mutex<HashSet<String>>,
    reports: Mutex<Vec<SentReport>>,
    seq: Mutex<u64>,
    nats: async_nats::Client,
    js: async_nats::jetstream::Context,
    subjects: Subjects,
    service: String,
    http: reqwest::Client,
}

impl Bank {
    fn next_msg_id(&self, file: &str) -> String {
        let mut n = self.seq.lock().expect("lock");
        *n += 1;
        let short: String = file
            .chars()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("BK-{short}-{:04}", *n)
    }

    async fn deliver(&self, report: SentReport) -> anyhow::Result<()> {
        self.reports.lock().expect("lock").push(report.clone());
        match self.rules.deliver.as_str() {
            "http" => {
                let url = self
                    .rules
                    .payment_url
                    .as_deref()
                    .context("deliver = http needs bank.payment_url")?;
                let r = self
                    .http
                    .post(format!(
                        "{}/v1/bank/status-reports",
                        url.trim_end_matches('/')
                    ))
                    .header("content-type", "application/xml")
                    .body(report.xml.clone())
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "payment answered {}", r.status());
            }
            _ => {
                let payload = BankStatusReport {
                    msg_id: report.msg_id.clone(),
                    original_msg_id: report.original_msg_id.clone(),
                    xml: report.xml.clone(),
                };
                let chain = ChainRef {
                    household_id: uuid::Uuid::nil(),
                    chain_id: uuid::Uuid::nil(),
                    causation_id: None,
                };
                let env =
                    Envelope::new(&self.service, &chain, Some(report.msg_id.clone()), payload);
                let mut headers = async_nats::HeaderMap::new();
                // Each sending is its own message: a duplicate report reaches payment, which
                // takes the same report (MsgId) once.
                headers.insert("Nats-Msg-Id", env.id.as_str());
                self.js
                    .publish_with_headers(
                        PAYMENT_BANK_STATUS.subject(&self.subjects),
                        headers,
                        serde_json::to_vec(&env)?.into(),
                    )
                    .await?
                    .await?;
            }
        }
        Ok(())
    }

    /// Decides each transfer's fate and sends the reports, over time.
    async fn answer(self: Arc<Self>, file: Pain001) {
        if let Err(error) = self.clone().answer_inner(file).await {
            tracing::warn!(%error, "A status report could not be delivered.");
        }
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one file answered the way its rules say, report by report"
    )]
    async fn answer_inner(self: Arc<Self>, file: Pain001) -> anyhow::Result<()> {
        let sum: Option<i64> = file.transactions.iter().map(|t| fen(&t.amount)).sum();
        let header_ok = file.nb_of_txs == file.transactions.len().to_string()
            && fen(&file.ctrl_sum).is_some()
            && sum == fen(&file.ctrl_sum);
        if !header_ok {
            let id = self.next_msg_id(&file.msg_id);
            let xml = pain002(&id, &file, "RJCT", Some("AM10"), &[]);
            return self
                .deliver(SentReport {
                    msg_id: id,
                    original_msg_id: file.msg_id.clone(),
                    kind: "acceptance".into(),
                    xml,
                })
                .await;
        }
        let mut first = Vec::new();
        let mut good = Vec::new();
        {
            let mut taken = self.taken.lock().expect("lock");
            for t in &file.transactions {
                let reason = if self.invalid.contains(&t.creditor_account) {
                    Some("AC01")
                } else if self.closed.contains(&t.creditor_account) {
                    Some("AC04")
                } else if !taken.insert(t.end_to_end_id.clone()) {
                    Some("AM05")
                } else {
                    None
                };
                first.push(TxAnswer {
                    instr_id: t.instr_id.clone(),
                    end_to_end_id: t.end_to_end_id.clone(),
                    status: if reason.is_some() { "RJCT" } else { "ACCP" },
                    reason,
                });
                if reason.is_none() {
                    good.push(t.clone());
                }
            }
        }
        let group = if good.is_empty() {
            "RJCT"
        } else if good.len() < file.transactions.len() {
            "PART"
        } else {
            "ACTC"
        };
        let id = self.next_msg_id(&file.msg_id);
        let xml = pain002(&id, &file, group, None, &first);
        self.deliver(SentReport {
            msg_id: id,
            original_msg_id: file.msg_id.clone(),
            kind: "acceptance".into(),
            xml,
        })
        .await?;
        if good.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(self.rules.settle_after_ms)).await;
        let settled: Vec<TxAnswer> = good
            .iter()
            .map(|t| TxAnswer {
                instr_id: t.instr_id.clone(),
                end_to_end_id: t.end_to_end_id.clone(),
                status: "ACSC",
                reason: None,
            })
            .collect();
        let id = self.next_msg_id(&file.msg_id);
        let xml = pain002(&id, &file, "ACSC", None, &settled);
        let report = SentReport {
            msg_id: id,
            original_msg_id: file.msg_id.clone(),
            kind: "settlement".into(),
            xml,
        };
        self.deliver(report.clone()).await?;
        if self.rules.duplicate_reports {
            self.deliver(SentReport {
                kind: "duplicate".into(),
                ..report
            })
            .await?;
        }
        if self.rules.late_reports {
            let stale: Vec<TxAnswer> = good
                .iter()
                .map(|t| TxAnswer {
                    instr_id: t.instr_id.clone(),
                    end_to_end_id: t.end_to_end_id.clone(),
                    status: "ACCP",
                    reason: None,
                })
                .collect();
            let id = self.next_msg_id(&file.msg_id);
            let xml = pain002(&id, &file, "ACCP", None, &stale);
            self.deliver(SentReport {
                msg_id: id,
                original_msg_id: file.msg_id.clone(),
                kind: "late".into(),
                xml,
            })
            .await?;
        }
        let returned: Vec<TxAnswer> = good
            .iter()
            .filter(|t| self.returning.contains(&t.creditor_account))
            .map(|t| TxAnswer {
                instr_id: t.instr_id.clone(),
                end_to_end_id: t.end_to_end_id.clone(),
                status: "RJCT",
                reason: Some("AC04"),
            })
            .collect();
        if !returned.is_empty() {
            tokio::time::sleep(Duration::from_millis(self.rules.return_after_ms)).await;
            let id = self.next_msg_id(&file.msg_id);
            let xml = pain002(&id, &file, "PART", None, &returned);
            self.deliver(SentReport {
                msg_id: id,
                original_msg_id: file.msg_id.clone(),
                kind: "return".into(),
                xml,
            })
            .await?;
        }
        Ok(())
    }
}

/// A built bank simulator: listening, not yet serving.
pub struct BankSimulator {
    bank: Arc<Bank>,
    listener: TcpListener,
}

impl BankSimulator {
    pub async fn build(settings: BankSettings) -> anyhow::Result<Self> {
        let mut rules = settings.bank.clone();
        if let Some(path) = &rules.fixtures_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("bank fixtures file {path} could not be read"))?;
            let f: RuleFixtures = serde_json::from_str(&text)
                .with_context(|| format!("bank fixtures file {path} is not valid"))?;
            rules.invalid_accounts.extend(f.invalid_accounts);
            rules.closed_accounts.extend(f.closed_accounts);
            rules.returning_accounts.extend(f.returning_accounts);
        }
        let nats = settings
            .nats
            .connect_options(&settings.service)
            .connect(settings.nats.url.as_str())
            .await
            .context("NATS is not reachable")?;
        let listener = TcpListener::bind((settings.http.host.as_str(), settings.http.port)).await?;
        let bank = Arc::new(Bank {
            invalid: rules.invalid_accounts.iter().cloned().collect(),
            closed: rules.closed_accounts.iter().cloned().collect(),
            returning: rules.returning_accounts.iter().cloned().collect(),
            rules,
            files: Mutex::new(HashSet::new()),
            taken: Mutex::new(HashSet::new()),
            reports: Mutex::new(Vec::new()),
            seq: Mutex::new(0),
            js: async_nats::jetstream::new(nats.clone()),
            nats,
            subjects: Subjects::new(&settings.nats.prefix),
            service: settings.service,
            http: reqwest::Client::new(),
        });
        Ok(Self { bank, listener })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let nats = self.bank.nats.clone();
        let router = Router::new()
            .route("/v1/pain001", post(take_file))
            .route("/v1/status-reports", get(list_reports))
            .route("/v1/status-reports/{msg_id}", get(one_report))
            .route(
                "/healthz",
                get(|| async { Json(serde_json::json!({"status": "ok"})) }),
            )
            .with_state(self.bank);
        axum::serve(self.listener, router)
            .with_graceful_shutdown(signal)
            .await?;
        let _ = nats.drain().await;
        Ok(())
    }
}

#[derive(Serialize)]
struct Taken {
    msg_id: String,
    transactions: usize,
    duplicate: bool,
}

async fn take_file(State(bank): State<Arc<Bank>>, body: String) -> Response {
    let file = match parse_pain001(&body) {
        Ok(f) => f,
        Err(why) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({"error": {"code": "validation_failed", "message": why}})),
            )
                .into_response()
        }
    };
    let new = bank.files.lock().expect("lock").insert(file.msg_id.clone());
    let out = Taken {
        msg_id: file.msg_id.clone(),
        transactions: file.transactions.len(),
        duplicate: !new,
    };
    if new {
        tracing::info!(msg_id = %file.msg_id, transactions = file.transactions.len(), "pain.001 file taken.");
        tokio::spawn(bank.clone().answer(file));
        (StatusCode::ACCEPTED, Json(out)).into_response()
    } else {
        (StatusCode::OK, Json(out)).into_response()
    }
}

async fn list_reports(State(bank): State<Arc<Bank>>) -> Json<Vec<SentReport>> {
    Json(bank.reports.lock().expect("lock").clone())
}

async fn one_report(State(bank): State<Arc<Bank>>, Path(msg_id): Path<String>) -> Response {
    let found = bank
        .reports
        .lock()
        .expect("lock")
        .iter()
        .find(|r| r.msg_id == msg_id)
        .cloned();
    match found {
        Some(r) => ([(header::CONTENT_TYPE, "application/xml")], r.xml).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": {"code": "not_found", "message": format!("no report {msg_id}")}})),
        )
            .into_response(),
    }
}

/// Which report kinds a file got; for tests.
pub fn kinds(reports: &[SentReport]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in reports {
        *m.entry(r.kind.clone()).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-12-01T10:00:00</CreDtTm><NbOfTxs>2</NbOfTxs><CtrlSum>300.50</CtrlSum><InitgPty><Nm>x</Nm></InitgPty></GrpHdr>
<PmtInf><PmtInfId>M1-1</PmtInfId>
<CdtTrfTxInf><PmtId><InstrId>a</InstrId><EndToEndId>a</EndToEndId></PmtId><Amt><InstdAmt Ccy="CNY">100.00</InstdAmt></Amt><CdtrAcct><Id><Othr><Id>111111111</Id></Othr></Id></CdtrAcct></CdtTrfTxInf>
<CdtTrfTxInf><PmtId><InstrId>b</InstrId><EndToEndId>b</EndToEndId></PmtId><Amt><InstdAmt Ccy="CNY">200.5</InstdAmt></Amt><CdtrAcct><Id><Othr><Id>222222222</Id></Othr></Id></CdtrAcct></CdtTrfTxInf>
</PmtInf></CstmrCdtTrfInitn></Document>"#;

    #[test]
    fn a_file_is_read_and_its_sums_checked() {
        let f = parse_pain001(FILE).unwrap();
        assert_eq!(f.msg_id, "M1");
        assert_eq!(f.payment_info_id, "M1-1");
        assert_eq!(f.transactions.len(), 2);
        assert_eq!(f.transactions[1].creditor_account, "222222222");
        let sum: Option<i64> = f.transactions.iter().map(|t| fen(&t.amount)).sum();
        assert_eq!(sum, fen(&f.ctrl_sum));
        assert_eq!(fen("200.5"), Some(20_050));
        assert_eq!(fen("1.234"), None);
        assert!(parse_pain001("<Document xmlns=\"urn:x:pain.002.001.03\"/>").is_err());
    }

    #[test]
    fn a_report_names_the_file_and_each_transfer() {
        let f = parse_pain001(FILE).unwrap();
        let x = pain002(
            "R1",
            &f,
            "PART",
            None,
            &[TxAnswer {
                instr_id: "a".into(),
                end_to_end_id: "a".into(),
                status: "RJCT",
                reason: Some("AC01"),
            }],
        );
        assert!(x.contains("<OrgnlMsgId>M1</OrgnlMsgId>"));
        assert!(x.contains("<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC01</Cd></Rsn></StsRsnInf>"));
    }
}
