#!/bin/sh
# it: long
# Users and access over real HTTP: the first admin made over the local
# UNIX socket; logins with session cookies and API tokens; then EVERY
# route of src/http/route.c (read from the table itself, so a new route is
# in the matrix the day it is added) x every role (admin, operator of
# cc-east, viewer of c1, viewer of c2, nobody) x own/other tenant, against
# what its access rule promises: 401 without a login, 403 for a role that
# may not, 404 for a viewer asking for another customer's things
# (existence is not revealed), never 401/403 where allowed.  Also: the
# event stream is tenant-filtered, CSRF refusal, logout, revoked and
# malformed tokens, login rate limiting with Retry-After, the audit log
# in the store, X-Forwarded-For only from a trusted proxy, and a session
# that expires after its idle timeout.
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v python3 >/dev/null || it_skip "python3 missing"
command -v sqlite3 >/dev/null || it_skip "sqlite3 missing"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
hport=$(it_free_port)
SOCK=$IT_TMP/api.sock
cat >"$IT_TMP/m.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; log_level = "info"; node = "z1"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; trusted_proxies = [ "127.0.0.2" ]; };
auth = { kdf_memory = 8; kdf_time_cost = 1; idle_timeout = "60s"; absolute_timeout = "1h"; };
calendars = ( { name = "always"; timezone = "UTC"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always"; tiers = ( { name = "t1"; ack_within = "1h"; resolve_within = "4h"; },
                                                                { name = "t2"; ack_within = "1h"; resolve_within = "4h"; } ); },
            { name = "cc-west"; calendar = "always"; tiers = ( { name = "w1"; ack_within = "1h"; resolve_within = "4h"; } ); } );
routes = ( { service = "utm"; center = "cc-west"; }, { center = "cc-east"; } );
customers = (
  { id = "c1"; assets = ( { name = "web"; checks = ( { plugin = "dummy"; name = "http"; service = "web"; interval = "1s"; max_attempts = 1; state = 2; } ); } ); },
  { id = "c2"; assets = ( { name = "utm-1"; checks = ( { plugin = "dummy"; name = "utm"; service = "utm"; interval = "1s"; max_attempts = 1; state = 2; } ); } ); } );
CONF
it_mamorid "$IT_TMP/m.conf"
it_wait_for 10 test -S "$SOCK" || it_fail "no API socket"

python3 - "$SOCK" "$hport" "$IT_STATE_DIR/mamori.db" <<'PY' || it_fail "access checks failed (above)"
import http.client, json, re, socket, sqlite3, sys, time

SOCK, PORT, DB = sys.argv[1], int(sys.argv[2]), sys.argv[3]
T_START = time.time()

class UnixConn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=10)
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(SOCK)

class FromConn(http.client.HTTPConnection):
    """TCP from a chosen loopback source address."""
    def __init__(self, src):
        super().__init__("127.0.0.1", PORT, timeout=10, source_address=(src, 0))

def req(method, path, body=None, who=None, headers=None, local=False, src=None):
    c = UnixConn() if local else (FromConn(src) if src else http.client.HTTPConnection("127.0.0.1", PORT, timeout=10))
    h = dict(headers or {})
    if who:
        h.update(who.headers(method))
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    t = r.read()
    c.close()
    try:
        j = json.loads(t) if t else None
    except ValueError:
        j = None
    return r.status, j, r

fails = []
def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what, file=sys.stderr)

class Session:
    def __init__(self, user, pw):
        s, j, r = req("POST", "/api/v1/login", {"user": user, "password": pw})
        assert s == 200, (user, s, j)
        ck = r.getheader("Set-Cookie")
        check("HttpOnly" in ck and "SameSite=Strict" in ck and "Path=/" in ck, "cookie flags: %s" % ck)
        check("Secure" not in ck, "Secure on plain HTTP: %s" % ck)
        self.cookie = ck.split(";")[0]
        self.csrf = j["csrf_token"]
        self.name = user
    def headers(self, method):
        h = {"Cookie": self.cookie}
        if method != "GET":
            h["X-CSRF-Token"] = self.csrf
        return h

