-- Wakes workers on every machine: a NOTIFY on channel octohook_deliveries,
-- with the table's schema as the payload, when a delivery is inserted or
-- requeued (made pending with its attempts reset). It is sent when the
-- transaction commits, and not at all when it rolls back. A retry coming due
-- is left to the workers' polling.
CREATE OR REPLACE FUNCTION octohook_notify_delivery() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('octohook_deliveries', TG_TABLE_SCHEMA);
    RETURN NULL;
END;
$$;

CREATE TRIGGER octohook_deliveries_inserted
    AFTER INSERT ON octohook_deliveries
    FOR EACH ROW EXECUTE FUNCTION octohook_notify_delivery();

CREATE TRIGGER octohook_deliveries_requeued
    AFTER UPDATE OF status ON octohook_deliveries
    FOR EACH ROW
    WHEN (NEW.status = 'pending' AND NEW.attempts = 0 AND OLD.status <> 'processing')
    EXECUTE FUNCTION octohook_notify_delivery();
