#!/usr/bin/env bash
#
# t_tag_folders — a tag keeps its source's folder tree (issue 10, item 8), so
# a loader that maps folders to classes (torchvision's ImageFolder: the
# sorted names of the sub-folders) gives a sampled tag the same class
# indices as its source.
#
# Proves, on a local mount and on a remote mount of a real `sievefs serve`:
# with class folders a/ b/ c/ (b holding a nested folder, a an empty nested
# one) and a selection picking files only from a/ and c/, `mkdir TAG` makes
# a tag whose `find -type d` equals initial-tag's, with the same modes and
# mtimes; ImageFolder's class discovery (pure Python, what find_classes does)
# and os.walk's folder names are equal; the tag holds exactly the selected
# files; its sample count (info, log) counts the files only. Also for a
# `# from: TAG` selection: the folders are those of TAG.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl find sort diff grep mountpoint fusermount3

# classes SRC: class_to_idx as ImageFolder's find_classes computes it
classes() {
	python3 - "$1" <<'EOF'
import os, sys
root = sys.argv[1]
names = sorted(e.name for e in os.scandir(root) if e.is_dir())
print({c: i for i, c in enumerate(names)})
for top, dirs, _ in os.walk(root):
    print(os.path.relpath(top, root), sorted(dirs))
EOF
}

# dirs ROOT: every folder below ROOT with its mode and mtime (seconds); the
# mode without its write bits, as a frozen tag shows every folder read-only
dirs() {
	(cd -- "$1" && find . -mindepth 1 -type d -printf '%P %m %Ts\n' | sort |
		while read -r p m t; do printf '%s %o %s\n' "$p" $((8#$m & 8#7555)) "$t"; done)
}

# scenario MNT LABEL: the whole check on one mount
scenario() {
	local m=$1 what=$2 ds=$1/f live src=$T/src
	ok "$what: mkdir dataset" mkdir "$ds" || return 1
	live=$ds/initial-tag
	ok "$what: cp -r the class folders in" cp -r "$src/." "$live/"
	ok "$what: mkdir an empty nested folder" mkdir -p "$live/a/empty/deeper"
	# remote chmod is issue 10 item 5 (another change): local mount only
	[[ $what == local ]] && ok "$what: chmod 0750 b" chmod 0750 "$live/b"
	ok "$what: set folder mtimes" touch -d @1500000000 "$live/a" "$live/b" \
		"$live/c" "$live/b/sub" "$live/a/empty" "$live/a/empty/deeper"
	(cd "$live" && find . -type f -printf '%P\n' | grep -E '^(a|c)/' | sort) >"$T/pick.txt"
	ok "$what: write a selection of a/ and c/ files only" cp "$T/pick.txt" "$ds/selection"
	ok "$what: mkdir picked" mkdir "$ds/picked"
	dirs "$live" >"$T/dirs.src"
	dirs "$ds/picked" >"$T/dirs.tag"
	expect_list_eq "$T/dirs.src" "$T/dirs.tag" \
		"$what: find -type d (paths, modes, mtimes) of the tag equals initial-tag's"
	ok "$what: b/ in the tag is there and holds no file" \
		test -d "$ds/picked/b/sub" -a -z "$(find "$ds/picked/b" -type f)"
	classes "$live" >"$T/cls.src"
	classes "$ds/picked" >"$T/cls.tag"
	expect_list_eq "$T/cls.src" "$T/cls.tag" \
		"$what: ImageFolder's class_to_idx and os.walk folders equal the source's"
	sv_files "$ds/picked" >"$T/files.tag"
	expect_list_eq "$T/pick.txt" "$T/files.tag" "$what: the tag holds exactly the selected files"
	local n
	n=$(wc -l <"$T/pick.txt")
	ok "$what: cat info" cat "$ds/info" && cp "$T/last.out" "$T/info"
	if grep -q "picked: $n samples," "$T/info"; then
		pass "$what: info counts the tag's $n files, not its folders"
	else
		fail "$what: info has no 'picked: $n samples,'"; sv_show "$T/info" 20
	fi
	local id
	id=$(sv_xattr "$ds/picked" user.sievefs.id)
	[[ $id =~ ^[0-9a-f]{24}$ ]] && pass "$what: the tag's user.sievefs.id is 24 hex ($id)" ||
		fail "$what: the tag's user.sievefs.id is '$id'"
	expect_contains "$T/info" "id $id" "$what: info shows the tag's id"
	ok "$what: log says the tag's count" grep -q "tag 'picked' created from 'initial-tag' ($n samples)" "$ds/log"

	# a selection '# from: picked' of one c/ file: the folders of picked
	{ echo "# from: picked"; grep '^c/' "$T/pick.txt" | head -n1; } >"$T/pick2.txt"
	ok "$what: write a '# from: picked' selection" cp "$T/pick2.txt" "$ds/selection"
	ok "$what: mkdir again" mkdir "$ds/again"
	dirs "$ds/again" >"$T/dirs.again"
	expect_list_eq "$T/dirs.tag" "$T/dirs.again" "$what: a tag from a tag keeps the source tag's folders"
}

src=$T/src
for c in a b c; do
	sv_gen_tree "$src/$c" 5 2048 "$(printf '%d' "'$c")" || die "could not generate $c"
done
sv_gen_tree "$src/b/sub" 3 2048 77 || die "could not generate b/sub"

sv_mount "$T/store" "$T/mnt" || die "mount failed"
scenario "$T/mnt" local
sv_umount "$T/mnt"

remote_mount "$T/rstore" "$T/rmnt" -o meta_ttl=0 || die "no remote mount"
scenario "$T/rmnt" remote
sv_umount "$T/rmnt"
