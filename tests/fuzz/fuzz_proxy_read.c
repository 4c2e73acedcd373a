/*
 * fuzz_proxy_read: what an isolated plugin host sends, read by the core
 * the way src/plugin/proxy.c reads it - the real proxy (px_drain,
 * px_dispatch and the handlers behind them: results matched to runs,
 * init and prepare answers matched to the requests in flight, log
 * messages, metrics kept, a dying host's WIRE_FATAL) over the core's
 * reader (wire_reader: framing and decoding), on a proxy without a
 * process (proxy__detached) that waits for its init, has prepared checks
 * and runs in flight.  The host is a separate process running a vendor's
 * .so: it may send anything, in any pieces.
 *
 * Input: a setup byte (bits 0-1: checks prepared, 0..3; bits 2-4: runs
 * started on them, 0..7), a split byte (bits 0-3: how many chunk sizes
 * follow, K; bit 4: the connection closes after the stream), K chunk
 * sizes (a byte each: 1..256 bytes), then the stream.  The stream is read
 * twice, by two proxies set up alike: in one piece, and cut into the
 * chunk sizes (cycling).
 *
 * Promises: a run is completed at most once, and never after its host
 * went down by a message (the loop does that later); both readings end
 * the same way - the same completions with the same texts, the host up or
 * down for the same reason, the same metrics kept - whatever the cuts;
 * once down, nothing more is read; what is buffered never exceeds what
 * was sent; the reason a host is down is a short terminated text.
 */
#include "tests/fuzz/fuzz.h"
#include "config/pconf.h"
#include "plugin/host.h"
#include "plugin/loader.h"
#include "plugin/proxy.h"
#include "util/log.h"

#include <ev.h>

#define MAX_RUNS 8

struct frun {
	int done;
};

/* One reading: its completions as a hash of their texts, and its state. */
struct session {
	struct frun runs[MAX_RUNS];
	void *run_state[MAX_RUNS];
	void *check_data[4];
	uint64_t hash;
	unsigned completions;
	int down_at_feed; /* the feed after which the host was down (-1: up) */
};

static struct ev_loop *loop;
static struct session *cur;
static int fake_check[4];
static const struct mamori_check_info info = { .struct_size = sizeof info,
	                                       .customer = "c",
	                                       .customer_name = "C",
	                                       .asset = "a",
	                                       .asset_type = "host",
	                                       .check = "k",
	                                       .interval = 60,
	                                       .timeout = 10 };

static uint64_t mix(uint64_t h, const char *s)
{
	if (!s)
		return (h ^ 0x5a) * 1099511628211ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

static void fake_run_complete(void *ctx, struct mamori_run *run, const struct mamori_result *res)
{
	struct frun *r = (struct frun *)run;
	FUZZ_CHECK(r >= cur->runs && r < cur->runs + MAX_RUNS, "a run that was never started");
	FUZZ_CHECK(!r->done, "run %d completed twice", (int)(r - cur->runs));
	FUZZ_CHECK(cur->down_at_feed < 0, "a run completed while reading a down host");
	r->done = 1;
	char head[64];
	snprintf(head, sizeof head, "run %d state %d flags %u", (int)(r - cur->runs), res->state,
	         res->flags);
	cur->hash = mix(cur->hash, head);
	cur->hash = mix(cur->hash, res->output);
	cur->hash = mix(cur->hash, res->long_output);
	cur->hash = mix(cur->hash, res->perf_text);
	cur->completions++;
}

static const struct mamori_check_info *fake_check_info(void *ctx, const struct mamori_check *chk)
{
	return &info;
}

static const struct host_ops ops = { .run_complete = fake_run_complete,
	                             .check_info = fake_check_info };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERR - 1); /* every host gone bad logs an error */
	loop = ev_loop_new(EVFLAG_AUTO);
	host_bind(loop, NULL, &ops, NULL, "/nonexistent");
	return 0;
}

