-- The low-income population database keeps each person's and household's status with its
-- effective period, and every change with the event that caused it.
--   status: active → exiting (gradual exit, paid until stop_from_month) → stopped
ALTER TABLE households ADD COLUMN stop_from_month TEXT;
ALTER TABLE households ADD COLUMN exit_months INTEGER;
-- The last economic (re-)verification: the determination's, then each re-verification's.
ALTER TABLE households ADD COLUMN last_verified_on DATE;
UPDATE households SET last_verified_on = enrolled_at::date WHERE last_verified_on IS NULL;
ALTER TABLE households ALTER COLUMN last_verified_on SET DEFAULT CURRENT_DATE;
ALTER TABLE households ALTER COLUMN last_verified_on SET NOT NULL;
CREATE INDEX households_by_verification ON households (status, last_verified_on);

ALTER TABLE persons ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
-- The person's own tier (a member may be single-person dibao in a marginal household).
ALTER TABLE persons ADD COLUMN tier TEXT;
ALTER TABLE persons ADD COLUMN active_from_month TEXT;
ALTER TABLE persons ADD COLUMN stop_from_month TEXT;
-- Facts learnt from departmental feeds (severe disability, serious illness, …).
ALTER TABLE persons ADD COLUMN facts JSONB NOT NULL DEFAULT '{}';
CREATE INDEX persons_by_household ON persons (household_id);

CREATE TABLE population_history (
    seq             BIGSERIAL   PRIMARY KEY,
    household_id    UUID        NOT NULL,
    -- Absent when the change concerns the whole household.
    member_id       UUID,
    -- enrolled | stopped | gradual_exit | referral_<outcome> | fact_<source> | reverified
    change          TEXT        NOT NULL,
    from_status     TEXT,
    to_status       TEXT,
    tier            TEXT,
    -- The first month the change applies to (YYYY-MM), when it has one.
    effective_month TEXT,
    -- The event (or feed record, `feed:<source>:<record id>`) that caused it.
    cause           TEXT        NOT NULL,
    -- Ids, amounts and reasons only.
    detail          JSONB       NOT NULL DEFAULT '{}',
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX population_history_by_household ON population_history (household_id, seq);
-- A cause changes a person or household once.
CREATE UNIQUE INDEX population_history_once ON population_history (household_id, COALESCE(member_id, '00000000-0000-0000-0000-000000000000'), change, cause);

-- Every departmental feed record compared, once per (source, record id), however it arrived.
CREATE TABLE feed_records (
    source      TEXT        NOT NULL,
    record_id   TEXT        NOT NULL,
    -- subject | csv
    via         TEXT        NOT NULL,
    matched     BOOLEAN     NOT NULL,
    -- What the rules did: counts of events, referrals and warnings, and the rule names.
    actions     JSONB       NOT NULL DEFAULT '[]',
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (source, record_id)
);

-- Active-discovery reports, with the personal data they carry (never copied into warnings).
CREATE TABLE discovery_reports (
    report_id     UUID        PRIMARY KEY,
    reporter_kind TEXT        NOT NULL,
    reporter_name TEXT        NOT NULL,
    organisation  TEXT,
    name          TEXT        NOT NULL,
    id_number     TEXT,
    region_code   TEXT        NOT NULL,
    hardship      TEXT        NOT NULL,
    description   TEXT        NOT NULL,
    reported_on   DATE        NOT NULL,
    -- http | subject
    via           TEXT        NOT NULL,
    warning_id    UUID        NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
