//! Table `warnings`: raised once per `dedupe_key`, verified, disposed of, escalated.

use crate::domain::{Disposition, WarningKind, WarningStatus};
use chrono::{DateTime, NaiveDate, Utc};
use mesh::auth::Actor;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A warning to raise. `dedupe_key` names what raised it, so a redelivery raises it once.
#[derive(Debug, Clone)]
pub struct NewWarning {
    pub dedupe_key: String,
    pub kind: WarningKind,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    /// Ids, amounts and reasons only: never names or ID numbers.
    pub detail: Value,
    pub verify_due: NaiveDate,
    /// When it is raised, by the service's clock.
    pub raised_at: DateTime<Utc>,
}

/// The warning id of a `dedupe_key`.
pub fn warning_id(dedupe_key: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, dedupe_key.as_bytes())
}

/// Raises the warning in the caller's transaction; returns its id, and `false` when a warning
/// with the same `dedupe_key` already existed (its id is returned unchanged).
pub async fn raise(tx: &mut PgConnection, w: &NewWarning) -> sqlx::Result<(Uuid, bool)> {
    let id = warning_id(&w.dedupe_key);
    let inserted = sqlx::query!(
        "INSERT INTO warnings (warning_id, dedupe_key, kind, household_id, member_id, township_code, detail, verify_due, raised_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
        id,
        w.dedupe_key,
        w.kind as WarningKind,
        w.household_id,
        w.member_id,
        w.township_code,
        w.detail,
        w.verify_due,
        w.raised_at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok((id, inserted == 1))
}

/// A warning as staff see it: who verified and disposed of it (the officers the access tokens
/// named), and when.
#[derive(Debug, Clone, Serialize)]
pub struct WarningView {
    pub warning_id: Uuid,
    pub kind: WarningKind,
    pub household_id: Option<Uuid>,
    pub member_id: Option<Uuid>,
    pub township_code: String,
    pub detail: Value,
    pub status: WarningStatus,
    pub verify_due: NaiveDate,
    /// Open past `verify_due` (as of today); the queries select `false`, `with_overdue` sets it.
    pub overdue: bool,
    pub raised_at: DateTime<Utc>,
    pub escalated_at: Option<DateTime<Utc>>,
    /// The county (6-digit code) it was escalated to.
    pub escalated_to: Option<String>,
    pub verified_by: Option<Actor>,
    pub verified_at: Option<DateTime<Utc>>,
    pub finding: Option<String>,
    pub disposition: Option<Disposition>,
    pub disposed_by: Option<Actor>,
    pub disposed_at: Option<DateTime<Utc>>,
    pub disposal_detail: Option<Value>,
    /// A case conference's decision as proposed (`decision`, `proposed_by`, `proposed_at`),
    /// with the refusal when a county approver refused it (`refused_by`, `refused_at`,
    /// `reason`).
    pub proposal: Option<Value>,
}

/// A row of `warnings` as the queries select it.
struct Row {
    warning_id: Uuid,
    kind: WarningKind,
    household_id: Option<Uuid>,
    member_id: Option<Uuid>,
    township_code: String,
    detail: Value,
    status: WarningStatus,
    verify_due: NaiveDate,
    raised_at: DateTime<Utc>,
    escalated_at: Option<DateTime<Utc>>,
    escalated_to: Option<String>,
    verified_by: Option<String>,
    verified_by_sub: Option<String>,
    verified_by_role: Option<String>,
    verified_at: Option<DateTime<Utc>>,
    finding: Option<String>,
    disposition: Option<Disposition>,
    disposed_by: Option<String>,
    disposed_by_sub: Option<String>,
    disposed_by_role: Option<String>,
    disposed_at: Option<DateTime<Utc>>,
    disposal_detail: Option<Value>,
    proposal: Option<Value>,
}

/// The actor of stored columns (name, sub, role); none when nobody acted.
fn actor(name: Option<String>, sub: Option<String>, role: Option<String>) -> Option<Actor> {
    let name = name?;
    Some(Actor {
        sub: sub.unwrap_or_else(|| format!("legacy:{name}")),
        role: role.unwrap_or_else(|| "legacy".to_owned()),
        name,
    })
}

impl Row {
    fn view(self, today: NaiveDate) -> WarningView {
        let overdue = self.status == WarningStatus::Open && self.verify_due < today;
        WarningView {
            warning_id: self.warning_id,
            kind: self.kind,
            household_id: self.household_id,
            member_id: self.member_id,
            township_code: self.township_code,
            detail: self.detail,
            status: self.status,
            verify_due: self.verify_due,
            overdue,
            raised_at: self.raised_at,
            escalated_at: self.escalated_at,
            escalated_to: self.escalated_to,
            verified_by: actor(
                self.verified_by,
                self.verified_by_sub,
                self.verified_by_role,
            ),
            verified_at: self.verified_at,
            finding: self.finding,
            disposition: self.disposition,
            disposed_by: actor(
                self.disposed_by,
                self.disposed_by_sub,
                self.disposed_by_role,
            ),
            disposed_at: self.disposed_at,
            disposal_detail: self.disposal_detail,
            proposal: self.proposal,
        }
    }
}

/// What `GET /v1/warnings` selects; every field optional but the caller's areas.
#[derive(Debug, Default)]
pub struct Filter {
    /// `LIKE` patterns of the caller's areas ([`mesh::auth::Acting::region_patterns`]): only
    /// warnings whose township lies in one of them (none when empty).
    pub areas: Vec<String>,
    /// Region code prefix: a township's own, or every township of a county.
    pub township: Option<String>,
    pub status: Option<WarningStatus>,
    pub overdue: Option<bool>,
    pub escalated: Option<bool>,
    pub kind: Option<WarningKind>,
    pub household_id: Option<Uuid>,
    /// "Today" for `overdue`.
    pub as_of: NaiveDate,
    pub limit: i64,
}

pub async fn list(db: &PgPool, f: &Filter) -> sqlx::Result<Vec<WarningView>> {
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT warning_id, kind AS "kind: WarningKind", household_id, member_id, township_code, detail,
                status AS "status: WarningStatus", verify_due, raised_at, escalated_at, escalated_to,
                verified_by, verified_by_sub, verified_by_role, verified_at, finding,
                disposition AS "disposition: Disposition", disposed_by, disposed_by_sub, disposed_by_role,
                disposed_at, disposal_detail, proposal
         FROM warnings
         WHERE township_code LIKE ANY($9::text[])
           AND ($1::text IS NULL OR township_code LIKE $1 || '%')
           AND ($2::text IS NULL OR status = $2)
           AND ($3::bool IS NULL OR $3 = (status = 'open' AND verify_due < $4))
           AND ($5::bool IS NULL OR $5 = (escalated_at IS NOT NULL))
           AND ($6::text IS NULL OR kind = $6)
           AND ($7::uuid IS NULL OR household_id = $7)
         ORDER BY raised_at, warning_id LIMIT $8"#,
        f.township.as_deref(),
        f.status as Option<WarningStatus>,
        f.overdue,
        f.as_of,
        f.escalated,
        f.kind as Option<WarningKind>,
        f.household_id,
        f.limit,
        &f.areas,
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|w| w.view(f.as_of)).collect())
}

