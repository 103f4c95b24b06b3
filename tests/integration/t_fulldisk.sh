#!/usr/bin/env bash
#
# t_fulldisk — a store on a full disk (issue 10, item 2).
#
# The store lives on a 64 MiB ext4 image, loop-mounted (we are root; a
# missing loop device fails the test). About 100 MiB of 1–3 MiB files are
# copied in, more than fits: first by a Python writer that logs what every
# write() and close() returned, then by `cp -r`. Proves:
#  (A) the disk did fill (some writes fail with ENOSPC), and a file whose
#      write failed never becomes a sample: every file listed in initial-tag
#      has exactly its source's bytes (sha256; so no 0-byte or partial file),
#      every file whose close() returned success is there, no pending
#      upload is left in the catalog, every file whose write failed got an
#      error from close() too (so did a dup's close() and a further write),
#      and `log` says which upload was discarded;
#  (B) an overwrite that fails on the full disk reports the error and the
#      sample keeps its old bytes;
#  (C) removing samples works on a full disk: with the disk filled to the
#      last block by a file outside the store before each one, 20 `rm`s of
#      samples all succeed;
#  (D) once space is freed a new copy succeeds; the catalog passes
#      `PRAGMA integrity_check`; after a remount everything above still holds.
# On exit the FUSE mount is detached first (its daemon holds files on the
# image), then the image is unmounted.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 sqlite3 truncate mkfs.ext4 mount umount cp rm mountpoint fusermount3
[[ $(id -u) == 0 ]] || die "this test loop-mounts a filesystem image: run it as root"

img=$T/disk.img
disk=$T/disk
store=$disk/store
mnt=$T/mnt
src=$T/src

fd_cleanup() {
	local pid
	pid=$(sv_daemon_pid "$mnt")
	if sv_is_mounted "$mnt"; then
		fusermount3 -u -- "$mnt" 2>/dev/null || fusermount3 -uz -- "$mnt" 2>/dev/null
	fi
	[[ -n $pid ]] && sv_wait_gone "$pid" 10
	if sv_is_mounted "$disk"; then
		umount -- "$disk" 2>/dev/null || umount -l -- "$disk"
	fi
}
trap 'rc=$?; fd_cleanup; (exit $rc); sv_cleanup' EXIT

truncate -s 64M "$img" || die "truncate failed"
mkfs.ext4 -q -F -m 0 "$img" || die "mkfs.ext4 failed"
mkdir -p "$disk"
mount -o loop -- "$img" "$disk" || die "cannot loop-mount the image (no loop device?)"

python3 - "$src" <<'EOF' || die "cannot make the source files"
import os, random, sys
root = sys.argv[1]
rng = random.Random(1002)
for part, n in (("a", 30), ("b", 20), ("c", 3)):
    os.makedirs(os.path.join(root, part))
    for i in range(n):
        size = rng.randint(1 << 20, 3 << 20) if part != "c" else 1 << 20
        with open(os.path.join(root, part, "%s%02d.bin" % (part, i)), "wb") as f:
            f.write(rng.randbytes(size))
EOF

# verify DIR — every regular file under DIR must equal $src/a|b|c/NAME;
# prints "present bad empty".
verify() {
	python3 - "$1" "$src" <<'EOF'
import hashlib, os, sys
root, src = sys.argv[1], sys.argv[2]
present = bad = empty = 0
for name in sorted(os.listdir(root)):
    p = os.path.join(root, name)
    present += 1
    data = open(p, "rb").read()
    if not data:
        empty += 1
    want = os.path.join(src, name[0], name)
    ok = os.path.exists(want) and hashlib.sha256(open(want, "rb").read()).digest() == hashlib.sha256(data).digest()
    if not ok:
        bad += 1
        print("wrong bytes:", name, "size", len(data), file=sys.stderr)
print(present, bad, empty)
EOF
}

# fill — a file outside the store takes every free block of the image.
nfill=0
fill() {
	nfill=$((nfill + 1))
	python3 - "$disk/filler.$nfill" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
buf = b"\0" * 65536
try:
    while True:
        os.write(fd, buf)
except OSError as e:
    assert e.errno == errno.ENOSPC, e
buf = b"\0" * 4096
try:
    while True:
        os.write(fd, buf)
except OSError as e:
    assert e.errno == errno.ENOSPC, e
os.close(fd)
EOF
}

pending() {
	sqlite3 "$store/catalog.db" "SELECT count(*) FROM nodes WHERE kind=2 AND sha IS NULL"
}

sv_mount "$store" "$mnt" || die "mount failed"
mkdir "$mnt/ds" || die "mkdir dataset failed"
dst=$mnt/ds/initial-tag

