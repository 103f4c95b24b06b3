#!/usr/bin/env bash
#
# t_duplicates — the `duplicates` file of a dataset (issue 21 item 3;
# core/dups.h): exact duplicates (the same content) always, near
# duplicates (embedding distance) once a line `max_distance=D
# embedding=NAME` is written to it.
#
# Proves, on a local mount and on a remote mount of a real `sievefs
# serve`: among 40 distinct files, 3 planted byte copies of one file
# (under other names and folders) and 2 of another make exactly those 2
# exact groups, first member first by path; with an embedding whose rows
# put 2 planted pairs within 0.05 (and every other pair farther than
# 0.5) and max_distance=0.05 the near groups are exactly those pairs; a
# larger distance joins more (a chain at 0.3 makes one group of three);
# `exact` goes back to exact groups only; every refusal (an unknown
# embedding, a negative or non-numeric distance, a missing word, an
# unknown word, a word twice) fails the write with "Invalid argument",
# puts the reason in `log` and leaves the file's text as it was; ls -l
# gives the size cat reads; `mkdir duplicates` is refused (a reserved
# name); a sample request with dedup=0.05 picks one of each planted pair
# only, and dedup=-1 is refused with its reason. A request of several
# objectives takes dedup=D too (before it picks): of the 4 byte copies of
# f3, the 2 of f7 (exact: whatever their vectors) and each near pair,
# exactly one is picked, 38 in all; with f10 labelled (preselected=) its
# near copy f11 is picked without dedup and never with it; dedup=-1 there is refused with its
# reason and the selection stays as it was.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl mountpoint fusermount3 stat

sv_modes

src=$T/src
mkdir -p "$src/a" "$src/b"
for i in $(seq 0 39); do printf 'file %s\n' "$i" >"$src/a/f$i.txt"; done
cp "$src/a/f3.txt" "$src/b/copy-of-3.txt"
cp "$src/a/f3.txt" "$src/b/zz3.txt"
cp "$src/a/f3.txt" "$src/a/f3-again.txt"
cp "$src/a/f7.txt" "$src/b/seven.txt"

# the embedding: f_i at (i, 0); f11 near f10 (0.01), f21 near f20
# (0.02), f31 and f32 0.3 apart in a chain from f30; the copies far from
# everything
emb() {
	printf 'filenames,embedding_0,embedding_1,labels\n'
	for i in $(seq 0 39); do
		case $i in
		11) printf 'a/f11.txt,10.01,0,0\n' ;;
		21) printf 'a/f21.txt,20,0.02,0\n' ;;
		31) printf 'a/f31.txt,30.3,0,0\n' ;;
		32) printf 'a/f32.txt,30.6,0,0\n' ;;
		*) printf 'a/f%s.txt,%s,0,0\n' "$i" "$i" ;;
		esac
	done
	printf 'a/f3-again.txt,100,0,0\nb/copy-of-3.txt,200,0,0\nb/zz3.txt,300,0,0\nb/seven.txt,400,0,0\n'
}
put() { bash -c 'printf "%s\n" "$1" > "$2"' _ "$2" "$1/duplicates"; }
refused() {
	local ds=$1 line=$2 why=$3 before
	before=$(cat "$ds/duplicates")
	expect_errno "Invalid argument" put "$ds" "$line"
	expect_contains "$ds/log" "$why" "'$line': the log says why"
	expect_eq "$before" "$(cat "$ds/duplicates")" "'$line': the file did not change"
}

