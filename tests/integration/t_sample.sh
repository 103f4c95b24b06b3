#!/usr/bin/env bash
#
# t_sample — the `sample` control file: pick the most important samples from
# an embedding, keep the best N, freeze them as a tag.
#
# Proves: `echo "coreset n=50" > sample` runs in the background and `sample`
# then shows status, strategy, n, from, embedding, progress, skipped and
# elapsed; when done, scores.csv lists every candidate (samples without a
# vector are not candidates and are counted in skipped:) in rank order with
# scores in [0,1], non-increasing; coreset's picks are farthest-first (each
# pick is the candidate farthest from the ones before it); the selection is
# the top n; `mkdir best-50` freezes exactly those files with parent
# initial-tag; `keep N` moves the selection to the top N of the latest run;
# `from=best-50` samples only inside best-50 and makes it the next tag's
# parent; embedding= picks the matrix (default: the latest uploaded); random
# is reproducible under a seed; typicality (the default), kmeans and coreset
# with min_distance= pick one sample per well-separated cluster; balance
# spreads the picks over the CSV labels as evenly as their counts allow;
# every bad request (unknown strategy or key, bad value, unknown tag or
# embedding) fails the write with EINVAL, `sample` and `log` say why, and the
# previous selection, scores and run state are untouched; a run with no
# candidates ends "failed" with a reason and changes nothing; plot.svg is
# XML with an <svg> root, a circle per point and the dataset's name; info has
# embeddings: and latest run: lines; `sievefs sample` exits 0 and prints done,
# or exits 2 with the reason; `cancel` stops a long coreset run (status
# cancelled, selection unchanged) and the next request runs normally.
# Runs are numbered per dataset (`run: N`, log, info); log says "picked N of
# M candidates" and a cancel once; `keep N` shows as `kept: top N of run R`
# until the selection is written otherwise; counts of 1 are singular; an
# empty request (blank line) fails with EINVAL and a reason and queues
# nothing; `sievefs sample DS` with no request reports the latest run (exit
# 0 when it is done), or exits 2 with the usage when there was none, and
# `sievefs sample --help` shows the whole grammar.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 getfattr diff grep mountpoint fusermount3

# ---------------------------------------------------------------- helpers
# Control files show size 0 (their text is generated), so they are compared
# through cat, never with `cmp -s FILE CONTROL_FILE` (or `cmp - <FILE`): GNU
# cmp takes different sizes as different contents.

# same_text FILE CONTROL_FILE — the control file's text equals FILE.
same_text() {
	cat -- "$2" 2>/dev/null | cmp -s -- "$1" -
}

# run_done DS REQUEST — the request is accepted and its run ends "done".
run_done() {
	local st
	ok "echo \"$2\" > sample" sample_req "$1" "$2" || return 1
	st=$(wait_run "$1")
	if [[ $st == "done" ]]; then
		pass "\"$2\" ends with status: done"
	else
		fail "\"$2\" ends with status: $st"
		sv_show "$T/sample.txt" 20
		return 1
	fi
}

# check_scores DS N CANDIDATES_FILE DESC — scores.csv is "filename,score" then
# every candidate once, scores in [0,1] non-increasing; the selection is the
# first N names of scores.csv, in that order.
cat >"$T/check_scores.py" <<'EOF'
import csv, io, sys
scores_path, sel_path, n, cands_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
raw = open(scores_path, "rb").read().decode("utf-8")
rows = list(csv.reader(io.StringIO(raw, newline="")))
bad = []
if not rows or rows[0] != ["filename", "score"]:
    bad.append("header is %r, expected ['filename', 'score']" % (rows[0] if rows else None))
rows = rows[1:]
names = [r[0] for r in rows]
cands = [l.rstrip("\n") for l in open(cands_path, encoding="utf-8")]
if len(set(names)) != len(names):
    bad.append("a filename is listed twice")
if set(names) != set(cands):
    bad.append("%d rows; %d candidates missing (e.g. %r), %d extra (e.g. %r)" % (
        len(names), len(set(cands) - set(names)), sorted(set(cands) - set(names))[:2],
        len(set(names) - set(cands)), sorted(set(names) - set(cands))[:2]))
