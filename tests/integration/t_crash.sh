#!/usr/bin/env bash
#
# t_crash — kill -9 of the daemon mid-upload loses nothing acknowledged and
# never shows a partial file.
#
# Proves: (A) while `cp -r` of 2,000 files (≤ 256 KiB) runs, SIGKILL of the
# daemon, detaching the dead mount and remounting the same STORE leaves some
# but not all files, and every file present in initial-tag has exactly the
# source's bytes (sha256); the catalog passes `PRAGMA integrity_check`, both as
# the crash left it and after the remount; a re-run `cp -r` completes and
# `diff -r` is clean. (B) every file whose close() returned success before the
# SIGKILL (a Python writer logs each one) survives with the right bytes. (C) a
# 40 MiB sample being overwritten at the kill holds all-old or all-new bytes.
# (D) a tag being frozen (mkdir) at the kill is afterwards complete or absent.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 sqlite3 sha256sum diff mountpoint fusermount3

store=$T/store
mnt=$T/mnt
src=$T/src
sv_gen_tree "$src" 2000 262144 701 || die "could not generate the source tree"
total=$(find "$src" -type f | wc -l)

# integrity DB DESC — PRAGMA integrity_check prints exactly "ok".
integrity() {
	local out
	out=$(sqlite3 "$1" 'PRAGMA integrity_check' 2>&1)
	expect_eq "ok" "$out" "$2"
}

# crash_copy — copy of the catalog files exactly as the crash left them.
crash_copy() {
	mkdir -p "$T/crashdb"
	cp -- "$store"/catalog.db* "$T/crashdb/" 2>/dev/null
	[[ -f $T/crashdb/catalog.db ]]
}

# verify DIR SRCDIR — hash every file under DIR; print "present mismatched".
verify() {
	python3 - "$1" "$2" <<'EOF'
import hashlib, os, sys
root, src = sys.argv[1], sys.argv[2]
present = bad = 0
for d, _, files in os.walk(root):
    for name in files:
        p = os.path.join(d, name)
        rel = os.path.relpath(p, root)
        present += 1
        got = hashlib.sha256(open(p, "rb").read()).hexdigest()
        try:
            want = hashlib.sha256(open(os.path.join(src, rel), "rb").read()).hexdigest()
        except FileNotFoundError:
            want = "(no such source file)"
        if got != want:
            bad += 1
            if bad <= 5:
                print("mismatch:", rel, "size", os.path.getsize(p), file=sys.stderr)
print(present, bad)
EOF
}

# ------------------------------------------------------------ (A) cp -r + kill -9
sv_mount "$store" "$mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$mnt/ds" || die "cannot create a dataset"
dst=$mnt/ds/initial-tag

cp -r "$src/." "$dst/" >"$T/cp1.out" 2>&1 &
cp_pid=$!
SV_BG+=("$cp_pid")
sleep 1
n=0
for ((i = 0; i < 300; i++)); do
	n=$(find "$dst" -type f 2>/dev/null | wc -l)
	((n > 0)) && break
	sv_alive "$cp_pid" || break
	sleep 0.1
done
if ! sv_alive "$cp_pid"; then
	fail "cp -r finished (or died) before the daemon could be killed; $n files visible"
	sv_show "$T/cp1.out"
fi
note "killing the daemon with $n of $total files visible"
sv_kill9 "$mnt"
sv_wait_gone "$cp_pid" 30 || { fail "cp still running 30 s after the daemon died"; kill -9 "$cp_pid"; }
wait "$cp_pid" 2>/dev/null
note "cp exited with status $? after the crash"

if crash_copy; then
	integrity "$T/crashdb/catalog.db" "integrity_check of the catalog as the crash left it"
else
	fail "no $store/catalog.db after the crash"
fi

sv_mount "$store" "$mnt" || die "remount after the crash failed"
read -r present bad < <(verify "$dst" "$src" 2>"$T/verify.err")
note "after the crash: $present of $total files present"
sv_show "$T/verify.err"
expect_eq 0 "${bad:-?}" "every file present after the crash has the source's sha256"
if ((${present:-0} >= 1)); then
	pass "at least one file survived ($present)"
else
	fail "no file present after the crash (expected the ones cp had finished)"
fi
if ((${present:-0} < total)); then
	pass "not all files present ($present < $total): the crash hit mid-upload"
else
	fail "all $total files present: the crash did not interrupt the upload"
fi
ok "cat info after the crash" cat "$mnt/ds/info"
expect_line "$T/last.out" "samples: $present" "info counts exactly the files present"
sv_umount "$mnt" || die "unmount failed"
integrity "$store/catalog.db" "integrity_check after the remount"

