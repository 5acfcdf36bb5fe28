-- Emergency grants are paid per stage, several perhaps in one month: what an instruction pays
-- for is (beneficiary, month, kind, reference), with reference = '<emergency id>/stage-<n>'.
ALTER TABLE instructions ADD COLUMN reference TEXT NOT NULL DEFAULT '';
ALTER TABLE instructions DROP CONSTRAINT instructions_beneficiary_member_id_month_kind_key;
ALTER TABLE instructions ADD CONSTRAINT instructions_once UNIQUE (beneficiary_member_id, month, kind, reference);
