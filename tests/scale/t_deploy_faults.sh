#!/usr/bin/env bash
#
# t_deploy_faults — faults in a team deployment (tests/scale/deploy.sh:
# PostgreSQL 15, Ceph RGW, two `sievefs serve` on one catalog and one bucket,
# HAProxy in front; issue 19, "Faults, with nothing lost").
#
# Proves:
#   1. kill -9 of one server during a `cp -r` of 2,000 files through the
#      balancer: cp completes or reports errors (never hangs, never claims
#      a file it did not write); afterwards every file the dataset lists
#      has exactly its source's bytes (whole or absent); server 1 comes
#      back; a re-run of cp completes and diff -r finds the whole tree; no
#      file name is listed twice (no second node from a retried create).
#   2. PostgreSQL stopped for ~3 s and started again under a listing loop
#      (curl through HAProxy, every 0.1 s): before, 200s; in the gap, every
#      answer is a clean error (5xx with a JSON error body, within the
#      client's timeout), never a hang or a wrong 2xx/404; after, 200s
#      again with the same servers (their PIDs unchanged).
#   3. the object store stopped (radosgw only, under DEPLOY_BLOBS=s3, which
#      make test-deploy-faults sets): cached reads work, an uncached read
#      fails with EIO and the mount's log names the object store, an upload
#      fails cleanly; all works again when it returns, nothing restarted.
#
# Run: make test-deploy-faults (SIEVEFS=build-dev/sievefs). Needs haproxy,
# postgresql-15, fuse3, curl, python3.

. "$(dirname "$0")/../integration/lib.sh"
sv_need haproxy curl python3 diff cmp mountpoint fusermount3 timeout psql

D=$T/deploy
mkdir -p "$D"
# under root PostgreSQL runs as postgres (pg.sh), which must reach $D/pgd
[[ $(id -u) != 0 ]] || chmod 0711 "$T"
DEPLOY=$SV_REPO/tests/scale/deploy.sh
# stop the deployment before lib.sh's cleanup (which removes $T)
eval "sv_cleanup_plain() $(declare -f sv_cleanup | tail -n +2)"
sv_cleanup() {
	local rc=$?
	for mnt in "${SV_MOUNTS[@]}"; do
		sv_is_mounted "$mnt" && fusermount3 -uz -- "$mnt" 2>/dev/null
	done
	SIEVEFS=$SIEVEFS "$DEPLOY" stop "$D" >/dev/null 2>&1
	(exit "$rc")
	sv_cleanup_plain
}
URL=$(SIEVEFS=$SIEVEFS "$DEPLOY" start "$D" 2>"$T/deploy.err") ||
	{ sv_show "$T/deploy.err"; die "the deployment did not start"; }
# shellcheck disable=SC1091
. "$D/deploy.env"
note "deployment: $DEPLOY_N servers behind $URL, blobs $DEPLOY_BLOBS"

(umask 077 && "$SIEVEFS" token create --store "$DEPLOY_STORE_1" --catalog "$DEPLOY_CATALOG" alice \
	>"$T/alice.tok" 2>"$T/token.err") || { sv_show "$T/token.err"; die "token create failed"; }
TOK=$(cat "$T/alice.tok")

M=$T/mnt
sv_mount "$URL" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount through HAProxy failed"
ok "mkdir a dataset through the balancer" mkdir "$M/faults"

# ---- 1. kill -9 of one server during cp -r of 2,000 files
src=$T/src
sv_gen_tree "$src" 2000 20000 19 || die "could not generate files"
cp -r "$src/." "$M/faults/initial-tag/" 2>"$T/cp.err" &
cp_pid=$!
SV_BG+=("$cp_pid")
for ((i = 0; i < 600; i++)); do
	landed=$(find "$M/faults/initial-tag" -type f 2>/dev/null | wc -l)
	((landed >= 300)) && break
	sleep 0.1
done
note "$landed files listed when server 1 is killed"
"$DEPLOY" kill-server "$D" 1
note "killed server 1 (kill -9)"
if timeout 600 tail --pid="$cp_pid" -f /dev/null; then
	wait "$cp_pid"
	rc=$?
	if ((rc == 0)); then
		pass "cp -r completed through the surviving server"
	else
		grep -q . "$T/cp.err" && pass "cp -r exits $rc and reports errors ($(head -c 160 "$T/cp.err"))" ||
			fail "cp -r exits $rc without an error message"
	fi
else
	fail "cp -r still running 600 s after the kill"
	kill "$cp_pid" 2>/dev/null
