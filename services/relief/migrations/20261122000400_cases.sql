-- One case per referral: what was pushed (its digest, to tell a repeat from a modified
-- request), what the department decided, and who decided.
CREATE TABLE cases (
    referral_id   UUID        PRIMARY KEY,
    department    TEXT        NOT NULL,
    household_id  UUID        NOT NULL,
    chain_id      UUID        NOT NULL,
    member_id     UUID        NOT NULL,
    tier          TEXT        NOT NULL,
    push_event_id TEXT        NOT NULL,
    push_digest   TEXT        NOT NULL,
    outcome       TEXT        NOT NULL,
    -- The feedback payload sent, so a repeated push is answered with the same outcome.
    feedback      JSONB       NOT NULL,
    decided_by    TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
