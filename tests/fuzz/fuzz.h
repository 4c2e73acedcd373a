/*
 * fuzz: what every fuzz target shares.
 *
 * A target is one file tests/fuzz/fuzz_NAME.c defining
 * LLVMFuzzerTestOneInput (and, when it needs setup, LLVMFuzzerInitialize).
 * The same file is linked two ways:
 *   - with clang and libFuzzer (`make fuzz`: build-fuzz/fuzz/fuzz_NAME),
 *     which mutates inputs for FUZZ_SECONDS;
 *   - with the normal compiler and tests/fuzz/replay.c (`make unit`:
 *     build/fuzz/replay_NAME), which feeds every file of
 *     tests/fuzz/regress/NAME and tests/fuzz/corpus/NAME to it once, so
 *     the gcc and ASan passes replay what the fuzzers found without clang.
 * A target must never write files, open sockets or keep state between
 * inputs that changes what the next input does (libFuzzer's findings must
 * replay alone), and must free everything it allocates (leaks fail).
 * Beyond "no crash", a target asserts what its parser promises (FUZZ_CHECK):
 * a broken promise is a finding like a crash.
 */
#ifndef MAMORI_FUZZ_H
#define MAMORI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise: print it and abort (libFuzzer saves the input). */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated heap copy of the input (exactly size + 1 bytes, so an
 * overread is caught by the sanitizers); free() it. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Input split: the first byte selects a variant, the rest is the text. */
static inline unsigned fuzz_take_byte(const uint8_t **data, size_t *size)
{
	if (*size == 0)
		return 0;
	unsigned b = **data;
	(*data)++;
	(*size)--;
	return b;
}

#endif
