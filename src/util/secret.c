/*
 * secret: permission checks for secret files and the state directory, and
 * the one reader of secret files.  See secret.h for the rules.
 *
 * Must never: put a secret's bytes into a message, or read a file it has
 * not checked (the checks are made on the descriptor it reads from).
 */
#include "util/secret.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What makes mode m unfit for a secret, or NULL.  Group read is allowed
 * (0640: a root-owned file the daemon reads through its group); anything
 * for others, and group write, are not. */
static const char *file_fault(mode_t m)
{
	if (m & (S_IWGRP | S_IWOTH))
		return (m & S_IWOTH) ? "writable by others" : "writable by its group";
	if (m & S_IROTH)
		return "readable by others";
	if (m & S_IXOTH)
		return "accessible by others";
	return NULL;
}

static int check_stat(const struct stat *st, const char *path, char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return -1;
	}
	const char *fault = file_fault(st->st_mode);
	if (fault) {
		snprintf(err, errlen,
		         "bad permissions %04o on %s: %s (a secret must be 0600, or 0640 for the "
		         "daemon's group); run: chmod 600 %s",
		         (unsigned)(st->st_mode & 07777), path, fault, path);
		return -1;
	}
	return 0;
}

int secret_check_mode(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	return check_stat(&st, path, err, errlen);
}

int secret_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	*out = NULL;
	/* O_NONBLOCK: a FIFO put in the secret's place must not hang the
	 * daemon at open; it is refused below as not a regular file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	if (check_stat(&st, path, err, errlen) != 0)
		goto fail;
	if (st.st_size > SECRET_MAX) {
		snprintf(err, errlen, "%s is larger than %d bytes: not a secret file", path,
		         SECRET_MAX);
		goto fail;
	}
	size_t cap = (size_t)st.st_size, got = 0;
	char *buf = xmalloc(cap + 1);
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			secret_free(buf, cap + 1);
			goto fail;
		}
		if (n == 0)
			break; /* shrank since fstat: take what is there */
		got += (size_t)n;
	}
	close(fd);
	if (got && buf[got - 1] == '\n')
		got--;
	if (got && buf[got - 1] == '\r')
		got--;
	buf[got] = '\0';
	*out = buf;
	if (len)
		*len = got;
	return 0;
fail:
	close(fd);
	return -1;
}

void secret_free(char *s, size_t len)
{
	if (!s)
		return;
	/* explicit_bzero: a memset before free may be optimised away */
	explicit_bzero(s, len);
	free(s);
}

int secret_check_dir(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "cannot use %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a directory", what, path);
		return -1;
	}
	/* Whoever can write to the directory can plant a database, or its
	 * -wal, before the daemon creates them (sticky bit or not). */
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
		         "bad permissions %04o on %s %s: writable by %s; run: chmod 750 %s",
		         (unsigned)(st.st_mode & 07777), what, path,
		         (st.st_mode & S_IWOTH) ? "others" : "its group", path);
		return -1;
	}
	return 0;
}
