-- The honesty commitment (守信承诺, 003) the applicant signed: {version, signed_on,
-- signer_member_id}, witnessed by the submitting officer (`submitted_by`). NULL only for
-- applications submitted before it was recorded.
ALTER TABLE applications ADD COLUMN commitment JSONB;
