//! Table `feed_records`: every departmental feed record compared, once per (source, record id).

use crate::domain::Via;
use contract::FeedSource;
use mesh::auth::Actor;
use sqlx::PgConnection;
use std::collections::HashSet;

/// Claims the records of `ids` not seen before, in the caller's transaction, with the person
/// who posted them (a file posted over HTTP); returns those.
pub async fn claim(
    tx: &mut PgConnection,
    source: FeedSource,
    ids: &[&str],
    via: Via,
    posted_by: Option<&Actor>,
) -> sqlx::Result<HashSet<String>> {
    let fresh: Vec<String> = sqlx::query_scalar!(
        "INSERT INTO feed_records (source, record_id, via, matched, posted_by_sub, posted_by_name, posted_by_role)
         SELECT $1, r, $3, false, $4, $5, $6 FROM UNNEST($2::text[]) AS r
         ON CONFLICT DO NOTHING RETURNING record_id",
        source.as_str(),
        ids as &[&str],
        via as Via,
        posted_by.map(|a| a.sub.as_str()),
        posted_by.map(|a| a.name.as_str()),
        posted_by.map(|a| a.role.as_str()),
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// What the rules did with each record (`actions` has `matched`).
pub async fn record_actions(
    tx: &mut PgConnection,
    source: FeedSource,
    record_ids: &[String],
    actions: &[serde_json::Value],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE feed_records f SET matched = (a.actions->>'matched')::boolean, actions = a.actions
         FROM UNNEST($2::text[], $3::jsonb[]) AS a(record_id, actions)
         WHERE f.source = $1 AND f.record_id = a.record_id",
        source.as_str(),
        record_ids,
        actions,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
