#!/usr/bin/env bash
#
# t_messages — the messages of sampling say what happened and what to do
# (issue 16, item 5), on a local mount.
#
# Proves: `sievefs sample DS n=2` over 6 images and 3 files that are not
# images prints `done: run 1 picked 2 of 6 in …; 3 skipped: not images`, and
# `sample` says `skipped: 3 (no vector: not images)`; over a CSV it says
# `(no vector: not in NAME.csv)`; a file the built-in embedder cannot decode
# is a `warning` line in `log`, not an `ERROR`; `balance` over the built-in
# embedding (labels all 0) is refused at the write (EINVAL, the reason in
# `sample`, exit 2 from the CLI), and over a CSV whose labels are all equal
# the run fails with that reason (exit 1), while a labelled CSV balances;
# `keep 5` after 3 of the top 5 picks were removed says `kept: 2 of the top
# 5 of run 1 (3 of those picks were removed since the run)` in `sample`, in
# the CLI's output and in `log`, and the selection holds 2; `sample` never
# shows `progress: 0/0` (polled through a whole run over the built-in
# embedder, and while a request is queued behind another), and the phases it
# shows come in the order embedding, projecting, loading, sampling.
#
# Timing: nothing asserts a time; the poller reads `sample` as fast as it
# can until the run it watches ends.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need grep mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import PIL' 2>/dev/null || die "$PY cannot import PIL (apt-get install python3-pil)"

src=$T/src slow=$T/slow
mkdir -p "$src" "$slow"
"$PY" - "$src" <<'EOF' || die "cannot make the test files"
import random, sys
from PIL import Image
d = sys.argv[1]
random.seed(3)
for i in range(6):
    im = Image.new("RGB", (24, 24))
    im.putdata([tuple(random.randrange(256) for _ in range(3)) for _ in range(24 * 24)])
    im.save("%s/img%d.png" % (d, i))
open("%s/notes.txt" % d, "w").write("not a picture\n")
open("%s/data.bin" % d, "wb").write(bytes(range(256)))
open("%s/empty.png" % d, "wb").close()
imgs = ["img%d.png" % i for i in range(6)]
def csv(name, labels):
    with open("%s/../%s.csv" % (d, name), "w") as f:
        f.write("filenames,embedding_0,embedding_1,labels\n")
        for i, p in enumerate(imgs):
            f.write("%s,%d.5,%d.25,%d\n" % (p, i, i % 3, labels[i]))
csv("flat", [0] * 6)
csv("classes", [0, 0, 0, 0, 1, 1])
# 10 text samples with a 2-D embedding
for i in range(10):
    open("%s/../k%02d.txt" % (d, i), "w").write("k %d\n" % i)
with open("%s/../kemb.csv" % d, "w") as f:
    f.write("filenames,embedding_0,embedding_1,labels\n")
    for i in range(10):
        f.write("k%02d.txt,%d.0,%d.0,0\n" % (i, i * i, (i * 7) % 10))
EOF
sv_slow_pngs "$slow" 40 slow || die "cannot make the slow images"

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ds=$T/mnt/pics
ok "mkdir pics" mkdir "$ds"
ok "cp 6 images and 3 other files into pics" cp "$src/." -r "$ds/initial-tag/"

# ---------------------------------------------------------------- skipped
"$SIEVEFS" sample "$ds" n=2 >"$T/cli1.out" 2>"$T/cli1.err"
expect_eq 0 $? "sievefs sample pics n=2 exits 0"
if grep -qE '^done: run 1 picked 2 of 6 in [0-9.]+s; 3 skipped: not images$' "$T/cli1.out"; then
	pass "the result line counts the skipped files: $(cat "$T/cli1.out")"
else
	fail "the result line does not say '3 skipped: not images'"; sv_show "$T/cli1.out"
fi
cat "$ds/sample" >"$T/s1.txt"
expect_line "$T/s1.txt" "skipped: 3 (no vector: not images)" "sample: skipped: 3 (no vector: not images)"

# ---------------------------------------------------------------- not images: warning
cat "$ds/log" >"$T/log1"
for f in notes.txt data.bin empty.png; do
	if grep -q " warning embed: $f: no vector:" "$T/log1"; then
		pass "log: $f is a warning"
	else
		fail "log has no warning line for $f"; sv_show "$T/log1" 30
	fi
	if grep " ERROR " "$T/log1" | grep -q "embed: $f"; then
		fail "log calls $f an ERROR"
	else
		pass "log does not call $f an ERROR"
	fi
done

# ---------------------------------------------------------------- balance without labels
expect_errno "Invalid argument" sample_req "$ds" "balance n=2"
expect_contains "$ds/sample" "rejected: balance: the built-in embedding has no labels" \
	"sample says why balance over the built-in embedding is refused"
"$SIEVEFS" sample "$ds" balance n=2 >"$T/cli2.out" 2>"$T/cli2.err"
expect_eq 2 $? "sievefs sample pics balance n=2 (built-in) exits 2"
expect_contains "$T/cli2.err" "balance: the built-in embedding has no labels" "... with the reason"
ok "cp flat.csv (labels all 0)" cp "$T/flat.csv" "$ds/embeddings/flat.csv"
ok "cp classes.csv (labels 0 and 1)" cp "$T/classes.csv" "$ds/embeddings/classes.csv"
"$SIEVEFS" sample "$ds" balance n=2 embedding=flat >"$T/cli3.out" 2>"$T/cli3.err"
expect_eq 1 $? "sievefs sample pics balance embedding=flat exits 1 (the run fails)"
expect_contains "$T/cli3.err" "failed: balance: embedding 'flat' has no labels (all 6 candidates have the same one)" \
	"... saying the embedding has no labels"
