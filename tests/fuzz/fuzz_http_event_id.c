/*
 * fuzz_http_event_id: the SSE stream's Last-Event-ID header (or its
 * ?after= twin) through sse_parse_id (src/http/api_events.c), which
 * api_events uses to resume a stream.  Promises: an accepted id is what
 * the stream writes ("<epoch>-<seq>[.<us>[.<alert seq>.<alert id>]]":
 * digits with no sign, blank or overflow), so writing its fields again
 * parses to the same id.
 */
#include "tests/fuzz/fuzz.h"
#include "http/http_int.h"

#include <inttypes.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = fuzz_str(data, size);
	struct sse_id id, again;
	if (sse_parse_id(v, &id) == 0) {
		/* what the stream would write for it parses to the same id */
		char back[400];
		int n = snprintf(back, sizeof back, "%" PRIu64 "-%" PRIu64, id.epoch, id.seq);
		if (id.has_time)
			n += snprintf(back + n, sizeof back - (size_t)n, ".%" PRIu64, id.us);
		if (id.has_alert)
			snprintf(back + n, sizeof back - (size_t)n, ".%" PRIu64 ".%s", id.alert_seq,
			         id.alert);
		FUZZ_CHECK(sse_parse_id(back, &again) == 0, "'%s' accepted, '%s' not", v, back);
		FUZZ_CHECK(again.epoch == id.epoch && again.seq == id.seq && again.us == id.us &&
		               again.has_time == id.has_time && again.has_alert == id.has_alert &&
		               again.alert_seq == id.alert_seq &&
		               strcmp(again.alert, id.alert) == 0,
		           "'%s' does not round-trip through '%s'", v, back);
		FUZZ_CHECK(!strpbrk(v, " +\t") || id.has_alert,
		           "'%s' accepted with a sign or blank", v);
	}
	free(v);
	return 0;
}
