-- Overpayment recovery cases: an instruction made for a month the person or household was no
-- longer entitled to. One case per instruction; the ledger entries are the bank side's.
CREATE TABLE recoveries (
    recovery_id            UUID        PRIMARY KEY,
    instruction_id         UUID        NOT NULL UNIQUE REFERENCES instructions (instruction_id),
    household_id           UUID        NOT NULL,
    beneficiary_member_id  UUID        NOT NULL,
    month                  TEXT        NOT NULL,
    kind                   TEXT        NOT NULL,
    amount_fen             BIGINT      NOT NULL CHECK (amount_fen > 0),
    reason                 TEXT        NOT NULL,
    change_id              UUID        NOT NULL,
    status                 TEXT        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'recovered', 'waived')),
    opened_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX recoveries_by_household ON recoveries (household_id);
