#!/bin/sh
# tests/lint/openapi.sh: doc/openapi.yaml checked against the code (make
# lint, part of make check and so of CI).
#
#  1. The document parses (python3-yaml) into JSON's data model and is
#     structurally OpenAPI 3.0/3.1: openapi, info (title, version equal to
#     configure's VERSION), paths; every operation has an operationId
#     (unique), responses with string status keys and at least one 2xx or
#     3xx; path parameters match the path's template; every $ref is local
#     and resolves; tags and security schemes used are declared; every
#     JSON request body is an object with additionalProperties: false (the
#     server refuses unknown fields); a form request body is an object.
#  2. Every route of src/http/route.c's table (method + pattern) is in the
#     document with the same access rule (x-access), query parameters,
#     body limit (x-max-body; none when the route takes no body), public
#     routes with `security: []`, text/event-stream exactly for
#     streaming routes (ROUTE_STREAM), and a form request body
#     (application/x-www-form-urlencoded) exactly for ROUTE_FORM routes;
#     and the document has no operation the table lacks, except GET
#     /metrics (served by http.c before the table, checked to be still
#     there) and routes marked "(since 0.2)" in their description
#     (being built; they get the same checks once they are in the table).
#  3. Every error the server can answer (reply_error/req_finish_error
#     calls in src/http, and the service layer's errors through app_status
#     and app_code) has its code in the document's response for that
#     status.
# Prints every finding and exits 1 if there is any.
set -u
cd "$(dirname "$0")/../.." || exit 1

if ! command -v python3 >/dev/null 2>&1; then
	echo "openapi: python3 not found (Debian package: python3)"
	exit 1
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "openapi: python3 cannot import yaml (Debian package: python3-yaml)"
	exit 1
fi

exec python3 - doc/openapi.yaml src/http configure <<'PY'
import glob, json, os, re, sys

FORM = "application/x-www-form-urlencoded"

import yaml

DOC, HTTP, CONFIGURE = sys.argv[1:4]
ROUTES_C = os.path.join(HTTP, "route.c")
HTTP_C = os.path.join(HTTP, "http.c")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SINCE = "(since 0.2)"
# the response component that describes each error status
ERROR_RESPONSES = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 413: "PayloadTooLarge",
    415: "UnsupportedMediaType", 422: "UnprocessableEntity", 429: "TooManyRequests",
    500: "InternalError", 503: "ServiceUnavailable",
}

errors = []


