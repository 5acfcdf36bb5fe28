-- Disclosure (公示) on the village and community notice boards (004 三(二)3: 在镇政府(街道办事处)、
-- 村(居)民委员会固定的政务公开栏、村(居)务公开栏等场所进行…审核公示、审批公示; 三(一)2: 对保障
-- 对象进行长期公示).
--
-- The approval disclosure (审批公示) of a household determined with a tier: on its village's
-- notice from the decision day (Beijing time, the mesh clock) through `notice_until`, the decision
-- day + the region's `disclosure_notice_days` in force on that day; objections are taken until
-- then. Determinations recorded before this table get their notice from the day they were
-- recorded and the 7 days every parameter set then shipped with.
CREATE TABLE disclosure_notices (
    application_id  UUID        PRIMARY KEY REFERENCES applications,
    region_code     TEXT        NOT NULL,
    decided_on      DATE        NOT NULL,
    notice_until    DATE        NOT NULL CHECK (notice_until >= decided_on),
    policy_version  TEXT        NOT NULL
);
CREATE INDEX disclosure_notices_by_region ON disclosure_notices (region_code, notice_until);

INSERT INTO disclosure_notices (application_id, region_code, decided_on, notice_until, policy_version)
SELECT d.application_id, a.region_code, (d.decided_at AT TIME ZONE 'Asia/Shanghai')::date,
       (d.decided_at AT TIME ZONE 'Asia/Shanghai')::date + 7, d.policy_version
FROM determinations d JOIN applications a ON a.application_id = d.application_id
WHERE d.tier <> 'none';

-- Objections (异议) raised during a notice period, as taken by the public route; each is passed
-- on to monitoring (`intake.disclosure.objected`) as a report (举报) of the household's township.
-- The summary holds no ID number (refused at entry); the person may stay anonymous.
CREATE TABLE disclosure_objections (
    objection_id    UUID        PRIMARY KEY,
    application_id  UUID        NOT NULL REFERENCES applications,
    summary         TEXT        NOT NULL,
    contact_name    TEXT,
    contact_phone   TEXT,
    objected_on     DATE        NOT NULL,
    objected_at     TIMESTAMPTZ NOT NULL,
    CHECK (contact_phone IS NULL OR contact_name IS NOT NULL)
);
CREATE INDEX disclosure_objections_by_application ON disclosure_objections (application_id);

-- A household's whole assistance stopped or winding down (`monitor.household.changed` without
-- a member): from `stop_from_month` it is no longer a current recipient, and leaves the
-- long-term list (长期公示). A person's own stop (a member's death) leaves the household on it.
CREATE TABLE household_stops (
    change_id       UUID        PRIMARY KEY,
    household_id    UUID        NOT NULL,
    stop_from_month TEXT        NOT NULL,
    reason          TEXT        NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX household_stops_by_household ON household_stops (household_id, stop_from_month);
