/*
 * report_pdf: step 4 of a report as an A4 PDF (not yet).
 */
#include "report/report_int.h"

#include <stdio.h>

int report__pdf(const struct rdoc *d, struct rbuf *out, char *err, size_t errlen)
{
	snprintf(err, errlen, "PDF output is not built yet");
	return REPORT_E_RENDER;
}
