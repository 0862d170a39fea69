-- The redelivery runner's state, per scope (one hook of one GitHub). Times are
-- nanoseconds since the Unix epoch.
CREATE TABLE redelivery_checkpoints (
    scope            TEXT PRIMARY KEY NOT NULL,
    delivered_at_ns  INTEGER NOT NULL,
    updated_at_ns    INTEGER NOT NULL
) STRICT;

-- One row per redelivery request, recorded before it is sent.
CREATE TABLE redelivery_intents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    scope            TEXT NOT NULL,
    guid             TEXT NOT NULL,
    delivery_id      INTEGER NOT NULL,
    created_at_ns    INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN
                         ('open', 'accepted', 'confirmed', 'rejected', 'abandoned')),
    error            TEXT,
    resolved_at_ns   INTEGER
) STRICT;

CREATE INDEX redelivery_intents_by_guid ON redelivery_intents (scope, guid);
CREATE INDEX redelivery_intents_by_state ON redelivery_intents (scope, state);
