/*
 * tmpdir: a scratch directory for one test (under $TMPDIR or /tmp),
 * removed with everything in it afterwards.
 */
#ifndef MAMORI_TMPDIR_H
#define MAMORI_TMPDIR_H

#include <stddef.h>

/* dir receives "<tmp>/mamori-<tag>.XXXXXX", created.  0 or -1. */
int tmpdir_make(char *dir, size_t len, const char *tag);
/* rm -rf dir.  0 or -1. */
int tmpdir_remove(const char *dir);
/* Write `text` to `path` (replacing it) and give it exactly `mode`
 * (chmod, whatever the umask): secret files and their permission rules. */
int tmpdir_write_file(const char *path, const char *text, unsigned mode);

#endif