def fail(msg):
    errors.append(msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


try:
    doc = yaml.safe_load(read(DOC))
except (OSError, yaml.YAMLError) as e:
    print("openapi: %s: %s" % (DOC, e))
    sys.exit(1)

# ---- 1. structure ----

if not isinstance(doc, dict):
    print("openapi: %s: not a mapping at the top" % DOC)
    sys.exit(1)
try:
    json.dumps(doc)
except (TypeError, ValueError) as e:
    fail("%s: not in JSON's data model (%s): quote dates and times" % (DOC, e))

if not re.match(r"^3\.[01]\.\d+$", str(doc.get("openapi", ""))):
    fail("%s: `openapi` must be 3.0.x or 3.1.x, not %r" % (DOC, doc.get("openapi")))
info = doc.get("info")
if not isinstance(info, dict) or not isinstance(info.get("title"), str) or \
        not isinstance(info.get("version"), str):
    fail("%s: `info` needs a title and a version (strings)" % DOC)
    info = {}
m = re.search(r"^VERSION=(\S+)", read(CONFIGURE), re.M)
if not m:
    fail("%s: no VERSION= line (the check of info.version is out of date)" % CONFIGURE)
elif info.get("version") != m.group(1):
    fail("%s: info.version is %r, configure says %r" % (DOC, info.get("version"), m.group(1)))
paths = doc.get("paths")
if not isinstance(paths, dict) or not paths:
    print("openapi: %s: no `paths`" % DOC)
    sys.exit(1)
components = doc.get("components") or {}


def pointer(ref):
    """The object a local $ref names, or None."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def walk_refs(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                if not isinstance(v, str) or not v.startswith("#/"):
                    fail("%s: $ref %r is not local ('#/...')" % (where, v))
                elif pointer(v) is None:
                    fail("%s: $ref %r does not resolve" % (where, v))
            else:
                walk_refs(v, "%s/%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, "%s/%d" % (where, i))


walk_refs(doc, "#")


def deref(node, depth=0):
    while isinstance(node, dict) and "$ref" in node and depth < 20:
        node = pointer(node["$ref"])
        depth += 1
    return node


tags = {t.get("name") for t in doc.get("tags") or [] if isinstance(t, dict)}
schemes = set((components.get("securitySchemes") or {}).keys())


def check_security(sec, where):
    if not isinstance(sec, list):
        fail("%s: security must be a list" % where)
        return
    for req in sec:
        for name in (req or {}):
            if name not in schemes:
                fail("%s: security scheme %r is not in components.securitySchemes" % (where, name))


if "security" in doc:
    check_security(doc["security"], "security")

ops = {}  # (method, path) -> operation
op_ids = {}
for path, item in paths.items():
    if not isinstance(path, str) or not path.startswith("/"):
        fail("paths: %r does not start with '/'" % (path,))
        continue
    if not isinstance(item, dict):
        fail("%s: not a mapping" % path)
        continue
    template = re.findall(r"\{([^}]+)\}", path)
    for key in item:
        if key not in METHODS and key not in ("summary", "description", "servers",
                                              "parameters", "$ref") and not key.startswith("x-"):
            fail("%s: unknown key %r (a method must be lowercase)" % (path, key))
    for method in METHODS:
        if method not in item:
            continue
        op = item[method]
        where = "%s %s" % (method.upper(), path)
        if not isinstance(op, dict):
            fail("%s: not a mapping" % where)
            continue
        ops[(method, path)] = op
        oid = op.get("operationId")
        if not isinstance(oid, str) or not oid:
            fail("%s: no operationId" % where)
        elif oid in op_ids:
            fail("%s: operationId %r is also %s's" % (where, oid, op_ids[oid]))
        else:
            op_ids[oid] = where
        for t in op.get("tags") or []:
            if t not in tags:
                fail("%s: tag %r is not declared in `tags`" % (where, t))
        if "security" in op:
            check_security(op["security"], where)
        # responses
        resp = op.get("responses")
        if not isinstance(resp, dict) or not resp:
            fail("%s: no responses" % where)
            resp = {}
        ok = False
        for status, r in resp.items():
            if not isinstance(status, str):
                fail("%s: response key %r must be a string (quote it: '%s')" % (where, status, status))
                status = str(status)
            if not re.match(r"^([1-5][0-9][0-9]|[1-5]XX|default)$", status):
                fail("%s: response key %r is not a status" % (where, status))
                continue
            if status[0] in "23":
                ok = True
            if not isinstance(r, dict):
                fail("%s %s: not a mapping" % (where, status))
                continue
            if "$ref" in r:
                name = r["$ref"].rsplit("/", 1)[-1]
                want = ERROR_RESPONSES.get(int(status)) if status.isdigit() else None
                if r["$ref"].startswith("#/components/responses/") and want and name != want:
                    fail("%s %s: refers to %s, the %s response is %s" % (where, status, name,
                                                                      status, want))
            elif not isinstance(r.get("description"), str):
                fail("%s %s: a response needs a description" % (where, status))
        if not ok:
            fail("%s: no 2xx or 3xx response" % where)
        # parameters (the path item's and the operation's)
        seen = {}
        for p in list(item.get("parameters") or []) + list(op.get("parameters") or []):
            p = deref(p)
            if not isinstance(p, dict) or "name" not in p or \
                    p.get("in") not in ("query", "header", "path", "cookie"):
                fail("%s: a parameter without name or a valid `in`: %r" % (where, p))
                continue
            key = (p["name"] if p["in"] != "header" else p["name"].lower(), p["in"])
            if key in seen:
                fail("%s: parameter %s (%s) twice" % (where, p["name"], p["in"]))
            seen[key] = p
            if p["in"] == "path" and p.get("required") is not True:
                fail("%s: path parameter %s must be required: true" % (where, p["name"]))
        declared = sorted(n for n, i in seen if i == "path")
        if declared != sorted(template):
            fail("%s: path parameters %s, the path has %s" % (where, declared, sorted(template)))
        op["_query"] = sorted(n for n, i in seen if i == "query")
        # request body: JSON objects with no unknown member
        rb = deref(op.get("requestBody"))
        if rb is not None:
            content = (rb or {}).get("content") or {}
            if "application/json" not in content:
                fail("%s: the request body must be application/json" % where)
            for mt, media in content.items():
                sch = deref((media or {}).get("schema"))
                if mt == FORM and isinstance(sch, dict) and sch.get("type") == "object":
                    continue  # a gateway's form: its parameters are the gateway's
                if not isinstance(sch, dict) or sch.get("type") != "object" or \
                        sch.get("additionalProperties") is not False:
                    fail("%s: request body %s: an object schema with additionalProperties: "
                         "false (the server refuses unknown fields)" % (where, mt))

# ---- 2. the route table ----

src = read(ROUTES_C)
m = re.search(r"http_routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
if not m:
    print("openapi: %s: no `http_routes[] = { ... };` table "
          "(tests/lint/openapi.sh is out of date)" % ROUTES_C)
    sys.exit(1)
table = m.group(1)
macros = {}
for name, body in re.findall(r'^#define\s+(\w+)\s+((?:"[^"]*"\s*,?\s*)+)$', src, re.M):
    macros[name] = re.findall(r'"([^"]*)"', body)
access_names = dict(re.findall(r'case\s+(ACC_\w+):\s*return\s+"(\w+)";', src))
entry_re = re.compile(
    r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*(ACC_\w+),\s*"([^"]*)",\s*(\w+),\s*(\d+),\s*'
    r'\{([^}]*)\},\s*(0|ROUTE_\w+(?:\s*\|\s*ROUTE_\w+)*)\s*\}')
entries = entry_re.findall(table)
starts = re.findall(r'\{\s*"[A-Z]+",\s*"/', table)
if not entries or len(entries) != len(starts):
    print("openapi: %s: %d routes in the table, %d understood: its format changed "
          "(update tests/lint/openapi.sh)" % (ROUTES_C, len(starts), len(entries)))
    sys.exit(1)

routes = {}
for method, pattern, acc, name, fn, max_body, query, flags in entries:
    flags = set(re.findall(r"ROUTE_\w+", flags))
    unknown = flags - {"ROUTE_STREAM", "ROUTE_FORM"}
    if unknown:
        fail("%s: %s %s: unknown flags %s (update tests/lint/openapi.sh)" %
             (ROUTES_C, method, pattern, sorted(unknown)))
    q = []
    for tok in re.findall(r'"[^"]*"|\w+', query):
        if tok.startswith('"'):
            q.append(tok[1:-1])
        elif tok == "NULL":
            break
        elif tok in macros:
            q += macros[tok]
        else:
            fail("%s: %s %s: query list names %s, not a macro of strings" %
                 (ROUTES_C, method, pattern, tok))
    routes[(method.lower(), pattern)] = {
        "access": access_names.get(acc), "acc": acc, "max_body": int(max_body),
        "query": sorted(q), "stream": "ROUTE_STREAM" in flags, "form": "ROUTE_FORM" in flags}

for (method, pattern), rt in sorted(routes.items(), key=lambda x: x[0][1]):
    where = "%s %s" % (method.upper(), pattern)
    op = ops.get((method, pattern))
    if op is None:
        fail("%s is in %s but not in %s" % (where, ROUTES_C, DOC))
        continue
    if rt["access"] is None:
        fail("%s: %s has no name in access_name()" % (where, rt["acc"]))
    elif op.get("x-access") != rt["access"]:
        fail("%s: x-access is %r, route.c says %r" % (where, op.get("x-access"), rt["access"]))
    if op["_query"] != rt["query"]:
        fail("%s: query parameters %s, route.c accepts %s" % (where, op["_query"], rt["query"]))
    has_body = "requestBody" in op
    if rt["max_body"]:
        if not has_body:
            fail("%s: takes a body (up to %d bytes) but has no requestBody" % (where, rt["max_body"]))
        if op.get("x-max-body") != rt["max_body"]:
            fail("%s: x-max-body is %r, route.c says %d" % (where, op.get("x-max-body"),
                                                            rt["max_body"]))
    elif has_body or "x-max-body" in op:
        fail("%s: route.c takes no body, the document has one" % where)
    types = (deref(op.get("requestBody")) or {}).get("content") or {}
    if rt["form"] != (FORM in types):
        fail("%s: requestBody %s %s, route.c's ROUTE_FORM flag is %s" %
             (where, "lists" if FORM in types else "lacks", FORM,
              "set" if rt["form"] else "not set"))
    public = rt["access"] == "public"
    if public and op.get("security") != []:
        fail("%s: a public route needs `security: []`" % where)
    if not public and op.get("security") == []:
        fail("%s: `security: []` on a route that needs a login" % where)
    ok = deref((op.get("responses") or {}).get("200")) or {}
    sse = "text/event-stream" in (ok.get("content") or {})
    if sse != rt["stream"]:
        fail("%s: text/event-stream %s, route.c's stream flag is %d" %
             ("documented" if sse else "not documented", where, rt["stream"]))

metrics_served = re.search(r'strcmp\(url,\s*"/metrics"\)', read(HTTP_C)) is not None
for (method, path), op in sorted(ops.items(), key=lambda x: x[0][1]):
    if (method, path) in routes:
        continue
    where = "%s %s" % (method.upper(), path)
    if (method, path) == ("get", "/metrics"):
        if not metrics_served:
            fail("%s: documented, but %s no longer serves it" % (where, HTTP_C))
        continue
    if SINCE in str(op.get("description", "")):
        continue
    fail("%s is in %s but not in %s's table (a route being built says %r in its "
         "description)" % (where, DOC, ROUTES_C, SINCE))

# ---- 3. error codes ----

answered = set()
for path in sorted(glob.glob(os.path.join(HTTP, "*.c"))):
    text = read(path)
    calls = [c for c in re.finditer(r"\b(reply_error|req_finish_error)\s*\(", text)
             if not re.match(r"\s*struct\b", text[c.end():])]
    for c in calls:
        m = re.match(r'\s*\w+\s*,\s*(\d{3})\s*,\s*"([a-z_]+)"', text[c.end():])
        if not m and re.match(r"\s*\w+\s*,\s*(app|auth)_status\(\w+\)\s*,\s*\1_code\(\w+\)",
                              text[c.end():]):
            continue  # the service layer's and auth's errors: their tables below
        if not m:
            line = text.count("\n", 0, c.start()) + 1
            fail("%s:%d: %s(...) without a literal status and code "
                 "(tests/lint/openapi.sh cannot check it)" % (path, line, c.group(1)))
            continue
        answered.add((int(m.group(1)), m.group(2)))


def switch(text, fn):
    m = re.search(fn + r"\s*\(int \w+\)\s*\{(.*?)\n\}", text, re.S)
    if not m:
        return None
    body = m.group(1)
    cases = dict(re.findall(r'case\s+((?:APP|AUTH)_\w+):\s*return\s+("?\w+"?);', body))
    d = re.search(r'default:\s*return\s+("?\w+"?);', body)
    return cases, d.group(1) if d else None


status_of = switch(src, r"unsigned\s+app_status")
code_of = switch(read(HTTP_C), r"static\s+const\s+char\s+\*app_code")
if not status_of or not code_of:
    fail("app_status (route.c) or app_code (http.c) not found: tests/lint/openapi.sh is out of date")
else:
    for err, st in status_of[0].items():
        if err == "APP_OK":
            continue
        code = code_of[0].get(err, code_of[1])
        if code is None:
            fail("http.c: app_code has no code for %s" % err)
            continue
        answered.add((int(st), code.strip('"')))
    if status_of[1] and code_of[1]:
        answered.add((int(status_of[1]), code_of[1].strip('"')))
SESSION_C = os.path.join(HTTP, "session.c")
a_status = switch(read(SESSION_C), r"static\s+unsigned\s+auth_status")
a_code = switch(read(SESSION_C), r"static\s+const\s+char\s+\*auth_code")
if not a_status or not a_code:
    fail("auth_status/auth_code (session.c) not found: tests/lint/openapi.sh is out of date")
else:
    for err, st in a_status[0].items():
        if err == "AUTH_OK":
            continue
        code = a_code[0].get(err, a_code[1])
        answered.add((int(st), code.strip('"')))
    if a_status[1] and a_code[1]:
        answered.add((int(a_status[1]), a_code[1].strip('"')))
if len(answered) < 5:
    fail("only %d error codes found in %s: the extraction is out of date" % (len(answered), HTTP))


def codes(schema, depth=0):
    schema = deref(schema)
    out = set()
    if not isinstance(schema, dict) or depth > 10:
        return out
    for part in schema.get("allOf") or []:
        out |= codes(part, depth + 1)
    err = ((schema.get("properties") or {}).get("error")) or {}
    code = ((deref(err).get("properties") or {}).get("code")) or {}
    out |= set(deref(code).get("enum") or [])
    return out


resp_comp = components.get("responses") or {}
for status, code in sorted(answered):
    name = ERROR_RESPONSES.get(status)
    comp = resp_comp.get(name) if name else None
    if comp is None:
        fail("the server answers %d %s: the document has no components.responses.%s" %
             (status, code, name or "(for %d)" % status))
        continue
    schema = ((comp.get("content") or {}).get("application/json") or {}).get("schema")
    if code not in codes(schema):
        fail("the server answers %d %s: components.responses.%s does not list %r" %
             (status, code, name, code))

if errors:
    for e in errors:
        print("openapi: " + e)
    sys.exit(1)
print("openapi: ok (%d routes of route.c documented, %d operations, %d error codes)" %
      (len(routes), len(ops), len(answered)))
PY
