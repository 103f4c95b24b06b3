#!/usr/bin/env bash
#
# t_deep — a tree deeper than PATH_MAX (issue 16, item 8: paths inside a
# tree were capped at 4,095 bytes, ENAMETOOLONG where ext4 goes on).
#
# Proves, on a local and a remote mount: folders made with mkdir -p in
# steps of ~1,000 bytes (cd into each step, as one syscall's path stays
# under PATH_MAX) reach more than 9,000 bytes of path inside the dataset;
# files written there read back identical (also after a remount); a folder
# high in the deep chain is renamed (every path below it rewritten) and
# the file is still read through the new name; the deep file is in a
# frozen tag, whose copy reads back identical; `selection` lists the deep
# path and takes it back (lines as long as tree paths); a chain of 2,500
# one-letter folders is frozen as a tag too (the freeze walks it without recursion);
# rm -r removes it all.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cmp head mountpoint fusermount3

seg=$(printf 'd%.0s' $(seq 200))    # a 200-byte folder name
step=$seg/$seg/$seg/$seg/$seg        # 1,004 bytes of path per mkdir -p
narrow=$(printf 'a/%.0s' $(seq 500))   # 500 levels, 1,000 bytes
narrow=${narrow%/}
head -c 100000 /dev/urandom >"$T/data.bin"

# deep ROOT: build the chain under ROOT (a dataset's initial-tag), write
# and check a file at its bottom; prints the depth in bytes on success.
deep() {
	(
		cd "$1" || exit 1
		for _ in $(seq 9); do
			mkdir -p "$step" && cd "$step" || exit 1
		done
		cp "$T/data.bin" f.bin || exit 1
		cmp "$T/data.bin" f.bin || exit 1
		echo hello >small.txt || exit 1
		[[ $(cat small.txt) == hello ]] || exit 1
		/usr/bin/python3 -c 'import os; print(len(os.getcwd()))'
	)
}
# readback ROOT: the file at the bottom of the chain under ROOT
readback() {
	(
		cd "$1" || exit 1
		for _ in $(seq 9); do cd "$step" || exit 1; done
		cmp "$T/data.bin" f.bin
	)
}

check_mount() {   # check_mount MNT KIND REMOUNT-COMMAND...
	local M=$1 kind=$2 n
	shift 2
	ok "mkdir a dataset ($kind)" mkdir "$M/deep"
	n=$(deep "$M/deep/initial-tag")
	if [[ -n $n ]] && ((n > ${#M} + 9000)); then
		pass "a $((n - ${#M})) byte deep path made, written and read ($kind)"
	else
		fail "the deep tree failed ($kind)"
	fi
	ok "mkdir a tag of it ($kind)" mkdir "$M/deep/v1"
	ok "the tag's deep file reads back identical ($kind)" readback "$M/deep/v1"
	ok "rename a folder high in the chain ($kind)" mv "$M/deep/initial-tag/$seg" "$M/deep/initial-tag/top"
	ok "the deep file reads back through the new name ($kind)" \
		bash -c "cd '$M/deep/initial-tag/top' && cd '${step#"$seg"/}' && \
			for i in \$(seq 8); do cd '$step' || exit 1; done && cmp '$T/data.bin' f.bin"
	ok "mv it back ($kind)" mv "$M/deep/initial-tag/top" "$M/deep/initial-tag/$seg"
	"$@"
	ok "after a remount the deep file reads back identical ($kind)" readback "$M/deep/initial-tag"
	# narrow: 2,500 one-letter folders (5,000 bytes), frozen as a tag
	ok "mkdir -p 2,500 one-letter folders in 5 steps ($kind)" bash -c "
		cd '$M/deep/initial-tag' && for i in 1 2 3 4 5; do
			mkdir -p '$narrow' && cd '$narrow' || exit 1; done &&
		echo narrow >n.txt"
	ok "mkdir a tag of it ($kind)" mkdir "$M/deep/v2"
	ok "the tag's narrow-deep file reads back ($kind)" bash -c "
		cd '$M/deep/v2' && for i in 1 2 3 4 5; do cd '$narrow' || exit 1; done &&
		[[ \$(cat n.txt) == narrow ]]"
	ok "rmdir that tag ($kind)" rmdir "$M/deep/v2"
	ok "rm -r the narrow tree ($kind)" rm -r "$M/deep/initial-tag/a"
	ok "rmdir the tag ($kind)" rmdir "$M/deep/v1"
	# the selection names deep paths too, and takes them back
	grep -F f.bin "$M/deep/selection" >"$T/deep.sel"
	expect_eq 1 "$(wc -l <"$T/deep.sel")" "selection lists the deep file ($kind)"
	ok "write the deep path to selection ($kind)" cp "$T/deep.sel" "$M/deep/selection"
	ok "selection reads it back ($kind)" cmp -s "$T/deep.sel" "$M/deep/selection"
	ok "rm -r the deep tree ($kind)" rm -r "$M/deep/initial-tag/$seg"
	ok "rmdir the dataset ($kind)" rmdir "$M/deep"
}

both_modes check_mount
