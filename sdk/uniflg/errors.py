"""The runtime's one error hierarchy.

Every error the SDK raises on bad input derives from :class:`UniFLGError`; the engine bridge maps these
onto gRPC status codes in exactly one place, so each class names its intended status. Every class pickles
and unpickles to an error of the same class, message and fields (worker processes send them back to
their parent).
"""

from __future__ import annotations


class UniFLGError(Exception):
    """Base class of all SDK errors."""


class InvalidInputError(UniFLGError, ValueError):
    """The caller passed something malformed (empty text, NaN audio, a bad sample rate). -> INVALID_ARGUMENT"""


class UnsupportedTextError(InvalidInputError):
    """The text front end cannot handle some characters; ``characters`` lists them."""

    def __init__(self, message: str, characters: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.characters = characters

    def __reduce__(self) -> tuple[object, ...]:  # picklable (worker processes): rebuild from the same arguments
        return (type(self), (str(self), self.characters))


class NotFoundError(UniFLGError, LookupError):
    """A named thing does not exist (speaker, emotion, voice, backend). -> NOT_FOUND"""

    def __init__(self, kind: str, name: str, choices: list[str] | tuple[str, ...]) -> None:
        self.kind, self.name, self.choices = kind, name, tuple(choices)
        super().__init__(f"unknown {kind} {name!r}; available: {', '.join(self.choices) or '(none)'}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.kind, self.name, self.choices))


class LimitExceededError(UniFLGError):
    """A size limit was exceeded (text too long, audio too long). -> INVALID_ARGUMENT over gRPC: the request itself
    is too big and asking again will not help (a full server answers UNAVAILABLE with a retry pause instead)."""


class BackendUnavailableError(UniFLGError):
    """A requested backend is not installed or has no device here. -> FAILED_PRECONDITION"""


class ModelFormatError(UniFLGError):
    """A voice or checkpoint on disk is missing files or is inconsistent. -> FAILED_PRECONDITION"""


class StoppedBySignalError(UniFLGError):
    """A long job (training) stopped on SIGINT or SIGTERM after saving its work; rerunning it resumes. The command
    line exits 128 + ``signum`` (130, 143), so a script running stages in turn stops too."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message, signum)
        self.signum = signum

    def __str__(self) -> str:
        return str(self.args[0])
