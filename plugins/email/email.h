/*
 * email: internal header of the e-mail notifier (never installed).
 *
 *   email.c  the ABI struct, its keys, instances, deliveries over SMTP
 *            (plugins/lib/curlloop.h: libcurl's multi interface on the loop)
 *   mime.c   the message itself (pure: unit tests include it): RFC 5322
 *            headers, RFC 2047 encoded-words for a UTF-8 subject, a base64
 *            UTF-8 body, an HTML alternative and attachments (MIME
 *            multipart) for the documents the service mails
 *   imap.c   reading the reply mailbox: replies to notifications handed to
 *            the core (host->notify_reply), which verifies and acknowledges
 */
#ifndef MAMORI_EMAIL_H
#define MAMORI_EMAIL_H

#include <stddef.h>

/* A file attached (name: ASCII letters, digits, '.', '-', '_'). */
struct email_part {
	const char *name, *type;
	const void *data;
	size_t len;
};

/* What a message holds (NULL fields are left out). */
struct email_msg {
	const char *from_name, *from; /* display name (UTF-8) and address */
	const char *to;
	const char *subject, *body; /* UTF-8; the body's lines end in "\n" */
	const char *message_id, *in_reply_to, *references, *reply_to;
	const char *alert_id;           /* X-Mamori-Alert */
	int possible_duplicate;         /* X-Mamori-Possible-Duplicate: yes */
	double date;                    /* epoch seconds (Date:, in UTC) */
	const char *html;               /* an HTML alternative of body, or NULL */
	const struct email_part *parts; /* attachments */
	size_t n_parts;
};

/* The whole message (headers, blank line, body; CRLF line ends) into a
 * malloc'd buffer; NULL on no memory.  A header value with a CR or LF
 * is refused (NULL): nothing from outside may add a header; so is an
 * attachment whose name or type is not plain.  Text only: one
 * text/plain part; with html: multipart/alternative; with attachments:
 * multipart/mixed around them (every part base64, so no boundary
 * "=_..." can occur inside one). */
char *email_build(const struct email_msg *m, size_t *len);
/* RFC 2047: the value as encoded-words ("=?UTF-8?B?...?=", at most 75
 * characters each, folded with CRLF SP) when it is not plain ASCII;
 * never splits a UTF-8 character.  `used`: the header's name and colon
 * already on its first line.  malloc'd. */
char *email_encode_words(const char *value, size_t used);
/* Base64 of n bytes in lines of 76 (CRLF), malloc'd. */
char *email_base64(const unsigned char *data, size_t n, int wrap);

/* A reply read from the mailbox: what the core needs to verify and act
 * (all malloc'd, NULL when absent; text is UTF-8, the first text/plain
 * part decoded from base64 or quoted-printable and from ISO-2022-JP,
 * Shift_JIS or EUC-JP when it is in one). */
#define EMAIL_MAX_REFS 8
struct email_reply {
	char *from, *message_id, *text;
	char *refs[EMAIL_MAX_REFS]; /* In-Reply-To, References, To, Cc, Delivered-To */
	size_t n_refs;
};
/* Parse a message (RFC 5322 bytes).  0, or -1 when it is not one. */
int email_reply_parse(const char *msg, size_t len, struct email_reply *out);
void email_reply_free(struct email_reply *r);

/* ---- shared by email.c and imap.c ---- */

struct mamori_host;
struct mamori_conf;
struct curlloop;
struct email_inst;

/* A server: url, user, password (from its file), ca_file, starttls, verify. */
struct email_endpoint {
	char *url, *user, *password, *ca_file;
	size_t password_len;
	int starttls, verify;
	double timeout;
};
void email_endpoint_free(struct email_endpoint *ep);
/* Read a group's endpoint keys (smtp: the url is smtp[s]://, else imap[s]://). */
int email_endpoint_read(const struct mamori_host *h, const struct mamori_conf *g,
                        struct email_endpoint *ep, int smtp);
/* Set an easy handle's URL, credentials, TLS and timeout. */
void email_endpoint_opts(void *easy, const struct email_endpoint *ep);
struct curlloop *email_curlloop(void *inst);
const struct mamori_host *email_host(void *inst);

/* imap.c: the reply mailbox poller (conf: the `reply` group). */
int email_reply_start(struct email_inst *in, const struct mamori_conf *conf, void **out);
void email_reply_stop(void *reply);

#endif
