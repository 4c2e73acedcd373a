-- mamori schema migration 11 (PRAGMA user_version 10 -> 11): when the
-- daemon itself was monitoring, so that the time it was not (stopped,
-- crashed, the machine down) is told apart from a check's last state.
-- Run by the store inside its migration transaction (no BEGIN/COMMIT
-- here); see README.md in this folder.

-- One row per run of a daemon (`node`): `started` when it began
-- monitoring, `seen` the last moment it is known to have been running
-- (rewritten every minute, and at a clean stop), `stopped` 1 after a
-- clean stop.  A run that crashed keeps the `seen` of its last minute.
-- Written by src/statelog through the journal.  The monthly report
-- counts the time between one run's `seen` and the next run's `started`
-- (and after a run that stopped) as "no data", not as the checks' last
-- states.
CREATE TABLE monitor_run (
	node    TEXT NOT NULL,
	started REAL NOT NULL,
	seen    REAL NOT NULL,
	stopped INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (node, started)
) WITHOUT ROWID;
-- The report's read: the runs that reach into a month.
CREATE INDEX monitor_run_seen ON monitor_run (seen);
