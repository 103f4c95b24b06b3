#!/usr/bin/env bash
#
# t_parity — the file operations of initial-tag give the same results on a
# local (embedded) mount and on a remote mount of a real `sievefs serve` on
# loopback. The body is one function, `flows MNT`, run once per mode with
# identical expectations, so the two modes cannot drift apart again.
#
# Proves, in each mode (assertions are prefixed [local] / [remote]):
# - cp -r of a tree (nested folders, random sizes, an empty file, names with
#   spaces, a UTF-8 name, a flat folder of 1,200 long names — more than a
#   page of the server's listing — and a 255-byte name)
#   reads back identical (diff -r); find, ls -a, ls -lR, du and info agree
#   with the source;
# - cp -a and tar x keep modes and mtimes (chmod and utimes on upload);
#   python shutil.copytree (copy2: copystat) works; chmod, touch -m/-d/-a,
#   truncate, append, dd conv=notrunc, a 24 MiB file (cp, dd conv=fsync),
#   mv, rm, rm -r, mkdir -p, rmdir give
#   what they give on a local disk (diff -r against a mirror);
# - rsync -a uploads everything; a second run transfers nothing (--stats and
#   an empty --itemize-changes); a changed file is the only one re-sent;
#   --delete removes a sample; --checksum finds every byte equal;
# - user.sievefs.id (distinct per dataset), .parent (on a tag) and .sha256
#   (= sha256sum, following an overwrite, kept by a tag) via getfattr; setting
#   or removing an attribute is "Operation not supported"; df and stat -f work;
# - the mount logs no error or warning through all of the above;
# - the errors a user can cause give the same errno in both modes: writes
#   into a frozen tag (EROFS), bad or reserved names (EINVAL / EEXIST),
#   rmdir of a non-empty folder or dataset (ENOTEMPTY), a name over 255 bytes
#   (ENAMETOOLONG), rename(2) across datasets (EXDEV, so mv falls back to
#   copy and delete) — and nothing is half-applied; and a table of 34
#   system calls (link, symlink, renames of files, folders, tags and
#   datasets onto each other, O_EXCL, unlink/rmdir of the wrong kind, …)
#   gives, each, the errno a local disk or the namespace gives;
# - emptying the dataset and removing it leaves an empty root.
# This suite took over the flows and assertions of t_copy, t_rsync and
# t_xattr_df (local only before), at a smaller scale.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl diff find du cp rsync tar dd truncate getfattr setfattr strace \
	sha256sum df mountpoint fusermount3

sv_modes    # every assertion names its mode

# ---------------------------------------------------------------- fixtures
# The same inputs for both modes, made once.
src=$T/src
sv_gen_tree "$src" 400 65536 303 || die "could not generate the source tree"
printf 'accents\n' >"$src/café ü.txt"
python3 - "$src/flat" <<'EOF'
import os, random, sys
d = sys.argv[1]
os.makedirs(d)
rng = random.Random(5)
for i in range(1200):
    name = "sample-%05d-%s.jpg" % (i, "x" * rng.randint(10, 120))
    with open(os.path.join(d, name), "wb") as f:
        f.write(rng.randbytes(rng.randint(0, 2048)))
with open(os.path.join(d, "L" * 251 + ".jpg"), "wb") as f:
    f.write(b"long name\n")
EOF
nfiles=$(find "$src" -type f | wc -l)
head -c $((24 * 1024 * 1024)) /dev/urandom >"$T/big.bin"

# A small tree with distinct modes and old mtimes, for cp -a / tar / copy2.
attr=$T/attr
mkdir -p "$attr/bin" "$attr/private" "$attr/old"
printf '#!/bin/sh\necho hi\n' >"$attr/bin/run.sh"
printf 'secret\n' >"$attr/private/key.txt"
printf 'group\n' >"$attr/private/shared.txt"
head -c 70000 /dev/urandom >"$attr/old/photo.jpg"
printf 'epoch\n' >"$attr/old/1970.txt"
printf 'moon\n' >"$attr/old/1969.txt"
: >"$attr/old/empty.bin"
chmod 755 "$attr/bin/run.sh"
chmod 600 "$attr/private/key.txt"
chmod 640 "$attr/private/shared.txt"
chmod 444 "$attr/old/photo.jpg"
touch -d '2001-02-03 04:05:06.123456789' "$attr/bin/run.sh"
touch -d '1999-12-31 23:59:59' "$attr/private/key.txt" "$attr/private/shared.txt"
touch -d '1970-01-02 00:00:00 UTC' "$attr/old/1970.txt"
touch -d '1969-07-20 20:17:40.5 UTC' "$attr/old/1969.txt"
touch -d '2010-10-10 10:10:10' "$attr/old/photo.jpg" "$attr/old/empty.bin"
# pax format: mtimes with nanoseconds, as the files have them.
# (Not the 1969 file: GNU tar warns of every time before 1970 it extracts.)
(cd "$T" && tar --format=posix --exclude=1969.txt -cf "$T/attr.tar" attr) ||
	die "tar -cf failed"

