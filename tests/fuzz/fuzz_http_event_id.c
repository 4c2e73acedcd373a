/*
 * fuzz_http_event_id: the SSE stream's Last-Event-ID header (or its
 * ?after= twin) through sse_parse_id (src/http/api_events.c), which
 * api_events uses to resume a stream.  Promises: an accepted id is
 * exactly what the stream writes ("%llu-%llu": digits, no sign, blank
 * or overflow), so formatting the two numbers gives the input back.
 */
#include "tests/fuzz/fuzz.h"
#include "http/http_int.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = fuzz_str(data, size);
	uint64_t ep = 0, seq = 0;
	if (sse_parse_id(v, &ep, &seq) == 0) {
		char back[64];
		snprintf(back, sizeof back, "%" PRIu64 "-%" PRIu64, ep, seq);
		/* leading zeros are the one freedom: compare the numbers' text */
		const char *a = v;
		while (a[0] == '0' && a[1] >= '0' && a[1] <= '9')
			a++;
		const char *dash = strchr(a, '-');
		FUZZ_CHECK(dash != NULL, "accepted '%s' without a dash", v);
		const char *b = dash + 1;
		while (b[0] == '0' && b[1] >= '0' && b[1] <= '9')
			b++;
		char canon[200];
		snprintf(canon, sizeof canon, "%.*s-%s", (int)(dash - a), a, b);
		FUZZ_CHECK(strcmp(canon, back) == 0, "accepted '%s' as %s", v, back);
	}
	free(v);
	return 0;
}
