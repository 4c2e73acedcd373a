/*
 * esc: text from outside (agents' fields, plugin output, MQTT payloads)
 * made safe to show on a terminal or to write as one log line.
 *
 * Escaped: the C0 controls but TAB (newline and carriage return as "\n"
 * and "\r", the others as "\xHH": ESC is "\x1b"), DEL ("\x7f"), the C1
 * controls U+0080..U+009F ("\u0085": a terminal may take them as ESC
 * sequences), and every byte that is not part of valid UTF-8 ("\xHH").
 * Kept as it is: everything else, Japanese text included.  TAB stays
 * because it can neither forge a line nor drive a terminal.  A backslash
 * is not doubled: Windows paths (a Defender report's) stay readable, at
 * the price that a literal "\n" in the text looks like an escaped newline -
 * it still cannot start a new line.  The output is always valid UTF-8.
 */
#ifndef MAMORI_ESC_H
#define MAMORI_ESC_H

#include <stddef.h>

/* 1 if s (NUL-terminated) holds anything esc_text would change. */
int esc_needed(const char *s);
/* Escape s into dst (size n > 0, always NUL-terminated), never cutting an
 * escape or a character in half.  Returns the length of the whole escaped
 * text, as snprintf does: >= n means it was cut. */
size_t esc_text(char *dst, size_t n, const char *s);
/* The escaped text in a new string (xmalloc). */
char *esc_dup(const char *s);

#endif
