#!/usr/bin/python3
"""loader_images.py - the frozen JPEG set bench/loader reads.

  loader_images.py OUT N     write N JPEGs of 640x480 into OUT/c0 .. OUT/c9
                             (image i goes to class i % 10, named i{i:05d}.jpg),
                             then OUT/STAMP, which names the set; an OUT whose
                             STAMP matches is left as it is

The pictures are cut from Debian's gnome-backgrounds wallpapers
(/usr/share/backgrounds/gnome/*.webp, the 4096x4096 ones; the SVGs need a
renderer and are left out). Image i is made with random.Random(i) only, so a set
is the same on every run and on every machine with the same PIL/libjpeg: a
random 4:3 crop of 480..2048 px wide (scaled to 640x480), a horizontal flip
every other time on average, and JPEG quality 70..95, so the files differ in
content and size (~30-120 KiB). Runs on every core (multiprocessing, fork).
Exit 1 with a message when the wallpapers or PIL are missing.
"""
import glob
import multiprocessing
import os
import random
import sys

SRC_GLOB = "/usr/share/backgrounds/gnome/*.webp"
W, H = 640, 480
CLASSES = 10
VERSION = 1          # bump when the recipe changes: old sets are rebuilt
SOURCES = []         # the wallpapers, at 2048x2048 (filled before the fork)


def load_sources():
    from PIL import Image
    for f in sorted(glob.glob(SRC_GLOB)):
        with Image.open(f) as im:
            if im.size[0] < 2048 or im.size[1] < 2048:
                continue
            SOURCES.append(im.convert("RGB").resize((2048, 2048), Image.BILINEAR))


def make(args):
    from PIL import Image
    out, i = args
    r = random.Random(i)
    src = SOURCES[r.randrange(len(SOURCES))]
    cw = r.randint(480, 2048)
    ch = cw * 3 // 4
    x = r.randint(0, 2048 - cw)
    y = r.randint(0, 2048 - ch)
    im = src.crop((x, y, x + cw, y + ch)).resize((W, H), Image.BILINEAR)
    if r.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    path = "%s/c%d/i%05d.jpg" % (out, i % CLASSES, i)
    im.save(path + ".tmp", "JPEG", quality=r.randint(70, 95))
    os.rename(path + ".tmp", path)


def main(argv):
    if len(argv) != 3 or not argv[2].isdigit() or int(argv[2]) < 1:
        sys.stderr.write(__doc__)
        return 2
    out, n = argv[1], int(argv[2])
    stamp = "loader_images v%d: %d JPEGs %dx%d in %d classes\n" % (VERSION, n, W, H, CLASSES)
    try:
        with open(out + "/STAMP") as f:
            if f.read() == stamp:
                return 0
    except OSError:
        pass
    try:
        import PIL  # noqa: F401
    except ImportError:
        sys.stderr.write("loader_images.py: PIL missing (apt-get install python3-pil)\n")
        return 1
    load_sources()
    if not SOURCES:
        sys.stderr.write("loader_images.py: no wallpapers at %s "
                         "(apt-get install gnome-backgrounds)\n" % SRC_GLOB)
        return 1
    if os.path.exists(out + "/STAMP"):
        os.unlink(out + "/STAMP")
    for c in range(CLASSES):
        os.makedirs("%s/c%d" % (out, c), exist_ok=True)
    # Files of an older or larger set would be read by ImageFolder: remove them.
    for f in glob.glob(out + "/c*/*"):
        base = os.path.basename(f)
        if not (base.startswith("i") and base.endswith(".jpg") and base[1:6].isdigit()
                and int(base[1:6]) < n):
            os.unlink(f)
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 1) as pool:
        pool.map(make, [(out, i) for i in range(n)], chunksize=64)
    with open(out + "/STAMP", "w") as f:
        f.write(stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
