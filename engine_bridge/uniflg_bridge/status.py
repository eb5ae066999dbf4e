"""The one place where errors become gRPC status codes (docs/grpc.md, "Status codes").

SDK errors (:mod:`uniflg.errors`) and the bridge's own errors map onto codes here; handlers raise, and
:func:`status_for` decides the code, the message the client sees (bounded: it never overflows gRPC's trailer
limit, whatever the request echoed) and, for "busy, retry later", the retry hint sent in the trailers.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from uniflg.errors import (
    BackendUnavailableError,
    InvalidInputError,
    LimitExceededError,
    ModelFormatError,
    NotFoundError,
    UniFLGError,
)

# Trailer keys of a retryable refusal: gRPC's own retry pushback (honoured by clients with a retry policy) and a
# plain one for clients that read metadata themselves. Both carry whole milliseconds.
RETRY_PUSHBACK_KEY = "grpc-retry-pushback-ms"
RETRY_AFTER_KEY = "retry-after-ms"
MAX_DETAIL_CHARS = 512  # a status message never exceeds this (gRPC trailers are limited to 16 KiB in all)


class BridgeError(Exception):
    """Errors of the bridge itself (stream protocol, authentication, capacity, stalls)."""


class ProtocolError(BridgeError):
    """Messages of a stream came in the wrong order (audio before the header, a second header)."""


class MalformedMessageError(BridgeError):
    """A streamed request's bytes do not parse as its protobuf message (a client's error, never the server's)."""


class AuthError(BridgeError):
    """Missing or wrong bearer token."""


class BusyError(BridgeError):
    """Every stream slot is taken and the wait queue is full (or the wait ran out): retry after a pause."""

    def __init__(self, message: str, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class StalledError(BridgeError):
    """The client sent or read nothing for too long (no header, an idle upload, an unread answer)."""


# Checked in order: subclasses before their bases.
_CODES: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (LimitExceededError, grpc.StatusCode.INVALID_ARGUMENT),  # oversized input: never retry as is
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (BackendUnavailableError, grpc.StatusCode.FAILED_PRECONDITION),
    (ModelFormatError, grpc.StatusCode.FAILED_PRECONDITION),
    (UniFLGError, grpc.StatusCode.INTERNAL),
    (ProtocolError, grpc.StatusCode.FAILED_PRECONDITION),
    (MalformedMessageError, grpc.StatusCode.INVALID_ARGUMENT),
    (AuthError, grpc.StatusCode.UNAUTHENTICATED),
    (BusyError, grpc.StatusCode.UNAVAILABLE),  # retry after the trailers' pause
    (StalledError, grpc.StatusCode.DEADLINE_EXCEEDED),
)


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    message: str
    trailers: tuple[tuple[str, str], ...] = ()


def bounded(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    note = f" ... ({len(text) - limit} more characters)"
    return text[:limit - len(note)] + note


def status_for(exc: BaseException) -> Refusal:
    """The status code, bounded client-facing message and trailers for ``exc``; unexpected errors are INTERNAL
    and carry no internals."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            trailers: tuple[tuple[str, str], ...] = ()
            if isinstance(exc, BusyError):
                ms = str(max(1, exc.retry_after_ms))
                trailers = ((RETRY_PUSHBACK_KEY, ms), (RETRY_AFTER_KEY, ms))
            return Refusal(code, bounded(str(exc) or kind.__name__), trailers)
    return Refusal(grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the server log")
