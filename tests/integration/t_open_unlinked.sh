#!/usr/bin/env bash
#
# t_open_unlinked — a file removed while a process has it open stays usable
# through that descriptor until its last close (POSIX unlink semantics), in
# embedded and in remote mode (issue 10, item 3).
#
# Proves, on each mount: `exec 7<f; rm f; cat <&7` prints the old bytes;
# Python open/unlink/read/fstat (size, mode, nlink 0) works; the same after
# `mv other f` replaced the open file; a file being written in initial-tag
# and unlinked meanwhile keeps taking writes, ftruncate, fchmod and
# futimens, reads back what was written, and never reappears in the
# listing (not after its close either); fstat of the open descriptor works
# for the whole time; a frozen tag's file stays readable through its fd
# after `rmdir` of the tag (also one never read before, whose blob the
# removal collects), and a new tag of the same name has the new bytes.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl cat rm mv

# check_mount MNT — runs every case inside dataset MNT/d.
check_mount() {
	local m=$1 d=$1/d/initial-tag what=$2
	mkdir -p "$1/d" || { fail "$what: mkdir dataset"; return; }
	printf 'old bytes\n' >"$d/f" || fail "$what: write f"
	local got
	got=$(exec 7<"$d/f"; rm "$d/f"; cat <&7) 
	expect_eq "old bytes" "$got" "$what: exec 7<f; rm f; cat <&7 prints the old bytes"
	[[ -e $d/f ]] && fail "$what: f still listed after rm"

	printf 'replaced\n' >"$d/g"
	printf 'newer\n' >"$d/h"
	got=$(exec 7<"$d/g"; mv "$d/h" "$d/g"; cat <&7; cat "$d/g")
	expect_eq "replaced
newer" "$got" "$what: a file replaced by mv stays readable through its fd"

	ok "$what: python open/unlink/read/fstat, writer in initial-tag" \
		python3 - "$d" <<'EOF'
import os, stat, sys
d = sys.argv[1]
p = os.path.join(d, "py")
os.umask(0)
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
os.write(fd, b"x" * 10000)
os.close(fd)
fd = os.open(p, os.O_RDONLY)
os.unlink(p)
assert not os.path.exists(p), "still there after unlink"
st = os.fstat(fd)
assert st.st_size == 10000, st
assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
assert st.st_nlink == 0, st.st_nlink
assert os.pread(fd, 20000, 0) == b"x" * 10000
os.close(fd)

# A file being written, unlinked meanwhile.
w = os.path.join(d, "w")
fd = os.open(w, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a" * 5000)
os.unlink(w)
assert not os.path.exists(w)
assert os.write(fd, b"b" * 3000) == 3000
os.fsync(fd)
st = os.fstat(fd)
assert st.st_size == 8000, st.st_size
assert os.pread(fd, 10000, 0) == b"a" * 5000 + b"b" * 3000
os.ftruncate(fd, 6000)
assert os.fstat(fd).st_size == 6000
os.fchmod(fd, 0o600)
assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
os.utime(fd, ns=(1_000_000_000_000_000_000, 1_200_000_000_000_000_000))
st = os.fstat(fd)
assert st.st_mtime_ns == 1_200_000_000_000_000_000, st.st_mtime_ns
assert "w" not in os.listdir(d), os.listdir(d)
os.write(fd, b"c")
os.close(fd)
assert "w" not in os.listdir(d), "the unlinked upload came back"
assert not os.path.exists(w)
print("ok")
EOF
	sleep 1.2   # past the remote metadata TTL: listings come from the server
	got=$(ls "$d")
	expect_eq "g" "$got" "$what: the listing holds only g after every close"

	# A file of a frozen tag (its record and pages cached: read twice and
	# stat'ed) stays readable through its fd after the tag is removed; a
	# new tag of the same name shows the new bytes.
	printf 'tag one\n' >"$d/t" && printf 'only in v1\n' >"$d/u" &&
		mkdir "$1/d/v1" && rm "$d/u" || fail "$what: make tag v1"
	ok "$what: python open, rmdir the tag, pread/fstat, new tag of that name" \
		python3 - "$1/d" <<'EOF'
import os, sys
ds = sys.argv[1]
p = os.path.join(ds, "v1", "t")
assert open(p, "rb").read() == b"tag one\n"
assert open(p, "rb").read() == b"tag one\n"
os.stat(p)
fd = os.open(p, os.O_RDONLY)
# u: never read before the tag goes, and its bytes are named by v1 only
ufd = os.open(os.path.join(ds, "v1", "u"), os.O_RDONLY)
os.rmdir(os.path.join(ds, "v1"))
assert os.pread(ufd, 100, 0) == b"only in v1\n"
os.close(ufd)
assert not os.path.exists(p), "tag file still there after rmdir of the tag"
assert os.fstat(fd).st_size == 8, os.fstat(fd)
assert os.pread(fd, 100, 0) == b"tag one\n"
with open(os.path.join(ds, "initial-tag", "t"), "wb") as f:
    f.write(b"tag two, longer\n")
os.mkdir(os.path.join(ds, "v1"))
assert open(p, "rb").read() == b"tag two, longer\n", open(p, "rb").read()
assert os.stat(p).st_size == 16
os.close(fd)
print("ok")
EOF
	rm -f "$d/t"
}

# --- embedded mode
sv_mount "$T/store" "$T/mnt" || die "mount failed"
check_mount "$T/mnt" embedded
sv_umount "$T/mnt"

# --- remote mode, a real server on loopback
remote_mount "$T/rstore" "$T/rmnt" -o meta_ttl=1 || die "no remote mount"
check_mount "$T/rmnt" remote
sv_umount "$T/rmnt"