prev = None
for i, r in enumerate(rows):
    if len(r) != 2:
        bad.append("row %d has %d fields" % (i + 2, len(r)))
        break
    s = float(r[1])
    if not (0.0 <= s <= 1.0):
        bad.append("row %d: score %s outside [0,1]" % (i + 2, r[1]))
        break
    if prev is not None and s > prev:
        bad.append("row %d: score %s > previous %s" % (i + 2, r[1], prev))
        break
    prev = s
sel = open(sel_path, encoding="utf-8").read().split("\n")
if sel and sel[-1] == "":
    sel.pop()
if sel != names[:n]:
    bad.append("selection (%d lines) is not the first %d names of scores.csv" % (len(sel), n))
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
check_scores() {
	cat "$1/scores.csv" >"$T/scores.csv" 2>&1
	cat "$1/selection" >"$T/selection" 2>&1
	ok "$4" python3 "$T/check_scores.py" "$T/scores.csv" "$T/selection" "$2" "$3"
}

# labels_of FILE — the cluster labels of the paths listed in FILE, as one
# sorted, space-separated line with counts: "0:10 1:10 ...".
labels_of() {
	python3 - "$T/labels.tsv" "$1" <<'EOF'
import collections, sys
lab = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8"))
c = collections.Counter(lab.get(p.rstrip("\n"), "none") for p in open(sys.argv[2], encoding="utf-8"))
print(" ".join("%s:%d" % kv for kv in sorted(c.items())))
EOF
}

# ---------------------------------------------------------------- data

src=$T/src
sv_gen_tree "$src" 300 1024 701 || die "could not generate samples"
printf 'comma\n' >"$src/odd,name.bin"
printf 'quote\n' >"$src/say \"hi\".bin"
sv_files "$src" >"$T/all.txt"

# Five well-separated clusters in 16 dimensions (centres 60 apart along their
# own axis, spread 0.5), candidate counts 150/60/40/25/14 with the cluster as
# label; every 25th sample has no vector. Also a second embedding covering
# the first 100 candidates only.
cat >"$T/gen.py" <<'EOF'
import csv, random, sys
t = sys.argv[1]
names = [l.rstrip("\n") for l in open(t + "/all.txt", encoding="utf-8")]
rng = random.Random(702)
novec = names[::25]
cands = [n for n in names if n not in set(novec)]
order = list(cands)
rng.shuffle(order)
sizes = [150, 60, 40, 25, 14]
assert sum(sizes) == len(cands), (sum(sizes), len(cands))
label, k = {}, 0
for c, s in enumerate(sizes):
    for n in order[k:k + s]:
        label[n] = c
    k += s
D = 16
def vec(c):
    return [round((60.0 if j == c else 0.0) + rng.gauss(0, 0.5), 4) for j in range(D)]
def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["filenames"] + ["embedding_%d" % j for j in range(D)] + ["labels"])
        w.writerows(rows)
rows = [[n] + [str(v) for v in vec(label[n])] + [label[n]] for n in cands]
write(t + "/clusters.csv", rows)
write(t + "/part.csv", [[n] + [str(v) for v in vec(label[n])] + [label[n]] for n in cands[:100]])
with open(t + "/labels.tsv", "w", encoding="utf-8") as f:
    for n in cands:
        f.write("%s\t%d\n" % (n, label[n]))
with open(t + "/cands.txt", "w", encoding="utf-8") as f:
    f.write("".join(n + "\n" for n in cands))
with open(t + "/novec.txt", "w", encoding="utf-8") as f:
    f.write("".join(n + "\n" for n in novec))
EOF
ok "generate the embedding CSVs" python3 "$T/gen.py" "$T" || die "CSV generation failed"
ncand=$(wc -l <"$T/cands.txt")
nnovec=$(wc -l <"$T/novec.txt")

# farthest-first check: for i >= 1, pick i of scores.csv is (within rounding)
# the candidate farthest from picks 0..i-1.
cat >"$T/farthest.py" <<'EOF'
import csv, io, struct, sys
emb, scores, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
f32 = lambda s: struct.unpack("f", struct.pack("f", float(s)))[0]
vec = {}
for r in list(csv.reader(open(emb, newline="", encoding="utf-8")))[1:]:
    vec[r[0]] = [f32(v) for v in r[1:-1]]
