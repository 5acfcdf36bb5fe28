-- Emergency temporary assistance: accepted where the emergency happens, whatever the person's
-- household registration. Small amounts are granted at once (act first) with papers due later;
-- larger ones wait for a county case conference.
CREATE TABLE emergencies (
    emergency_id        UUID        PRIMARY KEY,
    household_id        UUID        NOT NULL,
    chain_id            UUID        NOT NULL,
    member_id           UUID        NOT NULL,
    id_number           TEXT        NOT NULL,
    name                TEXT        NOT NULL,
    region_code         TEXT        NOT NULL,
    hardship            TEXT        NOT NULL,
    total_amount_fen    BIGINT      NOT NULL CHECK (total_amount_fen > 0),
    -- [{amount_fen, pay_after_days}] as reported; dates are fixed when granted.
    stages              JSONB       NOT NULL,
    -- granted | awaiting_case_conference | refused
    status              TEXT        NOT NULL,
    act_first           BOOLEAN     NOT NULL,
    limit_fen           BIGINT      NOT NULL,
    policy_version      TEXT        NOT NULL,
    reported_by         TEXT        NOT NULL,
    decided_by          TEXT,
    decision_reason     TEXT,
    papers_due          DATE,
    papers_completed_by TEXT,
    papers_completed_at TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_at          TIMESTAMPTZ
);
CREATE INDEX emergencies_papers_open ON emergencies (papers_due) WHERE act_first AND papers_completed_at IS NULL;
