/*
 * secret: the permission rules for files that hold secrets (passwords,
 * SNMP communities, private keys) and for the directory that holds the
 * database, checked the way ssh checks a private key before using it.
 *
 *   a secret file   a regular file, not writable by its group or by
 *                   others, not readable by others: 0600, or 0640 when
 *                   the daemon reads it through its group;
 *   the state dir   a directory not writable by its group or by others.
 *
 * Every reader of a secret in the core goes through secret_read_file or
 * secret_check_mode (plugins through the host's conf_secret, which uses
 * them).  Messages name the file and the chmod that fixes it; they never
 * contain what the file holds.
 */
#ifndef MAMORI_SECRET_H
#define MAMORI_SECRET_H

#include <stddef.h>

/* Larger than any password or community; a bigger file is a mistake. */
#define SECRET_MAX 65536

/* 0 if `path` may hold a secret (the rules above), else -1 with a message
 * naming the file in err ("bad permissions 0644 on /x: readable by
 * others; run: chmod 600 /x", "cannot read /x: No such file or
 * directory"). */
int secret_check_mode(const char *path, char *err, size_t errlen);

/* Read the secret in `path`: the checks of secret_check_mode, made on the
 * opened file (no window between check and read), then the content with
 * one trailing "\n" or "\r\n" removed.  0 with *out malloc'd (NUL-
 * terminated; the caller wipes and frees it: secret_free) and *len set
 * (len may be NULL), or -1 with a message in err. */
int secret_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen);

/* Wipe and free a secret (NULL ok). */
void secret_free(char *s, size_t len);

/* 0 if `path` is a directory that only its owner can write to, else -1
 * with a message naming it and the chmod that fixes it.  `what` names the
 * directory in the message ("state_dir"). */
int secret_check_dir(const char *what, const char *path, char *err, size_t errlen);

#endif
