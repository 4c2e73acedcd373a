/*
 * api_report: GET /api/v1/customers/{customer}/report and POST
 * .../report/send (api_report.c).
 */
#ifndef MAMORI_API_REPORT_H
#define MAMORI_API_REPORT_H

struct req;
int api_report(struct req *r);
int api_report_send(struct req *r); /* POST .../report/send */

#endif
