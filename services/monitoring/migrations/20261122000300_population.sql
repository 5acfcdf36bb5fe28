-- The low-income population database: enrolled households and persons.
CREATE TABLE households (
    household_id       UUID        PRIMARY KEY,
    chain_id           UUID        NOT NULL,
    application_id     UUID        NOT NULL,
    region_code        TEXT        NOT NULL,
    urban              BOOLEAN     NOT NULL,
    tier               TEXT        NOT NULL,
    status             TEXT        NOT NULL,
    monthly_amount_fen BIGINT      NOT NULL,
    policy_version     TEXT        NOT NULL,
    effective_month    TEXT        NOT NULL,
    enrolled_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE persons (
    member_id    UUID        PRIMARY KEY,
    household_id UUID        NOT NULL REFERENCES households,
    id_number    TEXT        NOT NULL,
    name         TEXT        NOT NULL,
    relation     TEXT        NOT NULL,
    addon_reason TEXT,
    enrolled_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX persons_by_id_number ON persons (id_number);

-- Referrals pushed to departments, and what each answered.
CREATE TABLE referrals (
    referral_id       UUID        PRIMARY KEY,
    household_id      UUID        NOT NULL REFERENCES households,
    member_id         UUID        NOT NULL REFERENCES persons,
    department        TEXT        NOT NULL,
    need              TEXT        NOT NULL,
    -- pushed → accepted | granted | rejected | closed
    status            TEXT        NOT NULL,
    feedback_due      DATE        NOT NULL,
    push_event_id     TEXT        NOT NULL,
    feedback_event_id TEXT,
    grant_detail      JSONB,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    answered_at       TIMESTAMPTZ
);
CREATE INDEX referrals_by_household ON referrals (household_id);

-- Every event of a household's assistance chain, as it passed through the mesh.
CREATE TABLE chain_events (
    seq          BIGSERIAL   NOT NULL,
    event_id     TEXT        PRIMARY KEY,
    household_id UUID        NOT NULL,
    chain_id     UUID        NOT NULL,
    type         TEXT        NOT NULL,
    subject      TEXT        NOT NULL,
    service      TEXT        NOT NULL,
    time         TIMESTAMPTZ NOT NULL,
    trace_id     TEXT,
    causation_id TEXT,
    -- Ids, amounts and outcomes only: no names or ID numbers.
    summary      JSONB       NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX chain_events_by_household ON chain_events (household_id, time, seq);
