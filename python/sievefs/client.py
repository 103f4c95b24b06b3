"""sievefs.client — the Client: the v1 HTTP API of `sievefs serve`
(docs/api.md) from Python, standard library only.

Threads: a Client may be shared by threads; each thread has its own
keep-alive connection (_http._HTTPConn, in a threading.local).
upload_dataset and download (in _transfer.py) run a pool of `workers`
threads, one connection each.

The token is kept in the Client and sent only in the Authorization header;
it is never printed, logged, put in a URL or in an exception.
"""
import csv
import io
import os
import ssl
import sys
import threading
import time
import urllib.parse

from ._http import (_HTTPConn, _CutShort, _Disconnected, _FileChanged,
                    _SinkError)
from ._transfer import Transfers
from ._util import (DEFAULT_TOKEN_FILE, MODES, UploadResult,
                    DownloadResult, _json_bytes, _json_load, _loopback,
                    _parse_status, _Progress, _q, _quote_path, _read_token_file,
                    _unquote_line, LIST_LIMIT)
from .errors import (Error, BadRequest, Unauthorized, Forbidden, NotFound,
                     MethodNotAllowed, Conflict, TooLarge, BadRange,
                     RateLimited, ServerError, Busy, NoSpace,
                     ConnectionFailed, RunFailed, TokenError, _error_from)

__all__ = ["Client", "DEFAULT_TOKEN_FILE", "MODES", "UploadResult",
           "DownloadResult", "Error", "BadRequest", "Unauthorized",
           "Forbidden", "NotFound", "MethodNotAllowed", "Conflict",
           "TooLarge", "BadRange", "RateLimited", "ServerError", "Busy",
           "NoSpace", "ConnectionFailed", "RunFailed", "TokenError"]


