//! `accounts` (the account in force), `account_history` (every version that was in force),
//! `account_changes` (proposed changes, pending until another officer confirms them) and
//! `members` (whose household, so whose area, a member is).

use crate::domain::PayeeKind;
use chrono::{DateTime, Utc};
use mesh::auth::Actor;
use sqlx::PgConnection;
use uuid::Uuid;

/// An account as proposed by the township (validated).
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub holder_name: &'a str,
    pub account_number: &'a str,
    pub bank_code: &'a str,
    pub region_code: &'a str,
    pub holder_kind: PayeeKind,
    pub reason: &'a str,
}

/// Serialises the account work of one member (a proposal, its confirmation) until the
/// transaction ends.
pub async fn lock_member(tx: &mut PgConnection, member_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 13))",
        member_id,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Where a member is, when it lies in `patterns` (`region_code LIKE ANY`): the household's
/// region in the register, or for a member the register does not hold, the region of the
/// account in force or of a pending change. `None` when the member is unknown or outside.
#[derive(Debug)]
pub struct MemberArea {
    pub household_id: Option<Uuid>,
    pub region_code: String,
}

pub async fn member_in_area(
    conn: &mut PgConnection,
    member_id: Uuid,
    patterns: &[String],
) -> sqlx::Result<Option<MemberArea>> {
    // The member's one region first, then whether it lies in the caller's areas: a household
    // outside them is not made visible by an account that names a region inside.
    sqlx::query_as!(
        MemberArea,
        r#"SELECT household_id, region_code AS "region_code!" FROM (
             SELECT household_id, region_code FROM (
               SELECT m.household_id, e.region_code, 1 AS pref
                 FROM members m JOIN entitlements e USING (household_id) WHERE m.member_id = $1
               UNION ALL
               SELECT NULL::uuid, a.region_code, 2 FROM accounts a WHERE a.member_id = $1
               UNION ALL
               SELECT NULL::uuid, c.region_code, 3 FROM account_changes c
                 WHERE c.member_id = $1 AND c.status = 'pending'
             ) known
             ORDER BY pref LIMIT 1
           ) first
           WHERE region_code LIKE ANY($2::text[])"#,
        member_id,
        patterns,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Records that `members` belong to `household_id` (a determination's members, a grant's person).
pub async fn record_members(
    tx: &mut PgConnection,
    household_id: Uuid,
    members: &[Uuid],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO members (member_id, household_id, updated_at) SELECT m, $2, $3 FROM UNNEST($1::uuid[]) AS t(m)
         ON CONFLICT (member_id) DO UPDATE SET household_id = EXCLUDED.household_id, updated_at = EXCLUDED.updated_at",
        members,
        household_id,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records a proposed change, superseding the member's pending one (returned).
pub async fn propose(
    tx: &mut PgConnection,
    change_id: Uuid,
    member_id: Uuid,
    a: &NewAccount<'_>,
    by: &Actor,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Uuid>> {
    let superseded = sqlx::query_scalar!(
        "UPDATE account_changes SET status = 'superseded', superseded_by = $2
         WHERE member_id = $1 AND status = 'pending' RETURNING change_id",
        member_id,
        change_id,
    )
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO account_changes (change_id, member_id, holder_name, account_number, bank_code, region_code,
             holder_kind, reason, proposed_by_sub, proposed_by_name, proposed_by_role, proposed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        change_id,
        member_id,
        a.holder_name,
        a.account_number,
        a.bank_code,
        a.region_code,
        a.holder_kind as PayeeKind,
        a.reason,
        by.sub,
        by.name,
        by.role,
        at,
    )
    .execute(&mut *tx)
    .await?;
    Ok(superseded)
}

/// A change waiting for its checker.
#[derive(Debug)]
pub struct PendingRow {
    pub change_id: Uuid,
    pub holder_name: String,
    pub account_number: String,
    pub bank_code: String,
    pub region_code: String,
    pub holder_kind: PayeeKind,
    pub reason: String,
    pub proposed_by_sub: String,
    pub proposed_by_name: String,
    pub proposed_by_role: String,
    pub proposed_at: DateTime<Utc>,
}

impl PendingRow {
    pub fn proposed_by(&self) -> Actor {
        Actor {
            sub: self.proposed_by_sub.clone(),
            name: self.proposed_by_name.clone(),
            role: self.proposed_by_role.clone(),
        }
    }
}

/// The member's pending change (a proposal and its confirmation are serialised by
/// [`lock_member`]).
pub async fn pending(conn: &mut PgConnection, member_id: Uuid) -> sqlx::Result<Option<PendingRow>> {
    sqlx::query_as!(
        PendingRow,
        r#"SELECT change_id, holder_name, account_number, bank_code, region_code, holder_kind AS "holder_kind: PayeeKind",
                reason, proposed_by_sub, proposed_by_name, proposed_by_role, proposed_at
         FROM account_changes WHERE member_id = $1 AND status = 'pending'"#,
        member_id,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Puts the confirmed change in force: the account's next version, its history row, the
/// change marked confirmed. Returns the version.
pub async fn confirm(
    tx: &mut PgConnection,
    member_id: Uuid,
    c: &PendingRow,
    by: &Actor,
    at: DateTime<Utc>,
) -> sqlx::Result<i32> {
    let version: i32 = sqlx::query_scalar!(
        "INSERT INTO accounts (member_id, holder_name, account_number, bank_code, region_code, holder_kind, version,
             updated_by, updated_by_sub, updated_by_role, confirmed_by_sub, confirmed_by_name, confirmed_by_role,
             change_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (member_id) DO UPDATE SET holder_name = EXCLUDED.holder_name,
             account_number = EXCLUDED.account_number, bank_code = EXCLUDED.bank_code,
             region_code = EXCLUDED.region_code, holder_kind = EXCLUDED.holder_kind,
             version = accounts.version + 1, updated_by = EXCLUDED.updated_by,
             updated_by_sub = EXCLUDED.updated_by_sub, updated_by_role = EXCLUDED.updated_by_role,
             confirmed_by_sub = EXCLUDED.confirmed_by_sub, confirmed_by_name = EXCLUDED.confirmed_by_name,
             confirmed_by_role = EXCLUDED.confirmed_by_role, change_id = EXCLUDED.change_id,
             updated_at = EXCLUDED.updated_at
         RETURNING version",
        member_id,
        c.holder_name,
        c.account_number,
        c.bank_code,
        c.region_code,
        c.holder_kind as PayeeKind,
        c.proposed_by_name,
        c.proposed_by_sub,
        c.proposed_by_role,
        by.sub,
        by.name,
        by.role,
        c.change_id,
        at,
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO account_history (member_id, version, holder_name, account_number, bank_code, region_code, holder_kind,
             officer, officer_sub, officer_role, confirmed_by_sub, confirmed_by_name, confirmed_by_role, change_id,
             reason, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        member_id,
        version,
        c.holder_name,
        c.account_number,
        c.bank_code,
        c.region_code,
        c.holder_kind as PayeeKind,
        c.proposed_by_name,
        c.proposed_by_sub,
        c.proposed_by_role,
        by.sub,
        by.name,
        by.role,
        c.change_id,
        c.reason,
        at,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE account_changes SET status = 'confirmed', confirmed_by_sub = $2, confirmed_by_name = $3,
             confirmed_by_role = $4, confirmed_at = $5, version = $6
         WHERE change_id = $1",
        c.change_id,
        by.sub,
        by.name,
        by.role,
        at,
        version,
    )
    .execute(&mut *tx)
    .await?;
    Ok(version)
}

/// The account in force.
#[derive(Debug)]
pub struct AccountRow {
    pub holder_name: String,
    pub account_number: String,
    pub bank_code: String,
    pub region_code: String,
    pub holder_kind: PayeeKind,
    pub version: i32,
    pub updated_by: String,
    pub updated_by_sub: Option<String>,
    pub updated_by_role: Option<String>,
    pub confirmed_by_sub: Option<String>,
    pub confirmed_by_name: Option<String>,
    pub confirmed_by_role: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn get(conn: &mut PgConnection, member_id: Uuid) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as!(
        AccountRow,
        r#"SELECT holder_name, account_number, bank_code, region_code, holder_kind AS "holder_kind: PayeeKind",
                version, updated_by, updated_by_sub, updated_by_role, confirmed_by_sub, confirmed_by_name,
                confirmed_by_role, updated_at
         FROM accounts WHERE member_id = $1"#,
        member_id,
    )
    .fetch_optional(&mut *conn)
    .await
}

#[derive(Debug)]
pub struct HistoryRow {
    pub version: i32,
    pub account_number: String,
    pub bank_code: String,
    pub officer: String,
    pub officer_sub: Option<String>,
    pub officer_role: Option<String>,
    pub confirmed_by_sub: Option<String>,
    pub confirmed_by_name: Option<String>,
    pub confirmed_by_role: Option<String>,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
}

pub async fn history(conn: &mut PgConnection, member_id: Uuid) -> sqlx::Result<Vec<HistoryRow>> {
    sqlx::query_as!(
        HistoryRow,
        "SELECT version, account_number, bank_code, officer, officer_sub, officer_role, confirmed_by_sub,
                confirmed_by_name, confirmed_by_role, reason, changed_at
         FROM account_history WHERE member_id = $1 ORDER BY version",
        member_id,
    )
    .fetch_all(&mut *conn)
    .await
}

/// An actor from three stored columns, when the row names one (rows from before sign-in name
/// the officer by free text only).
pub fn actor_of(sub: Option<String>, name: Option<String>, role: Option<String>) -> Option<Actor> {
    Some(Actor {
        sub: sub?,
        name: name.unwrap_or_default(),
        role: role.unwrap_or_default(),
    })
}

/// The household of a member payment knows, with its chain and its region in the register.
#[derive(Debug)]
pub struct HouseholdOf {
    pub household_id: Uuid,
    pub chain_id: Uuid,
    pub region_code: String,
}

pub async fn household_of(
    conn: &mut PgConnection,
    member_id: Uuid,
) -> sqlx::Result<Option<HouseholdOf>> {
    sqlx::query_as!(
        HouseholdOf,
        "SELECT m.household_id, e.chain_id, e.region_code
         FROM members m JOIN entitlements e USING (household_id) WHERE m.member_id = $1",
        member_id,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// A beneficiary whose account in force is a person's account of a given number.
#[derive(Debug)]
pub struct Holder {
    pub household_id: Uuid,
    pub member_id: Uuid,
}

/// The beneficiaries (and their households) whose account in force is the person's account
/// `account_number`; care institutions' collective accounts are not counted.
pub async fn persons_paid_to(
    conn: &mut PgConnection,
    account_number: &str,
) -> sqlx::Result<Vec<Holder>> {
    sqlx::query_as!(
        Holder,
        "SELECT m.household_id, a.member_id FROM accounts a JOIN members m USING (member_id)
         WHERE a.account_number = $1 AND a.holder_kind = 'person'
         ORDER BY m.household_id, a.member_id",
        account_number,
    )
    .fetch_all(&mut *conn)
    .await
}

/// The first confirmed change that put the person's account `account_number` in force for
/// anyone: a stable name for the account that is not its number.
pub async fn first_confirmed(
    conn: &mut PgConnection,
    account_number: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "SELECT change_id FROM account_changes
         WHERE account_number = $1 AND status = 'confirmed' AND holder_kind = 'person'
         ORDER BY confirmed_at, change_id LIMIT 1",
        account_number,
    )
    .fetch_optional(&mut *conn)
    .await
}

/// A confirmed account change of a household's beneficiary.
#[derive(Debug)]
pub struct ConfirmedChange {
    pub change_id: Uuid,
    pub member_id: Uuid,
    pub confirmed_at: DateTime<Utc>,
}

/// The changes of `household_id`'s beneficiaries confirmed at or after `since`, oldest first.
pub async fn confirmed_since(
    conn: &mut PgConnection,
    household_id: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<ConfirmedChange>> {
    sqlx::query_as!(
        ConfirmedChange,
        r#"SELECT c.change_id, c.member_id, c.confirmed_at AS "confirmed_at!"
         FROM account_changes c JOIN members m USING (member_id)
         WHERE m.household_id = $1 AND c.status = 'confirmed' AND c.confirmed_at >= $2
         ORDER BY c.confirmed_at, c.change_id"#,
        household_id,
        since,
    )
    .fetch_all(&mut *conn)
    .await
}
