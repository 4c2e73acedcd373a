-- mamori schema migration 6 (PRAGMA user_version 5 -> 6): the users of
-- the HTTP API, their API tokens, login sessions and the audit log
-- (src/auth).  Run by the store inside its migration transaction (no
-- BEGIN/COMMIT here); see README.md in this folder.
--
-- Nothing a client could log in with is stored in the clear: `password`
-- is an Argon2id hash in the PHC string format, a token's secret and a
-- session's cookie value are stored as their SHA-256 (hex).

-- One row per user.  role 'operator' acts on the alerts of `centers` (a
-- JSON array of center names), 'viewer' sees one `customer`, 'admin'
-- everything.  `disabled` users cannot log in; their tokens do not work.
CREATE TABLE auth_user (
	name     TEXT PRIMARY KEY,
	role     TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
	centers  TEXT,                      -- operator: JSON array of centers
	customer TEXT,                      -- viewer: the customer
	password TEXT NOT NULL,             -- $argon2id$v=19$m=..,t=..,p=..$salt$hash
	created  REAL NOT NULL,
	disabled INTEGER NOT NULL DEFAULT 0,
	CHECK (role <> 'operator' OR centers IS NOT NULL),
	CHECK (role <> 'viewer' OR customer IS NOT NULL)
) WITHOUT ROWID;

-- API tokens ("mmr_<id>_<secret>"): `secret` is the SHA-256 of <secret>.
-- A token has its own scope (role, centers, customer), never wider than
-- its owner's.  Revoked tokens keep their row (revoked = when), so a
-- revoked id is never valid again.  The rows of a deleted user go with it.
CREATE TABLE auth_token (
	id        TEXT PRIMARY KEY,
	secret    TEXT NOT NULL,
	user_name TEXT NOT NULL,
	role      TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
	centers   TEXT,
	customer  TEXT,
	label     TEXT,
	created   REAL NOT NULL,
	expires   REAL,                     -- NULL: never
	last_used REAL,                     -- written lazily (minutes behind)
	revoked   REAL,                     -- NULL: valid
	CHECK (role <> 'operator' OR centers IS NOT NULL),
	CHECK (role <> 'viewer' OR customer IS NOT NULL)
) WITHOUT ROWID;
CREATE INDEX auth_token_user ON auth_token (user_name);

-- Login sessions: `id` is the SHA-256 of the cookie's value.  `expires`
-- is the absolute expiry; the idle expiry is last_seen + the configured
-- idle timeout (last_seen is written lazily, a minute behind at most).
-- `csrf` is the session's CSRF token (useless without the cookie).
CREATE TABLE auth_session (
	id        TEXT PRIMARY KEY,
	user_name TEXT NOT NULL,
	created   REAL NOT NULL,
	last_seen REAL NOT NULL,
	expires   REAL NOT NULL,
	csrf      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX auth_session_user ON auth_session (user_name);

-- Who did what, when, from where: logins, failed logins, logouts, user
-- and token changes, and every action of the API.  Append-only but for
-- retention (oldest first, by time).
CREATE TABLE auth_audit (
	time      REAL NOT NULL,
	who       TEXT NOT NULL,            -- a user name, or '-'
	what      TEXT NOT NULL,            -- 'login', 'login_failed', 'user_add', ...
	from_addr TEXT,
	detail    TEXT
);
CREATE INDEX auth_audit_time ON auth_audit (time);
