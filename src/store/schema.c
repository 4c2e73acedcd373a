/*
 * schema: the store's migration steps as SQL text.
 *
 * Step 2 is share/mamori/sql/0002_alerts.sql embedded byte for byte (the
 * .sql file is the documentation copy; tests/unit/test_alerts_store.c
 * fails when the two differ).  To change the schema, add a step: a new
 * .sql file and a new string here, never an edit of a released step.
 */
#include "store/store.h"

#include <stddef.h>

static const char step1[] =
    /* 1: check state, registered assets */
    "CREATE TABLE check_state ("
    " customer TEXT NOT NULL, asset TEXT NOT NULL, name TEXT NOT NULL, plugin TEXT NOT NULL,"
    " state INTEGER NOT NULL, hard INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    " hard_state INTEGER NOT NULL, flapping INTEGER NOT NULL, stale INTEGER NOT NULL,"
    " hist INTEGER NOT NULL, n_hist INTEGER NOT NULL, flap_pct REAL NOT NULL,"
    " last_check REAL, last_change REAL, last_hard_change REAL, next_check REAL,"
    " output TEXT, long_output TEXT, perfdata TEXT,"
    " ack INTEGER NOT NULL DEFAULT 0, ack_expires REAL, ack_author TEXT, ack_comment TEXT,"
    " PRIMARY KEY (customer, asset, name)) WITHOUT ROWID;"
    "CREATE TABLE asset ("
    " customer TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, address TEXT,"
    " source TEXT NOT NULL, registered_at REAL NOT NULL,"
    " PRIMARY KEY (customer, name)) WITHOUT ROWID;";

