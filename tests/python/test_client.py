"""Tests of the Python client (python/sievefs) against a real `sievefs serve`.

Run: SIEVEFS=/path/to/sievefs /usr/bin/python3 -m unittest discover -s tests/python
(tests/integration/t_pyclient.sh does this in `make test`).

One server for the module: a temp store, a token for alice (and one for bob),
`serve STORE --listen 127.0.0.1:0`, its address read from the printed
"listening on" line; stopped (by its PID) at the end. A tree of 500 PNGs
(made with PIL) is uploaded in each mode; the interrupted upload is a
`python3 -m sievefs upload --verbose` subprocess killed with SIGKILL once it
has sent 150 blobs (by its own request lines, not by time), then run again.
No test asserts a wall-clock time.
"""
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

import sievefs  # noqa: E402

SIEVEFS = os.environ.get("SIEVEFS") or os.path.join(REPO, "sievefs")
PY = sys.executable
N_IMAGES = 500

T = None          # temp dir
URL = None
SERVER = None
TOKEN = None      # alice's token file
SRC = None        # the 500-image tree
SHAS = {}         # relpath -> sha256 of SRC


def _token(store, user, path):
    r = subprocess.run([SIEVEFS, "token", "create", "--store", store, user],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, r.stdout)
    os.close(fd)


def _make_images(root):
    from PIL import Image, ImageDraw
    for i in range(N_IMAGES):
        d = os.path.join(root, "class%d" % (i % 5))
        os.makedirs(d, exist_ok=True)
        w, h = 160 + (i % 7) * 20, 120 + (i % 3) * 30
        im = Image.new("RGB", (w, h), ((i * 37) % 256, (i * 91) % 256,
                                       (i * 13) % 256))
        dr = ImageDraw.Draw(im)
        dr.ellipse((i % 50, i % 40, w - (i % 30), h - (i % 20)),
                   fill=((i * 7) % 256, 255 - (i % 256), (i * 3) % 256))
        im.save(os.path.join(d, "img%04d.png" % i))
    os.makedirs(os.path.join(root, "notes"), exist_ok=True)
    with open(os.path.join(root, "notes", "readme.txt"), "w") as f:
        f.write("not an image\n" * 50)


