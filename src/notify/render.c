/*
 * render: the text of a notification - subject, body, SMS text and the
 * e-mail threading ids - from the templates of the contact's language
 * (share/mamori/notify/<lang>.tmpl, util/tmpl.h syntax), in the
 * contact's time zone.
 *
 * One item: the [subject], [body] and [sms] sections with the alert's
 * fields.  Several (a bundle): [bundle.subject], [bundle.body] and
 * [bundle.sms], the items grouped by (event, severity, customer,
 * service), each group one [bundle.line] ("9 x CRITICAL utm opened:
 * Example Co (pc-001, pc-002, pc-003, ...)"), the largest first.
 *
 * The SMS text keeps what matters: the field marked {{x|cut}} (the
 * check's output, or a bundle's summary) is shortened first - between
 * characters, ending in an ellipsis - until the whole fits the channel's
 * segments (sms.c); if it is gone and the rest is still too long, the
 * field marked {{y|cut2}} (the customer's name) is shortened too.  Only
 * when even that does not fit is the end cut (still between characters),
 * so the template puts what matters least last.
 *
 * Must never: put a header line break into a subject (the output's
 * first line only), read a template past its end.
 */
#include "notify/notify_int.h"
#include "cal/cal.h"
#include "config/config.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/tmpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS      8
#define ASSETS_PER_LINE 3

/* The built-in text when no template file can be read. */
static const char builtin[] =
    "[subject]\n[mamori] {{severity_label}} {{event_label}}: {{customer_name}} {{service}} "
    "{{asset}}/{{check}}\n"
    "[body]\n{{customer_name}} {{service}} {{asset}}/{{check}}: {{event_label}}\n{{summary}}\n"
    "{{?link}}{{link}}\n{{/link}}\n"
    "[sms]\n{{severity_label}} {{event_label}} {{customer_name}} {{service}} {{asset}} "
    "{{summary|cut}} {{link}}\n"
    "[bundle.subject]\n[mamori] {{count}} notifications: {{top}}\n"
    "[bundle.line]\n{{n}} x {{severity_label}} {{service}} {{event_label}}: {{customer_name}} "
    "({{assets}})\n"
    "[bundle.body]\n{{lines}}\n"
    "[bundle.sms]\nmamori: {{count}} alerts: {{top|cut}} {{link}}\n";

struct ntemplates {
	char *text[2]; /* ja, en */
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > 1024 * 1024)
				break; /* a template is small: refuse a huge file */
			buf = xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	if (!buf || cap > 1024 * 1024) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

struct ntemplates *ntemplates_load(const char *data_dir)
{
	static const char *const langs[2] = { "ja", "en" };
	struct ntemplates *t = xcalloc(1, sizeof *t);
	for (int i = 0; i < 2; i++) {
		char *path = xasprintf("%s/notify/%s.tmpl", data_dir ? data_dir : ".", langs[i]);
		t->text[i] = read_file(path);
		const char *body;
		size_t len;
		if (!t->text[i] || tmpl_section(t->text[i], "subject", &body, &len) != 0) {
			log_always("notify", LOG_LVL_ERR,
			           "cannot read the %s templates %s: built-in English text is used",
			           langs[i], path);
			free(t->text[i]);
			t->text[i] = xstrdup(builtin);
		}
		free(path);
	}
	return t;
}

void ntemplates_free(struct ntemplates *t)
{
	if (!t)
		return;
	free(t->text[0]);
	free(t->text[1]);
	free(t);
}

void nmsg_free(struct nmsg *m)
{
	free(m->subject);
	free(m->body);
	free(m->short_text);
	free(m->message_id);
	free(m->in_reply_to);
	free(m->references);
	free(m->reply_to);
	free(m->severity);
	memset(m, 0, sizeof *m);
}

/* ---- fields ---- */

