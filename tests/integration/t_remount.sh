#!/usr/bin/env bash
#
# t_remount — everything survives a clean unmount and remount of the store.
#
# Proves: after unmount + remount of the same STORE, initial-tag and a tag read
# back identical (diff -r), files keep their inode numbers, sizes, modes and
# mtimes, the (non-default) selection, info, the dataset id and the tag parent
# are the same; a file created after the remount gets an inode no other file
# has. A second remount with a different mountpoint shows the same data.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 getfattr diff stat mountpoint fusermount3

store=$T/store
mnt=$T/mnt
sv_gen_tree "$T/src" 300 32768 601 || die "could not generate the source tree"

sv_mount "$store" "$mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$mnt/ds" || die "cannot create a dataset"
ds=$mnt/ds
ok "cp -r samples in" cp -r "$T/src/." "$ds/initial-tag/"
ok "touch -d an old mtime on one file" touch -d '2010-01-01 00:00:00' "$ds/initial-tag/empty file.bin"
sv_files "$T/src" | sed -n '1~3p' >"$T/sub.txt"
ok "write a subset selection" cp "$T/sub.txt" "$ds/selection"
ok "mkdir tag t1" mkdir "$ds/t1"
sv_files "$T/src" | sed -n '2~5p' >"$T/sub2.txt"
ok "write another selection (kept across the remount)" cp "$T/sub2.txt" "$ds/selection"

# snapshot DIR OUT — everything we expect to be stable, one line per file.
snapshot() {
	(cd "$1" && find . -type f -exec stat -c '%i %s %a %Y %n' {} + | sort -k5) >"$2"
}
state() { # OUT_PREFIX
	snapshot "$ds/initial-tag" "$1.live"
	snapshot "$ds/t1" "$1.t1"
	cat "$ds/selection" >"$1.sel" || fail "cat selection failed"
	cat "$ds/info" >"$1.info" || fail "cat info failed"
	sv_xattr "$ds" user.sievefs.id >"$1.id"
	sv_xattr "$ds/t1" user.sievefs.parent >"$1.parent"
	ls "$mnt" >"$1.root"
	ls "$ds" >"$1.dsls"
}
state "$T/before"
expect_list_eq "$T/sub2.txt" "$T/before.sel" "selection is the written list before unmount"
[[ -s $T/before.id ]] || fail "dataset has no user.sievefs.id"
expect_line "$T/before.info" "samples: $(find "$T/src" -type f | wc -l)" "info counts the samples before unmount"

sv_umount "$mnt" || die "unmount failed"
sv_mount "$store" "$mnt" || die "remount failed"

expect_tree_eq "$T/src" "$ds/initial-tag" "initial-tag identical after remount (diff -r)"
mkdir -p "$T/exp_t1"
(cd "$T/src" && while read -r p; do cp --parents -- "$p" "$T/exp_t1/"; done <"$T/sub.txt")
expect_tree_eq "$T/exp_t1" "$ds/t1" "t1 identical after remount (diff -r)"
state "$T/after"
expect_list_eq "$T/before.live" "$T/after.live" "initial-tag: same inodes, sizes, modes, mtimes"
expect_list_eq "$T/before.t1" "$T/after.t1" "t1: same inodes, sizes, modes, mtimes"
expect_list_eq "$T/before.sel" "$T/after.sel" "selection same"
expect_list_eq "$T/before.info" "$T/after.info" "info same"
expect_list_eq "$T/before.id" "$T/after.id" "dataset id same"
expect_list_eq "$T/before.parent" "$T/after.parent" "tag parent same"
expect_list_eq "$T/before.root" "$T/after.root" "mount root listing same"
expect_list_eq "$T/before.dsls" "$T/after.dsls" "dataset listing same"
expect_eq "$(date -d '2010-01-01 00:00:00' +%s)" \
	"$(stat -c %Y "$ds/initial-tag/empty file.bin")" "touched mtime kept across the remount"

# Inodes are unique: a new file gets a number no existing file has.
printf 'new\n' >"$ds/initial-tag/new-after-remount.txt"
newino=$(stat -c %i "$ds/initial-tag/new-after-remount.txt")
if cut -d' ' -f1 "$T/before.live" "$T/before.t1" | grep -qx -- "$newino"; then
	fail "new file got inode $newino, already used by an existing file"
else
	pass "new file's inode $newino is unused"
fi
snapshot "$ds/initial-tag" "$T/after2.live"
expect_eq "$(wc -l <"$T/after2.live")" "$(cut -d' ' -f1 "$T/after2.live" | sort -u | wc -l)" \
	"inode numbers in initial-tag are unique"

sv_umount "$mnt" || die "second unmount failed"
sv_mount "$store" "$T/mnt2" || die "mount at a second mountpoint failed"
snapshot "$T/mnt2/ds/initial-tag" "$T/third.live"
expect_list_eq "$T/after2.live" "$T/third.live" "same inodes at another mountpoint"
sv_umount "$T/mnt2"
