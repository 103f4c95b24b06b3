#!/usr/bin/env bash
#
# t_remote_idem — idempotent state-changing requests (issue 19 item 8):
# `Idempotency-Key` on a request that changes state.
#
# Proves, with curl against `sievefs serve`: the same key twice creates one
# dataset, one tag, one node and gives the same answer (the second marked
# Idempotent-Replayed); a different key runs the request again (a second
# node by another name; 409 exists for the same name); bob's request with
# alice's key is his own (not her answer); a malformed key is 400; GET
# ignores the header. Lost answers, made deterministic by the test-only
# fault point SIEVEFS_FAULT_IDEM (the server SIGKILLs itself): killed after
# the commit, before the answer is stored, the retry (on a restarted
# server) gets 409 answer_lost and the folder holds one node; killed after
# the answer is stored, before it is sent, the retry gets the first answer
# and still one node. Through a remote mount: a mkdir whose server died
# after the commit (answer lost) succeeds once the server is back — the
# mount's keyed retry is answered, or looks the node up — and leaves one
# folder. Expired keys are swept (SIEVEFS_IDEM_TTL).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3 mountpoint fusermount3

mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
TA=$(cat "$T/alice.tok")
TB=$(cat "$T/bob.tok")
port=$(free_port) || die "no free port"
U=http://127.0.0.1:$port
start_server "$port" || die "sievefs serve did not come up"

key() { python3 -c 'import os; print(os.urandom(16).hex())'; }
# kapi TOKEN KEY METHOD PATH [CURL-ARGS...]: api with an Idempotency-Key
kapi() {
	local tok=$1 k=$2
	shift 2
	api "$tok" "$@" -H "Idempotency-Key: $k"
}
replayed() { grep -qi '^Idempotent-Replayed: true' "$T/hdr"; }
J=(-H 'Content-Type: application/json')

# ---- datasets, tags, nodes: same key → one, same answer
K=$(key)
kapi "$TA" "$K" POST /v1/datasets "${J[@]}" -d '{"name":"idem"}'
expect_code 201 "create dataset with a key"
DS=$(jget '["id"]')
ROOT=$(jget '["live_root"]')
cp "$T/body" "$T/first"
kapi "$TA" "$K" POST /v1/datasets "${J[@]}" -d '{"name":"idem"}'
expect_code 201 "the same key again: the first answer's status"
cmp -s "$T/first" "$T/body" && pass "the same key again: the first answer's body" ||
	fail "replayed body differs: $(cat "$T/body")"
replayed && pass "the replay says Idempotent-Replayed" || fail "no Idempotent-Replayed header"
kapi "$TA" "$(key)" POST /v1/datasets "${J[@]}" -d '{"name":"idem"}'
expect_code 409 "a different key runs again (the name exists)"

K=$(key)
kapi "$TA" "$K" POST "/v1/datasets/$DS/tags" "${J[@]}" -d '{"name":"t1"}'
expect_code 201 "create tag with a key"
T1=$(jget '["id"]')
kapi "$TA" "$K" POST "/v1/datasets/$DS/tags" "${J[@]}" -d '{"name":"t1"}'
expect_code 201 "the same key: 201 again"
[[ $(jget '["id"]') == "$T1" ]] && pass "the same key: the same tag id" ||
	fail "a second tag id: $(jget '["id"]') vs $T1"
api "$TA" GET "/v1/datasets/$DS/tags"
ntags=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for t in d["tags"] if t["name"]=="t1"))' "$T/body")
expect_eq "$ntags" 1 "one tag t1"

K=$(key)
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"a","kind":1}'
expect_code 201 "create a folder with a key"
INO=$(jget '["ino"]')
cp "$T/body" "$T/first"
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"a","kind":1}'
expect_code 201 "the same key: 201 again"
cmp -s "$T/first" "$T/body" && pass "the same key: the same node record" ||
	fail "a different answer: $(cat "$T/body")"
kapi "$TA" "$(key)" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"a","kind":1}'
expect_code 409 "a different key, the same name: run again, 409 exists"
kapi "$TA" "$(key)" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"b","kind":1}'
expect_code 201 "a different key, another name: a second node"
[[ $(jget '["ino"]') != "$INO" ]] && pass "the second node has its own ino" ||
	fail "the second node has ino $INO"