/// One warning, when its township lies in `areas` (`LIKE` patterns).
pub async fn get(
    db: &PgPool,
    id: Uuid,
    areas: &[String],
    today: NaiveDate,
) -> sqlx::Result<Option<WarningView>> {
    let row: Option<Row> = sqlx::query_as!(
        Row,
        r#"SELECT warning_id, kind AS "kind: WarningKind", household_id, member_id, township_code, detail,
                status AS "status: WarningStatus", verify_due, raised_at, escalated_at, escalated_to,
                verified_by, verified_by_sub, verified_by_role, verified_at, finding,
                disposition AS "disposition: Disposition", disposed_by, disposed_by_sub, disposed_by_role,
                disposed_at, disposal_detail, proposal
         FROM warnings WHERE warning_id = $1 AND township_code LIKE ANY($2::text[])"#,
        id,
        areas,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|w| w.view(today)))
}

/// One warning in `areas`, locked until the transaction ends.
pub async fn locked(
    tx: &mut PgConnection,
    id: Uuid,
    areas: &[String],
    today: NaiveDate,
) -> sqlx::Result<Option<WarningView>> {
    let row: Option<Row> = sqlx::query_as!(
        Row,
        r#"SELECT warning_id, kind AS "kind: WarningKind", household_id, member_id, township_code, detail,
                status AS "status: WarningStatus", verify_due, raised_at, escalated_at, escalated_to,
                verified_by, verified_by_sub, verified_by_role, verified_at, finding,
                disposition AS "disposition: Disposition", disposed_by, disposed_by_sub, disposed_by_role,
                disposed_at, disposal_detail, proposal
         FROM warnings WHERE warning_id = $1 AND township_code LIKE ANY($2::text[]) FOR UPDATE"#,
        id,
        areas,
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|w| w.view(today)))
}

