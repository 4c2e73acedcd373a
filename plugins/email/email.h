/*
 * email: internal header of the e-mail notifier (never installed).
 *
 *   email.c  the ABI struct, its keys, instances, deliveries over SMTP
 *            (plugins/lib/curlloop.h: libcurl's multi interface on the loop)
 *   mime.c   the message itself (pure: unit tests include it): RFC 5322
 *            headers, RFC 2047 encoded-words for a UTF-8 subject, a base64
 *            UTF-8 body
 *   imap.c   reading the reply mailbox: replies to notifications handed to
 *            the core (host->notify_reply), which verifies and acknowledges
 */
#ifndef MAMORI_EMAIL_H
#define MAMORI_EMAIL_H

#include <stddef.h>

/* What a message holds (NULL fields are left out). */
struct email_msg {
	const char *from_name, *from; /* display name (UTF-8) and address */
	const char *to;
	const char *subject, *body; /* UTF-8; the body's lines end in "\n" */
	const char *message_id, *in_reply_to, *references, *reply_to;
	const char *alert_id;   /* X-Mamori-Alert */
	int possible_duplicate; /* X-Mamori-Possible-Duplicate: yes */
	double date;            /* epoch seconds (Date:, in UTC) */
};

/* The whole message (headers, blank line, body; CRLF line ends) into a
 * malloc'd buffer; NULL on no memory.  A header value with a CR or LF
 * is refused (NULL): nothing from outside may add a header. */
char *email_build(const struct email_msg *m, size_t *len);
/* RFC 2047: the value as encoded-words ("=?UTF-8?B?...?=", at most 75
 * characters each, folded with CRLF SP) when it is not plain ASCII;
 * never splits a UTF-8 character.  `used`: the header's name and colon
 * already on its first line.  malloc'd. */
char *email_encode_words(const char *value, size_t used);
/* Base64 of n bytes in lines of 76 (CRLF), malloc'd. */
char *email_base64(const unsigned char *data, size_t n, int wrap);

#endif
