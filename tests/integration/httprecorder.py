# httprecorder: an HTTPS server that records every request (one JSON line
# each: method, path, headers, body) and answers from a plan - a file of
# status codes, one per line, used up in order (then 200).  It stands in
# for SMS gateways and chat webhooks in the notification tests.
#   python3 httprecorder.py PORT CERT KEY LOG PLAN
import base64
import http.server
import json
import os
import ssl
import sys

port, cert, key, log, plan = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


def next_status():
    try:
        with open(plan) as f:
            lines = [l for l in f.read().split("\n") if l.strip()]
    except FileNotFoundError:
        return 200
    if not lines:
        return 200
    with open(plan, "w") as f:
        f.write("\n".join(lines[1:]) + ("\n" if lines[1:] else ""))
    return int(lines[0])


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        status = next_status()
        rec = {"method": "POST", "path": self.path, "status": status,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace"),
               "body_b64": base64.b64encode(body).decode()}
        with open(log, "a") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        out = b'{"sid":"SM0001","status":"queued"}' if status < 300 else b'{"error":"planned"}'
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
