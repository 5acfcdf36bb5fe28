-- A recovery case per instruction and change: a re-determination that lowers a month already
-- instructed, and a later one or a stop that lowers it again, each open their own part.
ALTER TABLE recoveries DROP CONSTRAINT recoveries_instruction_id_key;
ALTER TABLE recoveries ADD CONSTRAINT recoveries_once_per_change UNIQUE (instruction_id, change_id);
CREATE INDEX recoveries_by_instruction ON recoveries (instruction_id);