void nfields_free(struct nfields *f)
{
	free(f->customer);
	free(f->customer_name);
	free(f->asset);
	free(f->check);
	free(f->service);
	free(f->summary);
	free(f->center);
	free(f->tier);
	free(f->status);
	memset(f, 0, sizeof *f);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void nfields_copy(struct nfields *d, const struct nfields *s)
{
	*d = *s;
	d->customer = dup0(s->customer);
	d->customer_name = dup0(s->customer_name);
	d->asset = dup0(s->asset);
	d->check = dup0(s->check);
	d->service = dup0(s->service);
	d->summary = dup0(s->summary);
	d->center = dup0(s->center);
	d->tier = dup0(s->tier);
	d->status = dup0(s->status);
}

void nrender_link(const struct notify_conf *nc, const char *alert_id, char *buf, size_t size)
{
	if (!nc->link_base || !alert_id) {
		if (size)
			buf[0] = '\0';
		return;
	}
	snprintf(buf, size, "%s/alerts/%s", nc->link_base, alert_id);
}

void nrender_short_link(const struct notify_conf *nc, const char *alert_id, char *buf, size_t size)
{
	if (!nc->link_base || !alert_id) {
		if (size)
			buf[0] = '\0';
		return;
	}
	/* "A-<node>-<14 base32>": the counter part names the alert on the
	 * dashboard's short path; the node only matters to several nodes */
	const char *tail = strrchr(alert_id, '-');
	snprintf(buf, size, "%s/a/%s", nc->link_base, tail && tail[1] ? tail + 1 : alert_id);
}

static int eq_or_any(const char *want, const char *have)
{
	return !want || (have && strcmp(want, have) == 0);
}

const char *nrender_runbook(const struct notify_conf *nc, const struct nfields *f)
{
	for (size_t i = 0; i < nc->n_runbooks; i++) {
		const struct nrunbook *b = &nc->runbooks[i];
		if (eq_or_any(b->service, f->service) && eq_or_any(b->check, f->check) &&
		    eq_or_any(b->customer, f->customer))
			return b->text;
	}
	return NULL;
}

static const char *severity_name(int state)
{
	static const char *const n[4] = { "ok", "warning", "critical", "unknown" };
	return n[state & 3];
}

/* ---- rendering ---- */

struct rctx {
	const char *tmpl; /* the language's file */
	const struct notify_conf *nc;
	const struct ncontact *ct;
	const struct nchannel *ch;
	const struct nitem *it; /* one item's fields (the first of a bundle) */
	const char *node;
	double now;
	char ack_link[1200];
	char link[512], short_link[512], opened[64], ack[64], ack_short[32], resolve[64], code[8];
	char label_event[128], label_sev[128], repeat[16];
	/* a bundle */
	char count[24], window[160], top[512];
	const char *lines;
	/* a bundle line */
	const char *g_event, *g_sev, *g_customer, *g_service;
	char g_n[24], g_assets[256];
	char g_label_event[128], g_label_sev[128];
	/* while fitting an SMS: the |cut and |cut2 fields' values (NULL: full) */
	const char *cut1, *cut2;
	int has_reply;
};

/* A [label.x] of the language (x itself when there is none). */
static void label(const char *tmpl, const char *x, char *buf, size_t size)
{
	char sec[96];
	const char *body;
	size_t len;
	snprintf(sec, sizeof sec, "label.%s", x);
	if (tmpl_section(tmpl, sec, &body, &len) == 0 && len) {
		const char *nl = memchr(body, '\n', len);
		if (nl)
			len = (size_t)(nl - body);
		snprintf(buf, size, "%.*s", (int)len, body);
	} else {
		snprintf(buf, size, "%s", x);
	}
}

/* "2026-12-07 18:30 +09:00" in the contact's zone; "" for 0.  shorter:
 * "12/07 18:30", or "18:30" when it is the same local day as `now`. */
static void local_time(const struct ncontact *ct, double t, int shorter, double now, char *buf,
                       size_t size)
{
	if (t <= 0) {
		if (size)
			buf[0] = '\0';
		return;
	}
	long off = ct && ct->tz ? cal_utc_offset(ct->tz, (time_t)t) : 0;
	int64_t local = (int64_t)t + off;
	int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	int64_t sec = local - days * 86400;
	int y, m, d;
	notify__civil(days, &y, &m, &d);
	long aoff = off < 0 ? -off : off;
	int64_t lnow = (int64_t)now + (ct && ct->tz ? cal_utc_offset(ct->tz, (time_t)now) : 0);
	int64_t today = lnow >= 0 ? lnow / 86400 : (lnow - 86399) / 86400;
	if (shorter && now > 0 && today == days)
		snprintf(buf, size, "%02d:%02d", (int)(sec / 3600), (int)(sec / 60 % 60));
	else if (shorter)
		snprintf(buf, size, "%02d/%02d %02d:%02d", m, d, (int)(sec / 3600),
		         (int)(sec / 60 % 60));
	else
		snprintf(buf, size, "%04d-%02d-%02d %02d:%02d %c%02ld:%02ld", y, m, d,
		         (int)(sec / 3600), (int)(sec / 60 % 60), off < 0 ? '-' : '+', aoff / 3600,
		         aoff / 60 % 60);
}

static const char *field(const struct rctx *r, const char *name)
{
	const struct nitem *it = r->it;
	const struct nfields *f = it ? &it->f : NULL;
#define IS(x) (strcmp(name, x) == 0)
	if (r->g_event) { /* a bundle line */
		if (IS("n"))
			return r->g_n;
		if (IS("event"))
			return r->g_event;
		if (IS("event_label"))
			return r->g_label_event;
		if (IS("severity"))
			return r->g_sev;
		if (IS("severity_label"))
			return r->g_label_sev;
		if (IS("customer"))
			return r->g_customer;
		if (IS("service"))
			return r->g_service;
		if (IS("assets"))
			return r->g_assets;
	}
	if (IS("count"))
		return r->count;
	if (IS("window"))
		return r->window;
	if (IS("top"))
		return r->top;
	if (IS("lines"))
		return r->lines;
	if (IS("link"))
		return r->link[0] ? r->link : NULL;
	if (IS("short_link"))
		return r->short_link[0] ? r->short_link : NULL;
	if (IS("ack_link"))
		return r->ack_link[0] ? r->ack_link : NULL;
	if (IS("node"))
		return r->node;
	if (IS("contact"))
		return r->ct ? r->ct->name : NULL;
	if (IS("reply"))
		return r->has_reply ? "1" : NULL;
	if (IS("code"))
		return r->code[0] ? r->code : NULL;
	if (!f)
		return NULL;
	if (IS("alert_id"))
		return it->alert_id;
	if (IS("event"))
		return it->event;
	if (IS("event_label"))
		return r->label_event;
	if (IS("repeat"))
		return r->repeat[0] ? r->repeat : NULL;
	if (IS("severity"))
		return severity_name(f->state);
	if (IS("severity_label"))
		return r->label_sev;
	if (IS("customer"))
		return f->customer;
	if (IS("customer_name"))
		return f->customer_name ? f->customer_name : f->customer;
	if (IS("asset"))
		return f->asset;
	if (IS("check"))
		return f->check;
	if (IS("service"))
		return f->service;
	if (IS("summary"))
		return f->summary;
	if (IS("center"))
		return f->center;
	if (IS("tier"))
		return f->tier;
	if (IS("status"))
		return f->status;
	if (IS("opened_at"))
		return r->opened;
	if (IS("ack_due"))
		return r->ack[0] ? r->ack : NULL;
	if (IS("ack_due_short"))
		return r->ack_short[0] ? r->ack_short : NULL;
	if (IS("resolve_due"))
		return r->resolve[0] ? r->resolve : NULL;
	if (IS("runbook"))
		return nrender_runbook(r->nc, f);
#undef IS
	return NULL;
}

static const char *lookup(void *ud, const char *name, size_t nlen, const char *filter, size_t flen)
{
	struct rctx *r = ud;
	char n[64];
	if (nlen >= sizeof n)
		return NULL;
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	const char *v = field(r, n);
	if (filter && flen == 3 && memcmp(filter, "cut", 3) == 0 && r->cut1)
		return r->cut1;
	if (filter && flen == 4 && memcmp(filter, "cut2", 4) == 0 && r->cut2)
		return r->cut2;
	return v;
}

/* Render section `sec` of the language; NULL when it fails (logged). */
static char *section(struct rctx *r, const char *sec, size_t limit)
{
	const char *body;
	size_t len;
	if (tmpl_section(r->tmpl, sec, &body, &len) != 0 &&
	    tmpl_section(builtin, sec, &body, &len) != 0)
		return xstrdup("");
	struct tmpl_buf out = { .limit = limit };
	char err[160];
	if (tmpl_render(body, len, lookup, r, &out, err, sizeof err) != 0) {
		log_err("notify", "template [%s]: %s", sec, err);
		tmpl_buf_free(&out);
		return xstrdup("");
	}
	return out.p ? out.p : xstrdup("");
}

/* The value of the field marked |<filter> in section sec (rendered
 * full); NULL when there is none. */
static const char *cut_value(struct rctx *r, const char *sec, const char *filter)
{
	const char *body;
	size_t len;
	char tag[16];
	snprintf(tag, sizeof tag, "|%s}}", filter);
	if (tmpl_section(r->tmpl, sec, &body, &len) != 0)
		return NULL;
	const char *m = memmem(body, len, tag, strlen(tag));
	if (!m)
		return NULL;
	const char *o = m;
	while (o > body + 1 && !(o[-1] == '{' && o[-2] == '{'))
		o--;
	char name[64];
	size_t n = (size_t)(m - o);
	if (n == 0 || n >= sizeof name)
		return NULL;
	memcpy(name, o, n);
	name[n] = '\0';
	return field(r, name);
}

/* Units of text in the encoding ucs2 (a GSM text counted as UCS-2 when
 * the whole message is UCS-2). */
static size_t units_as(const char *text, int ucs2)
{
	size_t u;
	sms_prefix(text, ucs2, (size_t)-1, &u);
	return u;
}

/* Render sec with the |cut field set to c1 and the |cut2 field to c2
 * (NULL: their full values); does it fit? */
static char *try_fit(struct rctx *r, const char *sec, const char *c1, const char *c2,
                     unsigned segments, int *fits)
{
	r->cut1 = c1;
	r->cut2 = c2;
	char *t = section(r, sec, 64 * 1024);
	r->cut1 = r->cut2 = NULL;
	struct sms_len L;
	sms_measure(t, &L);
	*fits = L.units <= sms_capacity(L.ucs2, segments);
	return t;
}

/* The longest prefix of v that, with an ellipsis, fits `room` units;
 * malloc'd ("" when not even the ellipsis fits). */
static char *shorten(const char *v, int ucs2, size_t room)
{
	const char *ell = ucs2 ? "\xe2\x80\xa6" : "...";
	size_t el = ucs2 ? 1 : 3;
	if (!v || room <= el)
		return xstrdup("");
	size_t bytes = sms_prefix(v, ucs2, room - el, NULL);
	return xasprintf("%.*s%s", (int)bytes, v, ell);
}

/* Cut text at `cap` units (between characters), in place. */
static void cut_end(char *text, unsigned segments)
{
	struct sms_len L;
	sms_measure(text, &L);
	text[sms_prefix(text, L.ucs2, sms_capacity(L.ucs2, segments), NULL)] = '\0';
}

/* The SMS text, fitted into `segments` (see the top of the file):
 *   1. the |cut field (the output) shrinks, to nothing if need be;
 *   2. then the end is cut - what the template puts after the short link
 *      (the reply hint, the asset) goes first;
 *   3. only when the text up to the link is itself too long does the
 *      |cut2 field (the customer's name) shrink to make room, and the
 *      end is cut again. */
static char *sms_text(struct rctx *r, const char *sec, unsigned segments)
{
	int fits;
	char *full = try_fit(r, sec, NULL, NULL, segments, &fits);
	if (fits)
		return full;
	struct sms_len L;
	sms_measure(full, &L);
	int ucs2 = L.ucs2; /* the whole text's encoding */
	size_t cap = sms_capacity(ucs2, segments);
	free(full);
	const char *v1 = cut_value(r, sec, "cut"), *v2 = cut_value(r, sec, "cut2");
	char *base = try_fit(r, sec, "", NULL, segments, &fits);
	if (fits) {
		size_t used = units_as(base, ucs2);
		char *c1 = shorten(v1, ucs2, cap - used);
		char *t = try_fit(r, sec, c1, NULL, segments, &fits);
		free(c1);
		if (fits) {
			free(base);
			return t;
		}
		free(t);
		return base; /* the output's share rounds to nothing */
	}
	/* where the part that matters ends: after the short link (or
	 * everything, without one) */
	const char *link = r->short_link[0] ? r->short_link : NULL;
	const char *at = link ? strstr(base, link) : NULL;
	size_t keep = at ? (size_t)(at - base) + strlen(link) : strlen(base);
	char saved = base[keep];
	base[keep] = '\0';
	size_t head = units_as(base, ucs2);
	base[keep] = saved;
	if (head <= cap || !v2) {
		cut_end(base, segments);
		return base;
	}
	size_t v2u = units_as(v2, ucs2);
	size_t over = head - cap;
	char *c2 = shorten(v2, ucs2, v2u > over + 1 ? v2u - over : 2);
	free(base);
	base = try_fit(r, sec, "", c2, segments, &fits);
	free(c2);
	cut_end(base, segments);
	return base;
}

/* A subject is one line. */
static void one_line(char *s)
{
	char *nl = strpbrk(s, "\r\n");
	if (nl)
		*nl = '\0';
}

static void setup_item(struct rctx *r, const struct nitem *it)
{
	r->it = it;
	nrender_link(r->nc, it->alert_id, r->link, sizeof r->link);
	nrender_short_link(r->nc, it->alert_id, r->short_link, sizeof r->short_link);
	local_time(r->ct, it->f.opened_at, 0, 0, r->opened, sizeof r->opened);
	local_time(r->ct, it->f.ack_due, 0, 0, r->ack, sizeof r->ack);
	local_time(r->ct, it->f.ack_due, 1, r->now, r->ack_short, sizeof r->ack_short);
	local_time(r->ct, it->f.resolve_due, 0, 0, r->resolve, sizeof r->resolve);
	const char *ev = strncmp(it->event, "repeat-", 7) == 0 ? "repeat" : it->event;
	r->repeat[0] = '\0';
	if (ev != it->event)
		snprintf(r->repeat, sizeof r->repeat, "%s", it->event + 7);
	label(r->tmpl, ev, r->label_event, sizeof r->label_event);
	label(r->tmpl, severity_name(it->f.state), r->label_sev, sizeof r->label_sev);
	r->code[0] = '\0';
	if ((r->ch->flags & MAMORI_PLUGIN_SMS) && r->ch->mod && r->ch->mod->def &&
	    r->ch->mod->def->notify_inbound && strcmp(ev, "resolved") != 0)
		snprintf(r->code, sizeof r->code, "%04u",
		         ntoken_code(r->nc, it->alert_id, r->ct->name));
}

struct group {
	const struct nitem *first;
	size_t n;
	char assets[256];
	size_t n_assets;
};

static int same_group(const struct nitem *a, const struct nitem *b)
{
	const char *ea = strncmp(a->event, "repeat-", 7) == 0 ? "repeat" : a->event;
	const char *eb = strncmp(b->event, "repeat-", 7) == 0 ? "repeat" : b->event;
	return strcmp(ea, eb) == 0 && (a->f.state & 3) == (b->f.state & 3) &&
	       eq_or_any(a->f.customer ? a->f.customer : "", b->f.customer ? b->f.customer : "") &&
	       eq_or_any(a->f.service ? a->f.service : "", b->f.service ? b->f.service : "");
}

static int by_size(const void *x, const void *y)
{
	const struct group *a = x, *b = y;
	return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

/* src into dst (size > 0), whole or cut between UTF-8 characters (never
 * inside one: a bundle's first line went into a 512-byte buffer cut in
 * the middle of a Japanese name, found by fuzz_notify_render). */
static void ucopy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void add_asset(struct group *g, const char *asset)
{
	if (!asset)
		return;
	if (strstr(g->assets, asset))
		return; /* (a name inside another is rare and harmless here) */
	size_t len = strlen(g->assets);
	if (g->n_assets == ASSETS_PER_LINE) {
		if (len + 5 < sizeof g->assets)
			strcat(g->assets, ", ...");
		g->n_assets++;
		return;
	}
	if (g->n_assets > ASSETS_PER_LINE)
		return;
	if (len && len + 2 < sizeof g->assets) {
		memcpy(g->assets + len, ", ", 3);
		len += 2;
	}
	if (len + 1 < sizeof g->assets)
		ucopy(g->assets + len, sizeof g->assets - len, asset);
	g->n_assets++;
}

static char *bundle_lines(struct rctx *r, struct nitem *const *items, size_t n)
{
	struct group g[MAX_GROUPS + 1];
	size_t ng = 0, other = 0;
	memset(g, 0, sizeof g);
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < ng && !same_group(g[k].first, items[i]))
			k++;
		if (k == ng) {
			if (ng == MAX_GROUPS) {
				other++;
				continue;
			}
			g[ng++].first = items[i];
		}
		g[k].n++;
		add_asset(&g[k], items[i]->f.asset);
	}
	qsort(g, ng, sizeof g[0], by_size);
	struct tmpl_buf out = { .limit = 16 * 1024 };
	for (size_t k = 0; k < ng; k++) {
		const struct nitem *it = g[k].first;
		const char *ev = strncmp(it->event, "repeat-", 7) == 0 ? "repeat" : it->event;
		r->g_event = ev;
		r->g_sev = severity_name(it->f.state);
		r->g_customer = it->f.customer_name ? it->f.customer_name : it->f.customer;
		r->g_service = it->f.service ? it->f.service : "";
		snprintf(r->g_n, sizeof r->g_n, "%zu", g[k].n);
		ucopy(r->g_assets, sizeof r->g_assets, g[k].assets);
		label(r->tmpl, ev, r->g_label_event, sizeof r->g_label_event);
		label(r->tmpl, r->g_sev, r->g_label_sev, sizeof r->g_label_sev);
		r->it = it;
		char *line = section(r, "bundle.line", 2048);
		one_line(line);
		if (k == 0)
			ucopy(r->top, sizeof r->top, line);
		tmpl_buf_add(&out, line, strlen(line));
		tmpl_buf_add(&out, "\n", 1);
		free(line);
	}
	if (other) {
		char more[64];
		snprintf(more, sizeof more, "+ %zu\n", other);
		tmpl_buf_add(&out, more, strlen(more));
	}
	r->g_event = NULL;
	return out.p ? out.p : xstrdup("");
}

