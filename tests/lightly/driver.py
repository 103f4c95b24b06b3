#!/usr/bin/python3
"""driver.py — the lightly 1.1.x client's route sequence, standard library only.

The project's tests cannot depend on the lightly package (never committed nor
installed in CI), so this speaks the same routes with the same JSON shapes as
lightly/api/*.py and its swagger client at v1.1.7 do: the token as ?token=,
24-hex ids, millisecond times, bare JSON strings, /v1/datasets/ with a
slash, booleans as True/False, uploads and downloads through signed URLs where
only status 200 counts, tag bitmasks as Python hex() over the mappings order.

    driver.py workflow BASE TOKENFILE SRC MODE DATASET OUT
        the whole workflow; writes OUT (JSON: dataset id, tag filenames...)
    driver.py abuse BASE TOKENFILE OTHER_TOKENFILE V1BASE TTL
        signed-URL abuse: expired, altered, replayed, another user's
        sample, embedding or job, path traversal -> 403/404, nothing
        stored
    driver.py v1token V1BASE TOKENFILE
        ?token= is refused on /v1 routes (401)
    driver.py activelearning BASE TOKENFILE SRC DATASET OUT
        what the client's ActiveLearningAgent sends (recorded from a run of
        the real 1.1.7 package): scores of a ScorerClassification per
        type, ACTIVE_LEARNING / CORAL / CORESET with preselectedTagId and
        queryTagId and no scoreType, nSamples = the new tag's size; tag
        arithmetics; writes OUT (JSON: the tags' filenames)

BASE is http://HOST:PORT/lightly. Exit status 0 when every check held; each
failed check prints "FAIL: ..." and the run goes on.
"""
import csv
import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

FAILS = []


def check(cond, what):
    if cond:
        print("ok: " + what)
    else:
        print("FAIL: " + what)
        print("FAIL: " + what, file=sys.stderr)
        FAILS.append(what)
    return cond


def http(method, url, body=None, ctype=None, headers=None):
    """(status, bytes) of one request; never raises for an HTTP status."""
    h = dict(headers or {})
    if ctype:
        h["Content-Type"] = ctype
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Lightly:
    """The routes of the swagger client, as ApiWorkflowClient calls them."""

    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token

    def url(self, path, **query):
        q = [(k, v) for k, v in query.items()]
        q.append(("token", self.token))
        return self.base + path + "?" + urllib.parse.urlencode(q)

    def call(self, method, path, body=None, want=(200, 201), **query):
        data = json.dumps(body).encode() if body is not None else None
        st, out = http(method, self.url(path, **query), data,
                       "application/json" if data is not None else None)
        if st not in want:
            raise RuntimeError("%s %s -> %d %s" % (method, path, st,
                                                   out[:300]))
        return json.loads(out) if out else None


def png(w, h, seed):
    """A small valid PNG (RGB), different per seed."""
    rows = b""
    for y in range(h):
        rows += b"\x00" + bytes(((x * 7 + y * 3 + seed * 31 + c * 50) & 255)
                                for x in range(w) for c in range(3))

    def chunk(t, d):
        return (struct.pack(">I", len(d)) + t + d +
                struct.pack(">I", zlib.crc32(t + d) & 0xffffffff))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def source_files(src):
    out = []
    for root, _dirs, files in os.walk(src):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), src))
    return sorted(out, key=lambda p: p.encode())


def bits_of(hexmask, n):
    v = int(hexmask, 16)
    return [k for k in range(n) if (v >> k) & 1]


def meta_of(data):
    """The metaData the client computes (check_image): a few fields."""
    return {"sizeInBytes": len(data), "mean": [0.5, 0.5, 0.5],
            "std": [0.1, 0.1, 0.1], "snr": 1.0, "sharpness": 1.0,
            "shape": [8, 8, 3], "sumOfValues": [1, 1, 1],
            "sumOfSquares": [1, 1, 1], "corruption": "",
            "is_corrupted": False}


def upload_one(lc, ds, name, data, mode):
    """_upload_single_image: create the sample, then the signed PUTs."""
    thumb = None if mode == "meta" else name.rsplit(".", 1)[0] + "_thumb.webp"
    sid = lc.call("POST", "/v1/datasets/%s/samples" % ds,
                  {"fileName": name, "thumbName": thumb,
                   "metaData": meta_of(data), "exif": {}})["id"]
    check(len(sid) == 24 and all(c in "0123456789abcdef" for c in sid),
          "sample id of %s is 24 hex" % name)
    if mode in ("thumbnails", "full"):
        u = lc.call("GET", "/v1/datasets/%s/samples/%s/writeurl" % (ds, sid),
                    isThumbnail="True")
        check(isinstance(u, str) and "token=" not in u,
              "a thumbnail write URL (a bare string, no token)")
        st, _ = http("PUT", u, png(4, 4, len(name)))
        check(st == 200, "PUT thumbnail of %s -> 200 (got %d)" % (name, st))
    if mode == "full":
        u = lc.call("GET", "/v1/datasets/%s/samples/%s/writeurl" % (ds, sid),
                    isThumbnail="False")
        st, _ = http("PUT", u, data)
        check(st == 200, "PUT full %s -> 200 (got %d)" % (name, st))
    return sid