class Token:
    def __init__(self, tok, name):
        self.tok, self.name = tok, name
    def headers(self, method):
        return {"Authorization": "Bearer " + self.tok}

PW = "correct horse battery staple"
# ---- the first admin, over the local socket only ----
s, j, _ = req("POST", "/api/v1/users", {"name": "root", "role": "admin", "password": PW})
check(s == 401, "user add over TCP without login: %d" % s)
for name, role, extra in (("root", "admin", {}), ("ope", "operator", {"centers": ["cc-east"]}),
                          ("va", "viewer", {"customer": "c1"}), ("vb", "viewer", {"customer": "c2"})):
    b = {"name": name, "role": role, "password": PW}
    b.update(extra)
    s, j, _ = req("POST", "/api/v1/users", b, local=True)
    check(s == 201, "add %s: %d %r" % (name, s, j))
s, j, _ = req("POST", "/api/v1/users", {"name": "root", "role": "admin", "password": PW}, local=True)
check(s == 409, "duplicate user: %d" % s)
s, j, _ = req("POST", "/api/v1/users", {"name": "x", "role": "admin", "password": "short"}, local=True)
check(s == 422 and "password" in j["error"]["message"], "short password: %d %r" % (s, j))
s, j, _ = req("POST", "/api/v1/users", {"name": "x", "role": "emperor", "password": PW}, local=True)
check(s == 400, "bad role: %d" % s)

admin = Session("root", PW)
va = Session("va", PW)
expiring = Session("vb", PW)   # used once now, then left idle past its timeout
ope_s = Session("ope", PW)
s, j, _ = req("POST", "/api/v1/tokens", {"label": "matrix"}, who=ope_s)
check(s == 201 and j["token"].startswith("mmr_"), "token create: %d %r" % (s, j))
ope = Token(j["token"], "ope")
vb_s = Session("vb", PW)
s, j, _ = req("POST", "/api/v1/tokens", {"label": "vb"}, who=vb_s)
vb = Token(j["token"], "vb")
s, j, _ = req("POST", "/api/v1/tokens", {"label": "wider", "role": "admin"}, who=vb_s)
check(s == 403, "a viewer made an admin token: %d" % s)

# fixtures: the two alerts, a downtime per customer, a token of someone else
end = time.time() + 15
while time.time() < end:
    s, j, _ = req("GET", "/api/v1/alerts?status=open", who=admin)
    if s == 200 and len(j["alerts"]) == 2:
        break
    time.sleep(0.2)
al = {a["customer"]: a["id"] for a in j["alerts"]}
check(set(al) == {"c1", "c2"}, "alerts: %r" % j)
dts = {}
for c in ("c1", "c2"):
    s, j, _ = req("POST", "/api/v1/downtimes", {"customer": c, "end": time.time() + 3600, "comment": "fixture"}, who=admin)
    dts[c] = j["downtime"]
s, j, _ = req("GET", "/api/v1/tokens", who=admin)
tok_ids = {t["user"]: t["id"] for t in j["tokens"]}

# viewers see only their customer in the lists
s, j, _ = req("GET", "/api/v1/customers", who=va)
check([c["id"] for c in j["customers"]] == ["c1"], "viewer's customers: %r" % j)
s, j, _ = req("GET", "/api/v1/alerts?status=open", who=va)
check({a["customer"] for a in j["alerts"]} == {"c1"}, "viewer's alerts: %r" % j)
s, j, _ = req("GET", "/api/v1/alerts", who=va)
check({a["customer"] for a in j["alerts"]} <= {"c1"}, "viewer's stored alerts: %r" % j)
s, j, _ = req("GET", "/api/v1/checks", who=vb)
check({c["customer"] for c in j["checks"]} == {"c2"}, "viewer's checks: %r" % j)
s, j, _ = req("GET", "/api/v1/overview", who=vb)
check([c["id"] for c in j["customers"]] == ["c2"], "viewer's overview: %r" % j)
s, j, _ = req("GET", "/api/v1/downtimes", who=va)
check({d["customer"] for d in j["downtimes"]} == {"c1"}, "viewer's downtimes: %r" % j)
s, j, _ = req("GET", "/api/v1/alerts?customer=c2", who=va)
check(s == 404, "viewer filtering on another customer: %d" % s)
s, j, _ = req("GET", "/api/v1/alerts/" + al["c2"], who=va)
check(s == 404, "viewer reading another's alert: %d" % s)
s, j, _ = req("GET", "/api/v1/sla", who=va)
check({r["customer"] for r in j["rows"]} <= {"c1"}, "viewer's SLA rows: %r" % j)
s, j, _ = req("GET", "/api/v1/alerts?status=open", who=ope)
check({a["customer"] for a in j["alerts"]} == {"c1", "c2"}, "an operator reads every alert: %r" % j)
s, j, _ = req("GET", "/api/v1/users", who=va)
check(s == 403, "viewer listing users: %d" % s)

