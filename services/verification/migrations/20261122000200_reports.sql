-- One report per application: the household's verified figures and whether every source answered.
CREATE TABLE reports (
    report_id      UUID        PRIMARY KEY,
    application_id UUID        NOT NULL UNIQUE,
    household_id   UUID        NOT NULL,
    complete       BOOLEAN     NOT NULL,
    gaps           JSONB       NOT NULL,
    members        JSONB       NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Provenance: which source said what, and when; or that it did not answer.
CREATE TABLE report_sources (
    report_id UUID        NOT NULL REFERENCES reports,
    source    TEXT        NOT NULL,
    outcome   TEXT        NOT NULL,
    detail    TEXT,
    answer    JSONB,
    at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (report_id, source)
);