/* Read stream with a fresh proxy; sizes/n_sizes == 0: in one piece. */
static void reading(struct session *s, unsigned setup, int eof, const uint8_t *sizes,
                    size_t n_sizes, const uint8_t *stream, size_t len, char *why, size_t whylen,
                    size_t *metrics_len, uint32_t *metrics_n)
{
	memset(s, 0, sizeof *s);
	s->down_at_feed = -1;
	cur = s;
	struct proxy *px = proxy__detached(loop, "fz");
	const struct mamori_plugin *def = proxy_mod(px)->def;
	unsigned n_checks = setup & 3, n_runs = (setup >> 2) & 7;
	for (unsigned i = 0; i < n_checks; i++) {
		struct mamori_conf conf = { 0 };
		def->check_prepare(px, (struct mamori_check *)&fake_check[i], &conf,
		                   &s->check_data[i]);
	}
	for (unsigned i = 0; n_checks && i < n_runs; i++)
		def->check_start(px, (struct mamori_run *)&s->runs[i], s->check_data[i % n_checks],
		                 &s->run_state[i]);
	size_t off = 0, fed = 0;
	int feeds = 0;
	do {
		size_t n = len - off;
		if (n_sizes) {
			size_t want = (size_t)sizes[feeds % n_sizes] + 1;
			n = want < n ? want : n;
		}
		int last = off + n == len;
		int rc = proxy__feed(px, stream + off, n, eof && last);
		off += n;
		fed += n;
		feeds++;
		if (rc < 0) {
			FUZZ_CHECK(proxy__why(px) != NULL, "down without a reason");
			FUZZ_CHECK(proxy__feed(px, "x", 1, 0) < 0, "a down host read again");
			s->down_at_feed = feeds;
			break;
		}
		FUZZ_CHECK(proxy__pending(px) <= fed, "%zu bytes buffered of %zu sent",
		           proxy__pending(px), fed);
	} while (off < len);
	const char *w = proxy__why(px);
	FUZZ_CHECK(!w || (strlen(w) > 0 && strlen(w) < 96), "reason of %zu bytes",
	           w ? strlen(w) : 0);
	snprintf(why, whylen, "%s", w ? w : "(up)");
	*metrics_len = proxy__metrics(px, metrics_n);
	FUZZ_CHECK(*metrics_n <= MAMORI_METRIC_MAX_SERIES, "%u series kept", *metrics_n);
	/* as the core does: cancel what runs, release the checks, destroy */
	for (unsigned i = 0; n_checks && i < n_runs; i++)
		if (!s->runs[i].done)
			def->check_cancel(px, (struct mamori_run *)&s->runs[i], s->run_state[i]);
	for (unsigned i = 0; i < n_checks; i++)
		def->check_release(px, (struct mamori_check *)&fake_check[i], s->check_data[i]);
	def->destroy(px);
	cur = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned setup = fuzz_take_byte(&data, &size);
	unsigned split = fuzz_take_byte(&data, &size);
	size_t n_sizes = split & 15;
	int eof = (split >> 4) & 1;
	if (n_sizes > size)
		n_sizes = size;
	const uint8_t *sizes = data;
	data += n_sizes;
	size -= n_sizes;
	/* the stream as received, without a terminator */
	uint8_t *stream = calloc(1, size ? size : 1);
	if (size)
		memcpy(stream, data, size);
	struct session a, b;
	char why_a[128], why_b[128];
	size_t ml_a, ml_b;
	uint32_t mn_a, mn_b;
	reading(&a, setup, eof, NULL, 0, stream, size, why_a, sizeof why_a, &ml_a, &mn_a);
	static const uint8_t bytewise[] = { 0 }; /* no sizes: one byte at a time */
	reading(&b, setup, eof, n_sizes ? sizes : bytewise, n_sizes ? n_sizes : 1, stream, size,
	        why_b, sizeof why_b, &ml_b, &mn_b);
	FUZZ_CHECK(a.completions == b.completions && a.hash == b.hash,
	           "completions differ: %u in one piece, %u in chunks", a.completions,
	           b.completions);
	FUZZ_CHECK(strcmp(why_a, why_b) == 0, "'%s' in one piece, '%s' in chunks", why_a, why_b);
	FUZZ_CHECK(ml_a == ml_b && mn_a == mn_b, "metrics kept differ");
	free(stream);
	return 0;
}