names = [r[0] for r in list(csv.reader(io.StringIO(open(scores, encoding="utf-8").read(), newline="")))[1:]]
picks = names[:k]
d2 = lambda a, b: sum((x - y) ** 2 for x, y in zip(a, b))
mind = {n: d2(vec[n], vec[picks[0]]) for n in names}
for i in range(1, k):
    before = set(picks[:i])
    rest = [n for n in names if n not in before]
    best = max(mind[n] for n in rest)
    got = mind[picks[i]]
    if got < best * (1 - 1e-9):
        print("pick %d (%s) is at squared distance %.6g from the picks before it;"
              " the farthest candidate is at %.6g" % (i, picks[i], got, best), file=sys.stderr)
        sys.exit(1)
    for n in names:
        mind[n] = min(mind[n], d2(vec[n], vec[picks[i]]))
EOF

# ---------------------------------------------------------------- setup

mnt=$T/mnt
sv_mount "$T/store" "$mnt" || die "mount failed"
ok "mkdir dataset leaves" mkdir "$mnt/leaves" || die "cannot create a dataset"
ds=$mnt/leaves
ok "cp -r samples into initial-tag" cp -r "$src/." "$ds/initial-tag/"
expect_tree_eq "$src" "$ds/initial-tag" "initial-tag equals the source"
ok "cp clusters.csv into embeddings/" cp "$T/clusters.csv" "$ds/embeddings/clusters.csv" ||
	die "cannot upload the embedding"
ok "cat sample before any request" cat "$ds/sample"

# ---------------------------------------------------------------- coreset n=50

run_done "$ds" "coreset n=50" || die "the first sampling run did not finish"
cp "$T/sample.txt" "$T/sample.run1"
expect_line "$T/sample.run1" "status: done" "sample: status: done"
expect_line "$T/sample.run1" "strategy: coreset" "sample: strategy: coreset"
expect_line "$T/sample.run1" "n: 50" "sample: n: 50"
expect_line "$T/sample.run1" "from: initial-tag" "sample: from: initial-tag"
expect_line "$T/sample.run1" "embedding: clusters" "sample: embedding: clusters"
expect_line "$T/sample.run1" "progress: 50/50" "sample: progress: 50/50"
expect_line "$T/sample.run1" "skipped: $nnovec (no vector: not in clusters.csv)" \
	"sample: skipped: $nnovec (the samples without a vector)"
if grep -qE '^elapsed: .+' "$T/sample.run1"; then pass "sample: elapsed: line"; else
	fail "sample has no elapsed: line"; sv_show "$T/sample.run1" 20; fi
if grep -q '^reason:' "$T/sample.run1"; then
	fail "a done run shows a reason: line"; sv_show "$T/sample.run1" 20
else pass "a done run shows no reason: line"; fi

check_scores "$ds" 50 "$T/cands.txt" \
	"scores.csv: all $ncand candidates, scores in [0,1] non-increasing; selection = top 50"
cp "$T/scores.csv" "$T/scores.run1"
expect_eq 50 "$(wc -l <"$ds/selection")" "wc -l < selection is 50"
ok "coreset picks are farthest-first" python3 "$T/farthest.py" "$T/clusters.csv" "$T/scores.run1" 50
labels_of "$T/selection" >"$T/lab.run1"
if grep -q none "$T/lab.run1"; then fail "a sample without a vector was picked: $(cat "$T/lab.run1")"; else
	pass "no sample without a vector is picked"; fi

ok "mkdir best-50" mkdir "$ds/best-50"
sort "$T/selection" >"$T/best50.expected"
sv_files "$ds/best-50" >"$T/best50.got"
expect_list_eq "$T/best50.expected" "$T/best50.got" "best-50 holds exactly the 50 selected files"
expect_eq 50 "$(wc -l <"$T/best50.got")" "ls best-50 counts 50 files"
expect_eq "initial-tag" "$(sv_xattr "$ds/best-50" user.sievefs.parent)" "parent of best-50 is initial-tag"
bytes_ok=1
while read -r p; do
	cmp -s -- "$src/$p" "$ds/best-50/$p" || { bytes_ok=0; fail "best-50/$p differs from the source"; }
done <"$T/best50.expected"
((bytes_ok)) && pass "best-50 files carry the source bytes"

# ---------------------------------------------------------------- keep N

