#!/usr/bin/env bash
#
# t_errors — every user mistake gets the right errno and changes nothing.
#
# Proves: bad dataset and tag names → EINVAL and nothing created (128 chars is
# fine, 129 is not); an existing name → EEXIST; a selection naming an unknown
# path (or an unknown `# from:` tag, an absolute path, "../", a folder) fails
# with EINVAL both through cp (close
# error) and Python's open/write/close (OSError errno 22), the selection is
# unchanged and the reason is in `log`; mkdir of each reserved name → EEXIST;
# info and log refuse writes; rmdir of a dataset with samples or with a tag →
# ENOTEMPTY; rmdir initial-tag fails and deletes nothing. A bad dataset or
# tag name (mkdir, mv) leaves the naming rule in the daemon's log (and the
# dataset's log for a rename or a tag).

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 mountpoint fusermount3

mnt=$T/mnt
sv_mount "$T/store" "$mnt" || die "mount failed"
ok "mkdir dataset ds" mkdir "$mnt/ds" || die "cannot create a dataset"
ds=$mnt/ds

# --- names
ls -a "$mnt" >"$T/root.before"
long128=$(printf 'a%.0s' $(seq 128))
long129=$(printf 'a%.0s' $(seq 129))
for bad in "-x" "a b" "$long129" "bad!" ".hidden" "_under" "tab	x" "semi;colon" "star*" "café"; do
	expect_errno "Invalid argument" mkdir -- "$mnt/$bad"
done
ls -a "$mnt" >"$T/root.after"
expect_list_eq "$T/root.before" "$T/root.after" "ls mnt unchanged after bad names"
ok "a 128-character dataset name is valid" mkdir "$mnt/$long128"
ok "... and can be removed" rmdir "$mnt/$long128"
ok "names may use . _ - after the first character" mkdir "$mnt/A1.b_c-d"
ok "... and can be removed" rmdir "$mnt/A1.b_c-d"
expect_errno "File exists" mkdir "$mnt/ds"
# the daemon's log (stderr with -f) says why, with the naming rule
log=${SV_MNT_LOG[$mnt]}
expect_contains "$log" "'bad!' is not a valid dataset name: use 1-128 of A-Z a-z 0-9 . _ - starting with a letter or digit" \
	"daemon log: mkdir of a bad dataset name gives the naming rule"
ok "mkdir dataset rn" mkdir "$mnt/rn"
# (GNU mv words a rename's EINVAL as "a subdirectory of itself": use Python)
expect_errno "Invalid argument" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$mnt/rn" "$mnt/r n"
expect_contains "$log" "cannot rename dataset 'rn': 'r n' is not a valid dataset name: use 1-128 of" \
	"daemon log: a rename to a bad dataset name gives the rule"
expect_contains "$mnt/rn/log" "cannot rename dataset 'rn': 'r n' is not a valid dataset name" \
	"the dataset's log too"
ok "rmdir rn" rmdir "$mnt/rn"

# --- some samples and a valid selection
mkdir -p "$T/src/sub"
for i in 1 2 3 4 5; do printf 'sample %s\n' "$i" >"$T/src/sub/s$i.txt"; done
printf 'top\n' >"$T/src/top.txt"
ok "cp -r samples in" cp -r "$T/src/." "$ds/initial-tag/"
printf '%s\n' sub/s2.txt sub/s4.txt top.txt >"$T/good.txt"
ok "write a valid selection" cp "$T/good.txt" "$ds/selection"
ok "cat selection" cat "$ds/selection" && cp "$T/last.out" "$T/sel.before"
expect_list_eq "$T/good.txt" "$T/sel.before" "valid selection reads back"

# --- bad tag names, existing tag name
for bad in "-t" "t t" "$long129" "v1!" ".t"; do
	expect_errno "Invalid argument" mkdir -- "$ds/$bad"
done
ok "mkdir tag t1" mkdir "$ds/t1"
expect_errno "File exists" mkdir "$ds/t1"
expect_contains "$ds/log" "'v1!' is not a valid tag name: use 1-128 of" "ds log: a bad tag name gives the rule"
expect_errno "Invalid argument" python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$ds/t1" "$ds/t 1"
expect_contains "$ds/log" "cannot rename tag 't1': 't 1' is not a valid tag name: use 1-128 of" \
	"ds log: a rename to a bad tag name gives the rule"

