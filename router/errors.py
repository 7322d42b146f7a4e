"""The error tree of Interlock.

Every failure the router can name is one of these, so that callers match on a class, not a string::

    InterlockError
    ├── ConfigError              a route/source/connector file is wrong (file, line, field)
    ├── CliError                 a command cannot do what it was asked (its exit code: 1, 2, 78)
    ├── ListenError              `interlock run` cannot listen on its address (port in use)
    ├── ApiError                 an admin API request is refused (router/http/admin.py)
    ├── TemplateError            a workflow step's input template has no value to fill in
    ├── UnknownInstanceError     no workflow instance has that id
    ├── StorageError             the journal or the workflow store failed (LMDB, translated)
    │   ├── StorageOpenError     a store cannot be opened (path, permissions, format)
    │   │   └── DataDirLockedError   another live process holds the data folder (its pid)
    │   └── StorageFullError     the map or the disk is full (also an UnavailableError: 503)
    │       └── StorageFailingError  any other LMDB failure (EIO, a bad page): handled alike
    ├── IngressError             the sender got something wrong -> 4xx problem+json
    │   ├── UnknownSourceError   404
    │   ├── BadRequestError      400 (not JSON, bad shape, missing type or key)
    │   ├── SignatureError       401 (any verification failure, library exceptions included)
    │   ├── UnverifiedSourceError 403 (no verification, and the peer is not loopback)
    │   ├── RequestTimeoutError  408 (the body did not arrive before the deadline)
    │   ├── PayloadTooLargeError 413
    │   ├── UnsupportedMediaTypeError 415
    │   └── ConflictError        409 (same idempotency key, different body)
    ├── UnavailableError         the router cannot accept now -> 503 + Retry-After
    │   ├── BackpressureError    credit for new work is exhausted
    │   └── StorageFullError     the LMDB map or disk is full, or storage fails (a StorageError)
    ├── UpstreamError            a request/reply route's target failed -> 502
    │   └── UpstreamTimeoutError no answer within the route's timeout -> 504
    └── DeliveryError            an outbound attempt failed
        ├── TransientError       retry later, honouring ``retry_after``
        │   └── DeadlineError    no answer within the call's deadline
        └── PermanentError       dead-letter now; retrying cannot help
"""

from __future__ import annotations

import os


class InterlockError(Exception):
    """Base class of every error Interlock raises on purpose."""


class ConfigError(InterlockError):
    """A configuration file is invalid; ``str()`` renders ``file:line: message``."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, field: str = ""
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class CliError(InterlockError):
    """What the ``interlock`` command prints as ``error: ...`` before it exits with ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ListenError(InterlockError):
    """The ingress or the admin API cannot listen on ``host:port`` (in use, not permitted)."""

    def __init__(self, what: str, host: str, port: int, reason: str, fix: str) -> None:
        self.what = what
        self.host = host
        self.port = port
        super().__init__(f"cannot listen on {host}:{port} for the {what} ({reason}): {fix}")


class BackboneStartError(InterlockError):
    """Cluster mode cannot start: the backbone is unreachable, or disagrees with this config."""


class TemplateError(InterlockError):
    """A ``{{ /pointer }}`` in a workflow step's input has no value, or no scalar one, to fill."""


class UnknownInstanceError(InterlockError, LookupError):
    """No workflow instance has this id; ``str()`` is the id."""


class StorageError(InterlockError):
    """An LMDB failure of the journal or the workflow store, translated at the store's edge.

    Every ``lmdb.Error`` becomes one of these, so callers never catch a bare ``Exception`` to
    survive the storage layer; the original is kept as ``__cause__``.
    """


class StorageOpenError(StorageError):
    """A store cannot be opened: no such folder (read-only), permissions, or not an LMDB store."""


class DataDirLockedError(StorageOpenError):
    """Another live process holds the data folder's lock (``router/store/lock.py``).

    ``pid`` is the holder's, as it wrote it in ``DATA_DIR/LOCK`` (None if unreadable).
    """

    def __init__(self, folder: object, pid: int | None) -> None:
        self.folder = folder
        self.pid = pid
        if pid is not None and pid == os.getpid():
            who = f"another engine of this process (pid {pid})"
        else:
            who = f"another router (pid {pid if pid is not None else 'unknown'})"
        super().__init__(
            f"data folder {folder} is in use by {who}: one process per data folder; stop that "
            "one first, or choose another folder (--data-dir, INTERLOCK_DATA_DIR)"
        )


class IngressError(InterlockError):
    """A client error at the edge; rendered as RFC 9457 problem+json with ``status``."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class UnknownSourceError(IngressError):
    status = 404
    title = "Unknown source"


class BadRequestError(IngressError):
    status = 400
    title = "Bad Request"


class SignatureError(IngressError):
    status = 401
    title = "Signature verification failed"


class UnverifiedSourceError(IngressError):
    """A source that verifies nothing was posted to by a peer that is not loopback (nor allowed)."""

    status = 403
    title = "Unverified source"


class RequestTimeoutError(IngressError):
    status = 408
    title = "Request Timeout"


class PayloadTooLargeError(IngressError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMediaTypeError(IngressError):
    status = 415
    title = "Unsupported Media Type"


class ConflictError(IngressError):
    status = 409
    title = "Idempotency key reused with a different body"


class UnavailableError(InterlockError):
    """The router cannot take new work now; the sender should retry after ``retry_after`` s."""

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, retry_after: float = 1.0) -> None:
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail)


class BackpressureError(UnavailableError):
    title = "Backpressure: credit exhausted"


class StorageFullError(UnavailableError, StorageError):
    title = "Journal storage is full"


class StorageFailingError(StorageFullError):
    """An LMDB failure other than a full map or disk (EIO, a bad page): handled as a full store.

    The transaction fails, the sender gets a 503 with ``Retry-After`` and ``/readyz`` turns 503
    until a commit succeeds again.
    """

    title = "Journal storage is failing"


class UpstreamError(InterlockError):
    """A synchronous (request/reply) call failed; the caller gets ``status`` as problem+json."""

    status = 502
    title = "Bad Gateway"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class UpstreamTimeoutError(UpstreamError):
    status = 504
    title = "Gateway Timeout"


class DeliveryError(InterlockError):
    """An outbound attempt failed; subclasses say whether to retry."""


class TransientError(DeliveryError):
    """Worth retrying: timeouts, connection errors, 429, 502-504."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class DeadlineError(TransientError):
    """A connector call got no answer within its deadline (the route's or the connector's)."""


class PermanentError(DeliveryError):
    """Not worth retrying: mapping failures, 4xx other than 429, a raising transform."""


class NotFoundError(IngressError):
    """What the caller asked about does not exist (a request/reply route's target knows nothing)."""

    status = 404
    title = "Not Found"
