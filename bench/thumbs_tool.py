#!/usr/bin/python3
"""bench/thumbs_tool.py — the Python side of bench/thumbs.sh.

  data    --fm DIR --photos DIR --n-photos N
          Fashion-MNIST's 10,000 test images as 28x28 PNGs (Debian's
          dataset-fashion-mnist), and N photo-sized JPEGs (4000x3000, q90)
          cropped from gnome-backgrounds' pictures.
  upload  --url URL --token-file F --dataset NAME --dir DIR --out FILE
          Creates dataset NAME and uploads every file of DIR through the
          API (PUT blob, create node, commit), 4 connections; writes
          "ino sha" lines to FILE.
  peer    --dir DIR --procs P
          PIL's Image.thumbnail((128, 128)) (which uses libjpeg's DCT
          scaling through draft()) and a q85 JPEG of every file of DIR, in
          P processes: the cold peer.
  wrk     --paths FILE --out LUA
          A wrk script that cycles through the paths of FILE, with the
          bearer token from the environment (SIEVEFS_TOKEN), never argv.
"""
import argparse
import glob
import gzip
import hashlib
import http.client
import io
import json
import multiprocessing
import os
import sys
import threading
import urllib.parse


def cmd_data(a):
    from PIL import Image
    os.makedirs(a.fm, exist_ok=True)
    with gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    for i in range(n):
        px = raw[16 + i * 784: 16 + (i + 1) * 784]
        Image.frombytes("L", (28, 28), px).save(os.path.join(a.fm, f"{i:05d}.png"))
    srcs = sorted(p for p in glob.glob("/usr/share/backgrounds/gnome/*")
                  if p.endswith((".webp", ".jpg", ".jpeg", ".png")))
    if not srcs:
        sys.exit("no pictures in /usr/share/backgrounds/gnome (apt-get install gnome-backgrounds)")
    os.makedirs(a.photos, exist_ok=True)
    for i in range(a.n_photos):
        im = Image.open(srcs[i % len(srcs)]).convert("RGB")
        w, h = im.size
        # a 4:3 crop shifted per file, scaled to 4000x3000
        cw = min(w, h * 4 // 3) * (8 + i % 3) // 10
        ch = cw * 3 // 4
        x = (i * 97) % max(1, w - cw)
        y = (i * 61) % max(1, h - ch)
        im = im.crop((x, y, x + cw, y + ch)).resize((4000, 3000), Image.BILINEAR)
        im.save(os.path.join(a.photos, f"p{i:03d}.jpg"), quality=90)
    print(f"data: {n} PNGs in {a.fm}, {a.n_photos} JPEGs of 4000x3000 in {a.photos}")


def _conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def _req(c, tok, method, path, body=None):
    c.request(method, path, body=body, headers={"Authorization": "Bearer " + tok})
    r = c.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data) if data and data[:1] == b"{" else None


def cmd_upload(a):
    tok = open(a.token_file).read().strip()
    c = _conn(a.url)
    ds = _req(c, tok, "POST", "/v1/datasets", json.dumps({"name": a.dataset}))
    root = ds["live_root"]
    files = sorted(os.listdir(a.dir))
    out = [None] * len(files)
    errors = []

    def work(k):
        cc = _conn(a.url)
        try:
            for i in range(k, len(files), 4):
                data = open(os.path.join(a.dir, files[i]), "rb").read()
                sha = hashlib.sha256(data).hexdigest()
                _req(cc, tok, "PUT", f"/v1/blobs/{sha}", data)
                n = _req(cc, tok, "POST", f"/v1/nodes/{root}/children",
                         json.dumps({"name": files[i], "kind": 2}))
                _req(cc, tok, "PUT", f"/v1/nodes/{n['ino']}/content",
                     json.dumps({"sha256": sha, "size": len(data)}))
                out[i] = f"{n['ino']} {sha}"
        except (SystemExit, Exception) as e:
            # a thread drops SystemExit (_req's) without a word: keep it
            errors.append(f"{files[i]}: {e}")
    th = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errors or None in out:
        sys.exit("upload: %d of %d files not uploaded; first error: %s" % (
            out.count(None), len(files), errors[0] if errors else "?"))
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


def _peer_one(path):
    from PIL import Image
    with Image.open(path) as im:
        im.thumbnail((128, 128), Image.BOX)
        buf = io.BytesIO()
        im.convert("RGB" if im.mode not in ("L", "RGB") else im.mode).save(
            buf, "JPEG", quality=85)
        return len(buf.getvalue())


def cmd_peer(a):
    files = sorted(glob.glob(os.path.join(a.dir, "*")))
    with multiprocessing.Pool(a.procs) as p:
        n = len(p.map(_peer_one, files, chunksize=32))
    assert n == len(files)


def cmd_wrk(a):
    paths = [l.strip() for l in open(a.paths) if l.strip()]
    with open(a.out, "w") as f:
        f.write("local paths = {\n")
        for p in paths:
            f.write(f'  "{p}",\n')
        f.write("}\n")
        f.write('''
local tok = os.getenv("SIEVEFS_TOKEN")
local i = 0
function setup(thread) thread:set("off", math.random(#paths)) end
function init(args)
  i = off or 0
  if tok then wrk.headers["Authorization"] = "Bearer " .. tok end
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect +
              summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %.3f\\n", summary.requests, bad,
                         summary.duration / 1e6))
end
''')


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data")
    p.add_argument("--fm", required=True)
    p.add_argument("--photos", required=True)
    p.add_argument("--n-photos", type=int, default=48)
    p = sub.add_parser("upload")
    for k in ("--url", "--token-file", "--dataset", "--dir", "--out"):
        p.add_argument(k, required=True)
    p = sub.add_parser("peer")
    p.add_argument("--dir", required=True)
    p.add_argument("--procs", type=int, default=2)
    p = sub.add_parser("wrk")
    p.add_argument("--paths", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    {"data": cmd_data, "upload": cmd_upload, "peer": cmd_peer,
     "wrk": cmd_wrk}[a.cmd](a)


if __name__ == "__main__":
    main()