def wait_job(lc, job):
    for _ in range(600):
        j = lc.call("GET", "/v1/jobs/%s" % job)
        for k in ("id", "status", "waitTimeTillNextPoll", "createdAt"):
            if k not in j:
                check(False, "job status has %s" % k)
                return j
        if j["status"] not in ("RUNNING", "WAITING", "UNKNOWN"):
            return j
        time.sleep(0.2)
    return j


def workflow(base, tokfile, src, mode, dsname, out):
    lc = Lightly(base, open(tokfile).read().strip())
    # the constructor's version check: no token at all
    st, body = http("GET", base + "/v1/versions/pip/minimum")
    check(st == 200 and isinstance(json.loads(body), str),
          "versions/pip/minimum without a token -> a bare string")
    # create_dataset: set_dataset_id_by_name, then create
    names = [d["name"] for d in lc.call("GET", "/v1/datasets")]
    check(dsname not in names, "dataset %s not there yet" % dsname)
    ds = lc.call("POST", "/v1/datasets/", {"name": dsname})["id"]
    check(len(ds) == 24, "create_dataset -> a 24-hex id")
    d = lc.call("GET", "/v1/datasets/%s" % ds)
    for k in ("id", "name", "type", "nSamples", "sizeInBytes", "createdAt",
              "lastModifiedAt"):
        check(k in d, "DatasetData has %s" % k)
    check(any(x["id"] == ds for x in lc.call("GET", "/v1/datasets/")),
          "the new dataset is listed (with the slash too)")
    # upload_dataset: no tag yet, quota, samples, initial tag
    check(lc.call("GET", "/v1/datasets/%s/tags" % ds) == [],
          "a new dataset has no tag (upload_dataset proceeds)")
    check(int(lc.call("GET", "/v1/quota")) > 0, "quota is a number string")
    files = source_files(src)
    for f in files:
        with open(os.path.join(src, f), "rb") as fh:
            upload_one(lc, ds, f, fh.read(), mode)
    img = {"full": "full", "thumbnails": "thumbnail", "meta": "meta"}[mode]
    tid = lc.call("POST", "/v1/datasets/%s/tags/initial" % ds,
                  {"imgType": img, "creator": "USER_PIP"})["id"]
    tags = lc.call("GET", "/v1/datasets/%s/tags" % ds)
    n = len(files)
    check(len(tags) == 1 and tags[0]["id"] == tid and
          tags[0]["name"] == "initial-tag", "one tag: initial-tag")
    t0 = tags[0]
    for k in ("id", "datasetId", "name", "bitMaskData", "totSize",
              "createdAt"):
        check(k in t0, "TagData has %s" % k)
    check(t0["totSize"] == n and t0["bitMaskData"] == hex((1 << n) - 1),
          "initial tag: all ones over totSize %d (%s)" % (n, t0["bitMaskData"]))
    check(lc.call("GET", "/v1/datasets/%s" % ds)["imgType"] == img,
          "imgType is %s" % img)
    mapped = lc.call("GET", "/v1/datasets/%s/mappings" % ds, field="fileName")
    check(mapped == files, "mappings?field=fileName are the files, in order")
    ids = lc.call("GET", "/v1/datasets/%s/mappings" % ds, field="_id")
    check(len(ids) == n and all(len(i) == 24 for i in ids),
          "mappings?field=_id: one 24-hex id per sample")
    # a second upload_dataset is skipped: the dataset has a tag
    check(len(lc.call("GET", "/v1/datasets/%s/tags" % ds)) > 0,
          "a re-run of upload_dataset would skip")
    # upload_embeddings: list, write URL, PUT the CSV sorted like the server
    check(lc.call("GET", "/v1/datasets/%s/embeddings" % ds) == [],
          "no embedding yet")
    w = lc.call("GET", "/v1/datasets/%s/embeddings/writeCSVUrl" % ds,
                name="my-embeddings")
    check(set(w) >= {"signedWriteUrl", "embeddingId"}, "WriteCSVUrlData")
    buf = io.StringIO()
    cw = csv.writer(buf)          # \r\n line ends, as the client writes
    cw.writerow(["filenames", "embedding_0", "embedding_1", "embedding_2",
                 "labels"])
    for k, f in enumerate(mapped):
        cw.writerow([f, (k * 37 % 11) / 3.0, (k * 13 % 7) / 2.0,
                     float(k % 5), 0])
    st, body = http("PUT", w["signedWriteUrl"], buf.getvalue().encode())
    check(st == 200, "PUT the CSV to its write URL -> 200 (%d %s)" %
          (st, body[:200]))
    embs = lc.call("GET", "/v1/datasets/%s/embeddings" % ds)
    check(any(e["name"] == "my-embeddings" and e["id"] == w["embeddingId"]
              for e in embs), "the embedding is listed under its id")
    if mode == "full":
        # a CSV refused (a row of the wrong width): 400 with the row, and
        # the write URL is given back, so the fixed CSV goes to the same one
        w2 = lc.call("GET", "/v1/datasets/%s/embeddings/writeCSVUrl" % ds,
                     name="retried")
        bad = buf.getvalue().replace(mapped[0] + ",", mapped[0] + ",1,", 1)
        st, body = http("PUT", w2["signedWriteUrl"], bad.encode())
        check(st == 400 and b"row" in body, "a malformed CSV -> 400 naming"
              " the row (%d %s)" % (st, body[:200]))
        st, body = http("PUT", w2["signedWriteUrl"], buf.getvalue().encode())
        check(st == 200, "the same write URL then takes the fixed CSV (%d"
              " %s)" % (st, body[:200]))
        st, body = http("GET", lc.url("/v1/datasets/%s/embeddings/"
                                      "writeCSVUrl" % ds, name="../x"))
        check(st == 400 and b"embedding name" in body,
              "a bad embedding name -> 400 saying what a name is (%d)" % st)
        # sampling requests sievefs cannot run: each refused with why
        sp = "/v1/datasets/%s/embeddings/%s/sampling" % (ds, w["embeddingId"])
        for body_, want, text in (
                ({"newTagName": "x1", "method": "BOGUS"}, 501,
                 b"RANDOM, CORESET"),
                ({"newTagName": "x2", "method": "RANDOM",
                  "preselectedTagId": "0" * 24}, 404, b"preselectedTagId"),
                # no scoreType (the 1.1.x client never sends one): the
                # default uncertainty_margin, refused while the dataset
                # has no scores
                ({"newTagName": "x4", "method": "ACTIVE_LEARNING"}, 400,
                 b"no input named 'lightly'"),
                ({"newTagName": "x5", "method": "CORAL",
                  "scoreType": "../x"}, 400, b"needs scoreType"),
                # until the dataset has scores (the client's upload to
                # /tags/{tagId}/scores): refused with the reason
                ({"newTagName": "x6", "method": "ACTIVE_LEARNING",
                  "scoreType": "uncertainty_margin"}, 400,
                 b"no input named 'lightly'"),
                ({"newTagName": "x7", "method": "CORAL",
                  "scoreType": "uncertainty_entropy"}, 400,
                 b"no input named 'lightly'"),
                ({"newTagName": "x3", "method": "RANDOM",
                  "queryTagId": "0" * 24}, 404, b"queryTagId"),
                ({"newTagName": "bad name", "method": "RANDOM"}, 400,
                 b"newTagName")):
            st, out_ = http("POST", lc.url(sp), json.dumps(body_).encode(),
                            "application/json")
            check(st == want and text in out_, "sampling %s -> %d with the"
                  " reason (%d %s)" % (body_, want, st, out_[:200]))
    # sampling: RANDOM, then CORESET with min_distance
    result = {"dataset": ds, "files": files, "tags": {}}
    for method, nsamp, mind, tag in (("RANDOM", 5, -1, "rand5"),
                                     ("CORESET", 4, 0.01, "core4")):
        tags = lc.call("GET", "/v1/datasets/%s/tags" % ds)
        job = lc.call("POST", "/v1/datasets/%s/embeddings/%s/sampling" %
                      (ds, w["embeddingId"]),
                      {"newTagName": tag, "method": method,
                       "config": {"stoppingCondition": {
                           "nSamples": nsamp, "minDistance": mind}},
                       "preselectedTagId": None, "queryTagId": None,
                       "rowCount": tags[0]["totSize"]})["jobId"]
        j = wait_job(lc, job)
        check(j["status"] == "FINISHED", "%s job finished (%s)" %
              (method, j.get("error")))
        if j["status"] != "FINISHED":
            continue
        t = lc.call("GET", "/v1/datasets/%s/tags/%s" % (ds,
                                                       j["result"]["data"]))
        check(t["name"] == tag and t["prevTagId"] == tid,
              "%s: the job's tag %s, child of initial-tag" % (method, tag))
        picked = [mapped[k] for k in bits_of(t["bitMaskData"], t["totSize"])]
        check(len(picked) == nsamp, "%s picked %d (%d)" %
              (method, nsamp, len(picked)))
        fn = lc.call("GET", "/v1/datasets/%s/tags/%s/filenames" % (ds,
                                                                  t["id"]))
        check(fn == picked, "tag filenames agree with the bitmask")
        result["tags"][tag] = picked
        result.setdefault("ids", {})[tag] = t["id"]
    # preselectedTagId: the samples of rand5 count as picked; CORESET
    # with them picks 3 others (a selection: diversity preselected=rand5).
    # nSamples is the new tag's size, the preselected included (the
    # platform's rule, which the client's ActiveLearningAgent relies on):
    # 5 + 3; the tag holds rand5 and the 3 picks
    if "rand5" in result["tags"]:
        job = lc.call("POST", "/v1/datasets/%s/embeddings/%s/sampling" %
                      (ds, w["embeddingId"]),
                      {"newTagName": "pre3", "method": "CORESET",
                       "config": {"stoppingCondition": {"nSamples": 8}},
                       "preselectedTagId": result["ids"]["rand5"]})["jobId"]
        j = wait_job(lc, job)
        check(j["status"] == "FINISHED", "CORESET with preselectedTagId"
              " finished (%s)" % j.get("error"))
        if j["status"] == "FINISHED":
            t = lc.call("GET", "/v1/datasets/%s/tags/%s" %
                        (ds, j["result"]["data"]))
            got = [mapped[k] for k in bits_of(t["bitMaskData"],
                                              t["totSize"])]
            check(set(result["tags"]["rand5"]) <= set(got),
                  "preselectedTagId: the new tag holds the preselected"
                  " (%r, preselected %r)" % (got, result["tags"]["rand5"]))
            got = [g for g in got if g not in result["tags"]["rand5"]]
            check(len(got) == 3 and not set(got) & set(result["tags"]["rand5"]),
                  "preselectedTagId: 3 picks, none of them preselected"
                  " (%r, preselected %r)" % (got, result["tags"]["rand5"]))
    # two jobs queued back to back, the first polled only once the second
    # has finished: its run's selection is gone, so it fails saying so
    # (it must not freeze the second run's samples as its tag)
    jobs = [lc.call("POST", "/v1/datasets/%s/embeddings/%s/sampling" %
                    (ds, w["embeddingId"]),
                    {"newTagName": tag, "method": "RANDOM",
                     "config": {"stoppingCondition": {"nSamples": k}}})
            ["jobId"] for tag, k in (("late1", 2), ("late2", 3))]
    j2 = wait_job(lc, jobs[1])
    check(j2["status"] == "FINISHED", "the second of two queued jobs"
          " finishes (%s)" % j2.get("error"))
    j1 = wait_job(lc, jobs[0])
    check(j1["status"] == "FAILED" and "request the sampling again" in
          j1.get("error", ""), "the first, polled after the second"
          " finished, fails with the reason (%s %s)" %
          (j1["status"], j1.get("error")))
    check("late1" not in [t["name"] for t in
                          lc.call("GET", "/v1/datasets/%s/tags" % ds)],
          "and freezes no tag of the second run's samples")
    # a tag name taken already: 409
    try:
        lc.call("POST", "/v1/datasets/%s/embeddings/%s/sampling" %
                (ds, w["embeddingId"]),
                {"newTagName": "rand5", "method": "RANDOM",
                 "config": {"stoppingCondition": {"nSamples": 2}}},
                want=(409,))
        check(True, "sampling into an existing tag name -> 409")
    except RuntimeError as e:
        check(False, "sampling into an existing tag name -> 409: %s" % e)
    # download_dataset of rand5 (full only): read URLs give the bytes back
    if mode == "full" and "rand5" in result["tags"]:
        ok_all = True
        for k in bits_of(lc.call("GET", "/v1/datasets/%s/tags" % ds)[1]
                         ["bitMaskData"], n):
            u = lc.call("GET", "/v1/datasets/%s/samples/%s/readurl" %
                        (ds, ids[k]), type="full")
            st, data = http("GET", u)
            with open(os.path.join(src, mapped[k]), "rb") as fh:
                ok_all &= st == 200 and data == fh.read()
        check(ok_all, "download through read URLs gives the sources back")
    elif mode != "full":
        u = lc.call("GET", "/v1/datasets/%s/samples/%s/readurl" %
                    (ds, ids[0]), type="full")
        st, _ = http("GET", u)
        check(st == 404, "mode %s: a full read URL -> 404 (bytes kept)" % mode)
    with open(out, "w") as fh:
        json.dump(result, fh)


