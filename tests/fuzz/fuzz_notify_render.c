/*
 * fuzz_notify_render: a notification rendered from the shipped templates
 * (share/mamori/notify/{ja,en}.tmpl through nrender, src/notify/render.c)
 * with hostile alert fields - a customer's display name, the check's
 * output, the asset, service and check names, a runbook line - then what
 * the notifiers make of it: every shipped request template (chat
 * webhooks, the JSON SMS gateway: JSON bodies; Twilio: a form body,
 * through plugins/lib/notifyfields.c and util/tmpl.c), the e-mail
 * (plugins/email/mime.c) and the one-click page's HTML escape
 * (src/http/jw.c).  Alert fields reach notify as valid UTF-8 (jsonw's
 * gate refuses anything else on every way in), so the target makes its
 * fields valid UTF-8 first: invalid bytes become '?'.
 *
 * The input: a selector byte (bit 0: English, else Japanese; bits 1-2:
 * an SMS channel of 1, 2 or 3 segments, or an e-mail channel; bit 3: a
 * bundle of two alerts), then NUL-separated fields: customer name,
 * summary, asset, service, check, runbook, customer id.
 *
 * Promises: the subject is one line; subject, body and SMS text are
 * valid UTF-8 (so the SMS is never cut inside a character, a surrogate
 * pair being one 4-byte character); the SMS text fits its segments
 * (GSM-7 160/153, UCS-2 70/67 units); every JSON request body parses
 * (jsonw) as an object whose text fields are exactly the message's (no
 * field breaks out of its string); Twilio's form decodes back to the
 * exact SMS text, number and sender; the e-mail is built (no CR or LF in
 * a header value) and its header block holds only the headers mime.c
 * writes, each once; the HTML escape leaves no markup character and
 * unescapes back to the text.
 */
#include "tests/fuzz/fuzz.h"

#include <mamori/plugin.h>

#include "cal/cal.h"
#include "http/http_int.h"
#include "notify/notify_int.h"
#include "util/jsonw.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/tmpl.h"

#include "plugins/email/email.h"
#include "plugins/email/mime.c"
#include "plugins/lib/notifyfields.c"

#include <cJSON.h>
#include <strings.h>

/* Length of the valid UTF-8 sequence at s (left bytes), 0 if invalid. */
static size_t u8len(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xc2 && c <= 0xdf   ? 2
	           : c >= 0xe0 && c <= 0xef ? 3
	           : c >= 0xf0 && c <= 0xf4 ? 4
	                                    : 0;
	if (!n || n > left)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

static int valid_utf8(const char *s)
{
	size_t left = strlen(s);
	for (const unsigned char *p = (const unsigned char *)s; left;) {
		size_t n = u8len(p, left);
		if (!n)
			return 0;
		p += n;
		left -= n;
	}
	return 1;
}

/* The field made valid UTF-8 (invalid bytes as '?'), malloc'd. */
static char *clean_field(const char *s, size_t n)
{
	char *o = xmalloc(n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n;) {
		size_t k = u8len((const unsigned char *)s + i, n - i);
		if (!k) {
			o[j++] = '?';
			i++;
			continue;
		}
		memcpy(o + j, s + i, k);
		j += k;
		i += k;
	}
	o[j] = '\0';
	return o;
}

static struct ntemplates *tmpl;
static struct notify_conf *nc;
static struct cal *tokyo;
/* the shipped request templates' [body] sections */
static const char *const req_names[] = { "webhook/json",       "webhook/slack", "webhook/teams",
	                                 "webhook/mattermost", "sms/json",      "sms/twilio" };
#define N_REQ (sizeof req_names / sizeof req_names[0])
static char *req_file[N_REQ];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz_notify_render: %s: cannot read (run from the source tree)\n",
		        path);
		abort();
	}
	char *b = NULL;
	size_t n = 0, cap = 0, r;
	char chunk[4096];
	while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (n + r + 1 > cap) {
			cap = (n + r + 1) * 2;
			b = xrealloc(b, cap);
		}
		memcpy(b + n, chunk, r);
		n += r;
	}
	fclose(f);
	if (!b)
		b = xcalloc(1, 1);
	b[n] = '\0';
	return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERR);
	tmpl = ntemplates_load("share/mamori");
	nc = notify_conf_empty();
	nc->link_base = xstrdup("https://mmr.jp");
	nc->reply_to = xstrdup("mamori+{token}@example.jp");
	char err[CAL_ERRLEN];
	const char *h[] = { "24x7" };
	tokyo = cal_new("tz", "Asia/Tokyo", h, 1, err, sizeof err);
	for (size_t i = 0; i < N_REQ; i++) {
		char path[256];
		snprintf(path, sizeof path, "share/mamori/notify/%s.tmpl", req_names[i]);
		req_file[i] = slurp(path);
	}
	return 0;
}

