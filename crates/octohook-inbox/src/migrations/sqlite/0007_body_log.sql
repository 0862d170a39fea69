-- Bodies move out of the database into an append-only body log: segment files
-- in the directory "<database file>-bodies/", each body written once, appended,
-- and synced once per transaction (through the WAL and a checkpoint, each body
-- page was written twice and synced twice).
--
-- Where a delivery's body lies in the log: segment number, byte offset and
-- length. NULL for a body in octohook_delivery_bodies: rows stored before this
-- version, and small bodies (up to a page), which cost less there.
ALTER TABLE octohook_deliveries ADD COLUMN body_segment INTEGER;
ALTER TABLE octohook_deliveries ADD COLUMN body_offset INTEGER;
ALTER TABLE octohook_deliveries ADD COLUMN body_length INTEGER;

-- The log's segments that rows may point into, one row each; the last one is
-- being appended to. length: where its committed bodies end (bytes past it
-- belong to a transaction that did not commit, and are written over).
-- first_id: the first delivery stored in it. Ids and segments grow together
-- (both are taken under the write lock), so every delivery whose body is in
-- segment s has an id from its first_id up to the next segment's: a purge finds
-- the segments no delivery points into by looking up id ranges.
CREATE TABLE octohook_body_segments (
    segment  INTEGER PRIMARY KEY CHECK (segment > 0),
    length   INTEGER NOT NULL CHECK (length >= 0),
    first_id INTEGER NOT NULL
);
