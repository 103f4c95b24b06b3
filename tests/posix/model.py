#!/usr/bin/env python3
"""model.py -- reference-model POSIX test for a sievefs mount (issue 10).

A seeded random sequence of file operations is applied twice, step by step:
to a folder on a sievefs mount (a dataset's initial-tag) and to a native
temp folder (the reference). After every step the results are compared:
return values, errno, bytes read, the attributes the step touched, and the
whole listing of both trees (names, kinds, permission bits, sizes, link
counts). Every 50 steps and at the end every file's bytes are compared too.
The first divergence stops the run with the seed, the step and the recent
history, so it can be replayed with --seed S --steps N.

Operations: create (O_CREAT, O_EXCL, O_TRUNC), open (read, write, rdwr,
append), write, pwrite, read, pread, fstat, fsync, ftruncate, futimens,
close, truncate, rename (files and folders, over existing targets), unlink
(also of open files), mkdir, rmdir, chmod (permission bits), utimensat
(atime and mtime set, UTIME_NOW or UTIME_OMIT each), stat. Names come from
a small alphabet so that operations collide (EEXIST, ENOENT, ENOTDIR,
EISDIR, ENOTEMPTY, EINVAL), with an occasional name of 200-300 bytes
(ENAMETOOLONG past 255). What sievefs does not claim is left out: links,
symlinks, chown, special files, set-id bits.

What is compared, and what is not (and why):
  - mtime and atime of every entry after every step, where a step set
    them explicitly (utimensat, futimens: always to a time before 2017, so
    such a time is recognisable) and nothing changed them since; other
    times are the clock's, and UTIME_NOW is checked to lie in the step's
    time window. An atime the native side moved on a read is not compared:
    sievefs does not move atime on reads (noatime-like, README "POSIX"),
    the native folder may (relatime).
  - a folder's st_size (ext4 and tmpfs count differently), st_blocks,
    ctime, st_ino, owners.
Options --no-chmod and --no-atime leave those operations out (for a run
against a mount where they are known not to work; the driver says why).

Standard library only. Exit status 0 = no divergence, 1 = divergence,
2 = usage or setup error.
"""

import argparse
import ctypes
import ctypes.util
import errno
import os
import random
import stat
import sys
import time

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p,
                            ctypes.POINTER(Timespec), ctypes.c_int]
_libc.futimens.argtypes = [ctypes.c_int, ctypes.POINTER(Timespec)]


def _times(a, m):
    t = (Timespec * 2)()
    for i, v in enumerate((a, m)):
        if v in (UTIME_NOW, UTIME_OMIT):
            t[i].tv_sec, t[i].tv_nsec = 0, v
        else:
            t[i].tv_sec, t[i].tv_nsec = divmod(v, 1_000_000_000)
    return t


def utimensat(path, a, m):
    if _libc.utimensat(AT_FDCWD, os.fsencode(path), _times(a, m), 0):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def futimens(fd, a, m):
    if _libc.futimens(fd, _times(a, m)):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Divergence(Exception):
    pass


def outcome(fn):
    """Runs fn: ('ok', value) or ('err', errno name)."""
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, str(e.errno)))


def attrs(st, with_size=True):
    """The attributes compared for one entry."""
    kind = "d" if stat.S_ISDIR(st.st_mode) else \
        "f" if stat.S_ISREG(st.st_mode) else "?"
    a = {"kind": kind, "mode": oct(stat.S_IMODE(st.st_mode)),
         "nlink": st.st_nlink}
    if kind == "f" and with_size:
        a["size"] = st.st_size
    return a


# Times set explicitly are drawn before this instant (2017), so a time
# before it can only be one a step set and nothing has moved since:
# check_tree compares every such time, for every entry, after every step.
OLD = 1_500_000_000 * 10**9

TIMES = {}   # root -> {relative path: (atime_ns, mtime_ns)} of the last tree()


