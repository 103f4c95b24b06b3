"""sievefs._util — what the client's modules share: constants, name and
selection-line encoding, the token file check, local tree walks, the
progress line, the result records. No module state.
"""
import hashlib
import ipaddress
import json
import os
import shutil
import stat
import sys
import threading
import time
import urllib.parse

from .errors import TokenError

DEFAULT_TOKEN_FILE = "~/.config/sievefs/token"
MODES = ("full", "thumbnails", "meta")
THUMB_SIDE = 128         # as the mount: embed/thumb.h EMB_THUMB_SIDE
THUMB_QUALITY = 85       # EMB_THUMB_QUALITY
THUMB_SRC_MAX = 256 << 20  # larger files get no thumbnail (api/client_upload.c)
CHUNK = 256 * 1024
LIST_LIMIT = 10000


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
    """A selection line for path p, as core/text.c tbuf_put_path_line
    writes it: as it is, unless it is empty, starts with '"', '#' or a
    space, ends with a space or holds a control byte; then C-quoted."""
    needs = (not p or p.startswith(('"', "#", " ")) or p.endswith(" ") or
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


_NAMED = dict(zip(b'"\\abtnvfr', b'"\\\a\b\t\n\v\f\r'))


def _unquote_line(line):
    """The path of a selection line, as the server reads one (core/names.c
    over core/text.c core_path_unquote): a trailing CR dropped; a line that
    starts with '"' and is well-formed quoting (a closing quote at its end,
    known escapes, octal as three digits, no NUL) decoded; any other line,
    a malformed quoted one too, is the path itself."""
    if line.endswith("\r"):
        line = line[:-1]
    if not line.startswith('"'):
        return line
    raw = line.encode("utf-8", "surrogateescape")
    out = bytearray()
    i, n = 1, len(raw) - 1
    ok = n >= 1 and raw[n] == ord('"')
    while ok and i < n:
        c = raw[i]
        if c == ord('"'):
            ok = False                      # an unescaped quote inside
        elif c != ord("\\"):
            out.append(c)
        elif i + 1 < n and raw[i + 1] in _NAMED:
            i += 1
            out.append(_NAMED[raw[i]])
        elif (i + 3 < n and all(48 <= d <= 55 for d in raw[i + 1:i + 4])
              and 0 < int(raw[i + 1:i + 4], 8) <= 255):
            out.append(int(raw[i + 1:i + 4], 8))
            i += 3
        else:
            ok = False
        i += 1
    if not ok:
        return line
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
