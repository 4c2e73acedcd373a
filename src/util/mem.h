/*
 * mem: allocation helpers that abort on out-of-memory (Naemon style).
 * A monitoring daemon that cannot allocate a few bytes cannot do anything
 * useful; aborting loudly beats limping on with half-built state.
 */
#ifndef MAMORI_MEM_H
#define MAMORI_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ARRAY_LEN(a)                    (sizeof(a) / sizeof((a)[0]))
#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
