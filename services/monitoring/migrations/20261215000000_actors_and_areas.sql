-- Sign-in (issue 13): who acted is the person the access token names (sub, name, role), never a
-- name typed into a body; and what a caller reads is filtered by the areas of the token.

-- The officer who verified a warning on site and the one who disposed of it. `verified_by` and
-- `disposed_by` keep the display name; before sign-in they held free text, which stays as the
-- name of a `legacy` actor.
ALTER TABLE warnings ADD COLUMN verified_by_sub TEXT;
ALTER TABLE warnings ADD COLUMN verified_by_role TEXT;
ALTER TABLE warnings ADD COLUMN disposed_by_sub TEXT;
ALTER TABLE warnings ADD COLUMN disposed_by_role TEXT;
UPDATE warnings SET verified_by_sub = 'legacy:' || verified_by, verified_by_role = 'legacy'
 WHERE verified_by IS NOT NULL AND verified_by_sub IS NULL;
UPDATE warnings SET disposed_by_sub = 'legacy:' || disposed_by, disposed_by_role = 'legacy'
 WHERE disposed_by IS NOT NULL AND disposed_by_sub IS NULL;

-- A chain step: the actor its event carries (`envelope.actor`, when a person's request made
-- it), and the region its data names (`region_code` of an application, a determination, a push,
-- an emergency grant). A chain lies in the region of its household as enrolled, or else of its
-- first step that names one (the application or the emergency grant that opened it). Steps
-- recorded before this column are given their household's enrolled region; the chain of a
-- household never enrolled that has no such step is out of every area.
ALTER TABLE chain_events ADD COLUMN actor JSONB;
ALTER TABLE chain_events ADD COLUMN region_code TEXT;
UPDATE chain_events c SET region_code = h.region_code
  FROM households h WHERE h.household_id = c.household_id AND c.region_code IS NULL;
CREATE INDEX chain_events_region_by_household ON chain_events (household_id, seq) WHERE region_code IS NOT NULL;

-- The officer who entered an active-discovery report over HTTP (none for a report that came on
-- `monitor.discovery.reported`).
ALTER TABLE discovery_reports ADD COLUMN received_by_sub TEXT;
ALTER TABLE discovery_reports ADD COLUMN received_by_name TEXT;
ALTER TABLE discovery_reports ADD COLUMN received_by_role TEXT;

-- Who posted the feed file a record came in (none for a record that came on
-- `monitor.feed.{source}`).
ALTER TABLE feed_records ADD COLUMN posted_by_sub TEXT;
ALTER TABLE feed_records ADD COLUMN posted_by_name TEXT;
ALTER TABLE feed_records ADD COLUMN posted_by_role TEXT;
