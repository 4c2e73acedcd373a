-- mamori schema migration 8 (PRAGMA user_version 7 -> 8): an alert keeps
-- the runbook of its check (a URL or a short text: what to do), as of the
-- check's last result, so it stays with the alert when a reload changes
-- or removes the check.  Run by the store inside its migration
-- transaction (no BEGIN/COMMIT here); see README.md in this folder.
ALTER TABLE alert ADD COLUMN runbook TEXT;
