#!/usr/bin/env bash
#
# t_tags — tags are immutable snapshots made from the selection, like commits.
#
# Proves: the default selection is every file of initial-tag sorted by path;
# `mkdir v1` snapshots initial-tag; a selection written with a grep'd subset
# becomes exactly the files of `mkdir cats` (with every folder of
# initial-tag, see t_tag_folders); tags have user.sievefs.parent;
# overwriting, removing and renaming files in initial-tag never changes a tag;
# every kind of write into a tag fails with EROFS; `# from: v1` resolves paths
# in v1 (even ones gone from initial-tag) and makes v1 the parent of v2; rmdir
# of a parent tag is ENOTEMPTY until its child is gone; rmdir of a tag never
# deletes samples; info lists the tags; a tag's user.sievefs.id is 24 hex
# digits (as a dataset's), shown in info, the same after a remount.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 getfattr diff grep mountpoint fusermount3

src=$T/src
sv_gen_tree "$src/cats" 60 16384 301 || die "could not generate cats"
sv_gen_tree "$src/dogs" 60 16384 302 || die "could not generate dogs"
sv_gen_tree "$src/other" 40 16384 303 || die "could not generate other"
printf 'top level\n' >"$src/readme.txt"
sv_files "$src" >"$T/all.txt"
nfiles=$(wc -l <"$T/all.txt")

sv_mount "$T/store" "$T/mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$T/mnt/ds" || die "cannot create a dataset"
ds=$T/mnt/ds
live=$ds/initial-tag
ok "cp -r into initial-tag" cp -r "$src/." "$live/"
expect_tree_eq "$src" "$live" "initial-tag equals the source"

# --- default selection and the first snapshot
ok "cat selection" cat "$ds/selection" && cp "$T/last.out" "$T/sel0.txt"
expect_list_eq "$T/all.txt" "$T/sel0.txt" "default selection = every file of initial-tag, sorted by path"

ok "mkdir v1 (snapshot of the default selection)" mkdir "$ds/v1"
expect_tree_eq "$src" "$ds/v1" "v1 has the same files and bytes as initial-tag"
expect_eq "initial-tag" "$(sv_xattr "$ds/v1" user.sievefs.parent)" "parent of v1 is initial-tag"
v1id=$(sv_xattr "$ds/v1" user.sievefs.id)
if [[ $v1id =~ ^[0-9a-f]{24}$ ]]; then pass "user.sievefs.id of a tag is 24 hex digits ($v1id)"; else
	fail "user.sievefs.id of v1 is '$v1id', not 24 hex digits"; fi
liveid=$(sv_xattr "$live" user.sievefs.id)
[[ $liveid =~ ^[0-9a-f]{24}$ && $liveid != "$v1id" ]] &&
	pass "initial-tag has its own 24-hex id" || fail "initial-tag id '$liveid' (v1: '$v1id')"

# --- a grep'd subset becomes a tag with exactly those files
grep '^cats/' "$T/sel0.txt" >"$T/cats.txt"
ncats=$(wc -l <"$T/cats.txt")
((ncats > 10)) || fail "test setup: expected more than 10 cats, got $ncats"
ok "cp subset list into selection" cp "$T/cats.txt" "$ds/selection"
ok "cat selection after write" cat "$ds/selection" && cp "$T/last.out" "$T/sel1.txt"
expect_list_eq "$T/cats.txt" "$T/sel1.txt" "selection reads back as written"
expect_eq "$ncats" "$(wc -l <"$ds/selection")" "wc -l selection counts the subset"
ok "mkdir cats (from the subset)" mkdir "$ds/cats"
sv_files "$ds/cats" >"$T/cats.got"
expect_list_eq "$T/cats.txt" "$T/cats.got" "cats holds exactly the selected files"
# a tag keeps every folder of its source, also those with no selected file
mkdir -p "$T/exp_cats" && (cd "$src" && find . -type d -exec mkdir -p "$T/exp_cats/{}" \;)
cp -r "$src/cats/." "$T/exp_cats/cats/"
expect_tree_eq "$T/exp_cats" "$ds/cats" "cats bytes equal the source"
expect_eq "initial-tag" "$(sv_xattr "$ds/cats" user.sievefs.parent)" \
	"getfattr -n user.sievefs.parent of cats is initial-tag"

# --- change the live set: tags must not move
over=$(grep '^cats/' "$T/all.txt" | sed -n 3p)    # in v1 and cats
gone=$(grep '^dogs/' "$T/all.txt" | sed -n 2p)    # in v1 only
moved=$(grep '^other/' "$T/all.txt" | sed -n 1p)  # in v1 only
cp -r "$src" "$T/exp_live"
printf 'overwritten bytes\n' >"$T/new.txt"
ok "overwrite a file in initial-tag" cp "$T/new.txt" "$live/$over"
cp "$T/new.txt" "$T/exp_live/$over"
ok "rm a file in initial-tag" rm -- "$live/$gone"
rm -- "$T/exp_live/$gone"
ok "mv a file in initial-tag" mv -- "$live/$moved" "$live/other/renamed.bin"
mv -- "$T/exp_live/$moved" "$T/exp_live/other/renamed.bin"
expect_tree_eq "$T/exp_live" "$live" "initial-tag shows the overwrite, rm and mv"
expect_tree_eq "$src" "$ds/v1" "v1 still byte-identical to the original source"
expect_tree_eq "$T/exp_cats" "$ds/cats" "cats still byte-identical to the original source"

