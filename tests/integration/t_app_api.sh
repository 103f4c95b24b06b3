#!/usr/bin/env bash
#
# t_app_api — the v1 routes the web app adds (api/routes_app.c, issue 17),
# driven with curl against a real `sievefs serve`, with a remote mount of
# the same server as the other door.
#
# Proves: `sievefs token create --name` names a token and `token list`
# prints names and last use; GET /v1/tokens lists only the caller's
# unrevoked tokens, newest first, `current` on the request's own token (by
# bearer, and by session cookie: the token that signed in), last_used_ns
# set once used; POST /v1/tokens makes a named token (201, no-store, shown
# once, works at once, never in the server's log); a bad name (empty, 65
# bytes, a control byte, not a string, no JSON) → 400 with the reason and
# no token made; by cookie without Origin → 403 csrf and no token made,
# with the server's Origin → 201; DELETE /v1/tokens/{id} of another user's
# token → 404 and it still works, of one's own → 204, it stops at once and
# so does the session it made (401 on its cookie); a second DELETE → 404.
# Authenticating does not write the catalog per request: 60 requests with
# one token move PRAGMA data_version (a reader's count of other
# connections' commits, taken once the server's WAL checkpoint has passed)
# by at most 1, and leave last_used as it was. GET
# /v1/datasets/{id}/state: a file copied in through the remote mount moves
# "tree" (and the selection, implicit over the live tree) and nothing
# else, and "tree" equals the sample table's X-Sievefs-Gen; a tag moves "tags"; a selection write moves "selection"; an
# embedding CSV moves "embeddings"; a sampling run moves "runs"; another
# user's dataset → 404. GET /v1/datasets/{id}/runs: newest first with
# number, state, strategy, phase, counts and times; ?limit=1 gives one;
# ?limit=0/101/x → 400 with the reason; another user's → 404. GET
# /v1/tags/{id}/filenames: exactly the tag's paths in the selection's
# quoting (a tab is quoted), an RFC 6266 Content-Disposition with an ASCII
# fallback and filename*=UTF-8''; another user's tag → 404. GET
# /v1/tags/{id}/tar: GNU tar extracts exactly the tag's files (sha256sum of
# each equal to its original: a name with spaces, a unicode name, a tab,
# sub-folders), a sample whose bytes stay with the uploader (upload=meta)
# is not in it and SKIPPED.txt says why; another user's tag → 404; a
# 1,000-file tag (~32 MB) streams while the server's peak RSS grows by far
# less than the archive (VmHWM reset before, read after). Through an
# embedded mount serving the API (-o web=: one process, the other door),
# a cp, a tag's mkdir, the selection file, an embeddings CSV and a sample
# request each move their counter at the web door, and the tar of a tag
# made in the mount holds its files. A run seen while
# it runs says state running, phase embedding and its live total, and
# state's "runs" carries the clock until it ends (then no phase).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3 sqlite3 tar sha256sum fusermount3

STORE=$T/store
mkdir -p "$STORE"
ok "token create --name" "$SIEVEFS" token create --store "$STORE" --name "laptop one" alice
TA=$(cat "$T/last.out")
AID=$(sed -n 's/.*token \([0-9][0-9]*\) for user.*/\1/p' "$T/last.err")
(umask 077 && printf '%s\n' "$TA" >"$T/alice.tok")
TB=$(STORE=$STORE new_token bob "$T/bob.tok" >/dev/null && cat "$T/bob.tok") ||
	die "token create failed"
expect_fail "token create --name with a control byte" \
	"$SIEVEFS" token create --store "$STORE" --name "$(printf 'a\tb')" alice
ok "token list" "$SIEVEFS" token list --store "$STORE"
expect_contains "$T/last.out" "laptop one" "token list prints the token's name"
expect_contains "$T/last.out" "LAST-USED" "token list has a last-used column"

# the server (api, expect_code, jget: server_lib.sh); an ASan build keeps
# freed memory in quarantine, which would count as RSS held by the download
# below (other builds ignore ASAN_OPTIONS)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0 \
	serve_port "$T/serve.log" "$STORE"
ORIGIN=$U

