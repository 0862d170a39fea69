-- Bodies and headers compressed with LZ4 rather than pglz, where the server
-- has it (PostgreSQL 14 and later, built with lz4, as the Debian, Red Hat and
-- official images are). A payload above 2 KiB is compressed on every insert:
-- with pglz that was a sixth of the server's CPU per delivery, LZ4 does it in
-- a fraction of that. Only values written from now on change; none is
-- rewritten, and older values keep reading as they are. Without LZ4 nothing
-- changes.
DO $$
BEGIN
    IF EXISTS (
        SELECT FROM pg_settings
        WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)
    ) THEN
        ALTER TABLE octohook_deliveries
            ALTER COLUMN body SET COMPRESSION lz4,
            ALTER COLUMN headers SET COMPRESSION lz4;
    END IF;
END
$$;
