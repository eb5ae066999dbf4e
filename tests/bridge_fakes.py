"""Synthetic faces for the retargeter and codec tests, and a small deterministic stand-in voice.

``synthetic_face`` draws an OpenPose-70 face in the unit square from a few controls (mouth opening,
smile, eye closure, ...), so tests can move one feature at a time. ``FakeVoice`` satisfies the bridge's
``Voice`` protocol with sine audio and faces whose mouth follows the audio envelope.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
from uniflg.errors import InvalidInputError, LimitExceededError, NotFoundError, UnsupportedTextError
from uniflg.landmarks import FPS, OPENPOSE_70
from uniflg.types import FrameChunk, StreamInfo, SynthesisChunk, SynthesisOptions


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int) -> np.ndarray:
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], -1)


def _eye(cx: float, cy: float, closure: float, pupil_dx: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """6 points: outer/inner corner order handled by the caller; lids open by (1 - closure)."""
    h = 0.025 * (1.0 - closure)
    w = 0.06
    pts = np.array([[cx - w, cy], [cx - w / 3, cy - h], [cx + w / 3, cy - h],
                    [cx + w, cy], [cx + w / 3, cy + h], [cx - w / 3, cy + h]])
    return pts, np.array([cx + pupil_dx, cy])


def synthetic_face(jaw: float = 0.0, smile: float = 0.0, blink_left: float = 0.0,
                   blink_right: float = 0.0, pucker: float = 0.0, brow_up: float = 0.0,
                   look_left: float = 0.0) -> np.ndarray:
    """A [70, 2] float32 face. ``jaw`` in [0, 1] opens the mouth; ``smile`` in [-1, 1] raises (or drops)
    the mouth corners; ``blink_*`` close the subject's eyes; ``pucker`` narrows the mouth; ``brow_up``
    raises the brows; ``look_left`` moves both pupils toward the subject's left (+x)."""
    p = np.zeros((70, 2))
    drop = 0.12 * jaw
    # angles pi..0 through the bottom (y down): point 0 at image left, the subject's right
    jaw_pts = _arc(0.5, 0.4, 0.42, 0.55, np.pi, 0.0, 17)
    jaw_pts[:, 1] += drop * np.sin(np.linspace(0, np.pi, 17))
    p[0:17] = jaw_pts
    by = 0.28 - 0.04 * brow_up
    p[17:22] = np.stack([np.linspace(0.18, 0.42, 5), by - 0.02 * np.sin(np.linspace(0, np.pi, 5))], -1)
    p[22:27] = np.stack([np.linspace(0.58, 0.82, 5), by - 0.02 * np.sin(np.linspace(0, np.pi, 5))], -1)
    p[27:31] = np.stack([np.full(4, 0.5), np.linspace(0.36, 0.55, 4)], -1)
    p[31:36] = np.stack([np.linspace(0.44, 0.56, 5), np.full(5, 0.6)], -1)
    right, pr = _eye(0.32, 0.36, blink_right, 0.02 * look_left)  # subject's right eye: image left
    left, pl = _eye(0.68, 0.36, blink_left, 0.02 * look_left)
    p[36:42], p[42:48] = right, left
    p[68], p[69] = pr, pl
    half_w = 0.13 * (1.0 - 0.3 * pucker)
    cy = 0.72
    corner_y = cy - 0.04 * smile
    top, bottom = cy - 0.03, cy + 0.03 + drop
    # outer lip 48..59: right corner, upper lip to the left corner, lower lip back
    upper = np.stack([np.linspace(0.5 - half_w, 0.5 + half_w, 7), np.full(7, top)], -1)
    upper[0, 1] = upper[6, 1] = corner_y
    upper[1:6, 1] = top
    lower = np.stack([np.linspace(0.5 + half_w, 0.5 - half_w, 7)[1:6], np.full(5, bottom)], -1)
    p[48:55] = upper
    p[55:60] = lower
    inner_top, inner_bottom = cy - 0.005, cy + 0.005 + drop * 0.95
    ih = half_w * 0.8
    p[60] = [0.5 - ih, corner_y]
    p[61:64] = np.stack([np.linspace(0.5 - ih / 2, 0.5 + ih / 2, 3), np.full(3, inner_top)], -1)
    p[64] = [0.5 + ih, corner_y]
    p[65:68] = np.stack([np.linspace(0.5 + ih / 2, 0.5 - ih / 2, 3), np.full(3, inner_bottom)], -1)
    return p.astype(np.float32)


