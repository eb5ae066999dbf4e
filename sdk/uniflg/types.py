"""Typed values that cross the SDK's public surface: per-call options and streamed chunks.

Time always comes from the sample clock: a chunk's ``time_code`` is ``sample_offset / sample_rate`` and a
frame's time is ``frame_index / fps``; nothing here reads the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from uniflg.landmarks import FPS, N_POINTS, OPENPOSE_70

Mode = Literal["t", "p"]


@dataclass(frozen=True)
class SynthesisOptions:
    """Per-call options for text-driven synthesis (UniFLG-T, or the pipelined UniFLG-P with ``mode='p'``).

    ``speaker``/``emotion`` name entries of the voice (None: the voice's default). ``reference_audio``
    (mono float32 at ``reference_sample_rate``) sets the utterance latent z_u instead of sampling it.
    The same ``seed`` gives the same output on every backend: the runtime draws all noise and passes it
    into the graphs. ``chunk_seconds`` is the first streamed chunk's length (later chunks grow to 2 s);
    ``language`` goes to the text front end ("auto": per sentence); ``strict_text`` refuses emoji and
    decorative symbols instead of dropping them (docs/frontend.md, "Symbol policy").
    """

    speaker: str | None = None
    emotion: str | None = None
    speed: float = 1.0
    noise_scale: float = 0.667
    noise_scale_duration: float = 0.8
    # Text path: f(z_f) ~ N(mu, (sigma * scale)^2) at the landmark rate. 0 (the prior mean) by default: the
    # shipped voice's landmark decoder was trained on the mean, because its VAE-VITS is young and the prior's
    # sigma (~0.85) still swamps the signal (see docs/model-card.md). Raise it for voices trained with sampling.
    landmark_noise_scale: float = 0.0
    seed: int | None = 0
    mode: Mode = "t"
    reference_audio: np.ndarray | None = field(default=None, compare=False, repr=False)
    reference_sample_rate: int | None = None
    chunk_seconds: float = 0.5
    language: str = "auto"
    strict_text: bool = False
    # Speech-driven (animate): None keeps the offline path with its default blocks; a number picks the speech
    # path with the most look-ahead within this many ms (Voice.speech_path; none fits: InvalidInputError) and
    # emits frames in small blocks (low latency for live input); z_u then defaults to the voice's first stored
    # latent rather than the input's first second.
    max_lookahead_ms: float | None = None


@dataclass(frozen=True)
class StreamInfo:
    """What a consumer needs before the first chunk (the gRPC header mirrors it)."""

    sample_rate: int
    fps: int = FPS
    layout: str = OPENPOSE_70
    n_points: int = N_POINTS


@dataclass(frozen=True)
class SynthesisChunk:
    """A piece of synthesized speech and the landmark frames whose start times fall inside it.

    ``audio``: float32 mono in [-1, 1], starting at ``sample_offset``. ``landmarks``: float32
    ``[n, 70, 2]`` for frames ``first_frame .. first_frame + n - 1``. ``sentence``: the index of the piece of
    the text (a sentence, see ``uniflg.text.split_text``) this chunk speaks.
    """

    index: int
    sample_offset: int
    sample_rate: int
    audio: np.ndarray
    first_frame: int
    landmarks: np.ndarray
    is_last: bool
    sentence: int = 0

    @property
    def time_code(self) -> float:
        return self.sample_offset / self.sample_rate


@dataclass(frozen=True)
class FrameChunk:
    """Landmark frames produced by speech-driven animation: ``landmarks`` is ``[n, 70, 2]`` float32."""

    first_frame: int
    landmarks: np.ndarray
    fps: int = FPS
    is_last: bool = False

    @property
    def time_code(self) -> float:
        return self.first_frame / self.fps
