//! Tables `households`, `persons`, `population_history`: the low-income population database
//! over time.

use super::{from_text, tier, to_text};
use crate::domain::referrals::Recipient;
use crate::domain::rules::Enrolled;
use crate::domain::Status;
use chrono::{DateTime, NaiveDate, Utc};
use contract::{AssistanceChange, HouseholdChanged, HouseholdDetermined, ReferralFeedback};
use mesh::Envelope;
use policy::Tier;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use uuid::Uuid;

/// The household's determination now: as enrolled, or as last determined again; its tier,
/// amount and parameter set version follow it.
pub async fn set_determination(
    tx: &mut PgConnection,
    household_id: Uuid,
    d: &HouseholdDetermined,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let json = serde_json::to_value(d).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query!(
        "UPDATE households SET determination = $2, tier = $3, monthly_amount_fen = $4,
                policy_version = $5, updated_at = $6
         WHERE household_id = $1",
        household_id,
        json,
        d.tier.as_str(),
        d.monthly_amount_fen,
        d.policy_version,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A member who joined an enrolled household (a birth, a member moving in), from `from_month`.
pub async fn add_person(
    tx: &mut PgConnection,
    household_id: Uuid,
    m: &contract::DeterminedMember,
    from_month: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO persons (member_id, household_id, id_number, name, relation, enrolled_at, active_from_month)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        m.member_id,
        household_id,
        m.id_number,
        m.name,
        m.relation,
        at,
        from_month,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Whether a person with this ID number is assisted in an enrolled household now (neither
/// the person nor the household stopped).
pub async fn id_number_assisted(tx: &mut PgConnection, id_number: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM persons p JOIN households h USING (household_id)
           WHERE p.id_number = $1 AND p.status <> 'stopped' AND h.status <> 'stopped') AS "found!""#,
        id_number,
    )
    .fetch_one(&mut *tx)
    .await
}

/// The household's determination as kept ([`set_determination`]), locked until the
/// transaction ends; `None` when none is kept (enrolled before it was) or it no longer parses.
pub async fn determination(
    tx: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Option<HouseholdDetermined>> {
    let v = sqlx::query_scalar!(
        "SELECT determination FROM households WHERE household_id = $1 FOR UPDATE",
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    Ok(v.and_then(|v| serde_json::from_value(v).ok()))
}

/// Enrols the household and its members; `false` when it was already enrolled.
/// `today` is the day of the determination, its last verification.
pub async fn enrol(
    tx: &mut PgConnection,
    e: &Envelope<HouseholdDetermined>,
    today: NaiveDate,
) -> sqlx::Result<bool> {
    let d = &e.data;
    let inserted = sqlx::query!(
        "INSERT INTO households (household_id, chain_id, application_id, region_code, urban, tier, status, monthly_amount_fen, policy_version, effective_month, enrolled_at, updated_at, last_verified_on, zero_employment_household)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13) ON CONFLICT (household_id) DO NOTHING",
        e.household_id,
        e.chain_id,
        d.application_id,
        d.region_code.as_str(),
        d.urban,
        d.tier.as_str(),
        Status::Active as Status,
        d.monthly_amount_fen,
        d.policy_version,
        d.effective_month.to_string(),
        e.time,
        today,
        d.zero_employment_household,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    set_determination(tx, e.household_id, d, e.time).await?;
    for m in &d.members {
        sqlx::query!(
            "INSERT INTO persons (member_id, household_id, id_number, name, relation, addon_reason, enrolled_at, school_stage, self_care, recognised_group)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            m.member_id,
            e.household_id,
            m.id_number,
            m.name,
            m.relation,
            m.addon_reason.as_deref(),
            e.time,
            to_text(&m.school_stage),
            to_text(&m.self_care),
            to_text(&m.groups.first()),
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(true)
}

/// One row of the history; `false` when the same cause already changed the same thing.
#[allow(clippy::too_many_arguments)]
async fn history(
    tx: &mut PgConnection,
    household_id: Uuid,
    member_id: Option<Uuid>,
    change: &str,
    from_status: Option<Status>,
    to_status: Option<Status>,
    effective_month: Option<&str>,
    cause: &str,
    detail: serde_json::Value,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "INSERT INTO population_history (household_id, member_id, change, from_status, to_status, tier, effective_month, cause, detail)
         SELECT $1, $2, $3, $4, $5, h.tier, $6, $7, $8 FROM households h WHERE h.household_id = $1
         ON CONFLICT DO NOTHING",
        household_id,
        member_id,
        change,
        from_status as Option<Status>,
        to_status as Option<Status>,
        effective_month,
        cause,
        detail,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A determination enrolled the household: every member is active from the effective month.
pub async fn record_enrolment(
    tx: &mut PgConnection,
    e: &Envelope<HouseholdDetermined>,
) -> sqlx::Result<()> {
    let d = &e.data;
    sqlx::query!(
        "UPDATE persons SET active_from_month = $2 WHERE household_id = $1 AND active_from_month IS NULL",
        e.household_id,
        d.effective_month.to_string(),
    )
    .execute(&mut *tx)
    .await?;
    history(
        tx,
        e.household_id,
        None,
        "enrolled",
        None,
        Some(Status::Active),
        Some(&d.effective_month.to_string()),
        &e.id,
        json!({"application_id": d.application_id, "monthly_amount_fen": d.monthly_amount_fen, "policy_version": d.policy_version}),
    )
    .await?;
    for m in &d.members {
        sqlx::query!(
            "UPDATE persons SET tier = $2 WHERE member_id = $1",
            m.member_id,
            m.tiers.first().copied().unwrap_or(d.tier).as_str(),
        )
        .execute(&mut *tx)
        .await?;
        history(
            tx,
            e.household_id,
            Some(m.member_id),
            "enrolled",
            None,
            Some(Status::Active),
            Some(&d.effective_month.to_string()),
            &e.id,
            json!({"tiers": m.tiers, "relief_lines": m.relief_lines}),
        )
        .await?;
    }
    Ok(())
}

/// A department answered a referral: the answer (and what it granted) joins the person's history.
pub async fn record_feedback(
    tx: &mut PgConnection,
    e: &Envelope<ReferralFeedback>,
) -> sqlx::Result<()> {
    let f = &e.data;
    history(
        tx,
        e.household_id,
        Some(f.member_id),
        &format!("referral_{}", f.outcome.as_str()),
        None,
        None,
        None,
        &e.id,
        json!({
            "referral_id": f.referral_id,
            "department": f.department,
            "kind": f.grant.as_ref().map(|g| g.kind.clone()),
            "amount_fen": f.grant.as_ref().map(|g| g.amount_fen),
            "from": f.grant.as_ref().map(|g| g.from),
            "to": f.grant.as_ref().and_then(|g| g.to),
            "period": f.grant.as_ref().and_then(|g| g.period),
            "replaces": f.replaces,
            "corrected_to": f.corrected_to,
        }),
    )
    .await?;
    Ok(())
}

/// A fact a feed taught about an enrolled person (`severe_disability`, `serious_illness`, …).
pub async fn record_fact(
    tx: &mut PgConnection,
    household_id: Uuid,
    member_id: Uuid,
    fact: &str,
    occurred_on: NaiveDate,
    cause: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE persons SET facts = facts || jsonb_build_object($2::text, $3::text) WHERE member_id = $1",
        member_id,
        fact,
        occurred_on.to_string(),
    )
    .execute(&mut *tx)
    .await?;
    history(
        tx,
        household_id,
        Some(member_id),
        &format!("fact_{fact}"),
        None,
        None,
        None,
        cause,
        json!({"occurred_on": occurred_on}),
    )
    .await?;
    Ok(())
}

/// Applies a `monitor.household.changed` to the database; `true` when it changed anything
/// (`false` when the person or household was already stopped, or the cause was applied).
/// `at` is when, by the service's clock.
pub async fn apply_change(
    tx: &mut PgConnection,
    household_id: Uuid,
    c: &HouseholdChanged,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let cause = c.change_id.to_string();
    // Written as text, once, for every table the change touches.
    let stop_from = c.stop_from_month.to_string();
    let h = sqlx::query_scalar!(
        r#"SELECT status AS "status: Status" FROM households WHERE household_id = $1 FOR UPDATE"#,
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(household_status) = h else {
        return Ok(false);
    };
    let detail = json!({"reason": c.reason, "occurred_on": c.occurred_on, "exit_months": c.exit_months, "decided_by": c.decided_by});
    match (c.change, c.member_id) {
        (AssistanceChange::Stopped, Some(member)) => {
            let p = sqlx::query_scalar!(
                r#"SELECT status AS "status: Status" FROM persons WHERE member_id = $1 AND household_id = $2 FOR UPDATE"#,
                member,
                household_id,
            )
            .fetch_optional(&mut *tx)
            .await?;
            let Some(person_status) = p else {
                return Ok(false);
            };
            if person_status == Status::Stopped
                || !history(
                    tx,
                    household_id,
                    Some(member),
                    "stopped",
                    Some(person_status),
                    Some(Status::Stopped),
                    Some(&stop_from),
                    &cause,
                    detail.clone(),
                )
                .await?
            {
                return Ok(false);
            }
            sqlx::query!(
                "UPDATE persons SET status = $3, stop_from_month = $2 WHERE member_id = $1",
                member,
                &stop_from,
                Status::Stopped as Status,
            )
            .execute(&mut *tx)
            .await?;
            let left = sqlx::query_scalar!(
                r#"SELECT count(*) AS "left!" FROM persons WHERE household_id = $1 AND status <> $2"#,
                household_id,
                Status::Stopped as Status,
            )
            .fetch_one(&mut *tx)
            .await?;
            if left == 0 && household_status != Status::Stopped {
                stop_household(tx, household_id, household_status, c, &cause, detail, at).await?;
            }
            Ok(true)
        }
        (AssistanceChange::Stopped, None) => {
            if household_status == Status::Stopped {
                return Ok(false);
            }
            let changed =
                stop_household(tx, household_id, household_status, c, &cause, detail, at).await?;
            if changed {
                sqlx::query!(
                    "UPDATE persons SET status = $3, stop_from_month = $2 WHERE household_id = $1 AND status <> $3",
                    household_id,
                    &stop_from,
                    Status::Stopped as Status,
                )
                .execute(&mut *tx)
                .await?;
            }
            Ok(changed)
        }
        (AssistanceChange::GradualExit, _) => {
            if household_status != Status::Active
                || !history(
                    tx,
                    household_id,
                    None,
                    "gradual_exit",
                    Some(household_status),
                    Some(Status::Exiting),
                    Some(&stop_from),
                    &cause,
                    detail,
                )
                .await?
            {
                return Ok(false);
            }
            sqlx::query!(
                "UPDATE households SET status = $4, exit_months = $2, stop_from_month = $3, updated_at = $5 WHERE household_id = $1",
                household_id,
                c.exit_months.map(|m| m as i32),
                &stop_from,
                Status::Exiting as Status,
                at,
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "UPDATE persons SET status = $3, stop_from_month = $2 WHERE household_id = $1 AND status = $4",
                household_id,
                &stop_from,
                Status::Exiting as Status,
                Status::Active as Status,
            )
            .execute(&mut *tx)
            .await?;
            Ok(true)
        }
    }
}

async fn stop_household(
    tx: &mut PgConnection,
    household_id: Uuid,
    from: Status,
    c: &HouseholdChanged,
    cause: &str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    if !history(
        tx,
        household_id,
        None,
        "stopped",
        Some(from),
        Some(Status::Stopped),
        Some(&c.stop_from_month.to_string()),
        cause,
        detail,
    )
    .await?
    {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE households SET status = $3, stop_from_month = $2, updated_at = $4 WHERE household_id = $1",
        household_id,
        c.stop_from_month.to_string(),
        Status::Stopped as Status,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// A warning's household terminated as a whole: its status only (the change event that goes
/// out applies the rest when consumed).
pub async fn set_stopped(
    tx: &mut PgConnection,
    household_id: Uuid,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE households SET status = $2, updated_at = $3 WHERE household_id = $1",
        household_id,
        Status::Stopped as Status,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// What a re-verification needs of an enrolled household, locked.
pub struct ReverifyRow {
    pub region_code: String,
    pub urban: bool,
    pub tier: Tier,
    pub status: Status,
    pub chain_id: Uuid,
}

pub async fn lock_for_reverification(
    tx: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Option<ReverifyRow>> {
    let row = sqlx::query!(
        r#"SELECT region_code, urban, tier, status AS "status: Status", chain_id FROM households WHERE household_id = $1 FOR UPDATE"#,
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        Ok(ReverifyRow {
            region_code: r.region_code,
            urban: r.urban,
            tier: tier(&r.tier)?,
            status: r.status,
            chain_id: r.chain_id,
        })
    })
    .transpose()
}

/// The household's last economic verification is `on` (it never moves back).
pub async fn set_verified_on(
    tx: &mut PgConnection,
    household_id: Uuid,
    on: NaiveDate,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE households SET last_verified_on = GREATEST(last_verified_on, $2), updated_at = $3 WHERE household_id = $1",
        household_id,
        on,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The history row of a re-verification, once per `cause` (`report:<report id>`).
pub async fn record_reverified(
    tx: &mut PgConnection,
    household_id: Uuid,
    cause: &str,
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    history(
        tx,
        household_id,
        None,
        "reverified",
        None,
        None,
        None,
        cause,
        detail,
    )
    .await?;
    Ok(())
}

/// The regions with households still assisted.
pub async fn assisted_regions(db: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT DISTINCT region_code FROM households WHERE status IN ($1, $2)",
        Status::Active as Status,
        Status::Exiting as Status,
    )
    .fetch_all(db)
    .await
}

/// Up to `limit` assisted households of the region last verified before `cutoff` and not yet
/// warned for that verification: (household, last verified on).
pub async fn reverification_overdue(
    db: &PgPool,
    region_code: &str,
    cutoff: NaiveDate,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, NaiveDate)>> {
    let rows = sqlx::query!(
        "SELECT h.household_id, h.last_verified_on FROM households h
         WHERE h.region_code = $1 AND h.status IN ($4, $5) AND h.last_verified_on < $2
           AND NOT EXISTS (SELECT 1 FROM warnings w WHERE w.dedupe_key = 'reverification-overdue:' || h.household_id || ':' || h.last_verified_on)
         ORDER BY h.last_verified_on LIMIT $3",
        region_code,
        cutoff,
        limit,
        Status::Active as Status,
        Status::Exiting as Status,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.household_id, r.last_verified_on))
        .collect())
}

/// A person a feed names, as the database holds them.
pub struct Found {
    pub recipient: Recipient,
    pub enrolled: Enrolled,
}

/// The enrolled persons among `id_numbers`; a person enrolled in more than one household counts
/// by the one still assisted.
pub async fn lookup(
    tx: &mut PgConnection,
    id_numbers: &[&str],
) -> sqlx::Result<HashMap<String, Found>> {
    let rows = sqlx::query_as!(
        PersonRow,
        r#"SELECT p.household_id, h.chain_id, p.member_id, p.id_number, p.name, h.region_code, h.urban,
                COALESCE(p.tier, h.tier) AS "tier!", p.school_stage, p.self_care, h.zero_employment_household, p.recognised_group,
                p.status AS "status: Status", p.addon_reason, (p.facts ? 'severe_disability') AS "disability_fact!",
                h.status AS "household_status: Status"
         FROM persons p JOIN households h ON h.household_id = p.household_id
         WHERE p.id_number = ANY($1)"#,
        id_numbers as &[&str],
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut out: HashMap<String, Found> = HashMap::new();
    for row in rows {
        let enrolled = Enrolled {
            person_status: row.status,
            household_status: row.household_status,
            known_severe_disability: row.disability_fact
                || row.addon_reason.as_deref() == Some("severe disability"),
        };
        let f = Found {
            recipient: RecipientRow {
                household_id: row.household_id,
                chain_id: row.chain_id,
                member_id: row.member_id,
                id_number: row.id_number,
                name: row.name,
                region_code: row.region_code,
                urban: row.urban,
                tier: row.tier,
                school_stage: row.school_stage,
                self_care: row.self_care,
                zero_employment_household: row.zero_employment_household,
                recognised_group: row.recognised_group,
            }
            .into_recipient()?,
            enrolled,
        };
        let better = |old: &Found| f.enrolled.assisted() && !old.enrolled.assisted();
        match out.get(&f.recipient.id_number) {
            Some(old) if !better(old) => {}
            _ => {
                out.insert(f.recipient.id_number.clone(), f);
            }
        }
    }
    Ok(out)
}

struct RecipientRow {
    household_id: Uuid,
    chain_id: Uuid,
    member_id: Uuid,
    id_number: String,
    name: String,
    region_code: String,
    urban: bool,
    tier: String,
    school_stage: Option<String>,
    self_care: Option<String>,
    zero_employment_household: bool,
    recognised_group: Option<String>,
}

impl RecipientRow {
    fn into_recipient(self) -> sqlx::Result<Recipient> {
        Ok(Recipient {
            household_id: self.household_id,
            chain_id: self.chain_id,
            member_id: self.member_id,
            id_number: self.id_number,
            name: self.name,
            region_code: policy::RegionCode::parse(&self.region_code).map_err(|e| {
                sqlx::Error::Decode(
                    format!("stored region code {:?}: {e}", self.region_code).into(),
                )
            })?,
            urban: self.urban,
            tier: tier(&self.tier)?,
            school_stage: from_text(self.school_stage)?,
            self_care: from_text(self.self_care)?,
            // Not stored at enrolment: a push from a stored person does not carry it.
            support: None,
            zero_employment_household: self.zero_employment_household,
            group: from_text(self.recognised_group)?,
        })
    }
}

/// The columns of [`RecipientRow`], then the person's and household's state.
struct PersonRow {
    household_id: Uuid,
    chain_id: Uuid,
    member_id: Uuid,
    id_number: String,
    name: String,
    region_code: String,
    urban: bool,
    tier: String,
    school_stage: Option<String>,
    self_care: Option<String>,
    zero_employment_household: bool,
    recognised_group: Option<String>,
    status: Status,
    addon_reason: Option<String>,
    disability_fact: bool,
    household_status: Status,
}

/// The enrolled person of a household, as a push needs them.
pub async fn recipient(
    tx: &mut PgConnection,
    household_id: Uuid,
    member_id: Uuid,
) -> sqlx::Result<Option<Recipient>> {
    let row = sqlx::query_as!(
        RecipientRow,
        r#"SELECT p.household_id, h.chain_id, p.member_id, p.id_number, p.name, h.region_code, h.urban,
                COALESCE(p.tier, h.tier) AS "tier!", p.school_stage, p.self_care, h.zero_employment_household, p.recognised_group
         FROM persons p JOIN households h USING (household_id)
         WHERE p.member_id = $1 AND p.household_id = $2"#,
        member_id,
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    row.map(RecipientRow::into_recipient).transpose()
}

/// The chain of an enrolled household.
pub async fn chain_id(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT chain_id FROM households WHERE household_id = $1",
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The household's region code, when it is enrolled.
pub async fn region_of(tx: &mut PgConnection, household_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT region_code FROM households WHERE household_id = $1",
        household_id,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The household's members: (member id, ID number), by member id.
pub async fn members(
    tx: &mut PgConnection,
    household_id: Uuid,
) -> sqlx::Result<Vec<(Uuid, String)>> {
    let rows = sqlx::query!(
        "SELECT member_id, id_number FROM persons WHERE household_id = $1 ORDER BY member_id",
        household_id,
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.member_id, r.id_number))
        .collect())
}

/// An assisted person with this ID number, in any household: (household, member).
pub async fn assisted_person(
    tx: &mut PgConnection,
    id_number: &str,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    let row = sqlx::query!(
        "SELECT p.household_id, p.member_id FROM persons p JOIN households h ON h.household_id = p.household_id
         WHERE p.id_number = $1 AND p.status <> $2 AND h.status <> $2 LIMIT 1",
        id_number,
        Status::Stopped as Status,
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|r| (r.household_id, r.member_id)))
}

#[derive(Debug, Serialize)]
pub struct HouseholdView {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
    pub urban: bool,
    pub tier: String,
    pub status: Status,
    pub monthly_amount_fen: i64,
    pub policy_version: String,
    pub effective_month: String,
    pub enrolled_at: DateTime<Utc>,
    pub members: Vec<PersonView>,
}

#[derive(Debug, Serialize)]
pub struct PersonView {
    pub member_id: Uuid,
    pub relation: String,
    pub id_number_masked: String,
    pub addon_reason: Option<String>,
}

/// An enrolled household whose region lies in `areas` (`LIKE` patterns of the caller's areas).
pub async fn household(
    db: &PgPool,
    household_id: Uuid,
    areas: &[String],
) -> sqlx::Result<Option<HouseholdView>> {
    let Some(h) = sqlx::query!(
        r#"SELECT household_id, chain_id, region_code, urban, tier, status AS "status: Status", monthly_amount_fen,
                policy_version, effective_month, enrolled_at
         FROM households WHERE household_id = $1 AND region_code LIKE ANY($2::text[])"#,
        household_id,
        areas,
    )
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    let rows = sqlx::query!(
        "SELECT member_id, relation, id_number, addon_reason FROM persons WHERE household_id = $1 ORDER BY enrolled_at, member_id",
        household_id,
    )
    .fetch_all(db)
    .await?;
    let members = rows
        .into_iter()
        .map(|r| PersonView {
            member_id: r.member_id,
            relation: r.relation,
            id_number_masked: policy::id::mask(&r.id_number),
            addon_reason: r.addon_reason,
        })
        .collect();
    Ok(Some(HouseholdView {
        household_id: h.household_id,
        chain_id: h.chain_id,
        region_code: h.region_code,
        urban: h.urban,
        tier: h.tier,
        status: h.status,
        monthly_amount_fen: h.monthly_amount_fen,
        policy_version: h.policy_version,
        effective_month: h.effective_month,
        enrolled_at: h.enrolled_at,
        members,
    }))
}