# jpy CODE — python CODE with d the JSON in $T/body
jpy() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); exec(sys.argv[2])' "$T/body" "$1"; }
hdr() { tr -d '\r' <"$T/hdr" | sed -n "s/^$1: //Ip" | head -1; }
ntokens() { sv_catalog_sql "$STORE" "SELECT count(*) FROM tokens WHERE \"user\"='$1' AND revoked=0"; }

# --- tokens
api "$TA" GET /v1/tokens
expect_code 200 "GET /v1/tokens"
expect_eq "['laptop one']" "$(jpy 'print([t["name"] for t in d["tokens"]])')" \
	"alice sees her one token by name (not bob's)"
expect_eq True "$(jget '["tokens"][0]["current"]')" "the request's token is current"
[[ $(jget '["tokens"][0]["last_used_ns"]') =~ ^[0-9]+$ ]] &&
	pass "last_used_ns is set once used" || fail "last_used_ns: $(cat "$T/body")"

api "$TA" POST /v1/tokens -d '{"name":"ci runner ✓"}'
expect_code 201 "POST /v1/tokens"
TC=$(jget '["token"]')
CID=$(jget '["id"]')
expect_eq "ci runner ✓" "$(jget '["name"]')" "the new token has its name"
expect_eq "no-store" "$(hdr Cache-Control)" "the answer holding a token is no-store"
[[ $TC =~ ^svf_[0-9a-f]{64}$ ]] && pass "the token is answered once" || fail "token: $TC"
api "$TC" GET /v1/whoami
expect_code 200 "the new token works at once"
api "$TC" GET /v1/tokens
expect_eq "[$CID, $AID]" "$(jpy 'print([t["id"] for t in d["tokens"]])')" \
	"newest first"
expect_eq "[True, False]" "$(jpy 'print([t["current"] for t in d["tokens"]])')" \
	"current marks only the token of this request"
api "$TB" GET /v1/tokens
expect_eq 1 "$(jpy 'print(len(d["tokens"]))')" \
	"bob sees only his token"

before=$(ntokens alice)
for body in '{"name":""}' "{\"name\":\"$(printf 'x%.0s' $(seq 65))\"}" \
	'{"name":"a\u0001b"}' '{"name":"a\u007fb"}'; do
	api "$TA" POST /v1/tokens -d "$body"
	expect_code 400 "a bad token name: ${body:0:24}"
	expect_contains "$T/body" "1-64 bytes" "... says what a name is"
done
for body in '{}' '{"name":5}' '{"name":'; do
	api "$TA" POST /v1/tokens -d "$body"
	expect_code 400 "a bad token body: $body"
	expect_contains "$T/body" "bad_json" "... is bad_json"
done
expect_eq "$before" "$(ntokens alice)" "no token made by a refused request"

# another user's token id: 404, and it still works
api "$TB" DELETE "/v1/tokens/$CID"
expect_code 404 "bob revokes alice's token"
api "$TC" GET /v1/whoami
expect_code 200 "... which still works"
api "$TA" DELETE "/v1/tokens/abc"
expect_code 400 "a bad token id"
api "$TA" DELETE "/v1/tokens/$CID"
expect_code 204 "alice revokes her token"
api "$TC" GET /v1/whoami
expect_code 401 "the revoked token stops at once"
api "$TA" DELETE "/v1/tokens/$CID"
expect_code 404 "revoking it again"

# by session cookie: current = the token that signed in; CSRF on create
code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X POST \
	-d "{\"token\":\"$TA\"}" "$U/app/session")
expect_code 201 "sign in with alice's token"
SID=$(tr -d '\r' <"$T/hdr" | sed -n 's/^[Ss]et-[Cc]ookie: sievefs_session=\([0-9a-f]*\);.*/\1/p')
CK="sievefs_session=$SID"
api "" GET /v1/tokens -b "$CK"
expect_code 200 "GET /v1/tokens by cookie"
expect_eq "[($AID, True)]" "$(jpy 'print([(t["id"],t["current"]) for t in d["tokens"]])')" \
	"the session's token is current"
