-- Pull mode (octohook pull): how each delivery reached the inbox, and where
-- each pulled hook's listing stands.
--
-- origin: 'pushed' (GitHub sent it, signed: a worker verifies it again) or
-- 'pulled' (read back from GitHub's API: no signature covers the stored body).
-- Every earlier row was pushed.
ALTER TABLE octohook_deliveries ADD COLUMN origin TEXT NOT NULL DEFAULT 'pushed'
    CHECK (origin IN ('pushed', 'pulled'));

-- One row per pulled hook (scope, such as "repo:octo/hello#42"): the newest
-- delivery id its pull has stored everything up to. Times are milliseconds
-- since the Unix epoch.
CREATE TABLE octohook_pull_cursors (
    scope      TEXT    PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
