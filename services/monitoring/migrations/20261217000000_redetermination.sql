-- Re-determination (issue 14): the household's determination as enrolled, then as last
-- determined again (`eligibility.household.redetermined`), with each member's basis (verified
-- income, exclusions, assets, circumstances); NULL for a household enrolled before it was kept,
-- which is then not determined again by the mesh (its changes go to the township as warnings).
ALTER TABLE households ADD COLUMN determination JSONB;
