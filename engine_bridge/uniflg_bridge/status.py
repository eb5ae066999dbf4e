"""The one place where errors become gRPC status codes.

SDK errors (:mod:`uniflg.errors`) and the bridge's own protocol errors map onto codes here; handlers
raise, and :func:`status_for` decides the code and message the client sees.
"""

from __future__ import annotations

import grpc
from uniflg.errors import (
    BackendUnavailableError,
    InvalidInputError,
    LimitExceededError,
    ModelFormatError,
    NotFoundError,
    UniFLGError,
)


class BridgeError(Exception):
    """Errors of the bridge itself (stream protocol, authentication, capacity)."""


class ProtocolError(BridgeError):
    """Messages of a stream came in the wrong order (audio before the header, a second header)."""


class AuthError(BridgeError):
    """Missing or wrong bearer token."""


class CapacityError(BridgeError):
    """The server already runs its maximum number of concurrent streams."""


# Checked in order: subclasses before their bases.
_CODES: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (BackendUnavailableError, grpc.StatusCode.FAILED_PRECONDITION),
    (ModelFormatError, grpc.StatusCode.FAILED_PRECONDITION),
    (UniFLGError, grpc.StatusCode.INTERNAL),
    (ProtocolError, grpc.StatusCode.FAILED_PRECONDITION),
    (AuthError, grpc.StatusCode.UNAUTHENTICATED),
    (CapacityError, grpc.StatusCode.RESOURCE_EXHAUSTED),
)


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and client-facing message for ``exc``; unexpected errors are INTERNAL and
    carry no internals."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code, str(exc) or kind.__name__
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the server log"
