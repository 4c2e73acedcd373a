-- mamori schema migration 3 (PRAGMA user_version 2 -> 3): an outbox row
-- that publishes an alert event refers to the event instead of holding a
-- second copy of its payload.  Run by the store inside its migration
-- transaction (no BEGIN/COMMIT here); see README.md in this folder.
--
-- `payload` NULL means "the payload of alert_event (alert_id, seq)": the
-- store resolves it when it loads the outbox at startup.  Other messages
-- (command results) keep their own payload.  `id` has no AUTOINCREMENT
-- (that cost a sqlite_sequence write per insert): ids only name rows for
-- the delete on PUBACK, and the daemon continues after max(id) at startup.
CREATE TABLE outbox_v3 (
	id       INTEGER PRIMARY KEY,
	topic    TEXT NOT NULL,
	payload  BLOB,                     -- NULL: alert_event (alert_id, seq).payload
	alert_id TEXT,
	seq      INTEGER,
	qos      INTEGER NOT NULL DEFAULT 1 CHECK (qos IN (0, 1, 2)),
	retain   INTEGER NOT NULL DEFAULT 0,
	created  REAL NOT NULL,
	CHECK (payload IS NOT NULL OR (alert_id IS NOT NULL AND seq IS NOT NULL))
);
-- Rows written by schema 2 keep their own payload.
INSERT INTO outbox_v3 (id, topic, payload, qos, retain, created)
	SELECT id, topic, payload, qos, retain, created FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;
