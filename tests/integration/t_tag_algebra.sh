#!/usr/bin/env bash
#
# t_tag_algebra — tag algebra through the `selection` file (issue 21 item
# 4; core/tagalg.h): `union: A B`, `intersection: A B`, `difference: A B`
# (and more operands, and `selection` as an operand) make the selection,
# and `mkdir NEW` freezes it with the first operand as parent.
#
# Proves, on a local mount and on a remote mount of a real `sievefs
# serve`, with tags A = {a0..a5}, B = {a3..a8} (overlapping) and C =
# {c0, c1} (disjoint from both): each form's selection equals the set
# computed in the test (order: the first operand's, then the later ones';
# a tag's by path, the selection's its own);
# union of disjoint tags, intersection of disjoint tags (empty), a form
# with `selection` as operand and with three operands; mkdir freezes the
# result with the first operand as user.sievefs.parent and exactly its
# files; a union's tag keeps files of both sources (content compared);
# deleting a tag whose files the selection holds resets the selection;
# every refusal (unknown tag, one operand, a bad name, a second line,
# `>>`) fails the write with "Invalid argument", names the reason in
# `log`, and leaves the selection as it was; a path named like a form is
# still selectable quoted.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl sort diff getfattr mountpoint fusermount3

sv_modes

src=$T/src
mkdir -p "$src/x" "$src/y"
for i in 0 1 2 3 4 5 6 7 8; do printf 'a%s\n' "$i" >"$src/x/a$i.txt"; done
for i in 0 1; do printf 'c%s\n' "$i" >"$src/y/c$i.txt"; done
printf 'odd\n' >"$src/union: A B"

# sel DS: the selection, as listed
sel() { cat "$1/selection"; }
# put DS TEXT: write TEXT to DS/selection as a shell user does
put() { bash -c 'printf "%s\n" "$1" > "$2"' _ "$2" "$1/selection"; }
# tagfrom DS NAME LINES...: a tag holding exactly the listed files
tagfrom() {
	local ds=$1 name=$2
	shift 2
	printf '%s\n' "$@" >"$ds/selection" && mkdir "$ds/$name"
}
# refused DS TEXT WHY DESC: the write fails, the log says WHY, nothing changed
refused() {
	local ds=$1 text=$2 why=$3 desc=$4 before
	before=$(sel "$ds")
	expect_errno "Invalid argument" put "$ds" "$text"
	expect_contains "$ds/log" "$why" "$desc: the log says why"
	expect_eq "$before" "$(sel "$ds")" "$desc: the selection did not change"
}

flows() {
	local m=$1 ds=$1/d
	MODE=$2
	ok "mkdir dataset" mkdir "$ds" || return 1
	ok "cp -r the files in" cp -r "$src/." "$ds/initial-tag/"
	tagfrom "$ds" A x/a0.txt x/a1.txt x/a2.txt x/a3.txt x/a4.txt x/a5.txt
	tagfrom "$ds" B x/a8.txt x/a7.txt x/a6.txt x/a5.txt x/a4.txt x/a3.txt
	tagfrom "$ds" C y/c0.txt y/c1.txt
	ok "tags A B C exist" test -d "$ds/A" -a -d "$ds/B" -a -d "$ds/C"

	ok "union: A B" put "$ds" "union: A B"
	expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5 6 7 8)" "$(sel "$ds")" \
		"union of overlapping tags: A's files, then B's others (a tag lists by path)"
	ok "mkdir U" mkdir "$ds/U"
	expect_eq A "$(sv_xattr "$ds/U" user.sievefs.parent)" "U's parent is the first operand"
	expect_eq 9 "$(find "$ds/U" -type f | wc -l)" "U holds the 9 files"
	ok "U's files are the sources' bytes" diff -r "$src/x" "$ds/U/x"

	ok "intersection: A B" put "$ds" "intersection: A B"
	expect_eq "$(printf 'x/a%s.txt\n' 3 4 5)" "$(sel "$ds")" "intersection of overlapping tags"
	ok "difference: A B" put "$ds" "difference: A B"
	expect_eq "$(printf 'x/a%s.txt\n' 0 1 2)" "$(sel "$ds")" "difference of overlapping tags"
	ok "difference: B A" put "$ds" "difference: B A"
	expect_eq "$(printf 'x/a%s.txt\n' 6 7 8)" "$(sel "$ds")" "difference the other way"
	ok "mkdir D from difference: B A" mkdir "$ds/D"
	expect_eq B "$(sv_xattr "$ds/D" user.sievefs.parent)" "D's parent is B"
	expect_eq "$(printf 'x/a%s.txt\n' 6 7 8)" "$(sv_files "$ds/D")" "D holds the difference"

	ok "union: A C (disjoint)" put "$ds" "union: A C"
	expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5; printf 'y/c%s.txt\n' 0 1)" "$(sel "$ds")" \
		"union of disjoint tags"
	ok "mkdir AC" mkdir "$ds/AC"
	expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5; printf 'y/c%s.txt\n' 0 1)" \
		"$(sv_files "$ds/AC")" "AC holds files of both"
	ok "intersection: A C (disjoint)" put "$ds" "intersection: A C"
	expect_eq "" "$(sel "$ds")" "intersection of disjoint tags is empty"
	ok "difference: A C (disjoint)" put "$ds" "difference: A C"
	expect_eq "$(printf 'x/a%s.txt\n' 0 1 2 3 4 5)" "$(sel "$ds")" "difference with a disjoint tag is the first"

	ok "three operands" put "$ds" "union:   C  B	A"
	expect_eq "$(printf 'y/c%s.txt\n' 0 1; printf 'x/a%s.txt\n' 3 4 5 6 7 8 0 1 2)" "$(sel "$ds")" \
		"union of three, spaces and tabs between"
	printf 'x/a4.txt\nx/a0.txt\n' >"$ds/selection"
	ok "selection as an operand" put "$ds" "intersection: selection B"
	expect_eq "x/a4.txt" "$(sel "$ds")" "intersection of the selection with B"
	ok "union: selection C" put "$ds" "union: selection C"
	expect_eq "$(printf 'x/a4.txt\ny/c0.txt\ny/c1.txt\n')" "$(sel "$ds")" "union of the selection with C"

	# a union holding C's nodes: deleting C resets the selection
	ok "union: B C" put "$ds" "union: B C"
	ok "rmdir C" rmdir "$ds/C"
	cat "$ds/info" >"$T/info.txt"
	expect_contains "$T/info.txt" "selection: 12 samples from initial-tag (all of it)" \
		"deleting a tag the selection held resets it (all of initial-tag)"

	put "$ds" "union: A B" >/dev/null
	refused "$ds" "union: A nope" "selection not changed: union: no tag named 'nope'" "unknown tag"
	refused "$ds" "intersection: A" "intersection: needs two operands or more" "one operand"
	refused "$ds" "difference: A b@d" "difference: 'b@d' is not a valid tag name" "bad name"
	refused "$ds" "$(printf 'union: A B\nx/a1.txt')" "union: one line only" "a second line"
	before=$(sel "$ds")
	expect_errno "Invalid argument" bash -c 'echo "union: A B" >> "$1"' _ "$ds/selection"
	expect_contains "$ds/log" "write it with '>', not '>>'" ">>: the log says why"
	expect_eq "$before" "$(sel "$ds")" ">>: the selection did not change"

	ok "a path named like a form, quoted" put "$ds" '"union: A B"'
	expect_eq '"union: A B"' "$(sel "$ds")" "the quoted path is selected"
}

both_modes flows
