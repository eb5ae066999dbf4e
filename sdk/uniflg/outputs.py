"""File outputs of ``uniflg speak`` / ``uniflg animate``: ``speech.wav`` (PCM16 mono),
``landmarks.npy`` (float32 [T, 70, 2]), ``landmarks.json`` (fps, layout, sample_rate, frames) and
``preview.mp4`` (drawn by :mod:`uniflg.preview`, speech muxed when given). Thin writers; no model code."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from uniflg.audio import pcm16
from uniflg.landmarks import FPS, OPENPOSE_70

log = logging.getLogger(__name__)


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    import soundfile as sf

    sf.write(str(path), pcm16(audio), sample_rate, subtype="PCM_16")
    return path


def write_landmarks(folder: Path, landmarks: np.ndarray, sample_rate: int, fps: int = FPS,
                    layout: str = OPENPOSE_70) -> tuple[Path, Path]:
    """-> (landmarks.npy, landmarks.json). The JSON repeats the frames as nested lists for non-NumPy tools."""
    landmarks = np.asarray(landmarks, np.float32)
    npy, meta = folder / "landmarks.npy", folder / "landmarks.json"
    np.save(npy, landmarks)
    meta.write_text(json.dumps({"fps": fps, "layout": layout, "sample_rate": sample_rate,
                                "n_points": int(landmarks.shape[1]) if landmarks.ndim == 3 else 0,
                                "frames": np.round(landmarks, 5).tolist()}), encoding="utf-8")
    return npy, meta


def write_preview(path: Path, landmarks: np.ndarray, fps: int = FPS, audio: np.ndarray | None = None,
                  sample_rate: int | None = None) -> Path | None:
    """preview.mp4 via :func:`uniflg.preview.render_preview`; -> None (logged) when ffmpeg is unavailable."""
    from uniflg.preview import render_preview

    try:
        return render_preview(path, landmarks, audio=audio, sample_rate=sample_rate, fps=fps)
    except (OSError, RuntimeError) as exc:
        log.warning("no preview: %s", exc)
        return None
