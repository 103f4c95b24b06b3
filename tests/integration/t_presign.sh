#!/usr/bin/env bash
#
# t_presign — reads without a server hop (issue 19 item 4): a server whose
# blobs are in a real Ceph RGW (tests/scale/rgw.sh, started here and
# stopped in the trap) answers reads with presigned URLs of the object
# store, after the same grant check as the bytes, and the remote mount
# reads from RGW directly.
#
# Proves: with local blobs, POST /v1/blob-urls answers "presign": false
# and no URL, and ?redirect=1 the bytes; a remote mount copies a tree in and reads it back equal with a
# cold cache (its bytes come from RGW by presigned URL: RGW's log shows
# presigned GETs) and warm; POST /v1/blob-urls gives alice a URL of her
# blob that curl reads (bytes of the hash), and bob — who knows the hash
# but never sent the bytes — no URL; GET /v1/blobs/SHA?redirect=1 is 307
# to the object store for alice, 404 for bob; /v1/nodes/INO/image?redirect=1
# is 307 for alice, 404 for bob, and 200 without ?redirect=1; the URL with a changed signature, or used to
# PUT, is refused by RGW (403), and after its expiry (SIEVEFS_PRESIGN_TTL
# 10 s on a second start of the server) too; the web app's CSP lets
# images come from the object store; RGW stopped: files read before still
# read (cache), uncached ones fail with EIO and the mount's log says why
# (the object store's address), and once RGW is back they read; RGW's
# user suspended (every URL refused, 403): the mount asks for a fresh URL
# once, then the read fails with EIO and a log line saying what to
# check, and reads again once the user is enabled; no
# presigned URL's signature in the server's or the mount's log.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl diff grep mountpoint fusermount3 radosgw ceph-mon ceph-osd radosgw-admin

# ---------------------------------------------------------------- local blobs
# a server whose blobs are local gives no URL and sends the bytes as before
mkdir -p "$T/lstore"
STORE=$T/lstore new_token alice "$T/la.tok" >/dev/null || die "token create failed"
lport=$(free_port) || die "no free port"
start_server "$lport" "$T/lstore" || die "sievefs serve did not come up"
U=http://127.0.0.1:$lport
LA=$(cat "$T/la.tok")
printf 'local bytes\n' >"$T/lb.txt"
lsha=$(sha256sum "$T/lb.txt" | cut -c1-64)
api "$LA" PUT "/v1/blobs/$lsha" -T "$T/lb.txt"
expect_code 201 "local blobs: alice sends a blob"
api "$LA" POST /v1/blob-urls -H 'Content-Type: application/json' --data "{\"sha256\":[\"$lsha\"]}"
expect_code 200 "local blobs: POST /v1/blob-urls"
expect_eq "False {}" "$(jget "['presign']") $(jget "['urls']")" "local blobs: no URL, \"presign\": false"
api "$LA" GET "/v1/blobs/$lsha?redirect=1"
expect_code 200 "local blobs: ?redirect=1 sends the bytes themselves"
expect_eq "local bytes" "$(cat "$T/body")" "local blobs: the bytes"
api "$LA" POST /v1/blob-urls -H 'Content-Type: application/json' --data '{"sha256":["zz"]}'
expect_code 400 "a hash that is not 64 hex digits"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

