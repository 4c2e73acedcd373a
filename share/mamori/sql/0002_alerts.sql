-- mamori schema migration 2 (PRAGMA user_version 1 -> 2): alerts, their
-- event history, SLA deadlines, dispatch records, processed command ids,
-- and the outbox.  Run by the store inside its migration transaction
-- (no BEGIN/COMMIT here); see README.md in this folder.
--
-- Times are REAL seconds since the Unix epoch (UTC), like check_state.
-- Text columns hold UTF-8.  Booleans are INTEGER 0/1.

-- One row per alert (an incident of one check).  `seq` is the seq of the
-- alert's last event; `check_key` is the daemon's key of the check
-- ("customer/asset/check").
CREATE TABLE alert (
	id          TEXT PRIMARY KEY,
	check_key   TEXT NOT NULL,
	customer    TEXT NOT NULL,
	asset       TEXT NOT NULL,
	check_name  TEXT NOT NULL,
	service     TEXT,
	center      TEXT,                   -- owning center; NULL when no route matched
	also        TEXT,                   -- JSON array of centers receiving copies
	contract    INTEGER NOT NULL DEFAULT 0,
	state       INTEGER NOT NULL,       -- last check state 0..3
	summary     TEXT,
	status      TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
	flapping    INTEGER NOT NULL DEFAULT 0,
	stale       INTEGER NOT NULL DEFAULT 0,
	manual      INTEGER NOT NULL DEFAULT 0, -- resolved by a command
	count       INTEGER NOT NULL DEFAULT 1,
	seq         INTEGER NOT NULL,
	opened_at   REAL NOT NULL,
	updated_at  REAL NOT NULL,
	acked_at    REAL,
	acked_by    TEXT,
	resolved_at REAL
);
-- Startup: load every unresolved alert, plus the newest alert of each
-- check resolved within reopen_within (so a returning problem reopens it).
CREATE INDEX alert_unresolved ON alert (status) WHERE status <> 'resolved';
CREATE INDEX alert_check ON alert (check_key, opened_at);
-- Reports and the dashboard: a customer's or a center's alerts by time.
CREATE INDEX alert_customer ON alert (customer, opened_at);
CREATE INDEX alert_center ON alert (center, opened_at);
-- Retention: prune resolved alerts older than the limit.
CREATE INDEX alert_resolved_at ON alert (resolved_at) WHERE resolved_at IS NOT NULL;

-- Every event of every alert, in order; (alert_id, seq) is what receivers
-- dedupe on.  `payload` is the mamori.alert/1 JSON exactly as published.
CREATE TABLE alert_event (
	alert_id TEXT NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,
	type     TEXT NOT NULL CHECK (type IN ('opened', 'updated', 'acknowledged', 'escalated',
	                 'sla_breach', 'dispatched', 'resolved', 'reopened', 'commented',
	                 'unacknowledged', 'waiting')),
	time     REAL NOT NULL,
	actor    TEXT NOT NULL,             -- 'mamori' for automatic events
	note     TEXT,
	cmd_id   TEXT,                      -- the command that caused it
	payload  TEXT NOT NULL,
	PRIMARY KEY (alert_id, seq)
) WITHOUT ROWID;
CREATE INDEX alert_event_time ON alert_event (time);

-- The SLA clock of an alert (struct sla_clock), one row per alert that has
-- terms.  Rewritten with the alert row in the same transaction.  At
-- startup the clock is restored as is; deadlines that passed while the
-- daemon was down fire once, immediately (alert_restore + alert_fire_due).
CREATE TABLE deadline (
	alert_id         TEXT PRIMARY KEY REFERENCES alert (id) ON DELETE CASCADE,
	tier             INTEGER NOT NULL,  -- 0-based index into the terms' tiers
	tier_name        TEXT,
	paused           INTEGER NOT NULL DEFAULT 0, -- bits: 1 wait, 2 downtime
	acked            INTEGER NOT NULL DEFAULT 0,
	stopped          INTEGER NOT NULL DEFAULT 0,
	ack_breached     INTEGER NOT NULL DEFAULT 0,
	resolve_breached INTEGER NOT NULL DEFAULT 0,
	ack_due          REAL,              -- NULL: none
	resolve_due      REAL,
	ack_left         REAL,              -- business seconds left while paused
	resolve_left     REAL,
	reannounce_at    REAL,
	breaches         INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- The nearest deadlines (dashboard "closest deadline"; not needed by the
-- daemon, which keeps its own heap).
CREATE INDEX deadline_ack_due ON deadline (ack_due) WHERE stopped = 0 AND acked = 0;

-- On-site work orders: one row per `dispatch` command (the latest row is
-- the current plan/result; earlier rows are the history).
CREATE TABLE dispatch (
	alert_id   TEXT NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,        -- seq of the `dispatched` event
	time       REAL NOT NULL,
	actor      TEXT NOT NULL,
	vendor     TEXT,
	planned_at REAL,
	result     TEXT,
	PRIMARY KEY (alert_id, seq)
) WITHOUT ROWID;

-- Processed command ids, for idempotence across restarts (loaded into
-- struct cmd_seen at startup, newest first up to its capacity).
CREATE TABLE cmd_seen (
	center TEXT NOT NULL,
	id     TEXT NOT NULL,
	result TEXT NOT NULL,               -- cmd_errname(): 'ok', 'unknown_alert', ...
	time   REAL NOT NULL,
	PRIMARY KEY (center, id)
) WITHOUT ROWID;
CREATE INDEX cmd_seen_time ON cmd_seen (time);

-- Messages that must be published, written in the same transaction as the
-- change that caused them; deleted only on PUBACK.  Sent in id order.
CREATE TABLE outbox (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	topic   TEXT NOT NULL,
	payload BLOB NOT NULL,
	qos     INTEGER NOT NULL DEFAULT 1 CHECK (qos IN (0, 1, 2)),
	retain  INTEGER NOT NULL DEFAULT 0,
	created REAL NOT NULL
);
