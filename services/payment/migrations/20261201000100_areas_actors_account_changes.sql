-- Sign-in (areas and actors) and the bank account's maker-checker.

-- Every person payment knows and their household, from the determinations' members and the
-- emergency grants' persons (and the instructions made before this table): a member's area is
-- the household's region in the register (`entitlements.region_code`). An officer sets, confirms
-- and reads the accounts of the members of their area only.
CREATE TABLE members (
    member_id    UUID        PRIMARY KEY,
    household_id UUID        NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX members_by_household ON members (household_id);

INSERT INTO members (member_id, household_id)
SELECT DISTINCT ON ((m ->> 'member_id')::uuid) (m ->> 'member_id')::uuid, e.household_id
FROM entitlements e, jsonb_array_elements(e.facts -> 'members') m
WHERE e.facts IS NOT NULL AND m ? 'member_id'
ORDER BY (m ->> 'member_id')::uuid, e.updated_at DESC
ON CONFLICT DO NOTHING;
INSERT INTO members (member_id, household_id)
SELECT DISTINCT ON (member_id) member_id, household_id FROM emergency_stages
ORDER BY member_id, pay_on DESC
ON CONFLICT DO NOTHING;
INSERT INTO members (member_id, household_id)
SELECT DISTINCT ON (beneficiary_member_id) beneficiary_member_id, household_id FROM instructions
ORDER BY beneficiary_member_id, created_at DESC
ON CONFLICT DO NOTHING;

-- A change of a beneficiary's account: proposed by one officer (maker), in force only once
-- another officer (checker, another token subject) confirms it. Until then `accounts` keeps the
-- confirmed account, which runs and files go on paying; a member without a confirmed account
-- is held (blocked in every file) as before. A newer proposal supersedes a pending one.
CREATE TABLE account_changes (
    change_id         UUID        PRIMARY KEY,
    member_id         UUID        NOT NULL,
    holder_name       TEXT        NOT NULL,
    account_number    TEXT        NOT NULL CHECK (account_number ~ '^[0-9]{8,32}$'),
    bank_code         TEXT        NOT NULL CHECK (bank_code ~ '^[0-9]{12}$'),
    region_code       TEXT        NOT NULL CHECK (region_code ~ '^[0-9]{6,12}$'),
    holder_kind       TEXT        NOT NULL CHECK (holder_kind IN ('person', 'care_institution')),
    reason            TEXT        NOT NULL DEFAULT '',
    status            TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'superseded')),
    proposed_by_sub   TEXT        NOT NULL,
    proposed_by_name  TEXT        NOT NULL,
    proposed_by_role  TEXT        NOT NULL,
    proposed_at       TIMESTAMPTZ NOT NULL,
    confirmed_by_sub  TEXT,
    confirmed_by_name TEXT,
    confirmed_by_role TEXT,
    confirmed_at      TIMESTAMPTZ,
    -- The account version it became.
    version           INT,
    superseded_by     UUID,
    CHECK ((status = 'confirmed') = (confirmed_by_sub IS NOT NULL)),
    -- Four eyes: the checker is not the maker.
    CHECK (confirmed_by_sub IS NULL OR confirmed_by_sub <> proposed_by_sub)
);
CREATE UNIQUE INDEX account_changes_one_pending ON account_changes (member_id) WHERE status = 'pending';
CREATE INDEX account_changes_by_member ON account_changes (member_id, proposed_at);

-- The account in force names its maker and checker (tokens' subjects); `updated_by` stays the
-- maker's name (free text before sign-in).
ALTER TABLE accounts
    ADD COLUMN updated_by_sub    TEXT,
    ADD COLUMN updated_by_role   TEXT,
    ADD COLUMN confirmed_by_sub  TEXT,
    ADD COLUMN confirmed_by_name TEXT,
    ADD COLUMN confirmed_by_role TEXT,
    ADD COLUMN change_id         UUID;
ALTER TABLE account_history
    ADD COLUMN officer_sub       TEXT,
    ADD COLUMN officer_role      TEXT,
    ADD COLUMN confirmed_by_sub  TEXT,
    ADD COLUMN confirmed_by_name TEXT,
    ADD COLUMN confirmed_by_role TEXT,
    ADD COLUMN change_id         UUID;

-- The officer whose confirmed account change resolved a correction.
ALTER TABLE corrections ADD COLUMN resolved_by_sub TEXT;

-- Who posted an entry by hand (a recovery by a county officer); NULL for the service's own.
ALTER TABLE journal
    ADD COLUMN actor_sub  TEXT,
    ADD COLUMN actor_name TEXT,
    ADD COLUMN actor_role TEXT;

CREATE INDEX entitlements_by_region ON entitlements (region_code text_pattern_ops);
CREATE INDEX batches_by_district ON batches (district);
