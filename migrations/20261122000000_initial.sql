-- The first schema of state.db: holds, the per-component write-ahead journal, and the
-- append-only history.
--
-- Released migrations are never edited (sqlx checks their hashes at start); change the schema
-- with a new file with a later timestamp. Times are INTEGER Unix milliseconds (UTC); JSON
-- columns are TEXT checked with json_valid. Tables are STRICT so a value of the wrong type is
-- refused instead of being stored as whatever it happens to be.

-- A hold is one reason for an org (or part of it) to be paused: a manual pause, one occurrence
-- of a scheduled window, or an ad hoc window. Holds are a set, not a counter: an org is paused
-- while at least one of its holds is unreleased and unexpired. Rows are never deleted, so a
-- released hold still explains the history that names it.
CREATE TABLE holds (
    -- AUTOINCREMENT: ids are shown to operators (`resume --hold ID`) and stored in history,
    -- so an id must never be handed out twice, even after the newest row is gone.
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    org                 TEXT    NOT NULL CHECK (org <> ''),
    source              TEXT    NOT NULL CHECK (source IN ('manual', 'window', 'ad_hoc')),
    -- the window's name (source 'window') or the ad hoc window's name (source 'ad_hoc')
    source_name         TEXT,
    -- the nominal start of the scheduled occurrence (source 'window' only)
    occurrence_start_ms INTEGER,
    -- the socket peer's uid, or NULL when the daemon itself created the hold
    owner_uid           INTEGER CHECK (owner_uid IS NULL OR owner_uid BETWEEN 0 AND 4294967295),
    owner_name          TEXT    NOT NULL,
    reason              TEXT,
    -- HoldScope as JSON: {"kinds": [...] | null, "objects": [...] | null}
    scope               TEXT    NOT NULL CHECK (json_valid(scope)),
    created_at_ms       INTEGER NOT NULL,
    expires_at_ms       INTEGER NOT NULL,
    released_at_ms      INTEGER,
    -- who released it: a user name, "daemon", or "expired"
    released_by         TEXT,
    CHECK (
        (source = 'manual' AND source_name IS NULL AND occurrence_start_ms IS NULL)
        OR (source = 'window' AND source_name IS NOT NULL AND occurrence_start_ms IS NOT NULL)
        OR (source = 'ad_hoc' AND source_name IS NOT NULL AND occurrence_start_ms IS NULL)
    ),
    CHECK ((released_at_ms IS NULL) = (released_by IS NULL))
) STRICT;

-- active_holds and expire_holds look only at unreleased rows, a handful among many released.
CREATE INDEX holds_unreleased ON holds (expires_at_ms) WHERE released_at_ms IS NULL;

-- One hold per (org, window, occurrence), released or not. The reconciler is level-triggered
-- and re-evaluates every tick; an occurrence that was already held, or ended early by an
-- override, must never be held a second time (past and overridden windows are never replayed).
CREATE UNIQUE INDEX holds_window_occurrence ON holds (org, source_name, occurrence_start_ms)
    WHERE source = 'window';

-- The write-ahead journal: one row per component that pauseplay has touched in an org, with
-- the state it found (prior_state, restored at the end) and the state it set (set_state, the
-- compare-and-set guard of the restore). The row is committed before any remote change.
CREATE TABLE journal (
    org           TEXT    NOT NULL CHECK (org <> ''),
    kind          TEXT    NOT NULL CHECK (kind IN
                      ('flow', 'process_builder', 'trigger', 'validation_rule', 'workflow_rule')),
    sf_id         TEXT    NOT NULL CHECK (sf_id <> ''),
    api_name      TEXT    NOT NULL,
    object        TEXT,
    prior_state   TEXT    NOT NULL CHECK (json_valid(prior_state)),
    set_state     TEXT    NOT NULL CHECK (json_valid(set_state)),
    step          TEXT    NOT NULL CHECK (step IN
                      ('pausing', 'paused', 'restoring', 'restored', 'conflict', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error    TEXT,
    conflict      TEXT,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (org, kind, sf_id)
) STRICT;

-- The audit trail. Append-only: the triggers below refuse every UPDATE and DELETE, so not even
-- a bug (or a hand-typed statement) can rewrite what happened.
CREATE TABLE history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms      INTEGER NOT NULL,
    -- NULL for events that concern no single org (daemon start, config reload)
    org        TEXT,
    actor_uid  INTEGER CHECK (actor_uid IS NULL OR actor_uid BETWEEN 0 AND 4294967295),
    actor_name TEXT    NOT NULL,
    action     TEXT    NOT NULL CHECK (action <> ''),
    hold_id    INTEGER REFERENCES holds (id),
    detail     TEXT    NOT NULL CHECK (json_valid(detail))
) STRICT;

-- `pauseplay history --org O` reads one org's newest entries first.
CREATE INDEX history_org ON history (org, id);

CREATE TRIGGER history_no_update BEFORE UPDATE ON history
BEGIN
    SELECT RAISE(ABORT, 'history is append-only: its rows cannot be updated');
END;

CREATE TRIGGER history_no_delete BEFORE DELETE ON history
BEGIN
    SELECT RAISE(ABORT, 'history is append-only: its rows cannot be deleted');
END;
