/*
 * tmpdir: scratch directories for tests (see tmpdir.h).
 */
#include "tests/lib/tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tmpdir_make(char *dir, size_t len, const char *tag)
{
	const char *base = getenv("TMPDIR");
	int n = snprintf(dir, len, "%s/mamori-%s.XXXXXX", base && *base ? base : "/tmp", tag);
	if (n <= 0 || (size_t)n >= len)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

int tmpdir_remove(const char *dir)
{
	char cmd[1100];
	int n = snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (n <= 0 || (size_t)n >= sizeof cmd)
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

int tmpdir_write_file(const char *path, const char *text, unsigned mode)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	size_t n = strlen(text);
	int ok = fwrite(text, 1, n, f) == n;
	if (fclose(f) != 0 || !ok)
		return -1;
	return chmod(path, (mode_t)mode);
}
