-- A household enrolled for assistance is verified again at least every 6 months: its reports
-- share the application id with the report that led to the determination. Only the latter stays
-- one per application.
ALTER TABLE reports
    ADD COLUMN purpose TEXT NOT NULL DEFAULT 'application'
        CHECK (purpose IN ('application', 'reverification')),
    -- The date the re-verification was due; null for an application's report.
    ADD COLUMN due_on DATE,
    ADD CHECK ((purpose = 'reverification') = (due_on IS NOT NULL));

ALTER TABLE reports DROP CONSTRAINT reports_application_id_key;
CREATE UNIQUE INDEX reports_one_per_application ON reports (application_id) WHERE purpose = 'application';
CREATE INDEX reports_household ON reports (household_id, created_at);