/// Verified on site by `officer`, who found `finding`.
pub async fn set_verified(
    tx: &mut PgConnection,
    id: Uuid,
    officer: &Actor,
    finding: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE warnings SET status = $5, verified_by = $2, verified_by_sub = $6, verified_by_role = $7,
                verified_at = $4, finding = $3
         WHERE warning_id = $1",
        id,
        officer.name,
        finding,
        at,
        WarningStatus::Verified as WarningStatus,
        officer.sub,
        officer.role,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A case conference's decision proposed (`AwaitingApproval`), or refused (`Verified` again, the
/// refusal kept in `proposal`).
pub async fn set_proposal(
    tx: &mut PgConnection,
    id: Uuid,
    status: WarningStatus,
    proposal: &Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE warnings SET status = $2, proposal = $3 WHERE warning_id = $1",
        id,
        status as WarningStatus,
        proposal,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Disposed of by `officer`, one of the four ways, with what came of it.
pub async fn set_disposed(
    tx: &mut PgConnection,
    id: Uuid,
    disposition: Disposition,
    officer: &Actor,
    detail: Value,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE warnings SET status = $6, disposition = $2, disposed_by = $3, disposed_by_sub = $7,
                disposed_by_role = $8, disposed_at = $5, disposal_detail = $4
         WHERE warning_id = $1",
        id,
        disposition as Disposition,
        officer.name,
        detail,
        at,
        WarningStatus::Disposed as WarningStatus,
        officer.sub,
        officer.role,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Every warning still open past its `verify_due` before `as_of`, not escalated yet, goes to its
/// county; returns how many.
pub async fn escalate_overdue(
    tx: &mut PgConnection,
    as_of: NaiveDate,
    at: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "UPDATE warnings SET escalated_at = $2, escalated_to = left(township_code, 6)
         WHERE status = 'open' AND escalated_at IS NULL AND verify_due < $1",
        as_of,
        at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// A determination a person made (its event carries an actor) recorded since `since`, with its
/// application's submission, that no risk warning names yet.
#[derive(Debug, Clone)]
pub struct PersonDecided {
    pub event_id: String,
    pub household_id: Uuid,
    pub application_id: Option<String>,
    pub region_code: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub decided_by: Option<String>,
}

pub async fn person_decided_since(
    tx: &mut PgConnection,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<PersonDecided>> {
    sqlx::query_as!(
        PersonDecided,
        r#"SELECT d.event_id, d.household_id, d.summary->>'application_id' AS application_id,
                d.region_code, d.time AS decided_at, s.time AS "submitted_at!",
                d.actor->>'sub' AS decided_by
         FROM chain_events d
         JOIN LATERAL (SELECT f.time FROM chain_events f
                        WHERE f.household_id = d.household_id
                          AND f.type = 'intake.application.submitted'
                          AND f.summary->>'application_id' = d.summary->>'application_id'
                        ORDER BY f.seq LIMIT 1) s ON true
         WHERE d.type = 'eligibility.household.determined' AND d.actor IS NOT NULL
           AND d.time >= $1
           AND NOT EXISTS (SELECT 1 FROM warnings w
                            WHERE w.dedupe_key = 'risk:fast_approval:' || d.event_id)
         ORDER BY d.time, d.event_id"#,
        since,
    )
    .fetch_all(&mut *tx)
    .await
}

/// A warning passed to its county at once (one the township must not handle itself).
pub async fn escalate_now(tx: &mut PgConnection, id: Uuid, at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE warnings SET escalated_at = $2, escalated_to = left(township_code, 6)
         WHERE warning_id = $1 AND escalated_at IS NULL",
        id,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_officers_of_a_warning_are_actors_and_old_free_text_stays_readable() {
        assert_eq!(
            actor(
                Some("王芳".into()),
                Some("wang.fang".into()),
                Some("township_officer".into())
            ),
            Some(Actor {
                sub: "wang.fang".into(),
                name: "王芳".into(),
                role: "township_officer".into()
            })
        );
        assert_eq!(
            actor(Some("township:Wang".into()), None, None),
            Some(Actor {
                sub: "legacy:township:Wang".into(),
                name: "township:Wang".into(),
                role: "legacy".into()
            })
        );
        assert_eq!(actor(None, Some("x".into()), None), None);
    }
}
