#!/bin/sh
# doc/openapi.yaml against the answers of a running mamorid: every
# operation the document describes (but the "(since 0.2)" ones) is called
# over real HTTP - the local UNIX socket as the administrator, loopback
# TCP without credentials, the metrics address - with successes and the
# errors it documents, and every answer is checked against the document:
# the status is one the operation lists, the media type is the one it
# lists, and a JSON body matches the schema (types, enums, nullability,
# required members, date-time format) with no member the schema does not
# name.  The event stream's events (state, alert, command, downtime, gap)
# are checked against the schemas of x-sse-events.  An operation no
# request reached with a 2xx/3xx answer fails the test, so a new route
# needs a call here as well as its entry in the document.
# (tests/lint/openapi.sh checks the document against the route table;
# this checks it against what the handlers answer.)
. tests/integration/lib.sh

[ -x "$MAMORID" ] || it_skip "$MAMORID not built"
command -v python3 >/dev/null || it_skip "python3 missing"
python3 -c 'import yaml' 2>/dev/null || it_skip "python3-yaml missing"
[ -f "$PLUGIN_DIR/dummy.so" ] || it_skip "dummy.so not built"

it_init
IT_STATE_DIR=$IT_TMP/state
mkdir -p "$IT_STATE_DIR"
chmod 700 "$IT_STATE_DIR"
hport=$(it_free_port)
mport=$(it_free_port)
SOCK=$IT_TMP/api.sock
# on-call notifications: a webhook channel to a local listener (its
# messages carry the one-click links), an SMS channel whose gateway's
# replies come in signed
wport=$(it_free_port)
printf 'inbound-key-0123456789\n' >"$IT_TMP/inbound.key"
printf 'gateway-token\n' >"$IT_TMP/gw.token"
chmod 600 "$IT_TMP/inbound.key" "$IT_TMP/gw.token"
it_bg hooks python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        b = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        open(sys.argv[2], "ab").write(b + b"\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$wport" "$IT_TMP/hooks.txt"
cat >"$IT_TMP/m.conf" <<CONF
daemon = { state_dir = "$IT_STATE_DIR"; plugin_dir = "$PLUGIN_DIR"; data_dir = "$(pwd)/share/mamori";
           log_level = "info"; node = "h1"; };
http = { listen = [ "127.0.0.1:$hport", "unix:$SOCK" ]; metrics_listen = "127.0.0.1:$mport"; };
auth = { kdf_memory = 8; kdf_time_cost = 1; };
reports = { schedule = false; };
calendars = ( { name = "always"; timezone = "Asia/Tokyo"; hours = [ "mon-sun 00:00-24:00" ]; } );
centers = ( { name = "cc-east"; calendar = "always";
              tiers = ( { name = "contact-center"; ack_within = "15m"; resolve_within = "4h"; },
                        { name = "back-office"; ack_within = "30m"; resolve_within = "8h"; } ); } );
routes = ( { center = "cc-east"; } );
notify = { channels = ( { name = "hook"; plugin = "webhook"; template = "json"; url = "http://127.0.0.1:$wport/hook"; },
                        { name = "gw"; plugin = "sms"; template = "json"; from = "M"; url = "http://127.0.0.1:$wport/sms";
                          secret_file = "$IT_TMP/gw.token"; inbound = "json"; inbound_secret_file = "$IT_TMP/inbound.key"; },
                        { name = "mail"; plugin = "email"; from = "reports@mamori.test";
                          smtp = { url = "smtp://127.0.0.1:$(it_free_port)"; starttls = false; }; } );
           link_base = "http://mamori.example"; retry_min = "1s"; repeat = "0"; bundle_window = "0s"; };
contacts = ( { name = "room"; phone = "+819011112222"; channels = ( { channel = "hook"; }, { channel = "gw"; } ); } );
oncall = ( { center = "cc-east"; layers = ( { members = "room"; } ); } );
customers = (
  { id = "c1"; name = "Tokyo"; region = "kanto";
    assets = ( { name = "web"; checks = ( { plugin = "dummy"; name = "http"; service = "web"; interval = "1s"; max_attempts = 1; state = 2; output = "down"; },
                                         { plugin = "dummy"; name = "ok"; service = "web"; interval = "1s"; perf = "time=0.2s;1;2;0 size=10KB"; } ); } ); },
  { id = "c2"; name = "Osaka"; report = { email = [ "osaka@example.test" ]; };
    assets = ( { name = "utm-1"; checks = ( { plugin = "dummy"; name = "utm"; service = "utm"; interval = "1s"; max_attempts = 1; state = 1; output = "cpu high"; } ); },
               { name = "pc-1"; checks = ( { plugin = "dummy"; name = "defender"; service = "defender"; interval = "1s"; } ); } ); } );
CONF
"$MAMORID" -c "$IT_TMP/m.conf" --check-config >"$IT_TMP/check.log" 2>&1 ||
	it_fail "config refused: $(cat "$IT_TMP/check.log")"
it_mamorid "$IT_TMP/m.conf"
it_wait_for 10 test -S "$SOCK" || it_fail "no API socket"

python3 - "$SOCK" "$hport" "$mport" doc/openapi.yaml "$IT_TMP/hooks.txt" <<'PY' || it_fail "answers differ from doc/openapi.yaml (above)"
import http.client, json, re, socket, sys, threading, time

import yaml

SOCK, PORT, MPORT, DOC = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
SPEC = yaml.safe_load(open(DOC, encoding="utf-8"))
SINCE = "(since 0.2)"
problems = []
reached = set()  # (method, path template) answered with 2xx/3xx and checked


def problem(msg):
    problems.append(msg)
    print("FAIL:", msg, file=sys.stderr)


# ---- a validator for the OpenAPI 3.0 schema objects the document uses ----

def deref(s):
    for _ in range(20):
        if not (isinstance(s, dict) and "$ref" in s):
            return s
        node = SPEC
        for part in s["$ref"][2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        s = node
    raise ValueError("$ref loop")


def parts(s):
    """s and its allOf parts, recursively, dereferenced."""
    s = deref(s)
    out = [s]
    for p in s.get("allOf") or []:
        out += parts(p)
    return out


DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TYPES = {"string": lambda x: isinstance(x, str),
         "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
         "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
         "boolean": lambda x: isinstance(x, bool),
         "object": lambda x: isinstance(x, dict),
         "array": lambda x: isinstance(x, list)}


def check(s, x, where, errs, strict=True):
    """Errors of instance x against schema s.  strict: a member no
    properties (of s or its allOf parts) names is an error unless
    additionalProperties allows it."""
    all_parts = parts(s)
    s = all_parts[0]
    if x is None:
        if any(p.get("nullable") for p in all_parts):
            return
        errs.append("%s: null, the document does not allow it" % where)
        return
    for p in s.get("allOf") or []:
        check(p, x, where, errs, strict=False)
    if "oneOf" in s:
        ok = 0
        for p in s["oneOf"]:
            e = []
            check(p, x, where, e)
            ok += not e
        if ok != 1:
            errs.append("%s: %r matches %d of oneOf's schemas" % (where, x, ok))
    t = s.get("type")
    if t and not TYPES[t](x):
        errs.append("%s: %r is not of type %s" % (where, x, t))
        return
    if "enum" in s and x not in s["enum"]:
        errs.append("%s: %r is not one of %s" % (where, x, s["enum"]))
    if isinstance(x, str):
        if s.get("format") == "date-time" and not DATE_TIME.match(x):
            errs.append("%s: %r is not an RFC 3339 date-time" % (where, x))
        if "pattern" in s and not re.search(s["pattern"], x):
            errs.append("%s: %r does not match %s" % (where, x, s["pattern"]))
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        if "minimum" in s and x < s["minimum"] or "maximum" in s and x > s["maximum"]:
            errs.append("%s: %r out of range" % (where, x))
    if isinstance(x, dict) and strict:
        props, required, extra = {}, set(), False
        for p in all_parts:
            for k, v in (p.get("properties") or {}).items():
                props.setdefault(k, []).append(v)
            required |= set(p.get("required") or [])
            extra |= p.get("additionalProperties", False) is not False
        for k in sorted(required - set(x)):
            errs.append("%s: required member %r missing" % (where, k))
        for k, v in x.items():
            if k in props:
                check({"allOf": props[k]}, v, where + "." + k, errs)
            elif not extra:
                errs.append("%s: member %r is not in the document" % (where, k))
    if isinstance(x, list) and "items" in s:
        for i, v in enumerate(x):
            check(s["items"], v, "%s[%d]" % (where, i), errs)


# ---- requests ----

OPS = []
for p, item in SPEC["paths"].items():
    rx = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$")
    for m, op in item.items():
        if m in ("get", "post", "delete", "put", "patch"):
            OPS.append((m.upper(), p, rx, op))


def find(method, path):
    for m, p, rx, op in OPS:
        if m == (method if method != "HEAD" else "GET") and rx.match(path):
            return p, op
    return None, None


def verify(method, url, status, ctype, body, stream=False):
    path = url.split("?")[0]
    tmpl, op = find(method, path)
    where = "%s %s -> %d" % (method, url, status)
    if op is None:
        if status not in (404, 405):
            problem("%s: no such operation in the document" % where)
        return
    resp = (op.get("responses") or {}).get(str(status))
    if resp is None:
        problem("%s: status %d is not documented for %s %s" % (where, status, method, tmpl))
        return
    resp = deref(resp)
    content = resp.get("content") or {}
    if status < 400:
        reached.add((method, tmpl))
    if stream:
        if not [k for k in content if k.split(";")[0] == (ctype or "").split(";")[0]]:
            problem("%s: Content-Type %r, the document has %s" % (where, ctype, list(content)))
        return
    if not body:
        if content and status != 304:
            problem("%s: no body, the document has %s" % (where, list(content)))
        return
    base = (ctype or "").split(";")[0].strip()
    media = [k for k in content if k.split(";")[0].strip() == base]
    if not media:
        problem("%s: Content-Type %r, the document has %s" % (where, ctype, list(content)))
        return
    if base != "application/json":
        return
    try:
        x = json.loads(body)
    except ValueError:
        problem("%s: the body is not JSON" % where)
        return
    errs = []
    check(content[media[0]].get("schema") or {}, x, "body", errs)
    for e in errs:
        problem("%s: %s" % (where, e))


class UnixConn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=10)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(SOCK)


def req(method, url, body=None, headers=None, raw=None, tcp=None, want=None, doc=True):
    c = http.client.HTTPConnection("127.0.0.1", tcp, timeout=10) if tcp else UnixConn()
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        c.request(method, url, body=data, headers=h)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = c.getresponse()
    text = r.read()
    c.close()
    hd = dict((k.lower(), v) for k, v in r.getheaders())
    if doc:
        verify(method, url, r.status, hd.get("content-type"), text)
    if want is not None and r.status != want:
        problem("%s %s: %d, want %d: %s" % (method, url, r.status, want, text[:200]))
    try:
        j = json.loads(text) if text else None
    except ValueError:
        j = None
    return r.status, j, hd


# ---- system ----
req("GET", "/healthz", want=200)
req("GET", "/healthz", tcp=PORT, headers={"Authorization": "Bearer mmr_0_x"}, want=200)  # public: ignored
req("GET", "/readyz", want=200)
req("GET", "/metrics", tcp=MPORT, want=200)
req("GET", "/api/v1/me", tcp=MPORT, want=404, doc=False)  # the metrics address: no API
req("GET", "/metrics", tcp=PORT, want=404)
# the dashboard's files (public; not on the metrics address)
req("GET", "/", tcp=PORT, want=200)
req("GET", "/ui/app.js", tcp=PORT, want=200)
req("GET", "/ui/i18n/en.json", tcp=PORT, want=200)
req("GET", "/ui/nope.js", tcp=PORT, want=404)
req("GET", "/ui/js/..", tcp=PORT, want=404)
req("GET", "/", tcp=MPORT, want=404, doc=False)
req("GET", "/api/v1/me", want=200)
req("GET", "/api/v1/me", tcp=PORT, want=401)
req("GET", "/api/v1/status", want=200)
req("GET", "/api/v1/sla", want=200)
req("GET", "/api/v1/sla?center=nowhere", want=200)
req("GET", "/api/v1/sla?month=1", want=400)
req("GET", "/api/v1/status?x=1", want=400)
req("GET", "/api/v1/status", raw=b"{}", headers={"Content-Type": "application/json"}, want=413)

# ---- customers, checks ----
req("GET", "/api/v1/customers", want=200)
req("GET", "/api/v1/customers/c1", want=200)
req("GET", "/api/v1/customers/nope", want=404)
req("GET", "/api/v1/customers/c2/assets", want=200)
# the monthly report: this month so far (the daemon's customers have no
# calendar: the month in UTC), HTML and PDF; refusals
MONTH = time.strftime("%Y-%m", time.gmtime())
st, _, hd = req("GET", "/api/v1/customers/c2/report?month=" + MONTH, want=200)
if "sandbox" not in hd.get("content-security-policy", ""):
    problem("the HTML report is served without its sandboxing policy: %r" % hd)
st, _, hd = req("GET", "/api/v1/customers/c2/report?month=%s&format=pdf&lang=en" % MONTH, want=200)
if not hd.get("content-type", "").startswith("application/pdf"):
    problem("the PDF report came as %r" % hd.get("content-type"))
req("GET", "/api/v1/customers/c2/report", want=400)
req("GET", "/api/v1/customers/c2/report?month=2999-01", want=400)
req("GET", "/api/v1/customers/c2/report?month=2026-13", want=400)
req("GET", "/api/v1/customers/c2/report?month=2026-01&format=doc", want=400)
req("GET", "/api/v1/customers/nope/report?month=2026-01", want=404)
# mailed again: last month's (queued in the outbox; its SMTP server is
# unreachable, which the answer does not wait for); refusals
t = time.gmtime()
LAST = "%04d-%02d" % ((t.tm_year, t.tm_mon - 1) if t.tm_mon > 1 else (t.tm_year - 1, 12))
SEND = "/api/v1/customers/%s/report/send"
st, j, _ = req("POST", SEND % "c2", body={"month": LAST}, want=202)
if not j or j.get("result") != "queued" or j.get("recipients") != 1 or j.get("month") != LAST:
    problem("report/send: %r" % (j,))
req("POST", SEND % "c2", body={"month": MONTH}, want=400)
req("POST", SEND % "c2", body={"month": "2026-13"}, want=400)
req("POST", SEND % "c2", body={"month": LAST, "lang": "fr"}, want=400)
req("POST", SEND % "c2", body={"month": LAST, "to": "x@example.test"}, want=400)
req("POST", SEND % "c1", body={"month": LAST}, want=409)
req("POST", SEND % "nope", body={"month": LAST}, want=404)
req("POST", SEND % "c2", raw=b"{}", want=415)
end = time.time() + 20
while time.time() < end:
    s, j, _ = req("GET", "/api/v1/alerts?status=open")
    if s == 200 and len(j["alerts"]) >= 2:
        break
    time.sleep(0.3)
else:
    sys.exit("alerts did not open: %r" % (j,))
s, j, _ = req("GET", "/api/v1/checks?limit=2", want=200)
req("GET", "/api/v1/checks?limit=2&after=" + j["next"], want=200)
req("GET", "/api/v1/checks?problems=true&customer=c1&service=web&hard=true", want=200)
req("GET", "/api/v1/checks?state=bad", want=400)
req("GET", "/api/v1/checks?customer=nope", want=404)
req("GET", "/api/v1/checks/c1/web/http", want=200)
req("GET", "/api/v1/checks/c1/web/ok/series?step=1", want=200)
for _ in range(50):  # its first samples are written within a second or two
    if req("GET", "/api/v1/checks/c1/web/ok/series?label=time&step=1&from=%d" % (time.time() - 60), doc=False)[0] == 200:
        break
    time.sleep(0.1)
req("GET", "/api/v1/checks/c1/web/ok/series?label=time&step=1&from=%d" % (time.time() - 60), want=200)
req("GET", "/api/v1/checks/c1/web/ok/series?step=0", want=400)
req("GET", "/api/v1/checks/c1/web/nope/series", want=404)
req("GET", "/api/v1/checks/c1/web/nope", want=404)

# ---- alerts ----
s, j, _ = req("GET", "/api/v1/alerts?status=unresolved&center=cc-east&limit=1", want=200)
by = {}
for a in req("GET", "/api/v1/alerts?status=open")[1]["alerts"]:
    by[a["customer"]] = a
a1, a2 = by["c1"]["id"], by["c2"]["id"]
req("GET", "/api/v1/alerts?severity=bad", want=400)
req("GET", "/api/v1/alerts?status=open&customer=nope", want=200)
time.sleep(1.5)  # the store has them after a commit
req("GET", "/api/v1/alerts", want=200)
req("GET", "/api/v1/alerts?status=resolved&due_before=2100-01-01T00:00:00Z", want=200)
req("GET", "/api/v1/alerts/" + a1, want=200)
req("GET", "/api/v1/alerts/A-nope-1", want=404)

# ---- on-call notifications ----
req("GET", "/api/v1/oncall", want=200)
req("GET", "/api/v1/oncall?at=2026-12-24T12:00:00Z&center=cc-east", want=200)
req("GET", "/api/v1/oncall?at=never", want=400)
req("GET", "/api/v1/oncall", tcp=PORT, want=401)
req("GET", "/api/v1/alerts/%s/notifications" % a1, want=200)
req("GET", "/api/v1/alerts/A-nope-1/notifications", want=404)
import hashlib, hmac
body = json.dumps({"from": "+819011112222", "text": "ack", "id": "gw-1"}).encode()
sig = "sha256=" + hmac.new(b"inbound-key-0123456789", body, hashlib.sha256).hexdigest()
req("POST", "/api/v1/notify/inbound/gw", raw=body, tcp=PORT,
    headers={"Content-Type": "application/json", "X-Mamori-Signature": sig}, want=200)
req("POST", "/api/v1/notify/inbound/gw", raw=body, tcp=PORT,
    headers={"Content-Type": "application/json", "X-Mamori-Signature": "sha256=00"}, want=403)
req("POST", "/api/v1/notify/inbound/nope", raw=body, tcp=PORT,
    headers={"Content-Type": "application/json"}, want=404)
token = None
end = time.time() + 20
while time.time() < end and not token:
    try:
        m = re.search(r"/api/v1/notify/ack/([A-Za-z0-9_.-]+)", open(sys.argv[5], encoding="utf-8").read())
        token = m.group(1) if m else None
    except OSError:
        pass
    time.sleep(0.3)
if not token:
    problem("no notification with a one-click link reached the webhook")
else:
    _, info, _ = req("GET", "/api/v1/notify/ack/" + token, tcp=PORT, want=200)
    req("GET", "/api/v1/notify/ack/x" + token, tcp=PORT, want=403)
    # a phone's browser: a page, never an action on GET; the button POSTs
    import base64
    def page(method, url, lang, want, has, raw=None, extra=None):
        h = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
             "Accept-Language": lang}
        if raw is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(extra or {})
        c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        c.request(method, url, body=raw, headers=h)
        r = c.getresponse()
        text = r.read().decode("utf-8")
        c.close()
        hd = dict((k.lower(), v) for k, v in r.getheaders())
        verify(method, url, r.status, hd.get("content-type"), text.encode())
        where = "%s %s (%s)" % (method, url[:40], lang)
        if r.status != want:
            problem("%s: %d, want %d" % (where, r.status, want))
        if not hd.get("content-type", "").startswith("text/html"):
            problem("%s: Content-Type %r" % (where, hd.get("content-type")))
        csp = hd.get("content-security-policy", "")
        style = re.search(r"<style>(.*?)</style>", text, re.S)
        digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode() \
            if style else "-"
        if "default-src 'none'" not in csp or "'sha256-%s'" % digest not in csp or \
                "unsafe" in csp or "script" in csp:
            problem("%s: CSP %r does not allow exactly the page's style" % (where, csp))
        if "<script" in text.lower() or re.search(r"<[^>]*\son\w+\s*=", text, re.I):
            problem("%s: a script in the page" % where)
        for x in has:
            if x not in text:
                problem("%s: %r not in the page: %s" % (where, x, text[:300]))
        return text
    url = "/api/v1/notify/ack/" + token
    page("GET", url, "en-US,en;q=0.9,ja;q=0.5", 200,
         ['<html lang="en">', '<form method="post"><button type="submit">Acknowledge</button>'])
    t = page("GET", url, "ja,en-US;q=0.8", 200, ['<html lang="ja">', "確認済みにする"])
    _, still, _ = req("GET", "/api/v1/alerts/" + info["alert"], want=200)
    if still.get("status") == "acknowledged" and still.get("acked_by") == info["contact"]:
        problem("GET of the link page acknowledged the alert")
    page("GET", "/api/v1/notify/ack/x" + token, "ja", 403, ["このリンクは無効です"])
    page("POST", url, "ja", 200, ["確認済みにしました"], raw=b"")
    req("POST", "/api/v1/notify/ack/" + token, {}, tcp=PORT, want=409)
    page("POST", url, "en", 409, ["This link was used already"], raw=b"")
    # and the page says so before its button is pressed again
    t = page("GET", url, "en", 409, ["This link was used already"])
    if "<form" in t:
        problem("GET of a used link still offers the button")
    page("GET", url, "ja", 409, ["このリンクは使用済みです"])
    req("GET", "/api/v1/notify/ack/" + token, tcp=PORT, want=409)
    # as it was for the actions below
    req("POST", "/api/v1/alerts/%s/unack" % info["alert"], {}, want=200)