before=$(ntokens alice)
api "" POST /v1/tokens -b "$CK" -d '{"name":"phish"}'
expect_code 403 "POST /v1/tokens by cookie without Origin"
expect_contains "$T/body" csrf "... is the csrf refusal"
api "" POST /v1/tokens -b "$CK" -H "Origin: http://evil.example" -d '{"name":"phish"}'
expect_code 403 "... with a foreign Origin"
expect_eq "$before" "$(ntokens alice)" "no token made by a cross-site request"
api "" POST /v1/tokens -b "$CK" -H "Origin: $ORIGIN" -d '{"name":"web"}'
expect_code 201 "POST /v1/tokens by cookie with the server's Origin"
TW=$(jget '["token"]')
WID=$(jget '["id"]')

# revoking the token of a session ends that session (the browser's own)
code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X POST \
	-d "{\"token\":\"$TW\"}" "$U/app/session")
SW=sievefs_session=$(tr -d '\r' <"$T/hdr" | sed -n 's/^[Ss]et-[Cc]ookie: sievefs_session=\([0-9a-f]*\);.*/\1/p')
api "" GET /v1/tokens -b "$SW"
expect_eq "$WID" "$(jpy 'print([t["id"] for t in d["tokens"] if t["current"]][0])')" \
	"the second session's current token is the one it signed in with"
api "" DELETE "/v1/tokens/$WID" -b "$SW" -H "Origin: $ORIGIN"
expect_code 204 "revoke the current session's own token"
api "" GET /app/session -b "$SW"
expect_code 401 "... and that session has ended"
api "" GET /v1/tokens -b "$CK"
expect_code 200 "the other session lives on"

# no write per request: SQLite's data_version counts other connections'
# commits; PostgreSQL's next transaction id moves only when a transaction
# writes (a read-only one gets none)
if sv_catalog_pg "$STORE"; then
	xid() { sv_catalog_sql "$STORE" "SELECT pg_snapshot_xmax(pg_current_snapshot())"; }
	lu() { sv_catalog_sql "$STORE" "SELECT last_used FROM tokens WHERE id=$AID"; }
	for _ in 1 2 3 4 5 6 7 8; do
		a=$(xid); sleep 1.5
		[[ $(xid) == "$a" ]] && break
	done
	v0=$(xid) l0=$(lu)
	for _ in $(seq 60); do
		curl -s -o /dev/null -H "Authorization: Bearer $TA" "$U/v1/whoami"
	done
	[[ $(lu) == "$l0" ]] && lsame=True || lsame=False
	echo "$(($(xid) - v0)) $lsame" >"$T/dv.out"
else
python3 - "$STORE/catalog.db" "$U" "$TA" "$AID" >"$T/dv.out" 2>&1 <<'EOF'
import sqlite3, subprocess, sys
db, url, tok, tid = sys.argv[1:5]
c = sqlite3.connect(db)
lu = lambda: c.execute("SELECT last_used FROM tokens WHERE id=?", (tid,)).fetchone()[0]
dv = lambda: c.execute("PRAGMA data_version").fetchone()[0]
# the server's WAL checkpoint after the last change (about 1 s after it)
# also moves data_version: wait until it stands still for 1.5 s
import time
for _ in range(8):
    a = dv(); time.sleep(1.5)
    if dv() == a:
        break
v0, l0 = dv(), lu()
for _ in range(60):
    subprocess.run(["curl", "-s", "-o", "/dev/null", "-H", "Authorization: Bearer " + tok,
                    url + "/v1/whoami"], check=True)
print(dv() - v0, lu() == l0)
EOF
fi
read -r dvn lsame <"$T/dv.out"
note "60 authenticated requests: data_version moved by $dvn, last_used unchanged: $lsame"
[[ $dvn =~ ^[01]$ && $lsame == True ]] &&
	pass "60 authenticated requests do not write the catalog per request ($dvn commits seen, last_used unchanged)" ||
	fail "authenticated requests wrote the catalog: $(cat "$T/dv.out")"

# --- data through the other door: a remote mount of alice
M=$T/mnt
sv_mount "http://127.0.0.1:$PORT" "$M" -o "token_file=$T/alice.tok" \
	-o "cache_dir=$T/cache" -o meta_ttl=1 || die "remote mount failed"
