#!/usr/bin/env bash
#
# t_server — `sievefs serve` and `sievefs token` driven with curl on loopback.
#
# Proves: tokens are printed once and listed without the token; each user
# sees only their own datasets (another user's id or name is 404, as are its
# tags, nodes and blobs); absent, wrong and revoked tokens get 401; a body
# over its cap gets 413 and the server keeps serving; malformed JSON gets
# 400; a path with `..` (raw or %2e%2e) gets 400; a blob PUT with a wrong
# hash gets 400 and stores nothing; a sample is uploaded (PUT blob, create
# node, PUT content) and read back whole and by Range; another user who
# knows the hash can neither reference nor read the bytes until he sends them; children are listed
# in pages; a listing has an ETag and If-None-Match gets 304 while the folder
# is unchanged (only for its owner; 200 with a new ETag after a create,
# setattr or remove of a child; a change two levels down leaves it); an embedding CSV upload, a sampling run (POST → 202, GET status
# until done), a bad request (400 with the reason), a frozen tag; more than
# 10 failed token checks from one address → 429 for bad tokens (valid ones
# still pass). Uploads no node names: with
# --orphan-grace 2 an unnamed blob leaves STORE/blobs after the grace (the
# log says so) while one committed at once stays, a commit naming the
# collected one gets 409 blob_missing until it is sent again; with
# --upload-cap 3M a user's 4th unnamed MiB gets 507 upload_quota (with and
# without Content-Length) and nothing is stored, a re-sent pending blob
# costs nothing, and a commit makes room. Then (issue 11) hostile requests
# and limits, see that section. The servers are stopped by PID.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl sha256sum python3

