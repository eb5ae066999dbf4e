"""Preview videos: landmarks drawn per frame with the face's connecting lines, speech muxed (ffmpeg).

Frames are rasterized with NumPy for the whole clip at once (no per-frame drawing calls) and piped to the
ffmpeg that imageio-ffmpeg bundles as raw RGB. ``reference`` gives a side-by-side video: prediction left
(white), reference right (orange), both mapped with the same transform so they compare directly.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from uniflg.errors import BackendUnavailableError, InvalidInputError
from uniflg.landmarks import FPS, check_track, connections

log = logging.getLogger(__name__)

PREDICTION_RGB = (235, 235, 235)
REFERENCE_RGB = (255, 150, 40)
_DISK = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # 3x3 pen


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception as exc:  # noqa: BLE001 - any failure means "no ffmpeg here"
        raise BackendUnavailableError(f"previews need ffmpeg (pip install imageio-ffmpeg): {exc}") from exc


def _transform(tracks: list[np.ndarray], size: int) -> tuple[np.ndarray, float]:
    """Offset and scale that fit all tracks (their bounding box plus 8 % margin) into a size x size panel."""
    pts = np.concatenate([t.reshape(-1, 2) for t in tracks])
    lo, hi = pts.min(0), pts.max(0)
    scale = size * 0.84 / max(float((hi - lo).max()), 1e-6)
    return (lo + hi) / 2, scale


def stroke(frames: np.ndarray, px: np.ndarray, rgb: tuple[int, int, int],
           pen: tuple[tuple[int, int], ...] = _DISK) -> np.ndarray:
    """The one landmark rasterizer: draw every face connection and point of ``px`` [T, 70, 2] (pixels, x right,
    y down) into ``frames`` [T, H, W, 3] uint8, in place, with ``pen`` offsets; pixels outside the frame or not
    finite are dropped. -> ``frames``."""
    T, H, W = frames.shape[:3]
    edges = np.array(connections())
    a, b = px[:, edges[:, 0]], px[:, edges[:, 1]]                             # (T, E, 2)
    finite = np.isfinite(px).all()
    n = int(np.ceil(np.abs(np.nan_to_num(b - a)).max())) + 2 if finite else max(H, W)  # samples per segment
    t = np.linspace(0.0, 1.0, n)[None, None, :, None]
    seg = (a[:, :, None] * (1 - t) + b[:, :, None] * t).reshape(T, -1, 2)    # (T, E*n, 2)
    seg = np.concatenate([seg, px], axis=1)
    f = np.repeat(np.arange(T), seg.shape[1])
    flat = seg.reshape(-1, 2)
    keep = np.isfinite(flat).all(axis=1)
    f, xy = f[keep], np.round(flat[keep]).astype(np.int64)
    for dy, dx in pen:
        x, y = xy[:, 0] + dx, xy[:, 1] + dy
        inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
        frames[f[inside], y[inside], x[inside]] = rgb
    return frames


def draw_frames(track: np.ndarray, size: int, centre: np.ndarray, scale: float,
                rgb: tuple[int, int, int] = PREDICTION_RGB) -> np.ndarray:
    """[T, 70, 2] -> [T, size, size, 3] uint8 on black: every connection as a 3-px line, points as dots."""
    frames = np.zeros((track.shape[0], size, size, 3), np.uint8)
    return stroke(frames, (track - centre) * scale + size / 2, rgb)


def render_preview(path: Path | str, landmarks: np.ndarray, audio: np.ndarray | None = None,
                   sample_rate: int | None = None, reference: np.ndarray | None = None, size: int = 512,
                   fps: int = FPS) -> Path:
    """Write an H.264 mp4 of ``landmarks`` [T, 70, 2] at ``fps`` (with ``audio`` muxed as AAC when given;
    ``reference`` [T', 70, 2] adds a right-hand panel). Returns the path."""
    path = Path(path)
    pred = check_track(landmarks, "landmarks")
    tracks = [pred] if reference is None else [pred, check_track(reference, "reference")]
    size += size % 2  # H.264 with yuv420p needs even dimensions
    centre, scale = _transform(tracks, size)
    panels = [draw_frames(pred, size, centre, scale, PREDICTION_RGB)]
    if reference is not None:
        ref = draw_frames(tracks[1], size, centre, scale, REFERENCE_RGB)
        T = max(panels[0].shape[0], ref.shape[0])
        panels = [np.concatenate([p, np.repeat(p[-1:], T - p.shape[0], 0)]) for p in (panels[0], ref)]
    video = np.concatenate(panels, axis=2) if len(panels) > 1 else panels[0]
    width = video.shape[2]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{size}", "-r", str(fps), "-i", "-"]
        if audio is not None:
            if not sample_rate:
                raise InvalidInputError("audio given without sample_rate")
            import soundfile as sf

            wav = Path(tmp) / "audio.wav"
            sf.write(str(wav), np.clip(np.asarray(audio, np.float32), -1, 1), int(sample_rate), subtype="PCM_16")
            cmd += ["-i", str(wav), "-c:a", "aac", "-b:a", "128k"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-r", str(fps), str(path)]
        proc = subprocess.run(cmd, input=video.tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace')[-500:]}")
    log.debug("wrote %s (%d frames, %dx%d)", path, video.shape[0], width, size)
    return path
