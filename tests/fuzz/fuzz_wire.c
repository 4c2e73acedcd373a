/*
 * fuzz_wire: what an isolated plugin host sends, as the core reads it:
 * a byte stream cut into frames by wire_frame and decoded by
 * wire_host_decode (src/plugin/wire.c, the one reader px_drain and
 * px_wait in src/plugin/proxy.c use), and each result's texts stored the
 * way the engine keeps them (engine__store_text: output, perfdata and
 * long output of a check, clipped).  The host is a separate process
 * running a vendor's .so: it may send anything.  Promises: frames never
 * reach past the input, a decoded string is terminated inside its frame,
 * a stream stops at the first bad frame (as the proxy then drops the
 * host), and the stored texts are within their limits.
 */
#include "tests/fuzz/fuzz.h"
#include "engine/engine_int.h"
#include "plugin/wire.h"

static void inside(const char *s, const struct rbuf *body, const char *what)
{
	if (!s)
		return;
	FUZZ_CHECK(s >= body->p && s < body->p + body->len, "%s outside its frame", what);
	FUZZ_CHECK(memchr(s, '\0', (size_t)(body->p + body->len - s)) != NULL,
	           "%s not terminated in its frame", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the stream as read from the socket, without a terminator */
	char *buf = malloc(size ? size : 1);
	if (size)
		memcpy(buf, data, size);
	struct check *c = calloc(1, sizeof *c);
	size_t off = 0;
	for (;;) {
		struct rbuf body;
		int type = -1;
		long n = wire_frame(buf + off, size - off, &body, &type);
		if (n <= 0)
			break; /* more needed, or a broken host */
		FUZZ_CHECK((size_t)n <= size - off, "frame of %ld bytes, %zu left", n, size - off);
		FUZZ_CHECK(body.p >= buf + off && body.p + body.len <= buf + off + n,
		           "body outside its frame");
		off += (size_t)n;
		struct wire_host_msg m;
		struct rbuf whole = body;
		if (wire_host_decode(type, &body, &m) != 0)
			break;
		FUZZ_CHECK(m.type == type, "type %d decoded as %d", type, m.type);
		inside(m.output, &whole, "output");
		inside(m.long_output, &whole, "long output");
		inside(m.perf_text, &whole, "perfdata");
		inside(m.text, &whole, "text");
		if (type == WIRE_RESULT && m.rc == 0) {
			struct mamori_result res = { .struct_size = sizeof res,
				                     .state = m.state,
				                     .flags = m.flags,
				                     .output = m.output,
				                     .long_output = m.long_output,
				                     .perf_text = m.perf_text };
			int same = 0;
			engine__store_text(c, &res, &same);
			/* the same result again: kept, not rewritten, and its
			 * perfdata (when it has any) known to be the same */
			FUZZ_CHECK(engine__store_text(c, &res, &same) == 0,
			           "a repeated result changed the text");
			FUZZ_CHECK(same || !res.perf_text,
			           "repeated perfdata not seen as the same");
			FUZZ_CHECK(strlen(check_output(c)) <= 8192 &&
			               strlen(check_perf(c)) < 8192 &&
			               strlen(check_long(c)) <= 65536,
			           "stored texts beyond their limits");
		}
	}
	free(c->out);
	free(c);
	free(buf);
	return 0;
}
