-- Warnings (预警): raised by rules on feeds, by active-discovery reports, by overdue referrals and
-- re-verifications; verified on site by a township within a deadline, then disposed of in one of
-- the four ways; overdue ones escalate to the county.
CREATE TABLE warnings (
    warning_id      UUID        PRIMARY KEY,
    -- What raised it, unique so that a redelivered feed record or report raises it once:
    -- e.g. 'feed:death:<record id>', 'referral-overdue:<referral id>'.
    dedupe_key      TEXT        NOT NULL UNIQUE,
    -- death | serious_illness | severe_disability | active_discovery | referral_overdue |
    -- reverification_overdue | income_above_standard | ...
    kind            TEXT        NOT NULL,
    household_id    UUID,
    member_id       UUID,
    -- The township (9-digit region code prefix) that must verify on site.
    township_code   TEXT        NOT NULL,
    -- Ids, amounts and reasons only: no names or ID numbers.
    detail          JSONB       NOT NULL DEFAULT '{}',
    -- open → verified → disposed; escalated marks one passed to the county after its deadline.
    status          TEXT        NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'verified', 'disposed')),
    verify_due      DATE        NOT NULL,
    escalated_at    TIMESTAMPTZ,
    verified_by     TEXT,
    verified_at     TIMESTAMPTZ,
    finding         TEXT,
    -- apply_policy | push_to_department | case_conference | reverify_terminate
    disposition     TEXT CHECK (disposition IN ('apply_policy', 'push_to_department', 'case_conference', 'reverify_terminate')),
    disposed_by     TEXT,
    disposed_at     TIMESTAMPTZ,
    disposal_detail JSONB,
    raised_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX warnings_by_township ON warnings (township_code, status, verify_due);
CREATE INDEX warnings_by_household ON warnings (household_id);
