//! Table `complaints`: consultations, complaints and reports, received, investigated, answered,
//! escalated.

use super::decode;
use crate::domain::complaints::ComplaintStatus;
use chrono::{DateTime, NaiveDate, Utc};
use contract::{ComplaintCategory, ComplaintVia, Finding};
use mesh::auth::Actor;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A complaint to record, as received.
#[derive(Debug, Clone)]
pub struct NewComplaint {
    pub complaint_id: Uuid,
    pub reference: String,
    pub received_via: ComplaintVia,
    pub category: ComplaintCategory,
    pub region_code: String,
    pub household_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub officer_concerned: Option<String>,
    pub summary: String,
    pub filer: Option<Filer>,
    pub received_on: NaiveDate,
    pub received_at: DateTime<Utc>,
    pub answer_due: NaiveDate,
}

/// The person who filed a complaint and did not stay anonymous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filer {
    pub name: String,
    pub phone: Option<String>,
}

/// A complaint as staff see it.
#[derive(Debug, Clone, Serialize)]
pub struct ComplaintView {
    pub complaint_id: Uuid,
    pub reference: String,
    pub received_via: ComplaintVia,
    pub category: ComplaintCategory,
    /// The township or county that handles it.
    pub region_code: String,
    pub household_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub officer_concerned: Option<String>,
    pub summary: String,
    pub anonymous: bool,
    /// Masked in lists ([`ComplaintView::masked`]); in full in `GET /v1/complaints/{id}`.
    pub filer: Option<Filer>,
    pub received_on: NaiveDate,
    pub received_at: DateTime<Utc>,
    pub received_by: Actor,
    pub answer_due: NaiveDate,
    pub status: ComplaintStatus,
    /// Not answered and `answer_due` has passed (as of today).
    pub overdue: bool,
    pub investigated_by: Option<Actor>,
    pub investigated_at: Option<DateTime<Utc>>,
    pub finding: Option<Finding>,
    pub findings: Option<String>,
    /// A report confirmed as fraud: the first month obtained by it, and the stop from then.
    pub fraud_from_month: Option<String>,
    pub stop_change_id: Option<Uuid>,
    pub answered_by: Option<Actor>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_on: Option<NaiveDate>,
    pub answer: Option<String>,
    /// Answered on or before `answer_due`.
    pub on_time: Option<bool>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// The county or city it was passed to.
    pub escalated_to: Option<String>,
}

impl ComplaintView {
    /// The filer as lists show them (`vault::mask`, public style): surname and `**`, a mobile's
    /// first 3 and last 4 digits.
    pub fn masked(mut self) -> ComplaintView {
        use vault::mask::{name, phone, Style};
        if let Some(f) = self.filer.as_mut() {
            f.name = name(&f.name, Style::Public);
            f.phone = f.phone.as_deref().map(|p| phone(p, Style::Public));
        }
        self
    }
}

struct Row {
    complaint_id: Uuid,
    reference: String,
    received_via: String,
    category: String,
    region_code: String,
    household_id: Option<Uuid>,
    application_id: Option<Uuid>,
    officer_concerned: Option<String>,
    summary: String,
    anonymous: bool,
    filer_name: Option<String>,
    filer_phone: Option<String>,
    received_on: NaiveDate,
    received_at: DateTime<Utc>,
    received_by: String,
    received_by_sub: String,
    received_by_role: String,
    answer_due: NaiveDate,
    status: ComplaintStatus,
    investigated_by: Option<String>,
    investigated_by_sub: Option<String>,
    investigated_by_role: Option<String>,
    investigated_at: Option<DateTime<Utc>>,
    finding: Option<String>,
    findings: Option<String>,
    fraud_from_month: Option<String>,
    stop_change_id: Option<Uuid>,
    answered_by: Option<String>,
    answered_by_sub: Option<String>,
    answered_by_role: Option<String>,
    answered_at: Option<DateTime<Utc>>,
    answered_on: Option<NaiveDate>,
    answer: Option<String>,
    escalated_at: Option<DateTime<Utc>>,
    escalated_to: Option<String>,
}

fn actor(name: Option<String>, sub: Option<String>, role: Option<String>) -> Option<Actor> {
    Some(Actor {
        name: name?,
        sub: sub?,
        role: role?,
    })
}

fn parsed<T>(what: &str, s: &str, parse: fn(&str) -> Option<T>) -> sqlx::Result<T> {
    parse(s).ok_or_else(|| decode(format!("stored {what} {s:?}")))
}