# ---- the event stream, tenant-filtered ----
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
c.request("GET", "/api/v1/events?types=alert", headers=va.headers("GET"))
r = c.getresponse()
check(r.status == 200, "viewer's stream: %d" % r.status)
req("POST", "/api/v1/alerts/%s/comment" % al["c2"], {"note": "secret of c2"}, who=admin)
req("POST", "/api/v1/alerts/%s/comment" % al["c1"], {"note": "visible to c1"}, who=admin)
got = b""
c.sock.settimeout(0.3)
end = time.time() + 5
while time.time() < end and b"visible to c1" not in got:
    try:
        got += r.read1(65536)
    except socket.timeout:
        pass
c.close()
check(b"visible to c1" in got, "viewer's stream missed its own event")
check(b"secret of c2" not in got and b'"customer":"c2"' not in got, "viewer's stream leaked c2: %r" % got[:300])
s, j, _ = req("GET", "/api/v1/events?customer=c2", who=va)
check(s == 404, "viewer streaming another customer: %d" % s)

# ---- the matrix ----
routes = []
src = open("src/http/route.c").read()
for m in re.finditer(r'\{\s*"(GET|POST|PATCH|DELETE)",\s*"([^"]+)",\s*(ACC_[A-Z]+),\s*"([^"]+)"', src):
    routes.append(m.groups())
check(len(routes) >= 35, "route table not read: %d routes" % len(routes))

# who x tenant: (principal, role, own customer, own center, own user)
# viewers and nobody first: an admin's DELETE or resolve would take the fixture away
roles = {"nobody": None, "viewer_a": va, "viewer_b": vb, "operator": ope, "admin": admin}
me = {"admin": "root", "operator": "ope", "viewer_a": "va", "viewer_b": "vb", "nobody": "va"}
own = {"admin": "c1", "operator": "c1", "viewer_a": "c1", "viewer_b": "c2"}
other = {"c1": "c2", "c2": "c1"}
def fill(pattern, cust, role, ten):
    p = pattern
    p = p.replace("{customer}/{asset}/{check}", {"c1": "c1/web/http", "c2": "c2/utm-1/utm"}[cust])
    p = p.replace("{customer}", cust)
    if p.startswith("/api/v1/alerts/"):
        p = p.replace("{id}", al[cust])
    elif p.startswith("/api/v1/downtimes/"):
        p = p.replace("{id}", dts[cust])
    elif p.startswith("/api/v1/tokens/"):
        p = p.replace("{id}", "ffffffffffffffff")  # nobody's: allowed roles get 404
    p = p.replace("{name}", me[role] if ten == "own" else "nobody-such")
    return p
BODY = {"alert.comment": {"note": "matrix"}, "alerts.open": {"customer": "c1", "summary": "matrix"},
        "downtimes.add": {"customer": "c1", "end": time.time() + 60, "comment": "matrix"},
        "users.add": {"name": "m", "role": "viewer", "customer": "c1", "password": "x"},
        "users.set": {"disabled": False}, "users.password": {"password": "x"},
        "tokens.create": {"label": "m"}, "login": {"user": "nobody", "password": "x"},
        "alert.dispatch": {"vendor": "v"}}