def _tree_shas(root):
    out = {}
    for dp, _, fns in os.walk(root):
        for fn in fns:
            p = os.path.join(dp, fn)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def _start(store, logp, *extra):
    """`sievefs serve STORE --listen 127.0.0.1:0 EXTRA...` logging to logp:
    (Popen, its URL as the "listening on" line gives it, or None if it did
    not come up within 20 s)."""
    with open(logp, "wb") as log:
        srv = subprocess.Popen([SIEVEFS, "serve", store, "--listen",
                                "127.0.0.1:0"] + list(extra),
                               stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and srv.poll() is None:
        with open(logp, "rb") as f:
            m = re.search(rb"listening on (https?://[0-9.:]+)", f.read())
        if m:
            return srv, m.group(1).decode()
        time.sleep(0.05)
    return srv, None


def _files(d, n, size, name="f%d"):
    """n files of `size` random bytes in d (made if missing)."""
    os.makedirs(d, exist_ok=True)
    for i in range(n):
        with open(os.path.join(d, name % i), "wb") as f:
            f.write(os.urandom(size))


def setUpModule():
    global T, URL, SERVER, TOKEN, SRC, SHAS
    if not os.access(SIEVEFS, os.X_OK):
        raise RuntimeError("no sievefs binary at %s (make first)" % SIEVEFS)
    T = tempfile.mkdtemp(prefix="sievefs-pyclient.")
    store = os.path.join(T, "store")
    os.mkdir(store, 0o700)
    TOKEN = os.path.join(T, "alice.tok")
    _token(store, "alice", TOKEN)
    for u in ("bob", "carol", "dave"):   # users with no blobs of alice's
        _token(store, u, os.path.join(T, u + ".tok"))
    SERVER, URL = _start(store, os.path.join(T, "server.log"))
    if URL is None:
        tearDownModule()
        raise RuntimeError("sievefs serve did not come up")
    SRC = os.path.join(T, "src")
    _make_images(SRC)
    SHAS = _tree_shas(SRC)


def tearDownModule():
    if SERVER is not None and SERVER.poll() is None:
        SERVER.terminate()
        try:
            SERVER.wait(10)
        except subprocess.TimeoutExpired:
            SERVER.kill()
            SERVER.wait()
    if T and not os.environ.get("SV_KEEP"):
        shutil.rmtree(T, ignore_errors=True)


def client(**kw):
    kw.setdefault("token_file", TOKEN)
    return sievefs.Client(server=URL, **kw)


def cli(*args, env=None, **kw):
    e = dict(os.environ)
    e["PYTHONPATH"] = os.path.join(REPO, "python")
    e["SIEVEFS_SERVER"] = URL
    e.pop("SIEVEFS_TOKEN", None)
    if env:
        e.update(env)
    return subprocess.run([PY, "-m", "sievefs"] + list(args), env=e,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          **kw)


class Base(unittest.TestCase):
    def assertServerTreeEqualsSource(self, c, ds, tag="initial-tag"):
        files = c.list_files(tag, ds)
        self.assertEqual(sorted(files), sorted(SHAS),
                         "the listing equals the source tree")
        bad = [p for p, n in files.items() if n["sha"] != SHAS[p] or
               n["size"] != os.path.getsize(os.path.join(SRC, p))]
        self.assertEqual(bad, [], "every file has the source's hash and size")


class TestUpload(Base):
    def test_full_then_rerun_sends_nothing(self):
        # bob: no other test sends him these bytes, so every blob goes
        c = client(token_file=os.path.join(T, "bob.tok"))
        r = c.upload_dataset(SRC, dataset="full", mode="full", workers=8)
        self.assertEqual((r.files, r.uploaded, r.skipped, r.failed),
                         (N_IMAGES + 1, N_IMAGES + 1, 0, []))
        self.assertEqual(r.blobs_sent, len(set(SHAS.values())))
        self.assertServerTreeEqualsSource(c, "full")
        self.assertEqual(len(c.get_selection("full")), N_IMAGES + 1)
        r2 = c.upload_dataset(SRC, dataset="full", mode="full")
        self.assertEqual((r2.uploaded, r2.skipped, r2.blobs_sent),
                         (0, N_IMAGES + 1, 0), "a re-run sends nothing")
        # a changed file and a new one: only those are sent
        d = os.path.join(T, "changed")
        shutil.copytree(SRC, d)
        with open(os.path.join(d, "class0", "img0000.png"), "ab") as f:
            f.write(b"x")
        with open(os.path.join(d, "new.bin"), "wb") as f:
            f.write(os.urandom(1000))
        r3 = c.upload_dataset(d, dataset="full")
        self.assertEqual((r3.uploaded, r3.blobs_sent), (2, 2))
        n = c.list_files("initial-tag", "full")["class0/img0000.png"]
        self.assertEqual(n["size"], os.path.getsize(
            os.path.join(d, "class0", "img0000.png")))

    def test_meta(self):
        c = client()
        r = c.upload_dataset(SRC, dataset="meta", mode="meta")
        self.assertEqual((r.uploaded, r.blobs_sent, r.bytes_sent),
                         (N_IMAGES + 1, 0, 0), "meta sends no bytes")
        # full bytes already on the server from another dataset would
        # answer: use a file of its own to see the kept answer
        own = os.path.join(T, "metaonly")
        os.makedirs(own, exist_ok=True)
        with open(os.path.join(own, "solo.bin"), "wb") as f:
            f.write(os.urandom(4096))
        c.upload_dataset(own, dataset="meta2", mode="meta")
        n = c.list_files("initial-tag", "meta2")["solo.bin"]
        with self.assertRaises(sievefs.NotFound) as cm:
            c.get_blob(n["sha"])
        self.assertEqual(cm.exception.code, "bytes_kept_by_uploader")
        files = c.list_files("initial-tag", "meta")
        self.assertEqual(sorted(files), sorted(SHAS))
        self.assertEqual({p: n["sha"] for p, n in files.items()}, SHAS)
        r2 = c.upload_dataset(SRC, dataset="meta", mode="meta")
        self.assertEqual((r2.uploaded, r2.skipped), (0, N_IMAGES + 1))

    def test_thumbnails(self):
        from PIL import Image
        # carol: only the thumbnails of her samples are on the server
        c = client(token_file=os.path.join(T, "carol.tok"))
        r = c.upload_dataset(SRC, dataset="thumbs", mode="thumbnails")
        self.assertEqual(r.uploaded, N_IMAGES + 1)
        self.assertEqual(r.thumbnails, N_IMAGES)
        self.assertEqual(r.no_thumbnail, ["notes/readme.txt"],
                         "the text file goes as meta")
        files = c.list_files("initial-tag", "thumbs")
        self.assertEqual({p: n["sha"] for p, n in files.items()}, SHAS)
        for p in ("class0/img0000.png", "class3/img0123.png"):
            n = files[p]
            self.assertIn("thumb_sha", n)
            data = c.get_blob(n["thumb_sha"])
            self.assertEqual(len(data), n["thumb_size"])
            im = Image.open(io.BytesIO(data))
            self.assertEqual(im.format, "JPEG")
            self.assertEqual(max(im.size), 128)
        self.assertNotIn("thumb_sha", files["notes/readme.txt"])
        r2 = c.upload_dataset(SRC, dataset="thumbs", mode="thumbnails")
        self.assertEqual((r2.uploaded, r2.blobs_sent), (0, 0))
        # download gives the thumbnails of the images (the originals stay
        # with the uploader), and fails for the meta-only text file
        with self.assertRaises(sievefs.Error) as cm:
            c.download("initial-tag", os.path.join(T, "dl-thumbs"),
                       dataset="thumbs")
        res = cm.exception.result
        self.assertEqual(res.thumbnails, N_IMAGES)
        self.assertEqual([p for p, _ in res.failed], ["notes/readme.txt"])
        self.assertTrue(str(cm.exception).startswith(
            "1 of %d files not downloaded; first: notes/readme.txt: "
            % (N_IMAGES + 1)), str(cm.exception))

    def test_thumbnail_sizes_as_the_mount(self):
        # As t_remote_modes holds the mount to: longest side 128, never
        # enlarged, grey kept grey (embed/thumb.c's sizes).
        from PIL import Image
        d = os.path.join(T, "thumbsizes")
        os.makedirs(d, exist_ok=True)
        Image.new("RGB", (640, 480), (30, 90, 200)).save(
            os.path.join(d, "wide.jpg"), quality=92)
        Image.new("L", (300, 900), 40).save(os.path.join(d, "tall.png"))
        Image.new("RGB", (64, 40), (10, 200, 10)).save(
            os.path.join(d, "small.png"))
        c = client(token_file=os.path.join(T, "carol.tok"))
        r = c.upload_dataset(d, dataset="thumbsizes", mode="thumbnails")
        self.assertEqual(r.thumbnails, 3)
        files = c.list_files("initial-tag", "thumbsizes")
        want = {"wide.jpg": ((128, 96), "RGB"), "tall.png": ((43, 128), "L"),
                "small.png": ((64, 40), "RGB")}
        for p, (size, mode) in want.items():
            im = Image.open(io.BytesIO(c.get_blob(files[p]["thumb_sha"])))
            self.assertEqual((im.format, im.size, im.mode),
                             ("JPEG", size, mode), p)

    def test_thumbnails_without_pil(self):
        env = {"PYTHONPATH": os.path.join(REPO, "python")}
        code = ("import sys; sys.modules['PIL'] = None\n"
                "import sievefs\n"
                "c = sievefs.Client(server=%r, token_file=%r)\n"
                "try:\n"
                "    c.upload_dataset(%r, dataset='nopil', mode='thumbnails')\n"
                "except sievefs.Error as e:\n"
                "    print(e)\n" % (URL, TOKEN, SRC))
        out = subprocess.run([PY, "-c", code], env=dict(os.environ, **env),
                             stdout=subprocess.PIPE, check=True).stdout
        self.assertIn(b"Pillow", out)
        self.assertIn(b"mode='meta'", out)


class TestOddNames(Base):
    def test_names_round_trip(self):
        # Names with spaces, UTF-8, control bytes, leading '#', '"' or
        # space, '+', '%', bytes that are not UTF-8, and an empty file:
        # upload, selection, tag from filenames and download keep them.
        src = os.path.join(T, "odd").encode()
        os.makedirs(src + b"/sub dir", exist_ok=True)
        names = [b"my file.jpg", "\u00fcn\u00efc\u00f8d\u00e9.png".encode(),
                 b"new\nline.bin", b"#hash.txt", b" lead.txt", b"+plus.bin",
                 b"a%20b", b"\xff\xfe.bin", b"empty.bin", b"sub dir/tab\there",
                 b'"quoted"', b"trail "]
        for n in names:
            with open(src + b"/" + n, "wb") as f:
                f.write(b"" if n == b"empty.bin" else n * 10)
        c = client()
        r = c.upload_dataset(os.fsdecode(src), dataset="odd")
        self.assertEqual((r.uploaded, r.failed), (len(names), []))
        want = sorted(os.fsdecode(n) for n in names)
        self.assertEqual(c.get_filenames("odd"), want)
        self.assertEqual(sorted(c.get_selection("odd")), want)
        c.create_tag_from_filenames(want[::2], "half", dataset="odd")
        self.assertEqual(c.get_filenames_in_tag("half", dataset="odd"),
                         want[::2])
        dest = os.path.join(T, "odd-dl")
        c.download("initial-tag", dest, dataset="odd")
        self.assertEqual(_tree_shas(dest), _tree_shas(os.fsdecode(src)))

    def test_selection_lines_as_the_server_writes_them(self):
        # The client quotes and unquotes selection lines as core/text.c
        # does: byte for byte the server's text, both ways, for every kind
        # of odd name; the command line prints that text and reads it back;
        # a malformed quoted line is refused by both alike.
        from sievefs import _util
        src = os.path.join(T, "odd2").encode()
        os.makedirs(src, exist_ok=True)
        names = [b"back\\slash", b"del\x7f", b"ctl\x01x", b"cr\rx",
                 b'mid"quote', b'"', b"#", b" ", b"new\nline", b"\xff\xfe",
                 b"tab\t", b"bell\a", b"esc\x1b[", b"plain.jpg",
                 b'a"b\\c\n', b"x\\001", b"#\\n"]
        for n in names:
            with open(src + b"/" + n, "wb") as f:
                f.write(n)
        c = client()
        c.upload_dataset(os.fsdecode(src), dataset="odd2")
        i = c.get_dataset("odd2")["id"]
        raw = c._text("/v1/datasets/%d/selection" % i)
        sel = c.get_selection("odd2")
        self.assertEqual(sorted(sel), sorted(os.fsdecode(n) for n in names))
        self.assertEqual("".join(_util._quote_path(p) + "\n" for p in sel),
                         raw, "quoted as the server quotes")
        r = cli("--token-file", TOKEN, "selection", "odd2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, raw.encode("utf-8", "surrogateescape"),
                         "`selection` prints the server's lines")
        lst = os.path.join(T, "odd2.sel")
        with open(lst, "wb") as f:
            f.write(b"".join(ln + b"\n" for ln in
                             r.stdout.splitlines()[::-1]))
        r = cli("--token-file", TOKEN, "selection", "odd2", "--set", lst)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.get_selection("odd2"), sel[::-1],
                         "what `selection` printed reads back as itself")
        c.set_selection(sel, dataset="odd2")
        self.assertEqual(c._text("/v1/datasets/%d/selection" % i), raw)
        r = cli("--token-file", TOKEN, "tag", "odd2", "all", "--filenames",
                lst)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("--token-file", TOKEN, "ls", "odd2", "all")
        self.assertEqual(sorted(r.stdout.splitlines()),
                         sorted(raw.encode("utf-8", "surrogateescape")
                                .splitlines()))
        # a line that is not well-formed quoting is the path itself, to
        # both (the server: as lists written before quoting)
        c.set_selection(sel, dataset="odd2")
        for bad in ('"abc', '"a\\qb"', '"\\01"', '"\\000"', '"a"b"',
                    '"\\777"', '"x\\"'):
            self.assertEqual(_util._unquote_line(bad), bad)
            with self.assertRaises(sievefs.BadRequest, msg=bad) as cm:
                c.request("PUT", "/v1/datasets/%d/selection" % i,
                          bad + "\n", ctype="text/plain")
            self.assertIn("'%s' is not a file" % bad, cm.exception.message)
        self.assertEqual(c.get_selection("odd2"), sel, "nothing changed")
        c.request("PUT", "/v1/datasets/%d/selection" % i, '"\r\n',
                  ctype="text/plain")
        self.assertEqual((_util._unquote_line('"\r'), c.get_selection("odd2")),
                         ('"', ['"']), "a lone quote is the file '\"'")
        c.set_selection(sel, dataset="odd2")
        self.assertEqual(c.get_selection("odd2"), sel, "nothing changed")

    def test_folder_over_a_file(self):
        c = client()
        a = os.path.join(T, "fof-a")
        os.makedirs(a, exist_ok=True)
        with open(os.path.join(a, "x"), "wb") as f:
            f.write(b"file")
        c.upload_dataset(a, dataset="fof")
        b = os.path.join(T, "fof-b")
        os.makedirs(os.path.join(b, "x"), exist_ok=True)
        with open(os.path.join(b, "x", "y"), "wb") as f:
            f.write(b"y")
        with self.assertRaises(sievefs.Error) as cm:
            c.upload_dataset(b, dataset="fof")
        self.assertIn("x is a folder here but a file", str(cm.exception))