impl Row {
    fn view(self, today: NaiveDate) -> sqlx::Result<ComplaintView> {
        let finding = match self.finding.as_deref() {
            Some(f) => Some(parsed("finding", f, Finding::parse)?),
            None => None,
        };
        Ok(ComplaintView {
            complaint_id: self.complaint_id,
            reference: self.reference,
            received_via: parsed("channel", &self.received_via, ComplaintVia::parse)?,
            category: parsed("category", &self.category, ComplaintCategory::parse)?,
            region_code: self.region_code,
            household_id: self.household_id,
            application_id: self.application_id,
            officer_concerned: self.officer_concerned,
            summary: self.summary,
            anonymous: self.anonymous,
            filer: self.filer_name.map(|name| Filer {
                name,
                phone: self.filer_phone,
            }),
            received_on: self.received_on,
            received_at: self.received_at,
            received_by: Actor {
                name: self.received_by,
                sub: self.received_by_sub,
                role: self.received_by_role,
            },
            answer_due: self.answer_due,
            status: self.status,
            overdue: self.status != ComplaintStatus::Answered
                && policy::dates::is_overdue(self.answer_due, today),
            investigated_by: actor(
                self.investigated_by,
                self.investigated_by_sub,
                self.investigated_by_role,
            ),
            investigated_at: self.investigated_at,
            finding,
            findings: self.findings,
            fraud_from_month: self.fraud_from_month,
            stop_change_id: self.stop_change_id,
            answered_by: actor(
                self.answered_by,
                self.answered_by_sub,
                self.answered_by_role,
            ),
            answered_at: self.answered_at,
            on_time: self.answered_on.map(|d| d <= self.answer_due),
            answered_on: self.answered_on,
            answer: self.answer,
            escalated_at: self.escalated_at,
            escalated_to: self.escalated_to,
        })
    }
}

/// Records a complaint received by `by`; `false` when one with the same channel and reference
/// was already recorded (nothing changes; its id is [`by_reference`]'s).
pub async fn insert(tx: &mut PgConnection, c: &NewComplaint, by: &Actor) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "INSERT INTO complaints (complaint_id, reference, received_via, category, region_code,
                household_id, application_id, officer_concerned, summary, anonymous, filer_name,
                filer_phone, received_on, received_at, received_by, received_by_sub,
                received_by_role, answer_due)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         ON CONFLICT (received_via, reference) DO NOTHING",
        c.complaint_id,
        c.reference,
        c.received_via.as_str(),
        c.category.as_str(),
        c.region_code,
        c.household_id,
        c.application_id,
        c.officer_concerned,
        c.summary,
        c.filer.is_none(),
        c.filer.as_ref().map(|f| f.name.as_str()),
        c.filer.as_ref().and_then(|f| f.phone.as_deref()),
        c.received_on,
        c.received_at,
        by.name,
        by.sub,
        by.role,
        c.answer_due,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The id of the complaint a channel's reference recorded.
pub async fn by_reference(
    tx: &mut PgConnection,
    via: ComplaintVia,
    reference: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT complaint_id FROM complaints WHERE received_via = $1 AND reference = $2",
        via.as_str(),
        reference,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// What `GET /v1/complaints` selects; every field optional but the caller's areas.
#[derive(Debug, Default)]
pub struct Filter {
    /// `LIKE` patterns of the caller's areas: a complaint handled there or escalated there.
    pub areas: Vec<String>,
    pub status: Option<ComplaintStatus>,
    pub category: Option<ComplaintCategory>,
    pub overdue: Option<bool>,
    pub household_id: Option<Uuid>,
    pub as_of: NaiveDate,
    pub limit: i64,
}

pub async fn list(db: &PgPool, f: &Filter) -> sqlx::Result<Vec<ComplaintView>> {
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT complaint_id, reference, received_via, category, region_code, household_id,
                application_id, officer_concerned, summary, anonymous, filer_name, filer_phone,
                received_on, received_at, received_by, received_by_sub, received_by_role,
                answer_due, status AS "status: ComplaintStatus", investigated_by,
                investigated_by_sub, investigated_by_role, investigated_at, finding, findings,
                fraud_from_month, stop_change_id, answered_by, answered_by_sub, answered_by_role, answered_at, answered_on, answer,
                escalated_at, escalated_to
         FROM complaints
         WHERE (region_code LIKE ANY($1::text[]) OR escalated_to LIKE ANY($1::text[]))
           AND ($2::text IS NULL OR status = $2)
           AND ($3::text IS NULL OR category = $3)
           AND ($4::bool IS NULL OR $4 = (status <> 'answered' AND answer_due < $5))
           AND ($6::uuid IS NULL OR household_id = $6)
         ORDER BY answer_due, received_at, complaint_id LIMIT $7"#,
        &f.areas,
        f.status as Option<ComplaintStatus>,
        f.category.map(ComplaintCategory::as_str),
        f.overdue,
        f.as_of,
        f.household_id,
        f.limit,
    )
    .fetch_all(db)
    .await?;
    rows.into_iter().map(|r| r.view(f.as_of)).collect()
}

