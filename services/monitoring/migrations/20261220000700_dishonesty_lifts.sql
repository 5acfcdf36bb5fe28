-- Dishonesty records lifted before they expired (复核撤销): a county officer who did not
-- investigate the report, with the reason. The record itself is the confirmed report's
-- (`complaints.fraud_from_month`, record id v5(complaint id, "dishonesty")); intake holds no new
-- application to it from `lifted_on` (`monitor.household.dishonesty_lifted`).
CREATE TABLE dishonesty_lifts (
    record_id      UUID        PRIMARY KEY,
    complaint_id   UUID        NOT NULL UNIQUE REFERENCES complaints (complaint_id),
    household_id   UUID        NOT NULL,
    lifted_on      DATE        NOT NULL,
    reason         TEXT        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    lifted_by      TEXT        NOT NULL,
    lifted_by_sub  TEXT        NOT NULL,
    lifted_by_role TEXT        NOT NULL,
    lifted_at      TIMESTAMPTZ NOT NULL
);
