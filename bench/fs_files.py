#!/usr/bin/env python3
"""fs_files.py - data generator and small-file reader for bench/fs.

Subcommands (all paths are plain directories; nothing here knows about FUSE):

  tree ROOT NDIRS NFILES SIZE      write NFILES files of SIZE random bytes into
                                   ROOT/d000 .. ROOT/d{NDIRS-1}, round robin;
                                   file i is named f{i:06d} (unique over the tree)
  flat ROOT NFILES SIZE            write NFILES files of SIZE random bytes into ROOT
  list NDIRS NFILES SEED           print the relative paths of a `tree`, shuffled
                                   with random.Random(SEED), one per line
  read ROOT LIST SIZE              open(ROOT/p, 'rb').read() every path p of LIST,
                                   in LIST order; exit 1 if a file is not SIZE bytes
  read0 ROOT LIST SIZE             the same with open(ROOT/p, 'rb', buffering=0):
                                   no buffered reader, so no isatty() (an ioctl,
                                   on FUSE a request of its own) per file
  readpar N ROOT LIST SIZE         the same by N processes at once (fork): reader k
                                   reads paths k, k+N, k+2N, ... of LIST (a disjoint
                                   1/N each, all of LIST in all); waits for all and
                                   exits 1 if any reader failed

Random bytes, not zeros, so that a content-addressed store cannot deduplicate the
samples. `read` is the measured command: it imports only `sys` and reads the list
before the first open, so its fixed cost is the interpreter start (run it with -S).
"""
import sys


def rel(i, ndirs):
    return "d%03d/f%06d" % (i % ndirs, i)


def cmd_tree(root, ndirs, nfiles, size):
    import os
    for d in range(ndirs):
        os.makedirs("%s/d%03d" % (root, d), exist_ok=True)
    for i in range(nfiles):
        with open("%s/%s" % (root, rel(i, ndirs)), "wb") as f:
            f.write(os.urandom(size))


def cmd_flat(root, nfiles, size):
    import os
    os.makedirs(root, exist_ok=True)
    for i in range(nfiles):
        with open("%s/f%06d" % (root, i), "wb") as f:
            f.write(os.urandom(size))


def cmd_list(ndirs, nfiles, seed):
    import random
    paths = [rel(i, ndirs) for i in range(nfiles)]
    random.Random(seed).shuffle(paths)
    sys.stdout.write("\n".join(paths) + "\n")


def load_list(root, listfile):
    with open(listfile) as f:
        return [root + "/" + p for p in f.read().split("\n") if p]


def cmd_read(root, listfile, size):
    return read_paths(load_list(root, listfile), size)


def cmd_read0(root, listfile, size):
    return read_paths(load_list(root, listfile), size, 0)


def cmd_readpar(n, root, listfile, size):
    import os
    paths = load_list(root, listfile)   # before the fork: no reader pays for it
    pids = []
    for k in range(n):
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                rc = read_paths(paths[k::n], size)
            finally:
                os._exit(rc)
        pids.append(pid)
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed += 1
    if failed:
        sys.stderr.write("fs_files.py: %d of %d readers failed\n" % (failed, n))
        return 1
    return 0


def read_paths(paths, size, buffering=-1):
    bad = 0
    for p in paths:
        if len(open(p, "rb", buffering=buffering).read()) != size:
            bad += 1
            if bad <= 5:
                sys.stderr.write("fs_files.py: %s: wrong size\n" % p)
    if bad:
        sys.stderr.write("fs_files.py: %d of %d files had the wrong size\n"
                         % (bad, len(paths)))
        return 1
    return 0


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    cmd, a = argv[1], argv[2:]
    if cmd == "tree" and len(a) == 4:
        cmd_tree(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif cmd == "flat" and len(a) == 3:
        cmd_flat(a[0], int(a[1]), int(a[2]))
    elif cmd == "list" and len(a) == 3:
        cmd_list(int(a[0]), int(a[1]), int(a[2]))
    elif cmd == "read" and len(a) == 3:
        return cmd_read(a[0], a[1], int(a[2]))
    elif cmd == "read0" and len(a) == 3:
        return cmd_read0(a[0], a[1], int(a[2]))
    elif cmd == "readpar" and len(a) == 4 and int(a[0]) > 0:
        return cmd_readpar(int(a[0]), a[1], a[2], int(a[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
