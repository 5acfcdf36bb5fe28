-- Outages heal themselves: an application is held while a data source does not answer, and a
-- report with gaps is superseded by a complete one once the source answers again.

-- Applications held: no report yet because a source did not answer (waiting_for_source), or a
-- report with gaps went out and the sources that did not answer are asked again so that a
-- complete report can supersede it (reported_with_gaps). Times are the service clock's.
CREATE TABLE held_verifications (
    application_id UUID        PRIMARY KEY,
    household_id   UUID        NOT NULL,
    chain_id       UUID        NOT NULL,
    -- The intake.application.submitted event the reports answer.
    causation_id   TEXT        NOT NULL,
    -- [{member_id, id_number}]: the query a data holder answers.
    members        JSONB       NOT NULL,
    state          TEXT        NOT NULL CHECK (state IN ('waiting_for_source', 'reported_with_gaps')),
    held_since     TIMESTAMPTZ NOT NULL,
    -- A waiting application's report goes out with the gaps after this.
    hold_until     TIMESTAMPTZ NOT NULL,
    -- The report with gaps, once it went out.
    report_id      UUID        REFERENCES reports,
    -- The submitted event's trace, so that the report joins it.
    traceparent    TEXT,
    tracestate     TEXT,
    -- A replica working on it holds it until then; also the claim's token.
    claimed_until  TIMESTAMPTZ,
    CHECK ((state = 'reported_with_gaps') = (report_id IS NOT NULL))
);
CREATE INDEX held_verifications_by_age ON held_verifications (held_since, application_id);

-- What each source said so far of a held application; those with no_answer are asked again.
CREATE TABLE held_sources (
    application_id UUID        NOT NULL REFERENCES held_verifications ON DELETE CASCADE,
    source         TEXT        NOT NULL,
    outcome        TEXT        NOT NULL CHECK (outcome IN ('answered', 'error', 'no_answer')),
    detail         TEXT,
    answer         JSONB,
    at             TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (application_id, source)
);
CREATE INDEX held_sources_waiting ON held_sources (source, application_id) WHERE outcome = 'no_answer';

-- A source that did not answer, until it answers again: probed with backoff, not asked once per
-- application.
CREATE TABLE source_outages (
    source        TEXT        PRIMARY KEY,
    since         TIMESTAMPTZ NOT NULL,
    -- Probes that failed so far.
    probes        INT         NOT NULL DEFAULT 0 CHECK (probes >= 0),
    -- The next probe is due then; while one is under way, the end of its claim (its token).
    next_probe_at TIMESTAMPTZ NOT NULL
);

-- Verifications an officer completed by hand (intake.application.manually_verified): the
-- sources are not asked about these applications again.
CREATE TABLE manual_verifications (
    application_id UUID        PRIMARY KEY,
    verified_by    TEXT        NOT NULL,
    event_id       TEXT        NOT NULL,
    at             TIMESTAMPTZ NOT NULL
);

-- A complete report that came after one with gaps supersedes it: one current report per
-- application, and the earlier one kept.
ALTER TABLE reports
    ADD COLUMN supersedes UUID REFERENCES reports,
    ADD COLUMN superseded BOOLEAN NOT NULL DEFAULT false;
DROP INDEX reports_one_per_application;
CREATE UNIQUE INDEX reports_one_per_application ON reports (application_id)
    WHERE purpose = 'application' AND NOT superseded;
