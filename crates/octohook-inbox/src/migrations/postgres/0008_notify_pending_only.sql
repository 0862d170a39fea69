-- An insert notifies only when it stored a delivery left for a claim: one
-- stored `pending`. A receiver whose workers were free stores the deliveries
-- it takes on at once `processing`, claimed by itself; waking every worker on
-- every machine for those would make each of them run a claim that finds
-- nothing. The inserted rows are read from the statement's transition table.
CREATE OR REPLACE FUNCTION octohook_notify_pending_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT FROM octohook_inserted_rows WHERE status = 'pending') THEN
        PERFORM pg_notify('octohook_deliveries', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER octohook_deliveries_inserted ON octohook_deliveries;

CREATE TRIGGER octohook_deliveries_inserted
    AFTER INSERT ON octohook_deliveries
    REFERENCING NEW TABLE AS octohook_inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION octohook_notify_pending_insert();
