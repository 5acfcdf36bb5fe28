-- Risk supervision (风险监督预警): a near relative registered finds the determinations its
-- staff member made by hand.
CREATE INDEX determinations_by_decider ON determinations ((decided_by_actor ->> 'sub'))
    WHERE decided_by NOT LIKE 'rule:%';
