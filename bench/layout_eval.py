#!/usr/bin/python3
"""bench/layout_eval.py — the Python half of bench/layout (numpy only).

  images --data DIR --work W --n N
        Writes the first N Fashion-MNIST training images as W/files/NNNNN.pgm
        (binary PGM, 28x28) and their labels as W/labels.npy.
  pca50 --data DIR --work W --n N
        PCA-50 of the pixels (bench/quality_eval.py's fit, on the 60k training
        images) of the first N training images into W/x20k.f32 (float32 rows).
  csv   --work W --csv FILE
        The vectors of an exported embedding CSV (lightly format, rows by
        path) in the order of W/files (NNNNN.pgm) into W/x20k.f32; prints dim.
  big   --work W --n N --seed S
        N rows made from W/x20k.f32: all its rows, then rows drawn at random
        (seeded) with Gaussian noise of 0.05 x the data's std per coordinate,
        into W/x100k.f32 (a larger set with the same structure: there are
        only 70k Fashion-MNIST images).
"""
import argparse
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality_eval as q  # noqa: E402  (read_idx, pca_fit, pca_project)


def cmd_images(a):
    x = q.read_idx(os.path.join(a.data, q.TRAIN_IMG))[:a.n]
    y = q.read_idx(os.path.join(a.data, q.TRAIN_LBL))[:a.n]
    root = os.path.join(a.work, "files")
    os.makedirs(root, exist_ok=True)
    header = b"P5\n28 28\n255\n"
    for i, img in enumerate(x):
        with open(os.path.join(root, "%05d.pgm" % i), "wb") as f:
            f.write(header + img.tobytes())
    np.save(os.path.join(a.work, "labels.npy"), y.astype(np.int64))


def cmd_pca50(a):
    x = q.read_idx(os.path.join(a.data, q.TRAIN_IMG)).reshape(60000, -1)
    mean, axes, _, _ = q.pca_fit(x, 50)
    q.pca_project(x[:a.n], mean, axes).astype(np.float32).tofile(
        os.path.join(a.work, "x20k.f32"))
    print(50)


def cmd_csv(a):
    rows = {}
    with open(a.csv, newline="") as f:
        r = csv.reader(f)
        head = next(r)
        dim = sum(1 for h in head if h.startswith("embedding_"))
        for row in r:
            rows[os.path.basename(row[0])] = [float(v) for v in row[1:1 + dim]]
    names = sorted(os.listdir(os.path.join(a.work, "files")))
    missing = [n for n in names if n not in rows]
    if missing:
        raise SystemExit("%d images have no row (first: %s)" % (len(missing), missing[0]))
    np.array([rows[n] for n in names], dtype=np.float32).tofile(
        os.path.join(a.work, "x20k.f32"))
    print(dim)


def cmd_big(a):
    x = np.fromfile(os.path.join(a.work, "x20k.f32"), dtype=np.float32)
    d = a.dim
    x = x.reshape(-1, d)
    rng = np.random.default_rng(a.seed)
    extra = x[rng.integers(0, len(x), a.n - len(x))]
    extra = extra + rng.normal(0, 0.05 * x.std(), extra.shape)
    np.concatenate([x, extra]).astype(np.float32).tofile(
        os.path.join(a.work, "x100k.f32"))


def main():
    p = argparse.ArgumentParser()
    s = p.add_subparsers(dest="cmd", required=True)
    for name in ("images", "pca50"):
        c = s.add_parser(name)
        c.add_argument("--data", required=True)
        c.add_argument("--work", required=True)
        c.add_argument("--n", type=int, required=True)
    c = s.add_parser("csv")
    c.add_argument("--work", required=True)
    c.add_argument("--csv", required=True)
    c = s.add_parser("big")
    c.add_argument("--work", required=True)
    c.add_argument("--n", type=int, required=True)
    c.add_argument("--dim", type=int, required=True)
    c.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    {"images": cmd_images, "pca50": cmd_pca50, "csv": cmd_csv, "big": cmd_big}[a.cmd](a)


if __name__ == "__main__":
    main()
