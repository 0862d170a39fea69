-- "No X-GitHub-Hook-ID" becomes its own namespace, distinct from hook id 0:
-- has_hook_id is false for deliveries sent without the header. Version 1
-- stored those as hook_id 0, the value it reserved for them (GitHub never
-- assigns it), so every existing row with hook_id 0 is one of them.
ALTER TABLE octohook_deliveries ADD COLUMN has_hook_id BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE octohook_deliveries SET has_hook_id = FALSE WHERE hook_id = 0;
ALTER TABLE octohook_deliveries ALTER COLUMN has_hook_id DROP DEFAULT;
ALTER TABLE octohook_deliveries DROP CONSTRAINT octohook_deliveries_key;
ALTER TABLE octohook_deliveries
    ADD CONSTRAINT octohook_deliveries_key UNIQUE (hook_id, has_hook_id, guid);
