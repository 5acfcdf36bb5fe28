-- Monthly payment instructions: one per (beneficiary, month, kind), never two.
CREATE TABLE instructions (
    instruction_id        UUID        PRIMARY KEY,
    household_id          UUID        NOT NULL,
    chain_id              UUID        NOT NULL,
    beneficiary_member_id UUID        NOT NULL,
    month                 TEXT        NOT NULL,
    kind                  TEXT        NOT NULL,
    amount_fen            BIGINT      NOT NULL CHECK (amount_fen > 0),
    due_date              DATE        NOT NULL,
    policy_version        TEXT        NOT NULL,
    -- instructed → (later: sent, settled, rejected, returned)
    status                TEXT        NOT NULL,
    source_event_id       TEXT        NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (beneficiary_member_id, month, kind)
);
CREATE INDEX instructions_by_household ON instructions (household_id);
