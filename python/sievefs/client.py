"""sievefs.client — the v1 HTTP API of `sievefs serve` (docs/api.md) from
Python, standard library only.

Threads: a Client may be shared by threads; each thread has its own
keep-alive connection (threading.local). upload_dataset and download run a
pool of `workers` threads, one connection each.

The token is kept in the Client and sent only in the Authorization header;
it is never printed, logged, put in a URL or in an exception.
"""
import concurrent.futures
import csv
import hashlib
import io
import ipaddress
import json
import os
import shutil
import socket
import ssl
import stat
import sys
import tempfile
import threading
import time
import urllib.parse

DEFAULT_TOKEN_FILE = "~/.config/sievefs/token"
MODES = ("full", "thumbnails", "meta")
THUMB_SIDE = 128         # as the mount: embed/thumb.h EMB_THUMB_SIDE
THUMB_QUALITY = 85       # EMB_THUMB_QUALITY
THUMB_SRC_MAX = 256 << 20  # larger files get no thumbnail (api/client_upload.c)
CHUNK = 256 * 1024
LIST_LIMIT = 10000


# ---------------------------------------------------------------- errors

class Error(Exception):
    """Any failure. `status` is the HTTP status (0 when no answer came),
    `code` the server's stable code (`not_found`, `invalid`...), `errno`
    its errno name, `message` the server's text for humans."""

    def __init__(self, message, status=0, code="", errno="", method="",
                 path=""):
        self.message = message
        self.status = status
        self.code = code
        self.errno = errno
        self.method = method
        self.path = path
        super().__init__(message)

    def __str__(self):
        s = self.message
        if self.code:
            s += " (%s%s)" % (self.code, ", %d" % self.status
                              if self.status else "")
        return s


class BadRequest(Error): pass          # 400
class Unauthorized(Error): pass        # 401
class Forbidden(Error): pass           # 403
class NotFound(Error): pass            # 404
class MethodNotAllowed(Error): pass    # 405
class Conflict(Error): pass            # 409
class TooLarge(Error): pass            # 413
class BadRange(Error): pass            # 416
class RateLimited(Error): pass         # 429
class ServerError(Error): pass         # 500 and other 5xx
class Busy(Error): pass                # 503
class NoSpace(Error): pass             # 507
class ConnectionFailed(Error): pass    # no answer (refused, TLS, reset)
class RunFailed(Error): pass           # a sampling run failed or was cancelled
class TokenError(Error): pass          # no token, or a token file refused

_BY_STATUS = {400: BadRequest, 401: Unauthorized, 403: Forbidden,
              404: NotFound, 405: MethodNotAllowed, 409: Conflict,
              413: TooLarge, 416: BadRange, 429: RateLimited,
              503: Busy, 507: NoSpace}


def _error_from(status, body, method, path):
    code = errno = ""
    message = ""
    try:
        e = json.loads(body.decode("utf-8", "surrogateescape"))["error"]
        code, errno, message = e.get("code", ""), e.get("errno", ""), \
            e.get("message", "")
    except Exception:
        message = body.decode("utf-8", "replace").strip()[:500]
    if not message:
        message = "%s %s: HTTP %d" % (method, path, status)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else Error)
    return cls(message, status, code, errno, method, path)


# ---------------------------------------------------------------- helpers

def _q(s):
    """Percent-encode a name for a query string (RFC 3986; bytes kept)."""
    return urllib.parse.quote(s, safe="", encoding="utf-8",
                              errors="surrogateescape")


def _json_bytes(obj):
    # names are byte strings: a surrogate-escaped str goes back to its bytes
    return json.dumps(obj, ensure_ascii=False).encode("utf-8",
                                                      "surrogateescape")


def _json_load(body):
    return json.loads(body.decode("utf-8", "surrogateescape"))


