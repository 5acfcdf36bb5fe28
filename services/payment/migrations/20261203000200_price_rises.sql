-- The consumer-price rises the city records for the price-linked temporary subsidy
-- (价格临时补贴): for an area (a region code prefix) and the month the subsidy is paid with, the
-- statistics month and its year-on-year rise, the published source and who recorded it. Once
-- recorded a rise is kept: the month's instructions were computed from it.
CREATE TABLE price_rises (
    area_code          TEXT        NOT NULL CHECK (area_code ~ '^[0-9]{2,12}$'),
    month              TEXT        NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
    cpi_month          TEXT        NOT NULL CHECK (cpi_month ~ '^[0-9]{4}-[0-9]{2}$' AND cpi_month < month),
    cpi_rise_permille  INTEGER     NOT NULL CHECK (cpi_rise_permille BETWEEN -1000 AND 1000),
    source             TEXT        NOT NULL CHECK (length(source) BETWEEN 1 AND 300),
    recorded_by        TEXT        NOT NULL,
    recorded_by_name   TEXT        NOT NULL,
    recorded_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (area_code, month)
);
CREATE INDEX price_rises_by_month ON price_rises (month);
