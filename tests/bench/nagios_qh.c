/*
 * nagios_qh: ask a running Nagios Core 4 how many check jobs its workers
 * have started, through its query handler socket (no cost to Nagios: the
 * counters exist anyway).
 *
 *   build/bench/nagios_qh SOCKET        prints the sum of jobs_started
 *   build/bench/nagios_qh SOCKET -v     also prints the raw reply
 *
 * The reply of "#wproc wpstats" is one line per worker:
 *   name=...;pid=...;jobs_running=N;jobs_started=N
 * Exit 0 and print the sum, or exit 1 with a message (no worker lines).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int qh_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		fprintf(stderr, "nagios_qh: socket path too long\n");
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		fprintf(stderr, "nagios_qh: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the whole reply (the '#' prefix asks Nagios to close afterwards). */
static char *qh_query(int fd, const char *q)
{
	size_t n = strlen(q) + 1, len = 0, cap = 4096;
	if (write(fd, q, n) != (ssize_t)n)
		return NULL;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return buf;
fail:
	free(buf);
	return NULL;
}

/* Sum jobs_started over worker lines; -1 if there is none. */
static long long sum_started(const char *reply)
{
	long long sum = -1;
	for (const char *p = reply; (p = strstr(p, "jobs_started="));) {
		p += strlen("jobs_started=");
		char *end;
		long long v = strtoll(p, &end, 10);
		if (end == p || v < 0)
			continue;
		sum = (sum < 0 ? 0 : sum) + v;
		p = end;
	}
	return sum;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: nagios_qh SOCKET [-v]\n");
		return 2;
	}
	int fd = qh_connect(argv[1]);
	if (fd < 0)
		return 1;
	char *reply = qh_query(fd, "#wproc wpstats");
	close(fd);
	if (!reply) {
		fprintf(stderr, "nagios_qh: no reply\n");
		return 1;
	}
	if (argc > 2 && strcmp(argv[2], "-v") == 0)
		fputs(reply, stderr);
	long long n = sum_started(reply);
	free(reply);
	if (n < 0) {
		fprintf(stderr, "nagios_qh: no worker statistics in the reply\n");
		return 1;
	}
	printf("%lld\n", n);
	return 0;
}