class FakeVoice:
    """A deterministic stand-in for ``uniflg.voice.Voice``: 200 Hz tone, mouth following the envelope.

    ``delay`` (seconds per chunk) simulates inference time; ``started``/``finished`` count calls so tests
    can check that cancelled streams release their workers.
    """

    name = "fake"
    speakers: tuple[str, ...] = ("alice", "bob")
    emotions: tuple[str, ...] = ("normal", "happy", "sad")
    sample_rate = 16000

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.neutral_face = synthetic_face()
        self._lock = threading.Lock()
        self.started = 0
        self.finished = 0

    def stream_info(self, options: SynthesisOptions | None = None) -> StreamInfo:
        return StreamInfo(sample_rate=self.sample_rate, fps=FPS, layout=OPENPOSE_70, n_points=70)

    def _check(self, options: SynthesisOptions) -> None:
        if options.speaker is not None and options.speaker not in self.speakers:
            raise NotFoundError("speaker", options.speaker, self.speakers)
        if options.emotion is not None and options.emotion not in self.emotions:
            raise NotFoundError("emotion", options.emotion, self.emotions)

    def _count(self, started: int, finished: int) -> None:
        with self._lock:
            self.started += started
            self.finished += finished

    def synthesize(self, text: str, options: SynthesisOptions) -> Iterator[SynthesisChunk]:
        if not text.strip():
            raise InvalidInputError("text is empty")
        if "#" in text:
            raise UnsupportedTextError("unsupported characters: '#'", ("#",))
        if len(text) > 400:
            raise LimitExceededError("text longer than 400 characters")
        self._check(options)
        return self._synthesize(text, options)

    def _synthesize(self, text: str, options: SynthesisOptions) -> Iterator[SynthesisChunk]:
        self._count(1, 0)
        try:
            sr = self.sample_rate
            n = int(sr * 0.08 * len(text) / max(options.speed, 1e-3))
            t = np.arange(n) / sr
            audio = (0.3 * np.sin(2 * np.pi * 200 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
                np.float32)
            n_frames = int(round(n / sr * FPS))
            step = max(1, int(sr * options.chunk_seconds))
            for index, start in enumerate(range(0, n, step)):
                if self.delay:
                    time.sleep(self.delay)
                end = min(n, start + step)
                f0 = -(-start * FPS // sr)  # first frame whose start time falls in [start, end)
                f1 = n_frames if end == n else -(-end * FPS // sr)
                faces = np.stack([synthetic_face(jaw=0.5 + 0.5 * np.sin(i / 3)) for i in range(f0, f1)]) \
                    if f1 > f0 else np.zeros((0, 70, 2), np.float32)
                yield SynthesisChunk(index=index, sample_offset=start, sample_rate=sr, audio=audio[start:end],
                                     first_frame=f0, landmarks=faces, is_last=end == n)
        finally:
            self._count(0, 1)

    def animate(self, chunks: Iterator[np.ndarray], sample_rate: int,
                options: SynthesisOptions | None = None) -> Iterator[FrameChunk]:
        self._count(1, 0)
        try:
            received = 0
            emitted = 0
            for chunk in chunks:
                if self.delay:
                    time.sleep(self.delay)
                received += len(chunk)
                ready = received * FPS // sample_rate
                if ready > emitted:
                    yield self._frames(emitted, ready)
                    emitted = ready
            total = int(round(received / sample_rate * FPS))
            yield self._frames(emitted, max(total, emitted), last=True)
        finally:
            self._count(0, 1)

    @staticmethod
    def _frames(f0: int, f1: int, last: bool = False) -> FrameChunk:
        faces = np.stack([synthetic_face(jaw=0.5 + 0.5 * np.sin(i / 3)) for i in range(f0, f1)]) \
            if f1 > f0 else np.zeros((0, 70, 2), np.float32)
        return FrameChunk(first_frame=f0, landmarks=faces, is_last=last)