children() {
	api "$TA" GET "/v1/nodes/$ROOT/children"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(sorted(c["name"] for c in d["children"])))' "$T/body"
}
expect_eq "$(children)" "a b" "the folder holds a and b, once each"

# ---- another user's key is not shared
kapi "$TB" "$(key)" POST /v1/datasets "${J[@]}" -d '{"name":"bobs"}'
expect_code 201 "bob's dataset"
BROOT=$(jget '["live_root"]')
kapi "$TB" "$K" POST "/v1/nodes/$BROOT/children" "${J[@]}" -d '{"name":"a","kind":1}'
expect_code 201 "bob with alice's key: his own request runs"
replayed && fail "bob got a replay of alice's answer" || pass "not a replay"
[[ $(jget '["ino"]') != "$INO" ]] && pass "bob's node is not alice's" ||
	fail "bob got alice's node $INO"

# ---- a key reused on another path or method is another request's key
# (alice's $K made folder a above: its answer must not come back here)
kapi "$TA" "$K" POST /v1/datasets "${J[@]}" -d '{"name":"reused"}'
expect_code 201 "alice's key of folder a, on POST /v1/datasets: it runs"
replayed && fail "another path got the replay of folder a's answer" ||
	pass "another path: not a replay"
[[ $(jget '["name"]') == reused ]] && pass "another path: its own answer (dataset reused)" ||
	fail "another path answered: $(cat "$T/body")"
kapi "$TA" "$K" DELETE "/v1/datasets/$(jget '["id"]')"
expect_code 204 "the same key on DELETE of that dataset: it runs"
replayed && fail "another method got a replay" || pass "another method: not a replay"
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"a","kind":1}'
expect_code 201 "the key on its own request still replays folder a"
replayed && pass "its own request: a replay" || fail "its own request ran again"
[[ $(jget '["ino"]') == "$INO" ]] && pass "its own request: folder a's ino" ||
	fail "its own request answered ino $(jget '["ino"]'), not $INO"

# ---- malformed keys, GET
kapi "$TA" "short" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"c","kind":1}'
expect_code 400 "a key of 5 characters"
kapi "$TA" "$(printf 'x%.0s' {1..65})" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"c","kind":1}'
expect_code 400 "a key of 65 characters"
kapi "$TA" 'abc def ghi jkl mno' POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"c","kind":1}'
expect_code 400 "a key with spaces"
kapi "$TA" "$(key)" GET "/v1/nodes/$ROOT/children"
expect_code 200 "GET with a key: a plain GET"

# ---- lost answers: the server killed after the commit
restart_with_fault() {
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SIEVEFS_FAULT_IDEM=$1 start_server "$port" || die "no server with fault $1"
}
restart_with_fault after_commit
K=$(key)
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"lost1","kind":1}'
# no answer (000), or behind a balancer (SV_DEPLOY) its 502 for the dead server
[[ $code == 000 || $code == 502 ]] && pass "after_commit: the answer is lost (HTTP $code)" ||
	fail "after_commit: got HTTP $code"
grep -q 'SIEVEFS_FAULT_IDEM=after_commit' "$SERVER_LOG" &&
	pass "the log names the fault point" || fail "no fault line in the log"
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
start_server "$port" || die "the server did not come back"
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"lost1","kind":1}'
expect_code 409 "the retry: applied, answer lost"
[[ $(jget '["error"]["code"]') == answer_lost ]] &&
	pass "code answer_lost" || fail "body: $(cat "$T/body")"
expect_eq "$(children)" "a b lost1" "one node lost1"

restart_with_fault after_answer
K=$(key)
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"lost2","kind":1}'
[[ $code == 000 || $code == 502 ]] && pass "after_answer: the answer is lost (HTTP $code)" ||
	fail "after_answer: got HTTP $code"
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
start_server "$port" || die "the server did not come back"
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"lost2","kind":1}'
expect_code 201 "the retry gets the first answer"
replayed && pass "...replayed" || fail "not a replay"
LINO=$(jget '["ino"]')
expect_eq "$(children)" "a b lost1 lost2" "one node lost2"
api "$TA" GET "/v1/nodes/$LINO"
expect_code 200 "the replayed ino is the node's"