/* A request template's body rendered over the notification. */
static char *render_req(size_t i, struct notifyfields *f)
{
	const char *body;
	size_t blen;
	FUZZ_CHECK(tmpl_section(req_file[i], "body", &body, &blen) == 0, "%s: no [body]",
	           req_names[i]);
	struct tmpl_buf out = { 0 };
	char err[128];
	FUZZ_CHECK(tmpl_render(body, blen, notifyfields_get, f, &out, err, sizeof err) == 0,
	           "%s: %s", req_names[i], err);
	FUZZ_CHECK(!out.truncated && !out.failed, "%s: output cut", req_names[i]);
	return out.p;
}

static void json_field(const cJSON *o, const char *path, const char *want, const char *tmpl_name)
{
	const cJSON *v = o;
	char key[64];
	for (const char *p = path; v && *p;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		snprintf(key, sizeof key, "%.*s", (int)n, p);
		if (key[0] >= '0' && key[0] <= '9')
			v = cJSON_GetArrayItem(v, atoi(key));
		else
			v = cJSON_GetObjectItemCaseSensitive(v, key);
		p = dot ? dot + 1 : p + n;
	}
	FUZZ_CHECK(cJSON_IsString(v) && strcmp(v->valuestring, want) == 0,
	           "%s: %s is not the message's text", tmpl_name, path);
}

static int hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of `name` in a form body, %-decoded (malloc'd), or NULL. */
static char *form_value(const char *form, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = form; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			char *o = xmalloc(n);
			size_t j = 0;
			for (size_t i = nl + 1; i < n; i++) {
				if (p[i] == '%') {
					FUZZ_CHECK(i + 2 < n && hexv(p[i + 1]) >= 0 &&
					               hexv(p[i + 2]) >= 0,
					           "a bad escape in the form");
					o[j++] = (char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2]));
					i += 2;
				} else {
					FUZZ_CHECK(strchr("&=+ \r\n", p[i]) == NULL,
					           "'%c' unescaped in the form", p[i]);
					o[j++] = p[i];
				}
			}
			o[j] = '\0';
			return o;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static void check_requests(const struct nmsg *m, const struct mamori_notify_item *items,
                           size_t n_items, int sms)
{
	struct mamori_notification n = { .struct_size = sizeof n,
		                         .channel = sms ? "sms" : "mail",
		                         .id = "N-1",
		                         .contact = "tanaka",
		                         .address = "+819011112222",
		                         .language = "ja",
		                         .severity = m->severity,
		                         .subject = m->subject,
		                         .body = m->body,
		                         .short_text = m->short_text,
		                         .items = items,
		                         .n_items = n_items,
		                         .attempt = 1 };
	struct notifyfields f;
	notifyfields_init(&f, &n);
	f.from = "+815000000000";
	for (size_t i = 0; i < N_REQ; i++) {
		int is_sms = strncmp(req_names[i], "sms/", 4) == 0;
		if (is_sms && !sms)
			continue;
		/* the SMS notifier's body is the short text */
		struct mamori_notification copy = n;
		if (is_sms)
			copy.body = m->short_text;
		f.n = &copy;
		char *out = render_req(i, &f);
		if (strcmp(req_names[i], "sms/twilio") == 0) {
			char *body = form_value(out, "Body"), *to = form_value(out, "To"),
			     *from = form_value(out, "From");
			FUZZ_CHECK(body && strcmp(body, m->short_text) == 0,
			           "twilio: Body does not decode to the SMS text");
			FUZZ_CHECK(to && strcmp(to, "+819011112222") == 0, "twilio: To");
			FUZZ_CHECK(from && strcmp(from, "+815000000000") == 0, "twilio: From");
			free(body);
			free(to);
			free(from);
			free(out);
			continue;
		}
		struct jsonw_error e;
		cJSON *j = jsonw_parse(out, strlen(out), NULL, &e);
		FUZZ_CHECK(j && cJSON_IsObject(j), "%s: not a JSON object (%s at %zu): %.200s",
		           req_names[i], jsonw_strerror(e.code), e.offset, out);
		if (strcmp(req_names[i], "webhook/json") == 0) {
			json_field(j, "subject", m->subject, req_names[i]);
			json_field(j, "text", m->body, req_names[i]);
			json_field(j, "customer_name", items[0].customer_name, req_names[i]);
			json_field(j, "summary", items[0].summary, req_names[i]);
		} else if (strcmp(req_names[i], "webhook/slack") == 0) {
			json_field(j, "text", m->subject, req_names[i]);
			json_field(j, "attachments.0.text", m->body, req_names[i]);
		} else if (strcmp(req_names[i], "webhook/teams") == 0) {
			json_field(j, "title", m->subject, req_names[i]);
			json_field(j, "text", m->body, req_names[i]);
		} else if (strcmp(req_names[i], "sms/json") == 0) {
			json_field(j, "text", m->short_text, req_names[i]);
		}
		cJSON_Delete(j);
		free(out);
	}
	f.n = &n;
}

