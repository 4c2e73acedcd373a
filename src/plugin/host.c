/*
 * host: fills struct mamori_host.  See host.h.
 *
 * The single process-wide binding `H` is the one deliberate global: the
 * ABI's host functions carry no context (one core per process).
 */
#include "plugin/host.h"
#include "plugin/loader.h"
#include "config/pconf.h"
#include "perfdata/perfdata.h"
#include "proc/proc.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	struct ev_loop *loop;
	struct proc_ctx *procs;
	const struct host_ops *ops;
	void *ctx;
	char *datadir;
	struct hmap names; /* instance pointer -> plugin name */
	unsigned timers, ios;
} H;

#define MQTT_CTX (H.ops->mqtt_ctx ? H.ops->mqtt_ctx : H.ctx)

struct mamori_timer {
	ev_timer w;
	mamori_timer_cb cb;
	void *ud;
};

struct mamori_io {
	ev_io w;
	mamori_io_cb cb;
	void *ud;
};

struct mamori_async {
	ev_async w;
	mamori_async_cb cb;
	void *ud;
};

/* ---- logging ---- */

static const char *inst_name(void *inst)
{
	/* Entries are [pointer bytes][name]: the key is the first part. */
	const char *v = inst ? hmap_get(&H.names, (const char *)&inst, sizeof inst) : NULL;
	return v ? v + sizeof inst : "plugin";
}

static void h_logv(void *inst, int level, const char *fmt, va_list ap)
{
	log_vmsg(inst_name(inst), level, fmt, ap);
}

static void h_log(void *inst, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	h_logv(inst, level, fmt, ap);
	va_end(ap);
}

void host_name_instance(void *inst, const char *name)
{
	/* The key bytes are the pointer value; store them in the value. */
	char *v = xmalloc(sizeof inst + strlen(name) + 1);
	memcpy(v, &inst, sizeof inst);
	strcpy(v + sizeof inst, name);
	free(hmap_put(&H.names, v, sizeof inst, v));
}

void host_forget_instance(void *inst)
{
	free(hmap_del(&H.names, (const char *)&inst, sizeof inst));
}

static const char *h_strerror(int err)
{
	switch (err) {
	case MAMORI_E_OK: return "success";
	case MAMORI_E_NOMEM: return "out of memory";
	case MAMORI_E_INVAL: return "invalid argument or input";
	case MAMORI_E_CONFIG: return "configuration error";
	case MAMORI_E_IO: return "I/O error";
	case MAMORI_E_NOTSUP: return "not supported";
	case MAMORI_E_BUSY: return "busy";
	case MAMORI_E_NOTFOUND: return "not found";
	case MAMORI_E_TIMEOUT: return "timed out";
	case MAMORI_E_RANGE: return "out of range";
	case MAMORI_E_TYPE: return "wrong type";
	case MAMORI_E_DENIED: return "denied";
	case MAMORI_E_EXISTS: return "already exists";
	}
	return "unknown error";
}

static double h_now(void)
{
	return H.loop ? ev_now(H.loop) : 0;
}

/* ---- timers ---- */

static void timer_thunk(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mamori_timer *t = (struct mamori_timer *)w;
	t->cb(t, t->ud);
}

static struct mamori_timer *h_timer_new(mamori_timer_cb cb, void *ud)
{
	if (!cb)
		return NULL;
	struct mamori_timer *t = xcalloc(1, sizeof *t);
	ev_init(&t->w, timer_thunk);
	t->cb = cb;
	t->ud = ud;
	H.timers++;
	return t;
}

static void h_timer_start(struct mamori_timer *t, double after, double repeat)
{
	ev_timer_stop(H.loop, &t->w);
	ev_timer_set(&t->w, after < 0 ? 0 : after, repeat > 0 ? repeat : 0.);
	ev_timer_start(H.loop, &t->w);
}

static void h_timer_stop(struct mamori_timer *t)
{
	ev_timer_stop(H.loop, &t->w);
}

static void h_timer_free(struct mamori_timer *t)
{
	if (!t)
		return;
	ev_timer_stop(H.loop, &t->w);
	H.timers--;
	free(t);
}

/* ---- fd watchers ---- */

static void io_thunk(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mamori_io *io = (struct mamori_io *)w;
	int ev =
	    (revents & EV_READ ? MAMORI_IO_READ : 0) | (revents & EV_WRITE ? MAMORI_IO_WRITE : 0);
	io->cb(io, w->fd, ev, io->ud);
}