# filestat DIR — "type mode size mtime path" of every regular file (mtime
# with nanoseconds), sorted.
filestat() {
	(cd -- "$1" && find . -type f -printf '%y %m %s %T@ %P\n' | sort -k5)
}

# transferred FILE — "Number of regular files transferred" of a --stats run.
transferred() {
	sed -n 's/^Number of regular files transferred: *//p' "$1" | tr -d ,
}

# errno_of PYTHON-EXPR... — run one os.* call; prints the errno name or "ok".
errno_of() {
	python3 - "$@" <<'EOF'
import errno, os, sys
try:
    eval(sys.argv[1], {"os": os, "a": sys.argv[2:]})
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
EOF
}

# ---------------------------------------------------------------- the flows
# flows MNT — everything both modes must do alike, on a fresh mount root.
flows() {
	local mnt=$1 ds=$1/ds live=$1/ds/initial-tag m=$T/mirror.$MODE
	local id1 id2 f1 f2 f3 f4 f5 files=()

	ok "mkdir dataset ds" mkdir "$ds" || return 1
	ok "mkdir dataset ds2" mkdir "$mnt/ds2"
	ok "initial-tag is a directory" test -d "$live"

	# --- cp -r and what listings say about it
	ok "cp -r the tree into initial-tag" cp -r "$src/." "$live/"
	expect_tree_eq "$src" "$live" "diff -r source initial-tag"
	expect_eq "$(cd "$src" && find . | wc -l)" "$(cd "$live" && find . | wc -l)" \
		"find | wc -l counts match"
	expect_eq "$(cd "$src" && find . -type d | wc -l)" \
		"$(cd "$live" && find . -type d | wc -l)" "directory counts match"
	(cd "$src" && find . -type f -printf '%y %s %P\n' | sort) >"$T/src.f"
	(cd "$live" && find . -type f -printf '%y %s %P\n' | sort) >"$T/dst.f"
	expect_list_eq "$T/src.f" "$T/dst.f" "file types, sizes and paths match (find -printf)"
	expect_eq 1201 "$(ls "$live/flat" | wc -l)" "ls of the 1,201-entry folder lists every entry"
	ls -a "$src/flat" >"$T/flat.src"
	ls -a "$live/flat" >"$T/flat.dst"
	expect_list_eq "$T/flat.src" "$T/flat.dst" "ls -a of the big folder: same names, once each"
	ok "ls -lR initial-tag" ls -lR "$live"
	expect_eq "$nfiles" "$(grep -c '^-' "$T/last.out")" "ls -lR lists every regular file"
	expect_eq 0 "$(stat -c %s "$live/empty file.bin")" "the empty file has size 0"
	(cd "$src" && sv_files . | tr '\n' '\0' | xargs -0 du -b --apparent-size) >"$T/du.src"
	(cd "$live" && sv_files . | tr '\n' '\0' | xargs -0 du -b --apparent-size) >"$T/du.dst"
	expect_list_eq "$T/du.src" "$T/du.dst" "du -b --apparent-size of every file matches"
	ok "du -sk initial-tag" du -sk "$live"
	ok "du counts blocks (> 0 KiB for $(du -sk "$src" | cut -f1) KiB of data)" \
		test "$(cut -f1 "$T/last.out")" -gt 0
	expect_line "$ds/info" "samples: $nfiles" "info says samples: $nfiles"
	ok "ls mount root" ls "$mnt"
	expect_eq "ds ds2 log" "$(tr '\n' ' ' <"$T/last.out" | sed 's/ $//')" \
		"mount root lists exactly the datasets, and the mount's log"
	ok "mkdir tag before (snapshot before the changes)" mkdir "$ds/before"

	# --- cp -a, tar x, shutil.copytree keep modes and mtimes
	ok "cp -a a tree with modes and old mtimes" cp -a "$attr" "$live/cpa"
	filestat "$attr" >"$T/attr.st"
	filestat "$live/cpa" >"$T/cpa.st"
	expect_list_eq "$T/attr.st" "$T/cpa.st" "cp -a kept every file's mode, size and mtime (ns)"
	expect_tree_eq "$attr" "$live/cpa" "diff -r after cp -a"
	mkdir -p "$live/tarx" || fail "mkdir tarx"
	ok "tar -xf into the mount" tar -xf "$T/attr.tar" -C "$live/tarx"
	expect_eq "" "$(cat "$T/last.err")" "tar x printed no warning"
	filestat "$live/tarx/attr" >"$T/tarx.st"
	grep -v 1969.txt "$T/attr.st" >"$T/attr.tar.st"
	expect_list_eq "$T/attr.tar.st" "$T/tarx.st" "tar x kept every file's mode, size and mtime"
	ok "python shutil.copytree (copy2)" python3 -c \
		'import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2])' \
		"$attr" "$live/pytree"
	filestat "$live/pytree" >"$T/py.st"
	expect_list_eq "$T/attr.st" "$T/py.st" "copytree kept every file's mode, size and mtime"
	expect_tree_eq "$attr" "$live/pytree" "diff -r after copytree"

	# --- chmod and touch
	ok "chmod 600 a file" chmod 600 "$live/cpa/bin/run.sh"
	expect_eq 600 "$(stat -c %a "$live/cpa/bin/run.sh")" "mode is 600"
	ok "chmod u+x,g+r" chmod u+x,g+r "$live/cpa/bin/run.sh"
	expect_eq 740 "$(stat -c %a "$live/cpa/bin/run.sh")" "mode is 740"
	ok "chmod 700 a folder" chmod 700 "$live/cpa/private"
	expect_eq 700 "$(stat -c %a "$live/cpa/private")" "folder mode is 700"
	ok "chmod -R go-rwx" chmod -R go-rwx "$live/cpa/old"
	expect_eq "400 600 600" "$(stat -c %a "$live/cpa/old/photo.jpg" \
		"$live/cpa/old/1970.txt" "$live/cpa/old/empty.bin" | tr '\n' ' ' | sed 's/ $//')" \
		"chmod -R applied to every file"
	expect_eq "$(stat -c %Y "$attr/bin/run.sh")" "$(stat -c %Y "$live/cpa/bin/run.sh")" \
		"chmod left mtime alone"
	ok "touch -d sets mtime" touch -d '2012-03-04 05:06:07' "$live/cpa/old/1970.txt"
	expect_eq "$(date -d '2012-03-04 05:06:07' +%s)" "$(stat -c %Y "$live/cpa/old/1970.txt")" \
		"mtime set by touch -d"
	ok "touch -a (atime only)" touch -a "$live/cpa/old/1970.txt"
	expect_eq "$(date -d '2012-03-04 05:06:07' +%s)" "$(stat -c %Y "$live/cpa/old/1970.txt")" \
		"touch -a left mtime alone"
	ok "touch -m (mtime now)" touch -m "$live/cpa/old/1970.txt"
	ok "touch -m moved mtime to now" test "$(stat -c %Y "$live/cpa/old/1970.txt")" -ge \
		"$(($(date +%s) - 60))"
	ok "touch -d before 1970" touch -d '1969-07-20 20:17:40 UTC' "$live/cpa/old/empty.bin"
	expect_eq -14182940 "$(stat -c %Y "$live/cpa/old/empty.bin")" "a pre-1970 mtime is kept"
	ok "touch creates an empty file" touch "$live/cpa/new.txt"
	expect_eq 0 "$(stat -c %s "$live/cpa/new.txt")" "touched file has size 0"

	# --- edits, moves, removals: compared with a local mirror
	cp -r "$src" "$m"
	# Files at the top (not inside a folder that moves below).
	mapfile -t files < <(sv_files "$src" | grep -v -e empty -e /)
	f1=${files[1]} f2=${files[2]} f3=${files[3]} f4=${files[4]} f5=${files[5]}
	both() { # DESC CMD... ; "@" in an argument is the root
		local desc=$1 args=() a
		shift
		for a in "$@"; do args+=("${a//@/$live}"); done
		ok "$desc" "${args[@]}"
		args=()
		for a in "$@"; do args+=("${a//@/$m}"); done
		"${args[@]}" >/dev/null 2>&1 || fail "test setup: \`${args[*]}\` failed on the mirror"
	}
	rm -rf "${live:?}/cpa" "$live/tarx" "$live/pytree"
	both "mkdir -p nested sub-folders" mkdir -p "@/new/deeper/deepest"
	both "truncate -s 1000 (shrink or grow)" truncate -s 1000 "@/$f3"
	both "truncate -s 200000 (grow with zeros)" truncate -s 200000 "@/$f3"
	both "truncate -s 0" truncate -s 0 "@/$f4"
	both "append with >>" bash -c 'printf "appended line\n" >> "$1"' _ "@/$f5"
	both "dd conv=notrunc overwrites 4 KiB in the middle" \
		dd if="$src/$f1" of="@/$f2" bs=1024 count=4 seek=3 conv=notrunc status=none
	both "overwrite a file with cp" cp "$src/$f2" "@/$f1"
	both "cp a 24 MiB file" cp "$T/big.bin" "@/new/big.bin"
	ok "the 24 MiB file reads back identical" cmp "$T/big.bin" "$live/new/big.bin"
	both "dd conv=fsync rewrites its second MiB" dd if=/dev/zero of="@/new/big.bin" \
		bs=1M count=1 seek=1 conv=notrunc,fsync status=none
	both "mv a file across folders" mv "@/${files[10]}" "@/new/deeper/moved.bin"
	both "mv a file onto an existing one" mv "@/${files[11]}" "@/${files[12]}"
	local mvdir rmd
	mvdir=$(cd "$src" && find . -mindepth 1 -maxdepth 1 -type d -name 'd*' -printf '%P\n' | sort | head -n 1)
	rmd=$(cd "$src" && find . -mindepth 1 -maxdepth 1 -type d -name 'd*' -printf '%P\n' | sort | sed -n 2p)
	both "mv a whole folder (rename)" mv "@/$mvdir" "@/renamed folder"
	both "rm a file" rm "@/${files[20]}"
	both "rm -r a folder" rm -r "@/$rmd"
	both "mkdir an empty folder" mkdir "@/empty-dir"
	both "rmdir the empty folder" rmdir "@/empty-dir"
	expect_tree_eq "$m" "$live" "initial-tag equals the local mirror after every change"
	ok "the moved folder's old name is gone" test ! -e "$live/$mvdir"

	# --- rsync -a: complete, then incremental
	local rs=$live/rs
	local rsrc=$T/rsrc.$MODE
	rsync -a --exclude=/flat "$attr/" "$src/" "$rsrc/" || fail "test setup: rsync into $rsrc"
	ok "first rsync -a" rsync -a --stats "$rsrc/" "$rs/"
	expect_eq "$(find "$rsrc" -type f | wc -l)" "$(transferred "$T/last.out")" \
		"first run transfers every file"
	expect_tree_eq "$rsrc" "$rs" "diff -r after the first rsync"
	ok "second rsync -a" rsync -a --stats --itemize-changes "$rsrc/" "$rs/"
	cp "$T/last.out" "$T/second.stats"
	expect_contains "$T/second.stats" "Number of regular files transferred: 0" \
		"second run transfers nothing"
	expect_eq "" "$(grep -E '^[<>ch.*][fdLDS]' "$T/second.stats" | head -n 5)" \
		"second run itemizes no change"
	local victim
	victim=$(cd "$rsrc" && find . -type f -size +1k -printf '%P\n' | sort | head -n 1)
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[0]^=0xff; open(p,"wb").write(b)' \
		"$rsrc/$victim"
	touch -d '2001-02-03 04:05:06' "$rsrc/$victim"
	ok "third rsync -a after changing one file" rsync -a --stats "$rsrc/" "$rs/"
	expect_contains "$T/last.out" "Number of regular files transferred: 1" \
		"third run transfers exactly 1 file"
	expect_eq "$(stat -c %Y "$rsrc/$victim")" "$(stat -c %Y "$rs/$victim")" \
		"mtime of the re-sent file kept"
	rm -f -- "$rsrc/$victim"
	ok "rsync -a --delete after removing a source file" rsync -a --delete "$rsrc/" "$rs/"
	ok "deleted file is gone" test ! -e "$rs/$victim"
	expect_tree_eq "$rsrc" "$rs" "diff -r after --delete"
	ok "rsync -a --checksum (reads every byte back)" rsync -a --checksum --stats "$rsrc/" "$rs/"
	expect_contains "$T/last.out" "Number of regular files transferred: 0" \
		"checksum run finds every file equal"
	rm -rf "${rs:?}"

	# --- extended attributes, df
	ok "getfattr -d on the dataset dir" getfattr -d -m user.sievefs "$ds"
	expect_contains "$T/last.out" "user.sievefs.id=" "dataset dir has user.sievefs.id"
	id1=$(sv_xattr "$ds" user.sievefs.id)
	id2=$(sv_xattr "$mnt/ds2" user.sievefs.id)
	ok "dataset id is not empty" test -n "$id1"
	ok "two datasets have different ids ([$id1] vs [$id2])" test "$id1" != "$id2"
	ok "getfattr -d on the tag dir" getfattr -d -m user.sievefs "$ds/before"
	expect_contains "$T/last.out" 'user.sievefs.parent="initial-tag"' \
		"tag dir shows user.sievefs.parent=\"initial-tag\""
	ok "getfattr -d on a file" getfattr -d -m user.sievefs "$live/$f3"
	expect_contains "$T/last.out" "user.sievefs.sha256=" "file has user.sievefs.sha256"
	ok "user.sievefs.sha256 equals the bytes' SHA-256 for every file" \
		python3 - "$m" "$live" <<'EOF2'
import hashlib, os, sys
want_root, got_root = sys.argv[1], sys.argv[2]
bad = 0
for d, _, names in os.walk(want_root):
    for n in names:
        rel = os.path.relpath(os.path.join(d, n), want_root)
        want = hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()
        got = os.getxattr(os.path.join(got_root, rel), "user.sievefs.sha256").decode()
        if got != want:
            bad += 1
            if bad <= 3:
                print("stale sha256 for %s: want %s got %s" % (rel, want, got), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF2
	expect_eq "$(sha256sum <"$src/$f1" | cut -d' ' -f1)" \
		"$(sv_xattr "$ds/before/$f1" user.sievefs.sha256)" \
		"the tag keeps the original hash after the overwrite"
	expect_eq "$(sha256sum </dev/null | cut -d' ' -f1)" \
		"$(sv_xattr "$live/$f4" user.sievefs.sha256)" "sha256 of a truncated-to-0 file"
	expect_errno "Operation not supported" setfattr -n user.sievefs.sha256 -v x "$live/$f3"
	expect_errno "Operation not supported" setfattr -n user.mine -v x "$live/$f3"
	expect_errno "Operation not supported" setfattr -x user.sievefs.sha256 "$live/$f3"
	# Only the user namespace exists: other names are "not supported"
	# (as setxattr says), an absent user name is "no such attribute".
	expect_errno "Operation not supported" getfattr -n security.selinux "$live/$f3"
	expect_errno "Operation not supported" getfattr -n system.posix_acl_access "$ds/before/$f1"
	expect_errno "Operation not supported" getfattr -n trusted.x "$ds/before"
	expect_errno "No such attribute" getfattr -n user.mine "$live/$f3"
	# ... which is what lets `ls -l` stop asking for an SELinux label and
	# an ACL on every entry after the first (issue 12: two round trips
	# per entry otherwise); its output and exit status are a plain one.
	ok "ls -l of the tag's 1,201-entry folder under strace" \
		strace -f -o "$T/ls.strace" -e trace=getxattr,lgetxattr ls -l "$ds/before/flat"
	expect_eq 1202 "$(wc -l <"$T/last.out")" "ls -l printed a total and 1,201 entries"
	expect_eq "" "$(cat "$T/last.err")" "ls -l wrote nothing on stderr"
	nx=$(grep -c 'getxattr(' "$T/ls.strace" || true)
	ok "ls -l asked $nx xattrs for 1,201 entries (1 or 2: a label, an ACL)" \
		test "$nx" -ge 1 -a "$nx" -le 2
	ok "the xattrs ls asked were answered EOPNOTSUPP" \
		grep -q 'getxattr(.*EOPNOTSUPP' "$T/ls.strace"
	# Copying a tag out with the tools that carry ACLs and xattrs: an
	# unsupported ACL is "none", not an error; user.sievefs.* come along.
	out=$T/out.$MODE
	mkdir -p "$out"
	ok "cp -a a tag out of the mount" cp -a "$ds/before" "$out/cpa"
	expect_eq "" "$(cat "$T/last.err")" "cp -a out printed nothing on stderr"
	expect_tree_eq "$ds/before" "$out/cpa" "diff -r after cp -a out"
	ok "rsync -aAX a tag out of the mount" rsync -aAX "$ds/before/" "$out/rs/"
	expect_eq "" "$(cat "$T/last.err")" "rsync -aAX out printed nothing on stderr"
	expect_tree_eq "$ds/before" "$out/rs" "diff -r after rsync -aAX out"
	expect_eq "$(sv_xattr "$ds/before/$f1" user.sievefs.sha256)" \
		"$(sv_xattr "$out/rs/$f1" user.sievefs.sha256)" "rsync -X carried user.sievefs.sha256"
	ok "tar --acls --xattrs of a tag" tar --acls --xattrs -cf "$out/t.tar" -C "$ds" before
	expect_eq "" "$(cat "$T/last.err")" "tar --acls --xattrs printed nothing on stderr"
	rm -rf "${out:?}"
	expect_tree_eq "$src" "$ds/before" "the tag taken before the changes has the old bytes"
	ok "mkdir tag after" mkdir "$ds/after"
	expect_tree_eq "$m" "$ds/after" "the tag taken after the changes has the new bytes"
	expect_line "$ds/info" "samples: $(find "$m" -type f | wc -l)" "info counts the live samples"
	ok "df MNT" df "$mnt"
	expect_contains "$T/last.out" "$mnt" "df prints the mountpoint"
	ok "df -h MNT" df -h "$mnt"
	ok "stat -f MNT" stat -f "$mnt"

	# Nothing above is an error: the mount logged none.
	if grep -n -i -e 'error' -e 'warning' "${SV_MNT_LOG[$mnt]}" >"$T/log.bad"; then
		fail "the mount logged an error or a warning during the file flows"
		sv_show "$T/log.bad"
	else
		pass "the mount logged no error or warning during the file flows"
	fi

	errors "$mnt"

	# --- empty the dataset, then remove it
	ok "rm -rf everything in initial-tag" find "$live" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
	expect_eq "" "$(ls -A "$live")" "initial-tag is empty"
	expect_line "$ds/info" "samples: 0" "info says samples: 0"
	expect_tree_eq "$m" "$ds/after" "emptying initial-tag left tag 'after' intact"
	ok "rmdir tag before" rmdir "$ds/before"
	ok "rmdir tag after" rmdir "$ds/after"
	ok "rmdir the empty dataset" rmdir "$ds"
	ok "rmdir ds2" rmdir "$mnt/ds2"
	expect_eq "log" "$(ls -A "$mnt")" "mount root holds no dataset (only the mount's log)"
}

# errors MNT — what a user can get wrong, after flows made ds (with tags
# before/after) and ds2: the same errno in each mode, nothing half-applied.
errors() {
	local mnt=$1 ds=$1/ds live=$1/ds/initial-tag tag=$1/ds/after one r
	one=$(cd "$tag" && find . -type f -size +0 -printf '%P\n' | sort | head -n 1)
	sv_files "$tag" >"$T/tag.before"

	# A frozen tag refuses every change.
	expect_errno "Read-only file system" cp "$src/$one" "$tag/new.bin"
	expect_errno "Read-only file system" cp "$src/$one" "$tag/$one"
	expect_errno "Read-only file system" touch "$tag/new.txt"
	expect_errno "Read-only file system" touch -d '2000-01-01' "$tag/$one"
	expect_errno "Read-only file system" chmod 600 "$tag/$one"
	expect_errno "Read-only file system" truncate -s 0 "$tag/$one"
	expect_errno "Read-only file system" rm "$tag/$one"
	expect_errno "Read-only file system" mkdir "$tag/sub"
	expect_errno "Read-only file system" mv "$tag/$one" "$tag/moved.bin"
	expect_eq EROFS "$(errno_of 'os.rename(a[0], a[1])' "$live/$f3" "$tag/in.bin")" \
		"rename(2) from initial-tag into a tag: EROFS"
	expect_errno "Read-only file system" bash -c 'echo x >> "$1"' _ "$tag/$one"
	sv_files "$tag" >"$T/tag.after"
	expect_list_eq "$T/tag.before" "$T/tag.after" "the tag is unchanged after the refusals"
	ok "the tag's bytes are unchanged" cmp "$ds/before/$one" "$src/$one"

	# Names.
	for r in initial-tag sample selection scores.csv embeddings plot.svg info log; do
		expect_errno "File exists" mkdir "$ds/$r"
	done
	expect_errno "File exists" mkdir "$ds/after"
	expect_errno "File exists" mkdir "$mnt/ds"
	for r in "-x" "a b" "bad!" ".hidden" "café"; do
		expect_errno "Invalid argument" mkdir -- "$mnt/$r"
		expect_errno "Invalid argument" mkdir -- "$ds/$r"
	done
	expect_eq "ds ds2 log" "$(ls "$mnt" | tr '\n' ' ' | sed 's/ $//')" \
		"no dataset was made by the refused names"
	local n256
	n256=$(printf 'n%.0s' $(seq 256))
	expect_errno "File name too long" touch "$live/$n256"
	expect_errno "File name too long" mkdir "$live/$n256"

	# Removals that must be refused.
	mkdir -p "$live/full/sub" && printf 'x\n' >"$live/full/sub/f.txt"
	expect_errno "Directory not empty" rmdir "$live/full"
	expect_errno "Directory not empty" rmdir "$ds"
	expect_fail "rmdir initial-tag is refused" rmdir "$live"
	ok "the refused rmdirs removed nothing" test -f "$live/full/sub/f.txt"
	expect_errno "Is a directory" truncate -s 0 "$live/full"

	# Across datasets: rename(2) says EXDEV, so mv copies and deletes.
	expect_eq EXDEV "$(errno_of 'os.rename(a[0], a[1])' "$live/full/sub/f.txt" \
		"$mnt/ds2/initial-tag/f.txt")" "rename(2) across datasets: EXDEV"
	ok "mv across datasets (copy and delete)" mv "$live/full/sub/f.txt" "$mnt/ds2/initial-tag/f.txt"
	ok "the file arrived in ds2" test -f "$mnt/ds2/initial-tag/f.txt"
	ok "the file left ds" test ! -e "$live/full/sub/f.txt"
	ok "rm it from ds2" rm "$mnt/ds2/initial-tag/f.txt"

	# One system call each, as a program makes them: the errno of each.
	ok "system calls give the errno a local disk (or the namespace) gives" \
		python3 - "$mnt" <<'EOF'
import errno, os, sys
mnt = sys.argv[1]
ds = os.path.join(mnt, "ds")
live = os.path.join(ds, "initial-tag")
def p(*a): return os.path.join(live, "probe", *a)
def at(*a): return os.path.join(ds, *a)
os.makedirs(p("d")); os.makedirs(p("e"))
open(p("a.txt"), "w").write("a\n"); open(p("d", "x"), "w").write("x\n")
def creat(path): os.close(os.open(path, os.O_CREAT | os.O_WRONLY))
def two(f, g): f(); g()
checks = [
    ("link", "EPERM", lambda: os.link(p("a.txt"), p("b.txt"))),
    ("symlink", "EPERM", lambda: os.symlink("a.txt", p("l"))),
    ("mkfifo", "EPERM", lambda: os.mkfifo(p("fifo"))),
    ("rename a file onto a folder", "EISDIR", lambda: os.rename(p("a.txt"), p("d"))),
    ("rename a folder onto a file", "ENOTDIR", lambda: os.rename(p("d"), p("a.txt"))),
    ("rename a folder onto a non-empty one", "ENOTEMPTY", lambda: os.rename(p("e"), p("d"))),
    ("rename a folder into itself", "EINVAL", lambda: os.rename(p("d"), p("d", "sub"))),
    ("rename a missing name", "ENOENT", lambda: os.rename(p("nope"), p("nope2"))),
    ("open O_CREAT|O_EXCL of an existing file", "EEXIST",
     lambda: os.close(os.open(p("a.txt"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))),
    ("unlink a folder", "EISDIR", lambda: os.unlink(p("d"))),
    ("rmdir a file", "ENOTDIR", lambda: os.rmdir(p("a.txt"))),
    ("rmdir a missing name", "ENOENT", lambda: os.rmdir(p("missing"))),
    ("mkdir under a file", "ENOTDIR", lambda: os.mkdir(p("a.txt", "x"))),
    ("create under a missing folder", "ENOENT", lambda: creat(p("missing", "x"))),
    ("stat file/", "ENOTDIR", lambda: os.stat(p("a.txt") + "/")),
    ("truncate a folder", "EISDIR", lambda: os.truncate(p("d"), 0)),
    ("open a folder for writing", "EISDIR", lambda: os.open(p("d"), os.O_WRONLY)),
    ("write to an O_RDONLY fd", "EBADF", lambda: os.write(os.open(p("a.txt"), os.O_RDONLY), b"x")),
    ("rename to a 255+1-byte name", "ENAMETOOLONG", lambda: os.rename(p("a.txt"), p("n" * 256))),
    ("rename a folder onto an empty one", "ok", lambda: two(lambda: os.mkdir(p("f")),
                                                          lambda: os.rename(p("f"), p("e")))),
    ("rename a file onto a file", "ok", lambda: two(lambda: open(p("c.txt"), "w").write("c"),
                                                   lambda: os.rename(p("c.txt"), p("a.txt")))),
    ("chown to oneself", "ok", lambda: os.chown(p("a.txt"), os.getuid(), os.getgid())),
    ("create a file at dataset level", "EPERM", lambda: creat(at("f.txt"))),
    ("create a file at the root", "EPERM", lambda: creat(os.path.join(mnt, "f.txt"))),
    ("rename initial-tag", "EPERM", lambda: os.rename(live, at("live2"))),
    ("rmdir embeddings", "EPERM", lambda: os.rmdir(at("embeddings"))),
    ("rename a tag onto initial-tag", "EEXIST", lambda: os.rename(at("after"), live)),
    ("rename a tag onto a control file", "ENOTDIR", lambda: os.rename(at("after"), at("info"))),
    ("rename a tag to a bad name", "EINVAL", lambda: os.rename(at("after"), at("bad name"))),
    ("rename a dataset onto another", "EEXIST", lambda: os.rename(ds, os.path.join(mnt, "ds2"))),
    ("rename a file to dataset level", "EXDEV", lambda: os.rename(p("a.txt"), at("a.txt"))),
    ("rename a file into a tag", "EROFS", lambda: os.rename(p("a.txt"), at("after", "a.txt"))),
    ("rename a tag and back", "ok", lambda: two(lambda: os.rename(at("after"), at("after2")),
                                               lambda: os.rename(at("after2"), at("after")))),
    ("rename a dataset and back", "ok",
     lambda: two(lambda: os.rename(os.path.join(mnt, "ds2"), os.path.join(mnt, "ds3")),
                 lambda: os.rename(os.path.join(mnt, "ds3"), os.path.join(mnt, "ds2")))),
]
bad = 0
for name, want, f in checks:
    try:
        f()
        got = "ok"
    except OSError as e:
        got = errno.errorcode.get(e.errno, str(e.errno))
    if got != want:
        bad += 1
        print("%s: want %s, got %s" % (name, want, got), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
	rm -rf "${live:?}/probe"

	# Control files.
	expect_fail "writing info is refused" bash -c 'echo x > "$1"' _ "$ds/info"
	expect_errno "Operation not supported" setfattr -n user.sievefs.id -v 1 "$ds"
}

# ---------------------------------------------------------------- local
MODE=local
sv_mount "$T/store.local" "$T/mnt.local" || die "local mount failed"
flows "$T/mnt.local"
sv_umount "$T/mnt.local"

# ---------------------------------------------------------------- remote
MODE=remote
remote_mount "$T/store" "$T/mnt.remote" || die "no remote mount"
flows "$T/mnt.remote"
sv_umount "$T/mnt.remote"