ok "mkdir a dataset through the mount" mkdir "$M/ds"
api "$TA" GET "/v1/datasets?name=ds"
DS=$(jget '["id"]')
LROOT=$(jget '["live_root"]')
src=$T/src
mkdir -p "$src/sub dir/deeper"
printf 'hello\n' >"$src/a.txt"
printf 'spaces\n' >"$src/with some spaces.txt"
printf 'unicode\n' >"$src/ünïcödé ✓.txt"
printf 'tab\n' >"$src/$(printf 'tab\there.txt')"
head -c 100000 /dev/urandom >"$src/sub dir/deeper/blob.bin"
printf 'x\n' >"$src/sub dir/x.txt"

# state N — the state of $DS as ${STOK:-$TA} sees it, into $T/state.N
state() {
	api "${STOK:-$TA}" GET "/v1/datasets/$DS/state"
	[[ $code == 200 ]] || fail "GET state: $code"
	cp "$T/body" "$T/state.$1"
}
# changed A B KEYS — the keys whose values differ between states A and B
changed() { python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(" ".join(k for k in sorted(a) if a[k]!=b[k]))' "$T/state.$1" "$T/state.$2"; }
state 0
expect_code 200 "GET state"
expect_eq "embeddings name runs selection tags tree" "$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$T/state.0")" \
	"state has the five counters and the dataset's name"
state_name() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$1"; }
ok "cp the files in through the mount" cp -r "$src/." "$M/ds/initial-tag/"
state 1
expect_eq "selection tree" "$(changed 0 1)" "files copied in through the mount move tree (and the implicit selection), nothing else"
state 1b
expect_eq "" "$(changed 1 1b)" "unchanged when nothing changed"
ok "mv the dataset in the mount" mv "$M/ds" "$M/dsx"
state 1c
expect_eq "name dsx" "$(changed 1b 1c) $(state_name "$T/state.1c")" \
	"a rename through the mount: state's name follows, no counter moves"
ok "mv it back" mv "$M/dsx" "$M/ds"
api "$TA" GET "/v1/datasets/$DS/table"
expect_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tree"])' "$T/state.1b")" \
	"$(hdr X-Sievefs-Gen)" "state's tree is the sample table's X-Sievefs-Gen"
api "$TB" GET "/v1/datasets/$DS/state"
expect_code 404 "bob reads alice's state"

# a kept sample (upload=meta): its bytes stay with the uploader
printf 'kept bytes\n' >"$T/kept.bin"
KSHA=$(sha256sum "$T/kept.bin" | cut -d' ' -f1)
api "$TA" POST "/v1/nodes/$LROOT/children" -d '{"name":"kept.bin","kind":2,"mode":420}'
KINO=$(jget '["ino"]')
api "$TA" PUT "/v1/nodes/$KINO/content" -d "{\"sha256\":\"$KSHA\",\"size\":11,\"bytes\":\"kept\"}"
expect_code 200 "commit a kept sample"
state 1c
expect_eq "selection tree" "$(changed 1b 1c)" "a commit through the API moves tree"

api "$TA" POST "/v1/datasets/$DS/tags" -d '{"name":"all-of-it"}'
expect_code 201 "freeze a tag"
TAG=$(jget '["id"]')
state 2
expect_eq "tags" "$(changed 1c 2)" "a tag moves tags only"
state 2b
printf 'a.txt\n' >"$T/sel.txt"
api "$TA" PUT "/v1/datasets/$DS/selection" --data-binary @"$T/sel.txt"
expect_code 204 "write the selection"
state 3
expect_eq "selection" "$(changed 2b 3)" "a selection write moves selection only"
python3 - "$T/emb.csv" <<'EOF'
import sys
paths = ["a.txt", "with some spaces.txt", "ünïcödé ✓.txt", "sub dir/x.txt", "sub dir/deeper/blob.bin"]
with open(sys.argv[1], "w") as f:
    f.write("filenames,embedding_0,embedding_1,labels\n")
    for i, p in enumerate(paths):
        f.write("\"%s\",%d,%d,0\n" % (p, i, i * i))
EOF
api "$TA" PUT "/v1/datasets/$DS/embeddings?name=e1" --data-binary @"$T/emb.csv"
expect_code 201 "upload an embedding"
state 4
expect_eq "embeddings" "$(changed 3 4)" "an embedding moves embeddings only"

