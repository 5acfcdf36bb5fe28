-- The bank side of payment: beneficiaries' accounts, pain.001 batches, pain.002 status reports,
-- corrections and the double-entry ledger of the dedicated fund accounts.

-- Each beneficiary's "one card" account (or a care institution's collective account), set and
-- corrected by the township; every version is kept in account_history.
CREATE TABLE accounts (
    member_id      UUID        PRIMARY KEY,
    holder_name    TEXT        NOT NULL,
    account_number TEXT        NOT NULL CHECK (account_number ~ '^[0-9]{8,32}$'),
    bank_code      TEXT        NOT NULL CHECK (bank_code ~ '^[0-9]{12}$'),
    -- The township's administrative code; its first 6 digits are the district that pays.
    region_code    TEXT        NOT NULL CHECK (region_code ~ '^[0-9]{6,12}$'),
    holder_kind    TEXT        NOT NULL CHECK (holder_kind IN ('person', 'care_institution')),
    version        INT         NOT NULL,
    updated_by     TEXT        NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE account_history (
    member_id      UUID        NOT NULL,
    version        INT         NOT NULL,
    holder_name    TEXT        NOT NULL,
    account_number TEXT        NOT NULL,
    bank_code      TEXT        NOT NULL,
    region_code    TEXT        NOT NULL,
    holder_kind    TEXT        NOT NULL,
    officer        TEXT        NOT NULL,
    reason         TEXT        NOT NULL DEFAULT '',
    changed_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, version)
);

-- One pain.001 file per paying (dedicated fund) account.
CREATE TABLE batches (
    batch_id       UUID        PRIMARY KEY,
    msg_id         TEXT        NOT NULL UNIQUE CHECK (length(msg_id) <= 35),
    month          TEXT        NOT NULL,
    district       TEXT        NOT NULL,
    debtor_account TEXT        NOT NULL,
    nb_of_txs      INT         NOT NULL CHECK (nb_of_txs > 0),
    ctrl_sum_fen   BIGINT      NOT NULL CHECK (ctrl_sum_fen > 0),
    -- live: the file stands (a cancelled file frees its payments for another).
    live           BOOLEAN     NOT NULL DEFAULT true,
    xml            TEXT        NOT NULL,
    transmitted_at TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE batch_items (
    batch_id       UUID        NOT NULL REFERENCES batches (batch_id),
    instruction_id UUID        NOT NULL REFERENCES instructions (instruction_id),
    end_to_end_id  TEXT        NOT NULL CHECK (length(end_to_end_id) <= 35),
    amount_fen     BIGINT      NOT NULL CHECK (amount_fen > 0),
    live           BOOLEAN     NOT NULL DEFAULT true,
    PRIMARY KEY (batch_id, instruction_id)
);
-- A payment is in at most one live file: never paid twice.
CREATE UNIQUE INDEX batch_items_once ON batch_items (instruction_id) WHERE live;
CREATE UNIQUE INDEX batch_items_end_to_end ON batch_items (end_to_end_id) WHERE live;

-- Every pain.002 taken in, once per MsgId.
CREATE TABLE status_reports (
    msg_id          TEXT        PRIMARY KEY,
    original_msg_id TEXT        NOT NULL,
    group_status    TEXT,
    transactions    INT         NOT NULL,
    changes         INT         NOT NULL,
    xml             TEXT        NOT NULL,
    received_via    TEXT        NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Each status an instruction passed through, and why.
CREATE TABLE instruction_status_history (
    instruction_id UUID        NOT NULL REFERENCES instructions (instruction_id),
    status         TEXT        NOT NULL,
    reason         TEXT,
    report_msg_id  TEXT,
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (instruction_id, status)
);

-- A rejected or returned payment waits for the township to correct the account; then it is paid
-- again under a new instruction (reference = the original instruction id).
CREATE TABLE corrections (
    instruction_id     UUID        PRIMARY KEY REFERENCES instructions (instruction_id),
    member_id          UUID        NOT NULL,
    status             TEXT        NOT NULL,
    reason             TEXT        NOT NULL,
    opened_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at        TIMESTAMPTZ,
    resolved_by        TEXT,
    new_instruction_id UUID UNIQUE
);
CREATE INDEX corrections_open ON corrections (member_id) WHERE resolved_at IS NULL;

-- Double-entry ledger of the dedicated fund accounts: a journal entry and its postings; the
-- postings of an entry balance (debits = credits), checked when the transaction commits.
CREATE TABLE journal (
    journal_id     BIGSERIAL   PRIMARY KEY,
    fund_account   TEXT        NOT NULL,
    district       TEXT        NOT NULL,
    month          TEXT        NOT NULL,
    instruction_id UUID,
    event          TEXT        NOT NULL CHECK (event IN ('instructed', 'settled', 'rejected', 'returned', 'recovered')),
    amount_fen     BIGINT      NOT NULL CHECK (amount_fen > 0),
    reference      TEXT        NOT NULL DEFAULT '',
    at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One entry per instruction and event: a redelivered report posts nothing twice.
CREATE UNIQUE INDEX journal_once ON journal (instruction_id, event) WHERE event <> 'recovered';
CREATE INDEX journal_by_district ON journal (district, month);

CREATE TABLE postings (
    journal_id BIGINT NOT NULL REFERENCES journal (journal_id),
    account    TEXT   NOT NULL,
    debit_fen  BIGINT NOT NULL DEFAULT 0 CHECK (debit_fen >= 0),
    credit_fen BIGINT NOT NULL DEFAULT 0 CHECK (credit_fen >= 0),
    CHECK ((debit_fen = 0) <> (credit_fen = 0))
);
CREATE INDEX postings_by_journal ON postings (journal_id);

CREATE FUNCTION journal_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d BIGINT; c BIGINT; n INT;
BEGIN
    SELECT coalesce(sum(debit_fen), 0), coalesce(sum(credit_fen), 0), count(*)
      INTO d, c, n FROM postings WHERE journal_id = NEW.journal_id;
    IF n < 2 OR d <> c THEN
        RAISE EXCEPTION 'journal entry % does not balance: debits %, credits %', NEW.journal_id, d, c;
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_balanced AFTER INSERT ON journal
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_balanced();
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT OR UPDATE ON postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_balanced();