# ------------------------------------------------------------ (B) acknowledged closes survive
sv_mount "$store" "$mnt" || die "mount failed"
ok "mkdir dataset acked" mkdir "$mnt/acked"
cat >"$T/writer.py" <<'EOF'
import hashlib, os, random, sys
dst, log = sys.argv[1], sys.argv[2]
rng = random.Random(7)
# Everything relative to a descriptor of the mounted folder: once the daemon
# is dead, every call fails (ENOTCONN) instead of writing into the bare
# mountpoint after the dead mount is detached.
top = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
with open(log, "w", buffering=1) as ack:
    for i in range(100000):
        data = rng.randbytes(rng.randint(0, 131072))
        rel = "w%03d/file-%06d.bin" % (i // 100, i)
        if i % 100 == 0:
            os.mkdir(os.path.dirname(rel), dir_fd=top)
        fd = os.open(rel, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644,
                     dir_fd=top)
        with open(fd, "wb") as f:
            f.write(data)
        # close() returned success: from here on the file must survive
        ack.write("%s %s\n" % (hashlib.sha256(data).hexdigest(), rel))
EOF
python3 "$T/writer.py" "$mnt/acked/initial-tag" "$T/acks.txt" >"$T/writer.out" 2>&1 &
w_pid=$!
SV_BG+=("$w_pid")
sleep 1
for ((i = 0; i < 300; i++)); do
	[[ -s $T/acks.txt ]] && (($(wc -l <"$T/acks.txt") >= 20)) && break
	sv_alive "$w_pid" || break
	sleep 0.1
done
sv_alive "$w_pid" || { fail "writer stopped before the crash"; sv_show "$T/writer.out"; }
sv_kill9 "$mnt"
sv_wait_gone "$w_pid" 30 || { fail "writer still running 30 s after the daemon died"; kill -9 "$w_pid"; }
wait "$w_pid" 2>/dev/null
nacks=$(wc -l <"$T/acks.txt")
note "writer had $nacks acknowledged files when the daemon died"

sv_mount "$store" "$mnt" || die "remount after the second crash failed"
((nacks > 0)) || fail "writer acknowledged no file before the crash"
# Replay the writer's generator: every acknowledged file must be present with
# its bytes; the one file in flight at the kill may be present only if whole;
# nothing else may exist.
read -r present2 lost bad2 extra < <(python3 - "$mnt/acked/initial-tag" "$T/acks.txt" 2>"$T/acked.err" <<'PY'
import hashlib, os, random, sys
root, acks = sys.argv[1], sys.argv[2]
nacks = sum(1 for _ in open(acks))
rng = random.Random(7)
want = {}
for i in range(nacks + 1):
    data = rng.randbytes(rng.randint(0, 131072))
    want["w%03d/file-%06d.bin" % (i // 100, i)] = hashlib.sha256(data).hexdigest()
inflight = "w%03d/file-%06d.bin" % (nacks // 100, nacks)
present = bad = extra = 0
seen = set()
for d, _, files in os.walk(root):
    for name in files:
        rel = os.path.relpath(os.path.join(d, name), root)
        present += 1
        seen.add(rel)
        got = hashlib.sha256(open(os.path.join(root, rel), "rb").read()).hexdigest()
        if rel not in want:
            extra += 1
            print("unexpected file:", rel, file=sys.stderr)
        elif got != want[rel]:
            bad += 1
            print("wrong bytes:", rel, file=sys.stderr)
lost = [r for r in want if r != inflight and r not in seen]
for r in lost[:5]:
    print("acknowledged but missing:", r, file=sys.stderr)
print(present, len(lost), bad, extra)
PY
)
sv_show "$T/acked.err"
note "acked dataset: ${present2:-?} files present, $nacks acknowledged"
expect_eq 0 "${lost:-?}" "every file whose close() succeeded survived kill -9 ($nacks files)"
expect_eq 0 "${bad2:-?}" "no present file has wrong bytes (incl. the one in flight)"
expect_eq 0 "${extra:-?}" "no file the writer never started"

# ------------------------------------------------------------ re-run the copy
ok "re-run cp -r after the crash" cp -r "$src/." "$dst/"
expect_tree_eq "$src" "$dst" "diff -r clean after the re-run"

# ------------------------------------------------------------ (C) crash mid-overwrite
# A 40 MiB sample is being overwritten when the daemon dies: afterwards it must
# hold either all the old bytes or all the new ones.
head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/old.bin"
head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/new.bin"
ok "upload a 40 MiB sample" cp "$T/old.bin" "$dst/big.bin"
# A slow writer (1 MiB every 25 ms) so the kill lands mid-file.
python3 -c '
import sys, time
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    for i in range(0, len(data), 1 << 20):
        f.write(data[i:i + (1 << 20)])
        f.flush()
        time.sleep(0.025)
' "$T/new.bin" "$dst/big.bin" >/dev/null 2>&1 &
ow_pid=$!
SV_BG+=("$ow_pid")
sleep 0.4
sv_alive "$ow_pid" || fail "the overwrite finished before the kill (crash window missed)"
sv_kill9 "$mnt"
sv_wait_gone "$ow_pid" 30 || kill -9 "$ow_pid"
wait "$ow_pid" 2>/dev/null
sv_mount "$store" "$mnt" || die "remount after the third crash failed"
got=$(sha256sum <"$dst/big.bin" 2>/dev/null | cut -d' ' -f1)
old=$(sha256sum <"$T/old.bin" | cut -d' ' -f1)
new=$(sha256sum <"$T/new.bin" | cut -d' ' -f1)
if [[ $got == "$old" ]]; then
	pass "sample overwritten during the crash holds the old bytes"
elif [[ $got == "$new" ]]; then
	pass "sample overwritten during the crash holds the new bytes"
else
	fail "sample overwritten during the crash is neither old nor new (size $(stat -c %s "$dst/big.bin" 2>&1))"
fi
rm -f -- "$dst/big.bin"

# ------------------------------------------------------------ (D) crash mid-freeze
# mkdir of a tag of 2,000 files is killed: the tag is then complete or absent.
mkdir "$mnt/ds/snap" 2>/dev/null &
mk_pid=$!
SV_BG+=("$mk_pid")
sleep 0.01
sv_kill9 "$mnt"
sv_wait_gone "$mk_pid" 30 || kill -9 "$mk_pid"
wait "$mk_pid" 2>/dev/null
sv_mount "$store" "$mnt" || die "remount after the fourth crash failed"
if [[ -e $mnt/ds/snap ]]; then
	expect_tree_eq "$src" "$mnt/ds/snap" "tag frozen during the crash is complete"
else
	pass "tag frozen during the crash is absent (not half-made)"
fi
expect_tree_eq "$src" "$dst" "initial-tag intact after the crash during mkdir"

sv_umount "$mnt"
integrity "$store/catalog.db" "integrity_check at the end"