fi
SIEVEFS=$SIEVEFS "$DEPLOY" start-server "$D" 1 || fail "server 1 did not come back"
sleep 1.5                                         # past meta_ttl
sv_files "$M/faults/initial-tag" >"$T/after.txt"
bad=0
while IFS= read -r f; do
	cmp -s "$src/$f" "$M/faults/initial-tag/$f" || { bad=$((bad + 1)); note "not whole: $f"; }
done <"$T/after.txt"
expect_eq "$bad" 0 "every listed file ($(wc -l <"$T/after.txt")) has its source's bytes"
ok "a re-run of cp -r completes" cp -r "$src/." "$M/faults/initial-tag/"
expect_tree_eq "$src" "$M/faults/initial-tag" "diff -r: the whole tree is there"
dups=$(psql -qtAX -d "$DEPLOY_CATALOG" -c "SELECT count(*) FROM (SELECT parent, name FROM nodes GROUP BY parent, name HAVING count(*) > 1) x")
expect_eq "$dups" 0 "no (folder, name) holds two nodes in the catalog"
sv_umount "$M"

# ---- 2. PostgreSQL restarted under a listing loop
DS=$(curl -s -H "Authorization: Bearer $TOK" "$URL/v1/datasets" |
	python3 -c 'import json,sys; print([d for d in json.load(sys.stdin)["datasets"] if d["name"]=="faults"][0]["live_root"])')
. "$D/deploy.env"
pids_before="$DEPLOY_PID_1 $DEPLOY_PID_2"
python3 - "$URL/v1/nodes/$DS/children?limit=50" "$TOK" "$T/loop.txt" <<'EOF' &
import json, sys, time, urllib.request, urllib.error
url, tok, out = sys.argv[1], sys.argv[2], sys.argv[3]
end = time.time() + 14
with open(out, "w") as f:
    while time.time() < end:
        t0 = time.time()
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + tok})
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                body = r.read()
                ok = "children" in json.loads(body)
                st = r.status if ok else -1
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                err = json.loads(body)["error"]["code"]
            except Exception:
                err = "no-json-error-body"
            st = "%d:%s" % (e.code, err)
        except Exception as e:
            st = "net:" + type(e).__name__
        f.write("%.2f %.2f %s\n" % (t0, time.time() - t0, st))
        f.flush()
        time.sleep(0.1)
EOF
loop_pid=$!
SV_BG+=("$loop_pid")
sleep 3
. "$SV_REPO/tests/scale/pg.sh"
t_halt=$(date +%s.%N)
pg_halt "$DEPLOY_PGDIR" >/dev/null 2>&1 || fail "pg.sh halt failed"
sleep 3
pg_resume "$DEPLOY_PGDIR" >/dev/null 2>&1 || fail "pg.sh resume failed"
t_back=$(date +%s.%N)
wait "$loop_pid"
note "PostgreSQL down from $t_halt to $t_back"
python3 - "$T/loop.txt" "$t_halt" "$t_back" >"$T/loop.sum" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
halt, back = float(sys.argv[2]), float(sys.argv[3])
before = [r for r in rows if float(r[0]) + float(r[1]) < halt]
gap = [r for r in rows if halt <= float(r[0]) < back]
after = [r for r in rows if float(r[0]) > back + 1.0]
print("before", len(before), sum(r[2] == "200" for r in before))
print("gap", len(gap), sum(r[2] == "200" for r in gap),
      sum(r[2][:1] == "5" and "no-json" not in r[2] for r in gap),
      max([float(r[1]) for r in gap] or [0]))
print("after", len(after), sum(r[2] == "200" for r in after))
print("gapcodes", " ".join(sorted(set(r[2] for r in gap))))
EOF
cat "$T/loop.sum" | sed 's/^/# /'
read -r _ nb okb < <(grep '^before' "$T/loop.sum")
read -r _ ng okg cleang maxg < <(grep '^gap ' "$T/loop.sum")
read -r _ na oka < <(grep '^after' "$T/loop.sum")
((nb > 0 && nb == okb)) && pass "before the stop: $nb listings, all 200" || fail "before: $okb of $nb 200"
((ng > 0 && okg + cleang == ng)) && pass "during the gap: $ng requests, each 200 or a clean 5xx with an error body (slowest ${maxg}s)" ||
	fail "during the gap: $ng requests, $okg 200, $cleang clean 5xx ($(grep gapcodes "$T/loop.sum"))"
