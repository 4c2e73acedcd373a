/*
 * isolate: the isolated plugin host process (`isolate = true`).
 *
 * mamorid runs itself again as `mamorid --plugin-host FD PATH`: the child
 * dlopens the plugin at PATH with the real loader, runs it on its own libev
 * loop with the real host API (src/plugin/host.c) bound to host_ops of its
 * own, and talks to the core's proxy (src/plugin/proxy.c) over the socket
 * FD with the messages of wire.h.  A crash or hang of the plugin costs only
 * this process.
 *
 * What an isolated plugin cannot use: MQTT, check_submit, check_find,
 * asset_register and calendars (they return MAMORI_E_NOTSUP / NULL /
 * MAMORI_E_NOTFOUND), which is why config refuses isolate for passive
 * plugins.  check_data works for the plugin's own checks.
 */
#ifndef MAMORI_PLUGHOST_H
#define MAMORI_PLUGHOST_H

#include <stdint.h>

/* The child's main: serve the proxy on fd until it closes the socket.
 * memory_limit: bytes of private writable memory the host may use
 * (RLIMIT_DATA, set before the plugin is loaded; 0: none).  Returns the
 * process exit code. */
int plughost_main(int fd, const char *plugin_path, uint64_t memory_limit);
/* `mamorid --plugin-host FD PATH [LIMIT]`: plughost_main when argv is
 * that (returns 1 with *rc set), else 0. */
int plughost_argv(int argc, char **argv, int *rc);

#endif
