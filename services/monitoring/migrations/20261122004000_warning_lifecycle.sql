-- The warning lifecycle: escalation to the county, and the sweeps that find what is overdue.
-- The county (6-digit code) an overdue warning was escalated to, set with `escalated_at`.
ALTER TABLE warnings ADD COLUMN escalated_to TEXT;
CREATE INDEX warnings_open_by_due ON warnings (verify_due) WHERE status = 'open' AND escalated_at IS NULL;
CREATE INDEX warnings_by_raised ON warnings (raised_at);
-- Referrals still waiting for feedback, for the overdue sweep.
CREATE INDEX referrals_unanswered_by_due ON referrals (feedback_due) WHERE answered_at IS NULL;
-- A referral pushed when a warning was disposed of (`push_to_department`) names the warning.
ALTER TABLE referrals ADD COLUMN warning_id UUID;
