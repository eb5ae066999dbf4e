"""File outputs of ``uniflg speak`` / ``uniflg animate`` (DESIGN section 4): ``speech.wav`` (PCM16 mono),
``landmarks.npy`` (float32 [T, 70, 2]), ``landmarks.json`` (fps, layout, sample_rate, frames) and
``preview.mp4`` (landmarks drawn per frame, speech muxed when given). Minimal writers; no model code."""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from uniflg.audio import pcm16
from uniflg.landmarks import FPS, OPENPOSE_70, connections

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


def render_frames(landmarks: np.ndarray, size: int = 256) -> np.ndarray:
    """(T, 70, 2) -> (T, size, size, 3) uint8: white lines on black, fitted to the track's bounding box."""
    T = landmarks.shape[0]
    frames = np.zeros((T, size, size, 3), np.uint8)
    lo, hi = landmarks.reshape(-1, 2).min(0), landmarks.reshape(-1, 2).max(0)
    scale = (size * 0.8) / max(float((hi - lo).max()), 1e-6)
    pts = (landmarks - (lo + hi) / 2) * scale + size / 2  # (T, 70, 2)
    t = np.linspace(0.0, 1.0, 24)[:, None]
    for i, j in connections():
        seg = pts[:, i, None, :] * (1 - t) + pts[:, j, None, :] * t  # (T, 24, 2)
        xy = np.clip(np.round(seg).astype(np.int64), 0, size - 1)
        frame_idx = np.repeat(np.arange(T), xy.shape[1])
        frames[frame_idx, xy[..., 1].ravel(), xy[..., 0].ravel()] = 255
    return frames


def write_preview(path: Path, landmarks: np.ndarray, fps: int = FPS, audio: np.ndarray | None = None,
                  sample_rate: int | None = None, size: int = 256) -> Path | None:
    """Encode preview.mp4 with the ffmpeg bundled by imageio-ffmpeg; -> None (logged) when none is available."""
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # noqa: BLE001 - any failure to find ffmpeg only skips the preview
        log.warning("no preview: ffmpeg not available (%s)", exc)
        return None
    frames = render_frames(np.asarray(landmarks, np.float32), size)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}",
               "-r", str(fps), "-i", "-"]
        if audio is not None and sample_rate:
            wav = write_wav(Path(tmp) / "a.wav", audio, sample_rate)
            cmd += ["-i", str(wav), "-c:a", "aac", "-shortest"]
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
        proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        log.warning("no preview: ffmpeg failed: %s", proc.stderr.decode(errors="replace")[-300:])
        return None
    return path
