#!/usr/bin/env bash
#
# t_pyretry — the Python client's retries behind a balancer (issue 19,
# part "deploy"), against a fake server that answers as HAProxy does when
# the server behind it died: no answer at all (the connection closed after
# the request reached it), or 502/503/504 without the server's JSON body.
#
# Proves: a POST carries an Idempotency-Key of 32 hex digits and sends the
# same key on each retry — after a connection closed without an answer
# and after a 502 — until the 201; a GET is retried on a 503 and on a
# closed connection as well (a read changes nothing; the remote mount
# retries both); a cut answer (headers and part of the body, then the
# connection closed) is not sent again and fails with ConnectionFailed;
# more than three 504s in a row fail with the 504 (ServerError), after
# four tries.

. "$(dirname "$0")/lib.sh"
sv_need python3

PY=/usr/bin/python3
PYTHONPATH="$SV_REPO/python" "$PY" - >"$T/out" 2>&1 <<'PYEOF'
import http.server, json, re, socketserver, sys, threading
import sievefs

tries = {}          # path -> [(method, Idempotency-Key)]
plan = {            # path -> what each try gets, in order
    "/v1/datasets": ["close", 502, 201],
    "/v1/whoami": [503, "close", 200],
    "/v1/nodes/7": ["cut", 200],
    "/v1/nodes/8": [504, 504, 504, 504, 200],
}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def go(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n: self.rfile.read(n)
        path = self.path.split("?")[0]
        t = tries.setdefault(path, [])
        t.append((self.command, self.headers.get("Idempotency-Key")))
        steps = plan.get(path, [404])
        what = steps[min(len(t), len(steps)) - 1]
        if what == "close":          # the server died with the request
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if what == "cut":            # an answer that began, then stopped
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"ino": 7, ')
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if what in (502, 503, 504):  # HAProxy's own page, no JSON error
            body = b"<html><body><h1>%d</h1>No server is available.</body></html>\n" % what
            ctype = "text/html"
        else:
            body = json.dumps({"user": "alice"} if path == "/v1/whoami" else
                              {"id": 1, "name": "d", "live_root": 2,
                               "ino": 8}).encode()
            ctype = "application/json"
        self.send_response(what)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_HEAD = go

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

srv = S(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
c = sievefs.Client("http://127.0.0.1:%d" % srv.server_address[1], token="t0k3n")
bad = []
def check(ok, what):
    print(("ok - " if ok else "not ok - ") + what)
    if not ok: bad.append(what)

d = c.create_dataset("d")
t = tries["/v1/datasets"]
check(d["id"] == 1, "create_dataset succeeds after a closed connection and a 502")
check([m for m, _ in t] == ["POST"] * 3, "three tries of the POST (%s)" % t)
keys = {k for _, k in t}
check(len(keys) == 1 and re.fullmatch(r"[0-9a-f]{32}", t[0][1] or ""),
      "one Idempotency-Key of 32 hex digits on every try (%s)" % keys)

check(c.whoami() == "alice", "whoami (GET) succeeds after a 503 and a closed connection")
t = tries["/v1/whoami"]
check(len(t) == 3 and all(k is None for _, k in t), "three tries of the GET, none keyed (%s)" % t)

try:
    c._json("GET", "/v1/nodes/7")
    check(False, "a cut answer raised nothing")
except sievefs.ConnectionFailed as e:
    check(True, "a cut answer: ConnectionFailed (%s)" % e)
check(len(tries["/v1/nodes/7"]) == 1, "a cut answer is not sent again (%d tries)" % len(tries["/v1/nodes/7"]))

try:
    c._json("GET", "/v1/nodes/8")
    check(False, "four 504s raised nothing")
except sievefs.ServerError as e:
    check(e.status == 504, "four 504s in a row: the 504 (%s)" % e)
check(len(tries["/v1/nodes/8"]) == 4, "four tries, no more (%d)" % len(tries["/v1/nodes/8"]))
srv.shutdown()
sys.exit(1 if bad else 0)
PYEOF
rc=$?
while IFS= read -r line; do
	case $line in
	"ok - "*) pass "${line#ok - }" ;;
	"not ok - "*) fail "${line#not ok - }" ;;
	*) note "$line" ;;
	esac
done <"$T/out"
((rc == 0)) || fail "the Python script exited $rc"