SKIP = {"logout", "events"}  # they end the session / stream: tested on their own below
table = []
for method, pattern, acc, name in routes:
    if name in SKIP:
        continue
    for rname, who in roles.items():
        tenants = ["own", "other"] if "{" in pattern else ["-"]
        for ten in tenants:
            cust = own.get(rname, "c1")
            if ten == "other":
                cust = other[cust]
            path = fill(pattern, cust, rname, ten)
            s, j, _ = req(method, path, BODY.get(name, {} if method in ("POST", "PATCH") else None), who=who)
            # what the access rule promises
            if name == "login":  # public; its wrong password is its own 401
                ok, want = s == 401, "401 (wrong password)"
            elif name in ("notify.link", "notify.link.use"):
                # public: the signed token is the authority, and "{token}"
                # is none (a made-up token is refused as such, for anyone)
                ok = s == 403 and (j or {}).get("error", {}).get("code") == "forbidden"
                want = "403 (not a link token)"
            elif name == "oncall" and rname.startswith("viewer"):
                # staff information: read access, but not for a customer's viewer
                ok, want = s == 403, "403 (staff only)"
            elif name.startswith("notify."):
                # public, but the capability is the signed token or the
                # gateway's signature, never a login: a forged one is refused
                # whoever asks, and no login makes it pass
                ok, want = s in (400, 403, 404, 415, 422), "refused (forged token or signature)"
            elif acc == "ACC_PUBLIC":
                ok = s not in (401, 403)
                want = "not 401/403"
            elif rname == "nobody":
                ok, want = s == 401, "401"
            elif acc == "ACC_USER" and "{name}" in pattern and rname != "admin" and ten == "other":
                ok, want = s == 403, "403 (another user's)"
            elif acc in ("ACC_USER", "ACC_READ"):
                ok, want = s not in (401, 403), "not 401/403"
            elif acc == "ACC_CUSTOMER":
                if rname.startswith("viewer") and ten == "other":
                    ok, want = s == 404, "404"
                else:
                    ok, want = s not in (401, 403, 404), "not 401/403/404"
            elif acc in ("ACC_ACT", "ACC_MAINTAIN"):
                if rname.startswith("viewer"):
                    if ten == "other":
                        ok, want = s == 404, "404"
                    else:
                        ok, want = s == 403, "403"
                elif rname == "operator" and acc == "ACC_ACT" and ten == "other":
                    ok, want = s == 403, "403 (another center's alert)"
                else:
                    ok, want = s not in (401, 403), "not 401/403"
            elif acc == "ACC_ADMIN":
                ok, want = (s not in (401, 403), "not 401/403") if rname == "admin" else (s == 403, "403")
            else:
                ok, want = False, "a known access rule"
            table.append((method, pattern, rname, ten, s, ok))
            check(ok, "%s %s as %s (%s tenant): %d, want %s: %r" % (method, path, rname, ten, s, want, j))
print("matrix: %d requests over %d routes, %d wrong" % (len(table), len(routes), sum(1 for t in table if not t[5])))

# ---- CSRF, logout, tokens ----
s, j, _ = req("POST", "/api/v1/alerts/%s/comment" % al["c1"], {"note": "x"}, headers={"Cookie": admin.cookie})
check(s == 403 and j["error"]["code"] == "csrf", "cookie without CSRF token: %d %r" % (s, j))
s, j, _ = req("POST", "/api/v1/alerts/%s/comment" % al["c1"], {"note": "x"}, headers={"Cookie": admin.cookie, "X-CSRF-Token": "forged"})
check(s == 403, "cookie with a wrong CSRF token: %d" % s)
s, j, _ = req("POST", "/api/v1/alerts/%s/comment" % al["c1"], {"note": "token, no csrf"}, who=ope)
check(s != 403, "bearer token needs no CSRF token: %d %r" % (s, j))
for bad in ("mmr_", "mmr_0000000000000000_" + "A" * 43, "garbage", ope.tok[:-1] + ("A" if ope.tok[-1] != "A" else "B"), "x" * 5000):
    s, j, _ = req("GET", "/api/v1/me", headers={"Authorization": "Bearer " + bad})
    check(s == 401, "bad token %r...: %d" % (bad[:20], s))
