-- A dishonesty record lifted before it expired (`monitor.household.dishonesty_lifted`): from
-- `lifted_on` no new application is held to it.
ALTER TABLE dishonesty_records ADD COLUMN lifted_on DATE;
