-- What a push carries about a person, stored at enrolment from the determination, so pushes
-- raised later (by feed rules and warnings) carry it as the determination's pushes do.
-- A student's stage of education (preschool | primary | junior_secondary | senior_secondary |
-- vocational | college), for the education department.
ALTER TABLE persons ADD COLUMN school_stage TEXT;
-- A member who cannot fully look after themselves (partial | none); absent otherwise.
ALTER TABLE persons ADD COLUMN self_care TEXT;
-- Nobody of working age in the household is in work.
ALTER TABLE households ADD COLUMN zero_employment_household BOOLEAN NOT NULL DEFAULT false;