def abuse(base, tokfile, otherfile, v1, ttl):
    lc = Lightly(base, open(tokfile).read().strip())
    bob = Lightly(base, open(otherfile).read().strip())
    ttl = int(ttl)
    ds = lc.call("POST", "/v1/datasets", {"name": "abuse"})["id"]
    sid = upload_one(lc, ds, "x.png", png(3, 3, 1), "meta")
    wurl = lambda thumb="False": lc.call(
        "GET", "/v1/datasets/%s/samples/%s/writeurl" % (ds, sid),
        isThumbnail=thumb)
    evil = b"evil bytes that must never be stored"
    sha = hashlib.sha256(evil).hexdigest()
    v1h = {"Authorization": "Bearer " + lc.token}

    def stored():
        st, _ = http("HEAD", v1 + "/v1/blobs/" + sha, headers=v1h)
        return st == 200

    def put(u, what, want):
        st, _ = http("PUT", u, evil)
        check(st in want, "%s -> %s (got %d)" % (what, want, st))
        check(not stored(), "%s: nothing stored" % what)

    u = wurl()
    p = urllib.parse.urlsplit(u)
    q = urllib.parse.parse_qs(p.query)
    sig = q["s"][0]
    flip = ("0" if sig[0] != "0" else "1") + sig[1:]
    put(u.replace("s=" + sig, "s=" + flip), "altered signature", (403,))
    put(u.replace("e=" + q["e"][0], "e=" + str(int(q["e"][0]) + 3600)),
        "altered expiry", (403,))
    put(u.replace("k=full", "k=thumb"), "altered kind", (403,))
    put(u.replace("u=" + q["u"][0], "u=bob"), "altered user", (403,))
    sid2 = upload_one(lc, ds, "y.png", png(3, 3, 2), "meta")
    put(u.replace(sid, sid2), "the URL of another sample", (403,))
    put(u.replace("/signed/sample/", "/signed/sample/../../v1/"),
        "path traversal in a signed URL", (403, 404))
    put(u.replace("/signed/sample/", "/signed/sample/%2e%2e/"),
        "encoded path traversal", (403, 404))
    r = lc.call("GET", "/v1/datasets/%s/samples/%s/readurl" % (ds, sid),
                type="full")
    put(r, "a read URL used to write", (403,))
    # once: a second PUT of the same URL
    st, _ = http("PUT", u, png(3, 3, 9))
    check(st == 200, "the write URL works once (%d)" % st)
    put(u, "the same write URL replayed", (403,))
    # another user's sample: bob has no such dataset or sample
    try:
        bob.call("GET", "/v1/datasets/%s/samples/%s/writeurl" % (ds, sid),
                 want=(404,), isThumbnail="False")
        check(True, "bob asks a write URL for alice's sample -> 404")
    except RuntimeError as e:
        check(False, "bob asks a write URL for alice's sample -> 404: %s" % e)
    bds = bob.call("POST", "/v1/datasets", {"name": "bobs"})["id"]
    bsid = upload_one(bob, bds, "b.png", png(3, 3, 3), "meta")
    bu = bob.call("GET", "/v1/datasets/%s/samples/%s/writeurl" % (bds, bsid),
                  isThumbnail="False")
    put(bu.replace(bsid, sid), "bob's URL pointed at alice's sample", (403,))
    try:
        bob.call("GET", "/v1/datasets/%s/tags" % ds, want=(404,))
        check(True, "bob lists alice's tags -> 404")
    except RuntimeError as e:
        check(False, "bob lists alice's tags -> 404: %s" % e)
    st, body = http("GET", bob.url("/v1/datasets/%s/mappings" % ds,
                                   field="fileName"))
    check(st == 404 and b"no such dataset" in body and
          b"GET /v1/datasets" in body,
          "bob's 404 says the dataset id is unknown and where ids are"
          " listed (%d %s)" % (st, body[:200]))
    st, _ = http("DELETE", bob.url("/v1/datasets/%s" % ds), b"{}",
                 "application/json")
    check(st == 404, "bob deletes alice's dataset -> 404 (%d)" % st)
    # alice's embedding and sampling job, by their ids: bob gets 404 as
    # for an unknown id (the job, a sampling of his own dataset with her
    # embedding, her embedding CSV's write URL pointed at by his)
    w = lc.call("GET", "/v1/datasets/%s/embeddings/writeCSVUrl" % ds,
                name="abuse-emb")
    rows = ["filenames,embedding_0,embedding_1,labels"] + [
        "%s,%d,%d,0" % (f, k, k * 2) for k, f in enumerate(
            lc.call("GET", "/v1/datasets/%s/mappings" % ds,
                    field="fileName"))]
    st, body = http("PUT", w["signedWriteUrl"],
                    ("\r\n".join(rows) + "\r\n").encode())
    check(st == 200, "alice's embedding CSV -> 200 (%d %s)" % (st, body[:200]))
    job = lc.call("POST", "/v1/datasets/%s/embeddings/%s/sampling" %
                  (ds, w["embeddingId"]),
                  {"newTagName": "abuse-pick", "method": "RANDOM",
                   "config": {"stoppingCondition": {"nSamples": 1}}})["jobId"]
    check(wait_job(lc, job)["status"] == "FINISHED", "alice's job finishes")
    st, body = http("GET", bob.url("/v1/jobs/%s" % job))
    check(st == 404, "bob polls alice's job -> 404 (%d %s)" % (st, body[:200]))
    st, body = http("GET", bob.url("/v1/jobs/%s" % w["embeddingId"]))
    check(st == 404, "an embedding id polled as a job -> 404 (%d)" % st)
    st, body = http("POST", bob.url("/v1/datasets/%s/embeddings/%s/sampling"
                                    % (bds, w["embeddingId"])),
                    json.dumps({"newTagName": "stolen", "method": "RANDOM",
                                "config": {"stoppingCondition":
                                           {"nSamples": 1}}}).encode(),
                    "application/json")
    check(st == 404, "bob samples his dataset with alice's embedding -> 404"
          " (%d %s)" % (st, body[:200]))
    check("stolen" not in [t["name"] for t in
                           bob.call("GET", "/v1/datasets/%s/tags" % bds)],
          "... and no tag is made")
    bw = bob.call("GET", "/v1/datasets/%s/embeddings/writeCSVUrl" % bds,
                  name="mine")
    st, _ = http("PUT", bw["signedWriteUrl"].replace(bw["embeddingId"],
                                                     w["embeddingId"]),
                 ("\r\n".join(rows) + "\r\n").encode())
    check(st == 403, "bob's CSV write URL pointed at alice's embedding -> 403"
          " (%d)" % st)
    # the v1 body cap: a JSON body over 1 MiB -> 413, nothing made
    # (curl: the server answers before the body is read and closes, which
    # urllib reports as a broken pipe instead of the answer)
    big = json.dumps({"fileName": "big.png",
                      "metaData": {"pad": "x" * (1 << 20)}}).encode()
    res = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                          "%{http_code}", "-H",
                          "Content-Type: application/json",
                          "--data-binary", "@-",
                          lc.url("/v1/datasets/%s/samples" % ds)],
                         input=big, capture_output=True)
    check(res.stdout == b"413", "a sample body over 1 MiB -> 413 (%s)" %
          res.stdout)
    # path traversal in a fileName
    for bad in ("../x.png", "a/../../x.png", "/etc/x.png", "a//b.png",
                "newdir/..", "newdir/", "newdir/./x.png"):
        st, _ = http("POST", lc.url("/v1/datasets/%s/samples" % ds),
                     json.dumps({"fileName": bad}).encode(),
                     "application/json")
        check(st == 400, "fileName %r -> 400 (%d)" % (bad, st))
    names = lc.call("GET", "/v1/datasets/%s/mappings" % ds, field="fileName")
    check(names == ["x.png", "y.png"], "only the two samples exist (%s)" %
          names)
    st, body = http("GET", v1 + "/v1/datasets?name=abuse", headers=v1h)
    root = json.loads(body)["live_root"] if st == 200 else 0
    st, body = http("GET", v1 + "/v1/nodes/%d/children" % root, headers=v1h)
    kids = [k["name"] for k in json.loads(body)["children"]] if st == 200 \
        else None
    check(kids == ["x.png", "y.png"], "a refused fileName made no folder"
          " (%s)" % kids)
    # no token, a bad token
    st, _ = http("GET", base + "/v1/datasets")
    check(st == 401, "no ?token= -> 401")
    st, _ = http("GET", base + "/v1/datasets?token=svf_" + "0" * 64)
    check(st == 401, "a bad ?token= -> 401")
    # delete_dataset_by_id: the client sends a "{}" body; the dataset goes
    # with its samples and tags, and its ids then answer 404
    st, _ = http("DELETE", lc.url("/v1/datasets/%s" % ds), b"{}",
                 "application/json")
    check(st == 200, "DELETE a dataset with samples (the client's {} body)"
          " -> 200 (%d)" % st)
    st, _ = http("GET", lc.url("/v1/datasets/%s" % ds))
    check(st == 404, "the deleted dataset -> 404 (%d)" % st)
    st, _ = http("GET", lc.url("/v1/datasets/%s/samples/%s/writeurl" %
                               (ds, sid), isThumbnail="False"))
    check(st == 404, "a sample of the deleted dataset -> 404 (%d)" % st)
    # expired
    ds = lc.call("POST", "/v1/datasets", {"name": "abuse2"})["id"]
    sid = upload_one(lc, ds, "x.png", png(3, 3, 1), "meta")
    u = wurl()
    time.sleep(ttl + 1.5)
    put(u, "an expired write URL", (403,))