# --- runs
api "$TA" GET "/v1/datasets/$DS/runs"
expect_code 200 "GET runs with none"
expect_eq "[]" "$(jget '["runs"]')" "no runs yet"
for i in 1 2; do
	api "$TA" POST "/v1/datasets/$DS/sample" --data-binary "random n=2 seed=$i embedding=e1"
	expect_code 202 "queue run $i"
	for _ in $(seq 100); do
		api "$TA" GET "/v1/datasets/$DS/runs?limit=1"
		[[ $(jget '["runs"][0]["state"]') == done ]] && break
		sleep 0.1
	done
done
state 5
expect_eq "runs selection" "$(changed 4 5)" "runs (which set the selection) move runs and selection"
# a line body with a NUL byte is refused, and says so (both B_LINE routes)
printf 'random n=2\0 seed=1\n' > "$T/nul.line"
for p in sample duplicates; do
	api "$TA" POST "/v1/datasets/$DS/$p" --data-binary @"$T/nul.line"
	expect_code 400 "POST $p with a NUL byte"
	expect_contains "$T/body" "contains a NUL byte" "... says it holds a NUL byte"
done
api "$TA" GET "/v1/datasets/$DS/runs"
expect_code 200 "GET runs"
expect_eq "[2, 1]" "$(jpy 'print([r["number"] for r in d["runs"]])')" \
	"latest first"
expect_eq "done random  2 2" "$(jpy 'r=d["runs"][0]; print(r["state"], r["strategy"], r["phase"], r["done"], r["total"])')" \
	"a run's state, strategy, phase and counts"
[[ $(jget '["runs"][0]["finished_ns"]') =~ ^[0-9]+$ ]] && pass "a finished run has finished_ns" ||
	fail "finished_ns: $(cat "$T/body")"
api "$TA" GET "/v1/datasets/$DS/runs?limit=1"
expect_eq 1 "$(jpy 'print(len(d["runs"]))')" "?limit=1 gives one"
for l in 0 101 x -1; do
	api "$TA" GET "/v1/datasets/$DS/runs?limit=$l"
	expect_code 400 "?limit=$l"
	expect_contains "$T/body" "from 1 to 100" "... says the range"
done
api "$TB" GET "/v1/datasets/$DS/runs"
expect_code 404 "bob reads alice's runs"

