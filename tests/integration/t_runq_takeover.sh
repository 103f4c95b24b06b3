#!/usr/bin/env bash
#
# t_runq_takeover — two `sievefs serve` processes on one PostgreSQL 15
# catalog (tests/scale/pg.sh through server_lib.sh's SV_CATALOG=pg), each
# with its own STORE directory (its staging and local blobs), the run
# queue and the servers' leases in the catalog (store/queue.c,
# store/servers.c): `kill -9` of the server running a sampling run, and
# the other one finishes it, once.
#
# Proves: a sample request sent to either server is claimed by one worker
# (runs.srv names a registered server); while it runs, `sample` read from
# both servers agrees on status, run, request and strategy; after `kill -9`
# of the server holding it (found in the catalog: runs.srv → servers.pid),
# the survivor takes the run over once its lease (SIEVEFS_LEASE_MS=2000)
# has expired and finishes it: status done, runs.srv the survivor's, every
# candidate scored, one "sample: run 1 done" in the dataset's log; the
# dead server's row is swept; a server started again on the dead one's
# STORE reads `sample` byte for byte as the survivor does, with the
# `kept:` and `rejected:` lines of requests the survivor answered.

SV_CATALOG=pg
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl psql python3

export SIEVEFS_LEASE_MS=2000
# Runs wait at each progress step while this file exists (core/runs.c,
# test_hold): the run is surely still running when the test reads it from
# both servers and kills the one running it, however fast the machine.
export SIEVEFS_TEST_RUN_HOLD=$T/hold
N=${RUNQ_N:-3000}       # samples (the hold file keeps the run going)
DIM=${RUNQ_DIM:-256}

psql -qtAX -v ON_ERROR_STOP=1 -d "$SV_PGBASE/postgres" <<<"CREATE DATABASE rq
  TEMPLATE template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C';" ||
	die "cannot create the catalog's database"
CAT=$SV_PGBASE/rq
cat_sql() { psql -qtAX -v ON_ERROR_STOP=1 -d "$CAT" <<<"$1"; }

mkdir -p "$T/A" "$T/B"
(umask 077 && "$SIEVEFS" token create --store "$T/A" --catalog "$CAT" alice \
	>"$T/alice.tok" 2>"$T/token.err") || { sv_show "$T/token.err"; die "token create failed"; }
TOK=$(cat "$T/alice.tok")

PORT_A=$(free_port) && start_server "$PORT_A" "$T/A" --catalog "$CAT" ||
	die "server A did not come up"
PID_A=$SERVER_PID
PORT_B=$(free_port) && start_server "$PORT_B" "$T/B" --catalog "$CAT" ||
	die "server B did not come up"
PID_B=$SERVER_PID
[[ $(cat_sql "SELECT count(*) FROM servers WHERE pid IN ($PID_A, $PID_B)") == 2 ]] &&
	pass "both servers registered in the catalog's servers" ||
	fail "servers: $(cat_sql 'SELECT id, pid, lease FROM servers')"

