/*
 * fuzz_dns_dkim: the TXT records found at <selector>._domainkey.<domain>
 * (the input; several when it holds 0x1e bytes) through the dns_txt
 * plugin's DKIM key judge (plugins/dns_txt/policy.c: the tag list, then
 * the key decoded by OpenSSL: RSA SubjectPublicKeyInfo or raw Ed25519).
 * Promises: a complete verdict, and no memory kept from a key.
 */
#include "tests/fuzz/dns_txt_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct dt_txt t[DT_MAX_RECORDS];
	struct dt_txtset set = { t, records(s, size, t, DT_MAX_RECORDS) };
	struct dt_verdict v;
	dns_txt__verdict_init(&v);
	dns_txt__dkim_judge(&set, &v);
	verdict_ok(&v);
	free(s);
	return 0;
}
