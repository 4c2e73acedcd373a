/*
 * httpload: the HTTP load of the API benchmark (tests/bench/section-http.sh)
 * - live event streams that count what they receive, and requests at a
 * fixed rate - in one process with one epoll loop, so that it costs the
 * machine little next to the daemon it loads.
 *
 *   httpload -p PORT [-h 127.0.0.1] [-T TOKEN_FILE]
 *            [-s SSE_CLIENTS] [-S /api/v1/events?types=alert]
 *            [-r RATE -u REQUEST_FILE -c CONNECTIONS]
 *            [-d SECONDS] [-w MAX_WAIT] [-R READY_FILE] [-P PID]
 *
 *   -s N   N event streams (GET, Authorization: Bearer), each counting
 *          the events it receives (lines "id: ..." of the SSE body, after
 *          undoing the chunked transfer encoding).
 *   -r R   R requests per second, open loop (the schedule does not wait
 *          for answers: a request whose time has come waits only for a
 *          free connection, and is counted `late` if it had to), over C
 *          keep-alive connections (default 8), taken in turn from the
 *          lines of REQUEST_FILE: "GET /path" or "POST /path {json}".
 *   -d S   the measuring window: it starts once every stream has its
 *          response headers (then READY_FILE is created, if given) and
 *          lasts S seconds; then everything is closed and one line of
 *          figures is printed.  -w: how long to wait for the streams
 *          (default 30 s; exit 1 if they do not all answer).  SIGINT or
 *          SIGTERM ends the window early (the figures are still printed).
 *   -P PID CPU seconds (user + system, all threads, /proc/PID/stat) of
 *          that process over the window, as `pid_cpu_s`.
 *
 * Output, one line on stdout (counts are of the window only):
 *   httpload window_s W requests N rate R/s ok N non2xx N errors N
 *     late N p50_ms X p99_ms X max_ms X sse N sse_ready N events N
 *     events_min N events_max N sse_closed N pid_cpu_s X self_cpu_s X
 * Latency runs from writing the request to its last byte.  Exit 1 on a
 * usage error or if nothing worked (no stream, or requests all failed).
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQS 64
#define RBUF     65536

enum { C_SSE, C_REQ };
enum { H_HEAD, H_BODY_LEN, H_CHUNK_SIZE, H_CHUNK_DATA, H_CHUNK_CRLF, H_TRAILER, H_UNTIL_CLOSE };

struct conn {
	int fd, kind, idx;
	int connected, busy, ready, closed;
	double retry_at; /* closed request connection: reopen then */
	/* response parser */
	int st;
	char head[8192];
	size_t hn;
	long long left; /* body bytes or chunk bytes left */
	int chunked, keep, status;
	char szline[32];
	size_t szn;
	int crlf_seen;
	/* event scanner: position in the current line's "id:" prefix */
	int line_pos; /* 0 at a line start, -1 when the line is not an id line */
	unsigned long long events, events_at_start;
	/* request in flight */
	double sent_at;
	const char *out;
	size_t out_len, out_off;
	char *outbuf;
};

struct reqline {
	char *method, *path, *body;
};

static struct sockaddr_in addr;
static char token[512];
static int epfd;
static struct reqline reqs[MAX_REQS];
static int n_reqs, next_req;
static double *lat;
static size_t n_lat, cap_lat;
static unsigned long long n_ok, n_non2xx, n_err, n_late, n_sent;
static int in_window;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void die(const char *m)
{
	perror(m);
	exit(1);
}

static void ep(int op, struct conn *c, unsigned ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(epfd, op, c->fd, &e) != 0 && op != EPOLL_CTL_DEL)
		die("epoll_ctl");
}

