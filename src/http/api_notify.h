/*
 * api_notify: the handlers of the on-call notification routes (their
 * rows are in route.c's table): who is on call, an alert's
 * notifications, a gateway's inbound webhook and the one-click links.
 * Private to src/http.
 */
#ifndef MAMORI_API_NOTIFY_H
#define MAMORI_API_NOTIFY_H

struct req;

int api_oncall(struct req *r);
int api_alert_notifications(struct req *r);
int api_notify_inbound(struct req *r);
int api_notify_link(struct req *r);

#endif
