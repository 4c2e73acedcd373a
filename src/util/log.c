/*
 * log: leveled, prefixed, rate-limited logging.  See log.h.
 *
 * This is the one module with process-wide state (like syslog itself): the
 * level, the destination and the rate-limit table.  A mutex guards it
 * because the MQTT and store threads log too.  Every message is escaped
 * here (util/esc.h), in the one place all of them pass: its text comes
 * from agents, plugins and payloads too, and a newline in it must not
 * forge a second line nor an ESC drive the operator's terminal.
 */
#include "util/log.h"
#include "util/esc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#define RATE_SLOTS   512
#define LOG_TEXT_MAX 4096

struct rate_slot {
	uint64_t hash;
	double window_start;
	unsigned count;
	unsigned suppressed;
	char module[16];
};

static struct {
	pthread_mutex_t lock;
	int foreground;
	int level;
	int opened;
	unsigned long suppressed_total;
	void (*hook)(int, const char *, void *);
	void *hook_ud;
	struct rate_slot slots[RATE_SLOTS];
} L = { PTHREAD_MUTEX_INITIALIZER, 1, LOG_LVL_INFO, 0, 0, NULL, NULL, { { 0 } } };

static const char *level_names[] = { "emerg",   "alert",  "crit", "err",
	                             "warning", "notice", "info", "debug" };

void log_open(const char *ident, int foreground, int level)
{
	pthread_mutex_lock(&L.lock);
	L.foreground = foreground;
	L.level = level;
	if (!foreground && !L.opened) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		L.opened = 1;
	}
	pthread_mutex_unlock(&L.lock);
}

void log_set_level(int level)
{
	L.level = level;
}

int log_get_level(void)
{
	return L.level;
}

int log_level_parse(const char *s)
{
	for (int i = 3; i <= 7; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "error") == 0)
		return LOG_LVL_ERR;
	if (strcasecmp(s, "warn") == 0)
		return LOG_LVL_WARNING;
	return -1;
}

unsigned long log_suppressed_total(void)
{
	return L.suppressed_total;
}

void log_set_hook(void (*hook)(int, const char *, void *), void *ud)
{
	pthread_mutex_lock(&L.lock);
	L.hook = hook;
	L.hook_ud = ud;
	pthread_mutex_unlock(&L.lock);
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t fnv1a(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h | 1;
}

/* Locked. */
static void emit(const char *module, int level, const char *text)
{
	char line[4200];
	snprintf(line, sizeof line, "%s: %s", module, text);
	if (L.foreground) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s\n", tm.tm_year + 1900,
		        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		        ts.tv_nsec / 1000000, level_names[level & 7], line);
	} else {
		syslog(level, "%s", line);
	}
	if (L.hook)
		L.hook(level, line, L.hook_ud);
}

/* Locked.  Returns 1 if the message may be emitted. */
static int rate_ok(const char *module, const char *text)
{
	uint64_t h = fnv1a(module, text);
	struct rate_slot *s = &L.slots[h % RATE_SLOTS];
	double now = now_mono();
	if (s->hash != h || now - s->window_start > LOG_RATE_WINDOW) {
		if (s->suppressed) {
			char msg[128];
			snprintf(msg, sizeof msg, "(%u similar messages suppressed)",
			         s->suppressed);
			emit(s->module, LOG_LVL_NOTICE, msg);
		}
		s->hash = h;
		s->window_start = now;
		s->count = 0;
		s->suppressed = 0;
		snprintf(s->module, sizeof s->module, "%s", module);
	}
	if (++s->count <= LOG_RATE_BURST)
		return 1;
	s->suppressed++;
	L.suppressed_total++;
	return 0;
}

/* The message, escaped, into text (LOG_TEXT_MAX bytes). */
static void format(char *text, const char *fmt, va_list ap)
{
	char raw[LOG_TEXT_MAX];
	vsnprintf(raw, sizeof raw, fmt, ap);
	if (esc_needed(raw))
		esc_text(text, LOG_TEXT_MAX, raw);
	else
		memcpy(text, raw, strlen(raw) + 1);
}

void log_vmsg(const char *module, int level, const char *fmt, va_list ap)
{
	if (level > L.level)
		return;
	char text[LOG_TEXT_MAX];
	format(text, fmt, ap);
	pthread_mutex_lock(&L.lock);
	if (rate_ok(module, text))
		emit(module, level, text);
	pthread_mutex_unlock(&L.lock);
}

void log_msg(const char *module, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(module, level, fmt, ap);
	va_end(ap);
}

void log_always(const char *module, int level, const char *fmt, ...)
{
	if (level > L.level)
		return;
	char text[LOG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	format(text, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&L.lock);
	emit(module, level, text);
	pthread_mutex_unlock(&L.lock);
}
