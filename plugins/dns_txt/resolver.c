/*
 * dns_txt: c-ares on the host event loop.
 *
 * One ares channel per distinct `server` per instance, shared by every check
 * that names it (reference counted by check_prepare/check_release).  c-ares
 * tells us which sockets it wants watched through its socket-state callback;
 * each becomes a host fd watcher.  Its retransmission deadlines become one
 * host timer per channel, re-armed from ares_timeout() after every call into
 * c-ares.  No threads, nothing blocks: ares_init reads resolv.conf once, at
 * config load (check_prepare), never during a run.
 *
 * Queries are owned by a dt_qlist (one per run).  Cancelling a run detaches
 * its list: the queries stay inside c-ares (there is no per-query cancel in
 * the c-ares API, and ares_cancel would cancel every check on the channel)
 * and their late callbacks only free the query.
 *
 * Must never: complete a run itself (that is plugin.c's job), or touch a
 * query after its callback returned.
 */
#include <ares.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "dns_txt.h"

#define DNS_CLASS_IN  1
#define EDNS_UDP_SIZE 1232 /* the DNS flag day 2020 value: no IP fragments */

struct dt_sock {
	int fd;
	struct mamori_io *io;
};

struct dt_chan {
	struct dt_inst *in;
	struct dt_chan *next;
	char *server; /* "" for the system resolver */
	int refs;
	ares_channel ares;
	int ares_ok;
	struct mamori_timer *timer;
	struct dt_sock *socks;
	size_t nsocks, capsocks;
};

struct dt_query {
	struct dt_qlist *owner; /* NULL once detached (run cancelled) */
	struct dt_query *next, *prev;
	dt_query_cb cb;
	void *ud;
	long tag;
	int type;
	char name[];
};

static void chan_resched(struct dt_chan *ch)
{
	struct timeval tv, *tp;

	if (!ch->ares_ok)
		return;
	tp = ares_timeout(ch->ares, NULL, &tv);
	if (tp)
		ch->in->host->timer_start(ch->timer, (double)tp->tv_sec + tp->tv_usec / 1e6, 0);
	else
		ch->in->host->timer_stop(ch->timer);
}

static void on_io(struct mamori_io *io, int fd, int revents, void *ud)
{
	struct dt_chan *ch = ud;

	(void)io;
	ares_process_fd(ch->ares, (revents & MAMORI_IO_READ) ? fd : ARES_SOCKET_BAD,
	                (revents & MAMORI_IO_WRITE) ? fd : ARES_SOCKET_BAD);
	chan_resched(ch);
}

static void on_timer(struct mamori_timer *t, void *ud)
{
	struct dt_chan *ch = ud;

	(void)t;
	ares_process_fd(ch->ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	chan_resched(ch);
}

static int sock_add(struct dt_chan *ch, int fd, int events)
{
	const struct mamori_host *h = ch->in->host;

	if (ch->nsocks == ch->capsocks) {
		size_t ncap = ch->capsocks ? ch->capsocks * 2 : 4;
		struct dt_sock *ns = realloc(ch->socks, ncap * sizeof(*ns));

		if (!ns)
			return MAMORI_E_NOMEM;
		ch->socks = ns;
		ch->capsocks = ncap;
	}
	ch->socks[ch->nsocks].io = h->io_new(fd, events, on_io, ch);
	if (!ch->socks[ch->nsocks].io)
		return MAMORI_E_NOMEM;
	ch->socks[ch->nsocks].fd = fd;
	ch->nsocks++;
	return 0;
}

/* c-ares: start, change or stop watching a socket.  It may be called from
 * inside on_io for the very watcher it stops; the host allows io_free of a
 * watcher from its own callback (we never touch it afterwards). */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dt_chan *ch = data;
	const struct mamori_host *h = ch->in->host;
	int events = (readable ? MAMORI_IO_READ : 0) | (writable ? MAMORI_IO_WRITE : 0);
	size_t i;

	for (i = 0; i < ch->nsocks && ch->socks[i].fd != fd; i++)
		;
	if (i < ch->nsocks) {
		if (events) {
			h->io_set(ch->socks[i].io, events);
			return;
		}
		h->io_free(ch->socks[i].io);
		ch->socks[i] = ch->socks[--ch->nsocks];
		return;
	}
	/* On failure the socket is not watched: its queries end by timeout. */
	if (events && sock_add(ch, fd, events) != 0)
		h->log(ch->in, MAMORI_LOG_ERR, "cannot watch DNS socket %d", (int)fd);
}

