#!/usr/bin/env bash
#
# t_mount_web — the web door of an embedded mount (issue 17):
# `sievefs STORE MNT -o web=127.0.0.1:0` serves the HTTP API and the web app
# from the mount daemon, over the mount's own backend.
#
# Proves: the mount prints "sievefs: listening on http://127.0.0.1:PORT" as
# `sievefs serve` does; a token made by `sievefs token create --store` while
# the mount runs signs in (POST /app/session → 201 and a cookie; GET
# /app/session names the user), and so does another user's token (the rule:
# the web door of a single-user mount shows the mount's datasets to every
# valid token of its store); a wrong token → 401; static files come from
# -o web_root=. The two doors agree both ways: mkdir in the mount → the
# dataset is in GET /v1/datasets; POST /v1/datasets → `ls MNT` shows it; a
# file copied into initial-tag → in the API's listing of the live root, and
# its bytes by GET /v1/blobs/SHA (bytes copied in through the mount carry no
# upload grant); a dataset and a full upload through the lightly door with
# another user's token → the mount's folder and bytes; POST /v1/datasets/ID/tags → a folder with the same files in
# the mount; a tag renamed (PATCH) and deleted (DELETE) over HTTP → the old
# name is gone from the mount at once (the kernel is told: a frozen tag's
# entry is otherwise kept a day), and a file of it opened before the delete
# still reads; mkdir of the freed name then works. Refusals, each with its
# message, exit status 1, nothing mounted and no store created: a busy
# port, a non-loopback address without TLS, a malformed address, web
# options in remote mode, web_root without web=, a TLS cert without its
# key; and a store a running mount owns. -o web_insecure_http allows plain
# http on 0.0.0.0; -o web_tls_cert=,web_tls_key= serves https (a Secure
# cookie). Shutdown: fusermount3 -u while a download is under way → the
# daemon exits 0 without waiting for it (the download is cut) and the port
# refuses connections; a remount on the same port works (and the session
# made before still signs in: sessions live in the store); SIGTERM and
# SIGINT each unmount, stop the server and exit 0; after kill -9 a remount
# on the same port works (port and store lock freed). The README's command
# (no -f: the daemon forks into the background) serves the app and the API,
# and fusermount3 -u stops its server. No token in the mounts' logs.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl python3 openssl grep

STORE=$T/store
M=$T/mnt
W=$T/web
mkdir -p "$W"
printf '<!doctype html><title>sievefs</title><p>mount app</p>\n' >"$W/index.html"

# web_port MNT — the port MNT's daemon printed ('' if none)
web_port() {
	sed -n 's|^sievefs: listening on https*://127.0.0.1:\([0-9]*\)$|\1|p' \
		"${SV_MNT_LOG[$1]}" | tail -1
}

# req METHOD PATH [curl args...] — body in $T/body, headers in $T/hdr,
# status in $code (000: no connection), curl's exit status in $crc
req() {
	local method=$1 path=$2
	shift 2
	code=$(curl -s ${CURL_TLS:+--cacert "$CURL_TLS"} -D "$T/hdr" -o "$T/body" \
		-w '%{http_code}' -X "$method" "$@" "$U$path")
	crc=$?
}

cookie_of() {
	sed -n 's/^Set-Cookie: sievefs_session=\([^;]*\);.*/\1/Ip' "$T/hdr" | tr -d '\r'
}

signin() {  # signin TOKEN [curl args...]
	local tok=$1
	shift
	req POST /app/session -H 'Content-Type: application/json' \
		--data-binary "{\"token\":\"$tok\"}" "$@"
}

# by_cookie METHOD PATH [curl args...] — as the signed-in browser ($C)
by_cookie() {
	local method=$1 path=$2
	shift 2
	req "$method" "$path" -b "sievefs_session=$C" -H "Origin: $U" "$@"
}

# jq_py EXPR — evaluate EXPR on the JSON in $T/body (as j)
jq_py() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/body" "$1"
}

# wait_for DESC SECONDS CMD... — CMD succeeds within SECONDS (a kernel
# cache of a name lasts the mount's live TTL, 1 s)
wait_for() {
	local desc=$1 n=$(($2 * 10)) i
	shift 2
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && { pass "$desc"; return 0; }
		sleep 0.1
	done
	fail "$desc"
	return 1
}

