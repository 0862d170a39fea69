-- One NOTIFY per inserting statement instead of one per inserted row: a batch
-- of deliveries (one multi-row INSERT) runs the trigger function once, not
-- once per row. An INSERT whose every row was a duplicate (ON CONFLICT DO
-- NOTHING) now notifies too: the woken workers claim nothing and wait again,
-- which costs less than a function call per stored row. The requeue trigger
-- stays per row: its WHEN clause is checked without calling the function.
DROP TRIGGER octohook_deliveries_inserted ON octohook_deliveries;

CREATE TRIGGER octohook_deliveries_inserted
    AFTER INSERT ON octohook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION octohook_notify_delivery();
