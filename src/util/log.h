/*
 * log: the one logging function.  Levels are syslog's; every message has a
 * module prefix ("sched: ...").  Foreground: stderr with a timestamp;
 * otherwise syslog.  Identical messages (same module+text) repeated within
 * LOG_RATE_WINDOW seconds are suppressed after LOG_RATE_BURST, and a summary
 * "(N similar messages suppressed)" is logged when the window ends, so a
 * failure that repeats every interval for 10,000 checks cannot flood.
 * Control characters and invalid UTF-8 in a message are escaped
 * (util/esc.h): a message is always one line, whatever it quotes.
 * Never pass secrets.
 */
#ifndef MAMORI_LOG_H
#define MAMORI_LOG_H

#include <stdarg.h>

enum {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7
};

#define LOG_RATE_WINDOW 60.0
#define LOG_RATE_BURST  5

/* Set up: foreground=1 logs to stderr.  ident for syslog. */
void log_open(const char *ident, int foreground, int level);
void log_set_level(int level);
int log_get_level(void);
/* Parse "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(const char *module, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(const char *module, int level, const char *fmt, va_list ap);
/* Same, but bypasses rate limiting (startup messages, summaries). */
void log_always(const char *module, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Number of messages suppressed by rate limiting so far (for tests/metrics). */
unsigned long log_suppressed_total(void);
/* Capture hook for tests: when set, every emitted line is passed to it too. */
void log_set_hook(void (*hook)(int level, const char *line, void *ud), void *ud);

#define log_err(m, ...)    log_msg(m, LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(m, ...)   log_msg(m, LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(m, ...) log_msg(m, LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(m, ...)   log_msg(m, LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(m, ...)  log_msg(m, LOG_LVL_DEBUG, __VA_ARGS__)

#endif
