#!/usr/bin/python3
"""loader_eval.py - what a training loader gets from a folder: images/s.

  loader_eval.py probe                      can a DataLoader with 2 workers run
                                            here? (shared memory, fork); exit 1
                                            with the reason when not
  loader_eval.py [--cpu NAME=PID] WORKERS EPOCHS BATCH NAME=ROOT...
                                            for each ROOT a torchvision
                                            ImageFolder(ROOT) with ToTensor and a
                                            DataLoader(batch_size=BATCH, shuffle
                                            (seed 0), num_workers=WORKERS); runs
                                            EPOCHS epochs of each, interleaved:
                                            epoch 1 of every root, then epoch 2 of
                                            every root, ...; the order of the roots
                                            turns around every epoch (A B, B A, A B)
                                            so drift in the machine's load hits
                                            all of them alike. Prints one line per
                                            epoch: "epoch K NAME IMAGES SECONDS CPU"
                                            where CPU is the CPU seconds (user +
                                            system, all threads) process PID used
                                            during that epoch of root NAME (the
                                            FUSE daemon serving it), else -1

Each epoch opens, reads and decodes every file once (PIL, as ImageFolder does)
and turns it into a float tensor; nothing is kept between epochs but what the
kernel caches (and the roots' file lists, which ImageFolder makes once). Exit 1 (with the error) when an epoch fails: a worker that dies
(e.g. out of shared memory in /dev/shm) is a failure, not a skip.
"""
import sys
import time


def probe():
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(torch.zeros(64, 3, 480, 640))   # 240 MB through /dev/shm
    n = 0
    for (b,) in DataLoader(ds, batch_size=16, num_workers=2):
        n += b.shape[0]
    if n != 64:
        raise RuntimeError("probe: got %d of 64 samples" % n)


def cpu_seconds(pid):
    """User + system CPU seconds of process pid, all its threads (proc(5))."""
    import os
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after "pid (comm)": state is field 3, utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(workers, epochs, batch, roots, cpu):
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms
    loaders = []
    for name, root in roots:
        ds = datasets.ImageFolder(root, transform=transforms.ToTensor())
        g = torch.Generator()
        g.manual_seed(0)
        loaders.append((name, len(ds), DataLoader(ds, batch_size=batch, shuffle=True,
                                                  num_workers=workers, generator=g)))
    for e in range(1, epochs + 1):
        order = loaders if e % 2 else loaders[::-1]
        for name, total, dl in order:
            n = 0
            pid = cpu.get(name)
            c0 = cpu_seconds(pid) if pid else 0.0
            t0 = time.perf_counter()
            for x, _ in dl:
                n += x.shape[0]
            t = time.perf_counter() - t0
            c = cpu_seconds(pid) - c0 if pid else -1.0
            print("epoch %d %s %d %.6f %.2f" % (e, name, n, t, c), flush=True)
            if n != total:
                sys.stderr.write("loader_eval.py: %s, epoch %d: saw %d of %d images\n"
                                 % (name, e, n, total))
                return 1
    return 0


def main(argv):
    try:
        if len(argv) == 2 and argv[1] == "probe":
            probe()
            return 0
        cpu = {}
        while len(argv) >= 3 and argv[1] == "--cpu" and "=" in argv[2]:
            name, pid = argv[2].split("=", 1)
            cpu[name] = int(pid)
            argv = argv[:1] + argv[3:]
        if len(argv) >= 5 and all("=" in a for a in argv[4:]):
            return run(int(argv[1]), int(argv[2]), int(argv[3]),
                       [tuple(a.split("=", 1)) for a in argv[4:]], cpu)
    except ImportError as e:
        sys.stderr.write("loader_eval.py: %s (apt-get install python3-torchvision)\n" % e)
        return 1
    except Exception as e:   # a DataLoader worker's death arrives as RuntimeError
        sys.stderr.write("loader_eval.py: %s: %s\n" % (type(e).__name__, e))
        return 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
