#!/usr/bin/env bash
#
# t_tag_selected — tags a Debian loader can read (issue 16, item 6): with
# `setfattr -n user.sievefs.tag_folders -v selected DATASET`, `mkdir TAG`
# freezes only the folders that hold a selected file, so Debian 12's
# torchvision 0.14 ImageFolder (which refuses a class folder with no file)
# loads the tag; without it, today's default (every folder of the source).
#
# Proves, on a local mount and on a remote mount of a real `sievefs serve`:
# with class folders a/ b/ c/ of PNGs (c/ with a nested folder) and a
# selection of a/ and c/ files only: the setting reads "all" (getfattr,
# `info`) until set; a tag made so keeps b/ with no file, and ImageFolder
# refuses it naming b; a bad value (`Selected`, `selected\n`, a NUL, 100
# bytes) fails setfattr with EINVAL, leaves the setting as it was and puts
# the reason in `log`; `setfattr -v selected` shows in getfattr, listxattr
# and `info`; the next tag has no empty folder, its folders keep the
# source's mtimes, it holds exactly the selection, and ImageFolder loads
# it (classes a, c; every image decodes through it); the setting outlives
# a remount (local); `setfattr -x` puts back "all" and the next tag has b/
# again; on a tag folder the attribute cannot be set (ENOTSUP).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need curl find sort grep getfattr setfattr mountpoint fusermount3
PY=/usr/bin/python3
[ -x "$PY" ] || die "$PY is missing"
"$PY" -c 'import PIL, torchvision' 2>/dev/null ||
	die "$PY cannot import PIL and torchvision (apt-get install python3-pil python3-torchvision)"

ATTR=user.sievefs.tag_folders

# imagefolder ROOT: ImageFolder's classes and length, and every image
# decoded through it; exits 1 with the exception's text when it refuses
imagefolder() {
	"$PY" - "$1" <<'EOF'
import sys
from torchvision.datasets import ImageFolder
try:
    ds = ImageFolder(sys.argv[1])
except Exception as e:
    print("refused: %s: %s" % (type(e).__name__, e))
    sys.exit(1)
for img, label in ds:
    img.load()
print("classes", ds.classes, "len", len(ds))
EOF
}

# sub-folders of ROOT (relative) with their mtimes
dirs() { (cd -- "$1" && find . -mindepth 1 -type d -printf '%P %Ts\n' | sort); }

