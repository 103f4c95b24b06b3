#!/usr/bin/env bash
#
# t_xattr_df — extended attributes and statfs.
#
# Proves: `getfattr -d -m user.sievefs` shows user.sievefs.id on a dataset dir
# (distinct per dataset), user.sievefs.parent on a tag dir, user.sievefs.sha256
# on files in initial-tag and in a tag, and that sha256 equals `sha256sum` of
# the bytes (also for an empty file and after an overwrite); `df MNT` exits 0
# and prints the mount.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need getfattr sha256sum df python3 mountpoint fusermount3

mnt=$T/mnt
sv_mount "$T/store" "$mnt" || die "mount failed"
ok "mkdir dataset ds" mkdir "$mnt/ds" || die "cannot create a dataset"
ok "mkdir dataset ds2" mkdir "$mnt/ds2"
ds=$mnt/ds

sv_gen_tree "$T/src" 40 100000 501 || die "could not generate the source tree"
ok "cp -r samples in" cp -r "$T/src/." "$ds/initial-tag/"
ok "mkdir tag v1" mkdir "$ds/v1"

# --- dataset id
ok "getfattr -d on the dataset dir" getfattr -d -m user.sievefs "$ds"
expect_contains "$T/last.out" "user.sievefs.id=" "dataset dir has user.sievefs.id"
id1=$(sv_xattr "$ds" user.sievefs.id)
id2=$(sv_xattr "$mnt/ds2" user.sievefs.id)
ok "dataset id is not empty" test -n "$id1"
ok "two datasets have different ids ([$id1] vs [$id2])" test "$id1" != "$id2"

# --- tag parent
ok "getfattr -d on the tag dir" getfattr -d -m user.sievefs "$ds/v1"
expect_contains "$T/last.out" 'user.sievefs.parent="initial-tag"' "tag dir shows user.sievefs.parent=\"initial-tag\""

# --- file hashes
check_sha() { # PATH DESC
	local want got
	want=$({ sha256sum <"$1"; } 2>/dev/null | cut -d' ' -f1)
	got=$(sv_xattr "$1" user.sievefs.sha256)
	expect_eq "$want" "$got" "$2"
}
f1=$(sv_files "$T/src" | grep / | head -n 1)
ok "getfattr -d on a file" getfattr -d -m user.sievefs "$ds/initial-tag/$f1"
expect_contains "$T/last.out" "user.sievefs.sha256=" "file has user.sievefs.sha256"
check_sha "$ds/initial-tag/$f1" "sha256 xattr = sha256sum (initial-tag, nested file)"
check_sha "$ds/initial-tag/empty file.bin" "sha256 xattr = sha256sum (empty file)"
check_sha "$ds/v1/$f1" "sha256 xattr = sha256sum (file in a tag)"
nbad=0
while read -r p; do
	want=$(sha256sum <"$T/src/$p" | cut -d' ' -f1)
	got=$(sv_xattr "$ds/v1/$p" user.sievefs.sha256)
	if [[ $want != "$got" ]]; then
		nbad=$((nbad + 1))
		((nbad <= 3)) && note "sha256 mismatch for v1/$p: want $want got $got"
	fi
done < <(sv_files "$T/src")
expect_eq 0 "$nbad" "sha256 xattr matches sha256sum for every file of v1"

printf 'new content\n' >"$ds/initial-tag/$f1"
check_sha "$ds/initial-tag/$f1" "sha256 xattr follows an overwrite"
check_sha "$ds/v1/$f1" "tag keeps the old hash after the overwrite"
expect_eq "$(sha256sum <"$T/src/$f1" | cut -d' ' -f1)" "$(sv_xattr "$ds/v1/$f1" user.sievefs.sha256)" \
	"tag's hash is the original source hash"

# --- df
ok "df MNT" df "$mnt"
cp "$T/last.out" "$T/df.out"
expect_contains "$T/df.out" "$mnt" "df prints the mountpoint"
ok "df -h MNT" df -h "$mnt"
ok "stat -f MNT" stat -f "$mnt"

sv_umount "$mnt"
