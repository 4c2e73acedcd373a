-- mamori schema migration 9 (PRAGMA user_version 8 -> 9): the history of
-- check states (what the monthly report's availability is counted from)
-- and the monthly reports the schedule has made.  Run by the store inside
-- its migration transaction (no BEGIN/COMMIT here); see README.md in this
-- folder.

-- One row per change of a check's hard state or staleness, and one for a
-- check's first result: the state from `t` until the check's next row.
-- `state` 0..3 (OK, WARNING, CRITICAL, UNKNOWN); `stale` 1 when the state
-- came from freshness (no report within stale_after: a silent agent);
-- `output` the first line of the result that made the change, cut to 200
-- bytes.  Written by src/statelog through the journal, in the batch of the
-- check state it describes.  Two changes of one check within the same
-- instant keep the last.
CREATE TABLE state_change (
	customer   TEXT NOT NULL,
	asset      TEXT NOT NULL,
	check_name TEXT NOT NULL,
	t          REAL NOT NULL,
	state      INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
	stale      INTEGER NOT NULL DEFAULT 0,
	output     TEXT,
	PRIMARY KEY (customer, asset, check_name, t)
) WITHOUT ROWID;
-- Retention: the oldest rows first.
CREATE INDEX state_change_t ON state_change (t);

-- The monthly reports the schedule generated and handed on for delivery,
-- one row per customer and month ('YYYY-MM'), written in the batch that
-- hands the report on (so a restart never makes it twice).  `status`:
-- 'handed' (given to the delivery hook), 'no_delivery' (generated, nothing
-- to send it with), 'failed' (generation failed; `detail` says why).
CREATE TABLE report_run (
	customer TEXT NOT NULL,
	month    TEXT NOT NULL,
	time     REAL NOT NULL,
	status   TEXT NOT NULL CHECK (status IN ('handed', 'no_delivery', 'failed')),
	detail   TEXT,
	PRIMARY KEY (customer, month)
) WITHOUT ROWID;
