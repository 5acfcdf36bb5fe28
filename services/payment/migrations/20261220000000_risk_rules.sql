-- Risk supervision (风险监督预警): the rules over accounts look accounts up by number (one
-- account for several households) and a household's confirmed changes by when they were
-- confirmed (repeated changes before a run).
CREATE INDEX accounts_by_number ON accounts (account_number);
CREATE INDEX account_changes_confirmed_by_number ON account_changes (account_number, confirmed_at)
    WHERE status = 'confirmed';
CREATE INDEX account_changes_confirmed_by_member ON account_changes (member_id, confirmed_at)
    WHERE status = 'confirmed';
