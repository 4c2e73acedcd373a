-- mamori schema migration 7 (PRAGMA user_version 6 -> 7): the perfdata
-- history.  Run by the store inside its migration transaction (no
-- BEGIN/COMMIT here); see README.md in this folder.
--
-- One row per series: a perfdata label of one check.  `id` is assigned by
-- the daemon once (it loads every row at startup and continues after the
-- largest id); `unit` is the unit after normalisation (ms and us become s,
-- KB/MB/GB/TB become B); `last_seen` is written at most once a day.
CREATE TABLE series (
	id         INTEGER PRIMARY KEY,
	customer   TEXT NOT NULL,
	asset      TEXT NOT NULL,
	check_name TEXT NOT NULL,
	label      TEXT NOT NULL,
	unit       TEXT NOT NULL DEFAULT '',
	created    REAL NOT NULL,
	last_seen  REAL NOT NULL,
	UNIQUE (customer, asset, check_name, label)
);

-- Samples as they came (at most one per series per
-- history.raw_min_interval), kept history.raw_retention (48 h).  `t` is
-- milliseconds since the Unix epoch.
CREATE TABLE series_raw (
	series INTEGER NOT NULL,
	t      INTEGER NOT NULL,
	v      REAL NOT NULL,
	PRIMARY KEY (series, t)
) WITHOUT ROWID;

-- Rollups of every sample: 5-minute buckets kept history.rollup_5m_retention
-- (35 d), hourly buckets kept history.rollup_1h_retention (395 d).  `t` is
-- the bucket's start in seconds since the Unix epoch (a multiple of 300 or
-- 3600); avg = vsum / n.  The daemon adds to a bucket at every write
-- (min of mins, max of maxes, sums of sums and counts), so a bucket still
-- open holds what has been written so far.
CREATE TABLE series_5m (
	series INTEGER NOT NULL,
	t      INTEGER NOT NULL,
	vmin   REAL NOT NULL,
	vmax   REAL NOT NULL,
	vsum   REAL NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (series, t)
) WITHOUT ROWID;
CREATE TABLE series_1h (
	series INTEGER NOT NULL,
	t      INTEGER NOT NULL,
	vmin   REAL NOT NULL,
	vmax   REAL NOT NULL,
	vsum   REAL NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (series, t)
) WITHOUT ROWID;