# --- every write into a frozen tag is EROFS
ro=$ds/v1
some=$(sed -n 5p "$T/all.txt")
expect_errno "Read-only file system" cp "$T/new.txt" "$ro/new.txt"
expect_errno "Read-only file system" cp "$T/new.txt" "$ro/$some"
expect_errno "Read-only file system" rm -f -- "$ro/$some"
expect_errno "Read-only file system" touch "$ro/touched.txt"
expect_errno "Read-only file system" touch -- "$ro/$some"
expect_errno "Read-only file system" mkdir "$ro/newdir"
expect_errno "Read-only file system" bash -c 'echo more >> "$1"' _ "$ro/$some"
expect_errno "Read-only file system" truncate -s 0 -- "$ro/$some"
expect_errno "Read-only file system" mv -- "$ro/$some" "$ro/renamed.bin"
expect_errno "Read-only file system" python3 -c 'open(__import__("sys").argv[1], "r+b").write(b"x")' "$ro/$some"
keep=$(grep '^other/' "$T/all.txt" | sed -n 3p)
expect_errno "Read-only file system" mv -- "$live/$keep" "$ro/"
ok "file refused by the tag is still in initial-tag" cmp -- "$src/$keep" "$live/$keep"
expect_tree_eq "$src" "$ds/v1" "v1 unchanged after the refused writes"

# --- a selection from v1 makes v1 the parent
{
	echo "# from: v1"
	echo "$gone"     # removed from initial-tag, still in v1
	echo "$over"     # overwritten in initial-tag: v1 has the old bytes
	echo "$moved"    # renamed in initial-tag, old name in v1
	echo "readme.txt"
} >"$T/from_v1.txt"
printf '%s\n' "$gone" "$over" "$moved" readme.txt | sort >"$T/v2.expected"
ok "write a '# from: v1' selection" cp "$T/from_v1.txt" "$ds/selection"
ok "mkdir v2" mkdir "$ds/v2"
expect_eq "v1" "$(sv_xattr "$ds/v2" user.sievefs.parent)" "parent of v2 is v1"
sv_files "$ds/v2" >"$T/v2.got"
expect_list_eq "$T/v2.expected" "$T/v2.got" "v2 holds exactly the listed paths"
while read -r p; do
	cmp -s -- "$src/$p" "$ds/v2/$p" || fail "v2/$p differs from the v1 (original) bytes"
done <"$T/v2.expected"
pass "v2 files carry v1's bytes"

# --- info shows the tree
ok "cat info" cat "$ds/info" && cp "$T/last.out" "$T/info"
expect_line "$T/info" "samples: $((nfiles - 1))" "info: samples count after one rm"
for tag in v1 cats v2; do
	expect_contains "$T/info" "$tag" "info lists tag $tag"
done
expect_contains "$T/info" "id $v1id" "info shows v1's id (the one of user.sievefs.id)"
expect_contains "$T/info" "id $liveid" "info shows initial-tag's id"
# count: the line naming a tag also gives its number of samples
tagline() { grep -E "(^|[^[:alnum:]-])$1([^[:alnum:]-]|$)" "$T/info"; }
if tagline cats | grep -qw -- "$ncats"; then pass "info gives the count of cats ($ncats)"; else
	fail "info has no line naming cats with its count $ncats"; sv_show "$T/info" 30; fi
if tagline v2 | grep -qw -- 4; then pass "info gives the count of v2 (4)"; else
	fail "info has no line naming v2 with its count 4"; sv_show "$T/info" 30; fi

# --- deleting tags
expect_errno "Directory not empty" rmdir "$ds/v1"
ok "v1 still there after the refused rmdir" test -d "$ds/v1"
ok "rmdir v2" rmdir "$ds/v2"
ok "rmdir v1" rmdir "$ds/v1"
ok "ls dataset" ls "$ds"
if grep -qx -e v1 -e v2 "$T/last.out"; then
	fail "v1/v2 still listed after rmdir"
	sv_show "$T/last.out"
else
	pass "v1 and v2 are gone"
fi
expect_tree_eq "$T/exp_live" "$live" "rmdir of tags deleted no sample"
expect_tree_eq "$T/exp_cats" "$ds/cats" "cats untouched by deleting other tags"

# --- tag ids survive a remount
catsid=$(sv_xattr "$ds/cats" user.sievefs.id)
sv_umount "$T/mnt"
sv_mount "$T/store" "$T/mnt" || die "remount failed"
expect_eq "$catsid" "$(sv_xattr "$ds/cats" user.sievefs.id)" "a tag's id is the same after a remount"
expect_eq "$liveid" "$(sv_xattr "$live" user.sievefs.id)" "initial-tag's id is the same after a remount"
sv_umount "$T/mnt"
