-- Sign-in: who acted, from the access token (sub, name, role), beside the old free-text columns.

-- The department officer who decided a case in review; `reviewed_by` and `decided_by` hold
-- `officer:<sub>`.
ALTER TABLE cases
    ADD COLUMN reviewed_by_sub  TEXT,
    ADD COLUMN reviewed_by_name TEXT,
    ADD COLUMN reviewed_by_role TEXT;

-- The department's system (or officer) that sent a bill.
ALTER TABLE medical_claims
    ADD COLUMN actor_sub  TEXT,
    ADD COLUMN actor_name TEXT,
    ADD COLUMN actor_role TEXT;

-- The department officer who registered a charity offer.
ALTER TABLE charity_offers
    ADD COLUMN registered_by_sub  TEXT,
    ADD COLUMN registered_by_name TEXT,
    ADD COLUMN registered_by_role TEXT;

-- Auditors see the cases and service orders of their areas.
CREATE INDEX cases_by_region ON cases (region_code text_pattern_ops);
