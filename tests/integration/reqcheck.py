# reqcheck: answers questions about the requests httprecorder.py logged.
#   python3 reqcheck.py LOG count PATH-PREFIX
#   python3 reqcheck.py LOG last PATH-PREFIX FIELD   (header:<name>, form:<name>,
#                                                     json:<dotted.path>, body, status)
#   python3 reqcheck.py LOG utf16 PATH-PREFIX form:<name>|json:<name>  (UTF-16 units)
import json
import sys
import urllib.parse

log, what, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
recs = []
try:
    with open(log) as f:
        recs = [json.loads(l) for l in f if l.strip()]
except FileNotFoundError:
    pass
recs = [r for r in recs if r["path"].startswith(prefix)]
if what == "count":
    print(len(recs))
    sys.exit(0)
if not recs:
    sys.exit(1)
r = recs[-1] if what in ("last", "utf16") else recs[int(what)]


def field(r, spec):
    if spec == "body":
        return r["body"]
    if spec == "status":
        return str(r["status"])
    kind, _, name = spec.partition(":")
    if kind == "header":
        return r["headers"].get(name.lower(), "")
    if kind == "form":
        return urllib.parse.parse_qs(r["body"]).get(name, [""])[0]
    if kind == "json":
        v = json.loads(r["body"])
        for k in name.split("."):
            v = v[int(k)] if isinstance(v, list) else v[k]
        return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    raise SystemExit("bad field " + spec)


v = field(r, sys.argv[4])
if what == "utf16":
    print(len(v.encode("utf-16-le")) // 2)
else:
    print(v)
