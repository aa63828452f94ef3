-- A hold may come into force after it is created: `pauseplay pause at` stores an ad hoc window
-- ahead of time. A hold is in force at `now` when it is unreleased, `expires_at_ms > now`, and
-- `starts_at_ms IS NULL OR starts_at_ms <= now`. NULL means "in force from creation", which is
-- what every hold stored before this migration is. A hold always starts before it expires, so
-- expiring holds can never release one before it started.
ALTER TABLE holds ADD COLUMN starts_at_ms INTEGER
    CHECK (starts_at_ms IS NULL OR starts_at_ms < expires_at_ms);

-- `status` lists the holds not yet in force, and the reconcile loop wakes up at the next start.
CREATE INDEX holds_upcoming ON holds (starts_at_ms)
    WHERE released_at_ms IS NULL AND starts_at_ms IS NOT NULL;
