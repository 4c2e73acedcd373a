/*
 * proc: run external programs without blocking the loop and without
 * copying the daemon.
 *
 * posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), so the cost does not
 * grow with the daemon's RSS, unlike fork), a new process group per child
 * so a timeout kills the whole tree, stdout/stderr read through a
 * non-blocking pipe on the loop, exit collected with ev_child (libev's
 * SIGCHLD handler reaps every child, so zombies never accumulate).
 * Must be used with the default libev loop (ev_child works only there).
 */
#ifndef MAMORI_PROC_H
#define MAMORI_PROC_H

#include <mamori/plugin.h>

#include <spawn.h>

struct ev_loop;
struct proc_ctx;

struct proc_ctx *proc_ctx_new(struct ev_loop *loop);
/* Kills and forgets all running children (shutdown). */
void proc_ctx_free(struct proc_ctx *pc);
/* Number of children not yet reaped. */
unsigned proc_ctx_running(const struct proc_ctx *pc);

/* See mamori_host.proc_spawn. */
int proc_spawn(struct proc_ctx *pc, const struct mamori_spawn *req, mamori_proc_cb cb, void *ud,
               struct mamori_proc **out);
void proc_kill(struct mamori_proc *p);

/* Add to fa: close every descriptor >= lowfd in the child, after the
 * dup2s added before it.  Every spawn of this program goes through it:
 * the daemon's sockets (the broker's connection, libmosquitto's socket
 * pair, the database) are not all close-on-exec, and a child must never
 * inherit them.  0 or an errno value. */
int proc_closefrom(posix_spawn_file_actions_t *fa, int lowfd);

#endif
