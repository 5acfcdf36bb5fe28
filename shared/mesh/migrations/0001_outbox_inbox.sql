-- The transactional outbox: events a handler emits, written in the same transaction as its
-- state change, published by the relay with `id` as Nats-Msg-Id.
CREATE TABLE mesh_outbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT        NOT NULL UNIQUE,
    subject      TEXT        NOT NULL,
    payload      BYTEA       NOT NULL,
    -- W3C trace context of the span that wrote the row; the publish span is its child.
    traceparent  TEXT,
    tracestate   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);

CREATE INDEX mesh_outbox_unpublished ON mesh_outbox (seq) WHERE published_at IS NULL;

-- Wake the relay on commit instead of polling.
CREATE FUNCTION mesh_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mesh_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER mesh_outbox_inserted
    AFTER INSERT ON mesh_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION mesh_outbox_notify();

-- The inbox: ids of messages a consumer has handled. A second delivery of the same id finds
-- its row and changes nothing.
CREATE TABLE mesh_inbox (
    consumer   TEXT        NOT NULL,
    message_id TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    handled_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