def v1token(v1, tokfile):
    tok = open(tokfile).read().strip()
    st, _ = http("GET", v1 + "/v1/datasets?token=" + tok)
    check(st == 401, "?token= on /v1/datasets -> 401 (%d)" % st)
    st, _ = http("GET", v1 + "/v1/whoami?token=" + tok)
    check(st == 401, "?token= on /v1/whoami -> 401 (%d)" % st)


def geturl(base, tokfile, out):
    """A sample of a new dataset "restart" and its full write URL (in
    out), for a write after the server was killed."""
    lc = Lightly(base, open(tokfile).read().strip())
    ds = lc.call("POST", "/v1/datasets", {"name": "restart"})["id"]
    sid = upload_one(lc, ds, "r.png", png(5, 5, 7), "meta")
    u = lc.call("GET", "/v1/datasets/%s/samples/%s/writeurl" % (ds, sid),
                isThumbnail="False")
    with open(out, "w") as f:
        f.write(u)


def useurl(base, tokfile, urlfile):
    """The URL of geturl, on a server restarted with --upload-cap 1K: over
    the cap -> 507 and the URL stays usable; then it writes once."""
    lc = Lightly(base, open(tokfile).read().strip())
    u = open(urlfile).read().strip()
    st, body = http("PUT", u, b"x" * 4096)
    check(st == 507, "a write over --upload-cap -> 507 (%d)" % st)
    check(b"upload_quota" in body, "the 507 says upload_quota (%s)" %
          body[:200])
    data = png(5, 5, 7)
    st, _ = http("PUT", u, data)
    check(st == 200, "the write URL made before kill -9 works after the"
          " restart and the 507 (%d)" % st)
    st, _ = http("PUT", u, data)
    check(st == 403, "and only once (%d)" % st)
    ds = [d["id"] for d in lc.call("GET", "/v1/datasets")
          if d["name"] == "restart"][0]
    sid = lc.call("GET", "/v1/datasets/%s/mappings" % ds, field="_id")[0]
    r = lc.call("GET", "/v1/datasets/%s/samples/%s/readurl" % (ds, sid),
                type="full")
    st, got = http("GET", r)
    check(st == 200 and got == data, "its read URL gives the bytes written"
          " (%d)" % st)
    st, got = http("GET", r, headers={"Range": "bytes=1-3"})
    check(st == 206 and got == data[1:4], "its read URL honours a Range"
          " (%d)" % st)


