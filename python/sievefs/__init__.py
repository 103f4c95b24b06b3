"""sievefs — a Python client for a `sievefs serve` server (standard library only).

    import sievefs
    client = sievefs.Client(server="https://data.example.org:8420")
    client.upload_dataset("photos/", dataset="leaves", mode="full")

The token comes from the `token=` argument, the SIEVEFS_TOKEN environment
variable, or a token file (`token_file=`, default ~/.config/sievefs/token)
that only you may read. Errors raise sievefs.Error (a subclass per HTTP
status) carrying the server's code, errno name and message.
"""
from .client import (
    Client, Error, BadRequest, Unauthorized, Forbidden, NotFound,
    MethodNotAllowed, Conflict, TooLarge, BadRange, RateLimited, ServerError,
    Busy, NoSpace, ConnectionFailed, RunFailed, TokenError, UploadResult,
    DownloadResult, DEFAULT_TOKEN_FILE,
)

__version__ = "0.1.0"
__all__ = [
    "Client", "Error", "BadRequest", "Unauthorized", "Forbidden", "NotFound",
    "MethodNotAllowed", "Conflict", "TooLarge", "BadRange", "RateLimited",
    "ServerError", "Busy", "NoSpace", "ConnectionFailed", "RunFailed",
    "TokenError", "UploadResult", "DownloadResult", "DEFAULT_TOKEN_FILE",
]
