-- Cases the rules cannot settle wait for a named officer of the department.
ALTER TABLE cases
    ADD COLUMN review_reason TEXT,
    ADD COLUMN reviewed_by   TEXT,
    ADD COLUMN reviewed_at   TIMESTAMPTZ;

CREATE INDEX cases_in_review ON cases (created_at) WHERE outcome = 'in_review' AND reviewed_at IS NULL;