def tree(root):
    """Every entry below root: relative path -> attributes (times of each
    entry go to TIMES[root])."""
    out = {}
    times = TIMES[root] = {}
    stack = [""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        for name in sorted(os.listdir(full)):
            r = os.path.join(rel, name) if rel else name
            st = os.lstat(os.path.join(root, r))
            out[r] = attrs(st)
            times[r] = (st.st_atime_ns, st.st_mtime_ns)
            if stat.S_ISDIR(st.st_mode):
                stack.append(r)
    return out


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


class Model:
    def __init__(self, mnt, ref, seed, steps, chmod=True, atime=True,
                 verbose=False):
        self.root = {"mnt": mnt, "ref": ref}
        self.rng = random.Random(seed)
        self.seed = seed
        self.steps = steps
        self.chmod = chmod
        self.atime = atime
        self.verbose = verbose
        self.fds = []          # [ {"mnt": fd, "ref": fd, "path": p, "acc": ...} ]
        self.history = []
        self.step = 0
        self.counts = {}
        self.ref_tree = None   # tree(ref) at the start of this step

    # ---- helpers

    def p(self, side, rel):
        return os.path.join(self.root[side], rel)

    def both(self, desc, fn):
        """Applies fn(side) to both sides; their outcomes must agree."""
        r = {s: outcome(lambda s=s: fn(s)) for s in ("mnt", "ref")}
        self.history.append(f"{self.step}: {desc} -> ref {r['ref'][0]}"
                            f" {str(r['ref'][1])[:60]}")
        if r["mnt"] != r["ref"]:
            raise Divergence(f"{desc}: sievefs {r['mnt']!r:.300} vs native"
                             f" {r['ref']!r:.300}")
        return r["ref"]

    def paths(self, kind=None):
        """Existing entries on the reference side (the truth), as of the
        start of the step."""
        if self.ref_tree is None:
            self.ref_tree = tree(self.root["ref"])
        t = self.ref_tree
        return [p for p, a in t.items() if kind is None or a["kind"] == kind]

    def name(self):
        r = self.rng.random()
        if r < 0.02:
            return "L" * self.rng.choice((200, 255, 256, 300))
        return self.rng.choice("abc") + self.rng.choice(("", "", ".x"))

    def path(self):
        """A path that may or may not exist: below an existing folder (or a
        file, for ENOTDIR), or inside a missing folder (ENOENT)."""
        dirs = [""] + self.paths("d")
        r = self.rng.random()
        if r < 0.75:
            base = self.rng.choice(dirs)
        elif r < 0.9:
            files = self.paths("f")
            base = self.rng.choice(files) if files else ""
        else:
            base = self.rng.choice(dirs)
            base = os.path.join(base, "zz") if base else "zz"
        if base.count("/") >= 2:
            base = ""
        n = self.name()
        return os.path.join(base, n) if base else n

    def existing(self, kind=None):
        ps = self.paths(kind)
        if not ps or self.rng.random() < 0.1:
            return self.path()
        return self.rng.choice(ps)

    def data(self):
        n = self.rng.choice((0, 1, 7, 100, 4096, 5000, 70000)) \
            if self.rng.random() < 0.3 else self.rng.randrange(0, 3000)
        return self.rng.randbytes(n)

    def check_tree(self):
        a, b = tree(self.root["mnt"]), tree(self.root["ref"])
        self.ref_tree = b
        if a != b:
            diff = []
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    diff.append(f"  {k}: sievefs {a.get(k)} native {b.get(k)}")
            raise Divergence("listings differ after the step:\n" +
                             "\n".join(diff[:20]))
        ta, tb = TIMES[self.root["mnt"]], TIMES[self.root["ref"]]
        for k in b:
            (am, mm), (ar, mr) = ta[k], tb[k]
            # mtime: an explicit time stays on both sides until changed
            if (mm < OLD or mr < OLD) and mm != mr:
                raise Divergence(f"{k}: mtime sievefs {mm} native {mr}")
            # atime: the native side may move it on a read (relatime),
            # sievefs never does; an explicit one it kept must agree
            if self.atime and ar < OLD and am != ar:
                raise Divergence(f"{k}: atime sievefs {am} native {ar}")

    def check_bytes(self, rel):
        r = {s: outcome(lambda s=s: read_all(self.p(s, rel)))
             for s in ("mnt", "ref")}
        if r["mnt"] != r["ref"]:
            m, n = r["mnt"], r["ref"]
            if m[0] == n[0] == "ok":
                d = next((i for i, (x, y) in enumerate(zip(m[1], n[1]))
                          if x != y), min(len(m[1]), len(n[1])))
                raise Divergence(f"bytes of {rel} differ: sievefs"
                                 f" {len(m[1])} bytes, native {len(n[1])},"
                                 f" first difference at {d}")
            raise Divergence(f"reading {rel}: sievefs {m!r:.200} native"
                             f" {n!r:.200}")

    def check_all_bytes(self):
        for rel in self.paths("f"):
            self.check_bytes(rel)

    def check_stat(self, rel, times=None, window=None):
        """Attributes of one path; times = (atime, mtime) to compare, each
        a value in ns, UTIME_NOW (within window), or None (skip)."""
        def st(side):
            s = os.stat(self.p(side, rel))
            return attrs(s), s.st_atime_ns, s.st_mtime_ns
        r = {s: outcome(lambda s=s: st(s)) for s in ("mnt", "ref")}
        m, n = r["mnt"], r["ref"]
        if m[0] != n[0] or (m[0] == "ok" and m[1][0] != n[1][0]) or \
           (m[0] == "err" and m != n):
            raise Divergence(f"stat {rel}: sievefs {m!r:.300} native"
                             f" {n!r:.300}")
        if m[0] == "ok" and times:
            self.check_times(f"stat {rel}", m[1][1:], n[1][1:], times,
                             window)

    def check_times(self, what, got, ref, times, window):
        for i, (name, want) in enumerate(zip(("atime", "mtime"), times)):
            if want is None or (name == "atime" and not self.atime):
                continue
            if want == UTIME_NOW:
                lo, hi = window
                if not (lo - 10**9 <= got[i] <= hi + 10**9):
                    raise Divergence(f"{what}: {name} {got[i]} not within"
                                     f" the step's time [{lo}, {hi}]")
            elif got[i] != ref[i]:
                raise Divergence(f"{what}: {name} sievefs {got[i]} native"
                                 f" {ref[i]}")

    # ---- operations on paths

    def op_create(self):
        rel = self.path()
        flags = os.O_CREAT | self.rng.choice(
            (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC,
             os.O_RDWR | os.O_EXCL, os.O_WRONLY | os.O_TRUNC | os.O_EXCL))
        mode = self.rng.choice((0o644, 0o600, 0o755, 0o640))
        self.open_both(f"create {rel} flags={flags:#o} mode={mode:#o}", rel,
                       flags, mode)

    def op_open(self):
        rel = self.existing()
        flags = self.rng.choice((os.O_RDONLY, os.O_RDONLY, os.O_WRONLY,
                                 os.O_RDWR, os.O_RDWR | os.O_TRUNC,
                                 os.O_WRONLY | os.O_APPEND))
        self.open_both(f"open {rel} flags={flags:#o}", rel, flags, 0)

    def open_both(self, desc, rel, flags, mode):
        fds = {}

        def do(side):
            fds[side] = os.open(self.p(side, rel), flags, mode)
            return None
        try:
            self.both(desc, do)
        finally:
            if len(fds) != 2:
                for fd in fds.values():
                    os.close(fd)
        if len(fds) == 2:
            acc = flags & os.O_ACCMODE
            self.fds.append(dict(fds, path=rel, acc=acc))
            if self.rng.random() < 0.5 and acc != os.O_RDONLY:
                d = self.data()
                self.both(f"write {len(d)} bytes to new fd of {rel}",
                          lambda s: os.write(self.fds[-1][s], d))
            if len(self.fds) > 6 or self.rng.random() < 0.3:
                self.close_fd(len(self.fds) - 1)
        self.check_stat(rel)

    def op_truncate(self):
        rel = self.existing()
        size = self.rng.choice((0, 1, 100, 5000, 100000,
                                self.rng.randrange(0, 10000)))
        self.both(f"truncate {rel} {size}",
                  lambda s: os.truncate(self.p(s, rel), size))
        self.check_stat(rel)

    def op_rename(self):
        src = self.existing()
        dst = self.existing() if self.rng.random() < 0.4 else self.path()
        self.both(f"rename {src} {dst}",
                  lambda s: os.rename(self.p(s, src), self.p(s, dst)))
        for fd in self.fds:   # the descriptor follows the file
            if fd["path"] == src:
                fd["path"] = dst

    def op_unlink(self):
        rel = self.existing("f") if self.rng.random() < 0.8 else self.path()
        if self.fds and self.rng.random() < 0.4:
            rel = self.rng.choice(self.fds)["path"]   # a file that is open
        self.both(f"unlink {rel}", lambda s: os.unlink(self.p(s, rel)))

    def op_mkdir(self):
        rel = self.path()
        mode = self.rng.choice((0o755, 0o700, 0o750))
        self.both(f"mkdir {rel} {mode:#o}",
                  lambda s: os.mkdir(self.p(s, rel), mode))
        self.check_stat(rel)

    def op_rmdir(self):
        rel = self.existing("d") if self.rng.random() < 0.8 else self.path()
        self.both(f"rmdir {rel}", lambda s: os.rmdir(self.p(s, rel)))

    def op_chmod(self):
        rel = self.existing()
        mode = self.rng.randrange(0, 0o1000)
        if mode & 0o700 != 0o700 and self.rng.random() < 0.5:
            mode |= 0o700
        self.both(f"chmod {rel} {mode:#o}",
                  lambda s: os.chmod(self.p(s, rel), mode))
        self.check_stat(rel)

    def pick_times(self):
        def one():
            r = self.rng.random()
            if r < 0.2:
                return UTIME_NOW
            if r < 0.4:
                return UTIME_OMIT
            return self.rng.randrange(0, OLD // 10**9) * 10**9 + \
                self.rng.randrange(0, 10**9)
        a, m = one(), one()
        if not self.atime and a not in (UTIME_OMIT, UTIME_NOW):
            a = UTIME_OMIT
        return a, m

    def op_utimens(self):
        rel = self.existing()
        a, m = self.pick_times()
        t0 = time.time_ns()
        r = self.both(f"utimensat {rel} atime={a} mtime={m}",
                      lambda s: utimensat(self.p(s, rel), a, m))
        if r[0] == "ok":
            # OMIT keeps the previous value: both sides had the same one
            # only if it was set explicitly, so compare it only then.
            self.check_stat(rel, (None if a == UTIME_OMIT else a,
                                  None if m == UTIME_OMIT else m),
                            (t0, time.time_ns()))

    def op_stat(self):
        self.check_stat(self.existing())

    # ---- operations on open descriptors

    def fd(self):
        return self.rng.randrange(len(self.fds)) if self.fds else None

    def op_write(self):
        i = self.fd()
        if i is None:
            return self.op_create()
        f, d = self.fds[i], self.data()
        if self.rng.random() < 0.5:
            off = self.rng.choice((0, 10, 4096, self.rng.randrange(0, 20000)))
            self.both(f"pwrite {len(d)} bytes at {off} to fd of {f['path']}",
                      lambda s: os.pwrite(f[s], d, off))
        else:
            self.both(f"write {len(d)} bytes to fd of {f['path']}",
                      lambda s: os.write(f[s], d))

    def op_read(self):
        i = self.fd()
        if i is None:
            return self.op_open()
        f, n = self.fds[i], self.rng.choice((1, 100, 4096, 100000))
        if self.rng.random() < 0.5:
            off = self.rng.randrange(0, 10000)
            self.both(f"pread {n} at {off} from fd of {f['path']}",
                      lambda s: os.pread(f[s], n, off))
        else:
            self.both(f"read {n} from fd of {f['path']}",
                      lambda s: os.read(f[s], n))

    def op_fstat(self):
        i = self.fd()
        if i is None:
            return self.op_stat()
        f = self.fds[i]
        self.both(f"fstat fd of {f['path']}",
                  lambda s: attrs(os.fstat(f[s])))

    def op_ftruncate(self):
        i = self.fd()
        if i is None:
            return self.op_truncate()
        f = self.fds[i]
        size = self.rng.choice((0, 1, 3000, self.rng.randrange(0, 10000)))
        t0 = time.time_ns()
        r = self.both(f"ftruncate fd of {f['path']} {size}",
                      lambda s: os.ftruncate(f[s], size))
        if r[0] == "ok":
            # ftruncate sets mtime and ctime to now (both sides: the clock)
            st = os.fstat(f["mnt"])
            lo, hi = t0, time.time_ns()
            for name in ("st_mtime_ns", "st_ctime_ns"):
                v = getattr(st, name)
                if not (lo - 10**9 <= v <= hi + 10**9):
                    raise Divergence(f"ftruncate: {name} {v} not within the"
                                     f" step's time [{lo}, {hi}]")
        self.both(f"fstat fd of {f['path']}",
                  lambda s: attrs(os.fstat(f[s])))

    def op_futimens(self):
        i = self.fd()
        if i is None:
            return self.op_utimens()
        f = self.fds[i]
        a, m = self.pick_times()
        t0 = time.time_ns()
        r = self.both(f"futimens fd of {f['path']} atime={a} mtime={m}",
                      lambda s: futimens(f[s], a, m))
        if r[0] == "ok":
            got = os.fstat(f["mnt"])
            ref = os.fstat(f["ref"])
            self.check_times(f"fstat fd of {f['path']}",
                             (got.st_atime_ns, got.st_mtime_ns),
                             (ref.st_atime_ns, ref.st_mtime_ns),
                             (None if a == UTIME_OMIT else a,
                              None if m == UTIME_OMIT else m),
                             (t0, time.time_ns()))

    def op_fsync(self):
        i = self.fd()
        if i is None:
            return self.op_stat()
        f = self.fds[i]
        self.both(f"fsync fd of {f['path']}", lambda s: os.fsync(f[s]))

    def close_fd(self, i):
        f = self.fds.pop(i)
        self.both(f"close fd of {f['path']}", lambda s: os.close(f[s]))

    def op_close(self):
        i = self.fd()
        if i is not None:
            self.close_fd(i)

    # ---- the run

    OPS = [("create", 10), ("open", 8), ("write", 14), ("read", 8),
           ("fstat", 4), ("fsync", 2), ("ftruncate", 4), ("futimens", 3),
           ("close", 8), ("truncate", 4), ("rename", 8), ("unlink", 6),
           ("mkdir", 6), ("rmdir", 4), ("chmod", 4), ("utimens", 4),
           ("stat", 3)]

    def run(self):
        ops = [(n, w) for n, w in self.OPS if self.chmod or n != "chmod"]
        names = [n for n, _ in ops]
        weights = [w for _, w in ops]
        for self.step in range(1, self.steps + 1):
            op = self.rng.choices(names, weights)[0]
            self.counts[op] = self.counts.get(op, 0) + 1
            getattr(self, "op_" + op)()
            self.check_tree()
            if self.step % 50 == 0:
                self.check_all_bytes()
            if self.verbose:
                print(self.history[-1])
        while self.fds:
            self.close_fd(0)
        self.check_tree()
        self.check_all_bytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mount_dir", help="an empty folder on the mount")
    ap.add_argument("native_dir", help="an empty native folder")
    ap.add_argument("--seed", type=int, default=None,
                    help="seed (default: random, printed)")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--no-chmod", action="store_true")
    ap.add_argument("--no-atime", action="store_true",
                    help="never set atime explicitly, nor compare it")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**31)
    for d in (a.mount_dir, a.native_dir):
        if not os.path.isdir(d) or os.listdir(d):
            print(f"model: {d} must be an empty folder", file=sys.stderr)
            return 2
    os.umask(0o022)
    m = Model(a.mount_dir, a.native_dir, seed, a.steps, chmod=not a.no_chmod,
              atime=not a.no_atime, verbose=a.verbose)
    t0 = time.monotonic()
    try:
        m.run()
    except Divergence as e:
        print(f"model: DIVERGENCE at step {m.step} (seed {seed}): {e}")
        print("model: last steps:")
        for h in m.history[-15:]:
            print("   ", h)
        print(f"model: rerun with: {sys.argv[0]} MOUNT_DIR NATIVE_DIR"
              f" --seed {seed} --steps {m.step}"
              + (" --no-chmod" if a.no_chmod else "")
              + (" --no-atime" if a.no_atime else ""))
        return 1
    ops = " ".join(f"{k}={v}" for k, v in sorted(m.counts.items()))
    print(f"model: seed {seed}: {a.steps} steps, no divergence"
          f" ({time.monotonic() - t0:.1f} s; {ops})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