static int to_ev(int events)
{
	return (events & MAMORI_IO_READ ? EV_READ : 0) | (events & MAMORI_IO_WRITE ? EV_WRITE : 0);
}

static struct mamori_io *h_io_new(int fd, int events, mamori_io_cb cb, void *ud)
{
	if (fd < 0 || !cb)
		return NULL;
	struct mamori_io *io = xcalloc(1, sizeof *io);
	ev_io_init(&io->w, io_thunk, fd, to_ev(events));
	io->cb = cb;
	io->ud = ud;
	if (events)
		ev_io_start(H.loop, &io->w);
	H.ios++;
	return io;
}

static void h_io_set(struct mamori_io *io, int events)
{
	int want = to_ev(events);
	if (ev_is_active(&io->w) && (io->w.events & (EV_READ | EV_WRITE)) == want)
		return;
	ev_io_stop(H.loop, &io->w);
	ev_io_set(&io->w, io->w.fd, want);
	if (want)
		ev_io_start(H.loop, &io->w);
}

static void h_io_free(struct mamori_io *io)
{
	if (!io)
		return;
	ev_io_stop(H.loop, &io->w);
	H.ios--;
	free(io);
}

/* ---- async ---- */

static void async_thunk(struct ev_loop *loop, ev_async *w, int revents)
{
	struct mamori_async *a = (struct mamori_async *)w;
	a->cb(a, a->ud);
}

static struct mamori_async *h_async_new(mamori_async_cb cb, void *ud)
{
	struct mamori_async *a = xcalloc(1, sizeof *a);
	ev_async_init(&a->w, async_thunk);
	a->cb = cb;
	a->ud = ud;
	ev_async_start(H.loop, &a->w);
	return a;
}

static void h_async_send(struct mamori_async *a)
{
	ev_async_send(H.loop, &a->w);
}

static void h_async_free(struct mamori_async *a)
{
	if (!a)
		return;
	ev_async_stop(H.loop, &a->w);
	free(a);
}

/* ---- processes ---- */

static int h_proc_spawn(const struct mamori_spawn *req, mamori_proc_cb cb, void *ud,
                        struct mamori_proc **out)
{
	if (!H.procs)
		return MAMORI_E_NOTSUP;
	return proc_spawn(H.procs, req, cb, ud, out);
}

/* ---- config ---- */

static int h_conf_error(const struct mamori_conf *c, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = pconf_verror(c, key, fmt, ap);
	va_end(ap);
	return rc;
}

static int h_data_path(const char *rel, char *buf, size_t size)
{
	if (!rel || strstr(rel, "..") || rel[0] == '/')
		return MAMORI_E_INVAL;
	int n = snprintf(buf, size, "%s/%s", H.datadir ? H.datadir : ".", rel);
	return n < 0 || (size_t)n >= size ? MAMORI_E_RANGE : 0;
}

/* ---- checks (delegated to the server) ---- */

static const struct mamori_check_info *h_check_info(const struct mamori_check *chk)
{
	return H.ops->check_info(H.ctx, chk);
}

static struct mamori_check *h_run_check(const struct mamori_run *run)
{
	return H.ops->run_check(H.ctx, run);
}

static void h_run_complete(struct mamori_run *run, const struct mamori_result *res)
{
	H.ops->run_complete(H.ctx, run, res);
}

static int h_check_submit(struct mamori_check *chk, const struct mamori_result *res)
{
	return H.ops->check_submit ? H.ops->check_submit(H.ctx, chk, res) : MAMORI_E_NOTSUP;
}

static struct mamori_check *h_check_find(const char *c, const char *a, const char *k)
{
	return H.ops->check_find ? H.ops->check_find(H.ctx, c, a, k) : NULL;
}

static int h_asset_register(void *inst, const struct mamori_asset_spec *spec)
{
	return H.ops->asset_register ? H.ops->asset_register(H.ctx, inst, spec) : MAMORI_E_NOTSUP;
}

static int h_mqtt_subscribe(void *inst, const char *filter, int qos, mamori_msg_cb cb, void *ud,
                            struct mamori_sub **out)
{
	return H.ops->mqtt_subscribe
	           ? H.ops->mqtt_subscribe(MQTT_CTX, inst, filter, qos, cb, ud, out)
	           : MAMORI_E_NOTSUP;
}

