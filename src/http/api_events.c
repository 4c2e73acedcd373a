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
#include "app/app.h"
#include "events/events.h"
#include "util/log.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SSE_QUEUE_MAX (1024 * 1024)
#define SSE_HEARTBEAT 15.0
#define SSE_MAX       2000

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

static void on_event(void *ud, const struct event *e)
{
	struct sse *s = ud;
	if (s->customer && (!e->customer || strcmp(e->customer, s->customer) != 0))
		return;
	struct buf b = { 0 };
	buf_put(&b, "id: %" PRIu64 "-%" PRIu64 "\nevent: %s\n", app_events_epoch(req_app(s->r)),
	        e->seq, type_name(e->type));
	/* data: one line per line of the rendering (JSON has none, but a
	 * newline must never end the event early) */
	const char *p = e->json;
	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_add(&b, "data: ", 6);
		buf_add(&b, p, n);
		buf_add(&b, "\n", 1);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
	buf_add(&b, "\n", 1);
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

/* "<epoch>-<seq>" of this daemon: the seq; another epoch: a gap (0 with
 * *gap); garbage: -1. */
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

int sse_parse_id(const char *v, uint64_t *epoch, uint64_t *seq)
{
	if (id_number(&v, epoch) != 0 || *v++ != '-' || id_number(&v, seq) != 0 || *v)
		return -1;
	return 0;
}

static int parse_last_id(struct req *r, const char *v, uint64_t *after, int *gap)
{
	uint64_t ep, seq;
	if (sse_parse_id(v, &ep, &seq) != 0)
		return -1;
	if (ep != app_events_epoch(req_app(r))) {
		*gap = 1;
		*after = APP_LIVE_ONLY;
	} else {
		*after = seq;
	}
	return 0;
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
	uint64_t after = APP_LIVE_ONLY;
	int gap = 0;
	const char *last = req_header(r, "Last-Event-ID");
	const char *q_after = req_query(r, "after");
	if (q_after)
		last = q_after;
	if (last && parse_last_id(r, last, &after, &gap) != 0)
		return reply_error(r, 400, "bad_parameter",
		                   "Last-Event-ID (or 'after') must be an id this stream sent "
		                   "(\"<epoch>-<seq>\")");
	if (hub->n >= SSE_MAX)
		return reply_error(r, 503, "unavailable", "too many event streams (at most %d)",
		                   SSE_MAX);
	struct sse *s = xcalloc(1, sizeof *s);
	s->r = r;
	s->hub = hub;
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
	s->sub = app_subscribe(req_app(r), &sc, after, mask, on_event, s, &ring_gap);
	if (gap || ring_gap) {
		char g[160];
		int n = snprintf(g, sizeof g, "event: gap\ndata: {\"reason\":\"%s\"}\n\n",
		                 gap ? "restarted" : "too_old");
		push(s, g, (size_t)n);
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
	buf_free(&s->q);
	free(s->customer);
	free(s);
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
