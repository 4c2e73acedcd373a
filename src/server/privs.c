/*
 * privs: mamorid started as root becomes an unprivileged user before it
 * opens anything else.
 *
 * What it does, in this order, only when the effective uid is 0:
 *   1. reads daemon.user (default "mamori"), daemon.allow_root and
 *      daemon.state_dir from the configuration file;
 *   2. daemon.allow_root = true (or MAMORI_ALLOW_ROOT=1 in the
 *      environment): stays root, says so loudly, done;
 *   3. looks the user up (it must exist and must not be uid 0);
 *   4. creates the state directory (0750) when missing, and hands what is
 *      root's in it over to the user (a state dir made by `make install`
 *      or left by an older run as root), walking only directories that
 *      are root's, never following a symbolic link and never touching a
 *      file with more than one hard link;
 *   5. initgroups, setgid, setuid; then checks that root cannot be
 *      regained and that the configuration file is still readable.
 * Any failure refuses the start with a message that says what to do.
 *
 * Everything that needs root has been done by then: nothing in mamorid
 * needs root after the drop (a listener below port 1024 does: use a
 * higher port, a reverse proxy, or run with allow_root).  Isolated plugin
 * hosts and exec'd plugins are started later and run as the user too.
 *
 * Must never: run before the command line is parsed (the config path),
 * chown outside the state directory, or follow a link while root.
 * Depends on: config (config_peek_privs), util/log.
 */
#include "config/config.h"
#include "server/server.h"
#include "util/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct peek_err {
	char *buf;
	size_t len;
};

static void peek_err(void *ud, const char *msg)
{
	struct peek_err *e = ud;
	if (!e->buf[0])
		snprintf(e->buf, e->len, "%s", msg);
}

struct handover {
	uid_t uid;
	gid_t gid;
	unsigned moved, skipped;
};

/* Post-order walk of the root-owned directory `fd` (closed here): every
 * entry owned by root is given to the user; subdirectories are entered
 * only when root's (a directory the user owns may change under us). */
static int hand_over_dir(int fd, struct handover *h, int depth, char *err, size_t errlen)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		snprintf(err, errlen, "cannot read the state directory: %s", strerror(errno));
		return -1;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (st.st_uid != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth >= 8) {
				h->skipped++;
				continue;
			}
			int sub = openat(dirfd(d), de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				h->skipped++;
				continue;
			}
			rc = hand_over_dir(sub, h, depth + 1, err, errlen);
			if (rc)
				break;
		} else if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
			/* possibly a link to a file elsewhere: never give that away */
			h->skipped++;
			log_always("privs", LOG_LVL_WARNING,
			           "state directory: '%s' has %lu hard links; not handed over",
			           de->d_name, (unsigned long)st.st_nlink);
			continue;
		}
		if (fchownat(dirfd(d), de->d_name, h->uid, h->gid, AT_SYMLINK_NOFOLLOW) != 0) {
			snprintf(err, errlen,
			         "cannot give '%s' in the state directory to uid %u: %s",
			         de->d_name, (unsigned)h->uid, strerror(errno));
			rc = -1;
			break;
		}
		h->moved++;
	}
	if (rc == 0 && fchown(dirfd(d), h->uid, h->gid) != 0) {
		snprintf(err, errlen, "cannot give the state directory to uid %u: %s",
		         (unsigned)h->uid, strerror(errno));
		rc = -1;
	} else if (rc == 0) {
		h->moved++;
	}
	closedir(d);
	return rc;
}

static int prepare_state_dir(const char *dir, const struct passwd *pw, char *err, size_t errlen)
{
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the state directory %s: %s", dir,
		         strerror(errno));
		return -1;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the state directory %s: %s", dir,
		         strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		snprintf(err, errlen, "cannot stat the state directory %s: %s", dir,
		         strerror(errno));
		return -1;
	}
	if (st.st_uid != 0) {
		close(fd); /* the user's already (or someone else's: the store says so) */
		return 0;
	}
	struct handover h = { .uid = pw->pw_uid, .gid = pw->pw_gid };
	char e2[512] = "";
	if (hand_over_dir(fd, &h, 0, e2, sizeof e2) != 0) {
		snprintf(err, errlen, "%s: %s", dir, e2);
		return -1;
	}
	log_always("privs", LOG_LVL_NOTICE,
	           "state directory %s was root's: %u entr%s given to user %s%s", dir, h.moved,
	           h.moved == 1 ? "y" : "ies", pw->pw_name,
	           h.skipped ? " (some skipped, see above)" : "");
	return 0;
}

int server_drop_privileges(const char *config_path, char *err, size_t errlen)
{
	err[0] = '\0';
	if (geteuid() != 0 && getuid() != 0)
		return 0;
	struct cfg_privs p;
	struct peek_err pe = { err, errlen };
	if (config_peek_privs(config_path, &p, peek_err, &pe) != 0)
		return -1;
	int rc = -1;
	/* MAMORI_ALLOW_ROOT=1 in the environment: the same, for test suites
	 * and throwaway containers (whoever sets it is root already). */
	const char *env = getenv("MAMORI_ALLOW_ROOT");
	int env_allow = env && !strcmp(env, "1");
	if (p.allow_root || env_allow) {
		log_always("privs", LOG_LVL_WARNING,
		           "running as root because %s: every plugin runs as root too; see "
		           "doc/operations.md",
		           p.allow_root ? "daemon.allow_root = true" : "MAMORI_ALLOW_ROOT=1");
		rc = 0;
		goto out;
	}
	struct passwd pwb, *pw = NULL;
	char buf[4096];
	int e = getpwnam_r(p.user, &pwb, buf, sizeof buf, &pw);
	if (e != 0 || !pw) {
		snprintf(
		    err, errlen,
		    "started as root, and daemon.user '%s' %s: create it "
		    "(useradd --system --user-group --home-dir %s --shell /usr/sbin/nologin %s), "
		    "set daemon.user to an existing unprivileged user, or set daemon.allow_root "
		    "= true to run as root (not recommended)",
		    p.user, e ? strerror(e) : "does not exist", p.state_dir, p.user);
		goto out;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen,
		         "daemon.user '%s' is root: mamorid refuses to run as root unless "
		         "daemon.allow_root = true",
		         p.user);
		goto out;
	}
	if (prepare_state_dir(p.state_dir, pw, err, errlen) != 0)
		goto out;
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot become user %s (uid %u, gid %u): %s", pw->pw_name,
		         (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, strerror(errno));
		goto out;
	}
	uid_t r, ef, sv;
	if (setuid(0) == 0 || getresuid(&r, &ef, &sv) != 0 || r != pw->pw_uid || ef != pw->pw_uid ||
	    sv != pw->pw_uid) {
		snprintf(err, errlen, "dropping root to user %s did not stick; refusing to run",
		         pw->pw_name);
		goto out;
	}
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", pw->pw_name, 1);
	setenv("LOGNAME", pw->pw_name, 1);
	if (access(config_path, R_OK) != 0) {
		snprintf(err, errlen,
		         "now running as user %s, who cannot read %s (%s): make it readable by "
		         "the user's group (chgrp %s %s; chmod 640 %s)",
		         pw->pw_name, config_path, strerror(errno), pw->pw_name, config_path,
		         config_path);
		goto out;
	}
	log_always("privs", LOG_LVL_NOTICE, "running as user %s (uid %u, gid %u)", pw->pw_name,
	           (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	rc = 0;
out:
	config_privs_free(&p);
	return rc;
}
