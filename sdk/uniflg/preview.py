"""Preview videos: landmarks drawn per frame with the face's connecting lines, speech muxed (ffmpeg).

Frames are rasterized with NumPy a block at a time (no per-frame drawing calls) and piped to the
ffmpeg that imageio-ffmpeg bundles as raw RGB. ``reference`` gives a side-by-side video: prediction left
(white), reference right (orange), both mapped with the same transform so they compare directly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from uniflg.errors import InvalidInputError
from uniflg.ffmpeg import ffmpeg_exe
from uniflg.landmarks import FPS, check_track, connections

log = logging.getLogger(__name__)

PREDICTION_RGB = (235, 235, 235)
REFERENCE_RGB = (255, 150, 40)
_DISK = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # 3x3 pen


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
                   fps: int = FPS, audio_path: Path | str | None = None, progress: bool = False) -> Path:
    """Write an H.264 mp4 of ``landmarks`` [T, 70, 2] at ``fps`` (with ``audio`` at ``sample_rate``, or the
    file ``audio_path``, muxed as AAC; ``reference`` [T', 70, 2] adds a right-hand panel). Frames are drawn
    and piped in blocks of :data:`BLOCK_FRAMES`, so memory does not grow with the length; ``progress`` shows a
    bar over the frames on stderr (encoding is most of a long file's run). Returns the path."""
    from tqdm import tqdm

    path = Path(path)
    pred = check_track(landmarks, "landmarks")
    tracks = [pred] if reference is None else [pred, check_track(reference, "reference")]
    size += size % 2  # H.264 with yuv420p needs even dimensions
    centre, scale = _transform(tracks, size)
    T = max(t.shape[0] for t in tracks)
    width = size * len(tracks)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{size}", "-r", str(fps), "-i", "-"]
        if audio is not None:
            if not sample_rate:
                raise InvalidInputError("audio given without sample_rate")
            import soundfile as sf

            audio_path = Path(tmp) / "audio.wav"
            sf.write(str(audio_path), np.clip(np.asarray(audio, np.float32), -1, 1), int(sample_rate),
                     subtype="PCM_16")
        if audio_path is not None:
            cmd += ["-i", str(audio_path), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k"]
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-r", str(fps), str(path)]
        with open(Path(tmp) / "ffmpeg.log", "w+b") as err:
            # its own process group, so that stopping it also stops what a wrapper script started
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)
            assert proc.stdin is not None
            watchdog = _Watchdog(proc, STALL_SECONDS)
            bar = tqdm(total=T, unit="frame", desc="preview", leave=False, disable=not progress)
            try:
                for t0 in range(0, T, BLOCK_FRAMES):
                    proc.stdin.write(_panels(tracks, t0, min(T, t0 + BLOCK_FRAMES), size, centre, scale).tobytes())
                    watchdog.poke()
                    bar.update(min(T, t0 + BLOCK_FRAMES) - t0)
            except BrokenPipeError:
                pass  # ffmpeg stopped early: its log says why
            except BaseException:  # Ctrl-C, SIGTERM, a drawing error: ffmpeg would encode on without us
                _kill(proc)
                raise
            finally:
                bar.close()
                proc.stdin.close()
                try:
                    code = proc.wait()
                except BaseException:  # a signal while ffmpeg finishes: it must not outlive us either
                    _kill(proc)
                    raise
                finally:
                    watchdog.stop()
            err.seek(0)
            message = err.read().decode(errors="replace")[-500:]
    if watchdog.fired:
        raise RuntimeError(f"ffmpeg stopped responding (no progress in {STALL_SECONDS:g} s) and was stopped")
    if code != 0:
        raise RuntimeError(f"ffmpeg failed: {message}")
    log.debug("wrote %s (%d frames, %dx%d)", path, T, width, size)
    return path


BLOCK_FRAMES = 120  # frames drawn per pipe write (4 s at 30 fps; 94 MB of RGB at 512 x 512)
STALL_SECONDS = 60.0  # ffmpeg takes a block in well under a second; a minute without one is a hung ffmpeg


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc``'s process group (POSIX) or ``proc`` itself."""
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()


class _Watchdog:
    """Kills ``proc`` when :meth:`poke` has not been called for ``seconds`` until :meth:`stop`: a hung ffmpeg
    (a stuck filesystem, a wrapper script waiting on something) would otherwise hang `speak` forever, blocked on a
    full pipe or in the final wait."""

    def __init__(self, proc: subprocess.Popen[bytes], seconds: float) -> None:
        self.proc, self.seconds, self.fired = proc, seconds, False
        self._last = time.monotonic()
        self._done = threading.Event()
        threading.Thread(target=self._watch, name="ffmpeg-watchdog", daemon=True).start()

    def poke(self) -> None:
        self._last = time.monotonic()

    def stop(self) -> None:
        self._done.set()

    def _watch(self) -> None:
        while not self._done.wait(min(1.0, self.seconds / 4)):
            if time.monotonic() - self._last > self.seconds and self.proc.poll() is None:
                self.fired = True
                _kill(self.proc)
                return


def _panels(tracks: list[np.ndarray], t0: int, t1: int, size: int, centre: np.ndarray, scale: float) -> np.ndarray:
    """Frames [t0, t1) of each track side by side (a shorter track holds its last frame) -> [n, size, W, 3]."""
    colours = (PREDICTION_RGB, REFERENCE_RGB)
    panels = []
    for track, rgb in zip(tracks, colours, strict=False):
        idx = np.minimum(np.arange(t0, t1), track.shape[0] - 1)
        panels.append(draw_frames(track[idx], size, centre, scale, rgb))
    return np.concatenate(panels, axis=2) if len(panels) > 1 else panels[0]