def _read_token_file(path):
    path = os.path.expanduser(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise TokenError("token file %s: %s" % (path, e.strerror)) from None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() and st.st_uid != 0:
            raise TokenError(
                "token file %s belongs to uid %d, not to you (uid %d):"
                " refusing to use it; keep your token in a file of your"
                " own, chmod 600" % (path, st.st_uid, os.geteuid()))
        if st.st_mode & 0o077:
            raise TokenError(
                "token file %s has mode %04o: other users could read the"
                " token; refusing to use it. Run: chmod 600 %s (and"
                " consider revoking the token)"
                % (path, stat.S_IMODE(st.st_mode), path))
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    tok = data.decode("ascii", "replace").splitlines()[0].strip() \
        if data.strip() else ""
    if not tok:
        raise TokenError("the token file %s is empty" % path)
    return tok


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _sha256_file(path):
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            size += len(b)
    return h.hexdigest(), size


def _quote_path(p):
    """A selection line for path p (README, DATASET/selection)."""
    needs = (p.startswith(('"', "#", " ")) or p.endswith(" ") or
             any(ord(c) < 32 or ord(c) == 127 for c in p))
    if not needs:
        return p
    out = ['"']
    esc = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\t": "\\t",
           "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
    for c in p:
        if c in esc:
            out.append(esc[c])
        elif ord(c) < 32 or ord(c) == 127:
            out.append("\\%03o" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _unquote_line(line):
    if not line.startswith('"'):
        return line
    raw = line.encode("utf-8", "surrogateescape")
    out = bytearray()
    i, n = 1, len(raw)
    simple = {ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
              ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
              ord("r"): 13}
    while i < n and raw[i] != ord('"'):
        c = raw[i]
        if c == ord("\\") and i + 1 < n:
            d = raw[i + 1]
            if d in simple:
                out.append(simple[d])
                i += 2
                continue
            if 48 <= d <= 55:
                j = i + 1
                v = 0
                while j < n and j < i + 4 and 48 <= raw[j] <= 55:
                    v = v * 8 + raw[j] - 48
                    j += 1
                out.append(v & 255)
                i = j
                continue
        out.append(c)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _parse_status(text):
    """`key: value` lines of a `sample` read into a dict (first wins)."""
    d = {}
    for line in text.splitlines():
        k, sep, v = line.partition(": ")
        if sep and k and k not in d and not k.startswith(" "):
            d[k] = v
    return d


def _walk_files(root):
    """(relpath, abspath, stat) of every regular file under root, sorted;
    symlinks to files are followed, symlinked folders are not entered."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            ap = os.path.join(dirpath, fn)
            try:
                st = os.stat(ap)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.append((os.path.relpath(ap, root).replace(os.sep, "/"),
                            ap, st))
    return out


def _walk_dirs(root):
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, d), root)
            out.append(rel.replace(os.sep, "/"))
    out.sort(key=lambda p: (p.count("/"), p))
    return out


# ---------------------------------------------------------------- progress

class _Progress:
    """One line on stderr, redrawn in place, only when stderr is a
    terminal (or when forced on); nothing at all otherwise."""

    def __init__(self, label, total, total_bytes=0, enabled=None):
        if enabled is None:
            try:
                enabled = sys.stderr.isatty()
            except Exception:
                enabled = False
        self.on = enabled
        self.label = label
        self.total = total
        self.total_bytes = total_bytes
        self.done = 0
        self.bytes = 0
        self.t0 = time.monotonic()
        self.last = 0.0
        self.lock = threading.Lock()
        self.drawn = False

    def add(self, files=0, nbytes=0):
        with self.lock:
            self.done += files
            self.bytes += nbytes
        self.draw()

    def draw(self, force=False):
        if not self.on:
            return
        now = time.monotonic()
        with self.lock:
            if not force and now - self.last < 0.1:
                return
            self.last = now
            done, total, nb = self.done, self.total, self.bytes
        el = max(now - self.t0, 1e-6)
        text = "%d/%d" % (done, total)
        if self.total_bytes:
            text += " %.1f/%.1f MB %.1f MB/s" % (nb / 1e6,
                                                 self.total_bytes / 1e6,
                                                 nb / 1e6 / el)
        text += " %.1fs" % el
        cols = shutil.get_terminal_size((80, 24)).columns - 1
        width = min(30, cols - len(self.label) - len(text) - 4)
        if total > 0 and width >= 5:
            fill = width if done >= total else done * width // total
            line = "%s [%s%s] %s" % (self.label, "#" * fill,
                                     "." * (width - fill), text)
        else:
            line = "%s %s" % (self.label, text)
        sys.stderr.write("\r" + line[:cols] + "\033[K")
        sys.stderr.flush()
        self.drawn = True

    def finish(self):
        if self.on and self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


# ---------------------------------------------------------------- results

class UploadResult:
    """What upload_dataset did. `uploaded`: files committed now;
    `skipped`: files the server had already (same path and hash);
    `blobs_sent`/`bytes_sent`: blob PUTs and their bytes; `thumbnails`:
    thumbnails made; `no_thumbnail`: paths sent as meta because they are
    not decodable images; `failed`: [(path, message)]."""

    def __init__(self, dataset, mode):
        self.dataset = dataset
        self.mode = mode
        self.files = 0
        self.uploaded = 0
        self.skipped = 0
        self.blobs_sent = 0
        self.bytes_sent = 0
        self.thumbnails = 0
        self.no_thumbnail = []
        self.failed = []
        self.seconds = 0.0

    def __repr__(self):
        return ("UploadResult(dataset=%r, mode=%r, files=%d, uploaded=%d,"
                " skipped=%d, blobs_sent=%d, bytes_sent=%d, failed=%d)"
                % (self.dataset, self.mode, self.files, self.uploaded,
                   self.skipped, self.blobs_sent, self.bytes_sent,
                   len(self.failed)))


class DownloadResult:
    """What download did: `files` written, `skipped` (already there with the
    right hash), `thumbnails` (only the thumbnail is on the server: upload
    mode thumbnails), `failed`: [(path, message)]."""

    def __init__(self, dest):
        self.dest = dest
        self.files = 0
        self.skipped = 0
        self.thumbnails = 0
        self.bytes = 0
        self.failed = []

    def __repr__(self):
        return ("DownloadResult(dest=%r, files=%d, skipped=%d, thumbnails=%d,"
                " failed=%d)" % (self.dest, self.files, self.skipped,
                                 self.thumbnails, len(self.failed)))


# ---------------------------------------------------------------- transport

class _FileChanged(Exception):
    """A file body ended early: the file shrank while it was sent."""


class _SinkError(Exception):
    """Writing what was received failed (a local error, e.g. ENOSPC)."""


class _Disconnected(ConnectionError):
    """The server closed the connection before an answer began."""


class _Response:
    __slots__ = ("status", "headers", "will_close")

    def __init__(self, status, headers, will_close):
        self.status = status
        self.headers = headers
        self.will_close = will_close

    def getheader(self, name, default=None):
        return self.headers.get(name.lower(), default)


class _HTTPConn:
    """One keep-alive HTTP/1.1 connection: a lean replacement for
    http.client (whose header parsing through the email package cost ~15
    times the CPU per request, serialised by the GIL across the upload
    workers). Requests are written in one send (a file body with
    sendfile); answers are read by Content-Length or chunked framing."""

    def __init__(self, host, port, ssl_ctx, timeout):
        self.host, self.port = host, port
        self.ssl_ctx, self.timeout = ssl_ctx, timeout
        self.sock = None
        self.rfile = None
        hp = host if ":" not in host else "[%s]" % host
        default = 443 if ssl_ctx else 80
        self.hostport = hp if port == default else "%s:%d" % (hp, port)

    def connect(self):
        s = socket.create_connection((self.host, self.port), self.timeout)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_ctx is not None:
                s = self.ssl_ctx.wrap_socket(s, server_hostname=self.host)
        except BaseException:
            s.close()
            raise
        self.sock = s
        self.rfile = s.makefile("rb", buffering=CHUNK)

    def close(self):
        if self.rfile is not None:
            self.rfile.close()
            self.rfile = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def send(self, method, url, headers, body=None, fbody=None):
        """body: bytes (or None); fbody: (file, offset, size) sent with
        sendfile. A send that fails because the server already answered
        (e.g. 413 before the body) leaves that answer to be read."""
        if self.sock is None:
            self.connect()
        lines = ["%s %s HTTP/1.1" % (method, url), "Host: " + self.hostport]
        for k, v in headers.items():
            lines.append("%s: %s" % (k, v))
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if fbody is None:
                self.sock.sendall(head + body if body else head)
                return
            self.sock.sendall(head)
            f, pos, size = fbody
            if size:
                sent = self.sock.sendfile(f, pos, size)
                if sent != size:
                    raise _FileChanged("it shrank while it was sent (%d of"
                                       " %d bytes)" % (sent, size))
        except (BrokenPipeError, ConnectionResetError):
            if self._answer_waiting():
                return
            raise

    def _answer_waiting(self):
        try:
            import select
            r, _, _ = select.select([self.sock], [], [], 0.5)
            return bool(r) and bool(self.rfile.peek(1))
        except (OSError, ValueError):
            return False

    def response(self, method):
        line = self.rfile.readline(65537)
        if not line:
            raise _Disconnected("the server closed the connection")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise OSError("not an HTTP answer: %r" % line[:80])
        status = int(parts[1])
        headers = {}
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n"):
                break
            if not h:
                raise _Disconnected("the server closed the connection"
                                    " in an answer's head")
            k, _, v = h.decode("latin-1").partition(":")
            k = k.strip().lower()
            v = v.strip()
            headers[k] = headers[k] + ", " + v if k in headers else v
        close = (headers.get("connection", "").lower() == "close" or
                 parts[0] == b"HTTP/1.0")
        return _Response(status, headers, close)

    def read_body(self, method, resp, sink=None):
        """The answer's body (b"" when handed to sink)."""
        if method == "HEAD" or resp.status in (204, 304) or \
                100 <= resp.status < 200:
            return b""
        out = [] if sink is None else None
        put = out.append if sink is None else sink
        te = resp.headers.get("transfer-encoding", "").lower()
        if "chunked" in te:
            while True:
                ln = self.rfile.readline(65537)
                if not ln:
                    raise _Disconnected("answer cut short")
                n = int(ln.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n",
                                                             b"\n", b""):
                        pass
                    break
                self._read_n(n, put)
                self.rfile.readline(3)
        elif "content-length" in resp.headers:
            self._read_n(int(resp.headers["content-length"]), put)
        else:
            resp.will_close = True
            while True:
                b = self.rfile.read1(CHUNK)
                if not b:
                    break
                put(b)
        return b"".join(out) if out is not None else b""

    def _read_n(self, n, put):
        while n > 0:
            b = self.rfile.read1(min(n, CHUNK))
            if not b:
                raise _Disconnected("answer cut short")
            put(b)
            n -= len(b)


# ---------------------------------------------------------------- client

class Client:
    """A client of one sievefs server, as one user (the token's).

    server   https://HOST:PORT (http:// only to a loopback address), or the
             SIEVEFS_SERVER environment variable
    token    the API token; else SIEVEFS_TOKEN; else token_file (default
             ~/.config/sievefs/token), refused when group or others may
             read it or it belongs to another user (as the mount does)
    dataset  the current dataset (name or id) for methods given none
    cafile   a CA bundle for the server's certificate (else the system's)
    verbose  one line per request on stderr (method, path, status)
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
            sunk = False
            if size is not None:
                body.seek(pos)
            try:
                if size is not None:
                    conn.send(method, full, h, fbody=(body, pos, size))
                else:
                    conn.send(method, full, h, body=body)
                resp = conn.response(method)
                status = resp.status
                if sink is not None and 200 <= status < 300:
                    def counted(b):
                        nonlocal sunk
                        sunk = True
                        try:
                            sink(b)
                        except Exception as e:
                            raise _SinkError(e)
                    data = conn.read_body(method, resp, counted)
                else:
                    data = conn.read_body(method, resp)
            except (_Disconnected, ConnectionResetError,
                    BrokenPipeError) as e:
                self._conn(fresh=True)
                # a kept-alive connection the server closed meanwhile:
                # nothing was done, try once more on a new one
                if reused and attempt == 1 and not sunk:
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
        return self.get_dataset(dataset)["id"]

    def create_dataset(self, dataset_name):
        """Creates a dataset and makes it the current one; returns it."""
        d = self._json("POST", "/v1/datasets", {"name": dataset_name})
        self.dataset_id = d["id"]
        return d

    def set_dataset_id_by_name(self, dataset_name):
        self.dataset_id = self.get_dataset(dataset_name)["id"]
        return self.dataset_id

    def rename_dataset(self, dataset, new_name):
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
        self.delete_dataset(int(dataset_id))

    def info(self, dataset=None):
        return self._text("/v1/datasets/%d/info" % self._ds(dataset))

    def log(self, dataset=None):
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

    # ------------------------------------------------------------ upload

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
        pil = None
        if mode == "thumbnails":
            try:
                from PIL import Image as pil  # noqa: F401
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
        stop = threading.Event()

        def one(item):
            rel, ap, st = item
            if stop.is_set():
                return
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

        fatal = (Unauthorized, ConnectionFailed, NoSpace, TokenError)
        first_fatal = None
        with concurrent.futures.ThreadPoolExecutor(
                workers, thread_name_prefix="sievefs-up") as ex:
            futs = {ex.submit(self._in_worker, one, it): it for it in local}
            pending = set(futs)
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.2,
                    return_when=concurrent.futures.FIRST_COMPLETED)
                bar.draw()
                for f in done:
                    if f.cancelled():
                        continue
                    e = f.exception()
                    if e is None:
                        continue
                    if isinstance(e, fatal) or not isinstance(e, (Error,
                                                                  OSError)):
                        if first_fatal is None:
                            first_fatal = e
                            stop.set()
                            for p in pending:
                                p.cancel()
                    else:
                        msg = e.message if isinstance(e, Error) else str(e)
                        res.failed.append((futs[f][0], msg))
        self._close_dead()
        bar.draw(force=True)
        bar.finish()
        res.seconds = time.monotonic() - t0
        if first_fatal is not None:
            first_fatal.result = res
            raise first_fatal
        if res.failed:
            res.failed.sort()
            p, m = res.failed[0]
            e = Error("%d of %d files not uploaded; first: %s: %s"
                      % (len(res.failed), res.files, p, m))
            e.result = res
            raise e
        return res

    def _in_worker(self, fn, item):
        try:
            return fn(item)
        finally:
            pass  # the thread keeps its connection for the next file

    def _mknode(self, parent, name, kind, st):
        body = {"name": name, "kind": kind,
                "mode": stat.S_IMODE(st.st_mode),
                "uid": os.getuid(), "gid": os.getgid(),
                "mtime_ns": str(st.st_mtime_ns)}
        return self._json("POST", "/v1/nodes/%d/children" % parent, body)

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

        with concurrent.futures.ThreadPoolExecutor(
                max(1, int(workers)), thread_name_prefix="sievefs-dl") as ex:
            futs = {ex.submit(one, it): it[0] for it in files.items()}
            pending = set(futs)
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.2,
                    return_when=concurrent.futures.FIRST_COMPLETED)
                bar.draw()
                for f in done:
                    if f.cancelled():
                        continue
                    e = f.exception()
                    if e is None:
                        continue
                    if isinstance(e, (Unauthorized, ConnectionFailed)):
                        for p in pending:
                            p.cancel()
                        bar.finish()
                        raise e
                    res.failed.append((futs[f], getattr(e, "message",
                                                        str(e))))
        self._close_dead()
        bar.finish()
        if res.failed:
            res.failed.sort()
            p, m = res.failed[0]
            e = Error("%d of %d files not downloaded; first: %s: %s"
                      % (len(res.failed), len(files), p, m))
            e.result = res
            raise e
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
        return self._json("GET", "/v1/datasets/%d/embeddings"
                          % self._ds(dataset))["embeddings"]

    get_all_embedding_data = get_embeddings

    def get_embedding(self, name, dataset=None):
        return self._json("GET", "/v1/datasets/%d/embeddings?name=%s"
                          % (self._ds(dataset), _q(name)))

    def download_embeddings(self, name, dest, dataset=None):
        """Writes embeddings/NAME.csv to the file `dest`."""
        e = self.get_embedding(name, dataset)
        with open(dest, "wb") as f:
            self.request("GET", "/v1/embeddings/%d/csv" % e["id"],
                         sink=f.write)

    def delete_embedding(self, name, dataset=None):
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
        t = self.get_tag(tag, dataset)
        return self._json("PATCH", "/v1/tags/%d" % t["id"],
                          {"name": new_name})

    def delete_tag(self, tag, dataset=None):
        """Deletes a tag (never samples); Conflict not_empty if another tag
        was made from it."""
        t = self.get_tag(tag, dataset)
        self.request("DELETE", "/v1/tags/%d" % t["id"])

    def delete_tag_by_id(self, tag_id):
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
