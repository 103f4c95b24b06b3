#!/usr/bin/env bash
#
# t_loader — a training loader can read a tag like any folder.
#
# Proves: Python's os.walk over a tag finds exactly the source files; reading
# every file with open(p, 'rb').read() twice (two epochs, shuffled order)
# returns the source bytes; a loader with 4 worker threads and one with 4
# worker processes (what a PyTorch DataLoader does) read identical bytes; random
# partial reads (os.pread) and mmap agree with the source; initial-tag reads the
# same.

. "$(dirname "$0")/lib.sh"
sv_need_binary
sv_need python3 mountpoint fusermount3

sv_gen_tree "$T/src" 800 65536 801 || die "could not generate the source tree"
sv_mount "$T/store" "$T/mnt" || die "mount failed"
ok "mkdir dataset" mkdir "$T/mnt/ds" || die "cannot create a dataset"
ds=$T/mnt/ds
ok "cp -r samples in" cp -r "$T/src/." "$ds/initial-tag/"
ok "mkdir tag train" mkdir "$ds/train"

cat >"$T/loader.py" <<'EOF'
import hashlib, multiprocessing, os, random, sys
from concurrent.futures import ThreadPoolExecutor

data_dir, src_dir = sys.argv[1], sys.argv[2]
failures = 0

def check(cond, msg):
    global failures
    print(("ok - " if cond else "not ok - ") + msg)
    if not cond:
        failures += 1

def walk(root):
    out = []
    for d, _, files in os.walk(root):
        for name in files:
            out.append(os.path.relpath(os.path.join(d, name), root))
    return sorted(out)

def digest(b):
    return hashlib.sha256(b).hexdigest()

src_files = walk(src_dir)
want = {p: digest(open(os.path.join(src_dir, p), "rb").read()) for p in src_files}

files = walk(data_dir)
check(files == src_files, "os.walk finds exactly the %d source files (got %d)" % (len(src_files), len(files)))

def load(rel):
    return rel, digest(open(os.path.join(data_dir, rel), "rb").read())

def epoch(name, results):
    bad = [rel for rel, h in results if want.get(rel) != h]
    check(len(results) == len(src_files) and not bad,
          "%s: %d files read, %d with wrong bytes %s" % (name, len(results), len(bad), bad[:3]))

rng = random.Random(1)
for e in (1, 2):
    order = files[:]
    rng.shuffle(order)
    epoch("epoch %d (single thread, shuffled)" % e, [load(p) for p in order])

with ThreadPoolExecutor(max_workers=4) as pool:
    for e in (1, 2):
        order = files[:]
        rng.shuffle(order)
        epoch("epoch %d (4 worker threads)" % e, list(pool.map(load, order, chunksize=8)))

ctx = multiprocessing.get_context("fork")
with ctx.Pool(4) as pool:
    order = files[:]
    rng.shuffle(order)
    epoch("epoch (4 worker processes)", pool.map(load, order, chunksize=8))

# Random partial reads, as decoders that seek into a file do.
bad = 0
for rel in rng.sample(files, min(200, len(files))):
    src = open(os.path.join(src_dir, rel), "rb").read()
    fd = os.open(os.path.join(data_dir, rel), os.O_RDONLY)
    try:
        for _ in range(4):
            off = rng.randint(0, len(src) + 10)
            n = rng.randint(1, 20000)
            if os.pread(fd, n, off) != src[off:off + n]:
                bad += 1
        if os.fstat(fd).st_size != len(src):
            bad += 1
    finally:
        os.close(fd)
check(bad == 0, "random os.pread slices and st_size agree with the source (%d bad)" % bad)

# mmap, as numpy.memmap / torch.load(mmap=True) / safetensors do.
import mmap
bad = 0
for rel in rng.sample(files, min(100, len(files))):
    src = open(os.path.join(src_dir, rel), "rb").read()
    if not src:
        continue
    try:
        with open(os.path.join(data_dir, rel), "rb") as f, \
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            if m[:] != src:
                bad += 1
    except (OSError, ValueError) as e:
        bad += 1
        if bad == 1:
            print("# mmap of %s failed: %r" % (rel, e))
check(bad == 0, "mmap reads agree with the source (%d bad)" % bad)
sys.exit(1 if failures else 0)
EOF

if python3 "$T/loader.py" "$ds/train" "$T/src" >"$T/train.out" 2>&1; then
	pass "python loader over tag 'train'"
else
	fail "python loader over tag 'train'"
fi
sed 's/^/#   /' "$T/train.out"
if python3 "$T/loader.py" "$ds/initial-tag" "$T/src" >"$T/live.out" 2>&1; then
	pass "python loader over initial-tag"
else
	fail "python loader over initial-tag"
fi
sed 's/^/#   /' "$T/live.out"

sv_umount "$T/mnt"
