#!/usr/bin/env bash
#
# t_rsync — `rsync -a` into initial-tag works and is incremental.
#
# Proves: rsync -a (temp file + rename, utimes, chmod) uploads a tree that reads
# back identical; a second identical run transfers nothing (sizes and mtimes
# were kept); a changed file is the only one re-sent; --delete removes a sample;
# a --checksum run finds every byte equal.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need rsync python3 diff mountpoint fusermount3

src=$T/src
sv_gen_tree "$src" 600 65536 202 || die "could not generate the source tree"
nfiles=$(find "$src" -type f | wc -l)

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$T/mnt/ds" || die "cannot create a dataset"
dst=$T/mnt/ds/initial-tag

# transferred FILE — the "Number of regular files transferred" of a --stats run.
transferred() {
	sed -n 's/^Number of regular files transferred: *//p' "$1" | tr -d ,
}

ok "first rsync -a" rsync -a --stats "$src/" "$dst/"
expect_eq "$nfiles" "$(transferred "$T/last.out")" "first run transfers every file"
expect_tree_eq "$src" "$dst" "diff -r after first rsync"

ok "second rsync -a" rsync -a --stats "$src/" "$dst/"
cp "$T/last.out" "$T/second.stats"
expect_contains "$T/second.stats" "Number of regular files transferred: 0" \
	"second run transfers nothing"
expect_tree_eq "$src" "$dst" "diff -r after second rsync"

# One file changes content (same size) and mtime: only it is re-sent.
victim=$(cd "$src" && find . -type f -size +1k -printf '%P\n' | sort | head -n 1)
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[0]^=0xff; open(p,"wb").write(b)' "$src/$victim"
touch -d '2001-02-03 04:05:06' "$src/$victim"
ok "third rsync -a after changing one file" rsync -a --stats "$src/" "$dst/"
expect_contains "$T/last.out" "Number of regular files transferred: 1" "third run transfers exactly 1 file"
expect_tree_eq "$src" "$dst" "diff -r after re-sending the changed file"
expect_eq "$(stat -c %Y "$src/$victim")" "$(stat -c %Y "$dst/$victim")" "mtime of the re-sent file kept"

# --delete removes a sample from the live set.
gone=$(cd "$src" && find . -type f -printf '%P\n' | sort | tail -n 1)
rm -f -- "$src/$gone"
ok "rsync -a --delete after removing a source file" rsync -a --delete "$src/" "$dst/"
ok "deleted file is gone from initial-tag" test ! -e "$dst/$gone"
expect_tree_eq "$src" "$dst" "diff -r after --delete"

ok "rsync -a --checksum (reads every byte back)" rsync -a --checksum --stats "$src/" "$dst/"
expect_contains "$T/last.out" "Number of regular files transferred: 0" "checksum run finds every file equal"

ok "cat info" cat "$T/mnt/ds/info"
cp "$T/last.out" "$T/info"
expect_line "$T/info" "samples: $((nfiles - 1))" "info counts the live samples"

sv_umount "$T/mnt"