# ---- through a remote mount: the mount's retry after a lost answer
restart_with_fault after_commit
M=$T/mnt
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount failed"
if [[ ${SV_DEPLOY:-} == 1 ]]; then
	# behind HAProxy the other server answers the mount's retry (the
	# key is recorded: answer_lost, then a lookup)
	ok "mkdir through the mount, its answer lost" mkdir "$M/idem/initial-tag/viamount"
	start_server "$port" || die "the servers did not come back"
else
	dead=$SERVER_PID
	# bring the server back (without the fault) the moment it dies,
	# within the mount's retries (0.2 + 0.4 + 0.8 s)
	( while kill -0 "$dead" 2>/dev/null; do sleep 0.02; done
	  "$SIEVEFS" serve "$T/store" --listen "127.0.0.1:$port" >>"$SERVER_LOG" 2>&1 &
	  echo $! >"$T/respawn.pid"; wait ) &
	SV_BG+=("$!")
	ok "mkdir through the mount, its answer lost" mkdir "$M/idem/initial-tag/viamount"
	sleep 0.3
	[[ -s $T/respawn.pid ]] && SV_BG+=("$(cat "$T/respawn.pid")")
	SERVER_PID=$(cat "$T/respawn.pid" 2>/dev/null)
fi
expect_eq "$(children)" "a b lost1 lost2 viamount" "one folder viamount"
ok "the mount carries on" mkdir "$M/idem/initial-tag/after"
sv_umount "$M"

# ---- the Python client: an upload whose create's answer was lost
# Behind HAProxy (SV_DEPLOY) the create of a file with its content dies
# with its server after the commit; HAProxy's 502 makes the client retry
# it with the same key on the other server, which answers 409 answer_lost:
# the client looks the file up (as the mount does) instead of counting it
# failed. One server alone: its death refuses the retry's connection,
# which the Python client does not retry, so this runs under SV_DEPLOY.
if [[ ${SV_DEPLOY:-} == 1 ]]; then
	mkdir -p "$T/pysrc"
	printf 'bytes of the python upload\n' >"$T/pysrc/py.txt"
	pysha=$(sha256sum "$T/pysrc/py.txt" | cut -c1-64)
	start_server "$port" || die "the servers did not come back"
	# the blob first, without the fault (its PUT commits too): the upload
	# then makes one keyed request, the create
	api "$TA" PUT "/v1/blobs/$pysha" -T "$T/pysrc/py.txt"
	expect_code 201 "alice sends the Python upload's blob"
	restart_with_fault after_commit
	if PYTHONPATH="$SV_REPO/python" python3 - "$U" "$T/alice.tok" "$T/pysrc" >"$T/py.out" 2>&1 <<'EOF'
import sys, sievefs
c = sievefs.Client(sys.argv[1], token_file=sys.argv[2])
r = c.upload_dataset(sys.argv[3], "idem", progress=False)
print("uploaded", r.uploaded, "failed", len(r.failed))
sys.exit(0 if r.uploaded == 1 and not r.failed else 1)
EOF
	then
		pass "upload_dataset whose create's answer was lost: $(cat "$T/py.out")"
	else
		fail "upload_dataset whose create's answer was lost: $(tail -c 400 "$T/py.out")"
	fi
	grep -q 'SIEVEFS_FAULT_IDEM=after_commit' "$SERVER_LOG" &&
		pass "a server died after the create's commit" || fail "no fault line in the log"
	start_server "$port" || die "the servers did not come back"
	expect_eq "$(children)" "a after b lost1 lost2 py.txt viamount" "one file py.txt"
	api "$TA" GET "/v1/nodes/$ROOT/lookup?name=py.txt"
	expect_eq "$pysha" "$(jget '["sha"]')" "py.txt has its content"
else
	note "the Python client's lost answer: under SV_DEPLOY only (make test-deploy)"
fi

# ---- expiry
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
K=$(key)
SIEVEFS_IDEM_TTL=1 start_server "$port" || die "no server"
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"exp","kind":1}'
expect_code 201 "a keyed create"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
sleep 1.2
SIEVEFS_IDEM_TTL=1 start_server "$port" || die "no server"
# the first keyed request of a process sweeps (once a minute at most)
kapi "$TA" "$(key)" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"exp2","kind":1}'
kapi "$TA" "$K" POST "/v1/nodes/$ROOT/children" "${J[@]}" -d '{"name":"exp","kind":1}'
expect_code 409 "after expiry the key is forgotten: the create runs again (exists)"

