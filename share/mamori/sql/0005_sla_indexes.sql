-- mamori schema migration 5 (PRAGMA user_version 4 -> 5): indexes for the
-- SLA summary (breaches and acknowledgements of one month).  Run by the
-- store inside its migration transaction (no BEGIN/COMMIT here); see
-- README.md in this folder.

-- Alerts acknowledged in a time range (time to acknowledge per center and
-- customer); it holds every column that read needs, so the table is not
-- read.  Partial: an alert never acknowledged has no entry.
CREATE INDEX alert_acked_at ON alert (acked_at, customer, center, opened_at, also)
	WHERE acked_at IS NOT NULL;
-- SLA breaches in a time range; partial: the other events, by far the
-- most, have no entry (alert_event_time would walk all of them).
CREATE INDEX alert_event_breach ON alert_event (time) WHERE type = 'sla_breach';