flows() {
	local m=$1 ds=$1/d
	MODE=$2
	ok "mkdir dataset" mkdir "$ds" || return 1
	ok "cp -r the files in" cp -r "$src/." "$ds/initial-tag/"
	cat "$ds/duplicates" >"$T/dups.txt"
	expect_eq "# exact duplicates (the same content) in initial-tag: 2 groups, 6 files
a/f3-again.txt
a/f3.txt
b/copy-of-3.txt
b/zz3.txt

a/f7.txt
b/seven.txt

# near duplicates: not asked; echo 'max_distance=0.05 embedding=NAME' > duplicates" \
		"$(cat "$T/dups.txt")" "the exact groups are the planted copies"
	expect_eq "$(wc -c <"$T/dups.txt")" "$(stat -c %s "$ds/duplicates")" "ls -l gives the size cat reads"

	emb >"$ds/embeddings/e.csv" || fail "embedding upload"
	ok "max_distance=0.05 embedding=e" put "$ds" "max_distance=0.05 embedding=e"
	sed -n '/^# near/,$p' "$ds/duplicates" >"$T/near.txt"
	expect_eq "# near duplicates (embedding 'e', distance <= 0.05): 2 groups, 4 files
a/f10.txt
a/f11.txt

a/f20.txt
a/f21.txt" "$(cat "$T/near.txt")" "the near groups are the planted pairs"
	ok "a larger distance (words in another order)" put "$ds" "embedding=e  max_distance=0.31"
	expect_contains "$ds/duplicates" "distance <= 0.31): 3 groups, 7 files" "0.31 joins the chain f30 f31 f32 too"
	cat "$ds/duplicates" >"$T/before.txt"

	refused "$ds" "max_distance=0.05 embedding=nope" "duplicates: no embedding named 'nope' (embeddings: e); nothing changed"
	refused "$ds" "max_distance=-1 embedding=e" "duplicates: max_distance '-1' is not a number in [0, 1e6]"
	refused "$ds" "max_distance=abc embedding=e" "duplicates: max_distance 'abc' is not a number in [0, 1e6]"
	refused "$ds" "embedding=e" "duplicates: max_distance= is missing"
	refused "$ds" "max_distance=0.1" "duplicates: embedding= is missing"
	refused "$ds" "max_distance=0.1 embedding=e color=red" "duplicates: unknown word 'color=red'"
	refused "$ds" "max_distance=0.1 max_distance=0.2 embedding=e" "duplicates: max_distance is given twice"
	refused "$ds" "exact max_distance=0.1" "duplicates: 'exact' takes no other word"
	expect_list_eq "$T/before.txt" <(cat "$ds/duplicates") "after the refusals the text is as before"

	# dedup=D in a sample request: no two of a near group are picked
	sample_req "$ds" "random n=44 seed=3 embedding=e dedup=0.05"
	expect_eq done "$(wait_run "$ds")" "random n=44 dedup=0.05 ran"
	sel=$(cat "$ds/selection")
	expect_eq 42 "$(printf '%s\n' "$sel" | grep -c .)" "dedup keeps 44 - 2 samples"
	expect_eq 1 "$(printf '%s\n' "$sel" | grep -cx 'a/f1[01].txt')" "f10 or f11, not both"
	expect_eq 1 "$(printf '%s\n' "$sel" | grep -cx 'a/f2[01].txt')" "f20 or f21, not both"
	expect_errno "Invalid argument" sample_req "$ds" "random n=4 dedup=-1"
	expect_contains "$ds/log" "dedup=-1: expected a distance >= 0" "a bad dedup: the log says why"

	# dedup=D in a request of several objectives
	sample_req "$ds" "diversity + random strength=0.5 n=44 seed=2 embedding=e dedup=0.05"
	expect_eq done "$(wait_run "$ds")" "diversity + random dedup=0.05 ran"
	sel=$(cat "$ds/selection")
	expect_eq 38 "$(printf '%s\n' "$sel" | grep -c .)" "44 - 3 copies of f3 - 1 of f7 - 2 near"
	expect_eq 1 "$(printf '%s\n' "$sel" | grep -cE '^(a/f3\.txt|a/f3-again\.txt|b/copy-of-3\.txt|b/zz3\.txt)$')" \
		"one of the 4 exact copies of f3"
	expect_eq 1 "$(printf '%s\n' "$sel" | grep -cE '^(a/f7\.txt|b/seven\.txt)$')" "one of f7 and its copy"
	expect_eq 1 "$(printf '%s\n' "$sel" | grep -cx 'a/f1[01].txt')" "several objectives: f10 or f11, not both"
	expect_eq 1 "$(printf '%s\n' "$sel" | grep -cx 'a/f2[01].txt')" "several objectives: f20 or f21, not both"
	expect_contains "$ds/sample" "dedup=0.05" "sample shows the request with its dedup"
	printf 'a/f10.txt\na/f5.txt\n' >"$ds/selection" || fail "write the selection"
	ok "mkdir the labelled tag" mkdir "$ds/lab"
	# candidates f10 (labelled), f11 (its near copy), f12: without dedup
	# both others are picked, with it only f12
	sample_req "$ds" "diversity n=2 embedding=e preselected=lab path=^a/f1[012][.]txt$"
	expect_eq done "$(wait_run "$ds")" "diversity preselected=lab path=f10..f12 ran"
	expect_eq "a/f11.txt a/f12.txt" "$(sort "$ds/selection" | tr '\n' ' ' | sed 's/ $//')" \
		"without dedup the near copy f11 of the labelled f10 is picked"
	sample_req "$ds" "diversity n=2 embedding=e preselected=lab path=^a/f1[012][.]txt$ dedup=0.05"
	expect_eq done "$(wait_run "$ds")" "the same with dedup=0.05 ran"
	expect_eq "a/f12.txt" "$(cat "$ds/selection")" "with dedup it is not: only f12"
	sample_req "$ds" "diversity n=10 embedding=e dedup=0.05 preselected=lab"
	expect_eq done "$(wait_run "$ds")" "diversity preselected=lab dedup=0.05 ran"
	sel=$(cat "$ds/selection")
	expect_eq 10 "$(printf '%s\n' "$sel" | grep -c .)" "10 new picks"
	expect_eq 0 "$(printf '%s\n' "$sel" | grep -cxE 'a/f1[01].txt|a/f5.txt')" \
		"neither the labelled f10, f5 nor f10's near copy f11 is picked"
	printf '%s\n' "$sel" >"$T/sel-before.txt"
	expect_errno "Invalid argument" sample_req "$ds" "diversity + random n=4 dedup=-1"
	expect_contains "$ds/log" "dedup=-1: expected a distance >= 0" "several objectives, a bad dedup: the log says why"
	expect_list_eq "$T/sel-before.txt" <(cat "$ds/selection") "a refused dedup leaves the selection as it was"

	ok "exact" put "$ds" "exact"
	expect_contains "$ds/duplicates" "# near duplicates: not asked" "'exact' goes back to exact groups only"
	expect_errno "File exists" mkdir "$ds/duplicates"
}

both_modes flows