class Client(Transfers):
    """A client of one sievefs server, as one user (the token's).

    server   https://HOST:PORT (http:// only to a loopback address), or the
             SIEVEFS_SERVER environment variable
    token    the API token; else SIEVEFS_TOKEN; else token_file (default
             ~/.config/sievefs/token), refused when group or others may
             read it or it belongs to another user (as the mount does)
    dataset  the current dataset (name or id) for methods given none
    cafile   a CA bundle for the server's certificate (else the system's)
    verbose  one line per request on stderr (method, path, status)

    Every method that talks to the server raises sievefs.Error on failure:
    the subclass of the HTTP status (NotFound for an unknown or another
    user's dataset, tag or embedding; BadRequest for a refused name,
    request line, selection or CSV; Conflict for a taken name...) with the
    server's code, errno and message, or ConnectionFailed when no answer
    came. The constructor raises TokenError for a missing or refused token
    and Error for a malformed or non-loopback http:// server URL.
    """

    def __init__(self, server=None, token=None, dataset=None, token_file=None,
                 cafile=None, timeout=120, verbose=False):
        server = server or os.environ.get("SIEVEFS_SERVER", "")
        if not server:
            raise Error("no server: pass server='https://HOST:PORT' or set"
                        " SIEVEFS_SERVER")
        u = urllib.parse.urlsplit(server)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise Error("server %r: want http(s)://HOST:PORT" % server)
        if u.username or u.password:
            raise Error("server %r: a URL with a user@ part is refused"
                        % server)
        if u.scheme == "http" and not _loopback(u.hostname):
            raise Error("server %r: plain http is allowed only to a loopback"
                        " address (127.0.0.0/8, [::1], localhost): use"
                        " https://" % server)
        self.server = "%s://%s" % (u.scheme, u.netloc)
        self._scheme = u.scheme
        self._host = u.hostname
        self._port = u.port or (443 if u.scheme == "https" else 80)
        self._base = u.path.rstrip("/")
        if token is None:
            env = os.environ.get("SIEVEFS_TOKEN", "").strip()
            if token_file is not None:
                token = _read_token_file(token_file)
            elif env:
                token = env
            elif os.path.exists(os.path.expanduser(DEFAULT_TOKEN_FILE)):
                token = _read_token_file(DEFAULT_TOKEN_FILE)
            else:
                raise TokenError(
                    "no token: pass token=..., set SIEVEFS_TOKEN, or keep it"
                    " in %s (chmod 600)" % DEFAULT_TOKEN_FILE)
        token = token.strip()
        if not token or any(c in token for c in "\r\n\0"):
            raise TokenError("the token is empty or malformed")
        self.__token = token
        self.timeout = timeout
        self.verbose = verbose
        self._ssl = None
        if self._scheme == "https":
            self._ssl = ssl.create_default_context(cafile=cafile)
        self._local = threading.local()
        self._vlock = threading.Lock()
        self._conns = {}          # thread -> its connection (to close them)
        self.dataset_id = None
        if dataset is not None:
            self.dataset_id = self.get_dataset(dataset)["id"]

    def __repr__(self):
        return "sievefs.Client(server=%r)" % self.server

    # ------------------------------------------------------------ transport

    def _conn(self, fresh=False):
        c = getattr(self._local, "conn", None)
        if c is not None and not fresh:
            return c, True
        if c is not None:
            c.close()
        t = threading.current_thread()
        c = _HTTPConn(self._host, self._port, self._ssl, self.timeout)
        self._local.conn = c
        with self._vlock:
            self._conns[t] = c
        return c, False

    def _close_dead(self):
        """Closes the connections of worker threads that have ended."""
        with self._vlock:
            dead = [t for t in self._conns if not t.is_alive()]
            conns = [self._conns.pop(t) for t in dead]
        for c in conns:
            c.close()

    def close(self):
        """Closes every connection of this client (a later request opens a
        new one)."""
        with self._vlock:
            conns = list(self._conns.values())
            self._conns.clear()
        for c in conns:
            c.close()
        self._local = threading.local()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _log(self, msg):
        if self.verbose:
            with self._vlock:
                sys.stderr.write("sievefs: %s\n" % msg)
                sys.stderr.flush()

    def request(self, method, path, body=None, ctype=None, headers=None,
                expect=(200, 201, 202, 204), sink=None):
        """One request to `path` (under /v1/...). body: bytes, a str, a
        dict/list (sent as JSON) or an open binary file (streamed, rewound
        for a retry). Returns (status, headers, body bytes); with `sink` a
        callable, a 2xx body is handed to it in chunks instead. A status not
        in `expect` raises the Error subclass of its status."""
        if isinstance(body, (dict, list)):
            body = _json_bytes(body)
            ctype = ctype or "application/json"
        elif isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        h = {"Authorization": "Bearer " + self.__token}
        # A request that may change state carries a request id, the same
        # on every retry: the server records it with the change and
        # answers a retry with the first answer (api/server_idem.c), so
        # such a request may be retried after its server died mid-way
        # (connection lost, or 502/503/504 from a balancer) without being
        # done twice.
        keyed = method not in ("GET", "HEAD")
        if keyed:
            h["Idempotency-Key"] = os.urandom(16).hex()
        if ctype:
            h["Content-Type"] = ctype
        if headers:
            h.update(headers)
        size = None
        if body is not None and not isinstance(body, (bytes, bytearray)):
            pos = body.tell()
            size = os.fstat(body.fileno()).st_size - pos
            h["Content-Length"] = str(size)
        elif body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        full = self._base + path
        rate_tries = 0
        attempt = 0
        while True:
            attempt += 1
            conn, reused = self._conn()
            began = False          # a byte of the answer came
            if size is not None:
                body.seek(pos)
            try:
                if size is not None:
                    conn.send(method, full, h, fbody=(body, pos, size))
                else:
                    conn.send(method, full, h, body=body)
                resp = conn.response(method)
                began = True
                status = resp.status
                if sink is not None and 200 <= status < 300:
                    def to_sink(b):
                        try:
                            sink(b)
                        except Exception as e:
                            raise _SinkError(e)
                    data = conn.read_body(method, resp, to_sink)
                else:
                    data = conn.read_body(method, resp)
            except (_Disconnected, _CutShort, ConnectionResetError,
                    BrokenPipeError) as e:
                self._conn(fresh=True)
                # a kept-alive connection the server closed meanwhile:
                # nothing was done, try once more on a new one. Not once
                # an answer began (as libcurl): the request may have been
                # done, and a POST must not be done twice.
                if reused and attempt == 1 and not began and \
                        not isinstance(e, _CutShort):
                    continue
                # no answer byte came: its retry cannot do it twice (a
                # change is keyed; a read changes nothing) — a cut answer
                # is still not retried (part of it may be in a sink)
                if not began and attempt <= 3:
                    time.sleep(0.2 * attempt)
                    continue
                raise ConnectionFailed("%s %s: connection lost: %s"
                                       % (method, path, e or type(e).__name__),
                                       method=method, path=path) from None
            except _SinkError as e:
                self._conn(fresh=True)   # the rest of the answer is unread
                raise e.args[0]
            except _FileChanged as e:
                self._conn(fresh=True)   # half a body went: start over
                raise Error("%s: %s" % (getattr(body, "name", "file"), e),
                            code="file_changed", method=method,
                            path=path) from None
            except ssl.SSLCertVerificationError as e:
                self._conn(fresh=True)
                raise ConnectionFailed(
                    "%s: TLS certificate not trusted (%s); pass cafile="
                    "CA.pem" % (self.server, e.verify_message),
                    method=method, path=path) from None
            except ssl.SSLError as e:
                self._conn(fresh=True)
                raise ConnectionFailed(
                    "%s: TLS failed (%s): is it an https server?"
                    % (self.server, e.reason or e), method=method,
                    path=path) from None
            except (OSError, ValueError) as e:
                self._conn(fresh=True)
                hint = ""
                if isinstance(e, ConnectionRefusedError):
                    hint = ": is `sievefs serve` running there?"
                raise ConnectionFailed("%s: %s%s" % (self.server, e, hint),
                                       method=method, path=path) from None
            self._log("%s %s %d" % (method, full.split("?")[0], status))
            if resp.will_close:
                self._conn(fresh=True)
            # a balancer with no live server behind it: again, a read as
            # a keyed change (the remote mount retries both too)
            if status in (502, 503, 504) and attempt <= 3:
                time.sleep(0.2 * attempt)
                continue
            if status == 429 and rate_tries < 3:
                rate_tries += 1
                try:
                    wait = float(resp.getheader("Retry-After", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(max(wait, 0.1), 5.0))
                continue
            if status not in expect:
                raise _error_from(status, data, method, path)
            return status, resp, data

    def _json(self, method, path, body=None, expect=(200, 201, 202, 204)):
        _, _, data = self.request(method, path, body, expect=expect)
        return _json_load(data) if data else None

    def _text(self, path):
        _, _, data = self.request("GET", path)
        return data.decode("utf-8", "surrogateescape")

    # ------------------------------------------------------------ identity

    def whoami(self):
        """The token's user name."""
        return self._json("GET", "/v1/whoami")["user"]

    # ------------------------------------------------------------ datasets

    def get_datasets(self):
        """Every dataset of the user: a list of dicts (docs/api.md shapes),
        sorted by name."""
        return self._json("GET", "/v1/datasets")["datasets"]

    list_datasets = get_datasets
    get_all_datasets = get_datasets

    def get_dataset(self, dataset=None):
        """A dataset by name, by id (an int, or its 24-hex uid), or the
        current one."""
        if dataset is None:
            if self.dataset_id is None:
                raise Error("no dataset: pass dataset= or set one with"
                            " set_dataset_id_by_name()")
            dataset = self.dataset_id
        if isinstance(dataset, dict):
            return dataset
        if isinstance(dataset, int):
            return self._json("GET", "/v1/datasets/%d" % dataset)
        if len(dataset) == 24 and all(c in "0123456789abcdef"
                                      for c in dataset):
            for d in self.get_datasets():
                if d.get("uid") == dataset:
                    return d
        return self._json("GET", "/v1/datasets?name=" + _q(dataset))

    def _ds(self, dataset):
        """The dataset's id. An id (given, or the current one) is used as
        it is: the request it goes into answers NotFound for an unknown
        one, so asking for the dataset first was a round trip per call
        (two per poll of wait())."""
        if dataset is None and self.dataset_id is not None:
            dataset = self.dataset_id
        if isinstance(dataset, int) and not isinstance(dataset, bool):
            return dataset
        return self.get_dataset(dataset)["id"]

    def create_dataset(self, dataset_name):
        """Creates a dataset and makes it the current one; returns it."""
        d = self._json("POST", "/v1/datasets", {"name": dataset_name})
        self.dataset_id = d["id"]
        return d

    def set_dataset_id_by_name(self, dataset_name):
        """Makes the dataset named so the current one; returns its id
        (NotFound if there is none)."""
        self.dataset_id = self.get_dataset(dataset_name)["id"]
        return self.dataset_id

    def rename_dataset(self, dataset, new_name):
        """Renames a dataset; returns it (BadRequest, Conflict exists)."""
        return self._json("PATCH", "/v1/datasets/%d" % self._ds(dataset),
                          {"name": new_name})

    def delete_dataset(self, dataset=None):
        """Deletes a dataset with no samples and no tag but initial-tag
        (else Conflict not_empty)."""
        i = self._ds(dataset)
        self.request("DELETE", "/v1/datasets/%d" % i)
        if self.dataset_id == i:
            self.dataset_id = None

    def delete_dataset_by_id(self, dataset_id):
        """lightly's name for delete_dataset(id)."""
        self.delete_dataset(int(dataset_id))

    def info(self, dataset=None):
        """The dataset's `info` text (id, samples, bytes, selection, tags
        as a tree...)."""
        return self._text("/v1/datasets/%d/info" % self._ds(dataset))

    def log(self, dataset=None):
        """The dataset's `log` text: events and refusals, newest last."""
        return self._text("/v1/datasets/%d/log" % self._ds(dataset))

    # ------------------------------------------------------------ nodes

    def _children(self, ino):
        out = []
        after = None
        while True:
            p = "/v1/nodes/%d/children?limit=%d" % (ino, LIST_LIMIT)
            if after is not None:
                p += "&after=" + _q(after)
            j = self._json("GET", p)
            out.extend(j["children"])
            after = j.get("next")
            if not after:
                return out

    def _tree(self, root):
        """({relpath: file node}, {relpath: dir node}) of a tree."""
        files, dirs = {}, {}
        todo = [("", root)]
        while todo:
            prefix, ino = todo.pop()
            for n in self._children(ino):
                rel = prefix + n["name"]
                if n["kind"] == 1:
                    dirs[rel] = n
                    todo.append((rel + "/", n["ino"]))
                else:
                    files[rel] = n
        return files, dirs

    def get_filenames(self, dataset=None):
        """Every sample (committed file) of initial-tag, sorted."""
        files, _ = self._tree(self.get_dataset(dataset)["live_root"])
        return sorted(p for p, n in files.items() if n.get("has_sha"))

    def list_files(self, tag="initial-tag", dataset=None):
        """{relpath: node} of the files of a tag (committed ones)."""
        root = self.get_tag(tag, dataset)["root"]
        files, _ = self._tree(root)
        return {p: n for p, n in files.items() if n.get("has_sha")}

    # ------------------------------------------------------------ embeddings

    def upload_embeddings(self, path_to_embeddings_csv, name, dataset=None):
        """Uploads a CSV in lightly's save_embeddings format as
        embeddings/NAME.csv; returns the embedding record. A malformed CSV
        raises BadRequest with the server's reason (row and column)."""
        i = self._ds(dataset)
        with open(path_to_embeddings_csv, "rb") as f:
            return _json_load(self.request(
                "PUT", "/v1/datasets/%d/embeddings?name=%s" % (i, _q(name)),
                f, ctype="text/csv")[2])

    def get_embeddings(self, dataset=None):
        """The dataset's embeddings: a list of records (name, dim, rows),
        by creation."""
        return self._json("GET", "/v1/datasets/%d/embeddings"
                          % self._ds(dataset))["embeddings"]

    get_all_embedding_data = get_embeddings

    def get_embedding(self, name, dataset=None):
        """One embedding record by name (NotFound if absent)."""
        return self._json("GET", "/v1/datasets/%d/embeddings?name=%s"
                          % (self._ds(dataset), _q(name)))

    def download_embeddings(self, name, dest, dataset=None):
        """Writes embeddings/NAME.csv to the file `dest`."""
        e = self.get_embedding(name, dataset)
        with open(dest, "wb") as f:
            self.request("GET", "/v1/embeddings/%d/csv" % e["id"],
                         sink=f.write)

    def delete_embedding(self, name, dataset=None):
        """Deletes embeddings/NAME.csv (NotFound if absent)."""
        e = self.get_embedding(name, dataset)
        self.request("DELETE", "/v1/embeddings/%d" % e["id"])

    # ------------------------------------------------------------ tags

    def get_all_tags(self, dataset=None):
        """The dataset's tags: initial-tag first, then by creation."""
        return self._json("GET", "/v1/datasets/%d/tags"
                          % self._ds(dataset))["tags"]

    def get_tag(self, tag, dataset=None):
        """A tag by name, or by id (int)."""
        if isinstance(tag, dict):
            return tag
        if isinstance(tag, int):
            return self._json("GET", "/v1/tags/%d" % tag)
        return self._json("GET", "/v1/datasets/%d/tags?name=%s"
                          % (self._ds(dataset), _q(tag)))

    get_tag_by_name = get_tag

    def create_tag(self, name, dataset=None):
        """Freezes the current selection as tag `name` (mkdir DATASET/NAME);
        Conflict run_active while a sampling run is queued or running."""
        return self._json("POST", "/v1/datasets/%d/tags" % self._ds(dataset),
                          {"name": name})

    def create_tag_from_filenames(self, fnames_new_tag, new_tag_name,
                                  parent_tag=None, dataset=None,
                                  parent_tag_id=None):
        """A tag holding exactly these files (relative paths of
        `parent_tag` — a name, or lightly's parent_tag_id — default
        initial-tag, which becomes its parent): the selection is set to
        them, then frozen."""
        if parent_tag is None and parent_tag_id is not None:
            parent_tag = self.get_tag(int(parent_tag_id))["name"]
        self.set_selection(fnames_new_tag, from_tag=parent_tag,
                           dataset=dataset)
        return self.create_tag(new_tag_name, dataset)

    def get_filenames_in_tag(self, tag, dataset=None,
                             exclude_parent_tag=False, **_lightly):
        """The relative paths of every file of a tag (name, id or dict),
        sorted; with exclude_parent_tag, only those its parent tag lacks."""
        t = self.get_tag(tag, dataset)
        files, _ = self._tree(t["root"])
        names = sorted(p for p, n in files.items() if n.get("has_sha"))
        if exclude_parent_tag and t.get("parent", 0) > 0:
            parent = set(self.get_filenames_in_tag(int(t["parent"])))
            names = [p for p in names if p not in parent]
        return names

    def rename_tag(self, tag, new_name, dataset=None):
        """Renames a tag; returns it (Forbidden for initial-tag, Conflict
        for a taken name)."""
        t = self.get_tag(tag, dataset)
        return self._json("PATCH", "/v1/tags/%d" % t["id"],
                          {"name": new_name})

    def delete_tag(self, tag, dataset=None):
        """Deletes a tag (never samples); Conflict not_empty if another tag
        was made from it."""
        t = self.get_tag(tag, dataset)
        self.request("DELETE", "/v1/tags/%d" % t["id"])

    def delete_tag_by_id(self, tag_id):
        """lightly's name: deletes the tag with this id."""
        self.request("DELETE", "/v1/tags/%d" % int(tag_id))

    # ------------------------------------------------------------ selection

    def get_selection(self, dataset=None):
        """The current selection: relative paths, most important first."""
        t = self._text("/v1/datasets/%d/selection" % self._ds(dataset))
        return [_unquote_line(ln) for ln in t.split("\n") if ln]

    def set_selection(self, filenames, from_tag=None, append=False,
                      dataset=None):
        """Replaces (or, append=True, extends) the selection with these
        paths of `from_tag` (default initial-tag); any unknown path:
        BadRequest naming the line, and nothing changes."""
        lines = []
        if from_tag is not None:
            lines.append("# from: %s" % from_tag)
        lines.extend(_quote_path(p) for p in filenames)
        text = "".join(ln + "\n" for ln in lines)
        p = "/v1/datasets/%d/selection" % self._ds(dataset)
        if append:
            p += "?append=1"
        self.request("PUT", p, text, ctype="text/plain")

    def get_scores(self, dataset=None):
        """[(filename, score)] of every candidate of the latest finished
        run, most important first."""
        t = self._text("/v1/datasets/%d/scores.csv" % self._ds(dataset))
        rows = list(csv.reader(io.StringIO(t, newline="")))
        return [(r[0], float(r[1])) for r in rows[1:] if len(r) >= 2]

    # ------------------------------------------------------------ sampling

    def sample_status(self, dataset=None):
        """The state of the latest run, as a dict of its `key: value`
        lines (status, run, strategy, progress, ...), plus 'text'."""
        t = self._text("/v1/datasets/%d/sample" % self._ds(dataset))
        d = _parse_status(t)
        d["text"] = t
        return d

    def _sample_post(self, i, line):
        self.request("POST", "/v1/datasets/%d/sample" % i, line,
                     ctype="text/plain")

    def sample(self, strategy=None, n=None, dataset=None, wait=True,
               progress=None, poll=0.2, **options):
        """Starts a sampling run — the line `[STRATEGY] [n=N] [key=value
        ...]` written to DATASET/sample (README: strategies random, coreset,
        typicality, kmeans, balance; keys from (from_tag=, or
        options['from']), embedding, seed, min_distance) — and, with wait,
        waits for it with a progress line on a terminal. Returns the run's
        status dict (status done); a failed or cancelled run raises
        RunFailed with the reason; a rejected request raises BadRequest with
        the server's reason."""
        if "from_tag" in options:
            options["from"] = options.pop("from_tag")
        words = []
        if strategy:
            words.append(str(strategy))
        if n is not None:
            words.append("n=%d" % int(n))
        for k, v in options.items():
            if v is None:
                continue
            words.append("%s=%s" % (k, v))
        for w in words:
            if not w or any(c.isspace() for c in w):
                raise ValueError("sample request word %r holds white space"
                                 % w)
        return self._request_and_wait(" ".join(words) + "\n", dataset,
                                      wait, progress, poll)

    def _request_and_wait(self, line, dataset, wait, progress, poll):
        i = self._ds(dataset)
        first = self.sample_status(i).get("run", "")
        self._sample_post(i, line)
        if not wait:
            return self.sample_status(i)
        return self.wait(i, progress=progress, poll=poll, _first=first)

    def wait(self, dataset=None, progress=None, poll=0.2, _first=None):
        """Waits for the dataset's latest run (or the one after run
        `_first`) to end; returns its status dict, raises RunFailed."""
        i = self._ds(dataset)
        bar = None
        while True:
            st = self.sample_status(i)
            s = st.get("status", "")
            ours = _first is None or st.get("run", "") != _first
            if ours and s in ("done", "failed", "cancelled"):
                if bar:
                    bar.finish()
                if s != "done":
                    raise RunFailed("run %s %s%s" % (
                        st.get("run", "?"), s, ": " + st["reason"]
                        if st.get("reason") else ""), code=s)
                return st
            if s == "idle":
                raise Error("no sampling run in this dataset yet")
            if ours and s in ("queued", "running"):
                done = total = 0
                try:
                    done, total = map(int, st.get("progress", "0/0")
                                      .split("/"))
                except ValueError:
                    pass
                label = st.get("phase", "").split(" ")[0] or s
                if bar is None:
                    bar = _Progress(label, total, 0, progress)
                bar.label, bar.total, bar.done = label, total, done
                bar.draw()
            time.sleep(poll)

    def keep(self, n, dataset=None):
        """The slider: the selection becomes the top n of the latest run.
        Returns the `kept:` line."""
        i = self._ds(dataset)
        self._sample_post(i, "keep %d\n" % int(n))
        return self.sample_status(i).get("kept", "")

    def cancel(self, dataset=None):
        """Stops the running and queued requests of the dataset."""
        self._sample_post(self._ds(dataset), "cancel\n")

    def embed(self, dataset=None, wait=True, progress=None, **options):
        """Computes the built-in embedding now (`embed [dim=N]
        [color=on|off]`)."""
        words = ["embed"] + ["%s=%s" % kv for kv in options.items()]
        return self._request_and_wait(" ".join(words) + "\n", dataset, wait,
                                      progress, 0.2)
