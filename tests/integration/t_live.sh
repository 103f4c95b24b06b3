#!/usr/bin/env bash
#
# t_live — initial-tag behaves like an ordinary writable folder.
#
# Proves: mkdir -p of sub-folders, touch (create and set mtime), cp -p (keeps
# mtime), truncate (shrink and grow), append, in-place partial overwrite (dd
# conv=notrunc), a 40 MiB file, mv of a file across folders and of a whole
# folder, rm -r, rmdir all give what the same commands give on a local disk
# (diff -r against a local mirror); user.sievefs.sha256 follows every change;
# a tag taken before the changes keeps the old bytes and one taken after has the
# new ones; once every sample and tag is gone the dataset can be removed.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 diff dd truncate getfattr sha256sum mountpoint fusermount3

sv_gen_tree "$T/src" 200 65536 1001 || die "could not generate the source tree"
sv_mount "$T/store" "$T/mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$T/mnt/ds" || die "cannot create a dataset"
ds=$T/mnt/ds
live=$ds/initial-tag
ok "cp -r samples in" cp -r "$T/src/." "$live/"
ok "mkdir tag before (snapshot before the changes)" mkdir "$ds/before"
cp -r "$T/src" "$T/mirror"
m=$T/mirror

# both CMD... — run a command template on the mount and on the mirror; "@"
# in an argument stands for the root (initial-tag or mirror).
both() {
	local desc=$1 args=() a
	shift
	for a in "$@"; do args+=("${a//@/$live}"); done
	ok "$desc" "${args[@]}"
	args=()
	for a in "$@"; do args+=("${a//@/$m}"); done
	"${args[@]}" >/dev/null 2>&1 || fail "test setup: \`${args[*]}\` failed on the mirror"
}

files=()
mapfile -t files < <(sv_files "$T/src" | grep -v empty)
f1=${files[1]} f2=${files[2]} f3=${files[3]} f4=${files[4]} f5=${files[5]}

both "mkdir -p nested sub-folders" mkdir -p "@/new/deeper/deepest"
ok "new sub-folder is a directory" test -d "$live/new/deeper/deepest"
both "touch creates an empty file" touch "@/new/deeper/deepest/touched.txt"
expect_eq 0 "$(stat -c %s "$live/new/deeper/deepest/touched.txt")" "touched file has size 0"
both "touch -d sets mtime" touch -d '2012-03-04 05:06:07' "@/$f1"
expect_eq "$(date -d '2012-03-04 05:06:07' +%s)" "$(stat -c %Y "$live/$f1")" "mtime set by touch -d"
touch -d '2015-06-07 08:09:10' "$T/src/$f2"
both "cp -p keeps mtime" cp -p "$T/src/$f2" "@/new/p-copy.bin"
expect_eq "$(stat -c %Y "$T/src/$f2")" "$(stat -c %Y "$live/new/p-copy.bin")" "mtime kept by cp -p"

both "truncate -s 1000 (shrink or grow)" truncate -s 1000 "@/$f3"
both "truncate -s 200000 (grow with zeros)" truncate -s 200000 "@/$f3"
both "truncate -s 0" truncate -s 0 "@/$f4"
both "append with >>" bash -c 'printf "appended line\n" >> "$1"' _ "@/$f5"
both "dd conv=notrunc overwrites 4 KiB in the middle" \
	dd if="$T/src/$f1" of="@/$f2" bs=1024 count=4 seek=3 conv=notrunc status=none

head -c $((40 * 1024 * 1024)) /dev/urandom >"$T/big.bin"
both "cp a 40 MiB file" cp "$T/big.bin" "@/new/big.bin"
ok "40 MiB file reads back identical" cmp "$T/big.bin" "$live/new/big.bin"

mvdir=$(cd "$T/src" && find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n' | sort | head -n 1)
rmdir_=$(cd "$T/src" && find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n' | sort | sed -n 2p)
both "mv a file across folders" mv "@/${files[10]}" "@/new/deeper/moved.bin"
both "mv a whole folder (rename)" mv "@/$mvdir" "@/renamed folder"
both "rm -r a folder" rm -r "@/$rmdir_"
both "mkdir an empty folder" mkdir "@/empty-dir"
both "rmdir the empty folder" rmdir "@/empty-dir"
expect_tree_eq "$m" "$live" "initial-tag equals the local mirror after every change"
ok "moved folder's old name is gone" test ! -e "$live/$mvdir"

# sha256 xattrs follow the changes
nbad=0
while read -r p; do
	want=$(sha256sum <"$m/$p" | cut -d' ' -f1)
	got=$(sv_xattr "$live/$p" user.sievefs.sha256)
	if [[ $want != "$got" ]]; then
		nbad=$((nbad + 1))
		((nbad <= 3)) && note "sha256 xattr stale for $p: want $want got $got"
	fi
done < <(sv_files "$m")
expect_eq 0 "$nbad" "user.sievefs.sha256 equals sha256sum for every changed and unchanged file"

expect_tree_eq "$T/src" "$ds/before" "tag taken before the changes still has the old bytes"
ok "mkdir tag after" mkdir "$ds/after"
expect_tree_eq "$m" "$ds/after" "tag taken after the changes has the new bytes"
expect_line "$ds/info" "samples: $(find "$m" -type f | wc -l)" "info counts the live samples"

# A file written and closed in initial-tag is read back new by the same
# mount at once, though its old bytes, attributes and name were cached by
# the kernel (read twice, stat'ed) and a frozen tag holding the old bytes
# was read too (its records and pages are cached for a day).
ok "cp a file in (fresh.bin)" cp "$T/src/$f1" "$live/fresh.bin"
ok "mkdir tag fresh0 (holds the old bytes)" mkdir "$ds/fresh0"
fresh=$(python3 - "$live" "$ds/fresh0" fresh.bin <<'PY'
import os, sys
live, tag, name = sys.argv[1:4]
p, t = os.path.join(live, name), os.path.join(tag, name)
old = open(p, "rb").read(); open(p, "rb").read(); os.stat(p)
told = open(t, "rb").read()
new = bytes(b ^ 0x5A for b in old) + b"more"
with open(p, "wb") as f:          # open O_TRUNC, write, close
    f.write(new)
got = open(p, "rb").read()
st = os.stat(p).st_size
print("new" if got == new and st == len(new) else
      "stale: %d bytes read, size %d, want %d" % (len(got), st, len(new)),
      "tag-old" if open(t, "rb").read() == told == old else "tag-changed")
PY
)
expect_eq "new tag-old" "$fresh" "written and closed file is read back new at once; the tag keeps the old bytes"
ok "rmdir tag fresh0" rmdir "$ds/fresh0"

# Empty the dataset completely, then remove it.
ok "rm -rf everything in initial-tag" find "$live" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
expect_eq "" "$(ls -A "$live")" "initial-tag is empty"
expect_line "$ds/info" "samples: 0" "info says samples: 0"
expect_tree_eq "$m" "$ds/after" "emptying initial-tag left tag 'after' intact"
expect_errno "Directory not empty" rmdir "$ds"
ok "rmdir tag before" rmdir "$ds/before"
ok "rmdir tag after" rmdir "$ds/after"
ok "rmdir the empty dataset" rmdir "$ds"
expect_eq "log" "$(ls -A "$T/mnt")" "mount root holds no dataset (only the mount's log)"

sv_umount "$T/mnt"
