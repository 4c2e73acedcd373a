/* Unit tests: util/log.  A message quoting outside text (an agent's
 * ComputerName, a plugin's output) is one line with its control
 * characters escaped - on stderr and to the hook - whatever path it
 * takes (log_msg, log_always); Japanese text passes unchanged. */
#include "util/log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char hooked[8192];

static void on_log(int level, const char *line, void *ud)
{
	snprintf(hooked, sizeof hooked, "%s", line);
}

/* Run fn with stderr going to a file; the file's text into out. */
static void capture_stderr(void (*fn)(void), char *out, size_t len)
{
	char path[] = "/tmp/mamori-log.XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, len - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
}

static void log_forged(void)
{
	log_err("defender", "report from '%s'",
	        "PC-01\n2026-01-01T00:00:00.000Z err engine: forged\x1b]0;owned\x07\x1b[2J");
}

static void log_forged_always(void)
{
	log_always("main", LOG_LVL_NOTICE, "argv: %s",
	           "a\rb\xc2\x9b"
	           "2J");
}

static void log_japanese(void)
{
	log_err("defender", "report from '%s'", "経理部-PC01: 脅威を検出");
}

static int count(const char *s, char c)
{
	int n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

START_TEST(message_is_one_escaped_line)
{
	char out[8192];
	log_open("test", 1, LOG_LVL_INFO);
	log_set_hook(on_log, NULL);
	capture_stderr(log_forged, out, sizeof out);
	ck_assert_msg(count(out, '\n') == 1, "not one line: %s", out);
	ck_assert_ptr_null(strchr(out, '\x1b'));
	ck_assert_ptr_null(strchr(out, '\x07'));
	ck_assert_ptr_nonnull(strstr(out,
	                             " err defender: report from 'PC-01\\n2026-01-01T00:00:00.000Z"
	                             " err engine: forged\\x1b]0;owned\\x07\\x1b[2J'\n"));
	ck_assert_str_eq(hooked, "defender: report from 'PC-01\\n2026-01-01T00:00:00.000Z err "
	                         "engine: forged\\x1b]0;owned\\x07\\x1b[2J'");
	capture_stderr(log_forged_always, out, sizeof out);
	ck_assert_msg(count(out, '\n') == 1 && !strchr(out, '\r'), "not one line: %s", out);
	ck_assert_str_eq(hooked, "main: argv: a\\rb\\u009b2J");
	capture_stderr(log_japanese, out, sizeof out);
	ck_assert_str_eq(hooked, "defender: report from '経理部-PC01: 脅威を検出'");
	log_set_hook(NULL, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_test(tc, message_is_one_escaped_line);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
