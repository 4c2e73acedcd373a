/*
 * fuzz_dns_dmarc: the TXT records found at _dmarc.<domain> (the input;
 * several records when it holds 0x1e bytes) through the dns_txt plugin's
 * DMARC judge (plugins/dns_txt/policy.c, RFC 7489), and each record
 * through the escaping used for output (txt.c).  Promises: a complete
 * verdict; escaped text is printable ASCII, terminated, within its size.
 */
#include "tests/fuzz/dns_txt_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct dt_txt t[DT_MAX_RECORDS];
	struct dt_txtset set = { t, records(s, size, t, DT_MAX_RECORDS) };
	struct dt_verdict v;
	dns_txt__verdict_init(&v);
	dns_txt__dmarc_judge(&set, MAMORI_WARNING, &v);
	verdict_ok(&v);
	for (size_t i = 0; i < set.n; i++) {
		(void)dns_txt__is_dmarc(&t[i]);
		char esc[200];
		dns_txt__escape(t[i].data, t[i].len, 40, esc, sizeof esc);
		FUZZ_CHECK(memchr(esc, '\0', sizeof esc), "escape not terminated");
		for (const char *p = esc; *p; p++)
			FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "escaped text has byte 0x%02x",
			           (unsigned char)*p);
	}
	free(s);
	return 0;
}