static void chan_free(struct dt_chan *ch)
{
	const struct mamori_host *h = ch->in->host;

	if (ch->ares_ok)
		ares_destroy(ch->ares); /* pending queries: ARES_EDESTRUCTION */
	for (size_t i = 0; i < ch->nsocks; i++)
		h->io_free(ch->socks[i].io);
	free(ch->socks);
	h->timer_free(ch->timer);
	free(ch->server);
	free(ch);
}

static int chan_new(struct dt_inst *in, const char *server, struct dt_chan **out)
{
	struct ares_options o;
	int optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	              ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ;
	struct dt_chan *ch = calloc(1, sizeof(*ch));
	int rc, arc;

	if (!ch)
		return MAMORI_E_NOMEM;
	ch->in = in;
	ch->server = strdup(server);
	ch->timer = in->host->timer_new(on_timer, ch);
	if (!ch->server || !ch->timer) {
		rc = MAMORI_E_NOMEM;
		goto fail;
	}
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = ch;
	o.timeout = in->opts.timeout_ms;
	o.tries = in->opts.tries;
	/* NOCHECKRESP: hand SERVFAIL and REFUSED answers to us instead of
	 * failing over and ending in "connection refused": the output must
	 * say which it was.  The price: no failover to a second system
	 * resolver on those two answers (timeouts still fail over). */
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOCHECKRESP;
	o.ednspsz = EDNS_UDP_SIZE;
	arc = ares_init_options(&ch->ares, &o, optmask);
	if (arc != ARES_SUCCESS) {
		in->host->log(in, MAMORI_LOG_ERR, "c-ares init: %s", ares_strerror(arc));
		rc = arc == ARES_ENOMEM ? MAMORI_E_NOMEM : MAMORI_E_IO;
		goto fail;
	}
	ch->ares_ok = 1;
	if (server[0]) {
		arc = ares_set_servers_ports_csv(ch->ares, server);
		if (arc != ARES_SUCCESS) {
			in->host->log(in, MAMORI_LOG_ERR, "c-ares server %s: %s", server,
			              ares_strerror(arc));
			rc = MAMORI_E_INVAL;
			goto fail;
		}
	}
	*out = ch;
	return 0;
fail:
	chan_free(ch);
	return rc;
}

int dns_txt__chan_get(struct dt_inst *in, const char *server, struct dt_chan **out)
{
	struct dt_chan *ch;
	int rc;

	if (!server)
		server = "";
	for (ch = in->chans; ch; ch = ch->next) {
		if (strcmp(ch->server, server) == 0) {
			ch->refs++;
			*out = ch;
			return 0;
		}
	}
	rc = chan_new(in, server, &ch);
	if (rc)
		return rc;
	ch->refs = 1;
	ch->next = in->chans;
	in->chans = ch;
	*out = ch;
	return 0;
}

