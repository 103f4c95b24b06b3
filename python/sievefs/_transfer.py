"""sievefs._transfer — the bulk transfers of a Client: upload_dataset
(parallel, resumable, in the modes full / thumbnails / meta) and download
(verified by SHA-256), as a mixin over Client's request methods.

Threads: a pool of `workers` threads, one keep-alive connection each
(Client._conn is per thread); the shared counters are under one lock.
"""
import concurrent.futures
import hashlib
import importlib
import io
import os
import stat
import tempfile
import threading
import time

from ._util import (MODES, THUMB_SIDE, THUMB_QUALITY, THUMB_SRC_MAX,
                    _Progress, UploadResult, DownloadResult, _q,
                    _sha256_file, _walk_dirs, _walk_files)
from .errors import (Error, Conflict, NotFound, Unauthorized,
                     ConnectionFailed, NoSpace, TokenError)


def _raise_failures(res, fatal, total, done):
    """The end of a bulk transfer: raises `fatal` (what stopped it) or,
    when items failed (res.failed, sorted here), an Error naming how many
    of `total` were not `done` and the first; either with .result = res.
    Returns when nothing failed."""
    if fatal is not None:
        fatal.result = res
        raise fatal
    if res.failed:
        res.failed.sort()
        p, m = res.failed[0]
        e = Error("%d of %d files not %s; first: %s: %s"
                  % (len(res.failed), total, done, p, m))
        e.result = res
        raise e


