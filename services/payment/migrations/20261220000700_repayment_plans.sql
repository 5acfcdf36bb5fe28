-- Repayment plans (追回计划): each change that opens recovery cases (a stop, a lower amount, a
-- confirmed fraud) opens one plan for the household, in the region's monthly instalments
-- (`repayment_instalments`). What the plan owes is read from its cases, not kept: the overpaid
-- part of each payment the bank settled (a payment still in transit owes nothing yet; one
-- rejected or returned never reached the household). Repayments received are allocated to the
-- plan's cases, oldest month first, and each allocation is a `recovered` entry in the ledger of
-- the fund account the payment came from.
CREATE TABLE repayment_plans (
    plan_id          UUID        PRIMARY KEY,
    household_id     UUID        NOT NULL,
    change_id        UUID        NOT NULL UNIQUE,
    fraud            BOOLEAN     NOT NULL,
    instalments      INTEGER     NOT NULL CHECK (instalments BETWEEN 1 AND 120),
    first_due_month  TEXT        NOT NULL CHECK (first_due_month ~ '^[0-9]{4}-[0-9]{2}$'),
    policy_version   TEXT        NOT NULL,
    opened_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX repayment_plans_by_household ON repayment_plans (household_id);

-- Money received for a plan, once per (plan, reference: the receipt), by the county officer of
-- the token.
CREATE TABLE repayments (
    repayment_id   UUID        PRIMARY KEY,
    plan_id        UUID        NOT NULL REFERENCES repayment_plans (plan_id),
    amount_fen     BIGINT      NOT NULL CHECK (amount_fen > 0),
    reference      TEXT        NOT NULL CHECK (length(reference) BETWEEN 1 AND 128),
    received_on    DATE        NOT NULL,
    posted_by      JSONB       NOT NULL,
    posted_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (plan_id, reference)
);

-- How each repayment was allocated to the plan's cases.
CREATE TABLE repayment_allocations (
    repayment_id  UUID   NOT NULL REFERENCES repayments (repayment_id),
    recovery_id   UUID   NOT NULL REFERENCES recoveries (recovery_id),
    amount_fen    BIGINT NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (repayment_id, recovery_id)
);
CREATE INDEX repayment_allocations_by_recovery ON repayment_allocations (recovery_id);

ALTER TABLE recoveries ADD COLUMN recovered_fen BIGINT NOT NULL DEFAULT 0
    CHECK (recovered_fen >= 0 AND recovered_fen <= amount_fen);