/* The e-mail: built, and its header block holds only mime.c's headers. */
static void check_mail(const struct nmsg *m)
{
	struct email_msg em = { .from_name = "mamori",
		                .from = "mamori@example.jp",
		                .to = "tanaka@example.jp",
		                .subject = m->subject,
		                .body = m->body,
		                .message_id = m->message_id,
		                .in_reply_to = m->in_reply_to,
		                .references = m->references,
		                .reply_to = m->reply_to,
		                .alert_id = "A-node1-01M9730R3Z0000",
		                .date = 1796608123 };
	size_t len = 0;
	char *msg = email_build(&em, &len);
	FUZZ_CHECK(msg != NULL, "the e-mail was not built (a header value with CR or LF?)");
	static const char *const names[] = { "From",           "To",
		                             "Subject",        "Date",
		                             "Message-ID",     "In-Reply-To",
		                             "References",     "Reply-To",
		                             "X-Mamori-Alert", "MIME-Version",
		                             "Content-Type",   "Content-Transfer-Encoding",
		                             "Auto-Submitted", "X-Mamori-Possible-Duplicate" };
	unsigned seen[sizeof names / sizeof names[0]] = { 0 };
	const char *end = strstr(msg, "\r\n\r\n");
	FUZZ_CHECK(end != NULL, "no end of the headers");
	for (const char *p = msg; p < end;) {
		const char *eol = strstr(p, "\r\n");
		if (*p != ' ' && *p != '\t') {
			const char *colon = memchr(p, ':', (size_t)(eol - p));
			FUZZ_CHECK(colon, "a header line without a name: %.60s", p);
			size_t k = 0;
			while (k < sizeof names / sizeof names[0] &&
			       !(strlen(names[k]) == (size_t)(colon - p) &&
			         strncasecmp(names[k], p, (size_t)(colon - p)) == 0))
				k++;
			FUZZ_CHECK(k < sizeof names / sizeof names[0],
			           "a header mime.c never writes: %.60s", p);
			FUZZ_CHECK(++seen[k] == 1, "%s twice", names[k]);
		}
		for (const char *c = p; c < eol; c++)
			FUZZ_CHECK(*c != '\r' && *c != '\n', "a bare CR or LF in the headers");
		p = eol + 2;
	}
	free(msg);
}

