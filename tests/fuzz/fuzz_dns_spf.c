/*
 * fuzz_dns_spf: one SPF record (a TXT record's strings joined, any byte
 * possible, even NUL) through the dns_txt plugin's evaluator and judge
 * (plugins/dns_txt/spf.c): syntax (RFC 7208), the walk up to the first
 * all, the lookup count, then every target answered (NXDOMAIN, or an
 * answer with 11 records when the first byte is odd) and the verdict.
 * Promises: a broken record asks for no lookup and names its error; a
 * good one hands out at most DT_SPF_MAX_LOOKUPS targets, each with a
 * terminated domain; the verdict is complete.
 */
#include "tests/fuzz/dns_txt_common.h"

struct asked {
	int follows, resolves;
};

static int cb_follow(void *ud, const char *domain, int chain)
{
	struct asked *a = ud;
	FUZZ_CHECK(domain && strlen(domain) < 256, "follow of a bad domain");
	a->follows++;
	return 0;
}

static int cb_resolve(void *ud, int i)
{
	struct asked *a = ud;
	FUZZ_CHECK(i >= 0 && i < DT_SPF_MAX_LOOKUPS, "resolve of target %d", i);
	a->resolves++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rec = fuzz_str(data, size);
	struct asked a = { 0, 0 };
	const struct dt_spf_cb cb = { cb_follow, cb_resolve, &a };
	struct dt_spf spf;
	char err[512];
	memset(&spf, 0, sizeof spf);
	err[0] = '\0';
	struct dt_txt t = { rec, size };
	(void)dns_txt__is_spf(&t);
	struct dt_verdict v;
	dns_txt__verdict_init(&v);
	int rc = dns_txt__spf_eval(&spf, "dom.example", rec, size, DT_SPF_CHAIN | DT_SPF_TOP, &cb,
	                           err, sizeof err);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof err), "refused without an error");
		FUZZ_CHECK(a.follows == 0 && a.resolves == 0, "a broken record asked for lookups");
		dns_txt__raise(&v, MAMORI_CRITICAL, "%s", err);
	} else {
		FUZZ_CHECK(spf.ntgt >= 0 && spf.ntgt <= DT_SPF_MAX_LOOKUPS, "%d targets", spf.ntgt);
		int odd = size && (data[0] & 1);
		for (int i = 0; i < spf.ntgt; i++) {
			FUZZ_CHECK(memchr(spf.tgt[i].domain, '\0', sizeof spf.tgt[i].domain) &&
			               memchr(spf.tgt[i].term, '\0', sizeof spf.tgt[i].term),
			           "target %d not terminated", i);
			for (int q = 1; q <= DT_Q_MX; q <<= 1)
				if (spf.tgt[i].want & q)
					dns_txt__spf_answer(&spf, i, q,
					                    odd ? DT_ST_OK : DT_ST_NXDOMAIN,
					                    odd ? 11 : 0, 0, &v);
		}
		dns_txt__spf_judge(&spf, &v);
	}
	verdict_ok(&v);
	free(rec);
	return 0;
}