ok "echo \"keep 100\" > sample" sample_req "$ds" "keep 100"
ok "cat selection" cat "$ds/selection"
expect_list_eq <(sed -n '2,101p' "$T/scores.run1" | python3 -c '
import csv, sys
for r in csv.reader(sys.stdin): print(r[0])') "$T/last.out" "keep 100: selection = the first 100 rows of scores.csv"
ok "echo \"keep 20\" > sample" sample_req "$ds" "keep 20"
check_scores "$ds" 20 "$T/cands.txt" "keep 20: selection = the top 20 of the same scores.csv"
expect_list_eq "$T/scores.run1" "$T/scores.csv" "keep leaves scores.csv unchanged"
expect_eq 20 "$(wc -l <"$ds/selection")" "wc -l < selection is 20"
ok "mkdir best-20" mkdir "$ds/best-20"
sort "$T/selection" >"$T/best20.expected"
sv_files "$ds/best-20" >"$T/best20.got"
expect_list_eq "$T/best20.expected" "$T/best20.got" "best-20 holds exactly the first 20 files of scores.csv"
expect_eq "initial-tag" "$(sv_xattr "$ds/best-20" user.sievefs.parent)" "parent of best-20 is initial-tag"
if comm -23 "$T/best20.got" "$T/best50.got" | grep -q .; then
	fail "best-20 is not a subset of best-50"
else pass "best-20 is a subset of best-50"; fi

# ---------------------------------------------------------------- info

ok "cat info" cat "$ds/info"
cp "$T/last.out" "$T/info"
if grep -E '^embeddings:' "$T/info" | grep -q clusters; then pass "info: embeddings: line names clusters"; else
	fail "info has no embeddings: line naming clusters"; sv_show "$T/info" 30; fi
if grep -E '^latest run:' "$T/info" | grep -q coreset; then pass "info: latest run: line names coreset"; else
	fail "info has no latest run: line naming coreset"; sv_show "$T/info" 30; fi

# ---------------------------------------------------------------- bad requests

cat "$ds/selection" >"$T/sel.before"
grep -v '^rejected:' "$ds/sample" >"$T/sample.before"
while IFS='|' read -r req token; do
	expect_errno "write error: Invalid argument" sample_req "$ds" "$req"
	cat "$ds/sample" >"$T/sample.bad" 2>&1
	if grep '^rejected:' "$T/sample.bad" | grep -qF -- "$token"; then
		pass "\"$req\": sample has a rejected: line naming $token"
	else
		fail "\"$req\": sample has no rejected: line naming $token"
		sv_show "$T/sample.bad" 20
	fi
	cat "$ds/log" >"$T/log" 2>&1
	if tail -n 1 "$T/log" | grep -qF -- "$token"; then
		pass "\"$req\": the last log line names $token"
	else
		fail "\"$req\": the last log line does not name $token: $(tail -n 1 "$T/log")"
	fi
	grep -v '^rejected:' "$T/sample.bad" >"$T/sample.after"
	diff -q "$T/sample.before" "$T/sample.after" >/dev/null ||
		{ fail "\"$req\": the run state in sample changed"; sv_show "$T/sample.after" 20; }
	same_text "$T/sel.before" "$ds/selection" || fail "\"$req\": the selection changed"
	same_text "$T/scores.run1" "$ds/scores.csv" || fail "\"$req\": scores.csv changed"
done <<'EOF'
nosuchstrategy n=5|nosuchstrategy
coreset bogus=1|bogus
coreset n=abc|abc
coreset n=0|n=0
coreset n=-3|-3
coreset from=nosuchtag|nosuchtag
coreset embedding=nosuchemb|nosuchemb
coreset seed=xyz|xyz
random min_distance=5|min_distance
coreset n=5 min_distance=far|far
keep many|many
keep 1000000|ranked only
cancel|no request is queued or running
EOF
expect_list_eq "$T/sel.before" "$ds/selection" "selection unchanged after every bad request"
grep -v '^rejected:' "$ds/sample" >"$T/sample.after"
expect_list_eq "$T/sample.before" "$T/sample.after" "sample's run state unchanged after every bad request"
expect_list_eq "$T/scores.run1" "$ds/scores.csv" "scores.csv unchanged after every bad request"

# ---------------------------------------------------------------- from=best-50

run_done "$ds" "coreset n=10 from=best-50"
cp "$T/sample.txt" "$T/sample.from"
expect_line "$T/sample.from" "from: best-50" "sample: from: best-50"
expect_line "$T/sample.from" "skipped: 0 (no vector: not in clusters.csv)" "sample: skipped: 0 (every file of best-50 has a vector)"
check_scores "$ds" 10 "$T/best50.got" "from=best-50: scores.csv ranks exactly the 50 files of best-50; selection = top 10"
ok "mkdir b10" mkdir "$ds/b10"
sv_files "$ds/b10" >"$T/b10.got"
expect_list_eq <(sort "$T/selection") "$T/b10.got" "b10 holds exactly the 10 selected files"
expect_eq "best-50" "$(sv_xattr "$ds/b10" user.sievefs.parent)" "parent of b10 is best-50"

# ---------------------------------------------------------------- strategies

run_done "$ds" "random n=30 seed=7"
expect_line "$T/sample.txt" "strategy: random" "sample: strategy: random"
check_scores "$ds" 30 "$T/cands.txt" "random: every candidate ranked, selection = top 30"
cp "$T/selection" "$T/rand7a"
cp "$T/scores.csv" "$T/rand7a.scores"
run_done "$ds" "random n=30 seed=7"
cat "$ds/selection" >"$T/rand7b"
expect_list_eq "$T/rand7a" "$T/rand7b" "random with the same seed picks the same 30, in the same order"
expect_list_eq "$T/rand7a.scores" "$ds/scores.csv" "random with the same seed gives the same scores.csv"
run_done "$ds" "random n=30 seed=8"
if same_text "$T/rand7a" "$ds/selection"; then fail "random with seed=8 picked exactly what seed=7 picked"; else
	pass "random with another seed picks differently"; fi

run_done "$ds" "typicality n=5"
expect_line "$T/sample.txt" "strategy: typicality" "sample: strategy: typicality"
check_scores "$ds" 5 "$T/cands.txt" "typicality: every candidate ranked, selection = top 5"
expect_eq "0:1 1:1 2:1 3:1 4:1" "$(labels_of "$T/selection")" "typicality n=5 picks one sample per cluster"

run_done "$ds" "n=5"
expect_line "$T/sample.txt" "strategy: typicality" "a request without a strategy uses typicality"
expect_eq "0:1 1:1 2:1 3:1 4:1" "$(labels_of "$ds/selection")" "the default strategy picks one sample per cluster"

run_done "$ds" "kmeans n=5 seed=3"
expect_line "$T/sample.txt" "strategy: kmeans" "sample: strategy: kmeans"
check_scores "$ds" 5 "$T/cands.txt" "kmeans: every candidate ranked, selection = top 5"
expect_eq "0:1 1:1 2:1 3:1 4:1" "$(labels_of "$T/selection")" "kmeans n=5 picks one sample per cluster"

run_done "$ds" "balance n=50 seed=1"
expect_line "$T/sample.txt" "strategy: balance" "sample: strategy: balance"
check_scores "$ds" 50 "$T/cands.txt" "balance: every candidate ranked, selection = top 50"
expect_eq "0:10 1:10 2:10 3:10 4:10" "$(labels_of "$T/selection")" "balance n=50 takes 10 of each of the 5 labels"
run_done "$ds" "balance n=100 seed=2"
expect_eq 100 "$(wc -l <"$ds/selection")" "balance n=100 selects 100"
lab=$(labels_of "$ds/selection")
if [[ $lab =~ ^0:2[12]\ 1:2[12]\ 2:2[12]\ 3:2[12]\ 4:14$ ]]; then
	pass "balance n=100: all 14 of the smallest label, 21 or 22 of each other ($lab)"
else
	fail "balance n=100 is not as even as the labels allow: $lab (expected 4:14 and 21-22 of the others)"
fi

run_done "$ds" "coreset n=50 min_distance=20"
check_scores "$ds" 5 "$T/cands.txt" "coreset min_distance=20: stops after 5 picks; selection = top 5"
expect_eq "0:1 1:1 2:1 3:1 4:1" "$(labels_of "$T/selection")" "coreset min_distance=20 picks one sample per cluster"

# ---------------------------------------------------------------- embedding=

ok "cp part.csv into embeddings/" cp "$T/part.csv" "$ds/embeddings/part.csv"
head -n 100 "$T/cands.txt" >"$T/cands.part"
run_done "$ds" "coreset n=10"
expect_line "$T/sample.txt" "embedding: part" "without embedding=, the latest uploaded embedding is used"
expect_line "$T/sample.txt" "skipped: $((nnovec + ncand - 100)) (no vector: not in part.csv)" \
	"skipped counts every sample without a vector in part"
check_scores "$ds" 10 "$T/cands.part" "embedding part: only its 100 samples are candidates"
run_done "$ds" "coreset n=10 embedding=clusters"
expect_line "$T/sample.txt" "embedding: clusters" "embedding=clusters is used when named"
expect_line "$T/sample.txt" "skipped: $nnovec (no vector: not in clusters.csv)" "skipped: $nnovec with clusters"
check_scores "$ds" 10 "$T/cands.txt" "embedding=clusters: all $ncand candidates ranked"

# ---------------------------------------------------------------- a run that fails

ok "write a selection of the samples without a vector" cp "$T/novec.txt" "$ds/selection"
ok "mkdir novec" mkdir "$ds/novec"
cat "$ds/scores.csv" >"$T/scores.before"
ok "echo \"coreset n=5 from=novec\" > sample (accepted)" sample_req "$ds" "coreset n=5 from=novec"
st=$(wait_run "$ds")
expect_eq failed "$st" "a run with no candidates ends with status: failed"
if grep -qE '^reason: .+' "$T/sample.txt"; then pass "a failed run shows a reason: line"; else
	fail "a failed run shows no reason: line"; sv_show "$T/sample.txt" 20; fi
ok "cat selection" cat "$ds/selection"
expect_list_eq "$T/novec.txt" "$T/last.out" "the failed run left the selection unchanged"
expect_list_eq "$T/scores.before" "$ds/scores.csv" "the failed run left scores.csv unchanged"

# ---------------------------------------------------------------- plot.svg

run_done "$ds" "coreset n=50 embedding=clusters"
ok "cat plot.svg" cat "$ds/plot.svg"
cp "$T/last.out" "$T/plot.svg"
cat >"$T/svg.py" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
bad = []
if root.tag not in ("svg", ns + "svg"):
    bad.append("root element is %s" % root.tag)
circles = [e for e in root.iter() if e.tag in ("circle", ns + "circle")]
if len(circles) < int(sys.argv[3]):
    bad.append("%d <circle> elements for %s points" % (len(circles), sys.argv[3]))
text = " ".join("".join(e.itertext()) for e in root.iter() if e.tag in ("text", ns + "text"))
if sys.argv[2] not in text:
    bad.append("no <text> mentions %r" % sys.argv[2])
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
ok "plot.svg is XML with an <svg> root, a circle per point and the dataset name" \
	python3 "$T/svg.py" "$T/plot.svg" leaves "$ncand"

# ---------------------------------------------------------------- the CLI

"$SIEVEFS" sample "$ds" coreset n=5 embedding=clusters >"$T/cli.out" 2>"$T/cli.err"
expect_eq 0 "$?" "sievefs sample DS coreset n=5 exits 0"
expect_contains "$T/cli.out" "done" "sievefs sample prints done"
expect_eq 5 "$(wc -l <"$ds/selection")" "after sievefs sample ... n=5 the selection has 5 lines"
"$SIEVEFS" sample "$ds" nosuchstrategy n=5 >"$T/cli.out" 2>"$T/cli.err"
expect_eq 2 "$?" "sievefs sample DS nosuchstrategy exits 2"
expect_contains "$T/cli.err" "nosuchstrategy" "sievefs sample prints the reason on stderr"
expect_eq 5 "$(wc -l <"$ds/selection")" "the rejected CLI request left the selection alone"

# ---------------------------------------------------------------- cancel

# A run long enough to cancel: exact coreset over 3,000 unstructured
# 4,096-dimensional vectors with n = all of them.
big=$mnt/big
ok "mkdir dataset big" mkdir "$big"
python3 - "$T/bigsrc" "$T/big.csv" <<'EOF' || die "could not generate the big dataset"
import os, random, sys
root, out = sys.argv[1], sys.argv[2]
rng = random.Random(703)
N, D = 3000, 4096
names = []
for i in range(N):
    p = "g%02d/s%05d.bin" % (i % 30, i)
    os.makedirs(os.path.join(root, os.path.dirname(p)), exist_ok=True)
    with open(os.path.join(root, p), "wb") as f:
        f.write(b"%d\n" % i)
    names.append(p)
digits = "0123456789"
with open(out, "w", newline="") as f:
    f.write("filenames," + ",".join("embedding_%d" % j for j in range(D)) + ",labels\r\n")
    for p in names:
        f.write(p + "," + ",".join(rng.choices(digits, k=D)) + ",0\r\n")
EOF
ok "cp -r 3,000 samples into big" cp -r "$T/bigsrc/." "$big/initial-tag/"
ok "cp big.csv into big/embeddings/" cp "$T/big.csv" "$big/embeddings/big.csv"
cat "$big/selection" >"$T/big.sel.before"
cat "$big/scores.csv" >"$T/big.scores.before"
ok "echo \"coreset n=3000\" > big/sample" sample_req "$big" "coreset n=3000"
seen=""
for ((i = 0; i < 600; i++)); do
	cat "$big/sample" >"$T/big.sample" 2>&1
	st=$(sed -n 's/^status: //p' "$T/big.sample")
	pr=$(sed -n 's|^progress: \([0-9]*\)/.*|\1|p' "$T/big.sample")
	if [[ $st == running && ${pr:-0} -gt 0 ]]; then seen=running; break; fi
	[[ $st == "done" || $st == failed || $st == cancelled ]] && break
	sleep 0.1
done
if [[ $seen == running ]]; then pass "sample shows status: running with progress ($pr picked)"; else
	fail "never saw status: running with progress > 0 (last status: $st)"; sv_show "$T/big.sample" 20; fi
ok "echo cancel > big/sample" sample_req "$big" cancel
for ((i = 0; i < 100; i++)); do
	cat "$big/sample" >"$T/big.sample" 2>&1
	st=$(sed -n 's/^status: //p' "$T/big.sample")
	[[ $st == "done" || $st == failed || $st == cancelled ]] && break
	sleep 0.1
done
expect_eq cancelled "$st" "the run is cancelled within 100 polls"
if grep -qx 'progress: 3000/3000' "$T/big.sample"; then
	fail "a cancelled run shows every pick made"; sv_show "$T/big.sample" 20
else pass "the cancelled run stopped before its last pick"; fi
ok "cat big/selection" cat "$big/selection"
expect_list_eq "$T/big.sel.before" "$T/last.out" "cancel left big's selection unchanged"
expect_list_eq "$T/big.scores.before" "$big/scores.csv" "cancel left big's scores.csv unchanged"
ok "cat big/log" cat "$big/log"
expect_contains "$T/last.out" "cancel" "big's log records the cancel"
run_done "$big" "random n=10 seed=1"
expect_eq 10 "$(wc -l <"$big/selection")" "after the cancel a new request runs normally"

# ---------------------------------------------------------------- texts, numbers, keep
# Runs are numbered per dataset: big's runs are 1 (cancelled) and 2.
expect_line "$T/sample.txt" "run: 2" "big's second run is run 2 (numbers are per dataset)"
expect_contains "$big/log" "sample: run 2 done: random picked 10 of 3000 candidates from 'initial-tag'" \
	"log: picked N of M candidates"
expect_contains "$ds/log" "done: coreset picked 50 of $ncand candidates" \
	"leaves' log: picked 50 of $ncand candidates (not 50 of 50)"
expect_line "$T/sample.txt" "candidates: 3000" "sample: candidates: 3000"
expect_contains "$big/log" "sample: run 1 cancelled" "log: run 1 cancelled"
if grep -q "cancelled: cancelled" "$big/log"; then
	fail "log says 'cancelled: cancelled'"; sv_show "$big/log"
else pass "log says cancelled once"; fi
if grep -q '^reason: cancelled' "$T/big.sample"; then
	fail "a cancelled run's sample text says reason: cancelled"; else
	pass "a cancelled run's sample text does not repeat the status as a reason"; fi
third=$mnt/third
ok "mkdir dataset third" mkdir "$third"
ok "cp 1 sample into third" cp "$src/$(sed -n 1p "$T/cands.txt")" "$third/initial-tag/a"
printf 'filenames,embedding_0,labels\na,1.5,0\n' >"$T/third.csv"
ok "cp a 1-row embedding into third" cp "$T/third.csv" "$third/embeddings/one.csv"
expect_contains "$third/log" "embedding 'one' stored: 1 sample, 1 dimension" "log: 1 sample, 1 dimension (singular)"
ok "echo \"random n=1\" > third/sample" sample_req "$third" "random n=1"
wait_run "$third" >/dev/null
expect_line "$T/sample.txt" "run: 1" "a new dataset's first run is run 1"
expect_line "$T/sample.txt" "selection: 1 sample" "sample: selection: 1 sample (singular)"
expect_contains "$third/info" "selection: 1 sample from initial-tag" "info: 1 sample (singular)"
expect_contains "$third/info" "latest run: 1 " "info: latest run: 1"

# keep N shows in `sample`; writing the selection otherwise clears it
ok "echo \"keep 4\" > big/sample" sample_req "$big" "keep 4"
cat "$big/sample" >"$T/keep.txt"
expect_line "$T/keep.txt" "kept: top 4 of run 2" "sample: kept: top 4 of run 2"
expect_line "$T/keep.txt" "selection: 4 samples" "sample: selection: 4 samples"
"$SIEVEFS" sample "$big" keep 3 >"$T/keep.out" 2>&1
expect_eq 0 $? "sievefs sample big keep 3 exits 0"
expect_line "$T/keep.out" "kept: top 3 of run 2" "sievefs sample ... keep 3 prints what was kept"
head -1 "$big/selection" >"$T/one.txt"
ok "cp a one-line list to big/selection" cp "$T/one.txt" "$big/selection"
cat "$big/sample" >"$T/keep2.txt"
expect_line "$T/keep2.txt" "selection: 1 sample" "sample: selection: 1 sample after the write"
if grep -q '^kept:' "$T/keep2.txt"; then fail "sample still says kept: after the selection was written"; else
	pass "sample no longer says kept: once the selection was written by hand"; fi
ok "mkdir big/one" mkdir "$big/one"
expect_contains "$big/log" "tag 'one' created from 'initial-tag' (1 sample)" "log: tag of 1 sample (singular)"

# ---------------------------------------------------------------- empty requests
run_before=$(sed -n 's/^run: //p' "$big/sample")
expect_errno "Invalid argument" bash -c 'echo > "$1"' _ "$big/sample"
expect_errno "Invalid argument" bash -c 'printf " \t\n" > "$1"' _ "$big/sample"
cat "$big/sample" >"$T/empty.txt"
expect_contains "$T/empty.txt" "rejected: empty request" "sample says the empty request was rejected"
expect_contains "$big/log" "sample: empty request: write one" "log says why"
expect_eq "$run_before" "$(sed -n 's/^run: //p' "$big/sample")" "an empty request queues no run"
timeout 20 "$SIEVEFS" sample "$big" >"$T/cli0.out" 2>"$T/cli0.err"
expect_eq 0 $? "sievefs sample DS without a request, nothing running: exits 0 (no hang)"
expect_contains "$T/cli0.out" "done: run 2 picked 10 of 3000 in" "... reporting the latest run"
ok "mkdir dataset fresh" mkdir "$mnt/fresh"
timeout 20 "$SIEVEFS" sample "$mnt/fresh" >"$T/cli0.out" 2>"$T/cli0.err"
expect_eq 2 $? "sievefs sample DS without a request, no run ever: exits 2"
expect_contains "$T/cli0.err" "no request was made in" "... saying no request was made"
expect_contains "$T/cli0.err" "usage: sievefs sample" "... with the usage"
timeout 20 "$SIEVEFS" sample --help >"$T/help.out" 2>&1
expect_eq 0 $? "sievefs sample --help exits 0"
for w in "keep N" "cancel" "embed [dim=N] [color=on|off]" "min_distance" "from=TAG" "embedding=NAME" \
	"seed=S" typicality kmeans coreset random balance "Exit status" \
	"+ OBJECTIVE" diversity "similarity query=TAG" "weights column=INPUT.COLUMN" \
	"threshold column=INPUT.COLUMN op=" "proportion=P" "path=REGEX" "preselected=TAG"; do
	expect_contains "$T/help.out" "$w" "sievefs sample --help shows '$w'"
done

sv_umount "$mnt"
