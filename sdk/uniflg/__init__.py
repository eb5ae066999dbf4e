"""UniFLG: speech and facial landmarks from text or speech."""

from uniflg.errors import (
    BackendUnavailableError,
    InvalidInputError,
    LimitExceededError,
    ModelFormatError,
    NotFoundError,
    UniFLGError,
    UnsupportedTextError,
)

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "InvalidInputError",
    "LimitExceededError",
    "ModelFormatError",
    "NotFoundError",
    "UniFLGError",
    "UnsupportedTextError",
    "__version__",
]