# --- selection with an unknown path
printf '%s\n' sub/s1.txt nope/missing-file-42.bin top.txt >"$T/bad.txt"
expect_errno "Invalid argument" cp "$T/bad.txt" "$ds/selection"
ok "cat selection" cat "$ds/selection"
expect_list_eq "$T/sel.before" "$T/last.out" "selection unchanged after the cp failure"
ok "cat log" cat "$ds/log" && cp "$T/last.out" "$T/log1"
expect_contains "$T/log1" "nope/missing-file-42.bin" "log names the unknown path"

cat >"$T/pywrite.py" <<'EOF'
import errno, sys
path, text = sys.argv[1], sys.argv[2]
try:
    with open(path, "w") as f:
        f.write(text)
except OSError as e:
    print("errno", e.errno, errno.errorcode.get(e.errno, "?"))
    sys.exit(0)
print("no error")
EOF
ok "python open/write/close of an unknown path" \
	python3 "$T/pywrite.py" "$ds/selection" $'sub/s1.txt\npy/unknown-7.bin\n'
expect_eq "errno 22 EINVAL" "$(cat "$T/last.out")" "python gets OSError errno 22"
ok "cat selection" cat "$ds/selection"
expect_list_eq "$T/sel.before" "$T/last.out" "selection unchanged after the python failure"
ok "cat log" cat "$ds/log" && cp "$T/last.out" "$T/log2"
expect_contains "$T/log2" "py/unknown-7.bin" "log names the python unknown path"

# --- selection from an unknown tag; a path valid in initial-tag but not in t1
printf '# from: no-such-tag\nsub/s1.txt\n' >"$T/badtag.txt"
expect_errno "Invalid argument" cp "$T/badtag.txt" "$ds/selection"
printf '# from: t1\nsub/s1.txt\n' >"$T/notint1.txt"
expect_errno "Invalid argument" cp "$T/notint1.txt" "$ds/selection"
ok "cat selection" cat "$ds/selection"
expect_list_eq "$T/sel.before" "$T/last.out" "selection unchanged after bad '# from:' lists"
ok "cat log" cat "$ds/log" && cp "$T/last.out" "$T/log3"
expect_contains "$T/log3" "no-such-tag" "log names the unknown tag"

# --- lines that are not relative paths of a sample
for line in /top.txt ../top.txt sub; do
	printf '%s\n' "$line" >"$T/badline.txt"
	expect_errno "Invalid argument" cp "$T/badline.txt" "$ds/selection"
done
ok "cat selection" cat "$ds/selection"
expect_list_eq "$T/sel.before" "$T/last.out" "selection unchanged after bad lines"

# --- info and log are read-only
expect_fail "writing info is refused" bash -c 'echo x > "$1"' _ "$ds/info"
expect_fail "appending to log is refused" bash -c 'echo x >> "$1"' _ "$ds/log"
ok "info still readable" cat "$ds/info"
expect_line "$T/last.out" "samples: 6" "info intact after the refused write"

# --- reserved names
for r in initial-tag sample selection scores.csv embeddings plot.svg info log; do
	expect_errno "File exists" mkdir "$ds/$r"
done

# --- rmdir refusals
expect_errno "Directory not empty" rmdir "$ds"
ok "dataset still there" test -d "$ds/initial-tag"
expect_fail "rmdir initial-tag is refused" rmdir "$ds/initial-tag"
sv_files "$T/src" >"$T/src.list"
sv_files "$ds/initial-tag" >"$T/live.list"
expect_list_eq "$T/src.list" "$T/live.list" "initial-tag keeps every sample after the refused rmdir"

# A dataset with no samples but a tag besides initial-tag is not empty either.
ok "mkdir empty dataset e" mkdir "$mnt/e"
ok "mkdir tag in the empty dataset" mkdir "$mnt/e/snap"
expect_errno "Directory not empty" rmdir "$mnt/e"
ok "rmdir the tag" rmdir "$mnt/e/snap"
ok "rmdir the now-empty dataset" rmdir "$mnt/e"
ok "ls mount root" ls "$mnt"
expect_eq "ds log" "$(tr '\n' ' ' <"$T/last.out" | sed 's/ $//')" "only ds is left (and the mount's log)"

sv_umount "$mnt"
