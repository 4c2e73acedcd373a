-- mamori schema migration 4 (PRAGMA user_version 3 -> 4): outbox ids per
-- node, downtimes entered at run time, and indexes for the read path.
-- Run by the store inside its migration transaction (no BEGIN/COMMIT
-- here); see README.md in this folder.

-- Several nodes may one day share a database: each numbers its own outbox
-- rows, so the key is (node, id) and every statement on the table names
-- the node.  Rows written before this step belong to node '' (a daemon
-- whose node has no rows yet adopts them at startup: store_set_node).
CREATE TABLE outbox_v4 (
	node     TEXT NOT NULL DEFAULT '',
	id       INTEGER NOT NULL CHECK (typeof(id) = 'integer'),
	topic    TEXT NOT NULL,
	payload  BLOB,                     -- NULL: alert_event (alert_id, seq).payload
	alert_id TEXT,
	seq      INTEGER,
	qos      INTEGER NOT NULL DEFAULT 1 CHECK (qos IN (0, 1, 2)),
	retain   INTEGER NOT NULL DEFAULT 0,
	created  REAL NOT NULL,
	CHECK (payload IS NOT NULL OR (alert_id IS NOT NULL AND seq IS NOT NULL)),
	PRIMARY KEY (node, id)
) WITHOUT ROWID;
INSERT INTO outbox_v4 (node, id, topic, payload, alert_id, seq, qos, retain, created)
	SELECT '', id, topic, payload, alert_id, seq, qos, retain, created FROM outbox ORDER BY id;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;

-- Downtimes entered while the daemon runs (those in the configuration
-- file are not stored).  `id` is assigned by the node that made it
-- ("D-<node>-<n>").  asset NULL: the whole customer; check_name NULL: the
-- whole asset.  The daemon loads every row at startup and drops those
-- that have ended.
CREATE TABLE downtime (
	id         TEXT PRIMARY KEY,
	customer   TEXT NOT NULL,
	asset      TEXT,
	check_name TEXT,
	start_at   REAL NOT NULL,
	end_at     REAL NOT NULL,
	author     TEXT,
	comment    TEXT,
	created    REAL NOT NULL,
	CHECK (check_name IS NULL OR asset IS NOT NULL),
	CHECK (end_at >= start_at)
) WITHOUT ROWID;

-- The read path (HTTP, mamorictl): alerts newest first, (opened_at, id)
-- being the page cursor.  Unresolved alerts (what a NOC looks at) are
-- few next to a year of resolved ones, and may be old: they get their own
-- ordered index, so listing them never walks the resolved ones.  Filters
-- by customer or check use alert_customer and alert_check.
CREATE INDEX alert_opened ON alert (opened_at, id);
CREATE INDEX alert_unresolved_opened ON alert (opened_at, id) WHERE status <> 'resolved';
