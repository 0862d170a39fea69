-- Deliveries, one row per (hook, GUID). hook_id 0 stands for "no
-- X-GitHub-Hook-ID"; ids above 2^63 are kept as their two's-complement bits.
CREATE TABLE IF NOT EXISTS octohook_deliveries (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hook_id       BIGINT      NOT NULL,
    guid          TEXT        NOT NULL,
    event         TEXT        NOT NULL,
    action        TEXT,
    content_type  TEXT        NOT NULL,
    headers       TEXT        NOT NULL,
    body          BYTEA       NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    status        TEXT        NOT NULL
        CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts      INTEGER     NOT NULL DEFAULT 0,
    -- Bumped on every claim: a worker's claim is (id, claim_seq).
    claim_seq     BIGINT      NOT NULL DEFAULT 0,
    -- pending: next attempt; processing: lease end; NULL once finished.
    due_at        TIMESTAMPTZ,
    lease_owner   TEXT,
    last_error    TEXT,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT octohook_deliveries_key UNIQUE (hook_id, guid)
);

CREATE INDEX IF NOT EXISTS octohook_deliveries_due
    ON octohook_deliveries (due_at, id)
    WHERE status IN ('pending', 'processing');

CREATE INDEX IF NOT EXISTS octohook_deliveries_received
    ON octohook_deliveries (received_at);
