-- A reporting officer's retry with the same key gets the first report back, never a second grant.
ALTER TABLE emergencies ADD COLUMN idempotency_key TEXT UNIQUE;
