-- Objections (异议) to an approval disclosure (审批公示) raised during its notice period come in
-- from intake (`intake.disclosure.objected`) as reports of the household's township: a channel of
-- their own, referenced by the objection's id.
ALTER TABLE complaints DROP CONSTRAINT complaints_received_via_check;
ALTER TABLE complaints ADD CONSTRAINT complaints_received_via_check
    CHECK (received_via IN ('supervision_hotline', 'hotline_12345', 'web', 'in_person', 'disclosure_objection'));
