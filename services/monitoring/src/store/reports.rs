//! The supervision reports' counts over `warnings`, `referrals` and `complaints`, of the caller's areas
//! (`areas`: `LIKE` patterns of region codes) only.

use crate::domain::reports::{DueCounts, WarningCounts};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

/// Per district, the warnings raised, verified, disposed of and escalated in `[from, to)`.
pub async fn monthly_warnings(
    db: &PgPool,
    areas: &[String],
    district: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<WarningCounts>> {
    let rows = sqlx::query!(
        r#"SELECT left(township_code, 6) AS "district!",
                count(*) FILTER (WHERE kind = 'active_discovery' AND raised_at >= $2 AND raised_at < $3) AS "discovered!",
                count(*) FILTER (WHERE dedupe_key LIKE 'feed:%' AND raised_at >= $2 AND raised_at < $3) AS "from_feeds!",
                count(*) FILTER (WHERE raised_at >= $2 AND raised_at < $3) AS "raised!",
                count(*) FILTER (WHERE verified_at >= $2 AND verified_at < $3) AS "verified!",
                count(*) FILTER (WHERE disposition = 'apply_policy' AND disposed_at >= $2 AND disposed_at < $3) AS "apply_policy!",
                count(*) FILTER (WHERE disposition = 'push_to_department' AND disposed_at >= $2 AND disposed_at < $3) AS "push_to_department!",
                count(*) FILTER (WHERE disposition = 'case_conference' AND disposed_at >= $2 AND disposed_at < $3) AS "case_conference!",
                count(*) FILTER (WHERE disposition = 'reverify_terminate' AND disposed_at >= $2 AND disposed_at < $3) AS "reverify_terminate!",
                count(*) FILTER (WHERE escalated_at >= $2 AND escalated_at < $3) AS "escalated!"
         FROM warnings
         WHERE ($1::text IS NULL OR left(township_code, 6) = $1) AND township_code LIKE ANY($4::text[])
         GROUP BY 1"#,
        district,
        from,
        to,
        areas,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.district,
                r.discovered,
                r.from_feeds,
                r.raised,
                r.verified,
                r.apply_policy,
                r.push_to_department,
                r.case_conference,
                r.reverify_terminate,
                r.escalated,
            )
        })
        .collect())
}

/// Per district, the referrals pushed and answered in `[from, to)`.
pub async fn monthly_referrals(
    db: &PgPool,
    areas: &[String],
    district: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query!(
        r#"SELECT left(h.region_code, 6) AS "district!",
                count(*) FILTER (WHERE r.created_at >= $2 AND r.created_at < $3) AS "pushed!",
                count(*) FILTER (WHERE r.answered_at >= $2 AND r.answered_at < $3) AS "answered!"
         FROM referrals r JOIN households h USING (household_id)
         WHERE ($1::text IS NULL OR left(h.region_code, 6) = $1) AND h.region_code LIKE ANY($4::text[])
         GROUP BY 1"#,
        district,
        from,
        to,
        areas,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.district, r.pushed, r.answered))
        .collect())
}

/// Per district, the warnings due for verification in `[from, to]`, by how they were handled
/// as of `as_of`; days are the bureau's (`timezone`).
pub async fn quarterly_warnings(
    db: &PgPool,
    areas: &[String],
    district: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
    timezone: &str,
) -> sqlx::Result<Vec<DueCounts>> {
    let rows = sqlx::query!(
        r#"SELECT left(township_code, 6) AS "district!",
                count(*) AS "due!",
                count(*) FILTER (WHERE (verified_at AT TIME ZONE $5)::date <= verify_due) AS "on_time!",
                count(*) FILTER (WHERE (verified_at AT TIME ZONE $5)::date > verify_due
                                    OR (verified_at IS NULL AND verify_due < $4)) AS "late!",
                count(*) FILTER (WHERE verified_at IS NULL AND verify_due >= $4) AS "pending!",
                count(*) FILTER (WHERE escalated_at IS NOT NULL) AS "escalated!"
         FROM warnings
         WHERE ($1::text IS NULL OR left(township_code, 6) = $1) AND verify_due BETWEEN $2 AND $3
           AND township_code LIKE ANY($6::text[])
         GROUP BY 1"#,
        district,
        from,
        to,
        as_of,
        timezone,
        areas,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.district, r.due, r.on_time, r.late, r.pending, r.escalated))
        .collect())
}

/// Per district, the referrals due for feedback in `[from, to]`, by how they were answered as
/// of `as_of`.
pub async fn quarterly_referrals(
    db: &PgPool,
    areas: &[String],
    district: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
    timezone: &str,
) -> sqlx::Result<Vec<DueCounts>> {
    let rows = sqlx::query!(
        r#"SELECT left(h.region_code, 6) AS "district!",
                count(*) AS "due!",
                count(*) FILTER (WHERE (r.answered_at AT TIME ZONE $5)::date <= r.feedback_due) AS "on_time!",
                count(*) FILTER (WHERE (r.answered_at AT TIME ZONE $5)::date > r.feedback_due) AS "late!",
                count(*) FILTER (WHERE r.answered_at IS NULL AND r.feedback_due < $4) AS "unanswered_overdue!",
                count(*) FILTER (WHERE r.answered_at IS NULL AND r.feedback_due >= $4) AS "pending!"
         FROM referrals r JOIN households h USING (household_id)
         WHERE ($1::text IS NULL OR left(h.region_code, 6) = $1) AND r.feedback_due BETWEEN $2 AND $3
           AND h.region_code LIKE ANY($6::text[])
         GROUP BY 1"#,
        district,
        from,
        to,
        as_of,
        timezone,
        areas,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.district,
                r.due,
                r.on_time,
                r.late,
                r.unanswered_overdue,
                r.pending,
            )
        })
        .collect())
}

/// Per district, the consultations, complaints and reports whose answer fell due in
/// `[from, to]`, by how they were answered as of `as_of`: (district, due, on time, overdue,
/// pending, escalated).
pub async fn quarterly_complaints(
    db: &PgPool,
    areas: &[String],
    district: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
) -> sqlx::Result<Vec<DueCounts>> {
    let rows = sqlx::query!(
        r#"SELECT left(region_code, 6) AS "district!",
                count(*) AS "due!",
                count(*) FILTER (WHERE answered_on <= answer_due) AS "on_time!",
                count(*) FILTER (WHERE answered_on > answer_due
                                    OR (answered_on IS NULL AND answer_due < $4)) AS "overdue!",
                count(*) FILTER (WHERE answered_on IS NULL AND answer_due >= $4) AS "pending!",
                count(*) FILTER (WHERE escalated_at IS NOT NULL) AS "escalated!"
         FROM complaints
         WHERE ($1::text IS NULL OR left(region_code, 6) = $1) AND answer_due BETWEEN $2 AND $3
           AND region_code LIKE ANY($5::text[])
         GROUP BY 1"#,
        district,
        from,
        to,
        as_of,
        areas,
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.district,
                r.due,
                r.on_time,
                r.overdue,
                r.pending,
                r.escalated,
            )
        })
        .collect())
}
