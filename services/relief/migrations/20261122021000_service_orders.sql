-- Service-type assistance: a care service order for a person who cannot fully look after
-- themselves, one per person; charity offers (an organisation, a kind of help, a capacity, an
-- area given as a region-code prefix) are matched to open orders in their area.
CREATE TABLE charity_offers (
    offer_id       UUID        PRIMARY KEY,
    request_digest TEXT        NOT NULL,
    organisation   TEXT        NOT NULL,
    kind           TEXT        NOT NULL,
    area           TEXT        NOT NULL,
    capacity       INT         NOT NULL,
    matched        INT         NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE service_orders (
    order_id     UUID        PRIMARY KEY,
    referral_id  UUID        NOT NULL,
    household_id UUID        NOT NULL,
    chain_id     UUID        NOT NULL,
    member_id    UUID        NOT NULL UNIQUE,
    region_code  TEXT        NOT NULL,
    self_care    TEXT        NOT NULL,
    -- open, then matched with an offer.
    status       TEXT        NOT NULL DEFAULT 'open',
    offer_id     UUID        REFERENCES charity_offers (offer_id),
    matched_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX service_orders_open ON service_orders (created_at, order_id) WHERE status = 'open';
