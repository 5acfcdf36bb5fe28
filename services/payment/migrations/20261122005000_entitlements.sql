-- The entitlements register: what payment knows of each household it may pay, enough to compute
-- any month's payments again with the parameter set in force for that month.
CREATE TABLE entitlements (
    household_id     UUID        PRIMARY KEY,
    chain_id         UUID        NOT NULL,
    region_code      TEXT        NOT NULL,
    -- First month paid for (`YYYY-MM`); NULL for a household known only through an emergency grant.
    effective_month  TEXT,
    -- The monthly benefit's facts (entitlements::Facts); NULL without a determination.
    facts            JSONB,
    policy_version   TEXT,
    -- The event the facts come from: instructions answer it.
    source_event_id  TEXT        NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Stops and gradual exits from `monitor.household.changed`, per person (member_id) or for the
-- whole household (member_id NULL). Nothing is paid from stop_from_month on.
CREATE TABLE assistance_changes (
    change_id        UUID        PRIMARY KEY,
    household_id     UUID        NOT NULL,
    member_id        UUID,
    change           TEXT        NOT NULL CHECK (change IN ('stopped', 'gradual_exit')),
    reason           TEXT        NOT NULL,
    occurred_on      DATE        NOT NULL,
    stop_from_month  TEXT        NOT NULL,
    exit_months      INTEGER,
    decided_by       TEXT        NOT NULL,
    source_event_id  TEXT        NOT NULL,
    received_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX assistance_changes_by_household ON assistance_changes (household_id);

-- The stages of emergency grants; the run instructs those due in its month (once: the stable id).
CREATE TABLE emergency_stages (
    emergency_id     UUID        NOT NULL,
    stage            INTEGER     NOT NULL,
    household_id     UUID        NOT NULL,
    member_id        UUID        NOT NULL,
    amount_fen       BIGINT      NOT NULL CHECK (amount_fen > 0),
    pay_on           DATE        NOT NULL,
    policy_version   TEXT        NOT NULL,
    PRIMARY KEY (emergency_id, stage)
);
CREATE INDEX emergency_stages_by_household ON emergency_stages (household_id, pay_on);

-- The monthly run, one per month: resumable from `cursor` (the last household done, in
-- household_id order); every chunk commits its instructions, outbox rows and progress together.
CREATE TABLE payment_runs (
    month                  TEXT        PRIMARY KEY,
    status                 TEXT        NOT NULL CHECK (status IN ('planned', 'running', 'completed', 'failed')),
    cursor                 UUID,
    chunks                 BIGINT      NOT NULL DEFAULT 0,
    households             BIGINT      NOT NULL DEFAULT 0,
    -- Households whose payments could not be computed (no parameter set for the region, facts
    -- that do not parse): logged with their id, left unpaid, counted here.
    households_skipped     BIGINT      NOT NULL DEFAULT 0,
    instructions_created   BIGINT      NOT NULL DEFAULT 0,
    instructions_existing  BIGINT      NOT NULL DEFAULT 0,
    total_fen              BIGINT      NOT NULL DEFAULT 0,
    created_fen            BIGINT      NOT NULL DEFAULT 0,
    error                  TEXT,
    attempts               INTEGER     NOT NULL DEFAULT 0,
    started_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at            TIMESTAMPTZ
);

-- Alerts raised about a month's run, once per month and reason.
CREATE TABLE run_alerts (
    month      TEXT        NOT NULL,
    reason     TEXT        NOT NULL,
    raised_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (month, reason)
);

CREATE INDEX instructions_by_month ON instructions (month);
