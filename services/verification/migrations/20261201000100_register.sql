-- The register of households verification knows: enough to ask the data holders again (members
-- with their ID numbers) and, once monitoring has enrolled the household, when its next economic
-- re-verification and home visit are due.
CREATE TABLE register (
    household_id            UUID        PRIMARY KEY,
    chain_id                UUID        NOT NULL,
    application_id          UUID        NOT NULL,
    region_code             TEXT        NOT NULL,
    -- [{member_id, id_number}]: the query a data holder answers.
    members                 JSONB       NOT NULL,
    enrolled                BOOLEAN     NOT NULL DEFAULT false,
    next_reverification_due DATE,
    next_home_visit_due     DATE,
    -- A scheduler replica that took the household for re-verification holds it until then; a
    -- replica that dies mid-way loses it when the lease runs out.
    lease_until             TIMESTAMPTZ,
    -- The enrolment event: re-verifications answer it in the household's chain.
    enrolment_event_id      TEXT,
    registered_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (NOT enrolled OR (next_reverification_due IS NOT NULL AND next_home_visit_due IS NOT NULL))
);

-- The scheduler and the due lists read only enrolled households, by date.
CREATE INDEX register_reverification_due ON register (next_reverification_due) WHERE enrolled;
CREATE INDEX register_home_visit_due ON register (next_home_visit_due) WHERE enrolled;

-- Home visits as recorded by the officer who made them.
CREATE TABLE home_visits (
    visit_id     UUID        PRIMARY KEY,
    household_id UUID        NOT NULL REFERENCES register,
    visited_on   DATE        NOT NULL,
    visitor      TEXT        NOT NULL CHECK (visitor <> ''),
    note         TEXT        NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX home_visits_household ON home_visits (household_id, visited_on);