# the event stream: an id of this run first, then everything replayed
def sse(query, until=None, secs=2.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    s.sendall(("GET /api/v1/events%s HTTP/1.0\r\n\r\n" % query).encode())
    s.settimeout(0.2)
    buf, end = b"", time.time() + secs
    while time.time() < end and not (until and until(buf)):
        try:
            c = s.recv(65536)
        except socket.timeout:
            continue
        if not c:
            break
        buf += c
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head else 0
    ctype = ""
    for line in head.decode().split("\r\n")[1:]:
        k, _, v = line.partition(": ")
        if k.lower() == "content-type":
            ctype = v
    verify("GET", "/api/v1/events" + query, status, ctype, body, stream=status == 200)
    events = []
    for block in body.decode().split("\n\n"):
        ev = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                k, _, v = line.partition(": ")
                ev[k] = ev.get(k, "") + v
        if "event" in ev:
            events.append(ev)
    return events


first = []
t = threading.Thread(target=lambda: first.extend(
    sse("?types=alert", until=lambda b: b"\nid: " in b, secs=5)))
t.start()
time.sleep(0.5)
req("POST", "/api/v1/alerts/%s/comment" % a2, {"note": "first"}, want=200)
t.join()
ids = [e["id"] for e in first if "id" in e]
if not ids:
    sys.exit("no event id from the stream")
epoch = ids[0].split("-")[0]

# ---- actions ----
req("POST", "/api/v1/alerts/%s/ack" % a1, {"note": "on it", "request_id": "o-1"}, want=200)
req("POST", "/api/v1/alerts/%s/ack" % a1, {"note": "on it", "request_id": "o-1"}, want=200)
req("POST", "/api/v1/alerts/%s/ack" % a1, {"request_id": "o-2"}, want=409)
req("POST", "/api/v1/alerts/%s/unack" % a1, {}, headers={"Idempotency-Key": "o-3"}, want=200)
req("POST", "/api/v1/alerts/%s/wait" % a1, {"note": "customer calls back"}, want=200)
req("POST", "/api/v1/alerts/%s/dispatch" % a1,
    {"vendor": "Kanto IT", "planned_at": "2026-12-08T10:00:00+09:00", "result": "planned"}, want=200)
req("POST", "/api/v1/alerts/%s/escalate" % a1, {}, want=200)
req("POST", "/api/v1/alerts/%s/escalate" % a1, {}, want=409)
req("POST", "/api/v1/alerts/%s/comment" % a1, {}, want=400)
req("POST", "/api/v1/alerts/%s/comment" % a1, raw=b"{", headers={"Content-Type": "application/json"}, want=400)
req("POST", "/api/v1/alerts/%s/comment" % a1, raw=b"note=x", headers={"Content-Type": "text/plain"}, want=415)
req("POST", "/api/v1/alerts/%s/resolve" % a1, {"note": "fixed"}, want=200)
req("PUT", "/api/v1/alerts/%s/ack" % a1, {}, want=405)
req("POST", "/api/v1/alerts/A-nope-1/ack", {}, want=404)
req("POST", "/api/v1/checks/c2/utm-1/utm/ack", {"note": "via the check"}, want=200)
req("POST", "/api/v1/checks/c2/utm-1/utm/unack", {}, want=200)
req("POST", "/api/v1/checks/c2/pc-1/defender/ack", {}, want=404)
req("POST", "/api/v1/alerts", {"customer": "c2", "summary": "phoned in", "request_id": "inq-1"}, want=201)
req("POST", "/api/v1/alerts", {"customer": "c2", "summary": "phoned in", "request_id": "inq-1"}, want=200)
req("POST", "/api/v1/alerts", {"customer": "nope", "summary": "x"}, want=404)

# ---- downtimes ----
s, j, _ = req("POST", "/api/v1/downtimes",
              {"customer": "c2", "asset": "utm-1", "end": time.time() + 3600, "comment": "firmware"},
              want=201)
req("POST", "/api/v1/downtimes",
    {"customer": "c2", "start": time.time() + 60, "end": time.time() + 30, "comment": "x"}, want=422)
req("GET", "/api/v1/downtimes?customer=c2", want=200)
req("DELETE", "/api/v1/downtimes/" + j["downtime"], want=200)
req("DELETE", "/api/v1/downtimes/" + j["downtime"], want=404)

# ---- overview ----
s, j, h = req("GET", "/api/v1/overview", want=200)
s, _, h2 = req("GET", "/api/v1/overview", headers={"If-None-Match": h.get("etag", "")})
if s == 200:  # a check changed in between: once more with the new tag
    s, _, _ = req("GET", "/api/v1/overview", headers={"If-None-Match": h2.get("etag", "")})
if s != 304:
    problem("If-None-Match: %d, want 304" % s)

# ---- every event type, then a gap ----
seen = {}
for e in sse("?types=state,alert,command,downtime&after=%s-0" % epoch) + \
        sse("?after=1-1", until=lambda b: b"event: gap" in b):
    name = e["event"]
    sch = (SPEC["paths"]["/api/v1/events"]["get"]["responses"]["200"]["x-sse-events"]).get(name)
    if sch is None:
        problem("event %r is not in x-sse-events" % name)
        continue
    if name != "gap" and not re.match(r"^\d+-\d+\.\d+(\.\d+\..+)?$", e.get("id", "")):
        problem("event %s: id %r is not <epoch>-<seq>" % (name, e.get("id")))
    seen[name] = seen.get(name, 0) + 1
    errs = []
    try:
        check(sch, json.loads(e.get("data", "")), "event " + name, errs)
    except ValueError:
        errs.append("event %s: data is not JSON" % name)
    for x in errs[:5]:
        problem(x)
for name in ("state", "alert", "command", "downtime", "gap"):
    if name not in seen:
        problem("no %s event seen to check" % name)
req("GET", "/api/v1/events?types=bogus", want=400)

# ---- users, sessions, tokens ----
PW = "a long enough password"
req("POST", "/api/v1/users", {"name": "doc-admin", "role": "admin", "password": PW}, want=201)
req("POST", "/api/v1/users", {"name": "doc-op", "role": "operator", "centers": ["cc-east"], "password": PW}, want=201)
req("POST", "/api/v1/users", {"name": "doc-op", "role": "operator", "centers": ["cc-east"], "password": PW}, want=409)
req("POST", "/api/v1/users", {"name": "x", "role": "viewer", "customer": "c1", "password": "short"}, want=422)
req("POST", "/api/v1/users", {"name": "x", "role": "king", "password": PW}, want=400)
req("GET", "/api/v1/users", want=200)
req("PATCH", "/api/v1/users/doc-op", {"role": "viewer", "customer": "c1"}, want=204)
req("PATCH", "/api/v1/users/doc-op", {"disabled": "yes"}, want=400)
req("PATCH", "/api/v1/users/nobody", {"disabled": True}, want=404)
req("POST", "/api/v1/users/doc-op/password", {"password": PW + "!"}, want=204)
req("POST", "/api/v1/users/nobody/password", {"password": PW}, want=404)
st, j, hd = req("POST", "/api/v1/login", {"user": "doc-admin", "password": PW}, tcp=PORT, want=200)
cookie = (hd.get("set-cookie") or "").split(";")[0]
csrf = (j or {}).get("csrf_token", "")
sess = {"Cookie": cookie, "X-CSRF-Token": csrf}
req("POST", "/api/v1/login", {"user": "doc-admin", "password": "wrong"}, tcp=PORT, want=401)
req("POST", "/api/v1/login", {"user": "doc-admin"}, tcp=PORT, want=400)
req("GET", "/api/v1/me", tcp=PORT, headers={"Cookie": cookie}, want=200)
st, j, hd = req("POST", "/api/v1/tokens", {"label": "doc"}, tcp=PORT, headers=sess, want=201)
tok = (j or {}).get("token", "")
tid = (j or {}).get("id", "")
req("POST", "/api/v1/tokens", {"label": "doc"}, tcp=PORT, headers={"Cookie": cookie}, want=403)
req("GET", "/api/v1/tokens", tcp=PORT, headers={"Authorization": "Bearer " + tok}, want=200)
req("GET", "/api/v1/tokens?user=doc-op", want=200)
req("DELETE", "/api/v1/tokens/" + tid, tcp=PORT, headers=sess, want=204)
req("GET", "/api/v1/me", tcp=PORT, headers={"Authorization": "Bearer " + tok}, want=401)
req("POST", "/api/v1/logout", tcp=PORT, headers=sess, want=204)
req("POST", "/api/v1/logout", want=400)
req("DELETE", "/api/v1/users/doc-op", want=204)
req("DELETE", "/api/v1/users/doc-op", want=404)

# ---- every documented operation was reached ----
for m, p, rx, op in OPS:
    if SINCE in str(op.get("description", "")):
        continue
    if (m, p) not in reached:
        problem("%s %s: no request here got a 2xx/3xx answer (add one)" % (m, p))

print("checked %d operations, events %s" % (len(reached), seen), file=sys.stderr)
if problems:
    sys.exit("%d problems" % len(problems))
PY
echo "PASS $IT_NAME"
