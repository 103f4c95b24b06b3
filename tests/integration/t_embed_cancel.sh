#!/usr/bin/env bash
#
# t_embed_cancel — `cancel` while the built-in embedder runs.
#
# The embedder decodes the images whose features are not cached in rounds of
# 512, committing each round in one transaction (core/embedder.c). Proves:
# a `cancel` written while `sample` shows `phase: embedding` ends the run as
# `cancelled` (not done, not failed) with no builtin.csv and the selection
# unchanged; the round that was finished before the cancel stays in the
# feature cache (exactly 512 rows), the round in progress leaves nothing;
# the next `embed` computes only the rest and gives the same builtin.csv as
# an embedding of the same files that was never interrupted (on a second,
# fresh store).
#
# Timing: the misses are decoded in content-hash order, so the images are
# made to sort into a cheap first round and an expensive second one: 512
# small PNGs whose SHA-256 starts below 0x80, then 100 black 4000x4000 PNGs
# (~16 KB each, tens of milliseconds each to decode and resample) whose hash
# starts at 0x80 or above — a tEXt chunk with a counter picks the hash. The
# test writes `cancel` as soon as the progress line shows 512 done, while
# the second round still has seconds to go. Nothing here asserts a time: if
# the run ended before the cancel landed, the status check fails loudly.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need sqlite3 cmp grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null ||
	die "$PY cannot import PIL (apt-get install python3-pil)"

NSMALL=512 NBIG=100
N=$((NSMALL + NBIG))
src=$T/src
mkdir -p "$src"
"$PY" - "$src" "$NSMALL" "$NBIG" <<'EOF' || die "cannot make the test images"
import hashlib, io, struct, sys, zlib
from PIL import Image
d, nsmall, nbig = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def png(w, h, shade):
    b = io.BytesIO()
    Image.new("L", (w, h), shade).save(b, "PNG")
    return b.getvalue()

def variant(base, tag, big):
    """base with a tEXt chunk after IHDR (8 + 25 bytes); its counter is
    chosen so that the file's SHA-256 sorts into the wanted round."""
    for k in range(100000):
        data = b"sievefs\0" + tag + b"." + str(k).encode()
        body = b"tEXt" + data
        out = (base[:33] + struct.pack(">I", len(data)) + body +
               struct.pack(">I", zlib.crc32(body)) + base[33:])
        if (hashlib.sha256(out).digest()[0] >= 0x80) == big:
            return out
    raise SystemExit("no variant found")

small, big = png(64, 64, 128), png(4000, 4000, 0)
for i in range(nsmall):
    with open("%s/s%03d.png" % (d, i), "wb") as f:
        f.write(variant(small, b"s%d" % i, False))
for i in range(nbig):
    with open("%s/b%03d.png" % (d, i), "wb") as f:
        f.write(variant(big, b"b%d" % i, True))
EOF

features() {
	sqlite3 "file:$1/catalog.db?mode=ro" "SELECT count(*) FROM features" 2>/dev/null
}

sv_mount "$T/store" "$T/mnt"
ds=$T/mnt/big
ok "mkdir dataset" mkdir "$ds"
ok "cp $N images in" cp -r "$src/." "$ds/initial-tag/"
cat "$ds/selection" >"$T/sel.before"
ok "request: embed" sample_req "$ds" embed

# Wait for the first round to be committed, then cancel.
seen=""
for ((i = 0; i < 1200; i++)); do
	cat "$ds/sample" >"$T/sample.txt" 2>&1
	if grep -q '^status: \(done\|failed\|cancelled\)' "$T/sample.txt"; then
		break
	fi
	p=$(sed -n 's|^progress: \([0-9]*\)/.*|\1|p' "$T/sample.txt")
	if grep -q '^phase: embedding' "$T/sample.txt" && [ "${p:-0}" -ge "$NSMALL" ]; then
		seen=$p
		break
	fi
	sleep 0.1
done
[ -n "$seen" ] && pass "progress showed $seen/$N images in phase embedding" ||
	{ fail "never saw the first round done in phase embedding"; sv_show "$T/sample.txt" 20; }
ok "request: cancel" sample_req "$ds" cancel
expect_eq "$(wait_run "$ds")" cancelled "the run ends cancelled"
expect_contains "$ds/log" "sample: run 1 cancelled" "log records the run as cancelled"
if [ -e "$ds/embeddings/builtin.csv" ]; then
	fail "builtin.csv exists after a cancelled embedding"
else
	pass "no builtin.csv after the cancel"
fi
ok "the selection is unchanged" cmp "$T/sel.before" "$ds/selection"
expect_eq "$(features "$T/store")" "$NSMALL" \
	"the finished round ($NSMALL images) is kept, the cancelled one is not"

# The next request computes the rest; the result is that of a clean run.
ok "request: embed again" sample_req "$ds" embed
expect_eq "$(wait_run "$ds")" done "the second embed completes"
expect_line "$T/sample.txt" "progress: $N/$N samples" "progress: $N/$N"
expect_eq "$(features "$T/store")" "$N" "one feature row per image"
cat "$ds/embeddings/builtin.csv" >"$T/resumed.csv"
expect_eq "$(tail -n +2 "$T/resumed.csv" | grep -c .)" "$N" "builtin.csv has $N rows"

sv_mount "$T/store2" "$T/mnt2"
ok "mkdir dataset (fresh store)" mkdir "$T/mnt2/big"
ok "cp $N images in (fresh store)" cp -r "$src/." "$T/mnt2/big/initial-tag/"
ok "request: embed (fresh store)" sample_req "$T/mnt2/big" embed
expect_eq "$(wait_run "$T/mnt2/big")" done "the uninterrupted embed completes"
cat "$T/mnt2/big/embeddings/builtin.csv" >"$T/clean.csv"
ok "resumed builtin.csv = uninterrupted builtin.csv" cmp "$T/resumed.csv" "$T/clean.csv"

sv_umount "$T/mnt2"
sv_umount "$T/mnt"
