//! `price_rises`: the consumer-price rises recorded for the price-linked temporary subsidy.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

/// A rise as recorded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PriceRise {
    pub area_code: String,
    pub month: String,
    pub cpi_month: String,
    pub cpi_rise_permille: i32,
    pub source: String,
    /// The officer's subject and name.
    pub recorded_by: String,
    pub recorded_by_name: String,
    pub recorded_at: DateTime<Utc>,
}

/// Records `r`; the rise already recorded for its area and month when there is one (it is
/// kept: the month may have been instructed from it).
pub async fn insert(tx: &mut PgConnection, r: &PriceRise) -> sqlx::Result<Option<PriceRise>> {
    let n = sqlx::query!(
        "INSERT INTO price_rises (area_code, month, cpi_month, cpi_rise_permille, source, recorded_by, recorded_by_name, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        r.area_code,
        r.month,
        r.cpi_month,
        r.cpi_rise_permille,
        r.source,
        r.recorded_by,
        r.recorded_by_name,
        r.recorded_at,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 1 {
        return Ok(None);
    }
    sqlx::query_as!(
        PriceRise,
        "SELECT area_code, month, cpi_month, cpi_rise_permille, source, recorded_by, recorded_by_name, recorded_at
         FROM price_rises WHERE area_code = $1 AND month = $2",
        r.area_code,
        r.month,
    )
    .fetch_optional(&mut *tx)
    .await
}

/// The rises recorded for `month`: (area code, rise in ‰).
pub async fn of_month(tx: &mut PgConnection, month: &str) -> sqlx::Result<Vec<(String, i64)>> {
    Ok(sqlx::query!(
        "SELECT area_code, cpi_rise_permille FROM price_rises WHERE month = $1",
        month,
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.area_code, i64::from(r.cpi_rise_permille)))
    .collect())
}

/// Every rise recorded, the latest month first.
pub async fn list(db: &PgPool) -> sqlx::Result<Vec<PriceRise>> {
    sqlx::query_as!(
        PriceRise,
        "SELECT area_code, month, cpi_month, cpi_rise_permille, source, recorded_by, recorded_by_name, recorded_at
         FROM price_rises ORDER BY month DESC, area_code LIMIT 1000",
    )
    .fetch_all(db)
    .await
}
