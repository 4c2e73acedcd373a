/*
 * api_events: GET /api/v1/events, the live stream (Server-Sent Events).
 *
 * A client subscribes through the service layer with its own scope: it
 * receives the state changes and alert events it may see (a viewer: its
 * customer's), optionally only some types (?types=state,alert,command,
 * downtime) and one customer (?customer=).  Every event carries
 * `id: <epoch>-<seq>`; a client that reconnects with Last-Event-ID (or
 * ?after=) first gets what it missed from the hub's ring, or an event
 * `gap` when the ring no longer reaches back that far (or the daemon
 * restarted: another epoch) - it must then reload what it shows.
 *
 * Flow control: each client has a queue of rendered bytes.  MHD pulls
 * from it through a content reader; an empty queue suspends the
 * connection, and new bytes resume it.  A client that does not read lets
 * its queue grow to SSE_QUEUE_MAX and is then dropped: it costs at most
 * that much memory and never blocks the loop.  A comment line every
 * SSE_HEARTBEAT seconds keeps proxies from timing out and finds clients
 * that left.
 * Must never: block, hold more than SSE_QUEUE_MAX per client, send an
 * event outside the client's scope (the app filters, this file adds the
 * customer filter only).
 */
#include "http/http_int.h"
#include "alert/alert.h"
#include "app/app.h"
#include "events/events.h"
#include "util/log.h"
#include "util/mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SSE_QUEUE_MAX (1024 * 1024)
#define SSE_HEARTBEAT 15.0
#define SSE_MAX       2000
#define SSE_REPLAY    10000 /* alert events from the store on one resume */

struct sse {
	struct req *r;
	struct sse_hub *hub;
	struct app_sub *sub;
	struct buf q;   /* rendered, not yet taken by MHD */
	size_t off;     /* taken so far from q */
	int suspended;  /* MHD is waiting for bytes */
	int dropped;    /* too slow: end the stream */
	int gone;       /* MHD closed it */
	char *customer; /* ?customer= */
	/* a store replay is running: live events wait here */
	int holding;
	int replay_pending;   /* a store read will call on_replay */
	char *reason;         /* of the gap the replay follows */
	char skip_alert[128]; /* the replay skips this alert's events up to skip_seq */
	long skip_seq;
	struct buf held;
	struct held_ev {
		char *alert_id;
		uint32_t seq;
	} * held_alerts;
	size_t n_held_alerts;
	struct sse *next, *prev;
};

struct sse_hub {
	struct http *h;
	struct sse *list;
	size_t n;
	ev_timer beat;
	unsigned long long sent, dropped_slow;
};

static void wake(struct sse *s)
{
	if (s->suspended && !s->gone) {
		s->suspended = 0;
		MHD_resume_connection(s->r->conn);
		http__wake(s->r->l);
	}
}

static void push(struct sse *s, const char *data, size_t n)
{
	if (s->dropped || s->gone)
		return;
	if (s->q.n - s->off + n > SSE_QUEUE_MAX) {
		/* it does not read: drop it before it costs memory */
		s->dropped = 1;
		s->hub->dropped_slow++;
		buf_free(&s->q);
		s->off = 0;
		log_info("http", "event stream of %s dropped: it did not read (%d bytes waiting)",
		         s->r->who.user, SSE_QUEUE_MAX);
		wake(s);
		return;
	}
	if (s->off && s->off == s->q.n) {
		s->q.n = 0;
		s->off = 0;
	}
	buf_add(&s->q, data, n);
	wake(s);
}

static const char *type_name(enum event_type t)
{
	switch (t) {
	case EVENT_STATE: return "state";
	case EVENT_ALERT: return "alert";
	case EVENT_COMMAND: return "command";
	case EVENT_DOWNTIME: return "downtime";
	}
	return "event";
}

