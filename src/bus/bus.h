/*
 * bus: the daemon's side of the broker.  Owns the mqtt object (when the
 * config has an `mqtt` group), implements the plugin host's mqtt_* ops,
 * and publishes the retained <prefix>/v1/state/{customer}/{asset}/{check}
 * message (mamori.state/1) of every EVENT_STATE that changed something a
 * subscriber shows, and the server's health (bus_publish_health).
 *
 * Must never: block; include <mosquitto.h> (only src/mqtt does).
 * Depends on mqtt, events, proto.
 */
#ifndef MAMORI_BUS_H
#define MAMORI_BUS_H

#include <libconfig.h>

struct bus;
struct ev_loop;
struct events;
struct host_ops;
struct mqtt;

/* group NULL: no broker (plugins get MAMORI_E_NOTSUP).  NULL after
 * logging on a bad group. */
struct bus *bus_open(struct ev_loop *loop, const config_setting_t *group, const char *node,
                     struct events *events);
int bus_start(struct bus *b);
/* Stop publishing and close the broker connection. */
void bus_close(struct bus *b);
void bus_free(struct bus *b);
/* The broker connection, or NULL without one. */
struct mqtt *bus_mqtt(const struct bus *b);
/* -1 without a broker, else 1 while its session is up, 0 when not. */
int bus_connected(const struct bus *b);
struct bus_stats {
	int configured, connected;
	unsigned long long msgs_in, msgs_out, acks, rejected_size, rejected_nosub, publish_errors,
	    connects, connect_failures, unacked, bytes_in, bytes_out;
};
void bus_get_stats(const struct bus *b, struct bus_stats *out);
/* The server's own health, retained QoS 1 on
 * <prefix>/v1/server/{node}/health (mamori.health/1):
 *   {"schema":"mamori.health/1","node":N,"store":"ok"|"failing",
 *    "since":UNIX-SECONDS,"time":UNIX-SECONDS}
 * It does not go through the database (the store may be what fails):
 * libmosquitto queues it while the broker is away.  No broker: nothing. */
void bus_publish_health(struct bus *b, int store_failing, double since, double now);
/* Fill the mqtt_* ops (their context is b). */
void bus_fill_ops(struct bus *b, struct host_ops *ops);

#endif