void dns_txt__chan_put(struct dt_chan *ch)
{
	struct dt_chan **pp;

	if (!ch || --ch->refs > 0)
		return;
	for (pp = &ch->in->chans; *pp && *pp != ch; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ch->next;
	chan_free(ch);
}

void dns_txt__chans_destroy(struct dt_inst *in)
{
	while (in->chans) {
		struct dt_chan *ch = in->chans;

		in->chans = ch->next;
		chan_free(ch);
	}
}

static void q_unlink(struct dt_query *q)
{
	struct dt_qlist *l = q->owner;

	if (q->prev)
		q->prev->next = q->next;
	else
		l->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	l->pending--;
	q->owner = NULL;
}

static int map_status(int status)
{
	switch (status) {
	case ARES_SUCCESS: return DT_ST_OK;
	case ARES_ENOTFOUND: return DT_ST_NXDOMAIN;
	case ARES_ENODATA: return DT_ST_NODATA;
	case ARES_ESERVFAIL: return DT_ST_SERVFAIL;
	case ARES_ETIMEOUT: return DT_ST_TIMEOUT;
	case ARES_ECONNREFUSED: return DT_ST_CONNREFUSED;
	case ARES_EREFUSED: return DT_ST_REFUSED;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED: return DT_ST_CANCELLED;
	default: return DT_ST_ERROR;
	}
}

/* TXT answer: the record set. */
static int parse_txt(const unsigned char *abuf, int alen, struct dt_txtset *set)
{
	struct ares_txt_ext *list = NULL;
	int prc = ares_parse_txt_reply_ext(abuf, alen, &list), st = DT_ST_OK;

	if (prc == ARES_ENODATA)
		st = DT_ST_NODATA; /* e.g. only a CNAME came back */
	else if (prc != ARES_SUCCESS || dns_txt__set_from_ares(set, list) != 0)
		st = DT_ST_ERROR;
	else if (set->n == 0)
		st = DT_ST_NODATA;
	ares_free_data(list);
	return st;
}

/* A, AAAA or MX answer: how many records of the type (a CNAME alone is
 * NODATA, as for a receiver it is). */
static int parse_count(int type, const unsigned char *abuf, int alen, struct dt_answer *a)
{
	struct ares_addrttl v4[64];
	struct ares_addr6ttl v6[64];
	struct ares_mx_reply *mx = NULL;
	int n = 64, prc;

	if (type == DT_TYPE_A)
		prc = ares_parse_a_reply(abuf, alen, NULL, v4, &n);
	else if (type == DT_TYPE_AAAA)
		prc = ares_parse_aaaa_reply(abuf, alen, NULL, v6, &n);
	else {
		prc = ares_parse_mx_reply(abuf, alen, &mx);
		n = 0;
		for (const struct ares_mx_reply *m = mx; m; m = m->next)
			n++;
		a->nullmx = n == 1 && mx->host[0] == '\0';
		ares_free_data(mx);
	}
	if (prc == ARES_ENODATA || (prc == ARES_SUCCESS && n == 0))
		return DT_ST_NODATA;
	if (prc != ARES_SUCCESS)
		return DT_ST_ERROR;
	a->count = n;
	return DT_ST_OK;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dt_query *q = arg;
	struct dt_txtset set = { NULL, 0 };
	struct dt_answer a;

	(void)timeouts;
	if (!q->owner) { /* its run was cancelled */
		free(q);
		return;
	}
	q_unlink(q);
	memset(&a, 0, sizeof(a));
	a.set = &set;
	a.status = map_status(status);
	if (a.status == DT_ST_OK)
		a.status = q->type == DT_TYPE_TXT ? parse_txt(abuf, alen, &set)
		                                  : parse_count(q->type, abuf, alen, &a);
	q->cb(q, &a, q->ud);
	dns_txt__set_clear(&set);
	free(q);
}

int dns_txt__query(struct dt_chan *ch, const char *name, int type, struct dt_qlist *owner,
                   dt_query_cb cb, void *ud, long tag)
{
	size_t n = strlen(name);
	struct dt_query *q = calloc(1, sizeof(*q) + n + 1);

	if (!q)
		return MAMORI_E_NOMEM;
	memcpy(q->name, name, n + 1);
	q->cb = cb;
	q->ud = ud;
	q->tag = tag;
	q->type = type;
	q->owner = owner;
	q->next = owner->head;
	if (owner->head)
		owner->head->prev = q;
	owner->head = q;
	owner->pending++;
	/* May call on_answer before returning (bad name, no memory): q is then
	 * already gone, so it is not touched below. */
	ares_query(ch->ares, name, DNS_CLASS_IN, type, on_answer, q);
	chan_resched(ch);
	return 0;
}

long dns_txt__query_tag(const struct dt_query *q)
{
	return q->tag;
}

const char *dns_txt__query_name(const struct dt_query *q)
{
	return q->name;
}

void dns_txt__qlist_detach(struct dt_qlist *l)
{
	while (l->head)
		q_unlink(l->head);
}