static void h_mqtt_unsubscribe(struct mamori_sub *s)
{
	if (H.ops->mqtt_unsubscribe && s)
		H.ops->mqtt_unsubscribe(MQTT_CTX, s);
}

static int h_mqtt_publish(void *inst, const char *topic, const void *payload, size_t len, int qos,
                          int retain)
{
	return H.ops->mqtt_publish
	           ? H.ops->mqtt_publish(MQTT_CTX, inst, topic, payload, len, qos, retain)
	           : MAMORI_E_NOTSUP;
}

static const char *h_mqtt_prefix(void)
{
	return H.ops->mqtt_prefix ? H.ops->mqtt_prefix(MQTT_CTX) : "mamori";
}

static void *h_check_data(void *inst, const struct mamori_check *chk)
{
	return H.ops->check_data ? H.ops->check_data(H.ctx, inst, chk) : NULL;
}

static int h_calendar_is_open(const char *calendar, double t)
{
	return H.ops->calendar_is_open ? H.ops->calendar_is_open(H.ctx, calendar, t)
	                               : MAMORI_E_NOTFOUND;
}

static void h_notify_done(struct mamori_delivery *d, const struct mamori_notify_result *r)
{
	if (H.ops->notify_done)
		H.ops->notify_done(H.ops->notify_ctx, d, r);
}

static int h_notify_reply(void *inst, const struct mamori_reply *r)
{
	return H.ops->notify_reply ? H.ops->notify_reply(H.ops->notify_ctx, inst, r)
	                           : MAMORI_E_NOTSUP;
}

static int h_output_parse(char *text, struct mamori_result *res, struct mamori_perfdata *items,
                          size_t max_items)
{
	return perf_output_parse(text, res, items, max_items, NULL);
}

static int h_range_parse(const char *text, struct mamori_range *out)
{
	return perf_range_parse(text, out) == 0 ? 0 : MAMORI_E_INVAL;
}

static int h_duration_parse(const char *text, double *out)
{
	return perf_duration_parse(text, out) == 0 ? 0 : MAMORI_E_INVAL;
}

/* ---- plugin metrics (ABI 1.2) ---- */

struct mamori_metrics {
	host_metric_fn fn;
	void *ud;
	const char *plugin;
	unsigned n;
};

