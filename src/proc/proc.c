/*
 * proc: posix_spawn + pipes + ev_child.  See proc.h.
 *
 * A child is finished when both its exit status is in and its output pipe
 * reached EOF.  A grandchild that escaped the process group could hold the
 * pipe open forever, so after the exit we give the pipe a short grace and
 * then close it.  After proc_kill the callback is forgotten, but the
 * record lives on until the child is reaped.  A child gets its three
 * standard descriptors and nothing else (proc_closefrom).
 */
#include "proc/proc.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* glibc 2.34 added the "close from" spawn action (Debian 12 has 2.36);
 * marking descriptors close-on-exec instead would race with every thread
 * and library that opens one, so there is no fallback. */
#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 34)
#error "mamori needs posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)"
#endif

#define DEFAULT_MAX_OUTPUT (64 * 1024)
#define EOF_GRACE          0.5 /* seconds to wait for EOF after the child exited */

extern char **environ;

struct proc_ctx {
	struct ev_loop *loop;
	unsigned running;
	struct mamori_proc *list; /* all live records */
};

struct mamori_proc {
	struct proc_ctx *pc;
	struct mamori_proc *next, **pprev;
	pid_t pid;
	int fd;    /* output pipe, -1 when closed */
	int in_fd; /* stdin pipe when stdin_data given, else -1 */
	const char *in_data;
	char *in_copy;
	size_t in_len, in_off;
	ev_io io;
	ev_io in_io;
	ev_child child;
	ev_timer timer; /* timeout, then EOF grace */
	char *buf;
	size_t len, max;
	int truncated;
	int exited, status, timed_out;
	int reaped;
	double started;
	mamori_proc_cb cb;
	void *ud;
};

static const char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", NULL
};

struct proc_ctx *proc_ctx_new(struct ev_loop *loop)
{
	struct proc_ctx *pc = xcalloc(1, sizeof *pc);
	pc->loop = loop;
	return pc;
}

unsigned proc_ctx_running(const struct proc_ctx *pc)
{
	return pc->running;
}

static void p_close_in(struct mamori_proc *p)
{
	if (p->in_fd >= 0) {
		ev_io_stop(p->pc->loop, &p->in_io);
		close(p->in_fd);
		p->in_fd = -1;
	}
}

static void p_close_out(struct mamori_proc *p)
{
	if (p->fd >= 0) {
		ev_io_stop(p->pc->loop, &p->io);
		close(p->fd);
		p->fd = -1;
	}
}

static void p_free(struct mamori_proc *p)
{
	struct ev_loop *loop = p->pc->loop;
	p_close_out(p);
	p_close_in(p);
	ev_timer_stop(loop, &p->timer);
	ev_child_stop(loop, &p->child);
	*p->pprev = p->next;
	if (p->next)
		p->next->pprev = p->pprev;
	free(p->buf);
	free(p->in_copy);
	free(p);
}

/* Called whenever something finished; completes when exit + EOF are in. */
static void p_maybe_done(struct mamori_proc *p)
{
	if (!p->reaped)
		return;
	if (p->fd >= 0) {
		/* Exited but the pipe is open (a grandchild holds it?): grace. */
		if (!ev_is_active(&p->timer)) {
			ev_timer_set(&p->timer, EOF_GRACE, 0.);
			ev_timer_start(p->pc->loop, &p->timer);
		}
		return;
	}
	if (p->cb) {
		struct mamori_proc_result r = {
			.struct_size = sizeof r,
			.exited = p->exited,
			.status = p->status,
			.timed_out = p->timed_out,
			.spawn_errno = 0,
			.output = p->buf ? p->buf : "",
			.output_len = p->len,
			.truncated = p->truncated,
			.duration = ev_now(p->pc->loop) - p->started,
		};
		if (p->buf)
			p->buf[p->len] = '\0';
		mamori_proc_cb cb = p->cb;
		p->cb = NULL;
		cb(p, &r, p->ud);
	}
	p_free(p);
}