# A dataset of N samples (metadata-only commits: no bytes needed for a
# run over an uploaded embedding) and an embedding CSV, through server A.
DS=$(TOK=$TOK URL=http://127.0.0.1:$PORT_A N=$N DIM=$DIM python3 - <<'EOF'
import http.client, json, os, random, hashlib, urllib.parse
u = urllib.parse.urlparse(os.environ["URL"])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
H = {"Authorization": "Bearer " + os.environ["TOK"]}
def req(m, p, body=None, ctype="application/json"):
    h = dict(H)
    if body is not None:
        h["Content-Type"] = ctype
        if isinstance(body, str):
            body = body.encode()
    c.request(m, p, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit("%s %s: %d %s" % (m, p, r.status, data[:300]))
    return json.loads(data) if data else None
n, dim = int(os.environ["N"]), int(os.environ["DIM"])
d = req("POST", "/v1/datasets", json.dumps({"name": "rq"}))
root = d["live_root"]
for i in range(n):
    name = "s%05d.bin" % i
    node = req("POST", "/v1/nodes/%d/children" % root, json.dumps(
        {"name": name, "kind": 2, "mode": 420, "uid": 0, "gid": 0,
         "mtime_ns": "0"}))
    sha = hashlib.sha256(name.encode()).hexdigest()
    req("PUT", "/v1/nodes/%d/content" % node["ino"], json.dumps(
        {"sha256": sha, "size": 1, "mtime_ns": "0", "bytes": "kept"}))
rnd = random.Random(7)
rows = ["filenames," + ",".join("embedding_%d" % j for j in range(dim)) + ",labels"]
for i in range(n):
    rows.append("s%05d.bin," % i +
                ",".join("%.4f" % rnd.random() for _ in range(dim)) + ",0")
req("PUT", "/v1/datasets/%d/embeddings?name=e" % d["id"],
    "\r\n".join(rows) + "\r\n", "text/csv")
print(d["id"])
EOF
) || die "populating the dataset through server A failed"
pass "dataset $DS: $N samples and a ${DIM}-d embedding through server A"

sample_of() {   # PORT → the `sample` text
	curl -sf -H "Authorization: Bearer $TOK" "http://127.0.0.1:$1/v1/datasets/$DS/sample"
}
touch "$T/hold"
code=$(curl -s -o "$T/post.out" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
	-H 'Content-Type: text/plain' --data-binary "coreset n=$N embedding=e seed=1" \
	"http://127.0.0.1:$PORT_A/v1/datasets/$DS/sample")
[[ $code == 202 ]] && pass "sample request accepted by server A" ||
	{ sv_show "$T/post.out"; die "sample request: HTTP $code"; }

# the server whose worker runs it, from the catalog
victim=
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
	victim=$(cat_sql "SELECT s.pid FROM runs r JOIN servers s ON s.id=r.srv
		WHERE r.dataset=$DS AND r.status=1 AND r.phase='sampling'")
	[[ -n $victim ]] && break
	st=$(cat_sql "SELECT status FROM runs WHERE dataset=$DS")
	[[ $st == 2 ]] && die "the run ended before it could be interrupted (SIEVEFS_TEST_RUN_HOLD did not hold it)"
	sleep 0.1
done
[[ -n $victim ]] || die "no server claimed the run in 60 s"
if [[ $victim == "$PID_A" ]]; then
	survivor=$PORT_B dead_store=$T/A
else
	survivor=$PORT_A dead_store=$T/B
fi
[[ $victim == "$PID_A" || $victim == "$PID_B" ]] &&
	pass "run claimed by one server (pid $victim), phase sampling" ||
	fail "runs.srv names pid $victim, neither server"

# while it runs, both servers read the same state
sample_of "$PORT_A" >"$T/run.A" && sample_of "$PORT_B" >"$T/run.B" ||
	fail "sample not readable from both servers"
for k in status run request strategy; do
	a=$(grep "^$k:" "$T/run.A") b=$(grep "^$k:" "$T/run.B")
	[[ -n $a && $a == "$b" ]] || fail "while running, '$k' differs: A '$a', B '$b'"
done
grep -q '^status: running$' "$T/run.A" && pass "while running, A and B agree on status, run, request, strategy" ||
	{ sv_show "$T/run.A"; fail "server A does not say running"; }

kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
note "killed the server running the run (pid $victim) with SIGKILL"
rm -f "$T/hold"           # the survivor's takeover runs to its end

deadline=$((SECONDS + 180))
while ((SECONDS < deadline)); do
	sample_of "$survivor" >"$T/done.S" 2>/dev/null
	grep -q '^status: \(done\|failed\|cancelled\)$' "$T/done.S" && break
	sleep 0.5
done
grep -q '^status: done$' "$T/done.S" &&
	pass "the survivor finished the run after the takeover" ||
	{ sv_show "$T/done.S"; fail "the run did not end done on the survivor"; }
spid=$([[ $survivor == "$PORT_A" ]] && echo "$PID_A" || echo "$PID_B")
[[ $(cat_sql "SELECT s.pid FROM runs r JOIN servers s ON s.id=r.srv
	WHERE r.dataset=$DS AND r.status=2") == "$spid" ]] &&
	pass "runs.srv names the survivor" ||
	fail "runs: $(cat_sql "SELECT id, status, srv, lease FROM runs WHERE dataset=$DS")"
[[ $(cat_sql "SELECT count(*) FROM scores s JOIN runs r ON r.id=s.run
	WHERE r.dataset=$DS") == "$N" ]] &&
	pass "every one of the $N candidates scored once" ||
	fail "scores: $(cat_sql "SELECT count(*) FROM scores")"
ndone=$(cat_sql "SELECT count(*) FROM events WHERE dataset=$DS AND
	msg LIKE 'sample: run 1 done%'")
[[ $ndone == 1 ]] && pass "one 'sample: run 1 done' in the log" ||
	fail "'run 1 done' logged $ndone times"
grep -q "^progress: $N/$N$" "$T/done.S" && grep -q "^candidates: $N$" "$T/done.S" &&
	pass "sample shows the whole run's progress and candidates" ||
	{ sv_show "$T/done.S"; fail "progress or candidates missing"; }
[[ $(cat_sql "SELECT count(*) FROM servers WHERE pid=$victim") == 0 ]] &&
	pass "the dead server's row was swept" ||
	fail "servers: $(cat_sql 'SELECT id, pid, lease FROM servers')"

# a server started again on the dead one's STORE reads the same state,
# also what `sample` says besides the run: a `keep` and a rejected
# request sent to the survivor (the catalog's run_notes)
post_sample() {   # PORT LINE → HTTP code
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" \
		-H 'Content-Type: text/plain' --data-binary "$2" \
		"http://127.0.0.1:$1/v1/datasets/$DS/sample"
}
[[ $(post_sample "$survivor" "keep 10") == 202 ]] || fail "keep 10 refused"
[[ $(post_sample "$survivor" "nosuchstrategy") == 400 ]] || fail "a bad request was not refused"
PORT_C=$(free_port) && start_server "$PORT_C" "$dead_store" --catalog "$CAT" ||
	die "restart on $dead_store failed"
sample_of "$PORT_C" >"$T/done.C"
sample_of "$survivor" >"$T/done.S"
grep -q '^kept: top 10 of run 1$' "$T/done.C" && grep -q '^rejected: unknown strategy' "$T/done.C" &&
	pass "the restarted server says kept: and rejected: as sent to the survivor" ||
	{ sv_show "$T/done.C"; fail "kept: or rejected: missing on the restarted server"; }
cmp -s "$T/done.C" "$T/done.S" &&
	pass "sample reads byte for byte the same from the restarted server and the survivor" ||
	{ diff "$T/done.S" "$T/done.C" | sed 's/^/    # /'; fail "sample differs between servers"; }
