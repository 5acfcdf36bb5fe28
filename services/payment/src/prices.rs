//! Consumer-price rises for the price-linked temporary subsidy (价格临时补贴; 001:
//! "落实好社会救助保障标准与物价上涨挂钩的联动机制,确保及时足额向困难群众发放价格临时补贴").
//!
//! The city records, for an area and the month the subsidy is paid with, the statistics month
//! and its published year-on-year rise. Each household of the area in a tier the parameter set
//! names is then owed the subsidy for that month when the rise reaches the set's trigger
//! ([`crate::entitlements::price_subsidy_due`]), instructed with its monthly benefit by the
//! month's run (and by a determination or re-determination that instructs the month). A rise is
//! recorded before its month's run begins (the run lock orders the two), so every household of
//! the month is paid it once; once recorded it stands.

use crate::state::State;
use crate::store;
use crate::store::prices::PriceRise;
use mesh::audit;
use mesh::auth::Acting;
use mesh::http::{ApiError, FieldError};
use policy::Month;

/// A rise to record, as the request gives it.
#[derive(Debug, Clone)]
pub struct NewRise {
    pub area_code: String,
    pub month: Month,
    pub cpi_month: Month,
    pub cpi_rise_permille: i32,
    pub source: String,
}

/// Whether the rise was new.
pub enum Recorded {
    New(PriceRise),
    Same(PriceRise),
}

/// Records `r` by the city's officer `acting` (audited): refused when the area is not the
/// caller's, the month's run has begun, or a different rise was recorded for the area and month.
pub async fn record(state: &State, acting: &Acting, r: NewRise) -> Result<Recorded, ApiError> {
    acting.require_area("area_code", &r.area_code)?;
    let month = r.month.to_string();
    let actor = acting.actor();
    let rise = PriceRise {
        area_code: r.area_code.clone(),
        month: month.clone(),
        cpi_month: r.cpi_month.to_string(),
        cpi_rise_permille: r.cpi_rise_permille,
        source: r.source.clone(),
        recorded_by: actor.sub.clone(),
        recorded_by_name: actor.name.clone(),
        recorded_at: state.mesh.clock.now(),
    };
    let mut tx = state.mesh.db.begin().await?;
    // Ordered with the start of a run: a run planned after this commit sees the rise.
    store::runs::lock_runs(&mut tx).await?;
    if let Some(kept) = store::prices::insert(&mut tx, &rise).await? {
        let same = kept.cpi_month == rise.cpi_month
            && kept.cpi_rise_permille == rise.cpi_rise_permille
            && kept.source == rise.source;
        return if same {
            Ok(Recorded::Same(kept))
        } else {
            Err(ApiError::Conflict(format!(
                "a different rise is recorded for area {} and {month}: it stands",
                r.area_code
            )))
        };
    }
    if store::runs::get_in(&mut tx, &month).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "the run for {month} has begun: a rise is recorded before its month's run; record it for a later month"
        )));
    }
    audit::append(
        &mut tx,
        &state.mesh,
        &actor,
        audit::Entry::new(
            "price_rise.record",
            "price_rise",
            format!("{}/{month}", r.area_code),
        )
        .detail(serde_json::json!({
            "cpi_month": rise.cpi_month,
            "cpi_rise_permille": rise.cpi_rise_permille,
            "source": rise.source,
        })),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(area_code = %r.area_code, %month, cpi_rise_permille = r.cpi_rise_permille, "Price rise recorded.");
    Ok(Recorded::New(rise))
}

/// The fields of a request, checked: every problem named, no value echoed.
pub fn check(
    area_code: &str,
    month: Result<Month, String>,
    cpi_month: Result<Month, String>,
    cpi_rise_permille: i64,
    source: &str,
) -> Result<NewRise, ApiError> {
    let mut problems = Vec::new();
    let area_ok =
        (2..=12).contains(&area_code.len()) && area_code.bytes().all(|b| b.is_ascii_digit());
    if !area_ok {
        problems.push(FieldError::new(
            "area_code",
            "an area's region code: 2 to 12 digits (a city by its first four)",
        ));
    }
    if let Err(e) = &month {
        problems.push(FieldError::new("month", e.clone()));
    }
    if let Err(e) = &cpi_month {
        problems.push(FieldError::new("cpi_month", e.clone()));
    }
    if let (Ok(m), Ok(c)) = (&month, &cpi_month) {
        if c >= m {
            problems.push(FieldError::new(
                "cpi_month",
                "the statistics month is before the month the subsidy is paid with",
            ));
        }
    }
    let rise = i32::try_from(cpi_rise_permille)
        .ok()
        .filter(|r| (-1000..=1000).contains(r));
    if rise.is_none() {
        problems.push(FieldError::new(
            "cpi_rise_permille",
            "the year-on-year rise in ‰, from -1000 to 1000",
        ));
    }
    let source = source.trim();
    if source.is_empty() || source.chars().count() > 300 {
        problems.push(FieldError::new(
            "source",
            "the publication of the rise (statistics bureau, document), 1 to 300 characters",
        ));
    }
    match (month, cpi_month, rise) {
        (Ok(month), Ok(cpi_month), Some(cpi_rise_permille)) if problems.is_empty() => Ok(NewRise {
            area_code: area_code.to_owned(),
            month,
            cpi_month,
            cpi_rise_permille,
            source: source.to_owned(),
        }),
        _ => Err(ApiError::Validation(problems)),
    }
}

/// Every rise recorded (no personal data).
pub async fn list(state: &State) -> sqlx::Result<Vec<PriceRise>> {
    store::prices::list(&state.mesh.db).await
}
