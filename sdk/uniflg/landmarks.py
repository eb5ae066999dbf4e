"""The landmark layouts the SDK emits, and their drawing topology.

OpenPose face-70: iBUG-68 points plus the two pupils. "Right" is the subject's right.
Coordinates: x to the right, y down, normalized so that the model's mean face fits the unit square
([0, 1] x [0, 1]). Frame ``i`` covers time ``i / fps`` seconds of the audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uniflg.errors import InvalidInputError

FPS = 30
OPENPOSE_70 = "openpose70"
N_POINTS = 70


@dataclass(frozen=True)
class Region:
    name: str
    indices: tuple[int, ...]
    closed: bool


def _span(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


REGIONS: tuple[Region, ...] = (
    Region("jaw", _span(0, 16), False),
    Region("right_brow", _span(17, 21), False),
    Region("left_brow", _span(22, 26), False),
    Region("nose_bridge", _span(27, 30), False),
    Region("nose_base", _span(31, 35), False),
    Region("right_eye", _span(36, 41), True),
    Region("left_eye", _span(42, 47), True),
    Region("outer_lip", _span(48, 59), True),
    Region("inner_lip", _span(60, 67), True),
    Region("right_pupil", (68,), False),
    Region("left_pupil", (69,), False),
)

LIPS = _span(48, 67)
INNER_LIP = _span(60, 67)
RIGHT_EYE_CORNERS = (36, 39)
LEFT_EYE_CORNERS = (42, 45)


def check_track(track: object, what: str = "landmarks", *, single: bool = False, empty: bool = False,
                dtype: type = np.float32) -> np.ndarray:
    """The one check of a landmark track: -> ``[T, 70, 2]`` array of ``dtype``; with ``single`` a lone ``[70, 2]``
    frame is accepted as ``[1, 70, 2]``; with ``empty`` T may be 0. Raises :class:`InvalidInputError` naming
    ``what`` for another shape, no frames, or NaN / infinite values."""
    arr: np.ndarray = np.asarray(track, dtype=dtype)
    if single and arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1:] != (N_POINTS, 2):
        accepted = f"[T, {N_POINTS}, 2]" + (f" or [{N_POINTS}, 2]" if single else "")
        raise InvalidInputError(f"{what} have shape {tuple(arr.shape)}, expected {accepted}")
    if not empty and arr.shape[0] == 0:
        raise InvalidInputError(f"{what} have no frames")
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"{what} contain NaN or infinite values")
    return arr


def connections() -> list[tuple[int, int]]:
    """Line segments (i, j) that draw the face."""
    edges: list[tuple[int, int]] = []
    for region in REGIONS:
        idx = region.indices
        edges.extend(zip(idx[:-1], idx[1:], strict=True))
        if region.closed:
            edges.append((idx[-1], idx[0]))
    return edges


def frame_count(seconds: float, fps: int = FPS) -> int:
    """Landmark frames for a clip: T_land = round(seconds * fps)."""
    return int(round(seconds * fps))
