#!/usr/bin/env bash
#
# t_owner — one process owns a store (issue 10, item 1).
#
# Crash recovery (delete pending uploads, fail unfinished sampling runs,
# empty staging, collect orphan blobs) used to run on every open of a store,
# so a `sievefs token list` beside a mount deleted the upload in progress and
# close() still returned success. Proves:
#  (A) while a Python writer is between two 4 KiB writes of a new file:
#      `token list`, `token create` and `token revoke` work on the mounted
#      store; a second mount of it is refused with "store in use by PID <the
#      daemon's pid>" (non-zero exit, nothing mounted); `sievefs serve` of it
#      is refused the same way; then close() succeeds and the file holds the
#      8 KiB written, before and after a remount;
#  (B) a token command during a sampling run (the built-in embedder working
#      through big PNGs) leaves it running: it ends `done`, and nothing in
#      `log` says it was interrupted;
#  (C) a store served by `sievefs serve` refuses a mount with the server's
#      PID; token commands work while the server runs;
#  (D) after kill -9 of the owner a new mount works and recovers: the upload
#      the killed daemon had in progress is gone, staging is empty;
#  (E) a mount that daemonises (no -f) writes the PID of the daemon that
#      stays, not the one that exited, and a second mount names that PID.
# The writer waits for a file the test creates instead of sleeping, so no
# step depends on timing.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 sqlite3 cmp curl timeout mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

store=$T/store
mnt=$T/mnt
mnt2=$T/mnt2
mkdir -p "$mnt2"
SV_MOUNTS+=("$mnt2")   # in case a second mount wrongly succeeds

# writer FILE TAG — 4 KiB of 'a', then $T/TAG.half appears; once $T/TAG.go
# exists, 4 KiB of 'b' and close(). Prints "closed" or the error.
writer() {
	python3 - "$1" "$T/$2" <<'EOF'
import os, sys, time
path, tag = sys.argv[1], sys.argv[2]
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"a" * 4096)
    open(tag + ".half", "w").close()
    for _ in range(600):
        if os.path.exists(tag + ".go"):
            break
        time.sleep(0.05)
    os.write(fd, b"b" * 4096)
    os.close(fd)
    print("closed")
except OSError as e:
    print("error:", e)
EOF
}

# wait_file PATH — until PATH exists (≤ 20 s).
wait_file() {
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -e $1 ]] && return 0
		sleep 0.1
	done
	return 1
}

python3 -c 'import sys; sys.stdout.write("a" * 4096 + "b" * 4096)' >"$T/want"

# ---- (A) admin commands and a second owner while an upload is in progress
sv_mount "$store" "$mnt" || die "mount failed"
pid=$(sv_daemon_pid "$mnt")
mkdir "$mnt/ds" || die "mkdir dataset failed"
writer "$mnt/ds/initial-tag/slow.bin" a >"$T/writer.a" 2>&1 &
wpid=$!
SV_BG+=("$wpid")
wait_file "$T/a.half" || die "the writer never wrote its first half"

ok "token list works while a mount runs" "$SIEVEFS" token list --store "$store"
tid=$(STORE=$store new_token carol "$T/carol.token")
expect_eq 1 "$([[ $tid =~ ^[0-9]+$ ]] && echo 1)" \
	"token create works while a mount runs (id '$tid')"
ok "token revoke works while a mount runs" \
	"$SIEVEFS" token revoke --store "$store" "$tid"
pending=$(sqlite3 "$store/catalog.db" \
	"SELECT count(*) FROM nodes WHERE name='slow.bin' AND sha IS NULL")
expect_eq 1 "$pending" "the upload in progress is still in the catalog after the token commands"

expect_errno "store in use by PID $pid" "$SIEVEFS" "$store" "$mnt2"
if sv_is_mounted "$mnt2"; then
	fail "a second mount of a mounted store was mounted"
	fusermount3 -u "$mnt2"
else
	pass "the second mount left nothing mounted"
fi
port=$(free_port)
expect_errno "store in use by PID $pid" \
	timeout 10 "$SIEVEFS" serve "$store" --listen "127.0.0.1:$port"

touch "$T/a.go"
wait "$wpid"
expect_eq closed "$(cat "$T/writer.a")" "close() of the slow upload succeeds"
ok "the slow upload has its 8 KiB" cmp "$T/want" "$mnt/ds/initial-tag/slow.bin"
ok "the mount still serves after the refused owners" ls "$mnt/ds/initial-tag"
sv_umount "$mnt"
sv_mount "$store" "$mnt" || die "remount failed"
ok "after a remount the slow upload has its 8 KiB" \
	cmp "$T/want" "$mnt/ds/initial-tag/slow.bin"

# ---- (B) a token command during a sampling run
"$PY" - "$T/big" <<'EOF' || die "cannot make the test images"
import io, os, struct, sys, zlib
from PIL import Image
d = sys.argv[1]
os.makedirs(d)
b = io.BytesIO()
Image.new("L", (4000, 4000), 0).save(b, "PNG")
base = b.getvalue()
for i in range(60):
    data = b"sievefs\0" + str(i).encode()
    body = b"tEXt" + data
    out = (base[:33] + struct.pack(">I", len(data)) + body +
           struct.pack(">I", zlib.crc32(body)) + base[33:])
    open("%s/b%02d.png" % (d, i), "wb").write(out)