# refused DESC TEXT MNT ARGS... — the mount fails with TEXT on stderr,
# exit status 1, and MNT is not mounted
refused() {
	local desc=$1 text=$2 mnt=$3 rc
	shift 3
	mkdir -p "$mnt"
	timeout 20 "$SIEVEFS" "$@" "$mnt" -f </dev/null >"$T/refused.out" 2>&1
	rc=$?
	if ((rc == 1)) && grep -qF -- "$text" "$T/refused.out" && ! sv_is_mounted "$mnt"; then
		pass "$desc: exit 1, \"$text\", nothing mounted"
	else
		fail "$desc: exit $rc, mounted: $(sv_is_mounted "$mnt" && echo yes || echo no)"
		sv_show "$T/refused.out"
		sv_is_mounted "$mnt" && fusermount3 -u "$mnt"
	fi
}

# ---- mount with the web door on a free port
sv_mount "$STORE" "$M" -o web=127.0.0.1:0 -o "web_root=$W" || die "mount with -o web= failed"
PORT=$(web_port "$M")
[[ -n $PORT ]] && pass "the mount prints 'sievefs: listening on http://127.0.0.1:$PORT'" ||
	{ sv_show "${SV_MNT_LOG[$M]}"; die "no listening address in the mount's output"; }
U=http://127.0.0.1:$PORT

# ---- tokens made while the mount runs (admin open beside the owner)
new_token alice "$T/alice.tok" >/dev/null || die "token create beside the mount failed"
new_token bob "$T/bob.tok" >/dev/null || die "second token create failed"
TA=$(cat "$T/alice.tok")
TB=$(cat "$T/bob.tok")

signin "svf_$(printf '0%.0s' $(seq 64))"
expect_eq 401 "$code" "sign-in with a wrong token: 401"
signin "$TA"
expect_eq 201 "$code" "sign-in with a token made while mounted: 201"
expect_contains "$T/body" '{"user":"alice"}' "sign-in answers the user"
C=$(cookie_of)
[[ $C =~ ^[0-9a-f]{64}$ ]] && pass "a session cookie is set" || fail "session cookie: [$C]"
req GET /app/session -b "sievefs_session=$C"
expect_eq 200 "$code" "GET /app/session by cookie: 200"
expect_contains "$T/body" '"alice"' "GET /app/session names alice"
req GET /
expect_eq 200 "$code" "GET / from -o web_root=: 200"
expect_contains "$T/body" "mount app" "GET / is the web root's index.html"

# ---- mount → API
mkdir "$M/leaves" || fail "mkdir in the mount"
by_cookie GET /v1/datasets
expect_eq 200 "$code" "GET /v1/datasets by cookie: 200"
expect_eq "leaves" "$(jq_py '",".join(d["name"] for d in j["datasets"])')" \
	"mkdir in the mount → the dataset is in GET /v1/datasets"
DS=$(jq_py '[d["id"] for d in j["datasets"] if d["name"]=="leaves"][0]')
ROOT=$(jq_py '[d["live_root"] for d in j["datasets"] if d["name"]=="leaves"][0]')
req GET /v1/datasets -H "Authorization: Bearer $TB"
expect_eq "leaves" "$(jq_py '",".join(d["name"] for d in j["datasets"])')" \
	"bob's token sees the mount's datasets too (any valid token of the store)"

mkdir -p "$M/leaves/initial-tag/sub"
printf 'leaf one\n' >"$M/leaves/initial-tag/a.jpg"
head -c 70000 /dev/urandom >"$M/leaves/initial-tag/sub/b.jpg"
by_cookie GET "/v1/nodes/$ROOT/children"
expect_eq 200 "$code" "GET the live root's children: 200"
expect_eq "a.jpg,sub" "$(jq_py '",".join(sorted(n["name"] for n in j["children"]))')" \
	"files copied into initial-tag are in the API's listing"
SHA=$(jq_py '[n["sha"] for n in j["children"] if n["name"]=="a.jpg"][0]')
by_cookie GET "/v1/blobs/$SHA"
expect_eq 200 "$code" "GET /v1/blobs/SHA of a file copied in through the mount: 200"
cmp -s "$T/body" "$M/leaves/initial-tag/a.jpg" &&
	pass "... with the file's bytes" || fail "blob bytes differ from the file"

# the web app's thumbnail and image of a file copied in through the mount
# (no upload grant: the mount's owner reads every blob its files name)
/usr/bin/python3 -c 'from PIL import Image; Image.new("RGB", (300, 150), (200, 40, 40)).save("'"$T"'/red.png")'
cp "$T/red.png" "$M/leaves/initial-tag/red.png"
by_cookie GET "/v1/nodes/$ROOT/lookup?name=red.png"
RINO=$(jq_py 'j["ino"]')
by_cookie GET "/v1/nodes/$RINO/thumbnail"
expect_eq "200 image/jpeg" "$code $(tr -d '\r' <"$T/hdr" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')" \
	"GET the thumbnail of a file copied in through the mount: a JPEG, not a placeholder"
