/*
 * replay: a main() for the fuzz targets without libFuzzer.  Linked with
 * one tests/fuzz/fuzz_NAME.c as build/fuzz/replay_NAME by every normal
 * build, and run by `make unit`: it feeds each file of
 * tests/fuzz/regress/NAME (inputs that once crashed a target) and
 * tests/fuzz/corpus/NAME (the seeds) to LLVMFuzzerTestOneInput once, so a
 * fixed bug stays fixed in the gcc and ASan passes, where clang is not
 * needed.  NAME comes from the program's own name.  With arguments, it
 * replays those files or directories instead (to debug one finding).
 *
 * Each input is read into a buffer of exactly its size, so the sanitizers
 * see a read past its end.  A crash, sanitizer report or failed promise
 * ends the program (abort) naming the file; a missing corpus directory is
 * an error (a target without seeds is a mistake).  Must never: write
 * anything, or depend on the order of files.
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Targets that need no setup do not define it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
		fclose(f);
		return -1;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf || fread(buf, 1, n, f) != n) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* named first: a crash report follows it */
	if (getenv("FUZZ_REPLAY_VERBOSE"))
		fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* Every regular file of dir, in name order; the count, or -1. */
static long replay_dir(const char *dir, int must_exist)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT && !must_exist)
			return 0;
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof *names);
			if (!nn)
				abort();
			names = nn;
		}
		names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (!names[n])
			abort();
		sprintf(names[n], "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp);
	long done = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(names[i]) != 0)
				done = -1;
			else if (done >= 0)
				done++;
		}
		free(names[i]);
	}
	free(names);
	return done;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');
	self = self ? self + 1 : argv[0];
	const char *name = strncmp(self, "replay_", 7) == 0 ? self + 7 : self;
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		int rc = 0;
		for (int i = 1; i < argc; i++) {
			struct stat st;
			if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
				rc |= replay_dir(argv[i], 1) < 0;
			else
				rc |= replay_file(argv[i]) != 0;
		}
		return rc;
	}
	char dir[512];
	snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", name);
	long reg = replay_dir(dir, 0);
	snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
	long seeds = replay_dir(dir, 1);
	if (reg < 0 || seeds < 0)
		return 1;
	if (seeds == 0) {
		fprintf(stderr, "replay: %s: no seeds\n", dir);
		return 1;
	}
	printf("replayed %s: %ld regression inputs, %ld seeds\n", name, reg, seeds);
	return 0;
}