/* html_escape: no markup character, and it unescapes to the text. */
static void check_html(const char *s)
{
	struct buf b = { 0 };
	html_escape(&b, s);
	const char *out = b.p ? b.p : "";
	FUZZ_CHECK(!strpbrk(out, "<>\"'"), "markup in escaped text");
	FUZZ_CHECK(valid_utf8(out), "escaped text not UTF-8");
	int plain = 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		plain = plain && *p >= 0x20 && *p != 0x7f;
	if (plain) {
		static const char *const ent[][2] = { { "&amp;", "&" },
			                              { "&lt;", "<" },
			                              { "&gt;", ">" },
			                              { "&quot;", "\"" },
			                              { "&#39;", "'" } };
		char *back = xmalloc(strlen(out) + 1);
		size_t j = 0;
		for (const char *p = out; *p;) {
			size_t k = 0;
			if (*p == '&') {
				while (k < 5 && strncmp(p, ent[k][0], strlen(ent[k][0])) != 0)
					k++;
				FUZZ_CHECK(k < 5, "a bare '&' in escaped text");
				back[j++] = ent[k][1][0];
				p += strlen(ent[k][0]);
			} else {
				back[j++] = *p++;
			}
		}
		back[j] = '\0';
		FUZZ_CHECK(strcmp(back, s) == 0, "escaped text does not unescape to the text");
		free(back);
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned sel = fuzz_take_byte(&data, &size);
	char *fields[7] = { 0 };
	const char *p = (const char *)data, *end = p + size;
	for (int i = 0; i < 7; i++) {
		const char *z = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
		size_t n = p < end ? (z ? (size_t)(z - p) : (size_t)(end - p)) : 0;
		fields[i] = clean_field(p, n);
		p = p < end ? p + n + 1 : end;
	}
	int sms = ((sel >> 1) & 3) != 3;
	struct ncontact ct = { .name = "tanaka", .lang = (sel & 1) ? "en" : "ja", .tz = tokyo };
	struct nchannel ch = { .name = sms ? "sms" : "mail",
		               .flags = sms ? MAMORI_PLUGIN_SMS | MAMORI_PLUGIN_NEEDS_PHONE
		                            : MAMORI_PLUGIN_NEEDS_EMAIL,
		               .segments = sms ? ((sel >> 1) & 3) + 1 : 1 };
	struct nrunbook rb = { .text = fields[5] };
	nc->runbooks = fields[5][0] ? &rb : NULL;
	nc->n_runbooks = fields[5][0] ? 1 : 0;
	struct nitem it[2];
	memset(it, 0, sizeof it);
	for (int i = 0; i < 2; i++) {
		it[i].alert_id = i ? "A-node1-01M9730R3Z0001" : "A-node1-01M9730R3Z0000";
		it[i].event = i ? "escalated" : "opened";
		it[i].contact = "tanaka";
		it[i].channel = ch.name;
		it[i].seq = 1 + i;
		it[i].key = "k";
		it[i].f.customer_name = fields[0];
		it[i].f.summary = fields[1];
		it[i].f.asset = fields[2];
		it[i].f.service = fields[3];
		it[i].f.check = fields[4];
		it[i].f.customer = fields[6];
		it[i].f.state = 2 - i;
		it[i].f.opened_at = 1796608123;
		it[i].f.ack_due = 1796609023;
	}
	size_t n_items = (sel & 8) ? 2 : 1;
	struct nitem *items[2] = { &it[0], &it[1] };
	struct nmsg m;
	FUZZ_CHECK(nrender(tmpl, nc, &ct, &ch, items, n_items, "node1", 1796608123, &m) == 0,
	           "nrender refused valid fields");
	FUZZ_CHECK(m.subject && !strpbrk(m.subject, "\r\n"), "the subject is not one line");
	FUZZ_CHECK(valid_utf8(m.subject), "the subject is not UTF-8");
	FUZZ_CHECK(m.body && valid_utf8(m.body), "the body is not UTF-8");
	if (sms) {
		FUZZ_CHECK(m.short_text && valid_utf8(m.short_text),
		           "the SMS is cut inside a character");
		struct sms_len L;
		sms_measure(m.short_text, &L);
		FUZZ_CHECK(L.units <= sms_capacity(L.ucs2, ch.segments),
		           "the SMS takes %zu units, %u segments hold %zu", L.units, ch.segments,
		           sms_capacity(L.ucs2, ch.segments));
	}
	struct mamori_notify_item mi[2];
	memset(mi, 0, sizeof mi);
	for (size_t i = 0; i < n_items; i++) {
		mi[i].struct_size = sizeof mi[i];
		mi[i].alert_id = it[i].alert_id;
		mi[i].event = it[i].event;
		mi[i].customer = fields[6];
		mi[i].customer_name = fields[0];
		mi[i].asset = fields[2];
		mi[i].check = fields[4];
		mi[i].service = fields[3];
		mi[i].summary = fields[1];
		mi[i].runbook = fields[5][0] ? fields[5] : NULL;
		mi[i].link = "https://mmr.jp/alerts/A-node1-01M9730R3Z0000";
		mi[i].opened_at = 1796608123;
	}
	check_requests(&m, mi, n_items, sms);
	if (!sms)
		check_mail(&m);
	for (int i = 0; i < 7; i++)
		check_html(fields[i]);
	nmsg_free(&m);
	nc->runbooks = NULL;
	nc->n_runbooks = 0;
	for (int i = 0; i < 7; i++)
		free(fields[i]);
	return 0;
}
