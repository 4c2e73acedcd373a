/*
 * notifyfields: see notifyfields.h.
 */
#include "notifyfields.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void iso(double t, char *buf, size_t size)
{
	if (t <= 0) {
		buf[0] = '\0';
		return;
	}
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void notifyfields_init(struct notifyfields *f, const struct mamori_notification *n)
{
	memset(f, 0, sizeof *f);
	f->n = n;
	snprintf(f->count, sizeof f->count, "%zu", n->n_items);
	if (n->n_items) {
		iso(n->items[0].opened_at, f->opened, sizeof f->opened);
		iso(n->items[0].ack_due, f->ack_due, sizeof f->ack_due);
	}
}

/* Colors per severity: chat attachments' side bar. */
static const char *color(const char *sev, int hex)
{
	if (!sev)
		return hex ? "808080" : "#808080";
	if (strcmp(sev, "critical") == 0)
		return hex ? "D93025" : "#D93025";
	if (strcmp(sev, "warning") == 0)
		return hex ? "F29900" : "#F29900";
	if (strcmp(sev, "ok") == 0)
		return hex ? "188038" : "#188038";
	return hex ? "9334E6" : "#9334E6";
}

const char *notifyfields_get(void *ud, const char *name, size_t nlen, const char *filter,
                             size_t flen)
{
	const struct notifyfields *f = ud;
	const struct mamori_notification *n = f->n;
	const struct mamori_notify_item *it = n->n_items ? &n->items[0] : NULL;
	char k[40];
	if (nlen >= sizeof k)
		return NULL;
	memcpy(k, name, nlen);
	k[nlen] = '\0';
#define IS(x) (strcmp(k, x) == 0)
	if (IS("subject"))
		return n->subject;
	if (IS("text"))
		return n->body;
	if (IS("short_text"))
		return n->short_text;
	if (IS("severity"))
		return n->severity;
	if (IS("color"))
		return color(n->severity, 0);
	if (IS("color_hex"))
		return color(n->severity, 1);
	if (IS("contact"))
		return n->contact;
	if (IS("channel"))
		return n->channel;
	if (IS("id"))
		return n->id;
	if (IS("language"))
		return n->language;
	if (IS("count"))
		return f->count;
	if (IS("to"))
		return f->to ? f->to : n->address;
	if (IS("from"))
		return f->from;
	if (!it)
		return NULL;
	if (IS("alert_id"))
		return it->alert_id;
	if (IS("event"))
		return it->event;
	if (IS("customer"))
		return it->customer;
	if (IS("customer_name"))
		return it->customer_name;
	if (IS("asset"))
		return it->asset;
	if (IS("check"))
		return it->check;
	if (IS("service"))
		return it->service;
	if (IS("summary"))
		return it->summary;
	if (IS("center"))
		return it->center;
	if (IS("tier"))
		return it->tier;
	if (IS("link"))
		return it->link;
	if (IS("runbook"))
		return it->runbook;
	if (IS("opened_at"))
		return f->opened[0] ? f->opened : NULL;
	if (IS("ack_due"))
		return f->ack_due[0] ? f->ack_due : NULL;
#undef IS
	(void)filter;
	(void)flen;
	return NULL;
}
