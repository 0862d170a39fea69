-- The trace a delivery belongs to: the W3C traceparent of the span that stored
-- it (00-TRACEID-SPANID-FLAGS), which each attempt's span is a child of. NULL
-- when the receiver traced nothing. The store writes only values it validated,
-- 55 characters; the CHECK keeps any other writer to that bound.
ALTER TABLE octohook_deliveries ADD COLUMN trace_parent TEXT
    CHECK (trace_parent IS NULL OR length(trace_parent) = 55);