# scenario MNT LABEL
scenario() {
	local m=$1 what=$2 ds=$1/d live n
	ok "$what: mkdir dataset" mkdir "$ds" || return 1
	live=$ds/initial-tag
	ok "$what: cp -r the class folders in" cp -r "$T/src/." "$live/"
	ok "$what: set folder mtimes" touch -d @1500000000 "$live/a" "$live/b" \
		"$live/c" "$live/c/sub"
	expect_eq all "$(sv_xattr "$ds" $ATTR)" "$what: $ATTR reads 'all' by default"
	expect_contains "$ds/info" "tag_folders: all" "$what: info shows tag_folders: all"
	(cd "$live" && find . -type f -printf '%P\n' | grep -E '^(a|c)/' | sort) >"$T/pick.txt"
	n=$(wc -l <"$T/pick.txt")
	ok "$what: write a selection of a/ and c/ files only" cp "$T/pick.txt" "$ds/selection"

	# the default: every folder, b/ empty, and torchvision 0.14 refuses it
	ok "$what: mkdir plain (default)" mkdir "$ds/plain"
	ok "$what: plain keeps b/, with no file" \
		test -d "$ds/plain/b" -a -z "$(find "$ds/plain/b" -type f)"
	if imagefolder "$ds/plain" >"$T/if.out" 2>&1; then
		fail "$what: ImageFolder loaded a tag with an empty class folder"
		sv_show "$T/if.out"
	else
		expect_contains "$T/if.out" "refused" "$what: ImageFolder refuses the default tag"
		expect_contains "$T/if.out" "b" "$what: ... naming the empty class"
	fi

	# bad values: EINVAL, nothing changed, the reason in log
	expect_errno "Invalid argument" setfattr -n $ATTR -v Selected "$ds"
	expect_errno "Invalid argument" setfattr -n $ATTR -v "$(printf 'selected\n_')" "$ds"
	expect_errno "Invalid argument" setfattr -n $ATTR -v 0x73656c6563746564000a "$ds"
	expect_errno "Invalid argument" setfattr -n $ATTR -v "$(printf 'x%.0s' {1..100})" "$ds"
	expect_eq all "$(sv_xattr "$ds" $ATTR)" "$what: after the bad values $ATTR is still 'all'"
	expect_contains "$ds/log" "tag_folders not changed: 'Selected' is not 'all'" \
		"$what: log says why 'Selected' was refused"
	expect_contains "$ds/log" "tag_folders not changed: 'selected??'" \
		"$what: log shows the NUL and the newline as '?'"
	expect_contains "$ds/log" "tag_folders not changed: '$(printf 'x%.0s' {1..60})...'" \
		"$what: log shows a long value cut"
	# setfattr has no XATTR_CREATE flag: Python's os.setxattr does
	"$PY" -c 'import os,sys
try:
    os.setxattr(sys.argv[1], "user.sievefs.tag_folders", b"selected", os.XATTR_CREATE)
except FileExistsError:
    sys.exit(0)
sys.exit(1)' "$ds" && pass "$what: XATTR_CREATE gives EEXIST (the setting always exists)" ||
		fail "$what: XATTR_CREATE did not give EEXIST"
	expect_eq all "$(sv_xattr "$ds" $ATTR)" "$what: still 'all' after XATTR_CREATE"
	expect_errno "Operation not supported" setfattr -n $ATTR -v selected "$ds/plain"

	# selected
	ok "$what: setfattr -v selected" setfattr -n $ATTR -v selected "$ds"
	expect_eq selected "$(sv_xattr "$ds" $ATTR)" "$what: getfattr reads 'selected'"
	ok "$what: getfattr -d lists it" getfattr -d -m user.sievefs "$ds"
	expect_contains "$T/last.out" "$ATTR=\"selected\"" "$what: getfattr -d shows $ATTR=\"selected\""
	expect_contains "$ds/info" "tag_folders: selected" "$what: info shows tag_folders: selected"
	ok "$what: mkdir picked" mkdir "$ds/picked"
	expect_eq "" "$(find "$ds/picked" -type d -empty)" "$what: the tag has no empty folder"
	ok "$what: the tag has no b/" test ! -e "$ds/picked/b"
	dirs "$live" | grep -v '^b' >"$T/dirs.src"
	dirs "$ds/picked" >"$T/dirs.tag"
	expect_list_eq "$T/dirs.src" "$T/dirs.tag" "$what: the tag's folders are a, c, c/sub with the source's mtimes"
	sv_files "$ds/picked" >"$T/files.tag"
	expect_list_eq "$T/pick.txt" "$T/files.tag" "$what: the tag holds exactly the selection"
	if imagefolder "$ds/picked" >"$T/if.out" 2>&1; then
		expect_line "$T/if.out" "classes ['a', 'c'] len $n" \
			"$what: ImageFolder loads the tag: classes a, c, $n images decoded"
	else
		fail "$what: ImageFolder refused the 'selected' tag"
		sv_show "$T/if.out"
	fi
	ok "$what: log records the change" grep -q "tag_folders: selected" "$ds/log"

	# back to the default
	ok "$what: setfattr -x" setfattr -x $ATTR "$ds"
	expect_eq all "$(sv_xattr "$ds" $ATTR)" "$what: after -x it reads 'all'"
	ok "$what: mkdir again" mkdir "$ds/again"
	ok "$what: the next tag has b/ again" test -d "$ds/again/b"
	ok "$what: set 'selected' for the remount check" setfattr -n $ATTR -v selected "$ds"
}

for c in a b c; do
	mkdir -p "$T/src/$c"
done
mkdir -p "$T/src/c/sub"
"$PY" - "$T/src" <<'EOF' || die "could not make the PNGs"
import sys
from PIL import Image
root = sys.argv[1]
for k, d in enumerate(["a", "b", "c", "c/sub"]):
    for i in range(3):
        Image.new("RGB", (8, 8), (40 * k, 20 * i, 99)).save("%s/%s/%d.png" % (root, d, i))
EOF

sv_mount "$T/store" "$T/mnt" || die "mount failed"
scenario "$T/mnt" local
sv_umount "$T/mnt"
sv_mount "$T/store" "$T/mnt" || die "remount failed"
expect_eq selected "$(sv_xattr "$T/mnt/d" $ATTR)" "local: the setting outlives a remount"
sv_umount "$T/mnt"

remote_mount "$T/rstore" "$T/rmnt" -o meta_ttl=0 || die "no remote mount"
scenario "$T/rmnt" remote
sv_umount "$T/rmnt"
