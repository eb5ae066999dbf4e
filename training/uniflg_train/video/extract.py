"""Face video -> OpenPose-70 landmarks, calling MediaPipe in the separate video environment.

MediaPipe 0.10.21 (the last release that bundles the Face Mesh model) needs protobuf<5 and numpy<2, which
conflict with the bridge's gRPC stack (protobuf 7): it lives in ``.venv-video`` (``make video-env``) and
runs ``worker.py`` as a subprocess; the two sides exchange one .npy and one .json file.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from uniflg_train.video.mapping import to_openpose

log = logging.getLogger(__name__)

WORKER = Path(__file__).with_name("worker.py")
MAX_MISSING = 0.2  # share of frames without a face above which a video is rejected


class VideoUnavailableError(RuntimeError):
    """The video environment is missing or MediaPipe failed on the input."""


def video_python() -> Path:
    """The video environment's interpreter: $UNIFLG_VIDEO_PYTHON, else .venv-video/ in the working folder
    or in the repository that holds this package."""
    env = os.environ.get("UNIFLG_VIDEO_PYTHON")
    if env and not Path(env).is_file():
        raise VideoUnavailableError(f"UNIFLG_VIDEO_PYTHON={env} is not a file: point it at the video environment's "
                                    "python, or unset it to use .venv-video (`make video-env`)")
    candidates = [Path(env)] if env else []
    candidates += [Path.cwd() / ".venv-video/bin/python",
                   Path(__file__).resolve().parents[3] / ".venv-video/bin/python"]
    for c in candidates:
        if c.exists():
            return c
    raise VideoUnavailableError("video landmarks need the MediaPipe environment: run `make video-env`")


def mediapipe_points(src: Path) -> tuple[np.ndarray, dict]:
    """Raw Face Mesh points [T, 478, 2] (NaN where no face) and the worker's metadata."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "points.npy"
        proc = subprocess.run([str(video_python()), str(WORKER), str(src), str(out)], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            raise VideoUnavailableError(f"MediaPipe failed on {src}: {proc.stderr.strip()[-400:]}")
        return np.load(out), json.loads(out.with_suffix(".json").read_text())


def video_landmarks(src: Path) -> tuple[np.ndarray, float]:
    """OpenPose-70 landmarks [T, 70, 2] (pixels / image height) and the video's frame rate. Frames without
    a face are filled by linear interpolation; more than 20 % missing is an error."""
    points, meta = mediapipe_points(src)
    lm = to_openpose(points)
    bad = ~np.isfinite(lm).all(axis=(1, 2))
    if bad.mean() > MAX_MISSING:
        raise VideoUnavailableError(f"{src}: no face in {int(bad.sum())} of {bad.size} frames")
    if bad.any():
        good = np.flatnonzero(~bad)
        flat = lm.reshape(lm.shape[0], -1)
        for k in range(flat.shape[1]):
            flat[bad, k] = np.interp(np.flatnonzero(bad), good, flat[good, k])
        lm = flat.reshape(lm.shape)
    return lm.astype(np.float32), float(meta["fps"])