static void conn_open(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket");
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->connected = 0;
	c->busy = 0;
	c->st = H_HEAD;
	c->hn = 0;
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS) {
		close(c->fd); /* refused: tried again 100 ms later */
		c->fd = -1;
		c->retry_at = bench_mono() + 0.1;
		return;
	}
	ep(EPOLL_CTL_ADD, c, EPOLLIN | EPOLLOUT);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		ep(EPOLL_CTL_DEL, c, 0);
		close(c->fd);
	}
	c->fd = -1;
	c->connected = 0;
}

static void send_some(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			c->closed = 1;
			return;
		}
		c->out_off += (size_t)n;
	}
	ep(EPOLL_CTL_MOD, c, EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0));
}

static void start_request(struct conn *c, const char *method, const char *path, const char *body)
{
	free(c->outbuf);
	size_t bl = body ? strlen(body) : 0;
	size_t cap = strlen(path) + bl + strlen(token) + 256;
	c->outbuf = malloc(cap);
	if (!c->outbuf)
		die("malloc");
	int n;
	if (body)
		n = snprintf(c->outbuf, cap,
		             "%s %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
		             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		             method, path, token, bl, body);
	else
		n = snprintf(c->outbuf, cap,
		             "%s %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n",
		             method, path, token);
	c->out = c->outbuf;
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->busy = 1;
	c->st = H_HEAD;
	c->hn = 0;
	c->sent_at = bench_mono();
	send_some(c);
}

/* The response of a request connection is complete. */
static void req_done(struct conn *c)
{
	double l = bench_mono() - c->sent_at;
	c->busy = 0;
	if (in_window) {
		if (c->status >= 200 && c->status < 300)
			n_ok++;
		else
			n_non2xx++;
		if (n_lat == cap_lat) {
			cap_lat = cap_lat ? cap_lat * 2 : 4096;
			lat = realloc(lat, cap_lat * sizeof *lat);
			if (!lat)
				die("realloc");
		}
		lat[n_lat++] = l;
	}
	if (!c->keep)
		c->closed = 1;
}

/* SSE body bytes: count lines that start with "id:". */
static void scan_events(struct conn *c, const char *p, size_t n)
{
	static const char pre[] = "id:";
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '\n') {
			c->line_pos = 0;
			continue;
		}
		if (c->line_pos < 0)
			continue;
		if (ch == pre[c->line_pos]) {
			if (++c->line_pos == 3) {
				c->events++;
				c->line_pos = -1;
			}
		} else {
			c->line_pos = -1;
		}
	}
}

static void body_bytes(struct conn *c, const char *p, size_t n)
{
	if (c->kind == C_SSE)
		scan_events(c, p, n);
}

static int parse_head(struct conn *c)
{
	c->head[c->hn] = '\0';
	if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
		return -1;
	c->chunked = 0;
	c->keep = 1;
	long long len = -1;
	for (char *l = strstr(c->head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
		char *h = l + 2;
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			len = atoll(h + 15);
		else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strstr(h, "chunked") &&
		         strstr(h, "chunked") < strstr(h, "\r\n"))
			c->chunked = 1;
		else if (strncasecmp(h, "Connection:", 11) == 0 && strcasestr(h, "close") &&
		         strcasestr(h, "close") < strstr(h, "\r\n"))
			c->keep = 0;
	}
	if (c->chunked) {
		c->st = H_CHUNK_SIZE;
		c->szn = 0;
	} else if (len >= 0) {
		c->st = H_BODY_LEN;
		c->left = len;
	} else {
		c->st = H_UNTIL_CLOSE;
		c->keep = 0;
	}
	if (c->kind == C_SSE) {
		c->ready = c->status == 200;
		c->line_pos = 0;
	}
	return 0;
}