class Transfers:
    """Mixin of Client: needs its request(), _json(), get_dataset(),
    create_dataset(), _tree(), list_files(), _log(), _close_dead()."""

    def upload_dataset(self, input, dataset=None, mode="full", workers=8,
                       progress=None, durable=False, max_workers=None):
        """Uploads every regular file under the folder `input` into the
        dataset's initial-tag, keeping sub-folders (a dataset given by a
        name that does not exist yet is created).

        mode: 'full' (the server gets the bytes), 'meta' (only name, size,
        times and hash; the bytes stay here), 'thumbnails' (as meta, plus a
        JPEG whose longest side is 128 px; needs Pillow — a file that is
        not a decodable image goes as meta).

        Parallel (`workers` threads, one connection each) and resumable: a
        file whose path the server already has with the same SHA-256 and
        size is not sent again, so a re-run after an interruption sends only
        what is missing. A file is a sample only once committed: a killed
        run leaves no half-made sample. A progress bar goes to stderr when
        it is a terminal (progress=True/False forces it). Files the server
        refused are in result.failed and raise Error at the end (with
        .result); a lost token or connection stops the upload at once."""
        if mode not in MODES:
            raise ValueError("mode must be one of %s, not %r"
                             % (", ".join(MODES), mode))
        if not os.path.isdir(input):
            raise Error("%s: not a folder" % input)
        if mode == "thumbnails":
            try:
                importlib.import_module("PIL.Image")
            except ImportError:
                raise Error(
                    "mode='thumbnails' makes JPEG thumbnails with Pillow,"
                    " which this Python lacks: pip install pillow (or"
                    " apt-get install python3-pil), or use mode='meta'"
                    " (no thumbnail) or mode='full'") from None
        if max_workers is not None:       # lightly's name
            workers = max_workers
        workers = max(1, int(workers))
        t0 = time.monotonic()
        try:
            ds = self.get_dataset(dataset)
        except NotFound:
            if isinstance(dataset, str):
                ds = self.create_dataset(dataset)
            else:
                raise
        if dataset is not None:
            self.dataset_id = ds["id"]
        res = UploadResult(ds["name"], mode)
        local = _walk_files(input)
        res.files = len(local)
        rfiles, rdirs = self._tree(ds["live_root"])
        # folders first, parents before children (few; one at a time)
        dir_ino = {"": ds["live_root"]}
        for rel, n in rdirs.items():
            dir_ino[rel] = n["ino"]
        for rel in _walk_dirs(input):
            if rel in dir_ino:
                continue
            parent, _, name = rel.rpartition("/")
            st = os.stat(os.path.join(input, rel))
            try:
                n = self._mknode(dir_ino[parent], name, 1, st)
            except Conflict:      # made meanwhile, or a file there
                n = self._json("GET", "/v1/nodes/%d/lookup?name=%s"
                               % (dir_ino[parent], _q(name)))
                if n["kind"] != 1:
                    raise Error("%s is a folder here but a file in dataset"
                                " %s: nothing under it can be uploaded"
                                % (rel, ds["name"]), code="not_a_directory")
            dir_ino[rel] = n["ino"]
        total_bytes = sum(st.st_size for _, _, st in local)
        bar = _Progress("upload", len(local), total_bytes, progress)
        lock = threading.Lock()

        def one(item):
            rel, ap, st = item
            parent, _, name = rel.rpartition("/")
            sha, size = _sha256_file(ap)
            node = rfiles.get(rel)
            have = (node is not None and node.get("has_sha") and
                    node.get("sha") == sha and node.get("size") == size)
            sent = 0
            if have and mode == "full":
                # named by the node, but maybe as kept bytes: send them
                if not self._blob_granted(sha):
                    sent = self._put_blob(ap, sha, size)
                    with lock:
                        res.blobs_sent += 1
                        res.bytes_sent += size
                with lock:
                    res.skipped += 1 if not sent else 0
                    res.uploaded += 1 if sent else 0
                bar.add(1, size)
                return
            if have and (mode == "meta" or node.get("thumb_sha")):
                with lock:
                    res.skipped += 1
                bar.add(1, size)
                return
            thumb = None
            if mode == "full":
                if not self._blob_granted(sha):
                    self._put_blob(ap, sha, size)
                    with lock:
                        res.blobs_sent += 1
                        res.bytes_sent += size
            elif mode == "thumbnails":
                thumb = self._thumb_push(ap, size, res, lock, rel)
                if have and thumb is None:   # not an image: as meta, done
                    with lock:
                        res.skipped += 1
                    bar.add(1, size)
                    return
            mtime_ns = str(st.st_mtime_ns)
            if node is None and mode == "full":
                # one request makes the file with its content (the server
                # commits it or makes nothing): a killed upload leaves no
                # empty file in anyone's listing
                for attempt in range(3):
                    try:
                        self._mknode(dir_ino[parent], name, 2, st,
                                     content=(sha, size, durable))
                        with lock:
                            res.uploaded += 1
                        bar.add(1, size)
                        return
                    except Conflict as e:
                        if e.code == "exists":     # made meanwhile: commit it
                            break
                        if e.code != "blob_missing" or attempt == 2:
                            raise
                        self._put_blob(ap, sha, size)  # collected meanwhile
                        with lock:
                            res.blobs_sent += 1
                            res.bytes_sent += size
            if node is None:
                try:
                    node = self._mknode(dir_ino[parent], name, 2, st)
                except Conflict:   # made meanwhile (another uploader)
                    node = self._json("GET", "/v1/nodes/%d/lookup?name=%s"
                                      % (dir_ino[parent], _q(name)))
            body = {"sha256": sha, "size": size, "mtime_ns": mtime_ns,
                    "durable": bool(durable)}
            if mode != "full":
                body["bytes"] = "kept"
                if thumb:
                    body["thumbnail"] = {"sha256": thumb[0],
                                         "size": thumb[1]}
            for attempt in range(3):
                try:
                    self._json("PUT", "/v1/nodes/%d/content" % node["ino"],
                               body)
                    break
                except Conflict as e:
                    # the server collected the blob meanwhile: again
                    if e.code != "blob_missing" or attempt == 2:
                        raise
                    if mode == "full":
                        self._put_blob(ap, sha, size)
                        with lock:
                            res.blobs_sent += 1
                            res.bytes_sent += size
                    elif thumb:
                        thumb = self._thumb_push(ap, size, res, lock, rel)
            with lock:
                res.uploaded += 1
            bar.add(1, size)

        res.failed, first_fatal = self._pool(
            one, local, workers, "sievefs-up", bar,
            (Unauthorized, ConnectionFailed, NoSpace, TokenError))
        bar.draw(force=True)
        bar.finish()
        res.seconds = time.monotonic() - t0
        _raise_failures(res, first_fatal, res.files, "uploaded")
        return res

    def _pool(self, fn, items, workers, name, bar, fatal):
        """Runs fn(item) for each item on `workers` threads (each keeps its
        connection for the next item; those of ended threads are closed at
        the end). Returns ([(item[0], message)] of the items that failed
        with an Error or OSError, the first other exception or None): an
        instance of `fatal`, or anything not an Error or OSError, stops
        the items not yet begun."""
        stop = threading.Event()
        failed, first = [], None

        def run(item):
            if not stop.is_set():
                fn(item)
        with concurrent.futures.ThreadPoolExecutor(
                max(1, int(workers)), thread_name_prefix=name) as ex:
            futs = {ex.submit(run, it): it[0] for it in items}
            pending = set(futs)
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.2,
                    return_when=concurrent.futures.FIRST_COMPLETED)
                bar.draw()
                for f in done:
                    e = None if f.cancelled() else f.exception()
                    if e is None:
                        continue
                    if isinstance(e, fatal) or not isinstance(e, (Error,
                                                                  OSError)):
                        if first is None:
                            first = e
                            stop.set()
                            for p in pending:
                                p.cancel()
                    else:
                        failed.append((futs[f], e.message if isinstance(
                            e, Error) else str(e)))
        self._close_dead()
        return failed, first

    def _mknode(self, parent, name, kind, st, content=None):
        body = {"name": name, "kind": kind,
                "mode": stat.S_IMODE(st.st_mode),
                "uid": os.getuid(), "gid": os.getgid(),
                "mtime_ns": str(st.st_mtime_ns)}
        if content:       # (sha256, size, durable): created with its bytes
            body["sha256"], body["size"], body["durable"] = \
                content[0], content[1], bool(content[2])
        try:
            return self._json("POST", "/v1/nodes/%d/children" % parent, body)
        except Conflict as e:
            if e.code != "answer_lost":
                raise
            # a retry of ours (its Idempotency-Key) was told an earlier try
            # made the node and its answer was lost with its server (behind
            # a balancer): it is the node by that name now, as the remote
            # mount takes it (api/client_nodes.c)
            return self._json("GET", "/v1/nodes/%d/lookup?name=%s"
                              % (parent, _q(name)))

    def _blob_granted(self, sha):
        st, _, _ = self.request("HEAD", "/v1/blobs/" + sha,
                                expect=(200, 404))
        return st == 200

    def _put_blob(self, path, sha, size):
        with open(path, "rb") as f:
            self.request("PUT", "/v1/blobs/" + sha, f,
                         ctype="application/octet-stream")
        return size

    def _thumb_push(self, path, size, res, lock, rel):
        """Makes the 128-px JPEG thumbnail of the file and sends it (when
        the server lacks it); (sha, size), or None for a file that is not a
        decodable image (it then goes as meta, noted in the result)."""
        from PIL import Image
        why = None
        if size > THUMB_SRC_MAX:
            why = "larger than %d MiB" % (THUMB_SRC_MAX >> 20)
        else:
            try:
                with Image.open(path) as im:
                    if im.format == "JPEG":   # decode at a DCT scale >= 128
                        im.draft(im.mode, (THUMB_SIDE, THUMB_SIDE))
                    im.load()
                    if im.mode not in ("L", "RGB"):
                        im = im.convert("L" if im.mode in ("1", "I", "F",
                                                           "I;16", "LA")
                                        else "RGB")
                    w, h = im.size
                    s = max(w, h)
                    if s > THUMB_SIDE:
                        # embed/thumb.c emb_thumb_size: half rounds up
                        nw = max(1, (w * THUMB_SIDE + s // 2) // s)
                        nh = max(1, (h * THUMB_SIDE + s // 2) // s)
                        im = im.resize((nw, nh), Image.BOX)
                    buf = io.BytesIO()
                    im.save(buf, "JPEG", quality=THUMB_QUALITY)
                    jpg = buf.getvalue()
            except Exception as e:   # not an image PIL can decode
                why = "not an image (%s)" % (str(e) or type(e).__name__)
        if why:
            with lock:
                res.no_thumbnail.append(rel)
            self._log("%s: no thumbnail (%s): goes as meta" % (rel, why))
            return None
        tsha = hashlib.sha256(jpg).hexdigest()
        if not self._blob_granted(tsha):
            self.request("PUT", "/v1/blobs/" + tsha, jpg,
                         ctype="application/octet-stream")
            with lock:
                res.blobs_sent += 1
                res.bytes_sent += len(jpg)
        with lock:
            res.thumbnails += 1
        return tsha, len(jpg)

    # ------------------------------------------------------------ download

    def get_blob(self, sha, dest=None):
        """The bytes of a blob you sent (bytes, or written to the open
        binary file `dest`)."""
        if dest is None:
            _, _, data = self.request("GET", "/v1/blobs/" + sha)
            return data
        self.request("GET", "/v1/blobs/" + sha, sink=dest.write)
        return None

    def download(self, tag="initial-tag", dest=".", dataset=None, workers=8,
                 progress=None):
        """Writes every file of `tag` under the folder `dest` (sub-folders
        kept), each verified by SHA-256 before it takes its name (written to
        a temporary file, renamed when the hash is right). A file already in
        dest with the right hash is not fetched again. A sample uploaded
        with mode='thumbnails' gives its thumbnail (the original stays on
        the uploading machine); one uploaded with mode='meta' cannot be
        downloaded (in result.failed; raises Error at the end)."""
        files = self.list_files(tag, dataset)
        os.makedirs(dest, exist_ok=True)
        res = DownloadResult(dest)
        lock = threading.Lock()
        total = sum(n.get("size", 0) for n in files.values())
        bar = _Progress("download", len(files), total, progress)
        for rel in sorted({p.rpartition("/")[0] for p in files} - {""}):
            os.makedirs(os.path.join(dest, rel), exist_ok=True)

        def one(item):
            rel, n = item
            out = os.path.join(dest, rel)
            sha = n["sha"]
            if os.path.isfile(out) and _sha256_file(out)[0] == sha:
                with lock:
                    res.skipped += 1
                bar.add(1, n.get("size", 0))
                return
            want, thumb = sha, False
            try:
                got = self._fetch_verified(want, out)
            except NotFound as e:
                if e.code != "bytes_kept_by_uploader" or \
                        not n.get("thumb_sha"):
                    raise
                want, thumb = n["thumb_sha"], True
                got = self._fetch_verified(want, out)
            mt = int(n.get("mtime_ns", 0) or 0)
            os.utime(out, ns=(mt, mt))
            with lock:
                res.files += 1
                res.bytes += got
                res.thumbnails += thumb
            bar.add(1, n.get("size", 0))

        res.failed, first_fatal = self._pool(
            one, files.items(), workers, "sievefs-dl", bar,
            (Unauthorized, ConnectionFailed))
        bar.finish()
        _raise_failures(res, first_fatal, len(files), "downloaded")
        return res

    def download_dataset(self, output_dir, tag_name="initial-tag",
                         verbose=True, dataset=None):
        """lightly's form of download(): the files of tag `tag_name` into
        `output_dir` (a progress bar when verbose and on a terminal)."""
        return self.download(tag_name, output_dir, dataset=dataset,
                             progress=None if verbose else False)

    def _fetch_verified(self, sha, out):
        d = os.path.dirname(out) or "."
        fd, tmp = tempfile.mkstemp(prefix=".sievefs-", dir=d)
        h = hashlib.sha256()
        n = [0]
        try:
            with os.fdopen(fd, "wb") as f:
                def sink(b):
                    h.update(b)
                    n[0] += len(b)
                    f.write(b)
                self.request("GET", "/v1/blobs/" + sha, sink=sink)
            if h.hexdigest() != sha:
                raise Error("%s: the bytes received do not hash to %s"
                            % (out, sha), code="hash_mismatch")
            os.replace(tmp, out)
            tmp = None
        finally:
            if tmp:
                os.unlink(tmp)
        return n[0]