expect_contains "$ds/sample" "reason: balance: embedding 'flat' has no labels" "sample: reason names it"
"$SIEVEFS" sample "$ds" balance n=2 embedding=classes >"$T/cli4.out" 2>"$T/cli4.err"
expect_eq 0 $? "sievefs sample pics balance embedding=classes (two labels) exits 0"
expect_contains "$T/cli4.out" "picked 2 of 6" "... and picks 2 of 6"
run_seq=$(sed -n 's/^run: //p' "$ds/sample")
"$SIEVEFS" sample "$ds" coreset n=2 embedding=flat >"$T/cli5.out" 2>"$T/cli5.err"
expect_eq 0 $? "coreset over flat.csv exits 0"
expect_line "$ds/sample" "skipped: 3 (no vector: not in flat.csv)" "sample: skipped: 3 (no vector: not in flat.csv)"
expect_contains "$T/cli5.out" "3 skipped: not in flat.csv" "the result line says not in flat.csv"

# ---------------------------------------------------------------- keep after removals
k=$T/mnt/k
ok "mkdir k" mkdir "$k"
ok "cp 10 samples into k" cp "$T"/k*.txt "$k/initial-tag/"
ok "cp kemb.csv into k" cp "$T/kemb.csv" "$k/embeddings/kemb.csv"
"$SIEVEFS" sample "$k" coreset n=10 >/dev/null 2>&1
expect_eq 0 $? "k: coreset n=10 exits 0"
head -n 5 "$k/selection" >"$T/top5"
for f in $(sed -n 2,4p "$T/top5"); do rm -- "$k/initial-tag/$f" || fail "rm $f"; done
ok "echo \"keep 5\" > k/sample" sample_req "$k" "keep 5"
expect_line "$k/sample" "kept: 2 of the top 5 of run 1 (3 of those picks were removed since the run)" \
	"sample: kept: 2 of the top 5 (3 removed)"
expect_eq 2 "$(wc -l <"$k/selection")" "the selection holds the 2 that are left"
expect_contains "$k/log" "sample: kept 2 of the top 5 of run 1 (3 of those picks were removed since the run)" \
	"log says how many were kept"
"$SIEVEFS" sample "$k" keep 4 >"$T/keep.out" 2>&1
expect_eq 0 $? "sievefs sample k keep 4 exits 0"
expect_line "$T/keep.out" "kept: 1 of the top 4 of run 1 (3 of those picks were removed since the run)" \
	"the CLI prints how many it kept"
"$SIEVEFS" sample "$k" keep 1 >"$T/keep1.out" 2>&1
expect_line "$T/keep1.out" "kept: top 1 of run 1" "nothing removed among the top 1: kept: top 1 of run 1"

# ---------------------------------------------------------------- progress, phases
s=$T/mnt/slow q=$T/mnt/queued
ok "mkdir slow queued" mkdir "$s" "$q"
ok "cp 40 slow PNGs into slow" cp "$slow"/*.png "$s/initial-tag/"
ok "cp 2 images into queued" cp "$src/img0.png" "$src/img1.png" "$q/initial-tag/"
ok "slow: n=3 (embeds first)" sample_req "$s" "n=3"
# the poller: every text of slow/sample until the run ends, one per file
"$PY" - "$s/sample" "$T/polls" <<'EOF' &
import os, sys
path, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
i = 0
while True:
    t = open(path).read()
    if i < 20000:
        open("%s/%05d" % (out, i), "w").write(t)
        i += 1
    if any(l in t.splitlines() for l in ("status: done", "status: failed", "status: cancelled")):
        break
EOF
poller=$!
SV_BG+=("$poller")
ok "queued: n=1 behind slow's run" sample_req "$q" "n=1"
cat "$q/sample" >"$T/q.txt"
if grep -qx 'status: queued' "$T/q.txt"; then
	if grep -q '^progress:' "$T/q.txt"; then
		fail "a queued run shows a progress line"; sv_show "$T/q.txt"
	else pass "a queued run shows no progress line (not 0/0)"; fi
else
	fail "queued's run was not queued behind slow's (status: $(sed -n 's/^status: //p' "$T/q.txt"))"
fi
wait "$poller"
expect_eq 0 $? "the poller saw slow's run end"
npolls=$(ls "$T/polls" | wc -l)
note "$npolls texts of slow/sample read during the run"
if cat "$T/polls"/* | grep -q '^progress: 0/0'; then
	fail "sample showed progress: 0/0"; cat "$T/polls"/* | grep -m3 '^progress: 0/0'
else
	pass "sample never showed progress: 0/0 ($npolls reads)"
fi
cat "$T/polls"/* | sed -n 's/^phase: \([a-z]*\).*/\1/p' | uniq >"$T/phases"
note "phases seen: $(tr '\n' ' ' <"$T/phases")"
if "$PY" - "$T/phases" <<'EOF'; then
import sys
order = ["starting", "embedding", "projecting", "loading", "sampling"]
seen = [l.strip() for l in open(sys.argv[1]) if l.strip()]
idx = [order.index(p) if p in order else -1 for p in seen]
sys.exit(0 if seen and -1 not in idx and idx == sorted(idx) else 1)
EOF
	pass "the phases come in order (starting, embedding, projecting, loading, sampling)"
else
	fail "phases out of order or unknown: $(tr '\n' ' ' <"$T/phases")"
fi
grep -qx embedding "$T/phases" && pass "the embedding phase was seen" || fail "the embedding phase was never seen"
expect_eq done "$(wait_run "$q")" "queued's run ends done"

sv_umount "$T/mnt"
