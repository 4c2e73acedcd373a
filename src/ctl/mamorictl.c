/*
 * mamorictl: command-line client.  Until the HTTP API exists it reads the
 * state database directly (read-only), which is safe with WAL while the
 * daemon runs.
 *
 *   mamorictl [-d STATE_DIR] status [CUSTOMER[/ASSET]]
 *   mamorictl --version
 */
#include "buildcfg.h"

#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

static int status(const char *dir, const char *filter, int problems_only)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/mamori.db", dir);
	sqlite3 *db;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "mamorictl: cannot open %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_busy_timeout(db, 2000);
	sqlite3_stmt *st;
	const char *sql =
	    "SELECT customer, asset, name, state, hard, attempt, output, last_check FROM check_state"
	    " WHERE (?1 IS NULL OR customer = ?1 OR customer || '/' || asset = ?1)"
	    " AND (?2 = 0 OR state != 0) ORDER BY state = 0, state DESC, customer, asset, name";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "mamorictl: %s: %s\n", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	if (filter)
		sqlite3_bind_text(st, 1, filter, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, problems_only);
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int s = sqlite3_column_int(st, 3) & 3;
		/* never checked (e.g. a PC whose agent has not reported yet):
		 * PENDING, as Nagios says, not a made-up OK */
		int pending = sqlite3_column_type(st, 7) == SQLITE_NULL;
		const char *out = (const char *)sqlite3_column_text(st, 6);
		printf("%-8s %-4s %s/%s/%s: %s\n", pending ? "PENDING" : state_names[s],
		       pending                     ? "-"
		       : sqlite3_column_int(st, 4) ? "HARD"
		                                   : "SOFT",
		       sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
		       sqlite3_column_text(st, 2),
		       pending ? "no result yet"
		       : out   ? out
		               : "");
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (!n)
		printf("no checks%s\n", filter ? " match" : "");
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = MAMORI_STATEDIR;
	int c, problems = 0;
	static const struct option longopts[] = { { "state-dir", required_argument, NULL, 'd' },
		                                  { "problems", no_argument, NULL, 'p' },
		                                  { "version", no_argument, NULL, 'V' },
		                                  { NULL, 0, NULL, 0 } };
	while ((c = getopt_long(argc, argv, "d:pV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'p': problems = 1; break;
		case 'V': printf("mamorictl %s\n", MAMORI_VERSION); return 0;
		default: goto usage;
		}
	}
	if (optind < argc && strcmp(argv[optind], "status") == 0)
		return status(dir, optind + 1 < argc ? argv[optind + 1] : NULL, problems);
usage:
	fprintf(stderr, "usage: mamorictl [-d STATE_DIR] [-p] status [CUSTOMER[/ASSET]]\n");
	return 2;
}
