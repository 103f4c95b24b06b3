#!/usr/bin/python3
"""bench/quality_eval.py — the Python half of bench/quality (numpy only).

  prep  --data DIR --work W
        Loads Fashion-MNIST from the idx .gz files in DIR, fits PCA-50 on the
        60k training pixels (float64, eigh of the covariance), projects train and
        test, and writes into W:
          files/train/NNNNN.pgm   the 60k training images (binary PGM, 28x28)
          pca50.csv               lightly format: filenames,embedding_0..49,labels
          feat.npz                train/test PCA-50 (as the CSV rounds them: float32),
                                  labels, relative paths
  run   --dataset MNT/DS --bin SIEVEFS --work W --seeds N --ks 100,1000
        [--strategies random,coreset,...] [--classifiers 1nn,logreg]
        For each strategy (``default`` = a request naming none; a selection
        of several objectives is written with ``+`` and no blanks, e.g.
        ``typicality+diversity``, and runs as ``typicality + diversity``),
        k and seed: runs `SIEVEFS sample MNT/DS [STRATEGY] n=K seed=S`, reads
        MNT/DS/selection, trains each classifier (1-NN; logistic regression:
        multinomial, numpy, centred and globally scaled features, L2 1e-2, 300 full-batch
        gradient steps with Nesterov momentum) on only the selected samples
        (their PCA-50 vectors and true labels), classifies the 10k test
        images; prints a table per classifier and the PASS/MISS lines (the
        issue 18 targets at k=100/1000 for 1-NN; issue 21's: the default
        beats random at every budget and classifier, by >= 2 points on
        average over the budgets <= 200, and >= 73 % at k=100 with 1-NN),
        writes W/results.json. Exit 0 when every run completed (targets
        missed are reported, not an error), 1 when some run failed.
"""
import argparse
import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

TRAIN_IMG = "train-images-idx3-ubyte.gz"
TRAIN_LBL = "train-labels-idx1-ubyte.gz"
TEST_IMG = "t10k-images-idx3-ubyte.gz"
TEST_LBL = "t10k-labels-idx1-ubyte.gz"
DIM = 50
TARGETS = {100: 71.0, 1000: 78.0}       # default strategy, accuracy %
RANDOM_REF = {100: 64.0, 1000: 75.0}    # the issue's "random is about"
CHEATS = {"balance"}                    # strategies that read the true labels


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ data, PCA
def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic >> 8 != 0x08:              # 0x08 = unsigned byte
        raise SystemExit(f"{path}: not an idx file of unsigned bytes")
    ndim = magic & 0xFF
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: {data.size} bytes of data, header says {shape}")
    return data.reshape(shape)


def pca_fit(x_u8, dim, chunk=10000):
    """Mean and top-`dim` principal axes of the pixels (scaled to 0..1), float64."""
    n, d = x_u8.shape
    mean = np.zeros(d)
    for i in range(0, n, chunk):
        mean += x_u8[i:i + chunk].sum(axis=0, dtype=np.float64)
    mean /= 255.0 * n
    cov = np.zeros((d, d))
    for i in range(0, n, chunk):
        xc = x_u8[i:i + chunk].astype(np.float64) / 255.0 - mean
        cov += xc.T @ xc
    cov /= n - 1
    w, v = np.linalg.eigh(cov)           # ascending
    order = np.argsort(w)[::-1][:dim]
    return mean, v[:, order], w[order], w.sum()


def pca_project(x_u8, mean, axes, chunk=10000):
    out = np.empty((x_u8.shape[0], axes.shape[1]))
    for i in range(0, x_u8.shape[0], chunk):
        out[i:i + chunk] = (x_u8[i:i + chunk].astype(np.float64) / 255.0 - mean) @ axes
    return out