/* Feed received bytes through the response parser. */
static void feed(struct conn *c, const char *p, size_t n)
{
	while (n) {
		switch (c->st) {
		case H_HEAD: {
			size_t room = sizeof c->head - 1 - c->hn;
			size_t take = n < room ? n : room;
			memcpy(c->head + c->hn, p, take);
			c->head[c->hn + take] = '\0';
			char *end = strstr(c->head, "\r\n\r\n");
			if (!end) {
				if (take == room) {
					c->closed = 1;
					return;
				}
				c->hn += take;
				return;
			}
			size_t used = (size_t)(end + 4 - c->head) - c->hn;
			c->hn = (size_t)(end + 4 - c->head);
			p += used;
			n -= used;
			if (parse_head(c) != 0) {
				c->closed = 1;
				return;
			}
			if (c->st == H_BODY_LEN && c->left == 0) {
				req_done(c);
				c->st = H_HEAD;
				c->hn = 0;
			}
			break;
		}
		case H_BODY_LEN: {
			size_t take = (long long)n < c->left ? n : (size_t)c->left;
			body_bytes(c, p, take);
			p += take;
			n -= take;
			c->left -= (long long)take;
			if (!c->left) {
				req_done(c);
				c->st = H_HEAD;
				c->hn = 0;
			}
			break;
		}
		case H_UNTIL_CLOSE: body_bytes(c, p, n); return;
		case H_CHUNK_SIZE:
			if (*p == '\n') {
				c->szline[c->szn] = '\0';
				c->left = strtoll(c->szline, NULL, 16);
				c->szn = 0;
				c->st = c->left ? H_CHUNK_DATA : H_TRAILER;
				c->crlf_seen = 0;
			} else if (c->szn < sizeof c->szline - 1) {
				c->szline[c->szn++] = *p;
			}
			p++;
			n--;
			break;
		case H_CHUNK_DATA: {
			size_t take = (long long)n < c->left ? n : (size_t)c->left;
			body_bytes(c, p, take);
			p += take;
			n -= take;
			c->left -= (long long)take;
			if (!c->left)
				c->st = H_CHUNK_CRLF;
			break;
		}
		case H_CHUNK_CRLF: /* the CRLF after a chunk's data */
			if (*p == '\n')
				c->st = H_CHUNK_SIZE;
			p++;
			n--;
			break;
		case H_TRAILER: /* after the last chunk: lines until an empty one */
			if (*p == '\n') {
				if (c->crlf_seen) {
					req_done(c);
					c->st = H_HEAD;
					c->hn = 0;
				}
				c->crlf_seen = 1;
			} else if (*p != '\r') {
				c->crlf_seen = 0;
			}
			p++;
			n--;
			break;
		}
	}
}

static double now_s(void)
{
	return bench_mono();
}

