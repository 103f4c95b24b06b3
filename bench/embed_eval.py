#!/usr/bin/python3
"""bench/embed_eval.py — the Python half of bench/embed (numpy and PIL).

  photos  --out DIR --n N
          N JPEGs of 640x480 (quality 90) cut from the pictures of Debian's
          gnome-backgrounds (/usr/share/backgrounds/gnome, raster ones):
          seeded random crops of 25-100 % of the picture's shorter side,
          resized to 640x480, sometimes mirrored, near-flat crops and
          repeats skipped (the artwork has flat areas); DIR/NNNNN.jpg.
  fmnist  --data DIR --out W
          Fashion-MNIST from the idx .gz files in DIR as PNG files:
          W/files/train/NNNNN.png (60k), W/files/test/NNNNN.png (10k),
          W/labels.npz (train and test labels), W/train.txt (the train paths,
          for a `selection`).
  peer    --dir DIR --procs P
          The peer for throughput: PIL decoding every file under DIR with its
          DCT-scaled draft mode and resizing it to 32x32 (what our decoder
          does before features), in P processes. Prints images/s.
  quality --work W --csv BUILTIN.csv
          10-NN accuracy (train -> test) of the built-in embedding against
          PCA-50 of the raw pixels (fitted on the train images), same data.
  sample  --work W --csv BUILTIN.csv --dataset MNT/DS --bin SIEVEFS
          --ks 100,1000 --seeds 5 [--from TAG]
          For random and the default strategy: `SIEVEFS sample MNT/DS
          [random] n=K seed=S from=TAG`, reads the selection, 1-NN on only
          the selected train images (built-in vectors, true labels), accuracy
          on the 10k test images. Mean over seeds.
"""
import argparse
import glob
import io
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality_eval import read_idx  # noqa: E402  (the idx reader, shared)

FM = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cmd_photos(a):
    from PIL import Image
    srcs = sorted(p for p in glob.glob("/usr/share/backgrounds/gnome/*")
                  if p.endswith((".webp", ".jpg", ".jpeg", ".png")))
    if not srcs:
        raise SystemExit("no pictures in /usr/share/backgrounds/gnome "
                         "(apt-get install gnome-backgrounds)")
    pics = [Image.open(p).convert("RGB") for p in srcs]
    rng = np.random.default_rng(7)
    os.makedirs(a.out, exist_ok=True)
    seen, i, tries = set(), 0, 0
    while i < a.n:
        tries += 1
        im = pics[tries % len(pics)]
        w, h = im.size
        side = int(min(w, h) * rng.uniform(0.25, 1.0))
        cw, ch = side, side * 3 // 4
        x = int(rng.integers(0, w - cw + 1))
        y = int(rng.integers(0, h - ch + 1))
        out = im.crop((x, y, x + cw, y + ch)).resize((640, 480), Image.BILINEAR)
        if rng.random() < 0.5:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        # the artwork has flat regions: skip near-flat crops and repeats,
        # so every file is a distinct, detailed image
        if np.asarray(out.convert("L").resize((80, 60))).std() < 12:
            continue
        buf = io.BytesIO()
        out.save(buf, format="JPEG", quality=90)
        key = hash(buf.getvalue())
        if key in seen:
            continue
        seen.add(key)
        with open(os.path.join(a.out, f"{i:05d}.jpg"), "wb") as f:
            f.write(buf.getvalue())
        i += 1
    log(f"photos: {a.n} JPEGs of 640x480 from {len(srcs)} pictures in {a.out}")


def cmd_fmnist(a):
    from PIL import Image
    x_tr = read_idx(os.path.join(a.data, FM[0]))
    y_tr = read_idx(os.path.join(a.data, FM[1]))
    x_te = read_idx(os.path.join(a.data, FM[2]))
    y_te = read_idx(os.path.join(a.data, FM[3]))
    for part, xs in (("train", x_tr), ("test", x_te)):
        d = os.path.join(a.out, "files", part)
        os.makedirs(d, exist_ok=True)
        for i, im in enumerate(xs):
            Image.fromarray(im, "L").save(os.path.join(d, f"{i:05d}.png"))
    np.savez(os.path.join(a.out, "labels.npz"), train=y_tr, test=y_te)
    with open(os.path.join(a.out, "train.txt"), "w") as f:
        for i in range(len(x_tr)):
            f.write(f"train/{i:05d}.png\n")
    log(f"fmnist: {len(x_tr)} + {len(x_te)} PNGs in {a.out}/files")


def _peer_one(path):
    from PIL import Image
    with Image.open(path) as im:
        im.draft("RGB", (32, 32))          # DCT scaling, as our decoder
        im = im.convert("RGB").resize((32, 32), Image.BOX)
        return np.asarray(im).shape[0]


def cmd_peer(a):
    files = sorted(p for p in glob.glob(os.path.join(a.dir, "**"), recursive=True)
                   if os.path.isfile(p))
    t = time.perf_counter()
    with multiprocessing.Pool(a.procs) as p:
        n = len(p.map(_peer_one, files, chunksize=64))
    dt = time.perf_counter() - t
    print(f"{n / dt:.1f}")


def load_csv(path):
    names, rows = [], []
    with open(path) as f:
        head = f.readline().rstrip("\r\n").split(",")
        dim = len(head) - 2
        for line in f:
            parts = line.rstrip("\r\n").split(",")
            names.append(parts[0])
            rows.append(np.array(parts[1:1 + dim], dtype=np.float32))
    return names, np.stack(rows)


