-- Dishonesty records (失信记录, 003: 全面推行申请社会救助事项守信承诺和失信记录制度), one row per
-- member of a household whose report was confirmed as fraud (`monitor.household.dishonesty_recorded`):
-- until `waiting_until` the person may not apply again; until `expires_on` a new application of
-- theirs carries an integrity flag and needs a county decision.
CREATE TABLE dishonesty_records (
    record_id       UUID        NOT NULL,
    id_number       TEXT        NOT NULL,
    household_id    UUID        NOT NULL,
    reason          TEXT        NOT NULL,
    complaint_id    UUID        NOT NULL,
    recorded_on     DATE        NOT NULL,
    waiting_until   DATE        NOT NULL,
    expires_on      DATE        NOT NULL,
    policy_version  TEXT        NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (record_id, id_number)
);
CREATE INDEX dishonesty_records_by_person ON dishonesty_records (id_number, expires_on);
CREATE INDEX dishonesty_records_by_household ON dishonesty_records (household_id);