def uncertainty(p):
    """ScorerClassification's three scores of one probability row."""
    q = sorted(p, reverse=True)
    k = len(p)
    ent = -sum(x * math.log(x) for x in p if x > 0) / math.log(k)
    return {"uncertainty_least_confidence": (1 - q[0]) / (1 - 1.0 / k),
            "uncertainty_margin": 1 - (q[0] - q[1]),
            "uncertainty_entropy": ent}


def activelearning(base, tokfile, src, dsname, out):
    lc = Lightly(base, open(tokfile).read().strip())
    ds = lc.call("POST", "/v1/datasets/", {"name": dsname})["id"]
    files = source_files(src)
    for f in files:
        with open(os.path.join(src, f), "rb") as fh:
            upload_one(lc, ds, f, fh.read(), "full")
    lc.call("POST", "/v1/datasets/%s/tags/initial" % ds,
            {"imgType": "full", "creator": "USER_PIP"})
    mapped = lc.call("GET", "/v1/datasets/%s/mappings" % ds, field="fileName")
    n = len(mapped)
    w = lc.call("GET", "/v1/datasets/%s/embeddings/writeCSVUrl" % ds,
                name="default")
    buf = io.StringIO()
    cw = csv.writer(buf)
    cw.writerow(["filenames", "embedding_0", "embedding_1", "labels"])
    for k, f in enumerate(mapped):
        cw.writerow([f, k % 5, k // 5, 0])
    st, _ = http("PUT", w["signedWriteUrl"], buf.getvalue().encode())
    check(st == 200, "upload_embeddings -> 200 (%d)" % st)
    emb = w["embeddingId"]

    def tags():
        return {t["name"]: t for t in lc.call("GET", "/v1/datasets/%s/tags"
                                              % ds)}

    def members(name):
        t = tags()[name]
        return set(mapped[k] for k in bits_of(t["bitMaskData"], n))

    def sampling(body, want=(200,)):
        """ApiWorkflowClient.sampling's request (rowCount: totSize)."""
        body = dict(body)
        body.setdefault("preselectedTagId", None)
        body.setdefault("queryTagId", None)
        body["rowCount"] = list(tags().values())[0]["totSize"]
        st, o = http("POST", lc.url("/v1/datasets/%s/embeddings/%s/sampling"
                                    % (ds, emb)), json.dumps(body).encode(),
                     "application/json")
        if st not in want or st != 200:
            return st, o
        j = wait_job(lc, json.loads(o)["jobId"])
        check(j["status"] == "FINISHED", "%s %s finished (%s)" %
              (body["method"], body["newTagName"], j.get("error")))
        return st, j

    def cfg(k):
        return {"stoppingCondition": {"nSamples": k, "minDistance": -1}}

    tid = tags()["initial-tag"]["id"]
    sampling({"newTagName": "labeled-5", "method": "RANDOM",
              "config": cfg(5)})
    pre = members("labeled-5")
    check(len(pre) == 5, "RANDOM labeled-5: 5 samples")
    # the agent: scores of the query tag (initial-tag), one POST per type,
    # in the order of the tag's filenames (all ones: the mappings order)
    probs = []
    for k in range(n):
        a, b, c = 1 + (k * 7) % 11 + k / 97, 1 + (k * 3) % 5, 1 + (k * 5) % 13
        probs.append([a / (a + b + c), b / (a + b + c), c / (a + b + c)])
    sc = [uncertainty(p) for p in probs]

    def upload_scores(rows):
        for t in ("uncertainty_least_confidence", "uncertainty_margin",
                  "uncertainty_entropy"):
            lc.call("POST", "/v1/datasets/%s/tags/%s/scores" % (ds, tid),
                    {"scoreType": t, "scores": [r[t] for r in rows]})
    upload_scores(sc)
    st, _ = sampling({"newTagName": "al-10", "method": "ACTIVE_LEARNING",
                      "config": cfg(10),
                      "preselectedTagId": tags()["labeled-5"]["id"],
                      "queryTagId": tid})
    check(st == 200, "ACTIVE_LEARNING without scoreType -> 200 (%d)" % st)
    new = members("al-10")
    margin = {f: r["uncertainty_margin"] for f, r in zip(mapped, sc)}
    top = sorted((f for f in mapped if f not in pre),
                 key=lambda f: (-margin[f], f))[:5]
    check(len(new) == 10 and pre <= new,
          "al-10: nSamples 10 = the 5 preselected + 5 (%d, kept %s)" %
          (len(new), pre <= new))
    check(new - pre == set(top), "al-10: the 5 picks are the 5 unlabelled"
          " with the highest uncertainty_margin (the default scoreType):"
          " %r, want %r" % (sorted(new - pre), sorted(top)))
    check(tags()["al-10"]["prevTagId"] == tags()["labeled-5"]["id"],
          "al-10's prevTagId is the preselected tag")
    # CORAL: new scores (the model retrained), preselected al-10
    sc2 = [uncertainty(p[::-1] if k % 2 else p) for k, p in enumerate(probs)]
    upload_scores(sc2)
    st, _ = sampling({"newTagName": "coral-15", "method": "CORAL",
                      "config": cfg(15),
                      "preselectedTagId": tags()["al-10"]["id"],
                      "queryTagId": tid})
    coral = members("coral-15")
    check(st == 200 and len(coral) == 15 and new <= coral,
          "CORAL coral-15: al-10 and 5 more (%d %d)" % (st, len(coral)))
    # an explicit scoreType still chooses the column
    st, _ = sampling({"newTagName": "ent-12", "method": "ACTIVE_LEARNING",
                      "config": cfg(12), "scoreType": "uncertainty_entropy",
                      "preselectedTagId": tags()["al-10"]["id"]})
    ent = {f: r["uncertainty_entropy"] for f, r in zip(mapped, sc2)}
    top = sorted((f for f in mapped if f not in new),
                 key=lambda f: (-ent[f], f))[:2]
    check(st == 200 and members("ent-12") - new == set(top),
          "scoreType uncertainty_entropy: the 2 picks are its top 2")
    # CORESET with a preselected tag (the agent without a scorer)
    st, _ = sampling({"newTagName": "core-12", "method": "CORESET",
                      "config": cfg(12),
                      "preselectedTagId": tags()["al-10"]["id"]})
    check(st == 200 and len(members("core-12")) == 12 and
          new <= members("core-12"), "CORESET core-12: al-10 and 2 more")
    # refusals: nothing made
    before = sorted(tags())
    for body, want, text in (
            ({"newTagName": "same", "method": "CORESET", "config": cfg(12),
              "preselectedTagId": tags()["core-12"]["id"]}, 400,
             b"nSamples (12) must be more than the preselected tag's 12"),
            ({"newTagName": "bad", "method": "ACTIVE_LEARNING",
              "config": cfg(12), "scoreType": "a-b"}, 400,
             b"needs scoreType"),
            ({"newTagName": "none", "method": "ACTIVE_LEARNING",
              "config": cfg(12), "scoreType": "nope"}, 400, b"nope")):
        st, o = sampling(body, want=(want,))
        check(st == want and text in o, "%s -> %d with the reason (%d %s)"
              % (body["newTagName"], want, st, o[:200]))
    check(sorted(tags()) == before, "the refusals made no tag")
    # tag arithmetics (tags_api.perform_tag_arithmetics)
    t = tags()
    a = int(t["coral-15"]["bitMaskData"], 16)
    b = int(t["core-12"]["bitMaskData"], 16)
    for op, want in (("UNION", a | b), ("INTERSECTION", a & b),
                     ("DIFFERENCE", a & ~b)):
        r = lc.call("POST", "/v1/datasets/%s/tags/arithmetics" % ds,
                    {"tagId1": t["coral-15"]["id"],
                     "tagId2": t["core-12"]["id"], "operation": op})
        check(r["bitMaskData"] == hex(want), "arithmetics %s: %s (want %s)"
              % (op, r["bitMaskData"], hex(want)))
    r = lc.call("POST", "/v1/datasets/%s/tags/arithmetics" % ds,
                {"tagId1": t["labeled-5"]["id"], "tagId2": t["core-12"]["id"],
                 "operation": "UNION", "newTagName": "union-tag"})
    t = tags()
    check("union-tag" in t and t["union-tag"]["prevTagId"] ==
          t["labeled-5"]["id"] and int(t["union-tag"]["bitMaskData"], 16) ==
          int(t["labeled-5"]["bitMaskData"], 16) | b,
          "arithmetics with newTagName: the tag, child of tagId1")
    with open(out, "w") as fh:
        json.dump({"dataset": ds, "tags": {k: sorted(members(k)) for k in
                                           ("labeled-5", "al-10", "coral-15",
                                            "core-12", "union-tag")}}, fh)


def main(argv):
    cmds = {"workflow": (workflow, 6), "abuse": (abuse, 5),
            "v1token": (v1token, 2), "geturl": (geturl, 3),
            "useurl": (useurl, 3), "activelearning": (activelearning, 5)}
    if len(argv) < 2 or argv[1] not in cmds or \
            len(argv) != cmds[argv[1]][1] + 2:
        print(__doc__)
        return 2
    cmds[argv[1]][0](*argv[2:])
    print("%d failed check(s)" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