EOF
mkdir "$mnt/imgs" && cp "$T"/big/*.png "$mnt/imgs/initial-tag/" ||
	die "cannot upload the images"
sample_req "$mnt/imgs" "random n=5"
st=""
for ((i = 0; i < 100; i++)); do
	st=$(sed -n 's/^status: //p' "$mnt/imgs/sample")
	[[ $st == running ]] && break
	sleep 0.1
done
expect_eq running "$st" "the sampling run is running"
ok "token list during the run" "$SIEVEFS" token list --store "$store"
st=$(sed -n 's/^status: //p' "$mnt/imgs/sample")
expect_eq 1 "$([[ $st == running || $st == done ]] && echo 1)" \
	"the run is not failed by the token command (status '$st')"
expect_eq done "$(wait_run "$mnt/imgs")" "the run ends done"
cat "$mnt/imgs/log" >"$T/log.txt"
if grep -q interrupted "$T/log.txt"; then
	fail "the log says the run was interrupted"
	sv_show "$T/log.txt"
else
	pass "nothing says the run was interrupted"
fi
sv_umount "$mnt"

# ---- (C) a served store refuses a mount; token commands work beside it
store2=$T/store2
port=$(free_port)
start_server "$port" "$store2" || die "sievefs serve did not start"
expect_errno "store in use by PID $SERVER_PID" "$SIEVEFS" "$store2" "$mnt2"
sv_is_mounted "$mnt2" && { fail "a served store was mounted"; fusermount3 -u "$mnt2"; }
tid=$(STORE=$store2 new_token dave "$T/dave.token")
expect_eq 1 "$([[ $tid =~ ^[0-9]+$ ]] && echo 1)" "token create works while serve runs"
ok "token list works while serve runs" "$SIEVEFS" token list --store "$store2"
code=$(curl -s -o /dev/null -w '%{http_code}' \
	-H "Authorization: Bearer $(cat "$T/dave.token")" "http://127.0.0.1:$port/v1/whoami")
expect_eq 200 "$code" "the server accepts the token made beside it"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
ok "after the server stopped, its store mounts" sv_mount "$store2" "$mnt2"
sv_umount "$mnt2"

# ---- (D) kill -9 of the owner: the next mount takes over and recovers
sv_mount "$store" "$mnt" || die "mount failed"
writer "$mnt/ds/initial-tag/doomed.bin" d >"$T/writer.d" 2>&1 &
wpid=$!
SV_BG+=("$wpid")
wait_file "$T/d.half" || die "the writer never wrote its first half"
sv_kill9 "$mnt"
touch "$T/d.go"
wait "$wpid"
expect_eq 1 "$(sqlite3 "$store/catalog.db" \
	"SELECT count(*) FROM nodes WHERE name='doomed.bin' AND sha IS NULL")" \
	"the killed daemon left its upload pending"
ok "a new mount works after kill -9 of the owner" sv_mount "$store" "$mnt"
if [[ -e $mnt/ds/initial-tag/doomed.bin ]]; then
	fail "the interrupted upload is still listed after the new owner's recovery"
else
	pass "the new owner's recovery removed the interrupted upload"
fi
expect_eq 0 "$(sqlite3 "$store/catalog.db" \
	"SELECT count(*) FROM nodes WHERE kind=2 AND sha IS NULL")" \
	"no pending node after recovery"
expect_eq 0 "$(find "$store/staging" -type f | wc -l)" "staging is empty after recovery"
ok "the committed upload survived" cmp "$T/want" "$mnt/ds/initial-tag/slow.bin"
sv_umount "$mnt"

# ---- (E) without -f: the lock names the daemon that stays
ok "a daemonising mount" "$SIEVEFS" "$store" "$mnt"
SV_MOUNTS+=("$mnt")
# The daemon takes the lock right after daemonising (fs/main.c), a moment
# after the mount command returned: wait for it to name a live process.
for ((i = 0; i < 100; i++)); do
	dpid=$(tr -d '\n' <"$store/lock")
	[[ $dpid =~ ^[0-9]+$ ]] && sv_alive "$dpid" && break
	sleep 0.1
done
if [[ $dpid =~ ^[0-9]+$ ]] && sv_alive "$dpid" &&
	tr '\0' ' ' <"/proc/$dpid/cmdline" | grep -qF -- "$mnt"; then
	pass "STORE/lock names the running daemon (pid $dpid)"
else
	fail "STORE/lock names '$dpid', not a running sievefs daemon of $mnt"
fi
expect_errno "store in use by PID $dpid" "$SIEVEFS" "$store" "$mnt2"
ok "the daemon's mount works" cmp "$T/want" "$mnt/ds/initial-tag/slow.bin"
fusermount3 -u "$mnt"
[[ $dpid =~ ^[0-9]+$ ]] && sv_wait_gone "$dpid" 10
ok "after its unmount the store mounts again" sv_mount "$store" "$mnt"
sv_umount "$mnt"
