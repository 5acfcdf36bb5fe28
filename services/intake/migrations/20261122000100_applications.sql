-- Applications and their members as submitted.
CREATE TABLE applications (
    application_id  UUID        PRIMARY KEY,
    household_id    UUID        NOT NULL,
    chain_id        UUID        NOT NULL,
    region_code     TEXT        NOT NULL,
    urban           BOOLEAN     NOT NULL,
    address         TEXT,
    -- verifying → determined | manual_verification
    status          TEXT        NOT NULL,
    -- A client's retry with the same key gets the first application back, not a second one.
    idempotency_key TEXT        UNIQUE,
    submitted_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE application_members (
    member_id                   UUID    PRIMARY KEY,
    application_id              UUID    NOT NULL REFERENCES applications,
    position                    INT     NOT NULL,
    id_number                   TEXT    NOT NULL,
    name                        TEXT    NOT NULL,
    relation                    TEXT    NOT NULL,
    declared_monthly_income_fen BIGINT  NOT NULL CHECK (declared_monthly_income_fen >= 0),
    flags                       JSONB   NOT NULL,
    UNIQUE (application_id, id_number)
);

-- The decision, with the parameter set version and the rule that fired.
CREATE TABLE determinations (
    application_id        UUID        PRIMARY KEY REFERENCES applications,
    tier                  TEXT        NOT NULL,
    monthly_amount_fen    BIGINT      NOT NULL CHECK (monthly_amount_fen >= 0),
    per_capita_income_fen BIGINT      NOT NULL,
    standard_fen          BIGINT      NOT NULL,
    policy_version        TEXT        NOT NULL,
    rule                  TEXT        NOT NULL,
    effective_month       TEXT        NOT NULL,
    decided_by            TEXT        NOT NULL,
    decided_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    detail                JSONB       NOT NULL
);

-- Who did what and why, at every step.
CREATE TABLE application_history (
    id             BIGSERIAL   PRIMARY KEY,
    application_id UUID        NOT NULL REFERENCES applications,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    status         TEXT        NOT NULL,
    actor          TEXT        NOT NULL,
    note           TEXT        NOT NULL
);
CREATE INDEX application_history_by_application ON application_history (application_id, id);
