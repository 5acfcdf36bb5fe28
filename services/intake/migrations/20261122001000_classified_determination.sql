-- What the applicant declares beyond income, for the income exclusions, the asset test and
-- rigid-expenditure hardship.
ALTER TABLE application_members
    ADD COLUMN pension_base_fen      BIGINT NOT NULL DEFAULT 0 CHECK (pension_base_fen >= 0),
    ADD COLUMN employment_costs_fen  BIGINT NOT NULL DEFAULT 0 CHECK (employment_costs_fen >= 0),
    ADD COLUMN rigid_expenditure_fen BIGINT NOT NULL DEFAULT 0 CHECK (rigid_expenditure_fen >= 0),
    ADD COLUMN declared_assets_fen   BIGINT NOT NULL DEFAULT 0 CHECK (declared_assets_fen >= 0);

-- Duplicate detection looks people up by ID number.
CREATE INDEX application_members_by_id_number ON application_members (id_number);

-- Integrity flags raised at intake (near relatives of staff), and the manual-review event a
-- later manual verification answers.
ALTER TABLE applications
    ADD COLUMN integrity_flags        JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN manual_review_event_id TEXT;

ALTER TABLE determinations
    ADD COLUMN classifications JSONB NOT NULL DEFAULT '[]';

-- Near-relative registration (近亲属备案): relatives of civil-affairs staff and village cadres.
CREATE TABLE staff_relatives (
    id_number     TEXT        PRIMARY KEY,
    staff_name    TEXT        NOT NULL,
    relation      TEXT        NOT NULL,
    registered_by TEXT        NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
