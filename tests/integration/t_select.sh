#!/usr/bin/env bash
#
# t_select — one `sample` request, several objectives (issue 21 item 2),
# through a local mount and a remote one (both_modes: the same checks on
# each), with an uploaded embeddings CSV only.
#
# Data: 60 files, a/00..29 and b/30..59, in three well-separated clusters
# of a 4-D embedding (A: a/00..19, B: a/20..29 + b/30..39, C: b/40..59;
# labels 0, 1, 2), a/05's near-copy a/06 planted at 1e-3 from it.
# Proves: `diversity n=3` picks one sample per cluster (farthest-first);
# `typicality + diversity n=3` too; `similarity query=q n=2` (q = the tag
# of a/05) ranks a/05 and its planted near-copy first in scores.csv;
# `diversity n=1 preselected=pre` (pre = one sample of A and one of B)
# picks in C and no preselected sample is picked, and with n=10 none of
# them is picked again; `n=5 path=^b/` picks only under b/; `diversity
# proportion=0.1` picks ceil(0.1·60) = 6; `balance strength=10 + diversity
# n=6` picks
# 2 per label; `diversity min_distance=…` stops when the rest are nearer;
# over uploaded inputs: `weights column=m.score n=3` (metadata/m.csv)
# picks the 3 highest, `threshold column=m.score op=< value=10` only
# a/00..a/09, `balance column=m.kind` 2 per category, `weights
# column=p.uncertainty_entropy` (predictions/p.csv) the 3 undecided;
# each result is a ranking of all 60 candidates in scores.csv (scores
# non-increasing), the selection its picks, `keep 2` and `mkdir` work on
# it as on any run; `sample` says `strategy: select`. Refusals — an
# unknown objective, a bad operator, a bad strength, a regex error (with
# regerror's text), an unknown query or preselected tag, an unknown
# input ("no input named") or column of a known input ("no column") —
# fail the write with EINVAL, `sample` (rejected:) and the last `log`
# line say why, and the selection, scores.csv and the run state are
# unchanged; a balance target naming no class ends the run "failed" with
# the reason, and changes nothing either.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl grep diff mountpoint fusermount3

# The files and the embedding.
src=$T/src
mkdir -p "$src/a" "$src/b"
python3 - "$src" "$T/emb.csv" <<'EOF'
import random, sys
src, out = sys.argv[1], sys.argv[2]
rng = random.Random(7)
centres = [(5, 0, 0, 0), (0, 5, 0, 0), (0, 0, 5, 0)]
rows = ["filenames,embedding_0,embedding_1,embedding_2,embedding_3,labels"]
vec = {}
for i in range(60):
    name = ("a/%02d.txt" if i < 30 else "b/%02d.txt") % i
    c = 0 if i < 20 else 1 if i < 40 else 2
    v = [x + rng.gauss(0, 0.3) for x in centres[c]]
    if i == 6:
        v = [x + 1e-3 for x in vec["a/05.txt"]]
    vec[name] = v
    open("%s/%s" % (src, name), "w").write("sample %d\n" % i)
    rows.append("%s,%s,%d" % (name, ",".join("%.6f" % x for x in v), c))
open(out, "w").write("\r\n".join(rows) + "\r\n")
t = out.rsplit("/", 1)[0]
with open(t + "/m.csv", "w") as f:
    f.write("filename,score,kind\n")
    for i in range(60):
        name = ("a/%02d.txt" if i < 30 else "b/%02d.txt") % i
        f.write("%s,%d,%s\n" % (name, i, "ABC"[0 if i < 20 else 1 if i < 40 else 2]))
with open(t + "/p.csv", "w") as f:
    f.write("filename,cat,dog\n")
    for i in range(60):
        name = ("a/%02d.txt" if i < 30 else "b/%02d.txt") % i
        f.write("%s,%s\n" % (name, "0.5,0.5" if 10 <= i <= 12 else "0.99,0.01"))