def cmd_prep(a):
    t0 = time.time()
    xtr = read_idx(os.path.join(a.data, TRAIN_IMG))
    ytr = read_idx(os.path.join(a.data, TRAIN_LBL)).astype(np.int64)
    xte = read_idx(os.path.join(a.data, TEST_IMG))
    yte = read_idx(os.path.join(a.data, TEST_LBL)).astype(np.int64)
    if xtr.shape != (60000, 28, 28) or xte.shape != (10000, 28, 28) or \
            ytr.shape != (60000,) or yte.shape != (10000,):
        raise SystemExit(f"unexpected shapes: {xtr.shape} {ytr.shape} {xte.shape} {yte.shape}")
    xtr2 = xtr.reshape(len(xtr), -1)
    xte2 = xte.reshape(len(xte), -1)
    mean, axes, ev, total = pca_fit(xtr2, DIM)
    ptr = pca_project(xtr2, mean, axes).astype(np.float32)
    pte = pca_project(xte2, mean, axes).astype(np.float32)
    log(f"  PCA-{DIM} fitted on {len(xtr)} training images: "
        f"{100 * ev.sum() / total:.1f} % of the pixel variance ({time.time() - t0:.1f} s)")

    names = [f"train/{i:05d}.pgm" for i in range(len(xtr))]
    tnames = [f"test/{i:05d}.pgm" for i in range(len(xte))]
    root = os.path.join(a.work, "files")
    os.makedirs(os.path.join(root, "train"), exist_ok=True)
    os.makedirs(os.path.join(root, "test"), exist_ok=True)
    header = b"P5\n28 28\n255\n"
    for name, img in list(zip(names, xtr)) + list(zip(tnames, xte)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(header + img.tobytes())

    # The lightly format (save_embeddings: csv.writer, default dialect, \r\n).
    with open(os.path.join(a.work, "pca50.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filenames"] + [f"embedding_{j}" for j in range(DIM)] + ["labels"])
        for name, row, lab in zip(names, ptr, ytr):
            w.writerow([name] + [str(v) for v in row] + [int(lab)])

    np.savez(os.path.join(a.work, "feat.npz"), train=ptr, test=pte,
             ytrain=ytr, ytest=yte, names=np.array(names))
    log(f"  wrote {len(names) + len(tnames)} PGM files (train/ and test/), pca50.csv and"
        f" feat.npz ({time.time() - t0:.1f} s)")


# ------------------------------------------------------------------ the built-in embedder's vectors
def cmd_embcsv(a):
    """From builtin.csv as the embedder exported it over train/ and test/
    (one dataset, so one PCA), writes W/embedder.csv (the train rows with
    the true labels, lightly format, uploaded as an embedding) and
    W/feat_embedder.npz (train and test vectors, as feat.npz)."""
    feat = dict(np.load(os.path.join(a.work, "feat.npz")))
    names = [str(s) for s in feat["names"]]
    vec = {}
    with open(a.csv, newline="") as f:
        r = csv.reader(f)
        head = next(r)
        dims = [i for i, h in enumerate(head) if h.startswith("embedding_")]
        for row in r:
            vec[row[0]] = np.array([float(row[i]) for i in dims], dtype=np.float32)
    missing = [n for n in names if n not in vec]
    tnames = [f"test/{i:05d}.pgm" for i in range(len(feat["ytest"]))]
    missing += [n for n in tnames if n not in vec]
    if missing:
        raise SystemExit(f"{a.csv}: no vector for {len(missing)} images, e.g. {missing[0]}")
    tr = np.stack([vec[n] for n in names])
    te = np.stack([vec[n] for n in tnames])
    with open(os.path.join(a.work, "embedder.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["filenames"] + [f"embedding_{j}" for j in range(tr.shape[1])] + ["labels"])
        for name, row, lab in zip(names, tr, feat["ytrain"]):
            w.writerow([name] + [str(v) for v in row] + [int(lab)])
    np.savez(os.path.join(a.work, "feat_embedder.npz"), train=tr, test=te,
             ytrain=feat["ytrain"], ytest=feat["ytest"], names=feat["names"])
    log(f"  built-in embedder: {tr.shape[1]} dimensions; wrote embedder.csv (60000 train rows,"
        f" true labels) and feat_embedder.npz")


# ------------------------------------------------------------------ 1-NN
def nn1_accuracy(train, ytrain, test, ytest):
    """Accuracy (%) of 1-nearest-neighbour (Euclidean, float64) on the test set."""
    chunk = max(1, min(len(test), 4_000_000 // max(1, len(train))))  # <= 32 MB of distances
    tr = train.astype(np.float64)
    trn = (tr * tr).sum(axis=1)
    correct = 0
    for i in range(0, len(test), chunk):
        te = test[i:i + chunk].astype(np.float64)
        d = trn[None, :] - 2.0 * (te @ tr.T)     # + |te|^2 does not change argmin
        correct += int((ytrain[d.argmin(axis=1)] == ytest[i:i + chunk]).sum())
    return 100.0 * correct / len(test)


def logreg_accuracy(train, ytrain, test, ytest, steps=300, l2=1e-2):
    classes, prob = logreg_proba(train, ytrain, test, steps, l2)
    pred = classes[prob.argmax(axis=1)]
    return 100.0 * float((pred == ytest).mean())


def logreg_proba(train, ytrain, test, steps=300, l2=1e-2):
    """Classes and class probabilities (rows of test) of multinomial
    logistic regression trained on (train, ytrain): features centred on the training rows and divided by their one
    overall standard deviation (PCA axes keep their relative scales: per-
    feature standardisation blew the small trailing components up and cost
    15 points at k=20 and 5 at k=200 on one random draw), weights by full-
    batch gradient descent with Nesterov momentum on the mean cross-entropy
    + l2/2·|W|² (deterministic: starts from zero; converged by 300 steps:
    1000 give the same accuracy)."""
    x = train.astype(np.float64)
    mu, sd = x.mean(axis=0), x.std() + 1e-12
    x = (x - mu) / sd
    te = (test.astype(np.float64) - mu) / sd
    classes = np.unique(ytrain)
    if len(classes) == 1:
        return classes, np.ones((len(te), 1))
    y = np.searchsorted(classes, ytrain)
    n, d = x.shape
    c = len(classes)
    onehot = np.zeros((n, c))
    onehot[np.arange(n), y] = 1
    w = np.zeros((d + 1, c))
    v = np.zeros_like(w)
    xb = np.hstack([x, np.ones((n, 1))])
    lr = 0.5
    for _ in range(steps):
        ahead = w + 0.9 * v
        z = xb @ ahead
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = xb.T @ (p - onehot) / n
        g[:-1] += l2 * ahead[:-1]
        v = 0.9 * v - lr * g
        w = w + v
    z = np.hstack([te, np.ones((len(te), 1))]) @ w
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return classes, p / p.sum(axis=1, keepdims=True)


CLASSIFIERS = {"1nn": nn1_accuracy, "logreg": logreg_accuracy}


def read_status(dataset):
    with open(os.path.join(dataset, "sample")) as f:
        out = {}
        for line in f:
            if ": " in line:
                k, v = line.rstrip("\n").split(": ", 1)
                out.setdefault(k, v)
        return out


def load_feat(work, emb):
    """feat.npz for pca50, feat_embedder.npz for embedder."""
    return dict(np.load(os.path.join(work, "feat.npz" if emb == "pca50" else f"feat_{emb}.npz")))


EMB_LABEL = {"pca50": "PCA-50 of the pixels",
             "embedder": "the built-in embedder (sievefs `embed`, its PCA over train+test)"}


def sample(a, req):
    """Runs `SIEVEFS sample DS REQ...`; returns (returncode, stderr, wall, status)."""
    t0 = time.monotonic()
    p = subprocess.run([a.bin, "sample", a.dataset] + req, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=a.timeout)
    return p, time.monotonic() - t0, read_status(a.dataset)


def one_run(a, feat, index, strategy, k, seed, emb="pca50"):
    req = ([] if strategy == "default" else strategy.replace("+", " + ").split()) + \
        [f"n={k}", f"seed={seed}", f"embedding={emb}"]
    cmd = [a.bin, "sample", a.dataset] + req
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=a.timeout)
    wall = time.monotonic() - t0
    rec = {"embedding": emb, "strategy": strategy, "k": k, "seed": seed,
           "request": " ".join(req),
           "wall_s": wall, "exit": p.returncode}
    st = read_status(a.dataset)
    rec["ran"] = st.get("strategy", "?")
    rec["skipped"] = st.get("skipped", "?")
    try:
        rec["elapsed_s"] = float(st.get("elapsed", "nan").rstrip("s"))
    except ValueError:
        rec["elapsed_s"] = float("nan")
    if p.returncode != 0:
        rec["error"] = (p.stderr.strip() or p.stdout.strip() or "no message")[-400:]
        return rec
    with open(os.path.join(a.dataset, "selection")) as f:
        paths = [ln.rstrip("\n") for ln in f if ln.strip()]
    idx = [index.get(pth) for pth in paths]
    bad = [pth for pth, i in zip(paths, idx) if i is None]
    if bad:
        rec["error"] = f"selection names {len(bad)} unknown paths, e.g. {bad[0]!r}"
        return rec
    if len(paths) != k or len(set(idx)) != k:
        rec["error"] = f"selection has {len(paths)} lines, {len(set(idx))} distinct; wanted {k}"
        return rec
    idx = np.array(idx)
    for c in a.classifiers.split(","):
        rec["acc_" + c] = CLASSIFIERS[c](feat["train"][idx], feat["ytrain"][idx],
                                         feat["test"], feat["ytest"])
    rec["accuracy"] = rec["acc_" + a.classifiers.split(",")[0]]
    rec["classes"] = int(len(np.unique(feat["ytrain"][idx])))
    return rec


def fmt_acc(rs):
    acc = [r["accuracy"] for r in rs if "accuracy" in r]
    if not rs:
        return "not run", None
    if len(acc) < len(rs):
        return f"ERROR ({len(rs) - len(acc)}/{len(rs)} runs)", None
    m = float(np.mean(acc))
    return f"{m:5.1f} ({min(acc):4.1f}-{max(acc):4.1f})", m


def cmd_run(a):
    embs = a.embeddings.split(",")
    feats = {e: load_feat(a.work, e) for e in embs}
    names = [str(s) for s in feats[embs[0]]["names"]]
    index = {n: i for i, n in enumerate(names)}
    ks = [int(k) for k in a.ks.split(",")]
    strategies = a.strategies.split(",")
    seeds = list(range(a.seeds))

    fulls = {}
    for e in embs:
        t0 = time.time()
        f = feats[e]
        fulls[e] = nn1_accuracy(f["train"], f["ytrain"], f["test"], f["ytest"])
        log(f"  reference ({e}): 1-NN on all 60000 training samples: {fulls[e]:.2f} %"
            f" ({time.time() - t0:.1f} s)")

    results = []
    total = len(embs) * len(strategies) * len(ks) * len(seeds)
    for e in embs:
        for s in strategies:
            for k in ks:
                for seed in seeds:
                    r = one_run(a, feats[e], index, s, k, seed, e)
                    results.append(r)
                    what = " ".join(f"{c} {r['acc_' + c]:.2f} %" for c in a.classifiers.split(",")) \
                        if "accuracy" in r else "ERROR: " + r["error"]
                    log(f"  [{len(results):3d}/{total}] {e:<8} {s:<10} ({r['ran']}) k={k:<5}"
                        f" seed={seed}  {what}  classes={r.get('classes', '-')}"
                        f"  sample {r['wall_s']:.2f} s (daemon {r['elapsed_s']:.2f} s)"
                        f"  skipped={r['skipped']}")
                    with open(os.path.join(a.work, "results.json"), "w") as fh:
                        json.dump({"full_1nn": fulls, "runs": results}, fh, indent=1)

    for e in embs:
        report([r for r in results if r["embedding"] == e], e, fulls[e], ks, strategies,
               seeds, a.classifiers.split(","))
    if len(embs) > 1 and "default" in strategies and "random" in strategies:
        bad = []
        for e in embs:
            for c in a.classifiers.split(","):
                for k in ks:
                    m = [r["acc_" + c] for r in results if r["embedding"] == e and
                         r["strategy"] == "default" and r["k"] == k and "acc_" + c in r]
                    rm = [r["acc_" + c] for r in results if r["embedding"] == e and
                          r["strategy"] == "random" and r["k"] == k and "acc_" + c in r]
                    if m and rm and np.mean(m) <= np.mean(rm):
                        bad.append(f"{e}/{c}/k={k}")
        print()
        print(f"{'PASS' if not bad else 'MISS'}  issue 21: the default beats random at every"
              f" budget, classifier and embedding" + (f" (not at {', '.join(bad)})" if bad else ""))
    failed = [r for r in results if "accuracy" not in r]
    if failed:
        print(f"ERROR {len(failed)} run(s) failed; first: {failed[0]['request']}: {failed[0]['error']}")
        return 1
    return 0


def report(results, emb, full, ks, strategies, seeds, classifiers):
    """The tables and target lines of one embedding's runs."""
    pca = emb == "pca50"
    default_name = next((r["ran"] for r in results if r["strategy"] == "default"), "?")
    by = {}
    for r in results:
        by.setdefault((r["strategy"], r["k"]), []).append(r)
    means = {}
    for key, rs in by.items():
        means[key] = fmt_acc(rs)[1]

    # ---- table
    print()
    print(f"== embedding {emb}: {EMB_LABEL.get(emb, emb)}")
    print(f"1-NN accuracy (%) on the 10,000 Fashion-MNIST test images, trained on only the"
          f" k selected of 60,000 training images;")
    print(f"embedding {EMB_LABEL.get(emb, emb)}; mean (min-max) over {len(seeds)} seed(s);"
          f" delta = mean - random mean; time = mean wall time of one `sievefs sample`"
          f" (daemon's elapsed)")
    hdr = f"{'strategy':<24}"
    for k in ks:
        hdr += f" | {'k=' + str(k):^18} {'delta':>6} {'time s':>13}"
    print(hdr)
    print("-" * len(hdr))

    def row(s, label):
        line = f"{label:<24}"
        for k in ks:
            rs = by.get((s, k), [])
            txt, m = fmt_acc(rs)
            rm = means.get(("random", k))
            dl = f"{m - rm:+6.1f}" if m is not None and rm is not None and s != "random" else " " * 6
            if rs:
                w = np.mean([r["wall_s"] for r in rs])
                e = np.nanmean([r["elapsed_s"] for r in rs]) if any(
                    r["elapsed_s"] == r["elapsed_s"] for r in rs) else float("nan")
                tm = f"{w:5.2f} ({e:5.2f})"
            else:
                tm = ""
            line += f" | {txt:^18} {dl} {tm:>13}"
        print(line)

    fair = [s for s in strategies if s not in CHEATS]
    for s in fair:
        row(s, f"default (= {default_name})" if s == "default" else s)
    cheat = [s for s in strategies if s in CHEATS]
    if cheat:
        print("- reads the true labels (the CSV's labels column): not label-free, not"
              " comparable -")
        for s in cheat:
            row(s, s + " [true labels]")
    print(f"{'all 60,000 (reference)':<24} | {full:5.1f}")
    print()

    # ---- targets (issue 18's, on PCA-50)
    if pca and "default" in strategies:
        for k in ks:
            if k not in TARGETS:
                continue
            m = means.get(("default", k))
            if m is None:
                print(f"MISS  default ({default_name}) k={k}: runs failed (target >= {TARGETS[k]:.0f} %)")
                continue
            ok = m >= TARGETS[k]
            print(f"{'PASS' if ok else 'MISS'}  default ({default_name}) k={k}: {m:.1f} %"
                  f" (target >= {TARGETS[k]:.0f} %; random {means.get(('random', k)) or float('nan'):.1f} %,"
                  f" issue says random is about {RANDOM_REF[k]:.0f} %)")
            cand = [(means.get((s, k)), s) for s in fair if s != "default"
                    and means.get((s, k)) is not None]
            if cand:
                bm, bs = max(cand)
                if bm > m:
                    print(f"      best label-free strategy at k={k}: {bs} {bm:.1f} %,"
                          f" {bm - m:+.1f} points vs the default,"
                          f" {bm - TARGETS[k]:+.1f} vs the target")
        for k in ks:
            if k not in TARGETS:
                print(f"      k={k}: no target")
        for k in TARGETS:
            if k not in ks:
                print(f"NOT RUN  default k={k} (target >= {TARGETS[k]:.0f} %)")
    cm = [(k, means.get(("coreset", k)), means.get(("random", k))) for k in ks]
    for k, c, r in cm:
        if c is not None and r is not None:
            print(f"note  coreset k={k}: {c:.1f} % vs random {r:.1f} % ({c - r:+.1f}):"
                  " farthest-first picks outliers" if c < r else
                  f"note  coreset k={k}: {c:.1f} % vs random {r:.1f} % ({c - r:+.1f})")
    if cheat:
        print("note  balance reads the true class labels from the CSV; a label-free"
              " strategy cannot do that, so it is not a candidate for the default.")
    issue21(results, ks, strategies, classifiers, len(seeds), emb)


def issue21(results, ks, strategies, classifiers, nseeds, emb="pca50"):
    """Per classifier: mean accuracy by strategy and budget, the delta to
    random, and issue 21's targets for the default strategy."""
    def mean(s, k, c):
        acc = [r["acc_" + c] for r in results
               if r["strategy"] == s and r["k"] == k and "acc_" + c in r]
        return float(np.mean(acc)) if acc else None
    fair = [s for s in strategies if s not in CHEATS]
    for c in classifiers:
        print()
        print(f"{emb}, {c}: mean accuracy (%) over {nseeds} seed(s), and the delta to random")
        hdr = f"{'strategy':<24}" + "".join(f" | {'k=' + str(k):<11}" for k in ks)
        print(hdr)
        print("-" * len(hdr))
        for s in strategies:
            line = f"{s + (' [true labels]' if s in CHEATS else ''):<24}"
            for k in ks:
                m, rm = mean(s, k, c), mean("random", k, c)
                line += " | " + (f"{m:5.1f}" if m is not None else "  -  ") + \
                    (f" {m - rm:+5.1f}" if m is not None and rm is not None and s != "random"
                     else "      ")
            print(line)
    if "default" not in strategies or "random" not in strategies:
        return
    print()
    for c in classifiers:
        d = [(k, mean("default", k, c), mean("random", k, c)) for k in ks]
        d = [(k, m, r) for k, m, r in d if m is not None and r is not None]
        if not d:
            continue
        worse = [k for k, m, r in d if m <= r]
        wk, wm, wr = min(d, key=lambda t: t[1] - t[2])
        print(f"{'PASS' if not worse else 'MISS'}  issue 21: default beats random at every"
              f" budget with {c} on {emb}" + (f" (not at k={','.join(map(str, worse))})" if worse else "")
              + f"; smallest margin {wm - wr:+.2f} points at k={wk}")
        small = [m - r for k, m, r in d if k <= 200]
        if small:
            avg = float(np.mean(small))
            print(f"{'PASS' if avg >= 2 else 'MISS'}  issue 21: default - random averaged over"
                  f" the budgets <= 200 with {c} on {emb}: {avg:+.2f} points (target >= +2)")
    m = mean("default", 100, "1nn") if "1nn" in classifiers and emb == "pca50" else None
    if m is not None:
        print(f"{'PASS' if m >= 73 else 'MISS'}  issue 21: default at k=100 with 1-NN:"
              f" {m:.1f} % (target >= 73 %)")
    best = []
    for s in fair:
        if s in ("default", "random"):
            continue
        v = [mean(s, k, classifiers[0]) for k in ks]
        if all(x is not None for x in v):
            best.append((float(np.mean(v)), s))
    if best:
        bm, bs = max(best)
        print(f"note  best label-free strategy on average over the budgets with"
              f" {classifiers[0]}: {bs} {bm:.1f} %")


def cmd_table(a):
    """The tables of a results.json again (a finished or interrupted run)."""
    with open(a.results) as f:
        res = json.load(f)
    runs = res["runs"]
    full = res["full_1nn"] if isinstance(res["full_1nn"], dict) else {"pca50": res["full_1nn"]}
    embs = list(dict.fromkeys(r.get("embedding", "pca50") for r in runs))
    classifiers = [k[4:] for k in runs[0] if k.startswith("acc_")] if runs else ["1nn"]
    for e in embs:
        rs = [r for r in runs if r.get("embedding", "pca50") == e]
        ks = sorted({r["k"] for r in rs})
        strategies = list(dict.fromkeys(r["strategy"] for r in rs))
        seeds = sorted({r["seed"] for r in rs})
        print(f"({len(rs)} runs of {e})")
        report(rs, e, full.get(e, float("nan")), ks, strategies, seeds, classifiers)
    return 0


# ------------------------------------------------------------------ active learning
def selection_idx(a, index):
    with open(os.path.join(a.dataset, "selection")) as f:
        paths = [ln.rstrip("\n") for ln in f if ln.strip()]
    idx = [index.get(p) for p in paths]
    if any(i is None for i in idx):
        raise RuntimeError(f"selection names unknown paths: {paths[idx.index(None)]!r}")
    return np.array(idx, dtype=np.int64)


def must_sample(a, req):
    p, wall, st = sample(a, req)
    if p.returncode != 0:
        raise RuntimeError(f"sievefs sample {' '.join(req)}: exit {p.returncode}:"
                           f" {(p.stderr.strip() or p.stdout.strip())[-300:]}")
    return wall


def cmd_al(a):
    """One active-learning round per embedding and seed, driven as a user
    would: `random n=N0` -> mkdir the tag (the labelled set); logistic
    regression on those N0 (true labels) predicts the 60k pool; its class
    probabilities are copied into predictions/; then N1 more are picked by
    each request of AL_REQUESTS with preselected=the tag, and by random;
    each N0 + N1 set trains the classifiers, scored on the 10k test images."""
    embs = a.embeddings.split(",")
    seeds = list(range(a.seeds))
    out = []
    for e in embs:
        feat = load_feat(a.work, e)
        names = [str(s) for s in feat["names"]]
        index = {n: i for i, n in enumerate(names)}
        for seed in seeds:
            tag = f"al-{e}-{seed}"
            inp = f"al{e}{seed}"
            must_sample(a, ["random", f"n={a.n0}", f"seed={seed}", f"embedding={e}"])
            idx0 = selection_idx(a, index)
            os.mkdir(os.path.join(a.dataset, tag))
            t0 = time.monotonic()
            classes, prob = logreg_proba(feat["train"][idx0], feat["ytrain"][idx0], feat["train"])
            pr = os.path.join(a.work, f"{inp}.csv")
            with open(pr, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["filename"] + [f"c{int(c)}" for c in classes])
                for n, row in zip(names, prob):
                    w.writerow([n] + [f"{v:.6f}" for v in row])
            with open(pr, "rb") as src, \
                    open(os.path.join(a.dataset, "predictions", f"{inp}.csv"), "wb") as dst:
                dst.write(src.read())
            t_pred = time.monotonic() - t0
            rec = {"embedding": e, "seed": seed, "n0": a.n0, "n1": a.n1, "predict_s": t_pred}
            base = {c: CLASSIFIERS[c](feat["train"][idx0], feat["ytrain"][idx0], feat["test"],
                                      feat["ytest"]) for c in ("1nn", "logreg")}
            rec["acc_first"] = base
            for label, req in AL_REQUESTS:
                req = [w.format(inp=inp) for w in req.split()] + \
                    [f"n={a.n1}", f"preselected={tag}", f"seed={seed}", f"embedding={e}"]
                wall = must_sample(a, req)
                idx1 = selection_idx(a, index)
                if len(idx1) != a.n1 or np.intersect1d(idx0, idx1).size:
                    raise RuntimeError(f"{' '.join(req)}: {len(idx1)} picks,"
                                       f" {np.intersect1d(idx0, idx1).size} of them preselected")
                both = np.concatenate([idx0, idx1])
                rec[label] = {c: CLASSIFIERS[c](feat["train"][both], feat["ytrain"][both],
                                                feat["test"], feat["ytest"])
                              for c in ("1nn", "logreg")}
                rec[label]["request"] = " ".join(req)
                rec[label]["wall_s"] = wall
                log(f"  AL {e} seed={seed} {label:<28} logreg {rec[label]['logreg']:.2f} %"
                    f"  1nn {rec[label]['1nn']:.2f} %  ({wall:.1f} s)")
            out.append(rec)
            with open(os.path.join(a.work, "al.json"), "w") as f:
                json.dump(out, f, indent=1)
    print()
    print(f"Active-learning round: {a.n0} random samples labelled (true labels), a logistic"
          f" regression on them predicts the 60,000 (predictions/NAME.csv), {a.n1} more picked")
    print(f"with preselected=the first {a.n0}'s tag; accuracy (%) on the 10,000 test images of"
          f" each classifier trained on all {a.n0 + a.n1}; mean ± sd over {len(seeds)} seeds")
    for e in embs:
        rs = [r for r in out if r["embedding"] == e]
        print(f"-- embedding {e}")
        print(f"{'the ' + str(a.n1) + ' more by':<34} | {'logreg':^13} | {'1-NN':^13}")
        for label in ["acc_first"] + [lb for lb, _ in AL_REQUESTS]:
            lg = [r[label]["logreg"] for r in rs]
            nn = [r[label]["1nn"] for r in rs]
            name = f"(the first {a.n0} only)" if label == "acc_first" else label
            print(f"{name:<34} | {np.mean(lg):5.1f} ± {np.std(lg, ddof=1) if len(lg) > 1 else 0:3.1f}"
                  f" | {np.mean(nn):5.1f} ± {np.std(nn, ddof=1) if len(nn) > 1 else 0:3.1f}")
        for label, req in AL_REQUESTS[1:]:
            d = [r[label]["logreg"] - r["random"]["logreg"] for r in rs]
            print(f"      {label} - random (logreg): {np.mean(d):+.2f} points"
                  f" (per seed {', '.join(f'{x:+.1f}' for x in d)})")
    return 0


# The requests of an active-learning round, label -> request (before n=,
# preselected=, seed=, embedding=); {inp} is the predictions' name.
AL_REQUESTS = [
    ("random", "random"),
    ("uncertainty+diversity", "weights column={inp}.uncertainty_entropy + diversity"),
    ("uncertainty only", "weights column={inp}.uncertainty_entropy"),
    ("margin+diversity", "weights column={inp}.uncertainty_margin + diversity"),
    ("margin+typicality+diversity",
     "weights column={inp}.uncertainty_margin + typicality + diversity"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prep")
    p.add_argument("--data", required=True)
    p.add_argument("--work", required=True)
    r = sub.add_parser("run")
    r.add_argument("--dataset", required=True)
    r.add_argument("--bin", required=True)
    r.add_argument("--work", required=True)
    r.add_argument("--seeds", type=int, default=5)
    r.add_argument("--ks", default="100,1000")
    r.add_argument("--strategies", default="random,coreset,typicality,kmeans,default,balance")
    r.add_argument("--timeout", type=float, default=3600)
    r.add_argument("--classifiers", default="1nn",
                   help="comma-separated: 1nn, logreg (the first fills the main table)")
    r.add_argument("--embeddings", default="pca50",
                   help="comma-separated: pca50, embedder (uploaded CSVs of those names)")
    e = sub.add_parser("embcsv")
    e.add_argument("--work", required=True)
    e.add_argument("--csv", required=True)
    t = sub.add_parser("table")
    t.add_argument("--results", required=True)
    al = sub.add_parser("al")
    al.add_argument("--dataset", required=True)
    al.add_argument("--bin", required=True)
    al.add_argument("--work", required=True)
    al.add_argument("--seeds", type=int, default=5)
    al.add_argument("--embeddings", default="pca50")
    al.add_argument("--n0", type=int, default=500)
    al.add_argument("--n1", type=int, default=500)
    al.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args()
    # On TERM (from bench/quality when interrupted), raise SystemExit: subprocess.run
    # then kills the running `sievefs sample` before the exception goes on.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return {"prep": cmd_prep, "run": cmd_run, "embcsv": cmd_embcsv, "al": cmd_al,
            "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main() or 0)
