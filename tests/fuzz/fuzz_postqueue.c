/*
 * fuzz_postqueue: a `postqueue -j` listing (one JSON object per line) as
 * the mail_latency plugin's queue mode reads it
 * (plugins/mail_latency/parse.c).  Senders and recipients in it are
 * anyone's.  Promises: an accepted listing counts each message once (the
 * per-queue counts add up), the oldest arrival is a finite time (0 for an empty
 * queue); a refused one names a line that exists.
 */
#include "tests/fuzz/fuzz.h"

#include "plugins/mail_latency/parse.c"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = calloc(1, size ? size : 1);
	if (size)
		memcpy(text, data, size);
	struct ml_queue_stats st;
	long bad = ml_queue_parse(text, size, &st);
	long lines = size ? 1 : 0;
	for (size_t i = 0; i + 1 < size; i++)
		lines += text[i] == '\n';
	if (bad == 0) {
		long sum = st.other_queue;
		for (int i = 0; i < 5; i++)
			sum += st.per_queue[i];
		FUZZ_CHECK(sum == st.count, "counts add up to %ld, not %ld", sum, st.count);
		FUZZ_CHECK(isfinite(st.oldest_arrival) && st.oldest_arrival >= 0,
		           "oldest arrival %g", st.oldest_arrival);
		FUZZ_CHECK(st.count > 0 || st.oldest_arrival == 0, "oldest arrival %g of nothing",
		           st.oldest_arrival);
	} else {
		FUZZ_CHECK(bad >= 1 && bad <= lines, "bad line %ld of %ld", bad, lines);
	}
	free(text);
	return 0;
}
