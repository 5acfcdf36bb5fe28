-- Reads are limited to the caller's areas (mesh::auth): reports and held applications carry the
-- household's region, from the application's intake.application.submitted (or the register, for
-- a re-verification). Rows from before are filled from the register where the household is in
-- it; a row left without a region is seen by nobody's area.
ALTER TABLE reports ADD COLUMN region_code TEXT;
UPDATE reports r SET region_code = g.region_code FROM register g WHERE g.household_id = r.household_id;
ALTER TABLE held_verifications ADD COLUMN region_code TEXT;
UPDATE held_verifications h SET region_code = g.region_code
    FROM register g WHERE g.household_id = h.household_id;

-- Who acted, from the access token (mesh::auth::Actor as JSON {sub, name, role}): the officer
-- who completed a verification by hand (the actor of intake's manually_verified event) and the
-- officer who made a home visit. Null on rows from before sign-in.
ALTER TABLE manual_verifications ADD COLUMN verified_by_actor JSONB;
ALTER TABLE home_visits ADD COLUMN visitor_actor JSONB;
