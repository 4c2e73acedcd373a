/*
 * server internals: the wiring object.  Only server.c includes this; it
 * owns one instance of every module and connects them (registry hooks to
 * the engine, the store's `done` to the journal, subscribers to the hub).
 */
#ifndef MAMORI_SERVER_INT_H
#define MAMORI_SERVER_INT_H

#include "engine/engine.h"
#include "auth/auth.h"
#include "http/http.h"
#include "registry/registry.h"
#include "server/server.h"
#include "util/hmap.h"
#include "plugin/host.h"

#include <ev.h>

struct alerts;
struct app;
struct http;
struct bus;
struct events;
struct events_sub;
struct journal;
struct loader;
struct mqtt_cmd;
struct notify;
struct proc_ctx;
struct reload_job;
struct report_pool;
struct series;
struct statelog;
struct store;

struct server {
	struct ev_loop *loop;
	struct server_opts opts;
	char *config_path;
	struct mconf *conf; /* current (tree dropped after load) */
	struct loader *loader;
	struct proc_ctx *procs;
	struct store *store;
	struct events *events;
	struct journal *journal;
	struct registry reg;
	struct engine *engine;
	struct bus *bus;
	struct alerts *alerts;
	struct app *app;
	struct series *series;       /* the perfdata history; NULL without a store */
	struct forward *forward;     /* history.forward: its values to Graphite; NULL: off */
	struct statelog *statelog;   /* the state history; NULL without a store */
	struct report_pool *reports; /* the monthly reports' workers; NULL without a store */
	struct notify *notify;       /* on-call notifications (src/notify) */
	struct mqtt_cmd *mqtt_cmd;
	struct http_conf http_conf; /* parsed at load (the tree is dropped after) */
	struct auth_conf auth_conf;
	struct auth *auth;
	struct http *http;
	struct host_ops ops;  /* what the host API calls back into */
	struct hmap restored; /* key -> struct store_state_row copy (startup only) */
	server_state_hook hook;
	void *hook_ud;
	struct events_sub *hook_sub;
	struct reload_job *reloading; /* waiting for isolated plugins' answers */
	int reload_again;             /* asked for again meanwhile: once more after */
	char *reload_again_text;      /* its text (tests), NULL: the file */
	unsigned reloads_committed, reloads_refused;
	int stopping;
	ev_timer health_w;    /* watches the store: a disk full is said loudly */
	int store_down;       /* the last health published: the store failing */
	double store_down_at; /* since when (wall clock), 0 when not */
};

#endif