/* The alert event's own seq, from its mamori.alert/1 rendering. */
static long alert_seq_of(const char *json)
{
	const char *p = strstr(json, "\"seq\":");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

/* One event rendered into b: id, name, data lines.  The id:
 * "<epoch>-<seq>.<us>[.<alert seq>.<alert id>]" - the hub's run and
 * number (0: a position in the store), the event's time in microseconds
 * and, for an alert event, which one it is (a resume from the store
 * skips it and that alert's earlier events). */
static void render(struct buf *b, uint64_t epoch, uint64_t seq, double t, const char *name,
                   const char *alert_id, const char *json)
{
	buf_put(b, "id: %" PRIu64 "-%" PRIu64 ".%lld", epoch, seq,
	        t > 0 ? (long long)llround(t * 1e6) : 0LL);
	long as = alert_id ? alert_seq_of(json) : -1;
	if (as >= 0 && !strpbrk(alert_id, "\r\n"))
		buf_put(b, ".%ld.%s", as, alert_id);
	buf_put(b, "\nevent: %s\n", name);
	/* data: one line per line of the rendering (JSON has none, but a
	 * newline must never end the event early) */
	const char *p = json;
	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_add(b, "data: ", 6);
		buf_add(b, p, n);
		buf_add(b, "\n", 1);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
	buf_add(b, "\n", 1);
}

static void on_event(void *ud, const struct event *e)
{
	struct sse *s = ud;
	if (s->customer && (!e->customer || strcmp(e->customer, s->customer) != 0))
		return;
	if (s->holding) {
		if (s->held.n > SSE_QUEUE_MAX) {
			s->dropped = 1; /* too much while the store was read */
			wake(s);
			return;
		}
		render(&s->held, app_events_epoch(req_app(s->r)), e->seq, e->time,
		       type_name(e->type), e->type == EVENT_ALERT ? e->subject : NULL, e->json);
		const struct event_alert *ea = e->type == EVENT_ALERT ? e->detail : NULL;
		if (ea && ea->ev && e->subject) {
			s->held_alerts = xrealloc(s->held_alerts,
			                          (s->n_held_alerts + 1) * sizeof *s->held_alerts);
			s->held_alerts[s->n_held_alerts].alert_id = xstrdup(e->subject);
			s->held_alerts[s->n_held_alerts++].seq = ea->ev->seq;
		}
		return;
	}
	struct buf b = { 0 };
	render(&b, app_events_epoch(req_app(s->r)), e->seq, e->time, type_name(e->type),
	       e->type == EVENT_ALERT ? e->subject : NULL, e->json);
	push(s, b.p, b.n);
	s->hub->sent++;
	buf_free(&b);
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;
	if (s->dropped || s->gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t have = s->q.n - s->off;
	if (!have) {
		/* nothing to send: sleep until push() wakes us */
		s->suspended = 1;
		MHD_suspend_connection(s->r->conn);
		return 0;
	}
	size_t n = have < max ? have : max;
	memcpy(out, s->q.p + s->off, n);
	s->off += n;
	if (s->off == s->q.n) {
		s->q.n = 0;
		s->off = 0;
		if (s->q.cap > 65536)
			buf_free(&s->q); /* a burst is over: give its memory back */
	}
	return (ssize_t)n;
}

static void on_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sse_hub *hub = w->data;
	for (struct sse *s = hub->list; s; s = s->next)
		push(s, ": keep-alive\n\n", 14);
}

static struct sse_hub *hub_of(struct http *h)
{
	if (!h->sse) {
		struct sse_hub *hub = xcalloc(1, sizeof *hub);
		hub->h = h;
		ev_timer_init(&hub->beat, on_beat, SSE_HEARTBEAT, SSE_HEARTBEAT);
		hub->beat.data = hub;
		h->sse = hub;
	}
	return h->sse;
}

/* "types=state,alert" -> mask; 0 for a bad name */
static uint32_t parse_types(const char *v)
{
	uint32_t m = 0;
	while (*v) {
		const char *c = strchr(v, ',');
		size_t n = c ? (size_t)(c - v) : strlen(v);
		static const struct {
			const char *n;
			enum event_type t;
		} names[] = { { "state", EVENT_STATE },
			      { "alert", EVENT_ALERT },
			      { "command", EVENT_COMMAND },
			      { "downtime", EVENT_DOWNTIME } };
		size_t i = 0;
		while (i < 4 && !(strlen(names[i].n) == n && strncmp(names[i].n, v, n) == 0))
			i++;
		if (i == 4)
			return 0;
		m |= EVENT_MASK(names[i].t);
		v += n;
		if (*v == ',')
			v++;
	}
	return m;
}

/* Decimal digits at *p into *out (no sign, no blank, no overflow). */
static int id_number(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (s == *p)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

int sse_parse_id(const char *v, struct sse_id *id)
{
	memset(id, 0, sizeof *id);
	if (id_number(&v, &id->epoch) != 0 || *v++ != '-' || id_number(&v, &id->seq) != 0)
		return -1;
	if (!*v)
		return 0;
	if (*v++ != '.' || id_number(&v, &id->us) != 0 || id->us > 100000000000000000ULL)
		return -1;
	id->has_time = 1;
	if (!*v)
		return 0;
	if (*v++ != '.' || id_number(&v, &id->alert_seq) != 0 || *v++ != '.' || !*v ||
	    strlen(v) >= sizeof id->alert)
		return -1;
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return -1;
	memcpy(id->alert, v, strlen(v) + 1);
	id->has_alert = 1;
	return 0;
}

/* Where a client was: the id of the last event it got. */
struct last_id {
	uint64_t epoch, seq;
	int has_time;
	double time;     /* seconds */
	long alert_seq;  /* -1: not an alert event */
	char alert[128]; /* its alert's id */
};

static int parse_last_id(const char *v, struct last_id *l)
{
	struct sse_id id;
	if (sse_parse_id(v, &id) != 0 || id.alert_seq > 0x7fffffff)
		return -1;
	memset(l, 0, sizeof *l);
	l->epoch = id.epoch;
	l->seq = id.seq;
	l->has_time = id.has_time;
	l->time = (double)id.us / 1e6;
	l->alert_seq = id.has_alert ? (long)id.alert_seq : -1;
	snprintf(l->alert, sizeof l->alert, "%s", id.alert);
	return 0;
}

static void gap_event(struct sse *s, const char *reason, int from_store)
{
	char g[160];
	int n = snprintf(g, sizeof g,
	                 "event: gap\ndata: {\"reason\":\"%s\",\"alerts_from_store\":%s}\n\n",
	                 reason, from_store ? "true" : "false");
	push(s, g, (size_t)n);
}

/* Stop holding: what arrived meanwhile goes out. */
static void release_held(struct sse *s)
{
	s->holding = 0;
	if (s->held.n)
		push(s, s->held.p, s->held.n);
	buf_free(&s->held);
	for (size_t i = 0; i < s->n_held_alerts; i++)
		free(s->held_alerts[i].alert_id);
	free(s->held_alerts);
	s->held_alerts = NULL;
	s->n_held_alerts = 0;
}

static void sse_free(struct sse *s)
{
	release_held(s);
	buf_free(&s->q);
	free(s->customer);
	free(s->reason);
	free(s);
}

/* The store's alert events since the client's last one: after the gap
 * event, before what was held. */
static void on_replay(void *ud, int err, const char *msg, struct app_stored_events *l)
{
	struct sse *s = ud;
	s->replay_pending = 0;
	if (s->gone) { /* the client left meanwhile */
		app_stored_events_free(l);
		sse_free(s);
		return;
	}
	gap_event(s, s->reason ? s->reason : "too_old", err == APP_OK);
	uint64_t epoch = app_events_epoch(req_app(s->r));
	for (size_t i = 0; l && i < l->n; i++) {
		const struct app_stored_event *x = &l->rows[i];
		int dup = 0;
		for (size_t k = 0; k < s->n_held_alerts && !dup; k++)
			dup = s->held_alerts[k].seq == x->seq &&
			      strcmp(s->held_alerts[k].alert_id, x->alert_id) == 0;
		if (dup)
			continue; /* it comes with the held events */
		if (s->skip_seq >= 0 && (long)x->seq <= s->skip_seq &&
		    strcmp(x->alert_id, s->skip_alert) == 0)
			continue; /* the client had it (and that alert's earlier ones) */
		if (s->customer && !strstr(x->json, s->customer))
			continue; /* cheap pre-filter; the exact test below */
		if (s->customer) {
			char k[300];
			snprintf(k, sizeof k, "\"customer\":\"%s\"", s->customer);
			if (!strstr(x->json, k))
				continue;
		}
		struct buf b = { 0 };
		render(&b, epoch, 0, x->time, "alert", x->alert_id, x->json); /* 0: the store */
		push(s, b.p, b.n);
		s->hub->sent++;
		buf_free(&b);
	}
	if (l && l->truncated)
		gap_event(s, "too_many", 0);
	app_stored_events_free(l);
	release_held(s);
}

int api_events(struct req *r)
{
	struct http *h = r->h;
	struct sse_hub *hub = hub_of(h);
	uint32_t mask =
	    EVENT_MASK(EVENT_STATE) | EVENT_MASK(EVENT_ALERT) | EVENT_MASK(EVENT_DOWNTIME);
	const char *types = req_query(r, "types");
	if (types && !(mask = parse_types(types)))
		return reply_error(
		    r, 400, "bad_parameter",
		    "query parameter 'types': a comma-separated list of state, alert, "
		    "command, downtime");
	const char *customer = req_query(r, "customer");
	if (customer && r->who.role == ROLE_VIEWER && strcmp(customer, r->who.customer) != 0)
		return reply_error(r, 404, "not_found", "no such customer");
	const char *last = req_header(r, "Last-Event-ID");
	const char *q_after = req_query(r, "after");
	if (q_after)
		last = q_after;
	struct last_id li;
	if (last && parse_last_id(last, &li) != 0)
		return reply_error(r, 400, "bad_parameter",
		                   "Last-Event-ID (or 'after') must be an id this stream sent "
		                   "(\"<epoch>-<seq>.<us>...\")");
	if (hub->n >= SSE_MAX)
		return reply_error(r, 503, "unavailable", "too many event streams (at most %d)",
		                   SSE_MAX);
	/* where to resume: the ring (this run, a live event's id), the store
	 * (a store position, another run, or the ring no longer reaching
	 * back: alert events only), or nowhere (a gap) */
	uint64_t after = APP_LIVE_ONLY;
	const char *reason = NULL;
	int ring = 0;
	if (last) {
		/* "<epoch>-0" without a time: everything the ring holds */
		if (li.epoch == app_events_epoch(req_app(r)) && (li.seq > 0 || !li.has_time)) {
			after = li.seq;
			ring = 1;
		} else {
			reason = li.epoch != app_events_epoch(req_app(r)) ? "restarted" : "store";
		}
	}
	int want_store = last && li.has_time && (mask & EVENT_MASK(EVENT_ALERT));
	struct sse *s = xcalloc(1, sizeof *s);
	s->r = r;
	s->hub = hub;
	s->skip_seq = last ? li.alert_seq : -1;
	if (last)
		snprintf(s->skip_alert, sizeof s->skip_alert, "%s", li.alert);
	s->customer = customer ? xstrdup(customer) : NULL;
	r->sse = s;
	s->next = hub->list;
	if (hub->list)
		hub->list->prev = s;
	hub->list = s;
	if (hub->n++ == 0)
		ev_timer_start(h->loop, &hub->beat);
	/* first a retry hint, then what was missed, then live */
	push(s, "retry: 2000\n\n", 13);
	struct app_scope sc;
	who_scope(&r->who, &sc);
	int ring_gap = 0;
	s->holding = want_store; /* until we know whether the store is needed */
	s->sub = app_subscribe(req_app(r), &sc, after, mask, on_event, s, &ring_gap);
	if (ring && ring_gap)
		reason = "too_old";
	int started = 0;
	if (reason && want_store) {
		char msg[APP_MSG_MAX];
		s->reason = xstrdup(reason);
		/* the events from the time of the client's last one on: those
		 * of the same instant too (several are emitted in one loop
		 * iteration), but not that one itself nor its alert's earlier
		 * ones; another alert's event of the very same instant may come
		 * twice (at least once) */
		if (app_events_since(req_app(r), &sc, li.time - 1e-6, SSE_REPLAY, on_replay, s, msg,
		                     sizeof msg) == APP_OK) {
			s->replay_pending = 1;
			started = 1;
		}
	}
	if (!started) {
		if (reason)
			gap_event(s, reason, 0);
		release_held(s);
	}
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader, s, NULL);
	if (!resp)
		return reply_error(r, 500, "internal", "cannot start the stream");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	r->resp = resp;
	r->status = 200;
	r->stream_started = 1;
	return 0;
}

/* MHD closed the connection of r (on_completed). */
void api_events_closed(struct req *r)
{
	struct sse *s = r->sse;
	if (!s)
		return;
	struct sse_hub *hub = s->hub;
	r->sse = NULL;
	s->gone = 1;
	app_unsubscribe(req_app(r), s->sub);
	if (s->prev)
		s->prev->next = s->next;
	else
		hub->list = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (--hub->n == 0)
		ev_timer_stop(hub->h->loop, &hub->beat);
	s->sub = NULL;
	if (s->replay_pending)
		return; /* on_replay frees it */
	sse_free(s);
}

/* Shutdown: wake every suspended stream so MHD can close it. */
void api_events_shutdown(struct http *h)
{
	struct sse_hub *hub = h->sse;
	if (!hub)
		return;
	for (struct sse *s = hub->list; s; s = s->next) {
		s->dropped = 1;
		wake(s);
	}
	ev_timer_stop(h->loop, &hub->beat);
}

void api_events_free(struct http *h)
{
	free(h->sse);
	h->sse = NULL;
}

size_t api_events_clients(const struct http *h)
{
	return h->sse ? h->sse->n : 0;
}

void api_events_stats(const struct http *h, unsigned long long *sent, unsigned long long *dropped)
{
	*sent = h->sse ? h->sse->sent : 0;
	*dropped = h->sse ? h->sse->dropped_slow : 0;
}