/// One complaint handled or escalated in `areas`; locked until the transaction ends when `lock`.
pub async fn get(
    conn: &mut PgConnection,
    id: Uuid,
    areas: &[String],
    today: NaiveDate,
    lock: bool,
) -> sqlx::Result<Option<ComplaintView>> {
    if lock {
        // Locked first, so that what is read below is what the transaction changes.
        sqlx::query_scalar!(
            "SELECT complaint_id FROM complaints WHERE complaint_id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let row: Option<Row> = sqlx::query_as!(
        Row,
        r#"SELECT complaint_id, reference, received_via, category, region_code, household_id,
                application_id, officer_concerned, summary, anonymous, filer_name, filer_phone,
                received_on, received_at, received_by, received_by_sub, received_by_role,
                answer_due, status AS "status: ComplaintStatus", investigated_by,
                investigated_by_sub, investigated_by_role, investigated_at, finding, findings,
                fraud_from_month, stop_change_id, answered_by, answered_by_sub, answered_by_role, answered_at, answered_on, answer,
                escalated_at, escalated_to
         FROM complaints
         WHERE complaint_id = $1
           AND (region_code LIKE ANY($2::text[]) OR escalated_to LIKE ANY($2::text[]))"#,
        id,
        areas,
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| r.view(today)).transpose()
}

/// What an investigation found.
#[derive(Debug, Clone)]
pub struct Investigation<'a> {
    pub finding: Finding,
    pub findings: &'a str,
    /// A confirmed fraud: its first month and the stop emitted for it.
    pub fraud: Option<(String, Uuid)>,
}

/// Investigated by `officer`.
pub async fn set_investigated(
    tx: &mut PgConnection,
    id: Uuid,
    officer: &Actor,
    found: &Investigation<'_>,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE complaints SET status = 'investigated', investigated_by = $2,
                investigated_by_sub = $3, investigated_by_role = $4, investigated_at = $5,
                finding = $6, findings = $7, fraud_from_month = $8, stop_change_id = $9
         WHERE complaint_id = $1",
        id,
        officer.name,
        officer.sub,
        officer.role,
        at,
        found.finding.as_str(),
        found.findings,
        found.fraud.as_ref().map(|(m, _)| m.as_str()),
        found.fraud.as_ref().map(|(_, c)| *c),
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Answered by `officer` on `on` (the bureau's day).
pub async fn set_answered(
    tx: &mut PgConnection,
    id: Uuid,
    officer: &Actor,
    answer: &str,
    at: DateTime<Utc>,
    on: NaiveDate,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE complaints SET status = 'answered', answered_by = $2, answered_by_sub = $3,
                answered_by_role = $4, answered_at = $5, answered_on = $6, answer = $7
         WHERE complaint_id = $1",
        id,
        officer.name,
        officer.sub,
        officer.role,
        at,
        on,
        answer,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A complaint not answered by its deadline, not escalated yet.
#[derive(Debug, Clone)]
pub struct Overdue {
    pub complaint_id: Uuid,
    pub region_code: String,
}

/// Every complaint unanswered past its `answer_due` before `as_of` and not escalated yet,
/// locked (others' sweeps skip them) until the transaction ends.
pub async fn overdue_unescalated(
    tx: &mut PgConnection,
    as_of: NaiveDate,
) -> sqlx::Result<Vec<Overdue>> {
    sqlx::query_as!(
        Overdue,
        "SELECT complaint_id, region_code FROM complaints
         WHERE status <> 'answered' AND escalated_at IS NULL AND answer_due < $1
         ORDER BY answer_due, complaint_id FOR UPDATE SKIP LOCKED",
        as_of,
    )
    .fetch_all(&mut *tx)
    .await
}

pub async fn set_escalated(
    tx: &mut PgConnection,
    id: Uuid,
    to: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE complaints SET escalated_at = $2, escalated_to = $3 WHERE complaint_id = $1",
        id,
        at,
        to,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
