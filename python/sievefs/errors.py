"""sievefs.errors — the exceptions of the client: sievefs.Error and one
subclass per HTTP status (as requests' exceptions.py), each carrying the
server's `code`, `errno` name and `message` (docs/api.md, "Errors").
No module state.
"""
import json


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
    if status == 507 and code == "no_space":
        # the server's bare strerror would read as a local disk's
        message = ("the server's disk is full (%s): free space on the"
                   " server, or ask its admin; an upload run again goes on"
                   " where it stopped" % message)
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else Error)
    return cls(message, status, code, errno, method, path)
