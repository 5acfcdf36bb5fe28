-- Maker-checker on case conferences (issue 13): a township or county officer proposes the joint
-- meeting's decision; a county approver of the area, who is not the proposer, approves it (the
-- warning is then disposed of by that approver) or refuses it (the warning is verified again and
-- can be disposed of another way). Before this, a free-text `county_approver` was recorded.
ALTER TABLE warnings DROP CONSTRAINT IF EXISTS warnings_status_check;
ALTER TABLE warnings ADD CONSTRAINT warnings_status_check
    CHECK (status IN ('open', 'verified', 'awaiting_approval', 'disposed'));
-- {decision, proposed_by {sub, name, role}, proposed_at} while awaiting approval; after a
-- refusal also {refused_by, refused_at, reason}, kept until the next proposal.
ALTER TABLE warnings ADD COLUMN proposal JSONB;