# ---- (A) copy in more than fits
python3 - "$src/a" "$dst" >"$T/writer.log" <<'EOF'
import errno, os, sys
srcdir, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(srcdir)):
    data = open(os.path.join(srcdir, name), "rb").read()
    werr = None
    try:
        fd = os.open(os.path.join(dst, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        print("open-failed", name, errno.errorcode[e.errno])
        continue
    off = 0
    while off < len(data):
        try:
            off += os.write(fd, data[off:off + (1 << 20)])
        except OSError as e:
            werr = errno.errorcode[e.errno]
            break
    after = "-"
    if werr:
        # the error sticks: a dup's close() and a further write fail too
        d = os.dup(fd)
        try:
            os.close(d)
            after = "dup-closed"
        except OSError as e:
            after = "dup:" + errno.errorcode[e.errno]
        try:
            os.write(fd, b"x")
            after += ",write-ok"
        except OSError as e:
            after += ",write:" + errno.errorcode[e.errno]
    try:
        os.close(fd)
        print("closed", name, werr or "-", after)
    except OSError as e:
        print("close-failed", name, werr or "-", after, errno.errorcode[e.errno])
EOF
cp -r "$src/b/." "$dst/" 2>"$T/cp.err"
cprc=$?
expect_eq 1 "$((cprc != 0))" "cp -r of more than fits fails (exit $cprc)"
expect_contains "$T/cp.err" "No space left on device" "cp reports ENOSPC"
expect_eq 1 "$(grep -c ENOSPC "$T/writer.log" | awk '{print ($1 > 0)}')" \
	"the Python writer saw ENOSPC (the disk filled)"
bad_close=$(awk '$1 == "closed" && $3 != "-"' "$T/writer.log" | wc -l)
expect_eq 0 "$bad_close" "no close() succeeds after a failed write"
bad_after=$(awk '$1 ~ /^clos/ && $3 != "-" && $4 != "dup:ENOSPC,write:ENOSPC"' "$T/writer.log" | wc -l)
expect_eq 0 "$bad_after" "after a failed write, a dup's close() and the next write fail too"

read -r present bad empty < <(verify "$dst")
note "after the copies: $present samples"
expect_eq 0 "$bad" "every listed file has its source's exact bytes ($present files)"
expect_eq 0 "$empty" "no 0-byte sample"
missing=0
while read -r what name _; do
	[[ $what == closed ]] || continue
	[[ -f $dst/$name ]] || { missing=$((missing + 1)); note "closed but missing: $name"; }
done <"$T/writer.log"
expect_eq 0 "$missing" "every file whose close() succeeded is present"
expect_eq 0 "$(pending)" "no pending upload left in the catalog"
cat "$mnt/ds/log" >"$T/log.txt"
expect_contains "$T/log.txt" "discarded: a write failed: No space left on device" \
	"the dataset log names a discarded upload and why"
((present >= 22)) || die "only $present samples fit: the rest of the test needs 22"

# ---- (B) a failing overwrite keeps the old bytes
victim=$(cd "$dst" && ls | head -n 1)
fill
python3 - "$dst/$victim" >"$T/over.log" <<'EOF'
import errno, os, sys
fails = []
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
    try:
        for _ in range(8):
            os.write(fd, b"x" * (1 << 20))
    except OSError as e:
        fails.append("write:" + errno.errorcode[e.errno])
    try:
        os.close(fd)
    except OSError as e:
        fails.append("close:" + errno.errorcode[e.errno])
except OSError as e:
    fails.append("open:" + errno.errorcode[e.errno])
print(" ".join(fails) or "no-error")
EOF
over=$(cat "$T/over.log")
case $over in
"open:ENOSPC" | "close:ENOSPC" | "write:ENOSPC close:ENOSPC")
	pass "the overwrite on a full disk fails, and close() says so if write did ($over)" ;;
*) fail "the overwrite on a full disk: expected ENOSPC from open, or from close (after write), got: $over" ;;
esac
read -r p b e < <(verify "$dst")
expect_eq "$present 0" "$p $b" "the overwritten sample keeps its old bytes"

# ---- (C) rm on a full disk
rmok=0
for name in $(cd "$dst" && ls | head -n 20); do
	fill
	if rm -- "$dst/$name" 2>>"$T/rm.err"; then
		rmok=$((rmok + 1))
	fi
done
expect_eq 20 "$rmok" "20 rm's of samples on a full disk all succeed"
sv_show "$T/rm.err"
rm -f -- "$disk"/filler.*

# ---- (D) space is back
ok "after freeing space, a new copy succeeds" cp -r "$src/c/." "$dst/"
read -r p b e < <(verify "$dst")
expect_eq "$((present - 20 + 3)) 0 0" "$p $b $e" "every sample has its bytes after the new copy"
expect_eq ok "$(sqlite3 "$store/catalog.db" 'PRAGMA integrity_check')" "catalog integrity_check"
sv_umount "$mnt"
sv_mount "$store" "$mnt" || die "remount failed"
read -r p2 b2 e2 < <(verify "$dst")
expect_eq "$p 0 0" "$p2 $b2 $e2" "after a remount: the same samples, all with their bytes"
expect_eq 0 "$(pending)" "no pending upload after the remount"
sv_umount "$mnt"
