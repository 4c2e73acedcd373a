/*
 * session: who is calling - the session cookie or bearer token of a
 * request, checked by the auth module - and where from (the client's
 * address behind a trusted reverse proxy).
 *
 * Until users exist (src/auth) only the local UNIX socket (http.c,
 * local_admin) authenticates; a request bearing a credential is refused
 * with 401 rather than ignored.
 */
#include "http/http_int.h"

#include <string.h>

int http_auth_request(struct req *r)
{
	const char *authz = req_header(r, "Authorization");
	if (authz) {
		reply_error(r, 401, "unauthenticated", "unknown or revoked token");
		return -1;
	}
	return 0;
}
