-- Consultations, complaints and reports (咨询、投诉、举报) from the supervision hotline, 12345,
-- the web or in person (004: 设置和公开监督咨询电话 … 及时调查核实处理投诉和举报): routed to
-- the township or county of their area, investigated by a named officer (complaints and
-- reports), answered to the person who filed it by `answer_due`, escalated one level up when
-- not answered in time.
CREATE TABLE complaints (
    complaint_id        UUID        PRIMARY KEY,
    -- The channel's own reference (a hotline ticket number, a web form id): the same reference
    -- from the same channel again is the same complaint (a retried request files it once).
    reference           TEXT        NOT NULL,
    received_via        TEXT        NOT NULL
                        CHECK (received_via IN ('supervision_hotline', 'hotline_12345', 'web', 'in_person')),
    category            TEXT        NOT NULL CHECK (category IN ('consultation', 'complaint', 'report')),
    -- The township (9 digits) or county (6 digits) that must handle it; its district
    -- (left 6) is the one scored for it.
    region_code         TEXT        NOT NULL,
    -- What it concerns, when it names it: a household, one of its applications, an officer (the
    -- officer's account id, `sub`).
    household_id        UUID,
    application_id      UUID,
    officer_concerned   TEXT,
    -- What the person said, in words; no ID numbers (refused at entry).
    summary             TEXT        NOT NULL,
    -- The person who filed it, unless they stay anonymous (匿名): shown masked in lists.
    anonymous           BOOLEAN     NOT NULL,
    filer_name          TEXT,
    filer_phone         TEXT,
    received_on         DATE        NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL,
    received_by         TEXT        NOT NULL,
    received_by_sub     TEXT        NOT NULL,
    received_by_role    TEXT        NOT NULL,
    answer_due          DATE        NOT NULL,
    -- received → investigated → answered (a consultation is answered without investigation).
    status              TEXT        NOT NULL DEFAULT 'received'
                        CHECK (status IN ('received', 'investigated', 'answered')),
    investigated_by     TEXT,
    investigated_by_sub TEXT,
    investigated_by_role TEXT,
    investigated_at     TIMESTAMPTZ,
    finding             TEXT CHECK (finding IN ('substantiated', 'partly_substantiated', 'unsubstantiated')),
    findings            TEXT,
    -- A report confirmed as fraud (骗取救助): the first month the household obtained assistance
    -- it was not owed, and the stop that ends it from that month (`monitor.household.changed`,
    -- reason `fraud`; payment recovers what was paid for the months since).
    fraud_from_month    TEXT,
    stop_change_id      UUID,
    answered_by         TEXT,
    answered_by_sub     TEXT,
    answered_by_role    TEXT,
    answered_at         TIMESTAMPTZ,
    answered_on         DATE,
    answer              TEXT,
    -- Not answered by `answer_due`: passed to the county (from a township) or the city (from a
    -- county), whose officers then see and may handle it.
    escalated_at        TIMESTAMPTZ,
    escalated_to        TEXT,
    UNIQUE (received_via, reference),
    CHECK (anonymous OR filer_name IS NOT NULL)
);
CREATE INDEX complaints_by_region ON complaints (region_code, status, answer_due);
CREATE INDEX complaints_by_household ON complaints (household_id) WHERE household_id IS NOT NULL;
CREATE INDEX complaints_overdue ON complaints (answer_due) WHERE status <> 'answered' AND escalated_at IS NULL;

-- Risk supervision (the warning sweep, `risk_fast_approval`): the determinations a person made,
-- by when they were recorded, so that each sweep reads the last weeks' and not the whole chain.
CREATE INDEX chain_events_person_decided ON chain_events (time)
    WHERE type = 'eligibility.household.determined' AND actor IS NOT NULL;
