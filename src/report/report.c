/*
 * report: steps 2 to 4 in one call (report_make), on the caller's thread
 * - a worker of the pool, a test, a benchmark.
 *
 * Must never: run on the daemon's loop thread.
 */
#include "report/report_int.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

static int make(struct store *ro, const struct report_input *in, struct rdoc *d, char *err,
                size_t errlen)
{
	struct rtexts *t = rtexts_load(in->datadir ? in->datadir : ".", in->lang, err, errlen);
	if (!t)
		return REPORT_E_INVALID;
	struct report r;
	int rc = report__build(ro, in, &r, err, errlen);
	if (rc == REPORT_OK)
		rc = report__doc(&r, t, d);
	report__free(&r);
	rtexts_free(t);
	return rc;
}

int report__make_all(struct store *ro, const struct report_input *in, char **out, size_t *len,
                     char **summary, char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	if (summary)
		*summary = NULL;
	if (in->format != REPORT_HTML && in->format != REPORT_PDF) {
		snprintf(err, errlen, "unknown format %d", in->format);
		return REPORT_E_INVALID;
	}
	if (in->now < in->from) {
		snprintf(err, errlen, "the month %04d-%02d has not begun yet", in->year, in->month);
		return REPORT_E_INVALID;
	}
	struct rdoc d;
	memset(&d, 0, sizeof d);
	int rc = make(ro, in, &d, err, errlen);
	struct rbuf b = { 0 };
	if (rc == REPORT_OK)
		rc = in->format == REPORT_PDF ? report__pdf(&d, &b, err, errlen)
		                              : report__html(&d, &b);
	if (rc == REPORT_OK && summary) {
		*summary = d.summary;
		d.summary = NULL;
	}
	report__doc_free(&d);
	if (rc != REPORT_OK) {
		rbuf_free(&b);
		return rc;
	}
	*out = b.p;
	*len = b.n;
	return REPORT_OK;
}

int report_make(struct store *ro, const struct report_input *in, char **out, size_t *len, char *err,
                size_t errlen)
{
	return report__make_all(ro, in, out, len, NULL, err, errlen);
}

int report_make_summary(struct store *ro, const struct report_input *in, char **out, char *err,
                        size_t errlen)
{
	*out = NULL;
	if (in->now < in->from) {
		snprintf(err, errlen, "the month %04d-%02d has not begun yet", in->year, in->month);
		return REPORT_E_INVALID;
	}
	struct rdoc d;
	memset(&d, 0, sizeof d);
	int rc = make(ro, in, &d, err, errlen);
	if (rc == REPORT_OK) {
		*out = d.summary;
		d.summary = NULL;
	}
	report__doc_free(&d);
	return rc;
}
