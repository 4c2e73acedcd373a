/*
 * fuzz_config: a configuration text through the daemon's whole load and
 * validation (config_load_string: libconfig, then src/config's checks of
 * keys, types, references, calendars, downtimes, SLA terms, and the
 * plugins' own key tables), as tests/unit/test_config.c does it, with the
 * dummy, exec and passive_test plugins loaded from the build directory
 * next to the fuzz binary.  Promises: a text is accepted, or refused with
 * at least one message, each naming "file:line: "; what was accepted is
 * freed completely.  Texts that would make libconfig or the holiday loader
 * read files outside the input (@include, device paths) are skipped: a
 * config file is the administrator's, and reading /dev/zero forever is
 * not a parser's bug.
 */
#include "tests/fuzz/fuzz.h"
#include "config/config.h"
#include "plugin/loader.h"
#include "util/log.h"

#include <libgen.h>
#include <regex.h>

/* libconfig 1.5 (Debian 12) leaks what its scanner allocated for a token
 * (a string's buffer grown by strbuf_append, or the 1-byte empty string
 * it makes for "") when a syntax error stops the parser before the token
 * is used: its grammar has no destructors.  Not ours to fix, and not
 * reachable by anything we free (config_destroy cannot see those tokens).
 * The suppressions name the scanner and its string buffer only (libconfig
 * has no frame pointers, so LeakSanitizer's stack may end at either), so
 * a tree we forgot to destroy (allocated by the parser's actions) is still
 * reported.  tests/fuzz/regress/config/libconfig-* are the inputs that
 * showed it. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:strbuf_append\n";
}

static struct loader *L;
static regex_t where_re;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* build-fuzz/fuzz/fuzz_config or build/fuzz/replay_config */
	char self[4096], path[4200];
	snprintf(self, sizeof self, "%s", (*argv)[0]);
	char *bdir = dirname(dirname(self));
	log_set_level(LOG_LVL_ERR);
	L = loader_new();
	static const char *const plugins[] = { "plugins/dummy.so", "plugins/exec.so",
		                               "tests/plugins/passive_test.so" };
	for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", bdir, plugins[i]);
		if (!loader_load(L, path)->def) {
			fprintf(stderr, "fuzz_config: cannot load %s\n", path);
			exit(1);
		}
	}
	if (regcomp(&where_re, "^[^:]+:[1-9][0-9]*: ", REG_EXTENDED | REG_NOSUB) != 0)
		exit(1);
	return 0;
}

struct errs {
	int n;
	char first_bad[256];
};

static void on_err(void *ud, const char *msg)
{
	struct errs *e = ud;
	if (regexec(&where_re, msg, 0, NULL, 0) != 0 && !e->first_bad[0])
		snprintf(e->first_bad, sizeof e->first_bad, "%s", msg);
	e->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	if (strstr(text, "@include") || strstr(text, "/dev") || strstr(text, "/proc") ||
	    strstr(text, "/sys") || strstr(text, "/run")) {
		free(text);
		return 0;
	}
	struct errs e = { 0, "" };
	struct mconf *c = config_load_string(text, L, "share/mamori", on_err, &e);
	if (c) {
		mconf_free(c);
	} else {
		FUZZ_CHECK(e.n > 0, "refused without a message");
		FUZZ_CHECK(!e.first_bad[0], "a message without file:line: %s", e.first_bad);
	}
	free(text);
	return 0;
}
