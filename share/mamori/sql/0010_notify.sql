-- mamori schema migration 10 (PRAGMA user_version 9 -> 10): on-call
-- notifications (src/notify).  Run by the store inside its migration
-- transaction (no BEGIN/COMMIT here); see README.md in this folder.

-- The alert event type `notify_failed` (a notification to a technician
-- was given up): alert_event's CHECK cannot be altered in place, so the
-- table is rebuilt with the wider list, its rows and indexes as they were.
CREATE TABLE alert_event_v10 (
	alert_id TEXT NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
	seq      INTEGER NOT NULL,
	type     TEXT NOT NULL CHECK (type IN ('opened', 'updated', 'acknowledged', 'escalated',
	                 'sla_breach', 'dispatched', 'resolved', 'reopened', 'commented',
	                 'unacknowledged', 'waiting', 'notify_failed')),
	time     REAL NOT NULL,
	actor    TEXT NOT NULL,
	note     TEXT,
	cmd_id   TEXT,
	payload  TEXT NOT NULL,
	PRIMARY KEY (alert_id, seq)
) WITHOUT ROWID;
INSERT INTO alert_event_v10 (alert_id, seq, type, time, actor, note, cmd_id, payload)
	SELECT alert_id, seq, type, time, actor, note, cmd_id, payload FROM alert_event;
DROP TABLE alert_event;
ALTER TABLE alert_event_v10 RENAME TO alert_event;
CREATE INDEX alert_event_time ON alert_event (time);
CREATE INDEX alert_event_breach ON alert_event (time) WHERE type = 'sla_breach';

-- One notification: an alert event told to one contact over one
-- channel.  Written in the same transaction as the alert event it tells
-- of, so a crash leaves both or neither; the key is what deduplicates
-- (a restart never pages twice).  (alert_id, seq) is the alert event
-- (its payload describes the alert at that time); `event` is its type,
-- or 'repeat-N' for the N-th repeat page of an unacknowledged alert (at
-- the alert's seq of that moment).
-- status: 'pending' (to send; `due` says when), 'sending' (handed to the
-- channel: a crash now means it may have gone out), 'sent', 'failed'
-- (given up).  Rows stay after sending, for the dedup and the history,
-- until retention.
CREATE TABLE notify_item (
	alert_id TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	event    TEXT NOT NULL,
	contact  TEXT NOT NULL,
	channel  TEXT NOT NULL,
	node     TEXT NOT NULL DEFAULT '',
	status   TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	created  REAL NOT NULL,
	due      REAL,
	updated  REAL NOT NULL,
	error    TEXT,
	PRIMARY KEY (alert_id, seq, event, contact, channel)
) WITHOUT ROWID;
-- Startup: the node's unsent notifications.
CREATE INDEX notify_item_open ON notify_item (node, status) WHERE status IN ('pending', 'sending');
-- Retention.
CREATE INDEX notify_item_created ON notify_item (created);

-- Every attempt to deliver a notification and how it went: 'sent',
-- 'retry' (failed, tried again later), 'failed' (the channel says it
-- never works), 'gave_up' (retried too long), 'cancelled' (a reload or
-- a stop interrupted it), 'unknown' (mamorid stopped during it: it may
-- have gone out).  `message_id` is the e-mail's Message-ID (or the
-- message's id for other channels): a duplicate after a crash has the
-- same one.
CREATE TABLE notify_attempt (
	alert_id   TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	event      TEXT NOT NULL,
	contact    TEXT NOT NULL,
	channel    TEXT NOT NULL,
	attempt    INTEGER NOT NULL,
	time       REAL NOT NULL,
	result     TEXT NOT NULL CHECK (result IN ('sent', 'retry', 'failed', 'gave_up',
	                                           'cancelled', 'unknown')),
	detail     TEXT,
	message_id TEXT,
	PRIMARY KEY (alert_id, seq, event, contact, channel, attempt)
) WITHOUT ROWID;
CREATE INDEX notify_attempt_time ON notify_attempt (time);

-- Paging state of an unresolved alert: its tier when last paged, the
-- worst severity seen, when to page again while nobody acknowledges
-- (repeat_at NULL: not again), how many repeats so far, the alert's last
-- event seen (seq: its payload tells a repeat page), and who was paged
-- (a JSON array of contact names: they hear of the resolution).
-- Deleted when the alert resolves.
CREATE TABLE notify_page (
	alert_id  TEXT PRIMARY KEY,
	node      TEXT NOT NULL DEFAULT '',
	center    TEXT,
	tier      TEXT,
	severity  INTEGER NOT NULL,
	repeat_at REAL,
	repeats   INTEGER NOT NULL DEFAULT 0,
	seq       INTEGER NOT NULL DEFAULT 0,
	paged     TEXT
) WITHOUT ROWID;

-- The key that signs what replies carry (message ids, reply addresses,
-- SMS codes, links) when notify.secret_file names none: made once, so
-- a reply to a message sent before a restart still verifies and a
-- message sent again after a crash keeps its id.  One row.
CREATE TABLE notify_key (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	key BLOB NOT NULL CHECK (length(key) >= 16)
);

-- A document the service mails by itself (a monthly report) to one
-- address: the outbox row holds the whole message (subject, text, HTML,
-- the attached file) until it is sent or given up, when the HTML and the
-- file are dropped (subject and text stay for the history).  Written in
-- the same transaction as whatever hands the document on (the report's
-- own record), so a crash leaves both or neither.  (key, address) is the
-- row's key: "report/<customer>/<YYYY-MM>" and the recipient.  status
-- and attempts as in notify_item; message_id is the same on every
-- attempt.
CREATE TABLE notify_mail (
	key        TEXT NOT NULL,
	address    TEXT NOT NULL,
	node       TEXT NOT NULL DEFAULT '',
	channel    TEXT NOT NULL,
	customer   TEXT,
	subject    TEXT NOT NULL,
	body       TEXT NOT NULL,
	html       TEXT,
	att_name   TEXT,
	att_type   TEXT,
	att        BLOB,
	status     TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	created    REAL NOT NULL,
	due        REAL,
	updated    REAL NOT NULL,
	error      TEXT,
	message_id TEXT,
	PRIMARY KEY (key, address)
);
CREATE INDEX notify_mail_open ON notify_mail (node, status) WHERE status IN ('pending', 'sending');
CREATE INDEX notify_mail_created ON notify_mail (created);
