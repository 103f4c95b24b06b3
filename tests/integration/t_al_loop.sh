#!/usr/bin/env bash
#
# t_al_loop — the README's worked active-learning loop ("An active-learning
# loop, worked"), step by step as a user types it, through a local
# (embedded) mount and a remote mount of a real `sievefs serve`: one body
# (`flows`) run in each mode with the same expectations.
#
# The pool: 80 samples with a lightly-format embeddings CSV (two clusters
# in 8 dimensions). The "model" is predict.py: a fixed logistic function of
# the first coordinate, so its uncertainty is highest near 0 and known here.
# Proves, in each mode:
# - round 1: `n=10` picks 10, `mkdir round-1` freezes them (parent
#   initial-tag);
# - `python3 predict.py > predictions/round1.csv` (a shell redirect, the
#   form that once stored nothing) stores the bytes as written and
#   round1.scores.csv gives the uncertainty of every sample;
# - round 2: `weights column=round1.uncertainty_entropy + diversity n=10
#   preselected=round-1` picks 10 new samples, none of round 1, whose mean
#   entropy is above the mean of the samples not picked;
# - `union: round-1 round-2` then `mkdir labelled` holds the 20, with
#   round-1 as parent; `difference: initial-tag labelled` leaves the 60
#   still to label;
# - a request naming a column the predictions lack fails with EINVAL, says
#   why in `sample`, and the selection stays as it was.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl cmp getfattr mountpoint fusermount3
PY=/usr/bin/python3

sv_modes

mkdir -p "$T/pool"
"$PY" - "$T/pool" "$T/emb.csv" <<'EOF'
import random, sys
pool, out = sys.argv[1], sys.argv[2]
rng = random.Random(7)
rows = []
for i in range(80):
    name = "img%03d.bin" % i
    open("%s/%s" % (pool, name), "w").write("sample %d\n" % i)
    c = -1.0 if i % 2 else 1.0
    v = [c + rng.gauss(0, 0.6)] + [rng.gauss(0, 1) for _ in range(7)]
    rows.append(name + "," + ",".join("%.5f" % x for x in v) + ",0")
with open(out, "w") as f:
    f.write("filenames," + ",".join("embedding_%d" % d for d in range(8)) + ",labels\n")
    f.write("\n".join(rows) + "\n")
EOF
# the "model": p(cat) = logistic(3 * x0), computed from the embedding
cat >"$T/predict.py" <<'EOF'
import csv, math, sys
rows = csv.reader(open(sys.argv[1], newline=""))
next(rows)
print("filename,cat,dog")
for r in rows:
    p = 1 / (1 + math.exp(-3 * float(r[1])))
    print("%s,%.6f,%.6f" % (r[0], p, 1 - p))
EOF

flows() {
	local ds=$1/leaves
	MODE=$2
	ok "mkdir leaves" mkdir "$ds"
	ok "cp -r the pool into initial-tag" cp -r "$T/pool/." "$ds/initial-tag/"
	ok "cp the embeddings CSV" cp "$T/emb.csv" "$ds/embeddings/emb.csv"

	# round 1: the first 10 to label
	ok 'echo "n=10" > sample' sample_req "$ds" "n=10"
	expect_eq done "$(wait_run "$ds")" "round 1's run ends done"
	ok "mkdir round-1" mkdir "$ds/round-1"
	expect_eq 10 "$(ls "$ds/round-1" | wc -l)" "round-1 holds 10 samples"
	ls "$ds/round-1" | sort >"$T/r1"

	# the model's predictions for the whole pool, by a shell redirect
	bash -c '"$1" "$2" "$3" > "$4"' _ "$PY" "$T/predict.py" "$T/emb.csv" \
		"$ds/predictions/round1.csv"
	expect_eq 0 $? "python3 predict.py > predictions/round1.csv exits 0"
	"$PY" "$T/predict.py" "$T/emb.csv" >"$T/round1.csv"
	ok "predictions/round1.csv reads back as written" cmp "$T/round1.csv" "$ds/predictions/round1.csv"
	ok "round1.scores.csv parses" "$PY" - "$ds/predictions/round1.scores.csv" "$T/entropy" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 80, len(rows)
with open(sys.argv[2], "w") as f:
    for r in rows:
        e = float(r["uncertainty_entropy"])
        assert 0 <= e <= 1, r
        f.write("%s %s\n" % (r["filename"], e))
EOF

	# round 2: uncertain, diverse, not already labelled
	cp "$ds/selection" "$T/sel.before"
	expect_errno "Invalid argument" sample_req "$ds" \
		"weights column=round1.bird + diversity n=10 preselected=round-1"
	expect_contains "$ds/sample" "no column 'bird' in predictions/round1.csv (columns: " "sample says the predictions have no column bird, and which they have"
	ok "the refused request left the selection as it was" cmp "$T/sel.before" "$ds/selection"
	ok "round 2's request" sample_req "$ds" \
		"weights column=round1.uncertainty_entropy + diversity n=10 preselected=round-1"
	expect_eq done "$(wait_run "$ds")" "round 2's run ends done"
	ok "mkdir round-2" mkdir "$ds/round-2"
	ls "$ds/round-2" | sort >"$T/r2"
	expect_eq 10 "$(wc -l <"$T/r2")" "round-2 holds 10 samples"
	expect_eq 0 "$(comm -12 "$T/r1" "$T/r2" | wc -l)" "no sample of round 1 is picked again"
	ok "round 2's picks are more uncertain than the samples left" \
		"$PY" - "$T/entropy" "$T/r1" "$T/r2" <<'EOF'
import sys
ent = dict(l.split() for l in open(sys.argv[1]))
r1 = set(open(sys.argv[2]).read().split())
r2 = set(open(sys.argv[3]).read().split())
picked = [float(ent[n]) for n in r2]
rest = [float(e) for n, e in ent.items() if n not in r1 | r2]
mp, mr = sum(picked) / len(picked), sum(rest) / len(rest)
print("mean entropy: picked %.3f, not picked %.3f" % (mp, mr))
assert mp > mr, (mp, mr)
EOF

	# what is labelled so far, and what is left
	ok "echo 'union: round-1 round-2' > selection" bash -c 'echo "union: round-1 round-2" > "$1"' _ "$ds/selection"
	ok "mkdir labelled" mkdir "$ds/labelled"
	expect_eq 20 "$(ls "$ds/labelled" | wc -l)" "labelled holds the 20"
	ok "getfattr user.sievefs.parent of labelled" getfattr --only-values -n user.sievefs.parent "$ds/labelled"
	expect_eq round-1 "$(cat "$T/last.out")" "labelled's parent is round-1 (the first operand)"
	ok "echo 'difference: initial-tag labelled' > selection" \
		bash -c 'echo "difference: initial-tag labelled" > "$1"' _ "$ds/selection"
	expect_eq 60 "$(wc -l <"$ds/selection")" "60 samples are left to label"
}

both_modes flows
