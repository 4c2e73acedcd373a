/*
 * fuzz_imap: an IMAP server's answers as the mail_latency plugin reads
 * them (plugins/mail_latency/parse.c): UID SEARCH and UID FETCH
 * responses, INTERNALDATE values and probe tags inside them.  The server
 * is remote and the mails in the mailbox are anyone's.  The first byte
 * picks the array size (0..63); the rest is the response (not
 * terminated, as curl hands it over).  Promises: never more results than
 * room; UIDs are 1..2^32-1; dates are finite; a tag found formats back
 * into text in which the same tag is found again.
 */
#include "tests/fuzz/fuzz.h"

#include "plugins/mail_latency/parse.c"

#include <math.h>

#define ID "m0123456789abc"

static void tag_round_trip(const struct ml_tag *t)
{
	char buf[ML_TAG_MAX + 8];
	int n = ml_tag_format(t, buf, sizeof buf);
	FUZZ_CHECK(n > 0, "a found tag does not format");
	struct ml_tag back;
	FUZZ_CHECK(ml_tag_find(buf, (size_t)n, ID, &back) == 1, "'%s' not found again", buf);
	FUZZ_CHECK(back.seq == t->seq && back.sent_ms == t->sent_ms && !strcmp(back.id, t->id),
	           "'%s' read back differently", buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int max = (int)(fuzz_take_byte(&data, &size) % 64);
	char *text = calloc(1, size ? size : 1);
	if (size)
		memcpy(text, data, size);

	uint32_t uids[64];
	int n = ml_imap_search_parse(text, size, uids, max);
	FUZZ_CHECK(n >= -1 && n <= max, "search: %d of %d", n, max);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(uids[i] != 0, "search: UID 0");
	if (n > 0) {
		char set[64 * 11 + 1];
		int w = ml_uid_set(uids, n, set, sizeof set);
		FUZZ_CHECK(w > 0 && (size_t)w == strlen(set), "uid set %d", w);
	}

	struct ml_fetched f[64];
	n = ml_imap_fetch_parse(text, size, ID, f, max);
	FUZZ_CHECK(n >= -1 && n <= max, "fetch: %d of %d", n, max);
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(f[i].uid != 0, "fetch: UID 0");
		FUZZ_CHECK(isfinite(f[i].internal_date), "fetch: date %g", f[i].internal_date);
		if (f[i].has_tag)
			tag_round_trip(&f[i].tag);
	}

	struct ml_tag t;
	if (ml_tag_find(text, size, ID, &t) == 1)
		tag_round_trip(&t);

	double d;
	if (ml_imap_date_parse(text, size, &d) == 0)
		FUZZ_CHECK(isfinite(d) && d >= -86400, "date -> %g", d);
	free(text);
	return 0;
}