RGWSH=$SV_REPO/tests/scale/rgw.sh
RGW=$(mktemp -d /tmp/sievefs-rgw.XXXXXX) || die "mktemp failed"
# RGW goes with the test, whatever the exit; sv_cleanup keeps the status
trap 'rc=$?; bash "$RGWSH" stop "$RGW" >/dev/null 2>&1; (exit $rc); sv_cleanup' EXIT
bash "$RGWSH" start "$RGW" >"$T/rgw.out" 2>&1 || { sv_show "$T/rgw.out"; die "RGW did not start"; }
set -a
# shellcheck disable=SC1091
. "$RGW/s3.env"
set +a
note "RGW at $S3_ENDPOINT"
rgw_host=${S3_ENDPOINT#http://}

mkdir -p "$T/store"
new_token alice "$T/alice.tok" >/dev/null || die "token create failed"
new_token bob "$T/bob.tok" >/dev/null || die "token create failed"
port=$(free_port) || die "no free port"
U=http://127.0.0.1:$port
start_server "$port" "$T/store" --blobs "$S3_TARGET" || die "sievefs serve --blobs s3://… did not come up"
A=$(cat "$T/alice.tok")
B=$(cat "$T/bob.tok")

# ---------------------------------------------------------------- the mount
M=$T/mnt
python3 - "$T/src" <<'EOF' || die "could not make the source files"
import os, random, sys
rng = random.Random(7)
os.makedirs(sys.argv[1])
for i in range(120):          # one folder, as a training set's class
    with open(os.path.join(sys.argv[1], "f%03d.bin" % i), "wb") as f:
        f.write(rng.randbytes(rng.randint(0, 40000)))
os.makedirs(os.path.join(sys.argv[1], "other"))
with open(os.path.join(sys.argv[1], "other", "unread.bin"), "wb") as f:
    f.write(rng.randbytes(5000))   # a folder no read opens before the outage
EOF
dd if=/dev/urandom of="$T/src/big.bin" bs=1M count=3 status=none
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote mount failed"
ok "mkdir a dataset" mkdir "$M/ds"
ok "cp -r a tree in" cp -r "$T/src/." "$M/ds/initial-tag/"
sv_umount "$M"
rm -rf "$T/cache"
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache" \
	-o meta_ttl=1 || die "remote remount failed"
# read 60 files cold (other/ stays uncached for the outage below)
mkdir -p "$T/half"
for f in $(cd "$T/src" && ls | grep -v other | sort | head -60) big.bin; do
	cp "$M/ds/initial-tag/$f" "$T/half/$f" 2>>"$T/cold.err"
done
for f in $(cd "$T/half" && ls); do
	cmp -s "$T/src/$f" "$T/half/$f" || echo "$f" >>"$T/cold.diff"
done
expect_eq "" "$(cat "$T/cold.diff" "$T/cold.err" 2>/dev/null)" "cold reads through presigned URLs give the bytes back"
ok "warm reads too (diff of the same files)" bash -c 'for f in $(ls "$2"); do cmp -s "$1/$f" "$2/$f" || exit 1; done' _ "$M/ds/initial-tag" "$T/half"
# beast's access log: "GET /BUCKET/KEY?…X-Amz-Signature=… HTTP/1.1" 200
signed=$(cat "$RGW"/log/*rgw*.log 2>/dev/null | grep -c 'X-Amz-Signature=[^ ]* HTTP/1.1" 200' || true)
if ((signed >= 60)); then
	pass "RGW served $signed presigned GETs"
else
	fail "RGW's log shows $signed presigned GETs (want ≥ 60)"
fi

# ---------------------------------------------------------------- URLs by API
sha=$(sha256sum "$T/src/big.bin" | cut -c1-64)
api "$A" POST /v1/blob-urls -H 'Content-Type: application/json' --data "{\"sha256\":[\"$sha\"]}"
expect_code 200 "alice asks a URL of her blob"
url=$(jget "['urls'].get('$sha','')")
expect_eq True "$(jget "['presign']")" "the server says it presigns"
case $url in
http://"$rgw_host"/*X-Amz-Signature=*) pass "the URL is the object store's, presigned" ;;
*) fail "the URL is not a presigned one of $rgw_host: ${url%%\?*}" ;;
esac
got=$(curl -s "$url" | sha256sum | cut -c1-64)
expect_eq "$sha" "$got" "curl reads the blob's bytes from RGW with it"
code=$(curl -s -o /dev/null -w '%{http_code}' -r 5-9 "$url")
expect_eq 206 "$code" "a Range on the URL is honoured by RGW"
api "$B" POST /v1/blob-urls -H 'Content-Type: application/json' --data "{\"sha256\":[\"$sha\"]}"
expect_code 200 "bob asks a URL of alice's blob's hash"
expect_eq "{}" "$(jget "['urls']")" "bob gets no URL for a hash he never sent"
api "$A" GET "/v1/blobs/$sha?redirect=1"
expect_code 307 "GET /v1/blobs/SHA?redirect=1 for alice"
grep -qi "^location: http://$rgw_host/" "$T/hdr" && pass "its Location is the object store" ||
	fail "its Location is not the object store: $(grep -i '^location' "$T/hdr" | cut -c1-60)"
api "$B" GET "/v1/blobs/$sha?redirect=1"
expect_code 404 "GET /v1/blobs/SHA?redirect=1 for bob"
api "$A" GET "/v1/blobs/$sha"
expect_code 200 "without ?redirect=1 the server sends the bytes itself"
expect_eq "$sha" "$(sha256sum <"$T/body" | cut -c1-64)" "the server route's bytes are the blob's"
# the server's ino of big.bin (the mount numbers its inodes its own way)
api "$A" GET "/v1/datasets?name=ds"
root=$(jget "['live_root']")
api "$A" GET "/v1/nodes/$root/lookup?name=big.bin"
ino=$(jget "['ino']")
api "$A" GET "/v1/nodes/$ino/image?redirect=1"
expect_code 307 "the web app's image of a sample (?redirect=1): 307 to the object store"
api "$A" GET "/v1/nodes/$ino/image"
expect_code 200 "without ?redirect=1 the image's bytes from the server, as before"
api "$B" GET "/v1/nodes/$ino/image?redirect=1"
expect_code 404 "bob: no image of alice's sample"

# a changed signature, a PUT with a GET URL: RGW refuses (403)
sig=${url##*X-Amz-Signature=}
sig=${sig%%&*}
flip=$(printf '%s' "${sig:0:1}" | tr '0-9a-f' '1-9a-f0')${sig:1}
code=$(curl -s -o /dev/null -w '%{http_code}' "${url/$sig/$flip}")
expect_eq 403 "$code" "RGW refuses the URL with a changed signature"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data x "$url")
expect_eq 403 "$code" "RGW refuses a PUT with a GET URL"

# the web app's pages let images come from the object store
curl -s -D "$T/app.hdr" -o /dev/null "$U/"
grep -i '^content-security-policy' "$T/app.hdr" | grep -q "img-src [^;]*http://$rgw_host" &&
	pass "the app's CSP allows images from the object store" ||
	fail "the app's CSP lacks the object store: $(grep -i '^content-security' "$T/app.hdr")"

# ---------------------------------------------------------------- the object store away
ok "stop RGW" bash "$RGWSH" stop-rgw "$RGW"
ok "a file read before still reads (cache)" cmp -s "$T/src/big.bin" "$M/ds/initial-tag/big.bin"
unread=other/unread.bin
expect_errno "Input/output error" cat "$M/ds/initial-tag/$unread"
expect_contains "$M/log" "$rgw_host" "the mount's log names the object store it could not reach"
ok "start RGW again" bash "$RGWSH" start-rgw "$RGW"
ok "the uncached file reads once RGW is back" cmp -s "$T/src/$unread" "$M/ds/initial-tag/$unread"
ok "and every file of the tree" diff -r "$T/src" "$M/ds/initial-tag"
sv_umount "$M"

# ---------------------------------------------------------------- the store refuses (403)
# RGW's user suspended: every presigned URL of the server is refused
# (403). The mount asks the server for a fresh URL once (a second POST
# /v1/blob-urls), is refused again, and the open is EIO with a log line
# that says what to check; with the user enabled again the file reads.
rgwuid=$(timeout 60 radosgw-admin -c "$RGW/ceph.conf" metadata list user 2>/dev/null |
	python3 -c 'import json,sys; print([u for u in json.load(sys.stdin) if u.startswith("t")][0])') ||
	die "no RGW user found (radosgw-admin metadata list user)"
sv_mount "$U" "$M" -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache403" \
	-o meta_ttl=1 || die "remote remount failed"
ok "suspend RGW's user" timeout 60 radosgw-admin -c "$RGW/ceph.conf" user suspend --uid="$rgwuid"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
expect_eq 403 "$code" "RGW refuses the URLs of a suspended user"
expect_errno "Input/output error" cat "$M/ds/initial-tag/f007.bin"
# (logged only when the re-ask after the first 403 gave a second URL)
expect_contains "${SV_MNT_LOG[$M]}" "refused two fresh presigned URLs" "the mount asked again after the 403, was refused again, and says so"
expect_contains "${SV_MNT_LOG[$M]}" "clocks in step" "the log line says what to check"
ok "enable RGW's user again" timeout 60 radosgw-admin -c "$RGW/ceph.conf" user enable --uid="$rgwuid"
ok "the file reads once the store takes the URLs again" cmp -s "$T/src/f007.bin" "$M/ds/initial-tag/f007.bin"
sv_umount "$M"

# ---------------------------------------------------------------- expiry
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SIEVEFS_PRESIGN_TTL=10 start_server "$port" "$T/store" --blobs "$S3_TARGET" ||
	die "the server did not come up again"
api "$A" POST /v1/blob-urls -H 'Content-Type: application/json' --data "{\"sha256\":[\"$sha\"]}"
url=$(jget "['urls'].get('$sha','')")
code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
expect_eq 200 "$code" "a 10 s URL works at once"
sleep 12
code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
expect_eq 403 "$code" "RGW refuses it after its expiry"
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null

# nothing secret in the logs
expect_fail "the server log holds no presigned signature" grep -q 'X-Amz-Signature' "$SERVER_LOG"
expect_fail "the mount's log holds no presigned signature" grep -q 'X-Amz-Signature' "$T"/daemon.*.log
expect_fail "the server log holds no token" grep -qF "$A" "$SERVER_LOG"
