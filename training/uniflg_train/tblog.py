"""TensorBoard logging for the trainers, and landmark preview images drawn with numpy.

:class:`TBLogger` writes only on the main process (rank 0) and does nothing elsewhere, so every rank
can call it unconditionally. Images are HWC ``uint8`` arrays.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from uniflg.preview import stroke

from uniflg_train.distributed import is_main_process

logger = logging.getLogger(__name__)

# RGB colours of overlaid sequences: reference first, then predictions.
PALETTE: tuple[tuple[int, int, int], ...] = ((40, 40, 40), (220, 50, 47), (38, 139, 210), (133, 153, 0))


class TBLogger:
    """A thin wrapper over ``torch.utils.tensorboard.SummaryWriter`` (rank 0 only)."""

    def __init__(self, log_dir: str | Path, enabled: bool | None = None) -> None:
        self.enabled = is_main_process() if enabled is None else enabled
        self._writer: Any = None
        if self.enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(log_dir))
            logger.info("TensorBoard logs in %s", log_dir)

    def scalars(self, values: Mapping[str, float], step: int, prefix: str = "") -> None:
        if self._writer is None:
            return
        for name, value in values.items():
            self._writer.add_scalar(prefix + name, float(value), step)

    def audio(self, tag: str, wav: np.ndarray, sample_rate: int, step: int) -> None:
        """Mono float audio in [-1, 1]."""
        if self._writer is None:
            return
        data = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
        self._writer.add_audio(tag, data[None, :], step, sample_rate=sample_rate)

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """An HWC uint8 image."""
        if self._writer is None:
            return
        self._writer.add_image(tag, image, step, dataformats="HWC")

    def landmarks(self, tag: str, sequences: Sequence[np.ndarray], step: int, n_frames: int = 6) -> None:
        """A strip of ``n_frames`` evenly spaced frames, sequences overlaid (reference first)."""
        if self._writer is None:
            return
        self.image(tag, landmark_strip(sequences, n_frames=n_frames), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> TBLogger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def draw_landmarks(frames: Sequence[np.ndarray], size: int = 256, margin: float = 0.08,
                   bounds: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Draw one or more ``[70, 2]`` faces (overlaid, colours from :data:`PALETTE`) on a white
    ``size x size`` canvas; returns HWC uint8. ``bounds`` = (x0, y0, x1, y1) in landmark units; by
    default the joint bounding box of the faces, squared, with a margin."""
    image = np.full((1, size, size, 3), 255, dtype=np.uint8)
    points = [np.asarray(f, dtype=np.float64).reshape(-1, 2) for f in frames]
    x0, y0, x1, y1 = bounds if bounds is not None else _square_bounds(np.concatenate(points), margin)
    scale = (size - 1) / max(x1 - x0, y1 - y0, 1e-9)
    for k, pts in enumerate(points):
        pix = (pts - np.array([x0, y0])) * scale  # (70, 2) in pixels, x right, y down
        stroke(image, pix[None], PALETTE[k % len(PALETTE)], pen=((0, 0),))
    return image[0]


def landmark_strip(sequences: Sequence[np.ndarray], n_frames: int = 6, size: int = 192) -> np.ndarray:
    """Tile ``n_frames`` evenly spaced frames side by side; sequences ``[T, 70, 2]`` are overlaid
    frame by frame (shorter ones are indexed proportionally). All tiles share one scale."""
    seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
    bounds = _square_bounds(np.concatenate([s.reshape(-1, 2) for s in seqs]), 0.08)
    tiles = []
    for pos in np.linspace(0.0, 1.0, n_frames):
        frames = [s[int(round(pos * (len(s) - 1)))] for s in seqs]
        tiles.append(draw_landmarks(frames, size=size, bounds=bounds))
    return np.concatenate(tiles, axis=1)


def _square_bounds(points: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) == 0:
        return 0.0, 0.0, 1.0, 1.0
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * (1 + margin)
    return centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half
