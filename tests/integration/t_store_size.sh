#!/usr/bin/env bash
#
# t_store_size — a store stays small (issue 16, item 4): the catalog's WAL
# (`STORE/catalog.db-wal`) is checkpointed and cut back while mounted, not
# left to grow with every write since the mount.
#
# Proves, on a local mount: after copying 5,000 small distinct PNGs in (in
# sub-folders, one transaction per file, while another process reads the
# tree and `info` in a loop), computing the built-in embedding
# (`echo embed > sample`), two sampling runs (`sievefs sample DS n=100`) and
# freezing a tag, and with the mount still up and idle, the WAL is at most
# 64 MiB (the daemon truncates it when idle: it must also be ≤ 64 MiB at
# once after the workload, before any idle time, as journal_size_limit
# bounds it); after unmount it is at most 64 MiB too (SQLite removes it on
# the last close). Prints the WAL's and the catalog's sizes at each step
# and the catalog's bytes per sample, as the figures README quotes.
# Fails on a tree where a connection's read snapshot keeps the WAL from
# ever being restarted (issue 16: 197 MB of WAL after 2.5 MB of PNGs).

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need stat find grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

N=5000
LIMIT=$((64 * 1024 * 1024))

# 5,000 distinct 16×16 RGB PNGs in 10 folders (~100 bytes to 1 KiB each)
"$PY" - "$T/src" "$N" <<'EOF' || die "could not make the PNGs"
import os, random, sys
from PIL import Image
root, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
for i in range(n):
    d = os.path.join(root, "c%d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    im = Image.new("RGB", (16, 16), (i % 256, (i // 256) % 256, (i * 7) % 256))
    for _ in range(24):
        im.putpixel((rng.randrange(16), rng.randrange(16)),
                    (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    im.save(os.path.join(d, "%05d.png" % i))
EOF

wal=$T/store/catalog.db-wal
# size FILE: bytes, 0 when it does not exist
size() { stat -c %s -- "$1" 2>/dev/null || echo 0; }
# wal_ok WHEN: the WAL is ≤ 64 MiB now
wal_ok() {
	local w c
	w=$(size "$wal")
	c=$(size "$T/store/catalog.db")
	note "$1: catalog.db $c bytes, catalog.db-wal $w bytes"
	if ((w <= LIMIT)); then
		pass "$1: WAL $w bytes <= 64 MiB"
	else
		fail "$1: WAL $w bytes > 64 MiB"
	fi
}

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ds=$T/mnt/ds
ok "mkdir dataset" mkdir "$ds" || die "no dataset"
# a reader beside the writer (readers in the WAL are what can keep a
# checkpoint from finishing): stat every file and read info, in a loop
(while :; do find "$ds/initial-tag" -type f -newer "$T/src" >/dev/null 2>&1
	cat "$ds/info" >/dev/null 2>&1; done) &
SV_BG+=("$!")
reader=$!
ok "cp -r $N PNGs in" cp -r "$T/src/." "$ds/initial-tag/"
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
n=$(find "$ds/initial-tag" -type f | wc -l)
expect_eq "$N" "$n" "initial-tag holds $N files"
wal_ok "after cp -r"

ok "echo embed > sample" sample_req "$ds" embed
st=$(wait_run "$ds")
expect_eq done "$st" "the built-in embedding is computed" || sv_show "$T/sample.txt" 20
wal_ok "after embed"

ok "sievefs sample ds n=100 (1)" "$SIEVEFS" sample "$ds" n=100
ok "sievefs sample ds random n=100 (2)" "$SIEVEFS" sample "$ds" random n=100
n=$(wc -l <"$ds/selection")
expect_eq 100 "$n" "the selection holds 100 samples"
ok "mkdir a tag" mkdir "$ds/best"
wal_ok "after two sampling runs and a tag, at once"

# idle: the daemon truncates the WAL when writes stop (a few seconds)
for ((i = 0; i < 100; i++)); do
	(($(size "$wal") <= 4 * 1024 * 1024)) && break
	sleep 0.1
done
wal_ok "after the workload, mounted and idle"
w=$(size "$wal")
((w <= 4 * 1024 * 1024)) && pass "idle: the WAL was cut back to $w bytes" ||
	fail "idle: the WAL still holds $w bytes after 10 s without writes"

c=$(size "$T/store/catalog.db")
note "catalog bytes per sample: $((c / N)) ($c bytes, $N samples, builtin embedding, 2 runs, 1 tag)"
sv_umount "$T/mnt"
wal_ok "after unmount"
