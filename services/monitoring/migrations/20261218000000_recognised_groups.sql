-- A member's recognised group (return_to_poverty, other_hardship; 002 一(一)), as determined:
-- a later push of the member (from a feed, a warning) carries it, so the department decides by
-- the group's rule when the household falls in no tier. NULL: in none.
ALTER TABLE persons ADD COLUMN recognised_group TEXT;
