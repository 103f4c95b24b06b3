"""sievefs._http — one keep-alive HTTP/1.1 connection (plain or TLS),
the client's transport. Each thread of a Client has its own; nothing here
knows the API. Failure: OSError subclasses (_Disconnected when the server
closed before an answer began, _CutShort when it closed inside one),
_FileChanged, _SinkError.
"""
import select
import socket

from ._util import CHUNK


class _FileChanged(Exception):
    """A file body ended early: the file shrank while it was sent."""


class _SinkError(Exception):
    """Writing what was received failed (a local error, e.g. ENOSPC)."""


class _Disconnected(ConnectionError):
    """The server closed the connection before an answer began (nothing
    of it came: a kept-alive connection it had closed meanwhile)."""


class _CutShort(ConnectionError):
    """The connection ended inside an answer: the server had begun to
    answer, so the request may have been done."""


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
            r, _, _ = select.select([self.sock], [], [], 0.5)
            return bool(r) and bool(self.rfile.peek(1))
        except (OSError, ValueError):
            return False

    def response(self, method):
        """The head of the final answer; interim 1xx answers (100 Continue,
        103 Early Hints: a client must accept them unasked, RFC 9110
        15.2) are read and dropped."""
        line = self.rfile.readline(65537)
        if not line:
            raise _Disconnected("the server closed the connection")
        while True:
            resp = self._head(line)
            if not 100 <= resp.status < 200 or resp.status == 101:
                return resp
            line = self.rfile.readline(65537)
            if not line:
                raise _CutShort("the server closed the connection after"
                                " an interim %d answer" % resp.status)

    def _head(self, line):
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
                raise _CutShort("the server closed the connection in an"
                                " answer's head")
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
                    raise _CutShort("answer cut short")
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
                raise _CutShort("answer cut short")
            put(b)
            n -= len(b)