((na > 0 && na == oka)) && pass "after PostgreSQL is back: $na listings, all 200" || fail "after: $oka of $na 200"
. "$D/deploy.env"
expect_eq "$DEPLOY_PID_1 $DEPLOY_PID_2" "$pids_before" "the same server processes (none restarted)"
for p in $pids_before; do
	kill -0 "$p" 2>/dev/null || fail "server $p died with PostgreSQL"
done

# ---- 3. the object store stopped
# The mount reads by presigned URL straight from RGW and uploads through
# the servers, which stream to RGW. With radosgw stopped (monitor, OSD and
# data stay; tests/scale/rgw.sh stop-rgw): files the mount has cached
# still read; an uncached one fails with EIO and the mount's log names the
# object store; an upload fails cleanly (an error from cp, the file absent
# afterwards, nothing half-applied); and with radosgw back all of it works
# again without restarting anything.
if [[ $DEPLOY_BLOBS == s3 ]]; then
	M3=$T/mnt3
	sv_mount "$URL" "$M3" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache3" \
		-o meta_ttl=1 || die "remote mount through HAProxy failed"
	mapfile -t files < <(sv_files "$M3/faults/initial-tag" | head -n 20)
	# the uncached file: in a folder none of the 20 is in (an open queues
	# the rest of its folder for prefetch, which may well have fetched a
	# neighbour before the store stops), and not empty
	declare -A readdirs=()
	for f in "${files[@]}"; do readdirs[$(dirname -- "$f")]=1; done
	uncached=
	while IFS= read -r f; do
		if [[ -z ${readdirs[$(dirname -- "$f")]:-} && -s $src/$f ]]; then
			uncached=$f
			break
		fi
	done < <(sv_files "$M3/faults/initial-tag" | tac)
	[[ -n $uncached ]] || die "no non-empty file outside the folders read"
	ok "20 files read (now cached) before the object store stops" \
		bash -c 'for f in "${@:2}"; do cmp -s "$1/$f" "'"$M3"'/faults/initial-tag/$f" || exit 1; done' _ "$src" "${files[@]:0:20}"
	bash "$SV_REPO/tests/scale/rgw.sh" stop-rgw "$DEPLOY_RGWDIR" >/dev/null 2>&1 ||
		fail "rgw.sh stop-rgw failed"
	note "radosgw stopped"
	ok "cached files still read with the object store gone" \
		bash -c 'for f in "${@:2}"; do cmp -s "$1/$f" "'"$M3"'/faults/initial-tag/$f" || exit 1; done' _ "$src" "${files[@]:0:20}"
	err=$(cat "$M3/faults/initial-tag/$uncached" 2>&1 >/dev/null)
	rc=$?
	((rc != 0)) && [[ $err == *"Input/output error"* ]] &&
		pass "an uncached file fails with EIO ($err)" ||
		fail "an uncached file: exit $rc, '$err' (want EIO)"
	rgw_host=$(. "$DEPLOY_RGWDIR/s3.env" && echo "${S3_ENDPOINT#*://}")
	expect_contains "${SV_MNT_LOG[$M3]}" "$rgw_host" "the mount's log names the object store it could not reach ($rgw_host)"
	head -c 300000 /dev/urandom >"$T/late.bin"
	if cp "$T/late.bin" "$M3/faults/initial-tag/late.bin" 2>"$T/late.err"; then
		fail "an upload succeeded with the object store stopped"
	else
		pass "an upload fails cleanly: $(head -c 160 "$T/late.err")"
	fi
	sleep 1.5                                     # past meta_ttl
	ok "the failed upload left no file behind" test ! -e "$M3/faults/initial-tag/late.bin"
	bash "$SV_REPO/tests/scale/rgw.sh" start-rgw "$DEPLOY_RGWDIR" >/dev/null 2>&1 ||
		fail "rgw.sh start-rgw failed"
	note "radosgw started again"
	ok "the uncached file reads once the object store is back" \
		cmp -s "$src/$uncached" "$M3/faults/initial-tag/$uncached"
	ok "an upload works again" cp "$T/late.bin" "$M3/faults/initial-tag/late.bin"
	sleep 1.5
	ok "and reads back whole" cmp -s "$T/late.bin" "$M3/faults/initial-tag/late.bin"
	. "$D/deploy.env"
	expect_eq "$DEPLOY_PID_1 $DEPLOY_PID_2" "$pids_before" "the same server processes throughout"
	sv_umount "$M3"
else
	fail "object store fault: run with DEPLOY_BLOBS=s3 (make test-deploy-faults does): this run's blobs are a shared local directory"
fi
