//! The supervision reports' counts over `warnings` and `referrals`.

use crate::domain::reports::{DueCounts, WarningCounts};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

/// Per district, the warnings raised, verified, disposed of and escalated in `[from, to)`.
pub async fn monthly_warnings(
    db: &PgPool,
    district: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<WarningCounts>> {
    sqlx::query_as(
        "SELECT left(township_code, 6),
                count(*) FILTER (WHERE kind = 'active_discovery' AND raised_at >= $2 AND raised_at < $3),
                count(*) FILTER (WHERE dedupe_key LIKE 'feed:%' AND raised_at >= $2 AND raised_at < $3),
                count(*) FILTER (WHERE raised_at >= $2 AND raised_at < $3),
                count(*) FILTER (WHERE verified_at >= $2 AND verified_at < $3),
                count(*) FILTER (WHERE disposition = 'apply_policy' AND disposed_at >= $2 AND disposed_at < $3),
                count(*) FILTER (WHERE disposition = 'push_to_department' AND disposed_at >= $2 AND disposed_at < $3),
                count(*) FILTER (WHERE disposition = 'case_conference' AND disposed_at >= $2 AND disposed_at < $3),
                count(*) FILTER (WHERE disposition = 'reverify_terminate' AND disposed_at >= $2 AND disposed_at < $3),
                count(*) FILTER (WHERE escalated_at >= $2 AND escalated_at < $3)
         FROM warnings
         WHERE ($1::text IS NULL OR left(township_code, 6) = $1)
         GROUP BY 1",
    )
    .bind(district)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// Per district, the referrals pushed and answered in `[from, to)`.
pub async fn monthly_referrals(
    db: &PgPool,
    district: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, i64, i64)>> {
    sqlx::query_as(
        "SELECT left(h.region_code, 6),
                count(*) FILTER (WHERE r.created_at >= $2 AND r.created_at < $3),
                count(*) FILTER (WHERE r.answered_at >= $2 AND r.answered_at < $3)
         FROM referrals r JOIN households h USING (household_id)
         WHERE ($1::text IS NULL OR left(h.region_code, 6) = $1)
         GROUP BY 1",
    )
    .bind(district)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
}

/// Per district, the warnings due for verification in `[from, to]`, by how they were handled
/// as of `as_of`; days are the bureau's (`timezone`).
pub async fn quarterly_warnings(
    db: &PgPool,
    district: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
    timezone: &str,
) -> sqlx::Result<Vec<DueCounts>> {
    sqlx::query_as(
        "SELECT left(township_code, 6),
                count(*),
                count(*) FILTER (WHERE (verified_at AT TIME ZONE $5)::date <= verify_due),
                count(*) FILTER (WHERE (verified_at AT TIME ZONE $5)::date > verify_due
                                    OR (verified_at IS NULL AND verify_due < $4)),
                count(*) FILTER (WHERE verified_at IS NULL AND verify_due >= $4),
                count(*) FILTER (WHERE escalated_at IS NOT NULL)
         FROM warnings
         WHERE ($1::text IS NULL OR left(township_code, 6) = $1) AND verify_due BETWEEN $2 AND $3
         GROUP BY 1",
    )
    .bind(district)
    .bind(from)
    .bind(to)
    .bind(as_of)
    .bind(timezone)
    .fetch_all(db)
    .await
}

/// Per district, the referrals due for feedback in `[from, to]`, by how they were answered as
/// of `as_of`.
pub async fn quarterly_referrals(
    db: &PgPool,
    district: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    as_of: NaiveDate,
    timezone: &str,
) -> sqlx::Result<Vec<DueCounts>> {
    sqlx::query_as(
        "SELECT left(h.region_code, 6),
                count(*),
                count(*) FILTER (WHERE (r.answered_at AT TIME ZONE $5)::date <= r.feedback_due),
                count(*) FILTER (WHERE (r.answered_at AT TIME ZONE $5)::date > r.feedback_due),
                count(*) FILTER (WHERE r.answered_at IS NULL AND r.feedback_due < $4),
                count(*) FILTER (WHERE r.answered_at IS NULL AND r.feedback_due >= $4)
         FROM referrals r JOIN households h USING (household_id)
         WHERE ($1::text IS NULL OR left(h.region_code, 6) = $1) AND r.feedback_due BETWEEN $2 AND $3
         GROUP BY 1",
    )
    .bind(district)
    .bind(from)
    .bind(to)
    .bind(as_of)
    .bind(timezone)
    .fetch_all(db)
    .await
}