int nrender(const struct ntemplates *t, const struct notify_conf *nc, const struct ncontact *ct,
            const struct nchannel *ch, struct nitem *const *items, size_t n, const char *node,
            double now, struct nmsg *out)
{
	memset(out, 0, sizeof *out);
	if (!n)
		return -1;
	struct rctx r = { .nc = nc, .ct = ct, .ch = ch, .node = node, .now = now };
	r.tmpl = t->text[ct && ct->lang && strcmp(ct->lang, "en") == 0 ? 1 : 0];
	int worst = 0;
	for (size_t i = 0; i < n; i++) {
		int s = items[i]->f.state & 3;
		/* critical > unknown > warning > ok */
		int rank = s == 2 ? 3 : s == 3 ? 2 : s == 1 ? 1 : 0;
		int wr = worst == 2 ? 3 : worst == 3 ? 2 : worst == 1 ? 1 : 0;
		if (rank > wr)
			worst = s;
	}
	out->severity = xstrdup(severity_name(worst));
	char buf[512];
	if (n == 1) {
		setup_item(&r, items[0]);
		r.has_reply = nc->reply_to && (ch->flags & MAMORI_PLUGIN_NEEDS_EMAIL);
		if (nc->link_base && strcmp(items[0]->event, "resolved") != 0) {
			char tok[1000];
			nlink_make(nc, items[0]->alert_id, ct->name, now, tok, sizeof tok);
			if (tok[0])
				snprintf(r.ack_link, sizeof r.ack_link, "%s/api/v1/notify/ack/%s",
				         nc->link_base, tok);
		}
		out->subject = section(&r, "subject", 2048);
		one_line(out->subject);
		out->body = section(&r, "body", 64 * 1024);
		out->short_text = sms_text(&r, "sms", ch->segments);
		const struct nitem *it = items[0];
		ntoken_msgid(nc, it->alert_id, it->seq, it->event, ct->name, ch->name, buf,
		             sizeof buf);
		out->message_id = xstrdup(buf);
		ntoken_root(nc, it->alert_id, ct->name, buf, sizeof buf);
		out->in_reply_to = xstrdup(buf);
		out->references = xstrdup(buf);
	} else {
		setup_item(&r, items[0]);
		r.code[0] = '\0';
		snprintf(r.count, sizeof r.count, "%zu", n);
		double first = items[0]->ready_at, last = items[0]->ready_at;
		for (size_t i = 1; i < n; i++) {
			if (items[i]->ready_at < first)
				first = items[i]->ready_at;
			if (items[i]->ready_at > last)
				last = items[i]->ready_at;
		}
		char a[64], b[64];
		local_time(ct, first, 1, 0, a, sizeof a);
		local_time(ct, last, 1, 0, b, sizeof b);
		snprintf(r.window, sizeof r.window, "%s - %s", a,
		         b + (strncmp(a, b, 5) == 0 ? 6 : 0));
		char *lines = bundle_lines(&r, items, n);
		r.lines = lines;
		if (nc->link_base)
			snprintf(r.link, sizeof r.link, "%s/alerts", nc->link_base);
		else
			r.link[0] = '\0';
		snprintf(r.short_link, sizeof r.short_link, "%s", r.link);
		out->subject = section(&r, "bundle.subject", 2048);
		one_line(out->subject);
		out->body = section(&r, "bundle.body", 64 * 1024);
		out->short_text = sms_text(&r, "bundle.sms", ch->segments);
		free(lines);
		/* a bundle's id: the same items give the same id (a retry
		 * after a crash is recognised) */
		uint64_t h = 1469598103934665603ULL;
		for (size_t i = 0; i < n; i++)
			for (const char *p = items[i]->key; *p; p++)
				h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		snprintf(buf, sizeof buf, "<bundle.%016llx.%s+%s@%s>", (unsigned long long)h,
		         ch->name, ct->name, nc->msgid_domain);
		out->message_id = xstrdup(buf);
		/* the threads of its alerts (a client files it under one) */
		struct tmpl_buf refs = { .limit = 8192 };
		for (size_t i = 0; i < n && i < 10; i++) {
			ntoken_root(nc, items[i]->alert_id, ct->name, buf, sizeof buf);
			if (refs.p && strstr(refs.p, buf))
				continue;
			if (refs.n)
				tmpl_buf_add(&refs, " ", 1);
			tmpl_buf_add(&refs, buf, strlen(buf));
		}
		out->references = refs.p;
	}
	if (nc->reply_to && (ch->flags & MAMORI_PLUGIN_NEEDS_EMAIL) && n == 1) {
		char root[512];
		ntoken_root(nc, items[0]->alert_id, ct->name, root, sizeof root);
		/* {token}: the root's local part */
		char *tok = xstrdup(root + 1);
		char *at = strrchr(tok, '@');
		if (at)
			*at = '\0';
		const char *ph = strstr(nc->reply_to, "{token}");
		out->reply_to =
		    xasprintf("%.*s%s%s", (int)(ph - nc->reply_to), nc->reply_to, tok, ph + 7);
		free(tok);
	}
	return 0;
}