STORE=$T/store
ok "token create alice" "$SIEVEFS" token create --store "$STORE" alice
TA=$(cat "$T/last.out")
ok "token create bob" "$SIEVEFS" token create --store "$STORE" bob
TB=$(cat "$T/last.out")
[[ $TA == svf_* && ${#TA} == 68 ]] && pass "token has the svf_ format" ||
	fail "token format: [$TA]"
ok "token create carol" "$SIEVEFS" token create --store "$STORE" carol
TC=$(cat "$T/last.out")
ok "token list" "$SIEVEFS" token list --store "$STORE"
cp "$T/last.out" "$T/list.txt"
expect_contains "$T/list.txt" "alice" "token list names the users"
if grep -qF -- "${TA#svf_}" "$T/list.txt"; then
	fail "token list shows a token"
else
	pass "token list never shows a token"
fi
expect_fail "token create with a bad user name" \
	"$SIEVEFS" token create --store "$STORE" "bad name"

# --- start the server on a free port (api, expect_code, jget: server_lib.sh)
serve_port "$T/serve.log" "$STORE"
note "server pid $SPID on port $PORT"

api "$TA" GET /v1/whoami
expect_code 200 "whoami"
expect_eq alice "$(jget '["user"]')" "whoami names the token's user"

# --- auth
api "" GET /v1/datasets
expect_code 401 "no token"
expect_contains "$T/body" '"errno":"EACCES"' "401 body carries the errno name"
api "svf_$(printf '0%.0s' $(seq 64))" GET /v1/datasets
expect_code 401 "wrong token"

# --- datasets are per user
api "$TA" POST /v1/datasets -d '{"name":"leaves"}'
expect_code 201 "alice creates a dataset"
DS=$(jget '["id"]')
ROOT=$(jget '["live_root"]')
api "$TB" POST /v1/datasets -d '{"name":"mine"}'
BROOT=$(jget '["live_root"]')
expect_code 201 "bob creates a dataset"
api "$TA" POST /v1/datasets -d '{"name":"leaves"}'
expect_code 409 "same name again"
api "$TA" POST /v1/datasets -d '{"name":"bad name!"}'
expect_code 400 "invalid dataset name"
api "$TB" GET "/v1/datasets/$DS"
expect_code 404 "bob gets alice's dataset by id"
api "$TB" GET "/v1/datasets?name=leaves"
expect_code 404 "bob gets alice's dataset by name"
api "$TB" GET "/v1/datasets/$DS/tags"
expect_code 404 "bob lists alice's tags"
api "$TB" GET "/v1/nodes/$ROOT/children"
expect_code 404 "bob lists alice's folder"
api "$TB" GET /v1/datasets
expect_eq "['mine']" "$(jget '["datasets"]' | python3 -c 'import sys,ast; print([d["name"] for d in ast.literal_eval(sys.stdin.read())])')" \
	"bob's list holds only his dataset"

# --- malformed requests
api "$TA" POST /v1/datasets -d '{"name":'
expect_code 400 "malformed JSON"
expect_contains "$T/body" '"code":"bad_json"' "bad_json code"
api "$TA" GET "/v1/datasets/../datasets"
expect_code 400 "raw .. in the path"
api "$TA" GET "/v1/datasets/%2e%2e/x"
expect_code 400 "%2e%2e in the path"
api "$TA" GET "/v1/nodes/0"
expect_code 400 "id 0"
api "$TA" GET "/v1/nodes/abc"
expect_code 400 "non-numeric id"
api "$TA" GET "/v1/nope"
expect_code 404 "unknown route"
python3 -c 'import sys; sys.stdout.write("{\"name\":\"" + "a"*2000000 + "\"}")' >"$T/big.json"
api "$TA" POST /v1/datasets --data-binary @"$T/big.json"
expect_code 413 "JSON body over 1 MiB"
api "$TA" POST /v1/datasets -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.json"
expect_code 413 "chunked JSON body over 1 MiB"
api "$TA" GET /v1/whoami
expect_code 200 "the server still serves after 413"

# --- upload a sample: blob, node, content
printf 'hello sievefs\n' >"$T/a.txt"
SHA=$(sha256sum "$T/a.txt" | cut -d' ' -f1)
ZERO=$(printf '0%.0s' $(seq 64))
api "$TA" PUT "/v1/blobs/$ZERO" -T "$T/a.txt"
expect_code 400 "blob PUT with a wrong hash"
expect_contains "$T/body" hash_mismatch "hash_mismatch code"
if find "$STORE/blobs" -type f | grep -q .; then
	fail "a blob was stored after a hash mismatch"
else
	pass "nothing stored after a hash mismatch"
fi
api "$TA" HEAD "/v1/blobs/$SHA" -I
expect_code 404 "HEAD of a blob nobody references"
api "$TA" PUT "/v1/blobs/$SHA" -T "$T/a.txt"
expect_code 201 "blob PUT"
api "$TA" POST "/v1/nodes/$ROOT/children" -d '{"name":"a.txt","kind":2,"mode":420}'
expect_code 201 "create a file node"
INO=$(jget '["ino"]')
api "$TA" PUT "/v1/nodes/$INO/content" -d "{\"sha256\":\"$SHA\",\"size\":14,\"mtime_ns\":\"1700000000123456789\",\"durable\":true}"
expect_code 200 "point the node at the blob"
expect_eq 1700000000123456789 "$(jget '["mtime_ns"]')" "mtime_ns kept to the nanosecond"
api "$TA" GET "/v1/blobs/$SHA"
expect_code 200 "blob GET"
cmp -s "$T/body" "$T/a.txt" && pass "blob bytes read back" || fail "blob bytes differ"
api "$TA" GET "/v1/blobs/$SHA" -r 6-12
expect_code 206 "blob GET with Range"
expect_eq "sievefs" "$(cat "$T/body")" "Range returns the asked bytes"
api "$TA" GET "/v1/blobs/$SHA" -r 100-
expect_code 416 "unsatisfiable Range"
api "$TA" GET "/v1/blobs/$SHA" -H 'Range: bytes=abc'
expect_code 200 "a Range that is not one is ignored (RFC 9110): 200"
cmp -s "$T/body" "$T/a.txt" && pass "... with every byte" || fail "bytes differ after an invalid Range"
api "$TA" HEAD "/v1/nodes/$INO" -I
expect_code 200 "HEAD of a GET route (a node): 200"
api "$TA" HEAD "/v1/datasets/$DS/tags" -I
expect_code 200 "HEAD of a GET route (tags): 200"
api "$TA" HEAD "/v1/datasets/$DS/selection" -I
expect_code 200 "HEAD of a GET route (selection): 200"
api "$TA" PATCH "/v1/blobs/$SHA" -d '{}'
expect_code 405 "a method no route has on a path: still 405"
api "$TB" GET "/v1/blobs/$SHA"
expect_code 404 "bob reads alice's blob"
api "$TB" GET "/v1/nodes/$INO"
expect_code 404 "bob gets alice's node"
# knowing a hash is no right to the bytes behind it
api "$TB" POST "/v1/nodes/$BROOT/children" -d '{"name":"guess.txt","kind":2,"mode":420}'
expect_code 201 "bob creates a file node"
BINO=$(jget '["ino"]')
api "$TB" HEAD "/v1/blobs/$SHA" -I
expect_code 404 "HEAD of alice's bytes for bob"
api "$TB" PUT "/v1/nodes/$BINO/content" -d "{\"sha256\":\"$SHA\",\"size\":14}"
expect_code 409 "bob cannot point a node at alice's bytes by their hash"
api "$TB" PUT "/v1/nodes/$BINO/content" -d "{\"sha256\":\"$SHA\",\"size\":14,\"bytes\":\"kept\"}"
expect_code 200 "bob may name the hash as bytes he keeps (upload=meta)"
api "$TB" GET "/v1/blobs/$SHA"
expect_code 404 "... and still cannot read alice's bytes"
api "$TB" PUT "/v1/blobs/$SHA" -T "$T/a.txt"
expect_code 201 "bob sends the same bytes himself"
api "$TB" GET "/v1/blobs/$SHA"
expect_code 200 "then he may read them"
api "$TA" POST "/v1/nodes/$ROOT/children" -d '{"name":"a.txt","kind":2}'
expect_code 409 "create an existing name"
api "$TA" GET "/v1/nodes/$ROOT/lookup?name=a.txt"
expect_code 200 "lookup by name"

# --- paging: 25 folders + a.txt, 10 per page
for i in $(seq -w 1 25); do
	api "$TA" POST "/v1/nodes/$ROOT/children" -d "{\"name\":\"d$i\",\"kind\":1}"
	[[ $code == 201 ]] || fail "mkdir d$i: $code"
done
: >"$T/paged"
after="" pages=0
while :; do
	api "$TA" GET "/v1/nodes/$ROOT/children?limit=10&after=$after"
	[[ $code == 200 ]] || { fail "children page: $code"; break; }
	pages=$((pages + 1))
	python3 -c 'import json,sys; [print(c["name"]) for c in json.load(open(sys.argv[1]))["children"]]' "$T/body" >>"$T/paged"
	after=$(python3 -c 'import json,sys; n=json.load(open(sys.argv[1]))["next"]; print(n if n else "")' "$T/body")
	[[ -n $after ]] || break
	((pages < 10)) || { fail "paging does not end"; break; }
done
expect_eq 3 "$pages" "26 children come in 3 pages of 10"
(echo a.txt; for i in $(seq -w 1 25); do echo "d$i"; done) | LC_ALL=C sort >"$T/want"
expect_list_eq "$T/want" "$T/paged" "pages hold every child once, in order"

# --- revalidation: a listing's ETag, If-None-Match → 304 while unchanged
# etag_of — the ETag of the last answer (its headers are in $T/hdr).
etag_of() { tr -d '\r' <"$T/hdr" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p'; }
api "$TA" GET "/v1/nodes/$ROOT/children"
D01=$(python3 -c 'import json,sys; print([c["ino"] for c in json.load(open(sys.argv[1]))["children"] if c["name"]=="d01"][0])' "$T/body")
api "$TA" POST "/v1/nodes/$D01/children" -d '{"name":"inner","kind":1}'
INNER=$(jget '["ino"]')
api "$TA" GET "/v1/nodes/$ROOT/children" -D "$T/hdr"
expect_code 200 "listing with a validator"
E1=$(etag_of)
[[ $E1 == \"*\" ]] && pass "the listing has a quoted ETag ($E1)" ||
	fail "no ETag on the listing: [$E1]"
rm -f "$T/body"
api "$TA" GET "/v1/nodes/$ROOT/children" -D "$T/hdr" -H "If-None-Match: $E1"
expect_code 304 "If-None-Match of the current ETag"
[[ ! -s $T/body ]] && pass "a 304 has no body" || fail "a 304 with a body"
expect_eq "$E1" "$(etag_of)" "a 304 repeats the ETag"
api "$TA" GET "/v1/nodes/$ROOT/children" -H "If-None-Match: \"nope\", $E1"
expect_code 304 "If-None-Match with a list of validators"
api "$TA" GET "/v1/nodes/$ROOT/children" -H 'If-None-Match: "g1-0-0"'
expect_code 200 "If-None-Match of another ETag gets the listing"
api "$TB" GET "/v1/nodes/$ROOT/children" -H "If-None-Match: $E1"
expect_code 404 "bob's If-None-Match on alice's folder is a 404, never a 304"
api "$TB" GET "/v1/nodes/$ROOT/children" -H "If-None-Match: *"
expect_code 404 "... also with If-None-Match: *"
api "" GET "/v1/nodes/$ROOT/children" -H "If-None-Match: $E1"
expect_code 401 "If-None-Match without a token is a 401"
api "$TA" POST "/v1/nodes/$INNER/children" -d '{"name":"leaf","kind":1}'
expect_code 201 "a change two levels down"
api "$TA" GET "/v1/nodes/$ROOT/children" -H "If-None-Match: $E1"
expect_code 304 "... leaves the listing unchanged"
api "$TA" POST "/v1/nodes/$ROOT/children" -d '{"name":"z.txt","kind":2}'
expect_code 201 "create a child"
api "$TA" GET "/v1/nodes/$ROOT/children" -D "$T/hdr" -H "If-None-Match: $E1"
expect_code 200 "after a create the old ETag gets the new listing"
E2=$(etag_of)
[[ -n $E2 && $E2 != "$E1" ]] && pass "with a new ETag ($E2)" ||
	fail "the ETag did not change: [$E1] → [$E2]"
expect_contains "$T/body" '"name":"z.txt"' "the new listing names the new child"
ZINO=$(python3 -c 'import json,sys; print([c["ino"] for c in json.load(open(sys.argv[1]))["children"] if c["name"]=="z.txt"][0])' "$T/body")
api "$TA" PATCH "/v1/nodes/$ZINO" -d '{"mode":384}'
expect_code 200 "setattr of a child"
api "$TA" GET "/v1/nodes/$ROOT/children" -D "$T/hdr" -H "If-None-Match: $E2"
expect_code 200 "after a setattr of a child the listing is new"
E3=$(etag_of)
api "$TA" DELETE "/v1/nodes/$ROOT/children?name=z.txt&is_dir=0"
expect_code 204 "remove a child"
api "$TA" GET "/v1/nodes/$ROOT/children" -H "If-None-Match: $E3"
expect_code 200 "after a remove the listing is new"

# --- two more samples, an embedding, a sampling run, a tag
for f in b c; do
	printf 'sample %s\n' "$f" >"$T/$f.txt"
	s=$(sha256sum "$T/$f.txt" | cut -d' ' -f1)
	api "$TA" PUT "/v1/blobs/$s" -T "$T/$f.txt"
	api "$TA" POST "/v1/nodes/$ROOT/children" -d "{\"name\":\"$f.txt\",\"kind\":2}"
	i=$(jget '["ino"]')
	api "$TA" PUT "/v1/nodes/$i/content" -d "{\"sha256\":\"$s\",\"size\":$(stat -c%s "$T/$f.txt")}"
	[[ $code == 200 ]] || fail "upload $f.txt: $code"
done
printf 'filenames,embedding_0,embedding_1,labels\na.txt,0,0,0\nb.txt,1,0,0\nc.txt,0,5,1\n' >"$T/emb.csv"
api "$TA" PUT "/v1/datasets/$DS/embeddings?name=e1" -H 'Content-Type: text/csv' --data-binary @"$T/emb.csv"
expect_code 201 "embedding CSV upload"
printf 'filenames,embedding_0,labels\nnope.txt,1,0\n' >"$T/bad.csv"
api "$TA" PUT "/v1/datasets/$DS/embeddings?name=e2" --data-binary @"$T/bad.csv"
expect_code 400 "bad embedding CSV"
api "$TA" POST "/v1/datasets/$DS/sample" --data-binary 'bogus n=2'
expect_code 400 "unknown strategy"
expect_contains "$T/body" "unknown strategy" "the reason is in the message"
api "$TA" POST "/v1/datasets/$DS/sample" --data-binary 'coreset n=2 embedding=e1'
expect_code 202 "sampling request accepted"
for _ in $(seq 100); do
	api "$TA" GET "/v1/datasets/$DS/sample"
	grep -q '^status: \(done\|failed\|cancelled\)' "$T/body" && break
	sleep 0.1
done
expect_contains "$T/body" "status: done" "the run finishes"
api "$TA" GET "/v1/datasets/$DS/selection"
expect_eq 2 "$(wc -l <"$T/body")" "the selection holds 2 samples"
api "$TB" POST "/v1/datasets/$DS/sample" --data-binary 'random'
expect_code 404 "bob starts a run on alice's dataset"
api "$TA" POST "/v1/datasets/$DS/tags" -d '{"name":"best-2"}'
expect_code 201 "freeze the selection as a tag"
expect_eq 2 "$(jget '["files"]')" "the tag holds 2 samples"
TROOT=$(jget '["root"]')
api "$TA" POST "/v1/nodes/$TROOT/children" -d '{"name":"x","kind":1}'
expect_code 403 "mkdir in a frozen tag"
expect_contains "$T/body" '"errno":"EROFS"' "the errno is EROFS"
api "$TA" DELETE "/v1/datasets/$DS"
expect_code 409 "delete a dataset with samples"

# --- revocation, then the rate limit (last: it blocks this address)
ok "token list before revoke" "$SIEVEFS" token list --store "$STORE"
CID=$(awk '$2 == "carol" { print $1 }' "$T/last.out")
api "$TC" GET /v1/whoami
expect_code 200 "carol's token works"
ok "token revoke" "$SIEVEFS" token revoke --store "$STORE" "$CID"
api "$TC" GET /v1/whoami
expect_code 401 "revoked token"
for _ in $(seq 12); do
	api "svf_$ZERO" GET /v1/whoami
done
expect_code 429 "more than 10 failed token checks"
api "$TA" GET /v1/whoami
expect_code 200 "a valid token from that address still passes"
api "svf_$ZERO" GET /v1/whoami
expect_code 429 "bad tokens from the address stay refused for the window"
sv_alive "$SPID" && pass "the server is still running" || fail "the server died"

kill -TERM "$SPID"
if sv_wait_gone "$SPID" 10; then
	wait "$SPID"
	expect_eq 0 "$?" "the server exits 0 on SIGTERM"
else
	fail "the server did not stop on SIGTERM"
fi

# --- a store from before grants: its users still read what their nodes name
# (an upgrade of a SQLite catalog file; a PostgreSQL catalog never held data
# from before grants: schema_pg.c has no such migration to prove)
if [[ ${SV_CATALOG:-} == pg ]]; then
	note "SV_CATALOG=pg: the SQLite-file upgrade to grants is not run (no catalog.db)"
else
sqlite3 "$STORE/catalog.db" "DELETE FROM grants; DELETE FROM meta WHERE key='grants_v1'" ||
	fail "cannot empty the grants"
serve_port "$T/serve2.log" "$STORE"
api "$TA" GET "/v1/blobs/$SHA"
expect_code 200 "after the upgrade alice reads her blob again"
kill -TERM "$SPID"
sv_wait_gone "$SPID" 10 && wait "$SPID"
fi

# --- uploads no node names: swept after the grace, capped per user
stop2() {
	kill -TERM "$SPID"
	sv_wait_gone "$SPID" 10 && wait "$SPID"
}
# mkblob NAME KIB SEED — a file of random bytes; prints its sha256.
mkblob() {
	python3 -c 'import random,sys; r=random.Random(int(sys.argv[3])); sys.stdout.buffer.write(r.randbytes(int(sys.argv[2])*1024))' \
		"$T/$1" "$2" "$3" >"$T/$1"
	sha256sum "$T/$1" | cut -d' ' -f1
}
blob_on_disk() { [[ -f $1/blobs/${2:0:2}/$2 ]]; }

expect_fail "--orphan-grace 0 is refused" "$SIEVEFS" serve "$T/s2" --listen 127.0.0.1:0 --orphan-grace 0
expect_fail "--upload-cap nonsense is refused" "$SIEVEFS" serve "$T/s2" --listen 127.0.0.1:0 --upload-cap lots

S2=$T/s2
ok "token create dave" "$SIEVEFS" token create --store "$S2" dave
TD=$(cat "$T/last.out")
serve_port "$T/serve3.log" "$S2" --orphan-grace 2
api "$TD" POST /v1/datasets -d '{"name":"sweep"}'
expect_code 201 "dave creates a dataset"
DROOT=$(jget '["live_root"]')
SO=$(mkblob orphan.bin 1024 11)
SK=$(mkblob kept.bin 1024 12)
api "$TD" PUT "/v1/blobs/$SO" -T "$T/orphan.bin"
expect_code 201 "PUT a blob no node will name"
api "$TD" PUT "/v1/blobs/$SK" -T "$T/kept.bin"
expect_code 201 "PUT a blob and commit it at once"
api "$TD" POST "/v1/nodes/$DROOT/children" -d '{"name":"k.bin","kind":2,"mode":420}'
KINO=$(jget '["ino"]')
api "$TD" PUT "/v1/nodes/$KINO/content" -d "{\"sha256\":\"$SK\",\"size\":1048576}"
expect_code 200 "commit within the grace"
api "$TD" POST "/v1/nodes/$DROOT/children" -d '{"name":"late.bin","kind":2,"mode":420}'
LINO=$(jget '["ino"]')
blob_on_disk "$S2" "$SO" && pass "the unnamed blob is on disk after its PUT" ||
	fail "the unnamed blob is not on disk after its PUT"
# wait (bounded, polling) for the sweep: grace 2 s, a sweep every second
for _ in $(seq 100); do
	blob_on_disk "$S2" "$SO" || break
	sleep 0.2
done
if blob_on_disk "$S2" "$SO"; then
	fail "the unnamed blob is still in STORE/blobs 20 s after a 2 s grace"
else
	pass "the unnamed blob was collected from STORE/blobs after the grace"
fi
blob_on_disk "$S2" "$SK" && pass "the committed blob stays" || fail "the committed blob was collected"
grep -q "collected 1 uploaded blob" "$T/serve3.log" &&
	pass "the server log says what the sweep collected" ||
	{ fail "no sweep line in the server log"; sv_show "$T/serve3.log"; }
api "$TD" PUT "/v1/nodes/$LINO/content" -d "{\"sha256\":\"$SO\",\"size\":1048576}"
expect_code 409 "a commit naming a collected blob"
expect_contains "$T/body" blob_missing "it says blob_missing (send it again)"
api "$TD" GET "/v1/blobs/$SK"
expect_code 200 "the committed blob reads back"
cmp -s "$T/body" "$T/kept.bin" && pass "its bytes are intact" || fail "its bytes differ"
api "$TD" PUT "/v1/blobs/$SO" -T "$T/orphan.bin"
expect_code 201 "the collected blob is sent again"
api "$TD" PUT "/v1/nodes/$LINO/content" -d "{\"sha256\":\"$SO\",\"size\":1048576}"
expect_code 200 "and the commit now works"
sleep 3    # past the grace: a named blob is never collected
blob_on_disk "$S2" "$SO" && pass "a named blob outlives the grace" || fail "a named blob was collected"
stop2

# the cap: 3 MiB of unnamed uploads per user (long grace: no sweep here)
serve_port "$T/serve4.log" "$S2" --upload-cap 3M
for i in 1 2 3; do
	H[i]=$(mkblob "c$i.bin" 1024 $((20 + i)))
	api "$TD" PUT "/v1/blobs/${H[i]}" -T "$T/c$i.bin"
	expect_code 201 "unnamed upload $i of 1 MiB (cap 3 MiB)"
done
H4=$(mkblob c4.bin 1024 24)
api "$TD" PUT "/v1/blobs/$H4" -T "$T/c4.bin"
expect_code 507 "a 4th MiB unnamed is over the cap"
expect_contains "$T/body" '"code":"upload_quota"' "507 says upload_quota"
expect_contains "$T/body" 'nothing stored' "507 says nothing was stored"
blob_on_disk "$S2" "$H4" && fail "the refused blob was stored" || pass "the refused blob is not in STORE/blobs"
api "$TD" PUT "/v1/blobs/$H4" -H 'Transfer-Encoding: chunked' -T "$T/c4.bin"
expect_code 507 "the same PUT chunked (no Content-Length) is refused too"
blob_on_disk "$S2" "$H4" && fail "the refused chunked blob was stored" || pass "nor is the chunked one"
[[ -z $(find "$S2/staging" -type f) ]] && pass "staging is empty after the refusals" ||
	fail "staging holds leftovers"
api "$TD" PUT "/v1/blobs/${H[1]}" -T "$T/c1.bin"
expect_code 201 "sending a pending blob again costs nothing"
api "$TD" POST "/v1/nodes/$DROOT/children" -d '{"name":"c1.bin","kind":2,"mode":420}'
CINO=$(jget '["ino"]')
api "$TD" PUT "/v1/nodes/$CINO/content" -d "{\"sha256\":\"${H[1]}\",\"size\":1048576}"
expect_code 200 "commit one pending blob"
api "$TD" PUT "/v1/blobs/$H4" -T "$T/c4.bin"
expect_code 201 "the commit made room: the 4th upload is taken"
stop2

# ===== issue 11, items 5 and 6: hostile requests and limits =====
# (sec-http) A server with small limits: each user 30 requests per hour,
# 4 connections per address. NUL bytes in names, bodies and the request
# line, and an HTTP/1.1 request without Host, are answered 400 with a
# reason and create nothing; a valid token passes after 10+ bad ones from
# the same address while bad ones get 429; the per-user budget gives 429 +
# Retry-After; the 5th concurrent connection from one address is refused
# while 4 idle ones stay open and usable.
serve_port "$T/serve-sec.log" "$STORE" --user-rate 30/3600 --conns-per-addr 4
expect_fail "serve refuses a malformed --user-rate" timeout 10 "$SIEVEFS" serve \
	"$T/store-x" --listen 127.0.0.1:0 --user-rate 10
expect_contains "$T/last.err" "N/SECONDS" "the message gives the format"
expect_fail "serve refuses --conns-per-addr 0" timeout 10 "$SIEVEFS" serve \
	"$T/store-x" --listen 127.0.0.1:0 --conns-per-addr 0

# raw NAME REQUEST — sends the bytes of REQUEST (a Python bytes literal;
# TOKEN in it is replaced by alice's token, CLEN by the body's length) on
# one connection; the answer's
# status in $code, its body in $T/body.
cat >"$T/raw.py" <<'PY'
import ast, socket, sys
port, tok, req = int(sys.argv[1]), sys.argv[2].encode(), ast.literal_eval(sys.argv[3])
req = req.replace(b"TOKEN", tok)
if b"CLEN" in req:
    req = req.replace(b"CLEN", str(len(req.split(b"\r\n\r\n", 1)[1])).encode())
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10)
s.sendall(req)
data = b""
while b"\r\n\r\n" not in data:
    d = s.recv(65536)
    if not d: break
    data += d
head, _, body = data.partition(b"\r\n\r\n")
n = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
while n and len(body) < n[0]:
    d = s.recv(65536)
    if not d: break
    body += d
open(sys.argv[4], "wb").write(body)
print(head.split(b" ")[1].decode() if head else "none")
PY
raw() {
	code=$(python3 "$T/raw.py" "$PORT" "$TA" "$2" "$T/body" 2>"$T/raw.err") ||
		{ sv_show "$T/raw.err"; code=error; }
	expect_code 400 "$1"
	expect_contains "$T/body" '"message"' "$1: the answer gives a reason"
}
jbody() {   # jbody JSON — a POST /v1/datasets request with that body
	printf "b'POST /v1/datasets HTTP/1.1\\\\r\\\\nHost: x\\\\r\\\\nAuthorization: Bearer TOKEN\\\\r\\\\nContent-Length: CLEN\\\\r\\\\n\\\\r\\\\n%s'" "$1"
}
api "$TA" GET /v1/datasets
cp "$T/body" "$T/before.json"
raw 'a JSON name "zz\u0000evil"' "$(jbody '{"name":"zz\\u0000evil"}')"
expect_contains "$T/body" 'NUL' "the reason names the NUL"
raw 'a \u0000 in a key' "$(jbody '{"na\\u0000me":"x"}')"
raw 'a raw 0 byte in a JSON body' "$(jbody '{"name":"zz\\x00evil"}')"
raw 'GET /v1/datasets\0/../x' \
	"b'GET /v1/datasets\\x00/../x HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer TOKEN\\r\\n\\r\\n'"
expect_contains "$T/body" 'request line' "the reason names the request line"
raw 'a NUL in the method' \
	"b'GET\\x00X /v1/datasets HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer TOKEN\\r\\n\\r\\n'"
raw 'POST /v1/datasets\0x with a body' \
	"b'POST /v1/datasets\\x00x HTTP/1.1\\r\\nHost: x\\r\\nAuthorization: Bearer TOKEN\\r\\nContent-Length: 13\\r\\n\\r\\n{\"name\":\"zz\"}'"
raw 'HTTP/1.1 without Host' \
	"b'GET /v1/datasets HTTP/1.1\\r\\nAuthorization: Bearer TOKEN\\r\\n\\r\\n'"
expect_contains "$T/body" 'Host' "the reason names Host"
code=$(python3 "$T/raw.py" "$PORT" "$TA" \
	"b'GET /v1/whoami HTTP/1.0\\r\\nAuthorization: Bearer TOKEN\\r\\n\\r\\n'" "$T/body")
expect_code 200 "HTTP/1.0 without Host is fine"
printf 'random\000 n=1' >"$T/nul-sample.txt"
api "$TA" GET "/v1/datasets/$DS/sample"
cp "$T/body" "$T/sample-before.txt"
api "$TA" POST "/v1/datasets/$DS/sample" --data-binary @"$T/nul-sample.txt"
expect_code 400 "a sample request with a NUL byte"
expect_contains "$T/body" 'NUL' "its reason names the NUL"
api "$TA" GET "/v1/datasets/$DS/sample"
expect_eq "$(cat "$T/sample-before.txt")" "$(cat "$T/body")" "no run was started"
printf '/a.jpg\000/../b.jpg\n' >"$T/nul-sel.txt"
api "$TA" PUT "/v1/datasets/$DS/selection" --data-binary @"$T/nul-sel.txt"
expect_code 400 "a selection text with a NUL byte"
expect_contains "$T/body" 'NUL' "its reason names the NUL"
printf 'path,x\nz.txt\000evil,1\n' >"$T/nul-emb.csv"
api "$TA" PUT "/v1/datasets/$DS/embeddings?name=nulemb" --data-binary @"$T/nul-emb.csv"
expect_code 400 "an embedding CSV with a NUL byte"
api "$TA" GET "/v1/datasets/$DS/embeddings?name=nulemb"
expect_code 404 "no embedding was stored"
api "$TA" GET "/v1/datasets?name=zz%00evil"
expect_code 400 "%00 in a query name"
api "$TA" GET /v1/datasets
expect_eq "$(cat "$T/before.json")" "$(cat "$T/body")" "nothing was created by the hostile requests"
api "$TA" POST /v1/datasets -d '{"name":"zz\\u0000evil"}'
expect_code 400 "an escaped backslash then u0000 is text (an invalid name here, not a NUL)"
expect_contains "$T/body" 'not a valid dataset name' "it reaches the name check"

# --- the lockout counts bad tokens per address, valid tokens pass
for _ in $(seq 12); do
	api "svf_$ZERO" GET /v1/whoami
done
expect_code 429 "bad tokens get 429 after 10 failures"
grep -qi '^Retry-After: [1-9]' <(curl -s -D - -o /dev/null \
	-H "Authorization: Bearer svf_$ZERO" "$U/v1/whoami") &&
	pass "the 429 carries Retry-After" || fail "no Retry-After on the lockout 429"
api "$TA" GET /v1/whoami
expect_code 200 "a valid token from the same address still works"
api "svf_$ZERO" GET /v1/whoami
expect_code 429 "bad tokens are still refused"

# --- the per-user budget: bob has 30 requests per hour here
n200=0
for _ in $(seq 30); do
	api "$TB" GET /v1/whoami
	[[ $code == 200 ]] && n200=$((n200 + 1))
done
expect_eq 30 "$n200" "bob's first 30 requests pass"
code=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' \
	-H "Authorization: Bearer $TB" "$U/v1/whoami")
expect_code 429 "bob's 31st request in the hour"
grep -qi '^Retry-After: [1-9]' "$T/hdr" && pass "with Retry-After ($(grep -i '^Retry-After' "$T/hdr" | tr -d '\r'))" ||
	fail "no Retry-After on the rate 429"
expect_contains "$T/body" '"errno":"EAGAIN"' "its errno is EAGAIN"
api "$TA" GET /v1/whoami
expect_code 200 "alice is not slowed down by bob"

# --- connections per address: 4 idle ones open, the 5th is refused, the
# 4 still answer, and one closed makes room again
python3 - "$PORT" "$TA" >"$T/conns.out" 2>&1 <<'PY'
import socket, sys
port, tok = int(sys.argv[1]), sys.argv[2].encode()
req = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + b"\r\n\r\n"
def ask(s):
    s.settimeout(10); s.sendall(req)
    try: d = s.recv(4096)
    except OSError as e: return "error %s" % e
    return d.split(b"\r\n")[0].decode() if d else "closed"
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
extra = socket.create_connection(("127.0.0.1", port))
print("fifth:", ask(extra))
for i, s in enumerate(idle):
    print("idle%d:" % i, ask(s))
idle[0].close()
import time
for _ in range(50):    # the server sees the close on its own schedule
    again = socket.create_connection(("127.0.0.1", port))
    a = ask(again)
    if a.startswith("HTTP"): break
    again.close(); time.sleep(0.1)
print("again:", a)
PY
grep -q '^fifth: \(closed\|error\)' "$T/conns.out" && pass "the 5th connection is refused" ||
	{ fail "the 5th connection was served"; sv_show "$T/conns.out"; }
[[ $(grep -c '^idle[0-3]: HTTP/1.1 200' "$T/conns.out") == 4 ]] &&
	pass "the 4 open connections still answer" ||
	{ fail "the open connections did not all answer"; sv_show "$T/conns.out"; }
grep -q '^again: HTTP/1.1 200' "$T/conns.out" && pass "a closed one makes room" ||
	{ fail "no room after a close"; sv_show "$T/conns.out"; }
sv_alive "$SPID" && pass "server 3 is still running" || fail "server 3 died"
kill -TERM "$SPID"
sv_wait_gone "$SPID" 10 && wait "$SPID"
