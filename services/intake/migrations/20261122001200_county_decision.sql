-- A determination that needs a county decision (the application names a near relative of
-- staff) waits here as a proposal, with the event it answers, until a named officer decides.
CREATE TABLE proposals (
    application_id    UUID        PRIMARY KEY REFERENCES applications,
    determination     JSONB       NOT NULL,
    cause_event_id    TEXT,
    proposed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_by        TEXT,
    decision          TEXT CHECK (decision IN ('approved', 'rejected')),
    reason            TEXT,
    decided_at        TIMESTAMPTZ
);
