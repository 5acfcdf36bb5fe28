-- The department answer protocol (contract::answers): per referral at most one `accepted`, one
-- final answer (`granted` | `rejected`), changed only by `corrected` or withdrawn by `revoked`
-- naming it; `supplemented` and `closed` after `granted`. Status `revoked`: the final answer was
-- withdrawn and the referral waits for one again.
--   referrals.status: pushed → accepted → granted | rejected; granted → closed; revoked
-- The final answer in force (the last `granted`/`rejected` or correction applied): the event id
-- a correction or a revocation names in `replaces`, and its envelope time (an `accepted` sent
-- before it and handled after it is history, not a contradiction). NULL while there is none.
ALTER TABLE referrals ADD COLUMN answer_event_id TEXT;
ALTER TABLE referrals ADD COLUMN answer_time TIMESTAMPTZ;
UPDATE referrals SET answer_event_id = feedback_event_id, answer_time = answered_at
 WHERE status IN ('granted', 'rejected', 'closed');

-- Every answer monitoring applied to a referral. `digest` is the SHA-256 of the feedback's
-- `data` as applied (its grant's period filled in): the same answer sent again under a new
-- event id is recognised by it and changes nothing.
CREATE TABLE referral_answers (
    event_id    TEXT        PRIMARY KEY,
    referral_id UUID        NOT NULL REFERENCES referrals,
    outcome     TEXT        NOT NULL,
    digest      TEXT        NOT NULL,
    replaces    TEXT,
    data        JSONB       NOT NULL,
    -- The envelope's time.
    time        TIMESTAMPTZ NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX referral_answers_by_referral ON referral_answers (referral_id, applied_at);

-- Feedback monitoring did not apply, and why (also told to the department on
-- `referral.<dept>.refused`): for operators, `GET /v1/refused-feedback`. Ids, codes and reasons
-- only; the message itself stays in the REFERRAL stream at `stream_sequence`.
CREATE TABLE refused_feedback (
    seq             BIGSERIAL   PRIMARY KEY,
    -- The envelope id, or the Nats-Msg-Id when the envelope could not be read.
    event_id        TEXT,
    msg_id          TEXT,
    department      TEXT        NOT NULL,
    referral_id     UUID,
    code            TEXT        NOT NULL,
    reason          TEXT        NOT NULL,
    answer_in_force TEXT,
    stream_sequence BIGINT      NOT NULL,
    refused_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX refused_feedback_by_department ON refused_feedback (department, seq);
CREATE INDEX refused_feedback_by_referral ON refused_feedback (referral_id);
CREATE INDEX refused_feedback_by_event ON refused_feedback (event_id);

-- The chain holds a fact once: `digest` is the SHA-256 of the event's type, household,
-- envelope subject and data, so the same event re-sent under a new id adds no step.
ALTER TABLE chain_events ADD COLUMN digest TEXT;
CREATE UNIQUE INDEX chain_events_once ON chain_events (household_id, digest) WHERE digest IS NOT NULL;
