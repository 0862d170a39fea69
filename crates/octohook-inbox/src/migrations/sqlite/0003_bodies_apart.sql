-- Bodies move to a table of their own, one row per delivery, the body its last
-- column. SQLite rewrites a whole row on every UPDATE, and builds a whole record
-- in memory on every INSERT: with the body in the deliveries row, each claim,
-- renewal and completion rewrote up to 25 MiB, and each insert held the body
-- twice more. Apart, status updates never touch it, and an insert writes a
-- zero-filled blob that the body is then copied into in place.
CREATE TABLE octohook_delivery_bodies (
    -- The delivery's id.
    id   INTEGER PRIMARY KEY,
    body BLOB    NOT NULL
);

INSERT INTO octohook_delivery_bodies (id, body)
    SELECT id, body FROM octohook_deliveries;

-- The old column stays (SQLite cannot drop it cheaply), empty.
UPDATE octohook_deliveries SET body = x'';

CREATE TRIGGER octohook_delivery_bodies_follow
    AFTER DELETE ON octohook_deliveries
BEGIN
    DELETE FROM octohook_delivery_bodies WHERE id = OLD.id;
END;