static void on_out(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mamori_proc *p = w->data;
	char tmp[16384];
	for (;;) {
		ssize_t n = read(p->fd, tmp, sizeof tmp);
		if (n > 0) {
			size_t room = p->max - p->len;
			size_t take = (size_t)n < room ? (size_t)n : room;
			memcpy(p->buf + p->len, tmp, take);
			p->len += take;
			if (take < (size_t)n)
				p->truncated = 1; /* keep draining so the child never blocks */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* EOF or error */
	}
	p_close_out(p);
	if (p->reaped)
		ev_timer_stop(loop, &p->timer);
	p_maybe_done(p);
}

static void on_in(struct ev_loop *loop, ev_io *w, int revents)
{
	struct mamori_proc *p = w->data;
	while (p->in_off < p->in_len) {
		ssize_t n = write(p->in_fd, p->in_copy + p->in_off, p->in_len - p->in_off);
		if (n > 0) {
			p->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	p_close_in(p);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct mamori_proc *p = w->data;
	int st = w->rstatus;
	if (WIFSTOPPED(st) || WIFCONTINUED(st))
		return;
	ev_child_stop(loop, w);
	p->reaped = 1;
	p->pc->running--;
	if (WIFEXITED(st)) {
		p->exited = 1;
		p->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		p->status = -WTERMSIG(st);
	}
	/* The group may still have members holding the pipe: finish them. */
	kill(-p->pid, SIGKILL);
	ev_timer_stop(loop, &p->timer);
	p_close_in(p);
	p_maybe_done(p);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mamori_proc *p = w->data;
	if (!p->reaped) {
		/* Timeout: kill the whole group; on_child finishes the job. */
		p->timed_out = 1;
		kill(-p->pid, SIGKILL);
		return;
	}
	/* EOF grace expired after exit. */
	p_close_out(p);
	p_maybe_done(p);
}

int proc_closefrom(posix_spawn_file_actions_t *fa, int lowfd)
{
	return posix_spawn_file_actions_addclosefrom_np(fa, lowfd);
}

static int setup_attr(posix_spawnattr_t *attr)
{
	sigset_t none, def;
	sigemptyset(&none);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	if (posix_spawnattr_init(attr))
		return -1;
	posix_spawnattr_setpgroup(attr, 0);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &def);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                   POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
	return 0;
}

int proc_spawn(struct proc_ctx *pc, const struct mamori_spawn *req, mamori_proc_cb cb, void *ud,
               struct mamori_proc **out)
{
	if (!req || !req->argv || !req->argv[0] || !cb)
		return MAMORI_E_INVAL;
	int outp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	int devnull = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	if (pipe2(outp, O_CLOEXEC) < 0)
		return MAMORI_E_IO;
	if (req->stdin_data && pipe2(inp, O_CLOEXEC) < 0)
		goto fail_pipes;
	posix_spawn_file_actions_init(&fa);
	if (req->stdin_data)
		posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	if (req->merge_stderr)
		posix_spawn_file_actions_adddup2(&fa, outp[1], 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int rc = proc_closefrom(&fa, 3);
	setup_attr(&attr);
	pid_t pid;
	char *const *envp = (char *const *)(req->envp ? req->envp : default_env);
	if (rc == 0)
		rc = posix_spawn(&pid, req->argv[0], &fa, &attr, (char *const *)req->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(outp[1]);
	if (inp[0] >= 0)
		close(inp[0]);
	if (rc != 0) {
		close(outp[0]);
		if (inp[1] >= 0)
			close(inp[1]);
		errno = rc;
		return MAMORI_E_IO;
	}
	(void)devnull;
	struct mamori_proc *p = xcalloc(1, sizeof *p);
	p->pc = pc;
	p->pid = pid;
	p->fd = outp[0];
	p->in_fd = inp[1];
	p->max = req->max_output ? req->max_output : DEFAULT_MAX_OUTPUT;
	p->buf = xmalloc(p->max + 1);
	p->cb = cb;
	p->ud = ud;
	p->started = ev_now(pc->loop);
	p->next = pc->list;
	if (p->next)
		p->next->pprev = &p->next;
	pc->list = p;
	p->pprev = &pc->list;
	pc->running++;
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&p->io, on_out, p->fd, EV_READ);
	p->io.data = p;
	ev_io_start(pc->loop, &p->io);
	if (p->in_fd >= 0) {
		fcntl(p->in_fd, F_SETFL, O_NONBLOCK);
		p->in_copy = xmalloc(req->stdin_len ? req->stdin_len : 1);
		memcpy(p->in_copy, req->stdin_data, req->stdin_len);
		p->in_len = req->stdin_len;
		ev_io_init(&p->in_io, on_in, p->in_fd, EV_WRITE);
		p->in_io.data = p;
		ev_io_start(pc->loop, &p->in_io);
	}
	ev_child_init(&p->child, on_child, pid, 0);
	p->child.data = p;
	ev_child_start(pc->loop, &p->child);
	ev_init(&p->timer, on_timer);
	p->timer.data = p;
	if (req->timeout > 0) {
		ev_timer_set(&p->timer, req->timeout, 0.);
		ev_timer_start(pc->loop, &p->timer);
	}
	if (out)
		*out = p;
	return 0;

fail_pipes:
	close(outp[0]);
	close(outp[1]);
	return MAMORI_E_IO;
}

void proc_kill(struct mamori_proc *p)
{
	if (!p)
		return;
	p->cb = NULL;
	if (!p->reaped)
		kill(-p->pid, SIGKILL);
	p_close_out(p);
	p_close_in(p);
	if (p->reaped)
		p_free(p);
	/* else on_child frees it after reaping */
}

void proc_ctx_free(struct proc_ctx *pc)
{
	if (!pc)
		return;
	while (pc->list) {
		struct mamori_proc *p = pc->list;
		p->cb = NULL;
		if (!p->reaped) {
			kill(-p->pid, SIGKILL);
			/* Reap synchronously at shutdown: the child was just killed. */
			waitpid(p->pid, NULL, 0);
			pc->running--;
		}
		p_free(p);
	}
	free(pc);
}