# --- a tag's file names
(cd "$src" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) >"$T/want.paths"
echo kept.bin >>"$T/want.paths"
python3 - "$T/want.paths" >"$T/want.lines" <<'EOF'
import sys
for p in sorted(l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8", errors="surrogateescape")):
    if "\t" in p:
        p = '"' + p.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'
    sys.stdout.write(p + "\n")
EOF
api "$TA" GET "/v1/tags/$TAG/filenames"
expect_code 200 "GET filenames"
LC_ALL=C sort "$T/want.lines" >"$T/want.sorted"
LC_ALL=C sort "$T/body" >"$T/got.sorted"
expect_list_eq "$T/want.sorted" "$T/got.sorted" "the tag's paths, a tab quoted as the selection quotes it"
expect_contains "$T/body" '"tab\there.txt"' "the tab's line is quoted"
expect_eq "attachment; filename=\"all-of-it.txt\"; filename*=UTF-8''all-of-it.txt" \
	"$(hdr Content-Disposition)" "Content-Disposition: an ASCII fallback and the exact name"
api "$TB" GET "/v1/tags/$TAG/filenames"
expect_code 404 "bob reads alice's tag's names"

# --- a tag's files as a tar
api "$TA" GET "/v1/tags/$TAG/tar"
expect_code 200 "GET tar"
mv "$T/body" "$T/tag.tar"
expect_eq "application/x-tar" "$(hdr Content-Type)" "Content-Type"
expect_contains "$T/hdr" "filename*=UTF-8''all-of-it.tar" "Content-Disposition names the tag"
mkdir -p "$T/x"
ok "GNU tar extracts it" tar -xf "$T/tag.tar" -C "$T/x"
(cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$T/want.sums"
(cd "$T/x" && find . -type f ! -name SKIPPED.txt -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$T/got.sums"
expect_list_eq "$T/want.sums" "$T/got.sums" "every file of the tag, sha256sum equal to its original (spaces, unicode, tab, folders)"
[[ ! -e $T/x/kept.bin ]] && pass "the kept sample is not in the archive" || fail "kept.bin is in the archive"
expect_contains "$T/x/SKIPPED.txt" "kept.bin	kept by the uploader" "SKIPPED.txt lists it with the reason"
api "$TB" GET "/v1/tags/$TAG/tar"
expect_code 404 "bob downloads alice's tag"
api "$TA" GET "/v1/tags/999999/tar"
expect_code 404 "an absent tag"

# --- a 1,000-file tag streams without the server holding the archive
ok "mkdir a big dataset" mkdir "$M/big"
python3 - "$T/big" <<'EOF'
import os, random, sys
r = random.Random(11)
for i in range(1000):
    d = os.path.join(sys.argv[1], "d%02d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.bin" % i), "wb") as f:
        f.write(r.randbytes(32768))
EOF
ok "cp 1,000 files in" cp -r "$T/big/." "$M/big/initial-tag/"
api "$TA" GET "/v1/datasets?name=big"
BDS=$(jget '["id"]')
api "$TA" POST "/v1/datasets/$BDS/tags" -d '{"name":"thousand"}'
BTAG=$(jget '["id"]')
echo 5 >"/proc/$SPID/clear_refs" 2>/dev/null || note "cannot reset VmHWM"
hwm0=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
rss0=$(awk '/^VmRSS:/ {print $2}' "/proc/$SPID/status")
api "$TA" GET "/v1/tags/$BTAG/tar"
expect_code 200 "GET the 1,000-file tar"
mv "$T/body" "$T/big.tar"
hwm1=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
size_kb=$(( $(stat -c %s "$T/big.tar") / 1024 ))
note "archive ${size_kb} kB; server RSS ${rss0} kB before, peak ${hwm1} kB during (peak reset to ${hwm0} kB)"
[[ $hwm1 =~ ^[0-9]+$ && $rss0 =~ ^[0-9]+$ ]] || die "cannot read the server's RSS"
((hwm1 - rss0 < size_kb / 4)) && pass "the server's peak RSS grew by $((hwm1 - rss0)) kB for a ${size_kb} kB archive" ||
	fail "the server's peak RSS grew by $((hwm1 - rss0)) kB for a ${size_kb} kB archive"
mkdir -p "$T/bx"
ok "GNU tar extracts the big one" tar -xf "$T/big.tar" -C "$T/bx"
expect_tree_eq "$T/big" "$T/bx" "diff -r: the 1,000 files came back intact"

# --- a run seen while it runs: state, phase and live progress
ok "mkdir a dataset of slow images" mkdir "$M/slow"
mkdir -p "$T/slow"
PY=/usr/bin/python3 sv_slow_pngs "$T/slow" 40 app || die "cannot make the slow images"
ok "cp 40 slow images in" cp -r "$T/slow/." "$M/slow/initial-tag/"
api "$TA" GET "/v1/datasets?name=slow"
SDS=$(jget '["id"]')
api "$TA" POST "/v1/datasets/$SDS/sample" --data-binary 'embed'
expect_code 202 "queue an embed run"
seen=""
for _ in $(seq 600); do
	api "$TA" GET "/v1/datasets/$SDS/runs"
	r=$(jpy 'r=d["runs"][0]; print(r["state"], r["phase"], r["total"])')
	case $r in
	"running embedding "[1-9]*) seen=$r; break ;;
	done* | failed* | cancelled*) break ;;
	esac
	sleep 0.05
done
[[ -n $seen ]] && pass "a running embed run: state running, phase embedding, live total ($seen)" ||
	fail "never saw the run running with its phase: last [$r]"
api "$TA" GET "/v1/datasets/$SDS/state"
[[ $(jget '["runs"]') == *.* ]] && pass "state's runs carries the clock while a run is active ($(jget '["runs"]'))" ||
	fail "state's runs while a run is active: $(cat "$T/body")"