EOF

# cluster NAME: A, B or C.
cluster() {
	local n=${1#*/}
	n=${n%.txt}
	n=$((10#$n))
	if ((n < 20)); then echo A; elif ((n < 40)); then echo B; else echo C; fi
}

# checks SCORES N — scores.csv lists the 60 once, scores in [0,1] and
# non-increasing; the selection is its first N rows.
cat >"$T/check.py" <<'EOF'
import csv, io, sys
scores, sel, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = list(csv.reader(io.StringIO(open(scores, encoding="utf-8").read(), newline="")))
bad = []
if rows[0] != ["filename", "score"]:
    bad.append("header %r" % rows[0])
rows = rows[1:]
names = [r[0] for r in rows]
s = [float(r[1]) for r in rows]
if len(names) != 60 or len(set(names)) != 60:
    bad.append("%d rows, %d distinct" % (len(names), len(set(names))))
if any(not 0 <= x <= 1 for x in s) or any(s[i] < s[i + 1] for i in range(len(s) - 1)):
    bad.append("scores not in [0,1] non-increasing")
picked = [l.rstrip("\n") for l in open(sel, encoding="utf-8")]
if picked != names[:n]:
    bad.append("selection %r is not the first %d of scores.csv %r" % (picked[:8], n, names[:8]))
if bad:
    print("; ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF

# run_sel DS REQUEST PICKS — the request runs to done with PICKS picks;
# scores.csv and the selection agree; $T/sel holds the selection.
run_sel() {
	local st
	ok "[$MODE] echo \"$2\" > sample" sample_req "$1" "$2" || return 1
	st=$(wait_run "$1")
	if [[ $st != done ]]; then
		fail "[$MODE] \"$2\" ends with status: $st"
		sv_show "$T/sample.txt" 20
		return 1
	fi
	expect_line "$T/sample.txt" "strategy: select" "[$MODE] \"$2\": strategy: select"
	cat "$1/scores.csv" >"$T/scores" && cat "$1/selection" >"$T/sel"
	expect_eq "$3" "$(wc -l <"$T/sel")" "[$MODE] \"$2\" picks $3"
	if python3 "$T/check.py" "$T/scores" "$T/sel" "$3" 2>"$T/check.err"; then
		pass "[$MODE] \"$2\": scores.csv ranks all 60, the selection is its top $3"
	else
		fail "[$MODE] \"$2\": $(cat "$T/check.err")"
	fi
}

# one_per_cluster — $T/sel's picks are in 3 different clusters.
one_per_cluster() {
	local got
	got=$(while read -r p; do cluster "$p"; done <"$T/sel" | sort | tr -d '\n')
	expect_eq ABC "$got" "[$MODE] $1: one pick per cluster"
}

# make_tag DS TAG PATH... — a tag of exactly those paths.
make_tag() {
	local ds=$1 tag=$2
	shift 2
	printf '%s\n' "$@" >"$ds/selection" || { fail "[$MODE] write selection"; return 1; }
	ok "[$MODE] mkdir $tag" mkdir "$ds/$tag"
}

check() {   # check MNT KIND REMOUNT-FUNCTION
	local M=$1 ds=$1/sel
	MODE=$2
	ok "[$MODE] mkdir a dataset" mkdir "$ds" || return
	ok "[$MODE] cp -r samples into initial-tag" cp -r "$src/." "$ds/initial-tag/"
	ok "[$MODE] cp emb.csv into embeddings/" cp "$T/emb.csv" "$ds/embeddings/emb.csv"
	make_tag "$ds" q a/05.txt
	make_tag "$ds" pre a/01.txt b/31.txt

	run_sel "$ds" "diversity n=3" 3 && one_per_cluster "diversity n=3"
	run_sel "$ds" "typicality + diversity strength=2 n=3" 3 &&
		one_per_cluster "typicality + diversity"

	run_sel "$ds" "similarity query=q n=2" 2 &&
		expect_eq "a/05.txt a/06.txt" "$(sort "$T/sel" | tr '\n' ' ' | sed 's/ $//')" \
			"[$MODE] similarity query=q: the query and its near-copy first"

	run_sel "$ds" "diversity n=1 preselected=pre" 1 &&
		expect_eq C "$(cluster "$(cat "$T/sel")")" \
			"[$MODE] preselected=pre (in A and B): the pick is in C"
	run_sel "$ds" "diversity + typicality n=10 preselected=pre" 10
	if grep -qxE 'a/01.txt|b/31.txt' "$T/sel"; then
		fail "[$MODE] a preselected sample was picked again"
	else
		pass "[$MODE] no preselected sample is picked again"
	fi
	expect_eq "a/01.txt b/31.txt" \
		"$(python3 -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1])))[1:]; print(" ".join(sorted(x[0] for x in r[-2:])))' "$T/scores")" \
		"[$MODE] the preselected rank last in scores.csv"

	run_sel "$ds" "n=5 path=^b/" 5
	if grep -qv '^b/' "$T/sel"; then
		fail "[$MODE] path=^b/ picked outside b/: $(tr '\n' ' ' <"$T/sel")"
	else
		pass "[$MODE] path=^b/ picks only under b/"
	fi

	run_sel "$ds" "diversity proportion=0.1" 6
	run_sel "$ds" "balance strength=10 + diversity n=6" 6 &&
		expect_eq "AABBCC" \
			"$(while read -r p; do cluster "$p"; done <"$T/sel" | sort | tr -d '\n')" \
			"[$MODE] balance over the labels: 2 of each"
	# well-separated clusters 5·√2 apart, spread 0.3: min_distance 3
	# leaves one per cluster
	run_sel "$ds" "diversity min_distance=3 n=20" 3 &&
		one_per_cluster "diversity min_distance=3"

	# column-based objectives over uploaded inputs (issue 21 item 1):
	# metadata/m.csv: score = the file's number, kind = its cluster;
	# predictions/p.csv: a/10..a/12 undecided (0.5/0.5), the rest sure
	ok "[$MODE] cp m.csv into metadata/" cp "$T/m.csv" "$ds/metadata/m.csv"
	ok "[$MODE] cp p.csv into predictions/" cp "$T/p.csv" "$ds/predictions/p.csv"
	run_sel "$ds" "weights column=m.score n=3" 3 &&
		expect_eq "b/57.txt b/58.txt b/59.txt" "$(sort "$T/sel" | tr '\n' ' ' | sed 's/ $//')" \
			"[$MODE] weights column=m.score: the 3 highest scores"
	run_sel "$ds" "threshold column=m.score op=< value=10 + diversity n=4" 4 &&
		expect_eq "" "$(grep -v '^a/0[0-9]\.txt$' "$T/sel")" \
			"[$MODE] threshold m.score < 10: picks only a/00..a/09"
	run_sel "$ds" "balance column=m.kind strength=10 + diversity n=6" 6 &&
		expect_eq "AABBCC" \
			"$(while read -r p; do cluster "$p"; done <"$T/sel" | sort | tr -d '\n')" \
			"[$MODE] balance over a metadata column: 2 of each"
	run_sel "$ds" "weights column=p.uncertainty_entropy n=3" 3 &&
		expect_eq "a/10.txt a/11.txt a/12.txt" "$(sort "$T/sel" | tr '\n' ' ' | sed 's/ $//')" \
			"[$MODE] weights on the predictions' entropy: the 3 undecided"
	expect_errno "Invalid argument" sample_req "$ds" "weights column=m.nosuch n=3"
	cat "$ds/log" >"$T/log" 2>&1
	tail -n 1 "$T/log" | grep -qF "no column 'nosuch'" &&
		pass "[$MODE] an unknown column of a known input: the log names it" ||
		fail "[$MODE] unknown column: $(tail -n 1 "$T/log")"
	rm "$ds/metadata/m.csv" "$ds/predictions/p.csv"

	# the result works as any run's: keep, mkdir
	ok "[$MODE] keep 2" sample_req "$ds" "keep 2"
	expect_eq 2 "$(wc -l <"$ds/selection")" "[$MODE] keep 2: 2 selected"
	ok "[$MODE] mkdir best-2" mkdir "$ds/best-2"
	expect_eq 2 "$(find "$ds/best-2" -type f | wc -l)" "[$MODE] best-2 holds 2 files"

	# refusals: EINVAL, the reason in sample and log, nothing changed
	run_sel "$ds" "diversity n=4" 4
	cat "$ds/selection" >"$T/sel.before"
	cat "$ds/scores.csv" >"$T/scores.before"
	grep -v '^rejected:' "$ds/sample" >"$T/sample.before"
	while IFS='|' read -r req token; do
		[[ -n $req ]] || continue
		expect_errno "Invalid argument" sample_req "$ds" "$req"
		cat "$ds/sample" >"$T/sample.bad" 2>&1
		if grep '^rejected:' "$T/sample.bad" | grep -qF -- "$token"; then
			pass "[$MODE] \"$req\": sample's rejected: line says $token"
		else
			fail "[$MODE] \"$req\": sample has no rejected: line saying $token"
			sv_show "$T/sample.bad" 20
		fi
		cat "$ds/log" >"$T/log" 2>&1
		if tail -n 1 "$T/log" | grep -qF -- "$token"; then
			pass "[$MODE] \"$req\": the last log line says $token"
		else
			fail "[$MODE] \"$req\": the last log line lacks $token: $(tail -n 1 "$T/log")"
		fi
		grep -v '^rejected:' "$T/sample.bad" >"$T/sample.after"
		diff -q "$T/sample.before" "$T/sample.after" >/dev/null ||
			{ fail "[$MODE] \"$req\": the run state changed"; sv_show "$T/sample.after" 20; }
		cat "$ds/selection" | cmp -s "$T/sel.before" - ||
			fail "[$MODE] \"$req\": the selection changed"
		cat "$ds/scores.csv" | cmp -s "$T/scores.before" - ||
			fail "[$MODE] \"$req\": scores.csv changed"
	done <<'EOF'
diversity + novelty n=3|unknown objective 'novelty'
threshold column=preds.x op=!= value=1 + diversity|op=!=: unknown operator
diversity strength=-1 n=3|strength=-1: expected a number in (0, 100]
diversity n=3 path=a(|path=a(: 
similarity query=nosuchtag n=2|query=nosuchtag: no such tag
diversity n=2 preselected=nosuchtag|preselected=nosuchtag: no such tag
weights column=nosuchpreds.uncertainty_entropy + diversity n=5|no input named 'nosuchpreds'
threshold column=nosuchinput.brightness op=gt value=0.2 + diversity n=5|no input named 'nosuchinput'
balance column=nosuchmeta.kind + diversity n=5|no input named 'nosuchmeta'
diversity + n=3|'+' joins two objectives
EOF
	# a target naming no class of the labels: known only when the run
	# reads them, so the run fails with the reason; nothing changes
	ok "[$MODE] echo \"balance target=9:1 + diversity n=3\" > sample" \
		sample_req "$ds" "balance target=9:1 + diversity n=3"
	expect_eq failed "$(wait_run "$ds")" "[$MODE] balance target=9:1: the run fails"
	expect_line "$T/sample.txt" "reason: target: no class '9' in the column" \
		"[$MODE] balance target=9:1: sample gives the reason"
	cat "$ds/selection" | cmp -s "$T/sel.before" - ||
		fail "[$MODE] a failed selection run changed the selection"
	cat "$ds/scores.csv" | cmp -s "$T/scores.before" - ||
		fail "[$MODE] a failed selection run changed scores.csv"
}

both_modes check