static double proc_cpu(long pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, stt = 0;
	/* after ") ": state(3) ... utime is field 14, stime 15 */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
		return -1;
	return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void load_reqs(const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f)
		die(file);
	char line[4096];
	while (n_reqs < MAX_REQS && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *m = strtok(line, " ");
		char *path = m ? strtok(NULL, " ") : NULL;
		char *body = path ? strtok(NULL, "") : NULL;
		if (!m || !path || *m == '#')
			continue;
		reqs[n_reqs].method = strdup(m);
		reqs[n_reqs].path = strdup(path);
		reqs[n_reqs].body = body ? strdup(body) : NULL;
		n_reqs++;
	}
	fclose(f);
	if (!n_reqs) {
		fprintf(stderr, "httpload: no requests in %s\n", file);
		exit(2);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: httpload -p PORT [-h HOST] [-T TOKEN_FILE] [-s SSE] [-S PATH] "
	                "[-r RATE -u FILE -c CONNS] [-d SECONDS] [-w WAIT] [-R READY_FILE] "
	                "[-P PID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *sse_path = "/api/v1/events", *ready_file = NULL,
	           *req_file = NULL;
	int port = 0, n_sse = 0, n_rc = 8, opt;
	double rate = 0, window = 5, wait_max = 30;
	long pid = 0;
	while ((opt = getopt(argc, argv, "h:p:T:s:S:r:u:c:d:w:R:P:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'T': {
			FILE *f = fopen(optarg, "r");
			if (!f || !fgets(token, sizeof token, f))
				die(optarg);
			fclose(f);
			token[strcspn(token, "\r\n ")] = '\0';
			break;
		}
		case 's': n_sse = atoi(optarg); break;
		case 'S': sse_path = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 'u': req_file = optarg; break;
		case 'c': n_rc = atoi(optarg); break;
		case 'd': window = atof(optarg); break;
		case 'w': wait_max = atof(optarg); break;
		case 'R': ready_file = optarg; break;
		case 'P': pid = atol(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || n_sse < 0 || n_rc < 1 || window <= 0 || (rate > 0 && !req_file))
		usage();
	if (req_file)
		load_reqs(req_file);
	memset(&addr, 0, sizeof addr);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		usage();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	int n_conn = n_sse + (rate > 0 ? n_rc : 0);
	struct conn *cs = calloc((size_t)n_conn + 1, sizeof *cs);
	for (int i = 0; i < n_conn; i++) {
		cs[i].kind = i < n_sse ? C_SSE : C_REQ;
		cs[i].idx = i;
		conn_open(&cs[i]);
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	char *rbuf = malloc(RBUF);
	double t_start = now_s(), t_win = 0, t_end = 0, next_due = 0;
	double cpu0 = 0, self0 = 0;
	unsigned long long pending = 0, sse_closed = 0;
	struct epoll_event evs[256];
	for (;;) {
		double t = now_s();
		if (!in_window) {
			int ready = 0;
			for (int i = 0; i < n_sse; i++)
				ready += cs[i].ready;
			int req_ok = 1;
			for (int i = n_sse; i < n_conn; i++)
				req_ok &= cs[i].connected;
			if (ready == n_sse && req_ok) {
				in_window = 1;
				t_win = t;
				t_end = t + window;
				next_due = t;
				for (int i = 0; i < n_sse; i++)
					cs[i].events_at_start = cs[i].events;
				cpu0 = pid ? proc_cpu(pid) : 0;
				self0 = bench_cpu();
				if (ready_file) {
					FILE *f = fopen(ready_file, "w");
					if (f)
						fclose(f);
				}
			} else if (t - t_start > wait_max) {
				fprintf(
				    stderr,
				    "httpload: not ready within %.0f s (%d of %d streams answered, "
				    "request connections %s)\n",
				    wait_max, ready, n_sse, req_ok ? "up" : "not connected");
				return 1;
			}
		}
		if (in_window && (t >= t_end || stop))
			break;
		if (stop)
			return 1;
		for (int i = 0; i < n_conn; i++)
			if (cs[i].fd < 0 && cs[i].kind >= 0 && cs[i].retry_at <= t)
				conn_open(&cs[i]);
		/* the schedule: requests whose time has come */
		if (in_window && rate > 0) {
			while (next_due <= t) {
				pending++;
				next_due += 1.0 / rate;
			}
			for (int i = n_sse; i < n_conn && pending; i++) {
				struct conn *c = &cs[i];
				if (!c->connected || c->busy || c->closed)
					continue;
				const struct reqline *q = &reqs[next_req++ % n_reqs];
				if (pending > 1)
					n_late++;
				pending--;
				n_sent++;
				start_request(c, q->method, q->path, q->body);
			}
		}
		double until = in_window ? t_end : t_start + wait_max;
		if (in_window && rate > 0 && next_due < until)
			until = next_due;
		for (int i = 0; i < n_conn; i++)
			if (cs[i].fd < 0 && cs[i].kind >= 0 && cs[i].retry_at < until)
				until = cs[i].retry_at;
		int tmo = (int)((until - t) * 1000) + 1;
		if (tmo < 0)
			tmo = 0;
		int n = epoll_wait(epfd, evs, 256, tmo);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			if (!c->connected && (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				int err = 0;
				socklen_t el = sizeof err;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					errno = err;
					c->closed = 1;
				} else {
					c->connected = 1;
					ep(EPOLL_CTL_MOD, c, EPOLLIN);
					if (c->kind == C_SSE)
						start_request(c, "GET", sse_path, NULL);
				}
			} else if (evs[k].events & EPOLLOUT) {
				send_some(c);
			}
			if (!c->closed && c->connected && (evs[k].events & (EPOLLIN | EPOLLHUP))) {
				for (;;) {
					ssize_t r = read(c->fd, rbuf, RBUF);
					if (r > 0) {
						feed(c, rbuf, (size_t)r);
						if (c->closed || r < RBUF)
							break;
						continue;
					}
					if (r == 0 || errno != EAGAIN)
						c->closed = 1;
					break;
				}
			}
			if (c->closed) {
				if (c->kind == C_SSE && !in_window && !c->ready) {
					/* not answering yet: try again */
					conn_close(c);
					c->closed = 0;
					c->retry_at = now_s() + 0.1;
				} else if (c->kind == C_SSE) {
					if (in_window)
						sse_closed++;
					c->ready = 0;
					conn_close(c);
					c->closed = 0;
					c->fd = -1;
					/* a stream that ends stays ended: counted */
					c->kind = -1;
				} else {
					/* reopened by the main loop, 100 ms later if it
					 * failed (never a busy loop on a refused connect) */
					if ((c->busy || !c->connected) && in_window)
						n_err++;
					c->retry_at =
					    now_s() + (c->connected && !c->busy ? 0 : 0.1);
					conn_close(c);
					c->closed = 0;
					c->busy = 0;
				}
			}
		}
		/* streams that ended no longer hold back the start */
		for (int i = 0; i < n_sse && !in_window; i++)
			if (cs[i].kind == -1) {
				fprintf(stderr,
				        "httpload: an event stream closed before the window\n");
				return 1;
			}
	}
	double wall = now_s() - t_win;
	double cpu = pid ? proc_cpu(pid) - cpu0 : -1;
	double self = bench_cpu() - self0;
	unsigned long long ev = 0, ev_min = ~0ull, ev_max = 0;
	int sse_ready = 0;
	for (int i = 0; i < n_sse; i++) {
		unsigned long long e = cs[i].events - cs[i].events_at_start;
		ev += e;
		ev_min = e < ev_min ? e : ev_min;
		ev_max = e > ev_max ? e : ev_max;
		sse_ready += cs[i].kind == C_SSE;
	}
	if (!n_sse)
		ev_min = 0;
	double p50 = 0, p99 = 0, mx = 0;
	if (n_lat) {
		qsort(lat, n_lat, sizeof *lat, cmpd);
		p50 = lat[n_lat / 2];
		p99 = lat[(n_lat * 99) / 100 < n_lat ? (n_lat * 99) / 100 : n_lat - 1];
		mx = lat[n_lat - 1];
	}
	printf("httpload window_s %.2f requests %llu rate %.1f/s ok %llu non2xx %llu errors %llu "
	       "late %llu p50_ms %.2f p99_ms %.2f max_ms %.2f sse %d sse_ready %d events %llu "
	       "events_min %llu events_max %llu sse_closed %llu pid_cpu_s %.2f self_cpu_s %.2f\n",
	       wall, n_ok + n_non2xx, (double)(n_ok + n_non2xx) / wall, n_ok, n_non2xx, n_err,
	       n_late, p50 * 1e3, p99 * 1e3, mx * 1e3, n_sse, sse_ready, ev, ev_min, ev_max,
	       sse_closed, cpu, self);
	for (int i = 0; i < n_conn; i++) {
		if (cs[i].fd >= 0)
			close(cs[i].fd);
		free(cs[i].outbuf);
	}
	free(cs);
	free(rbuf);
	free(lat);
	for (int i = 0; i < n_reqs; i++) {
		free(reqs[i].method);
		free(reqs[i].path);
		free(reqs[i].body);
	}
	close(epfd);
	if (rate > 0 && !n_ok)
		return 1;
	return 0;
}