expect_eq "128x64" "$(/usr/bin/python3 -c 'import sys; from PIL import Image; i=Image.open(sys.argv[1]); print("%dx%d" % i.size)' "$T/body")" \
	"... longest side 128, aspect kept"
by_cookie GET "/v1/nodes/$RINO/image"
expect_eq "200 image/png" "$code $(tr -d '\r' <"$T/hdr" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')" \
	"GET its image: 200 image/png"
cmp -s "$T/body" "$T/red.png" && pass "... with the file's bytes" ||
	fail "image bytes differ from the file"
rm "$M/leaves/initial-tag/red.png"

# ---- API → mount
by_cookie POST /v1/datasets --data-binary '{"name":"fromweb"}'
expect_eq 201 "$code" "POST /v1/datasets by cookie: 201"
wait_for "POST /v1/datasets → 'ls MNT' shows it" 3 \
	bash -c "ls '$M' | grep -qx fromweb"
by_cookie POST "/v1/datasets/$DS/tags" --data-binary '{"name":"picked"}'
expect_eq 201 "$code" "POST /v1/datasets/ID/tags: 201"
TAG=$(jq_py 'j["id"]')
wait_for "the tag is a folder in the mount" 3 test -d "$M/leaves/picked"
expect_tree_eq "$M/leaves/initial-tag" "$M/leaves/picked" \
	"the tag's folder holds initial-tag's files"

# the lightly door of the mount's web door, with bob's token (every valid
# token acts as the mount's owner): a dataset and a full upload through a
# signed URL are the mount's folder and file, with the bytes sent
/usr/bin/python3 - "$U/lightly" "$T/bob.tok" "$T/viadoor.png" "$SV_REPO/tests/lightly" <<'PYEOF' &&
import sys
sys.path.insert(0, sys.argv[4])
import driver
lc = driver.Lightly(sys.argv[1], open(sys.argv[2]).read().strip())
ds = lc.call("POST", "/v1/datasets", {"name": "viadoor"})["id"]
data = driver.png(6, 4, 3)
open(sys.argv[3], "wb").write(data)
driver.upload_one(lc, ds, "sub/v.png", data, "full")
sys.exit(1 if driver.FAILS else 0)
PYEOF
	pass "bob makes a dataset and uploads a sample through the mount's lightly door" ||
	fail "the lightly door of the mount's web door"
wait_for "... 'ls MNT' shows the lightly door's dataset" 3 \
	bash -c "ls '$M' | grep -qx viadoor"
cmp -s "$T/viadoor.png" "$M/viadoor/initial-tag/sub/v.png" &&
	pass "... and the mount reads the bytes the signed URL took" ||
	fail "the lightly door's sample differs in the mount"

# rename and delete over HTTP: the mount forgets the old name at once
ls -R "$M/leaves/picked" >/dev/null   # the kernel now holds its entries
by_cookie PATCH "/v1/tags/$TAG" --data-binary '{"name":"kept"}'
expect_eq 200 "$code" "PATCH /v1/tags/ID (rename): 200"
if [[ -e $M/leaves/picked ]]; then
	fail "the old name of a tag renamed over HTTP is still in the mount"
else
	pass "a tag renamed over HTTP: the old name is gone from the mount at once"
fi
expect_tree_eq "$M/leaves/initial-tag" "$M/leaves/kept" "... and the new name holds its files"
exec 7<"$M/leaves/kept/sub/b.jpg"
by_cookie DELETE "/v1/tags/$TAG"
expect_eq 204 "$code" "DELETE /v1/tags/ID: 204"
if [[ -e $M/leaves/kept ]]; then
	fail "a tag deleted over HTTP is still in the mount"
else
	pass "a tag deleted over HTTP is gone from the mount at once"
fi
cmp -s <(cat <&7) "$M/leaves/initial-tag/sub/b.jpg" &&
	pass "a file of it opened before the delete still reads its bytes" ||
	fail "an open file of the deleted tag lost its bytes"
exec 7<&-
ok "mkdir of the freed tag name in the mount" mkdir "$M/leaves/kept"
by_cookie GET "/v1/datasets/$DS/tags"
expect_contains "$T/body" '"name":"kept"' "the tag made by mkdir is in the API's tag list"