api "$TA" POST "/v1/datasets/$SDS/sample" --data-binary 'cancel'
for _ in $(seq 200); do
	api "$TA" GET "/v1/datasets/$SDS/runs"
	st=$(jget '["runs"][0]["state"]')
	[[ $st == cancelled || $st == done ]] && break
	sleep 0.1
done
# the cancel may come after the last image: done is as good
r=$(jpy 'r=d["runs"][0]; print(r["state"], r["phase"])')
[[ $r == "cancelled " || $r == "done " ]] && pass "an ended run has no phase ($r)" ||
	fail "an ended run: [$r]"
api "$TA" GET "/v1/datasets/$SDS/state"
[[ $(jget '["runs"]') != *.* ]] && pass "state's runs is a plain counter once no run is active" ||
	fail "state's runs after the run: $(cat "$T/body")"

sv_umount "$M"

# --- the other door in one process: an embedded mount serving the API
# (-o web=), its changes made through FUSE
WS=$T/wstore
WM=$T/wmnt
sv_mount "$WS" "$WM" -o web=127.0.0.1:0 || die "mount with -o web= failed"
WPORT=$(sed -n 's|^sievefs: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "${SV_MNT_LOG[$WM]}" | tail -1)
[[ -n $WPORT ]] || die "the mount printed no address"
TM=$(STORE=$WS new_token alice "$T/m.tok" >/dev/null && cat "$T/m.tok") || die "token create beside the mount failed"
U_SAVED=$U
U=http://127.0.0.1:$WPORT
STOK=$TM
ok "mkdir a dataset in the mount" mkdir "$WM/w"
api "$TM" GET "/v1/datasets?name=w"
expect_code 200 "the mount's door lists the dataset"
DS=$(jget '["id"]')
state m0
ok "cp files into the mount" cp -r "$src/." "$WM/w/initial-tag/"
state m1
expect_eq "selection tree" "$(changed m0 m1)" "a cp through the mount moves tree (and the implicit selection) at the web door"
ok "mkdir a tag in the mount" mkdir "$WM/w/t1"
state m2
expect_eq "tags" "$(changed m1 m2)" "a mkdir of a tag in the mount moves tags"
ok "write the selection in the mount" cp "$T/sel.txt" "$WM/w/selection"
state m3
expect_eq "selection" "$(changed m2 m3)" "the selection file written in the mount moves selection"
ok "cp an embedding CSV into the mount" cp "$T/emb.csv" "$WM/w/embeddings/e1.csv"
state m4
expect_eq "embeddings" "$(changed m3 m4)" "an embedding copied into the mount moves embeddings"
ok "a sampling request in the mount" sh -c "echo 'random n=2 embedding=e1' > '$WM/w/sample'"
for _ in $(seq 100); do
	grep -q '^status: \(done\|failed\)' "$WM/w/sample" && break
	sleep 0.1
done
state m5
expect_eq "runs selection" "$(changed m4 m5)" "a run in the mount moves runs (and the selection it sets)"
api "$TM" GET "/v1/datasets/$DS/runs"
expect_eq "done random" "$(jpy 'r=d["runs"][0]; print(r["state"], r["strategy"])')" \
	"the mount's run at the web door"
api "$TM" GET "/v1/datasets/$DS/tags"
MTAG=$(python3 -c 'import json,sys; print([t["id"] for t in json.load(open(sys.argv[1]))["tags"] if t["name"]=="t1"][0])' "$T/body")
api "$TM" GET "/v1/tags/$MTAG/tar"
expect_code 200 "the tar of a tag made in the mount"
mv "$T/body" "$T/m.tar"
mkdir -p "$T/mx"
ok "GNU tar extracts it" tar -xf "$T/m.tar" -C "$T/mx"
(cd "$T/mx" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$T/m.sums"
expect_list_eq "$T/want.sums" "$T/m.sums" "the mount's tag, every file equal to its original (no SKIPPED.txt)"
sv_umount "$WM"
U=$U_SAVED
STOK=

# --- secrets never in the log
for t in "$TA" "$TC" "$TW"; do
	if grep -qF -- "${t#svf_}" "$T/serve.log"; then
		fail "a token is in the server's log"
	else
		pass "token ${t:0:8}… is not in the server's log"
	fi
done
