-- Who acted, from the access token: mesh::auth::Actor as JSON {sub, name, role}. Null on rows
-- written before sign-in (their text columns still say who, by name).
ALTER TABLE applications ADD COLUMN submitted_by JSONB;
ALTER TABLE application_history ADD COLUMN by_actor JSONB;
ALTER TABLE determinations ADD COLUMN decided_by_actor JSONB;
-- The officer whose figures the rule's proposal rests on (a manual verification), if any, and
-- the county approver who decided it.
ALTER TABLE proposals
    ADD COLUMN proposed_by JSONB,
    ADD COLUMN decided_by_actor JSONB;
ALTER TABLE emergencies
    ADD COLUMN reported_by_actor JSONB,
    ADD COLUMN decided_by_actor JSONB,
    ADD COLUMN papers_completed_by_actor JSONB;

-- The near-relative registry (近亲属备案) named the staff member by a free-text name, which
-- cannot be compared with the officer who acts. A registration now names the staff member by
-- the subject (`sub`) of their access token, and one person may be registered as a near
-- relative of several staff members. Registrations made before keep their name and have no
-- subject (''): they still flag applications, but block no officer.
ALTER TABLE staff_relatives
    ADD COLUMN staff_sub TEXT NOT NULL DEFAULT '',
    ADD COLUMN registered_by_actor JSONB,
    ALTER COLUMN staff_name DROP NOT NULL;
ALTER TABLE staff_relatives ALTER COLUMN staff_sub DROP DEFAULT;
ALTER TABLE staff_relatives DROP CONSTRAINT staff_relatives_pkey;
ALTER TABLE staff_relatives ADD PRIMARY KEY (id_number, staff_sub);
CREATE INDEX staff_relatives_by_staff ON staff_relatives (staff_sub);