# ---- refusals at start: nothing mounted
M2=$T/mnt2
refused "a busy port" "Address already in use" "$M2" "$T/store2" -o "web=127.0.0.1:$PORT"
expect_contains "$T/refused.out" "cannot listen on 127.0.0.1:$PORT" "the busy-port message names the address"
refused "a non-loopback address without TLS" "refusing plain http" "$M2" "$T/store2" \
	-o web=0.0.0.0:0
refused "a malformed address" "expected HOST[:PORT]" "$M2" "$T/store2" -o web=127.0.0.1:http:x
refused "a TLS cert without its key" "go together" "$M2" "$T/store2" \
	-o web=127.0.0.1:0 -o "web_tls_cert=$T/web/index.html"
refused "web_root without web=" "go with -o web=" "$M2" "$T/store2" -o "web_root=$W"
refused "-o web= in remote mode (checked before the server is asked)" \
	"serves a store of this machine" "$M2" "http://127.0.0.1:1" \
	-o web=127.0.0.1:0 -o "token_file=$T/alice.tok" -o "cache_dir=$T/cache2"
[[ -e $T/store2 ]] && fail "a refused mount created its store" ||
	pass "the refused mounts created no store (the address is checked first)"
refused "the store of a running mount" "in use" "$M2" "$STORE" -o web=127.0.0.1:0

# ---- unmount while a download runs: the server stops, the port is free
head -c $((8 << 20)) /dev/urandom >"$M/leaves/initial-tag/big.bin"
by_cookie GET "/v1/nodes/$ROOT/children"
BIG=$(jq_py '[n["sha"] for n in j["children"] if n["name"]=="big.bin"][0]')
# a client that reads the answer's first bytes, then nothing until $T/go
cat >"$T/slow.py" <<'EOF'
import os, socket, sys, time
port, tok, sha, go = sys.argv[1:5]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
# a small segment size: a receiver never opens its window by less than a
# segment (64 KiB on loopback, more than this buffer), so without it the
# rest of the answer came only with the sender's zero-window probes,
# backing off to 2 minutes apart (the wait below took 98 s)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1024)
s.connect(("127.0.0.1", int(port)))
s.sendall(f"GET /v1/blobs/{sha} HTTP/1.1\r\nHost: x\r\n"
          f"Authorization: Bearer {tok}\r\n\r\n".encode())
