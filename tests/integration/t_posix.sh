#!/usr/bin/env bash
#
# t_posix — POSIX behaviour of initial-tag (issue 10, item 14 and the
# tests/posix suite), on an embedded mount and on a remote mount of a real
# `sievefs serve` on loopback.
#
# Proves, on each mount:
#  - fixed cases: `touch -a` sets atime only and `touch -m` mtime only;
#    utimensat with UTIME_OMIT/UTIME_NOW per field; ftruncate(fd) moves
#    mtime and ctime; names over 255 bytes give ENAMETOOLONG on lookup,
#    create, mkdir and rename; folder st_nlink is 2 + child folders (the
#    root, a dataset, initial-tag, a folder, a frozen tag); the root's mtime
#    is a real time (not 1970);
#  - tests/posix/model.py: a seeded random sequence of 5,000 file
#    operations gives the same results, errno, bytes and listings as a
#    native folder. The seed is random and printed; rerun one with
#    SV_POSIX_SEED=N (and SV_POSIX_STEPS=N to stop where it failed).

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl touch stat

MODEL=$SV_REPO/tests/posix/model.py
STEPS=${SV_POSIX_STEPS:-5000}

# fixed_cases MNT WHAT — the item-14 checks, in dataset MNT/p.
fixed_cases() {
	local m=$1 what=$2 d=$1/p/initial-tag
	mkdir "$m/p" || { fail "$what: mkdir dataset"; return; }
	ok "$what: touch -a / -m / utimensat / ftruncate / names / nlink" \
		python3 - "$m" "$d" <<'EOF'
import ctypes, ctypes.util, errno, os, stat, subprocess, sys, time
m, d = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
NOW, OMIT = (1 << 30) - 1, (1 << 30) - 2
def ts(v):
    return (0, v) if v in (NOW, OMIT) else divmod(v, 10**9)
def utimensat(p, a, b):
    ts4 = (ctypes.c_long * 4)(*ts(a), *ts(b))
    assert libc.utimensat(-100, os.fsencode(p), ts4, 0) == 0, os.strerror(ctypes.get_errno())
def times(p):
    s = os.stat(p)
    return s.st_atime_ns, s.st_mtime_ns
f = os.path.join(d, "f")
open(f, "wb").write(b"x" * 100)
subprocess.run(["touch", "-m", "-d", "@2000", f], check=True)
subprocess.run(["touch", "-a", "-d", "@1000", f], check=True)
assert times(f) == (1000 * 10**9, 2000 * 10**9), ("touch -a", times(f))
subprocess.run(["touch", "-m", "-d", "@3000", f], check=True)
assert times(f) == (1000 * 10**9, 3000 * 10**9), ("touch -m", times(f))
utimensat(f, 5 * 10**9 + 7, OMIT)
assert times(f) == (5 * 10**9 + 7, 3000 * 10**9), ("atime only", times(f))
utimensat(f, OMIT, 6 * 10**9 + 9)
assert times(f) == (5 * 10**9 + 7, 6 * 10**9 + 9), ("mtime only", times(f))
t0 = time.time_ns()
utimensat(f, NOW, 7 * 10**9)
a, b = times(f)
assert b == 7 * 10**9 and abs(a - t0) < 5 * 10**9, ("UTIME_NOW atime", a, b)
# a read leaves atime (noatime-like, README)
a0 = times(f)[0]
open(f, "rb").read()
assert times(f)[0] == a0, "a read moved atime"
# ftruncate moves mtime and ctime, like truncate
utimensat(f, 10**9, 10**9)
c0 = os.stat(f).st_ctime_ns
fd = os.open(f, os.O_RDWR)
time.sleep(0.02)
os.ftruncate(fd, 10)
st = os.fstat(fd)
os.close(fd)
assert st.st_size == 10 and st.st_mtime_ns > 10**9 and st.st_ctime_ns > c0, \
    ("ftruncate", st)
st = os.stat(f)
assert st.st_size == 10 and abs(st.st_mtime_ns - time.time_ns()) < 5 * 10**9
# names over 255 bytes
long = "n" * 256
for what, fn in [("lookup", lambda: os.stat(os.path.join(d, long))),
                 ("create", lambda: open(os.path.join(d, long), "w")),
                 ("mkdir", lambda: os.mkdir(os.path.join(d, long))),
                 ("rename", lambda: os.rename(f, os.path.join(d, long))),
                 ("dataset lookup", lambda: os.stat(os.path.join(m, long)))]:
    try:
        fn()
        raise AssertionError(what + ": a 256-byte name worked")
    except OSError as e:
        assert e.errno == errno.ENAMETOOLONG, (what, e)
open(os.path.join(d, "n" * 255), "w").close()   # 255 is fine
# folder link counts: 2 + child folders
os.makedirs(os.path.join(d, "a", "x"))
os.mkdir(os.path.join(d, "a", "y"))
os.mkdir(os.path.join(d, "b"))
nl = lambda p: os.stat(p).st_nlink
assert nl(os.path.join(d, "a")) == 4, nl(os.path.join(d, "a"))
assert nl(os.path.join(d, "a", "x")) == 2
assert nl(d) == 4, nl(d)                      # a, b
os.rmdir(os.path.join(d, "a", "y"))
assert nl(os.path.join(d, "a")) == 3
ds = os.path.dirname(d)
n_tags = len([e for e in os.listdir(ds) if os.path.isdir(os.path.join(ds, e))])
assert nl(ds) == 2 + n_tags, (nl(ds), os.listdir(ds))
n_ds = len([e for e in os.listdir(m) if os.path.isdir(os.path.join(m, e))])
assert nl(m) == 2 + n_ds, (nl(m), os.listdir(m))   # the root's `log` is a file
assert nl(os.path.join(ds, "embeddings")) == 2   # a folder with no folders
os.mkdir(os.path.join(ds, "v1"))               # a frozen tag keeps the counts
assert nl(os.path.join(ds, "v1", "a")) == 3
assert nl(ds) == 2 + n_tags + 1
# the root's times are real
assert os.stat(m).st_mtime > 1.5e9, os.stat(m).st_mtime
print("ok")
EOF
}

# model MNT WHAT [model options] — the reference-model run in MNT/model.
model() {
	local m=$1 what=$2 seed
	shift 2
	seed=${SV_POSIX_SEED:-$(python3 -c 'import random; print(random.SystemRandom().randrange(2**31))')}
	mkdir "$m/model" "$T/native-$what" || { fail "$what: model folders"; return; }
	note "$what: model seed $seed, $STEPS steps (rerun: SV_POSIX_SEED=$seed)"
	if python3 "$MODEL" "$m/model/initial-tag" "$T/native-$what" --seed "$seed" \
		--steps "$STEPS" "$@" >"$T/model-$what.out" 2>&1; then
		pass "$what: $(tail -n 1 "$T/model-$what.out")"
	else
		fail "$what: the model diverged (seed $seed; SV_POSIX_SEED=$seed to rerun)"
		sv_show "$T/model-$what.out" 40
	fi
}

# --- embedded mode
sv_mount "$T/store" "$T/mnt" || die "mount failed"
fixed_cases "$T/mnt" embedded
model "$T/mnt" embedded
sv_umount "$T/mnt"

# --- remote mode
remote_mount "$T/rstore" "$T/rmnt" || die "no remote mount"
fixed_cases "$T/rmnt" remote
model "$T/rmnt" remote
sv_umount "$T/rmnt"