def split(work, names, vecs):
    lab = np.load(os.path.join(work, "labels.npz"))
    n_tr, n_te = len(lab["train"]), len(lab["test"])
    tr = np.full((n_tr, vecs.shape[1]), np.nan, np.float32)
    te = np.full((n_te, vecs.shape[1]), np.nan, np.float32)
    for name, v in zip(names, vecs):
        part, file = name.split("/")
        (tr if part == "train" else te)[int(file[:5])] = v
    if np.isnan(tr).any() or np.isnan(te).any():
        raise SystemExit("builtin.csv misses some Fashion-MNIST images")
    return tr, lab["train"], te, lab["test"]


def knn_acc(tr, ytr, te, yte, k):
    sq = (tr.astype(np.float64) ** 2).sum(1)
    hits = 0
    for s in range(0, len(te), 1000):
        q = te[s:s + 1000].astype(np.float64)
        d = sq[None, :] - 2 * q @ tr.T.astype(np.float64)
        if k == 1:
            pred = ytr[d.argmin(1)]
        else:
            nn = np.argpartition(d, k, axis=1)[:, :k]
            pred = np.array([np.bincount(r, minlength=10).argmax()
                             for r in ytr[nn]])
        hits += int((pred == yte[s:s + 1000]).sum())
    return 100.0 * hits / len(te)


def pca50(work):
    data = "/usr/share/datasets/fashion-mnist"
    x_tr = read_idx(os.path.join(data, FM[0])).reshape(60000, -1) / 255.0
    x_te = read_idx(os.path.join(data, FM[2])).reshape(10000, -1) / 255.0
    mu = x_tr.mean(0)
    w, v = np.linalg.eigh(np.cov((x_tr - mu).T))
    axes = v[:, ::-1][:, :50]
    return ((x_tr - mu) @ axes).astype(np.float32), ((x_te - mu) @ axes).astype(np.float32)


def cmd_quality(a):
    names, vecs = load_csv(a.csv)
    tr, ytr, te, yte = split(a.work, names, vecs)
    p_tr, p_te = pca50(a.work)
    ours = knn_acc(tr, ytr, te, yte, 10)
    base = knn_acc(p_tr, ytr, p_te, yte, 10)
    print(f"10-NN accuracy, train 60k -> test 10k:")
    print(f"  built-in embedding (dim {vecs.shape[1]}): {ours:.2f} %")
    print(f"  PCA-50 of raw pixels:           {base:.2f} %")
    print(f"  {'PASS' if ours >= base else 'MISS'}: built-in "
          f"{'>=' if ours >= base else '<'} PCA-50 by {ours - base:+.2f} points")


def cmd_sample(a):
    names, vecs = load_csv(a.csv)
    tr, ytr, te, yte = split(a.work, names, vecs)
    ks = [int(k) for k in a.ks.split(",")]
    res = {}
    ok = True
    for strat in ("random", "default"):
        for k in ks:
            accs = []
            for seed in range(a.seeds):
                cmd = [a.bin, "sample", a.dataset]
                if strat != "default":
                    cmd.append(strat)
                cmd += [f"n={k}", f"seed={seed}", f"from={a.frm}"]
                p = subprocess.run(cmd, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
                if p.returncode:
                    log(f"{' '.join(cmd)}: {p.stderr.strip()}")
                    ok = False
                    continue
                with open(os.path.join(a.dataset, "selection")) as f:
                    sel = [l.rstrip("\n") for l in f if l.strip()]
                idx = [int(s.split("/")[1][:5]) for s in sel]
                if len(idx) != k or any(not s.startswith("train/") for s in sel):
                    log(f"{strat} k={k} seed={seed}: selection has {len(idx)} "
                        f"entries, wanted {k} train images")
                    ok = False
                    continue
                accs.append(knn_acc(tr[idx], ytr[idx], te, yte, 1))
            res[(strat, k)] = accs
    print("1-NN on the selected train images only (built-in vectors), "
          f"accuracy on 10k test images, mean of {a.seeds} seeds:")
    print(f"  {'strategy':<10}" + "".join(f"{'k=' + str(k):>12}" for k in ks))
    for strat in ("random", "default"):
        print(f"  {strat:<10}" + "".join(
            f"{np.mean(res[(strat, k)]) if res[(strat, k)] else float('nan'):>11.2f}%"
            for k in ks))
    for k in ks:
        r, d = res[("random", k)], res[("default", k)]
        if r and d:
            m = np.mean(d) - np.mean(r)
            print(f"  {'PASS' if m > 0 else 'MISS'}: default beats random at "
                  f"k={k} by {m:+.2f} points")
    sys.exit(0 if ok else 1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("photos")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=10000)
    p = sub.add_parser("fmnist")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", required=True)
    p = sub.add_parser("peer")
    p.add_argument("--dir", required=True)
    p.add_argument("--procs", type=int, default=2)
    p = sub.add_parser("quality")
    p.add_argument("--work", required=True)
    p.add_argument("--csv", required=True)
    p = sub.add_parser("sample")
    p.add_argument("--work", required=True)
    p.add_argument("--csv", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--ks", default="100,1000")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--from", dest="frm", default="train")
    a = ap.parse_args()
    {"photos": cmd_photos, "fmnist": cmd_fmnist, "peer": cmd_peer,
     "quality": cmd_quality, "sample": cmd_sample}[a.cmd](a)


if __name__ == "__main__":
    main()
