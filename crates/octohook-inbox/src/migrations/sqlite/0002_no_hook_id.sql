-- "No X-GitHub-Hook-ID" becomes its own namespace, distinct from hook id 0:
-- has_hook_id is 0 for deliveries sent without the header. Version 1 stored
-- those as hook_id 0, the value it reserved for them (GitHub never assigns
-- it), so every existing row with hook_id 0 is one of them.
--
-- SQLite cannot change a table's UNIQUE constraint in place: the table is
-- rebuilt, keeping row ids and the AUTOINCREMENT counter, so ids of purged rows
-- are never reused.
ALTER TABLE octohook_deliveries RENAME TO octohook_deliveries_v1;

CREATE TABLE octohook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The hook id's bits as a signed integer; 0 when has_hook_id is 0.
    hook_id       INTEGER NOT NULL,
    has_hook_id   INTEGER NOT NULL CHECK (has_hook_id IN (0, 1)),
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
    claim_seq     INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER,
    lease_owner   TEXT,
    last_error    TEXT,
    updated_at    INTEGER NOT NULL,
    UNIQUE (hook_id, has_hook_id, guid)
);

INSERT INTO octohook_deliveries (id, hook_id, has_hook_id, guid, event, action,
    content_type, headers, body, received_at, status, attempts, claim_seq, due_at,
    lease_owner, last_error, updated_at)
SELECT id, hook_id, hook_id <> 0, guid, event, action, content_type, headers, body,
    received_at, status, attempts, claim_seq, due_at, lease_owner, last_error,
    updated_at
FROM octohook_deliveries_v1;

-- The renamed table took the counter along; give it back.
DELETE FROM sqlite_sequence WHERE name = 'octohook_deliveries';
UPDATE sqlite_sequence SET name = 'octohook_deliveries'
    WHERE name = 'octohook_deliveries_v1';

DROP TABLE octohook_deliveries_v1;

CREATE INDEX octohook_deliveries_due
    ON octohook_deliveries (due_at, id)
    WHERE status IN ('pending', 'processing');

CREATE INDEX octohook_deliveries_received
    ON octohook_deliveries (received_at);
