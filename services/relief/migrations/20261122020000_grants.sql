-- Every grant a department made, one row per kind: a later referral for the same help in an
-- overlapping period is refused (no duplicate assistance), a once-per-household grant is made
-- once, and the chain's feedback can be traced to it.
CREATE TABLE grants (
    feedback_event_id TEXT        PRIMARY KEY,
    referral_id       UUID        NOT NULL,
    household_id      UUID        NOT NULL,
    member_id         UUID        NOT NULL,
    kind              TEXT        NOT NULL,
    amount_fen        BIGINT      NOT NULL,
    from_date         DATE        NOT NULL,
    to_date           DATE,
    decided_by        TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX grants_member ON grants (member_id);
CREATE INDEX grants_household ON grants (household_id, kind);

-- The region the referral came from: the parameter set for later bills of the person.
ALTER TABLE cases ADD COLUMN region_code TEXT;
CREATE INDEX cases_member ON cases (member_id);

-- Medical assistance on bills (one-stop settlement), once per claim id.
CREATE TABLE medical_claims (
    claim_id                  UUID        PRIMARY KEY,
    request_digest            TEXT        NOT NULL,
    referral_id               UUID        NOT NULL,
    member_id                 UUID        NOT NULL,
    kind                      TEXT        NOT NULL,
    bill_date                 DATE        NOT NULL,
    total_fen                 BIGINT      NOT NULL,
    insurance_paid_fen        BIGINT      NOT NULL,
    critical_illness_paid_fen BIGINT      NOT NULL,
    out_of_scope_fen          BIGINT      NOT NULL,
    eligible_fen              BIGINT      NOT NULL,
    to_deductible_fen         BIGINT      NOT NULL,
    assisted_fen              BIGINT      NOT NULL,
    policy_version            TEXT        NOT NULL,
    -- The answer given, so the same claim sent again gets the same answer.
    answer                    JSONB       NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX medical_claims_member ON medical_claims (member_id, bill_date);

-- A person's medical-assistance year: deductible filled and assistance granted so far.
CREATE TABLE medical_years (
    member_id           UUID   NOT NULL,
    year                INT    NOT NULL,
    deductible_used_fen BIGINT NOT NULL DEFAULT 0,
    assisted_fen        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (member_id, year)
);
