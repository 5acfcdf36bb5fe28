-- The audit trail (mesh::audit): every decision, every change of personal or payment data and
-- every read or export of personal data, one row each, hash-chained: `hash` is SHA-256 over
-- `prev_hash` and the row's fields, `prev_hash` the hash of the row before (32 zero bytes for
-- the first). Rows are numbered 1, 2, 3 … without gaps under the lock of mesh_audit_head, so a
-- deleted row is a gap and an edited one a hash that does not match; `audit verify` names the
-- first broken link.
CREATE TABLE mesh_audit (
    seq          BIGINT      PRIMARY KEY CHECK (seq > 0),
    at           TIMESTAMPTZ NOT NULL,
    actor_sub    TEXT        NOT NULL,
    actor_name   TEXT        NOT NULL,
    actor_role   TEXT        NOT NULL,
    -- What was done: `application.submit`, `household.read`, `dead_letters.read_unmasked` …
    action       TEXT        NOT NULL,
    -- What it was done to: a kind (`application`, `household`, `dead_letter` …) and its id.
    record_kind  TEXT        NOT NULL,
    record_id    TEXT        NOT NULL,
    household_id UUID,
    -- The resident (member) the record is about, when it is about one.
    person_id    UUID,
    purpose      TEXT,
    trace_id     TEXT,
    -- JSON text, hashed as stored (jsonb would reorder it).
    detail       TEXT        NOT NULL DEFAULT '{}',
    prev_hash    BYTEA       NOT NULL,
    hash         BYTEA       NOT NULL UNIQUE
);

CREATE INDEX mesh_audit_actor ON mesh_audit (actor_sub, at);
CREATE INDEX mesh_audit_household ON mesh_audit (household_id, at) WHERE household_id IS NOT NULL;
CREATE INDEX mesh_audit_person ON mesh_audit (person_id, at) WHERE person_id IS NOT NULL;
CREATE INDEX mesh_audit_at ON mesh_audit (at);

-- The last row's number and hash; its row lock orders concurrent appends.
CREATE TABLE mesh_audit_head (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    seq      BIGINT  NOT NULL,
    hash     BYTEA   NOT NULL
);
INSERT INTO mesh_audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the service never updates or deletes a row. (Whoever can drop this trigger can
-- edit rows; `audit verify` still finds the edit.)
CREATE FUNCTION mesh_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'mesh_audit is append-only';
END;
$$;

CREATE TRIGGER mesh_audit_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON mesh_audit
    FOR EACH STATEMENT EXECUTE FUNCTION mesh_audit_append_only();