/* share/mamori/sql/0002_alerts.sql */
static const char step2[] =
    "-- mamori schema migration 2 (PRAGMA user_version 1 -> 2): alerts, their\n"
    "-- event history, SLA deadlines, dispatch records, processed command ids,\n"
    "-- and the outbox.  Run by the store inside its migration transaction\n"
    "-- (no BEGIN/COMMIT here); see README.md in this folder.\n"
    "--\n"
    "-- Times are REAL seconds since the Unix epoch (UTC), like check_state.\n"
    "-- Text columns hold UTF-8.  Booleans are INTEGER 0/1.\n"
    "\n"
    "-- One row per alert (an incident of one check).  `seq` is the seq of the\n"
    "-- alert's last event; `check_key` is the daemon's key of the check\n"
    "-- (\"customer/asset/check\").\n"
    "CREATE TABLE alert (\n"
    "\tid          TEXT PRIMARY KEY,\n"
    "\tcheck_key   TEXT NOT NULL,\n"
    "\tcustomer    TEXT NOT NULL,\n"
    "\tasset       TEXT NOT NULL,\n"
    "\tcheck_name  TEXT NOT NULL,\n"
    "\tservice     TEXT,\n"
    "\tcenter      TEXT,                   -- owning center; NULL when no route matched\n"
    "\talso        TEXT,                   -- JSON array of centers receiving copies\n"
    "\tcontract    INTEGER NOT NULL DEFAULT 0,\n"
    "\tstate       INTEGER NOT NULL,       -- last check state 0..3\n"
    "\tsummary     TEXT,\n"
    "\tstatus      TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),\n"
    "\tflapping    INTEGER NOT NULL DEFAULT 0,\n"
    "\tstale       INTEGER NOT NULL DEFAULT 0,\n"
    "\tmanual      INTEGER NOT NULL DEFAULT 0, -- resolved by a command\n"
    "\tcount       INTEGER NOT NULL DEFAULT 1,\n"
    "\tseq         INTEGER NOT NULL,\n"
    "\topened_at   REAL NOT NULL,\n"
    "\tupdated_at  REAL NOT NULL,\n"
    "\tacked_at    REAL,\n"
    "\tacked_by    TEXT,\n"
    "\tresolved_at REAL\n"
    ");\n"
    "-- Startup: load every unresolved alert, plus the newest alert of each\n"
    "-- check resolved within reopen_within (so a returning problem reopens it).\n"
    "CREATE INDEX alert_unresolved ON alert (status) WHERE status <> 'resolved';\n"
    "CREATE INDEX alert_check ON alert (check_key, opened_at);\n"
    "-- Reports and the dashboard: a customer's or a center's alerts by time.\n"
    "CREATE INDEX alert_customer ON alert (customer, opened_at);\n"
    "CREATE INDEX alert_center ON alert (center, opened_at);\n"
    "-- Retention: prune resolved alerts older than the limit.\n"
    "CREATE INDEX alert_resolved_at ON alert (resolved_at) WHERE resolved_at IS NOT NULL;\n"
    "\n"
    "-- Every event of every alert, in order; (alert_id, seq) is what receivers\n"
    "-- dedupe on.  `payload` is the mamori.alert/1 JSON exactly as published.\n"
    "CREATE TABLE alert_event (\n"
    "\talert_id TEXT NOT NULL REFERENCES alert (id) ON DELETE CASCADE,\n"
    "\tseq      INTEGER NOT NULL,\n"
    "\ttype     TEXT NOT NULL CHECK (type IN ('opened', 'updated', 'acknowledged', 'escalated',\n"
    "\t                 'sla_breach', 'dispatched', 'resolved', 'reopened', 'commented',\n"
    "\t                 'unacknowledged', 'waiting')),\n"
    "\ttime     REAL NOT NULL,\n"
    "\tactor    TEXT NOT NULL,             -- 'mamori' for automatic events\n"
    "\tnote     TEXT,\n"
    "\tcmd_id   TEXT,                      -- the command that caused it\n"
    "\tpayload  TEXT NOT NULL,\n"
    "\tPRIMARY KEY (alert_id, seq)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX alert_event_time ON alert_event (time);\n"
    "\n"
    "-- The SLA clock of an alert (struct sla_clock), one row per alert that has\n"
    "-- terms.  Rewritten with the alert row in the same transaction.  At\n"
    "-- startup the clock is restored as is; deadlines that passed while the\n"
    "-- daemon was down fire once, immediately (alert_restore + alert_fire_due).\n"
    "CREATE TABLE deadline (\n"
    "\talert_id         TEXT PRIMARY KEY REFERENCES alert (id) ON DELETE CASCADE,\n"
    "\ttier             INTEGER NOT NULL,  -- 0-based index into the terms' tiers\n"
    "\ttier_name        TEXT,\n"
    "\tpaused           INTEGER NOT NULL DEFAULT 0, -- bits: 1 wait, 2 downtime\n"
    "\tacked            INTEGER NOT NULL DEFAULT 0,\n"
    "\tstopped          INTEGER NOT NULL DEFAULT 0,\n"
    "\tack_breached     INTEGER NOT NULL DEFAULT 0,\n"
    "\tresolve_breached INTEGER NOT NULL DEFAULT 0,\n"
    "\tack_due          REAL,              -- NULL: none\n"
    "\tresolve_due      REAL,\n"
    "\tack_left         REAL,              -- business seconds left while paused\n"
    "\tresolve_left     REAL,\n"
    "\treannounce_at    REAL,\n"
    "\tbreaches         INTEGER NOT NULL DEFAULT 0\n"
    ") WITHOUT ROWID;\n"
    "-- The nearest deadlines (dashboard \"closest deadline\"; not needed by the\n"
    "-- daemon, which keeps its own heap).\n"
    "CREATE INDEX deadline_ack_due ON deadline (ack_due) WHERE stopped = 0 AND acked = 0;\n"
    "\n"
    "-- On-site work orders: one row per `dispatch` command (the latest row is\n"
    "-- the current plan/result; earlier rows are the history).\n"
    "CREATE TABLE dispatch (\n"
    "\talert_id   TEXT NOT NULL REFERENCES alert (id) ON DELETE CASCADE,\n"
    "\tseq        INTEGER NOT NULL,        -- seq of the `dispatched` event\n"
    "\ttime       REAL NOT NULL,\n"
    "\tactor      TEXT NOT NULL,\n"
    "\tvendor     TEXT,\n"
    "\tplanned_at REAL,\n"
    "\tresult     TEXT,\n"
    "\tPRIMARY KEY (alert_id, seq)\n"
    ") WITHOUT ROWID;\n"
    "\n"
    "-- Processed command ids, for idempotence across restarts (loaded into\n"
    "-- struct cmd_seen at startup, newest first up to its capacity).\n"
    "CREATE TABLE cmd_seen (\n"
    "\tcenter TEXT NOT NULL,\n"
    "\tid     TEXT NOT NULL,\n"
    "\tresult TEXT NOT NULL,               -- cmd_errname(): 'ok', 'unknown_alert', ...\n"
    "\ttime   REAL NOT NULL,\n"
    "\tPRIMARY KEY (center, id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX cmd_seen_time ON cmd_seen (time);\n"
    "\n"
    "-- Messages that must be published, written in the same transaction as the\n"
    "-- change that caused them; deleted only on PUBACK.  Sent in id order.\n"
    "CREATE TABLE outbox (\n"
    "\tid      INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "\ttopic   TEXT NOT NULL,\n"
    "\tpayload BLOB NOT NULL,\n"
    "\tqos     INTEGER NOT NULL DEFAULT 1 CHECK (qos IN (0, 1, 2)),\n"
    "\tretain  INTEGER NOT NULL DEFAULT 0,\n"
    "\tcreated REAL NOT NULL\n"
    ");\n";

static const char *const steps[] = { step1, step2 };

int store_schema_latest(void)
{
	return (int)(sizeof steps / sizeof steps[0]);
}

const char *store_schema_step(int version)
{
	if (version < 1 || version > store_schema_latest())
		return NULL;
	return steps[version - 1];
}