got = len(s.recv(4096))
print("started", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
while True:
    try:
        b = s.recv(1 << 20)
    except ConnectionResetError:
        break
    if not b:
        break
    got += len(b)
print(got, flush=True)
EOF
python3 "$T/slow.py" "$PORT" "$TA" "$BIG" "$T/go" >"$T/slow.out" 2>&1 &
SLOW=$!
SV_BG+=("$SLOW")
for _ in $(seq 100); do grep -q started "$T/slow.out" && break; sleep 0.1; done
grep -q started "$T/slow.out" && pass "a download is under way" || fail "the slow download did not start"
# the client reads nothing more until the daemon is gone: an unmount that
# waited for the download would never end (sv_umount fails after 30 s)
sv_umount "$M" && pass "fusermount3 -u during a download: the daemon exits 0"
touch "$T/go"
wait "$SLOW"
got=$(tail -1 "$T/slow.out")
((got < (8 << 20))) && pass "the download under way was cut ($got of $((8 << 20)) bytes)" ||
	fail "the download was not cut: $(cat "$T/slow.out")"
req GET /v1/whoami
expect_eq 000 "$code" "after the unmount the port refuses connections (curl exit $crc)"

sv_mount "$STORE" "$M" -o "web=127.0.0.1:$PORT" || die "remount on the same port failed"
pass "a remount on the same port works"
req GET /v1/datasets -b "sievefs_session=$C"
expect_eq 200 "$code" "the session made before the remount still signs in"
expect_contains "$T/body" '"fromweb"' "... and sees the mount's datasets"

# ---- SIGTERM, SIGINT: unmount, stop the server, exit 0
# (a script's background jobs start with SIGINT ignored, and libfuse then
# leaves it so: the mount for SIGINT runs with it at its default)
printf '#!/bin/sh\nexec env --default-signal=INT "%s" "$@"\n' "$SIEVEFS" >"$T/sievefs-int"
chmod +x "$T/sievefs-int"
for sig in TERM INT; do
	pid=$(sv_daemon_pid "$M")
	kill -"$sig" "$pid"
	if sv_wait_gone "$pid" 20; then
		wait "$pid"
		rc=$?
		unset "SV_MNT_PID[$M]"
		expect_eq 0 "$rc" "SIG$sig: the daemon exits 0"
	else
		fail "SIG$sig: the daemon is still running after 20 s"
	fi
	sv_is_mounted "$M" && fail "SIG$sig left $M mounted" || pass "SIG$sig unmounted $M"
	req GET /v1/whoami
	expect_eq 000 "$code" "SIG$sig: the port refuses connections"
	if [[ $sig == TERM ]]; then
		SIEVEFS=$T/sievefs-int sv_mount "$STORE" "$M" -o "web=127.0.0.1:$PORT" ||
			die "remount after SIG$sig failed"
	else
		sv_mount "$STORE" "$M" -o "web=127.0.0.1:$PORT" || die "remount after SIG$sig failed"
	fi
done

# ---- kill -9: nothing blocks a remount on the same port
sv_kill9 "$M"
sv_mount "$STORE" "$M" -o "web=127.0.0.1:$PORT" &&
	pass "after kill -9 a remount on the same port works (port and lock freed)"
req GET /v1/whoami -H "Authorization: Bearer $TA"
expect_eq 200 "$code" "the remounted web door answers"
sv_umount "$M"

# ---- plain http off loopback with the explicit option; https with TLS
sv_mount "$STORE" "$M" -o web=0.0.0.0:0 -o web_insecure_http &&
	pass "-o web_insecure_http allows plain http on 0.0.0.0"
P2=$(sed -n 's|^sievefs: listening on http://0.0.0.0:\([0-9]*\)$|\1|p' "${SV_MNT_LOG[$M]}")
U=http://127.0.0.1:$P2
req GET /v1/whoami -H "Authorization: Bearer $TA"
expect_eq 200 "$code" "... and answers"
sv_umount "$M"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/key.pem" \
	-out "$T/cert.pem" >"$T/openssl.log" 2>&1 || { sv_show "$T/openssl.log"; die "openssl failed"; }
sv_mount "$STORE" "$M" -o web=127.0.0.1:0 -o "web_tls_cert=$T/cert.pem,web_tls_key=$T/key.pem" ||
	die "mount with TLS failed"
P3=$(sed -n 's|^sievefs: listening on https://127.0.0.1:\([0-9]*\)$|\1|p' "${SV_MNT_LOG[$M]}")
[[ -n $P3 ]] && pass "with TLS the mount prints an https:// address" ||
	{ fail "with TLS the mount printed no https:// address"; sv_show "${SV_MNT_LOG[$M]}"; }
U=https://127.0.0.1:$P3
CURL_TLS=$T/cert.pem
signin "$TB"
expect_eq 201 "$code" "sign-in over https: 201"
grep -qi '^Set-Cookie:.*; *Secure' "$T/hdr" && pass "the cookie is Secure over https" ||
	fail "no Secure cookie over https"
sv_umount "$M"

# ---- the README's command: the daemon in the background (no -f), the web
# options in one -o; fusermount3 -u stops its server too
M3=$T/mnt3
mkdir -p "$M3"
SV_MOUNTS+=("$M3")   # the trap unmounts it (and so ends the daemon) on any exit
timeout 20 "$SIEVEFS" "$STORE" "$M3" -o "web=127.0.0.1:0,web_root=$W" </dev/null >"$T/bg.out" 2>&1
expect_eq 0 "$?" "a background mount with -o web=…,web_root=… (no -f) exits 0 once mounted"
sv_is_mounted "$M3" && pass "... and $M3 is mounted" || fail "the background mount is not mounted"
P4=$(sed -n 's|^sievefs: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$T/bg.out")
[[ -n $P4 ]] && pass "... and it printed its address before going to the background" ||
	{ fail "the background mount printed no address"; sv_show "$T/bg.out"; }
U=http://127.0.0.1:$P4
CURL_TLS=
req GET /
expect_eq 200 "$code" "the background daemon serves the app: GET / 200"
expect_contains "$T/body" "mount app" "... the web root's index.html"
ok "mkdir in the background mount" mkdir "$M3/bg"
req GET /v1/datasets -H "Authorization: Bearer $TA"
expect_contains "$T/body" '"bg"' "... and its API lists the dataset made in the mount"
ok "fusermount3 -u the background mount" fusermount3 -u "$M3"
wait_for "... then its port refuses connections (the daemon has stopped)" 10 \
	bash -c "! curl -s -o /dev/null '$U/v1/whoami'"

grep -qF -- "${TA#svf_}" "$T"/daemon.*.log && fail "a token is in a mount's log" ||
	pass "no token in the mounts' logs"