static int metric_ident(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	size_t n = 0;
	for (; *s; s++, n++)
		if (n >= 64 || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* Plain text of at most max bytes: strict UTF-8, no control characters. */
static int metric_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i], len, cp;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (unsigned k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

static const char *metric_check(const struct mamori_metric *x)
{
	if (!x || !MAMORI_HAS_FIELD(x, struct mamori_metric, value))
		return "struct_size too small";
	if (x->type != MAMORI_METRIC_COUNTER && x->type != MAMORI_METRIC_GAUGE)
		return "type is neither counter nor gauge";
	if (!metric_ident(x->name))
		return "name is not [a-z_][a-z0-9_]{0,63}";
	size_t n = strlen(x->name);
	int total = n >= 6 && strcmp(x->name + n - 6, "_total") == 0;
	if (x->type == MAMORI_METRIC_COUNTER && !total)
		return "a counter's name must end in _total";
	if (x->type == MAMORI_METRIC_GAUGE && total)
		return "a gauge's name must not end in _total";
	if (x->help && !metric_text(x->help, 200))
		return "help is not one line of UTF-8 text up to 200 bytes";
	if (x->n_labels > MAMORI_METRIC_MAX_LABELS || (x->n_labels && !x->labels))
		return "too many labels";
	for (size_t i = 0; i < x->n_labels; i++) {
		const char *k = x->labels[2 * i], *v = x->labels[2 * i + 1];
		if (!metric_ident(k) || strcmp(k, "instance") == 0 || strncmp(k, "__", 2) == 0)
			return "a label name is not [a-z_][a-z0-9_]{0,63}, or is reserved";
		for (size_t j = 0; j < i; j++)
			if (strcmp(k, x->labels[2 * j]) == 0)
				return "a label name repeats";
		if (!v || !metric_text(v, 128))
			return "a label value is not UTF-8 text up to 128 bytes";
	}
	if (!(x->value == x->value) || x->value > 1.7e308 || x->value < -1.7e308)
		return "value is not a finite number";
	if (x->type == MAMORI_METRIC_COUNTER && x->value < 0)
		return "a counter's value is negative";
	return NULL;
}

static int h_metric(struct mamori_metrics *m, const struct mamori_metric *x)
{
	static double last_complaint;
	if (!m)
		return MAMORI_E_INVAL;
	const char *why = metric_check(x);
	if (why) {
		double now = H.loop ? ev_now(H.loop) : 0;
		if (now - last_complaint >= 3600 || now < last_complaint || !last_complaint) {
			last_complaint = now ? now : 1;
			log_warn("plugin", "%s: metric '%s' dropped: %s", m->plugin,
			         x && x->name && metric_ident(x->name) ? x->name : "?", why);
		}
		return MAMORI_E_INVAL;
	}
	if (m->n >= MAMORI_METRIC_MAX_SERIES)
		return MAMORI_E_BUSY;
	m->n++;
	m->fn(m->ud, x);
	return 0;
}

size_t host_collect_metrics(const struct mamori_plugin *def, void *inst, host_metric_fn fn,
                            void *ud)
{
	if (!inst || !loader_has_metrics(def))
		return 0;
	struct mamori_metrics m = { .fn = fn, .ud = ud, .plugin = def->name };
	def->metrics(inst, &m);
	return m.n;
}

int host_metric_valid(const struct mamori_metric *x)
{
	return metric_check(x) == NULL;
}

static const struct mamori_host host_fns = {
	.abi_major = MAMORI_PLUGIN_ABI_MAJOR,
	.abi_minor = MAMORI_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct mamori_host),
	.log = h_log,
	.logv = h_logv,
	.strerror = h_strerror,
	.now = h_now,
	.timer_new = h_timer_new,
	.timer_start = h_timer_start,
	.timer_stop = h_timer_stop,
	.timer_free = h_timer_free,
	.io_new = h_io_new,
	.io_set = h_io_set,
	.io_free = h_io_free,
	.async_new = h_async_new,
	.async_send = h_async_send,
	.async_free = h_async_free,
	.proc_spawn = h_proc_spawn,
	.proc_kill = proc_kill,
	.conf_string = pconf_string,
	.conf_int = pconf_int,
	.conf_float = pconf_float,
	.conf_bool = pconf_bool,
	.conf_duration = pconf_duration,
	.conf_range = pconf_range,
	.conf_list_item = pconf_list_item,
	.conf_group = pconf_group,
	.conf_error = h_conf_error,
	.conf_secret = pconf_secret,
	.data_path = h_data_path,
	.check_info = h_check_info,
	.run_check = h_run_check,
	.run_complete = h_run_complete,
	.check_submit = h_check_submit,
	.check_find = h_check_find,
	.range_parse = h_range_parse,
	.range_alert = perf_range_alert,
	.range_state = perf_range_state,
	.perf_format = perf_format,
	.output_parse = h_output_parse,
	.duration_parse = h_duration_parse,
	.mqtt_subscribe = h_mqtt_subscribe,
	.mqtt_unsubscribe = h_mqtt_unsubscribe,
	.mqtt_publish = h_mqtt_publish,
	.mqtt_prefix = h_mqtt_prefix,
	.asset_register = h_asset_register,
	.check_data = h_check_data,
	.calendar_is_open = h_calendar_is_open,
	.notify_done = h_notify_done,
	.notify_reply = h_notify_reply,
	.metric = h_metric,
};

void host_bind(struct ev_loop *loop, struct proc_ctx *procs, const struct host_ops *ops, void *ctx,
               const char *datadir)
{
	H.loop = loop;
	H.procs = procs;
	H.ops = ops;
	H.ctx = ctx;
	free(H.datadir);
	H.datadir = datadir ? xstrdup(datadir) : NULL;
}

void host_unbind(void)
{
	size_t it = 0;
	const struct hmap_entry *e;
	while (hmap_next(&H.names, &it, &e))
		free(e->value);
	hmap_free(&H.names);
	free(H.datadir);
	memset(&H, 0, sizeof H);
}

const struct mamori_host *host_table(void)
{
	return &host_fns;
}

unsigned host_live_timers(void)
{
	return H.timers;
}

unsigned host_live_ios(void)
{
	return H.ios;
}
