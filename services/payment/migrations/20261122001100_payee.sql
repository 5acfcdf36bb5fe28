-- Centralised destitute support is paid to the care institution's collective account.
ALTER TABLE instructions
    ADD COLUMN payee TEXT NOT NULL DEFAULT 'person' CHECK (payee IN ('person', 'care_institution'));