class TestInterrupted(Base):
    def settled_committed(self, c, ds, what):
        """The committed files of ds's live tree ({path: node}) once three
        listings in a row agree: the server still finishes the requests a
        killed client had sent (a commit may land after the kill)."""
        committed, shas, same = None, None, 0
        for _ in range(100):
            files, _ = c._tree(c.get_dataset(ds)["live_root"])
            committed = {q: n for q, n in files.items() if n.get("has_sha")}
            now = {q: n["sha"] for q, n in committed.items()}
            same = same + 1 if now == shas else 0
            shas = now
            if same == 2:
                break
            time.sleep(0.2)
        self.assertEqual(same, 2, what + ": the tree kept changing")
        return committed

    def test_kill9_and_resume(self):
        # dave: a user who has sent none of these bytes, so the first run
        # has to send every blob (and is killed after 150 of them)
        tok = os.path.join(T, "dave.tok")
        blob_re = re.compile(r"^sievefs: PUT /v1/blobs/([0-9a-f]{64}) 201$")
        commit_re = re.compile(r"^sievefs: PUT /v1/nodes/(\d+)/content 200$")
        e = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
                 SIEVEFS_SERVER=URL)
        p = subprocess.Popen([PY, "-m", "sievefs", "--token-file", tok,
                              "--verbose", "upload", SRC, "killed"], env=e,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        lines1 = []
        blobs = 0
        for line in p.stderr:
            lines1.append(line.rstrip("\n"))
            if blob_re.match(lines1[-1]):
                blobs += 1
                if blobs == 150:
                    p.send_signal(signal.SIGKILL)
                    break
        p.wait()
        lines1.extend(ln.rstrip("\n") for ln in p.stderr.read().splitlines())
        p.stderr.close()
        self.assertEqual(p.returncode, -signal.SIGKILL,
                         "the upload was killed mid-way")
        c = client(token_file=tok)
        # nothing half-made: every file the server calls committed has the
        # source's bytes; the rest are not samples (counted once the
        # commits the client had sent when it died have landed)
        committed = self.settled_committed(c, "killed", "full")
        self.assertLess(len(committed), N_IMAGES + 1)
        self.assertGreater(len(committed), 0)
        for q, n in committed.items():
            self.assertEqual(n["sha"], SHAS[q], q)
        self.assertEqual(sorted(c.get_selection("killed")), sorted(committed))

        r = cli("--token-file", tok, "--verbose", "upload", SRC, "killed",
                text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines2 = r.stderr.splitlines()

        def puts(lines):
            return [m.group(1) for m in map(blob_re.match, lines) if m]

        def commits(lines):
            return [m.group(1) for m in map(commit_re.match, lines) if m]
        with open(tok) as f:
            secret = f.read().strip()
        self.assertFalse([ln for ln in lines1 + lines2 if secret in ln or
                          "svf_" in ln], "--verbose never shows the token")
        b1, b2 = puts(lines1), puts(lines2)
        c1, c2 = commits(lines1), commits(lines2)
        self.assertEqual(len(b1), len(set(b1)))
        self.assertEqual(len(b2), len(set(b2)))
        self.assertEqual(set(b1) & set(b2), set(), "no blob sent twice")
        self.assertEqual(set(c1) & set(c2), set(), "no file committed twice")
        self.assertTrue(set(b1 + b2) <= set(SHAS.values()))
        self.assertLess(len(b2), len(set(SHAS.values())),
                        "the resumed run sent only what was missing")
        self.assertServerTreeEqualsSource(c, "killed")
        self.assertIn("already there", r.stdout)
        # the files the killed run had created but not committed were
        # committed by the resumed run: no pending file is left
        files, _ = c._tree(c.get_dataset("killed")["live_root"])
        self.assertEqual([q for q, n in files.items()
                          if not n.get("has_sha")], [])


    def test_kill9_and_resume_meta_and_thumbnails(self):
        # The other modes make a file then commit it (two requests): killed
        # after 150 commits, some files are made but not committed; the
        # re-run commits each of those once, no committed file again, and
        # ends equal to the source (thumbnails: every image has one).
        commit_re = re.compile(r"^sievefs: PUT /v1/nodes/(\d+)/content 200$")
        e = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
                 SIEVEFS_SERVER=URL)
        for mode in ("meta", "thumbnails"):
            ds = "killed-" + mode
            p = subprocess.Popen([PY, "-m", "sievefs", "--token-file", TOKEN,
                                  "--verbose", "upload", SRC, ds, "--mode",
                                  mode], env=e, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
            c1 = []
            for line in p.stderr:
                m = commit_re.match(line.rstrip("\n"))
                if m:
                    c1.append(m.group(1))
                    if len(c1) == 150:
                        p.send_signal(signal.SIGKILL)
                        break
            p.wait()
            p.stderr.close()
            self.assertEqual(p.returncode, -signal.SIGKILL, mode)
            c = client()
            committed = self.settled_committed(c, ds, mode)
            self.assertTrue(150 <= len(committed) < N_IMAGES + 1, mode)
            r = cli("--token-file", TOKEN, "--verbose", "upload", SRC, ds,
                    "--mode", mode, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            c2 = [m.group(1) for m in map(commit_re.match,
                                          r.stderr.splitlines()) if m]
            self.assertEqual(set(c1) & set(c2), set(),
                             mode + ": no file committed twice")
            self.assertEqual(len(c2), N_IMAGES + 1 - len(committed), mode)
            self.assertServerTreeEqualsSource(c, ds)
            files, _ = c._tree(c.get_dataset(ds)["live_root"])
            self.assertEqual([q for q, n in files.items()
                              if not n.get("has_sha")], [], mode)
            if mode == "thumbnails":
                self.assertEqual(sorted(q for q, n in files.items()
                                        if "thumb_sha" not in n),
                                 ["notes/readme.txt"])


class TestWorkflow(Base):
    @classmethod
    def setUpClass(cls):
        c = client()
        c.upload_dataset(SRC, dataset="wf", mode="full")
        cls.names = sorted(p for p in SHAS if p.endswith(".png"))

    def emb_csv(self, path, names, dim=4):
        with open(path, "w") as f:
            f.write("filenames,%s,labels\n" % ",".join(
                "embedding_%d" % i for i in range(dim)))
            for k, p in enumerate(names):
                v = [((k * (i + 3)) % 17) / 7.0 for i in range(dim)]
                f.write("%s,%s,%d\n" % (p, ",".join("%g" % x for x in v),
                                        k % 5))

    def test_1_embeddings(self):
        c = client(dataset="wf")
        p = os.path.join(T, "emb.csv")
        self.emb_csv(p, self.names)
        e = c.upload_embeddings(p, name="simclr")
        self.assertEqual((e["name"], e["dim"], e["rows"]),
                         ("simclr", 4, N_IMAGES))
        self.assertEqual([x["name"] for x in c.get_embeddings()], ["simclr"])
        out = os.path.join(T, "emb-out.csv")
        c.download_embeddings("simclr", out)
        with open(out) as f:
            self.assertEqual(len(f.read().splitlines()), N_IMAGES + 1)
        r = cli("--token-file", TOKEN, "embeddings", "wf", p, "--name", "e2",
                text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("embeddings/e2.csv: %d rows" % N_IMAGES, r.stdout)
        c.delete_embedding("e2")
        self.assertEqual([x["name"] for x in c.get_embeddings()], ["simclr"])

    def test_2_sampling_keep_tag(self):
        c = client(dataset="wf")
        st = c.sample("random", n=50, seed=1, embedding="simclr",
                      progress=False)
        self.assertEqual(st["status"], "done")
        self.assertEqual(st["strategy"], "random")
        sel = c.get_selection()
        self.assertEqual(len(sel), 50)
        scores = c.get_scores()
        self.assertEqual(len(scores), N_IMAGES)
        self.assertEqual([p for p, _ in scores[:50]], sel)
        self.assertTrue(all(0 <= s <= 1 for _, s in scores))
        st = c.sample("coreset", n=20, embedding="simclr", progress=False)
        self.assertEqual(st["status"], "done")
        self.assertEqual(len(c.get_selection()), 20)
        kept = c.keep(10)
        self.assertIn("top 10 of run", kept)
        top10 = c.get_selection()
        self.assertEqual(len(top10), 10)
        t = c.create_tag("best10")
        self.assertEqual((t["name"], t["files"]), ("best10", 10))
        self.assertEqual(c.get_filenames_in_tag("best10"), sorted(top10))
        self.assertIn("best10", [x["name"] for x in c.get_all_tags()])
        # the command line: sample and keep
        r = cli("--token-file", TOKEN, "sample", "wf", "random", "n=30",
                "seed=2", "embedding=simclr", text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"done: run \d+ picked 30 of 500")
        self.assertEqual(r.stderr, "", "no progress line off a terminal")
        r = cli("--token-file", TOKEN, "keep", "wf", "5", text=True)
        self.assertIn("top 5 of run", r.stdout)
        self.assertEqual(len(c.get_selection()), 5)

    def test_3_tags_from_filenames(self):
        c = client(dataset="wf")
        pick = self.names[::17]
        t = c.create_tag_from_filenames(pick, "every17")
        self.assertEqual(t["parent_name"], "initial-tag")
        self.assertEqual(c.get_filenames_in_tag("every17"), sorted(pick))
        self.assertEqual(c.get_filenames_in_tag(t["id"]), sorted(pick))
        self.assertEqual(c.get_filenames_in_tag(t, exclude_parent_tag=True),
                         [], "every file of every17 is in initial-tag")
        sub = pick[:3]
        t2 = c.create_tag_from_filenames(sub, "sub3",
                                         parent_tag_id=t["id"])  # lightly's
        self.assertEqual(t2["parent_name"], "every17")
        self.assertEqual(c.get_filenames_in_tag("sub3"), sorted(sub))
        with self.assertRaises(sievefs.Conflict) as cm:
            c.delete_tag("every17")        # sub3 was made from it
        self.assertEqual(cm.exception.code, "not_empty")
        c.delete_tag("sub3")
        c.delete_tag("every17")
        self.assertNotIn("every17", [x["name"] for x in c.get_all_tags()])
        # the command line, names from a file
        lst = os.path.join(T, "names.txt")
        with open(lst, "w") as f:
            f.write("\n".join(self.names[:7]) + "\n")
        r = cli("--token-file", TOKEN, "tag", "wf", "first7", "--filenames",
                lst, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli("--token-file", TOKEN, "ls", "wf", "first7", text=True)
        self.assertEqual(r.stdout.splitlines(), self.names[:7])
        r = cli("--token-file", TOKEN, "ls", "wf", text=True)
        self.assertIn("initial-tag\t%d files\t" % (N_IMAGES + 1), r.stdout)
        self.assertIn("first7\t7 files\t", r.stdout)
        r = cli("--token-file", TOKEN, "ls", text=True)
        self.assertIn("wf\t", r.stdout)
        r = cli("--token-file", TOKEN, "info", "wf", text=True)
        self.assertIn("samples: %d" % (N_IMAGES + 1), r.stdout)
        r = cli("--token-file", TOKEN, "tag", "wf", "first7", "--delete",
                text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_3b_an_id_is_not_looked_up_again(self):
        # a dataset id (given or current) goes straight into the request:
        # no GET /v1/datasets/N before each call, nor before each poll
        c = client(dataset="wf", verbose=True)
        err = io.StringIO()
        real, sys.stderr = sys.stderr, err
        try:
            c.get_all_tags()
            c.sample_status()
            c.get_selection(c.dataset_id)
        finally:
            sys.stderr = real
        self.assertEqual(len(err.getvalue().splitlines()), 3, err.getvalue())
        with self.assertRaises(sievefs.NotFound):
            c.get_all_tags(999999)

    def test_4_download(self):
        c = client(dataset="wf")
        dest = os.path.join(T, "dl")
        r = c.download("initial-tag", dest, progress=False)
        self.assertEqual(r.files, N_IMAGES + 1)
        self.assertEqual(_tree_shas(dest), SHAS, "download equals the source")
        r2 = c.download("initial-tag", dest)
        self.assertEqual((r2.files, r2.skipped), (0, N_IMAGES + 1))
        # a damaged local copy is fetched again
        with open(os.path.join(dest, "class1", "img0001.png"), "r+b") as f:
            f.write(b"XX")
        r3 = c.download("initial-tag", dest)
        self.assertEqual(r3.files, 1)
        self.assertEqual(_tree_shas(dest), SHAS)
        # lightly's form
        d3 = os.path.join(T, "dl-lightly")
        c.download_dataset(d3, tag_name="initial-tag", verbose=False)
        self.assertEqual(_tree_shas(d3), SHAS)
        # a tag, through the command line
        c.create_tag_from_filenames(self.names[:12], "dl12")
        d2 = os.path.join(T, "dl12")
        out = cli("--token-file", TOKEN, "download", "wf", "dl12", d2,
                  text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        got = _tree_shas(d2)
        self.assertEqual(got, {p: SHAS[p] for p in self.names[:12]})


class TestErrors(Base):
    def test_bad_token(self):
        c = sievefs.Client(server=URL, token="svf_" + "0" * 64)
        with self.assertRaises(sievefs.Unauthorized) as cm:
            c.get_datasets()
        e = cm.exception
        self.assertEqual((e.status, e.code, e.errno),
                         (401, "unauthorized", "EACCES"))
        self.assertEqual(e.message, "unknown or revoked token")
        self.assertNotIn("svf_", repr(c) + str(e))
        r = cli("ls", env={"SIEVEFS_TOKEN": "svf_" + "1" * 64}, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown or revoked token", r.stderr)
        self.assertNotIn("svf_", r.stderr + r.stdout)

    def test_token_sources(self):
        with open(TOKEN) as f:
            tok = f.read().strip()
        loose = os.path.join(T, "loose.tok")
        with open(loose, "w") as f:
            f.write(tok + "\n")
        os.chmod(loose, 0o644)
        with self.assertRaises(sievefs.TokenError) as cm:
            sievefs.Client(server=URL, token_file=loose)
        self.assertIn("chmod 600", str(cm.exception))
        self.assertNotIn(tok, str(cm.exception))
        old = os.environ.get("SIEVEFS_TOKEN")
        os.environ["SIEVEFS_TOKEN"] = tok
        try:
            self.assertEqual(sievefs.Client(server=URL).whoami(), "alice")
        finally:
            if old is None:
                del os.environ["SIEVEFS_TOKEN"]
            else:
                os.environ["SIEVEFS_TOKEN"] = old
        r = cli("--token-file", loose, "ls", text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("chmod 600", r.stderr)
        self.assertNotIn(tok, r.stderr)
        with self.assertRaises(sievefs.Error):
            sievefs.Client(server="http://10.1.2.3:8420", token=tok)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("runuser"),
                         "needs root and runuser for a second Unix user")
    def test_token_file_of_another_user(self):
        # As the mount (t_remote): a token file of another uid is refused
        # even at mode 0600; a second user (nobody) whose own token file
        # others can read is refused with the chmod advice, at 0600 served.
        with open(TOKEN) as f:
            tok = f.read().strip()
        d = tempfile.mkdtemp(prefix="sievefs-nobody.")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        theirs = os.path.join(d, "token")
        fd = os.open(theirs, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, tok.encode() + b"\n")
        os.close(fd)
        os.chown(theirs, 65534, 65534)
        with self.assertRaises(sievefs.TokenError) as cm:
            sievefs.Client(server=URL, token_file=theirs)
        self.assertIn("belongs to uid 65534", str(cm.exception))
        self.assertNotIn(tok, str(cm.exception))
        os.chmod(theirs, 0o644)

        def as_nobody():
            return subprocess.run(
                ["runuser", "-u", "nobody", "--", "env",
                 "PYTHONPATH=" + os.path.join(REPO, "python"),
                 "SIEVEFS_SERVER=" + URL, "HOME=" + d, PY, "-m", "sievefs",
                 "--token-file", theirs, "ls"], cwd=d, text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r = as_nobody()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("has mode 0644", r.stderr)
        self.assertIn("chmod 600 " + theirs, r.stderr)
        self.assertNotIn(tok, r.stderr + r.stdout)
        os.chmod(theirs, 0o600)
        r = as_nobody()
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_dataset(self):
        c = client()
        with self.assertRaises(sievefs.NotFound) as cm:
            c.get_dataset("no-such-dataset")
        self.assertEqual(cm.exception.code, "not_found")
        self.assertEqual(cm.exception.errno, "ENOENT")
        with self.assertRaises(sievefs.NotFound):
            c.get_dataset(999999)
        with self.assertRaises(sievefs.NotFound):
            c.get_all_tags("no-such-dataset")
        r = cli("--token-file", TOKEN, "ls", "no-such-dataset", text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not_found", r.stderr)

    def test_another_users_dataset(self):
        c = client()
        c.create_dataset("alices")
        bob = sievefs.Client(server=URL, token_file=os.path.join(T, "bob.tok"))
        with self.assertRaises(sievefs.NotFound):
            bob.get_dataset("alices")
        with self.assertRaises(sievefs.NotFound):
            bob.get_dataset(c.get_dataset("alices")["id"])

    def test_bad_csv(self):
        c = client()
        c.create_dataset("csvs")
        d = os.path.join(T, "csvsrc")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "a.bin"), "wb") as f:
            f.write(b"a")
        c.upload_dataset(d, "csvs")
        bad = os.path.join(T, "bad.csv")
        with open(bad, "w") as f:
            f.write("filenames,embedding_0,labels\na.bin,zz,0\n")
        with self.assertRaises(sievefs.BadRequest) as cm:
            c.upload_embeddings(bad, "bad", dataset="csvs")
        e = cm.exception
        self.assertEqual(e.code, "invalid")
        self.assertIn("row 2, column 2", e.message)
        self.assertIn("'zz' is not a number", e.message)
        self.assertEqual(c.get_embeddings("csvs"), [], "nothing stored")
        r = cli("--token-file", TOKEN, "embeddings", "csvs", bad, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not a number", r.stderr)

    def test_name_rules(self):
        c = client()
        for bad in ("bad name", "-dash", "a/b", "x" * 129):
            with self.assertRaises(sievefs.BadRequest) as cm:
                c.create_dataset(bad)
            self.assertIn("is not a valid dataset name", cm.exception.message)
        c.create_dataset("names")
        with self.assertRaises(sievefs.Conflict) as cm:
            c.create_dataset("names")
        self.assertEqual(cm.exception.code, "exists")
        with self.assertRaises(sievefs.BadRequest) as cm:
            c.create_tag("bad tag", dataset="names")
        self.assertIn("tag name", cm.exception.message)
        with self.assertRaises(sievefs.Conflict):
            c.create_tag("selection", dataset="names")   # reserved
        with self.assertRaises(sievefs.BadRequest) as cm:
            c.upload_embeddings(os.path.join(T, "emb.csv") if os.path.exists(
                os.path.join(T, "emb.csv")) else __file__, "bad name",
                dataset="names")

    def test_bad_requests(self):
        c = client()
        c.create_dataset("reqs")
        with self.assertRaises(sievefs.BadRequest) as cm:
            c.sample("bogus", n=3, dataset="reqs")
        self.assertIn("unknown strategy 'bogus'", cm.exception.message)
        with self.assertRaises(sievefs.BadRequest) as cm:
            c.set_selection(["nonexistent.png"], dataset="reqs")
        self.assertIn("'nonexistent.png' is not a file of tag",
                      cm.exception.message)
        with self.assertRaises(sievefs.NotFound):
            c.get_tag("no-such-tag", dataset="reqs")
        with self.assertRaises(ValueError):
            c.sample("random", n=3, dataset="reqs", seed="1 2")
        r = cli("--token-file", TOKEN, "sample", "reqs", "bogus", text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown strategy", r.stderr)

    def test_changed_file_fails_alone(self):
        # A file whose bytes no longer hash to what was computed (changed
        # during the upload): the server refuses it (hash_mismatch, nothing
        # stored), the others go, and Error names it with the server's
        # message; a re-run sends it.
        import sievefs._transfer as sc
        d = os.path.join(T, "changing")
        _files(d, 6, 2000)
        real = sc._sha256_file

        def lying(path):
            sha, size = real(path)
            if path.endswith("f3"):
                sha = hashlib.sha256(b"other bytes").hexdigest()
            return sha, size
        c = client(token_file=os.path.join(T, "carol.tok"))
        sc._sha256_file = lying
        try:
            with self.assertRaises(sievefs.Error) as cm:
                c.upload_dataset(d, dataset="changing")
        finally:
            sc._sha256_file = real
        e = cm.exception
        self.assertEqual([p for p, _ in e.result.failed], ["f3"])
        self.assertIn("f3", str(e))
        self.assertTrue(str(e).startswith(
            "1 of 6 files not uploaded; first: f3: "), str(e))
        self.assertEqual(e.result.uploaded, 5)
        self.assertEqual(sorted(c.list_files("initial-tag", "changing")),
                         ["f0", "f1", "f2", "f4", "f5"])
        r = c.upload_dataset(d, dataset="changing")
        self.assertEqual((r.uploaded, r.skipped), (1, 5))

    def test_closed_keepalive_is_reopened(self):
        import socket
        c = client()
        self.assertEqual(c.whoami(), "alice")
        # the connection goes away between requests (as when the server
        # drops an idle one): the next request opens a new one
        c._local.conn.sock.shutdown(socket.SHUT_RDWR)
        self.assertEqual(c.whoami(), "alice")
        c.close()

    def test_connection_refused(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        c = sievefs.Client(server="http://127.0.0.1:%d" % port,
                           token="svf_" + "0" * 64)
        with self.assertRaises(sievefs.ConnectionFailed) as cm:
            c.get_datasets()
        self.assertIn("sievefs serve", str(cm.exception))


class _Fake:
    """A scripted HTTP/1.1 server on loopback, for the answers sievefs
    serve never gives (chunked, 1xx, no length, a close between or inside
    answers): answers[i] is the raw answer to the i-th request, or
    (raw, "close") to close the connection after it. `seen` holds the
    request lines, `accepts` the connections."""

    def __init__(self, answers):
        import socket
        import threading
        self.answers, self.seen, self.accepts = list(answers), [], 0
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(8)
        self.url = "http://127.0.0.1:%d" % self.s.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while self.answers:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            self.accepts += 1
            with c, c.makefile("rb") as f:
                while self.answers:
                    line = f.readline()
                    if not line:
                        break
                    n = 0
                    for h in iter(f.readline, b"\r\n"):
                        k, _, v = h.partition(b":")
                        if k.strip().lower() == b"content-length":
                            n = int(v)
                    f.read(n)
                    self.seen.append(b" ".join(line.split()[:2]).decode())
                    a = self.answers.pop(0)
                    c.sendall(a[0] if isinstance(a, tuple) else a)
                    if isinstance(a, tuple):
                        break

    def close(self):
        self.s.close()


def _ok(body, extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s"
            % (len(body), extra, body))


class TestTransport(unittest.TestCase):
    """_http.py's paths that sievefs serve does not take (it always sends
    Content-Length and keeps the connection), against a scripted server."""

    def run_fake(self, answers):
        f = _Fake(answers)
        self.addCleanup(f.close)
        return f, sievefs.Client(server=f.url, token="t", timeout=5)

    def test_chunked_after_interim_answers(self):
        chunked = (b"HTTP/1.1 100 Continue\r\n\r\n"
                   b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"6;ext=1\r\n{\"user\r\n0b\r\n\": \"alice\"\r\n1\r\n}\r\n"
                   b"0\r\nTrailer: x\r\n\r\n")
        f, c = self.run_fake([chunked, _ok(b'{"user": "bob"}')])
        self.assertEqual(c.whoami(), "alice")
        self.assertEqual(c.whoami(), "bob", "the chunked body was read to"
                         " its end: the next answer parses")
        self.assertEqual(f.accepts, 1, "one kept-alive connection")

    def test_no_length_and_connection_close(self):
        f, c = self.run_fake([
            (b"HTTP/1.1 200 OK\r\n\r\n{\"user\": \"alice\"}", "close"),
            (_ok(b'{"user": "bob"}', b"Connection: close\r\n"), "close"),
            _ok(b'{"user": "carol"}')])
        self.assertEqual(c.whoami(), "alice", "no length: read to the close")
        self.assertEqual(c.whoami(), "bob")
        self.assertEqual(c.whoami(), "carol")
        self.assertEqual((f.accepts, len(f.seen)), (3, 3),
                         "a new connection after each close, no retry")

    def test_closed_between_requests_is_retried(self):
        f, c = self.run_fake([(_ok(b'{"user": "alice"}'), "close"),
                              _ok(b'{"user": "bob"}')])
        self.assertEqual(c.whoami(), "alice")
        self.assertEqual(c.whoami(), "bob", "the kept-alive connection the"
                         " server closed is replaced, the request sent again")
        self.assertEqual(f.seen, ["GET /v1/whoami"] * 2)

    def test_cut_inside_an_answer_is_not_retried(self):
        # the server began to answer the POST, so it may have done it: the
        # client says the connection was lost and does not POST again
        cut = b"HTTP/1.1 201 Created\r\nContent-Length: 90\r\n\r\n{\"id\""
        f, c = self.run_fake([_ok(b'{"user": "alice"}'), (cut, "close"),
                              b"HTTP/1.1 201 Created\r\nContent-Length: 2"
                              b"\r\n\r\n{}"])
        self.assertEqual(c.whoami(), "alice")
        with self.assertRaises(sievefs.ConnectionFailed) as cm:
            c.request("POST", "/v1/datasets", {"name": "x"})
        self.assertIn("connection lost", str(cm.exception))
        self.assertEqual(f.seen, ["GET /v1/whoami", "POST /v1/datasets"])

    def test_full_disk_of_the_server(self):
        # 507 no_space (the server's store is full: t_fulldisk makes one)
        # says whose disk it is and what to do, and keeps the server's text
        body = (b'{"error":{"code":"no_space","errno":"ENOSPC","message":'
                b'"No space left on device"}}')
        f, c = self.run_fake([b"HTTP/1.1 507 Insufficient Storage\r\n"
                              b"Content-Length: %d\r\n\r\n%s"
                              % (len(body), body)])
        with self.assertRaises(sievefs.NoSpace) as cm:
            c.create_dataset("x")
        e = cm.exception
        self.assertEqual((e.status, e.code, e.errno), (507, "no_space",
                                                       "ENOSPC"))
        self.assertIn("the server's disk is full (No space left on device)",
                      e.message)
        self.assertIn("free space on the server", e.message)


class TestTLS(unittest.TestCase):
    """A server with a self-signed certificate (openssl): trusted with
    cafile=, refused (with the hint) without it."""

    @classmethod
    def setUpClass(cls):
        d = os.path.join(T, "tls")
        os.makedirs(d)
        cls.cert = os.path.join(d, "cert.pem")
        key = os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cls.cert],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        store = os.path.join(d, "store")
        os.mkdir(store, 0o700)
        cls.tok = os.path.join(d, "alice.tok")
        _token(store, "alice", cls.tok)
        cls.srv, cls.url = _start(store, os.path.join(d, "server.log"),
                                  "--tls-cert", cls.cert, "--tls-key", key)
        if cls.url is None:
            cls.tearDownClass()
            raise RuntimeError("the TLS server did not come up")

    @classmethod
    def tearDownClass(cls):
        if cls.srv.poll() is None:
            cls.srv.terminate()
            cls.srv.wait(10)

    def test_cafile(self):
        c = sievefs.Client(server=self.url, token_file=self.tok,
                           cafile=self.cert)
        self.assertEqual(c.whoami(), "alice")
        d = os.path.join(T, "tls-src")
        os.makedirs(os.path.join(d, "sub"), exist_ok=True)
        for i in range(20):
            with open(os.path.join(d, "sub", "f%02d" % i), "wb") as f:
                f.write(os.urandom(3000 + i))
        r = c.upload_dataset(d, dataset="tls", workers=4)
        self.assertEqual(r.uploaded, 20)
        out = os.path.join(T, "tls-dl")
        c.download("initial-tag", out, dataset="tls")
        self.assertEqual(_tree_shas(out), _tree_shas(d))
        c.close()

    def test_untrusted(self):
        c = sievefs.Client(server=self.url, token_file=self.tok)
        with self.assertRaises(sievefs.ConnectionFailed) as cm:
            c.whoami()
        self.assertIn("cafile", str(cm.exception))


def _serve(d, *extra):
    """Another server (own store under d, a token for alice) with options
    `extra`: (Popen, url, token file)."""
    os.makedirs(os.path.join(d, "store"), 0o700)
    tok = os.path.join(d, "alice.tok")
    _token(os.path.join(d, "store"), "alice", tok)
    srv, url = _start(os.path.join(d, "store"),
                      os.path.join(d, "server.log"), *extra)
    if url is not None:
        return srv, url, tok
    srv.kill()
    srv.wait()
    raise RuntimeError("sievefs serve %s did not come up" % " ".join(extra))


class TestServerLimits(unittest.TestCase):
    def test_over_the_upload_cap(self):
        # --upload-cap 64K: an 8 MiB file is refused before its body is
        # read (507 upload_quota, the numbers in the message) and the client
        # reads that answer although the server stopped reading; the upload
        # stops, and what went is complete.
        d = os.path.join(T, "cap")
        srv, url, tok = _serve(d, "--upload-cap", "64K")
        try:
            src = os.path.join(d, "src")
            os.makedirs(src)
            with open(os.path.join(src, "big.bin"), "wb") as f:
                f.write(os.urandom(8 << 20))
            _files(src, 5, 1000, "small%d")
            c = sievefs.Client(server=url, token_file=tok)
            with self.assertRaises(sievefs.NoSpace) as cm:
                c.upload_dataset(src, dataset="cap", workers=2)
            e = cm.exception
            self.assertEqual((e.status, e.code), (507, "upload_quota"))
            self.assertIn("upload", e.message)
            for p, n in c.list_files("initial-tag", "cap").items():
                self.assertTrue(p.startswith("small"), p)
            c.close()
        finally:
            srv.terminate()
            srv.wait(10)

    def test_rate_limit_is_waited_out(self):
        # --user-rate 10/1: past the burst the server answers 429 with
        # Retry-After; the client waits and retries (as the mount does), so
        # every call succeeds (and some were answered 429).
        d = os.path.join(T, "rate")
        srv, url, tok = _serve(d, "--user-rate", "10/1")
        try:
            c = sievefs.Client(server=url, token_file=tok, verbose=True)
            err = io.StringIO()
            real, sys.stderr = sys.stderr, err
            try:
                for _ in range(25):
                    self.assertEqual(c.whoami(), "alice")
            finally:
                sys.stderr = real
            c.close()
            self.assertIn("GET /v1/whoami 429", err.getvalue())
            self.assertEqual(err.getvalue().count("GET /v1/whoami 200"), 25)
        finally:
            srv.terminate()
            srv.wait(10)


class TestCommandLine(unittest.TestCase):
    def test_help_for_each(self):
        for cmd in ([], ["ls"], ["upload"], ["embeddings"], ["sample"],
                    ["keep"], ["tag"], ["download"], ["selection"],
                    ["scores"], ["info"]):
            r = cli(*(cmd + ["--help"]), text=True)
            self.assertEqual(r.returncode, 0, cmd)
            self.assertIn("usage: python3 -m sievefs", r.stdout)

    def test_usage_error(self):
        r = cli("frobnicate", text=True)
        self.assertEqual(r.returncode, 2)

    def test_upload_quiet_off_a_terminal(self):
        d = os.path.join(T, "small")
        _files(d, 5, 100)
        r = cli("--token-file", TOKEN, "upload", d, "small", text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "no progress bar off a terminal")
        self.assertIn("5 uploaded", r.stdout)

    def test_progress_bar_on_a_terminal(self):
        import pty
        d = os.path.join(T, "small2")
        _files(d, 20, 100)
        e = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"),
                 SIEVEFS_SERVER=URL)
        m, s = pty.openpty()
        p = subprocess.Popen([PY, "-m", "sievefs", "--token-file", TOKEN,
                              "upload", d, "small2"], env=e, stdin=s,
                             stdout=subprocess.PIPE, stderr=s)
        os.close(s)
        out = p.communicate()[0]
        got = b""
        while True:
            try:
                b = os.read(m, 65536)
            except OSError:
                break
            if not b:
                break
            got += b
        os.close(m)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"upload [", got)
        self.assertIn(b"20/20", got)
        self.assertIn(b"20 uploaded", out)


if __name__ == "__main__":
    unittest.main()
