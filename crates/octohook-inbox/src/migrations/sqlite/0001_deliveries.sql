-- Deliveries, one row per (hook, GUID). Times are milliseconds since the Unix
-- epoch. hook_id 0 stands for "no X-GitHub-Hook-ID".
CREATE TABLE IF NOT EXISTS octohook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    hook_id       INTEGER NOT NULL,
    guid          TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    action        TEXT,
    content_type  TEXT    NOT NULL,
    headers       TEXT    NOT NULL,
    body          BLOB    NOT NULL,
    received_at   INTEGER NOT NULL,
    status        TEXT    NOT NULL
        CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- Bumped on every claim: a worker's claim is (id, claim_seq).
    claim_seq     INTEGER NOT NULL DEFAULT 0,
    -- pending: next attempt; processing: lease end; NULL once finished.
    due_at        INTEGER,
    lease_owner   TEXT,
    last_error    TEXT,
    updated_at    INTEGER NOT NULL,
    UNIQUE (hook_id, guid)
);

CREATE INDEX IF NOT EXISTS octohook_deliveries_due
    ON octohook_deliveries (due_at, id)
    WHERE status IN ('pending', 'processing');

CREATE INDEX IF NOT EXISTS octohook_deliveries_received
    ON octohook_deliveries (received_at);