s, j, _ = req("GET", "/api/v1/me", headers={"Authorization": "Basic cm9vdDp4"})
check(s == 401, "Basic auth: %d" % s)
s, j, _ = req("GET", "/api/v1/me", headers={"Cookie": "mamori_session=forged"})
check(s == 401, "forged cookie: %d" % s)
s, j, _ = req("GET", "/api/v1/tokens", who=ope)
mine = [t["id"] for t in j["tokens"] if t["label"] == "matrix"]
check(len(mine) == 1 and all(t["user"] == "ope" for t in j["tokens"]), "operator's token list: %r" % j)
s, j, _ = req("DELETE", "/api/v1/tokens/" + tok_ids["vb"], who=ope)
check(s == 404, "revoking someone else's token: %d" % s)
s, j, _ = req("DELETE", "/api/v1/tokens/" + mine[0], who=ope_s)
check(s == 204, "revoke own token: %d %r" % (s, j))
s, j, _ = req("GET", "/api/v1/me", who=ope)
check(s == 401, "revoked token still works: %d" % s)
s, j, _ = req("POST", "/api/v1/logout", who=va)
check(s == 204, "logout: %d" % s)
s, j, _ = req("GET", "/api/v1/me", who=va)
check(s == 401, "session alive after logout: %d" % s)

# ---- login rate limiting ----
codes = [req("POST", "/api/v1/login", {"user": "ope", "password": "wrong password %d" % i})[0] for i in range(5)]
check(codes == [401] * 5, "wrong passwords: %r" % codes)
s, j, r = req("POST", "/api/v1/login", {"user": "ope", "password": PW})
check(s == 429 and int(r.getheader("Retry-After")) >= 1, "6th attempt not limited: %d" % s)
s, j, _ = req("POST", "/api/v1/login", {"user": "no-such-user", "password": "x"})
check(s == 401 and j["error"]["message"] == "wrong user name or password", "unknown user answered differently: %r" % j)

# ---- trusted proxy ----
s, j, _ = req("GET", "/api/v1/me", who=admin, headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"})
check(j["from"] == "127.0.0.1" and j["secure"] is False, "untrusted X-Forwarded-For believed: %r" % j)
s, j, _ = req("GET", "/api/v1/me", who=admin, src="127.0.0.2", headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.7", "X-Forwarded-Proto": "https"})
check(j["from"] == "198.51.100.7" and j["secure"] is True, "trusted proxy's X-Forwarded-For: %r" % j)
s, j, _ = req("GET", "/api/v1/me", who=admin, src="127.0.0.2", headers={"X-Forwarded-For": "not-an-ip"})
check(j["from"] == "127.0.0.2", "garbage X-Forwarded-For: %r" % j)

# ---- the audit log ----
time.sleep(1.5)
db = sqlite3.connect("file:%s?mode=ro" % DB, uri=True)
rows = db.execute("SELECT who, what, from_addr, detail FROM auth_audit").fetchall()
whats = {r[1] for r in rows}
for w in ("login", "login_failed", "alert.comment", "downtimes.add", "logout"):
    check(w in whats, "audit lacks %s: %r" % (w, sorted(whats)))
check(any(r[0] == "ope" and r[1] == "alert.comment" and r[2] == "127.0.0.1" for r in rows), "audit row of ope's comment")
check(not any(PW in (r[3] or "") for r in rows), "a password in the audit log")
db.close()

# ---- idle expiry: the session made at the start, unused since ----
wait = T_START + 63 - time.time()
if wait > 0:
    time.sleep(wait)
s, j, _ = req("GET", "/api/v1/me", who=expiring)
check(s == 401, "idle session still valid after its timeout: %d" % s)
s, j, _ = req("GET", "/api/v1/me", who=vb)
check(s == 200, "a token does not expire with idleness: %d" % s)

if fails:
    sys.exit("%d failures" % len(fails))
PY
grep -q "correct horse" "$IT_TMP/mamorid.log" && it_fail "a password reached the log"
echo "PASS $IT_NAME"
