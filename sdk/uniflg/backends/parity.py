"""Parity between two loaded voices on different backends or precisions (the tests and ``make gpu-check``).

The text path is compared on a *shared plan*: the reference voice runs the text encoder and rounds durations,
then both voices decode that same plan. Rounding durations is discontinuous, so a 1e-3 change in one
log-duration can move a token boundary by a frame and misalign everything after it; that is reported separately
(``duration_mismatch``) instead of being folded into the audio SNR. The speech path feeds both the same audio.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from uniflg.inference import decode_audio, decode_landmarks
from uniflg.types import SynthesisOptions

if TYPE_CHECKING:
    from uniflg.voice import Voice


def snr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """10 log10(|ref|^2 / |ref - other|^2) over the common length, dB (inf when identical)."""
    n = min(reference.size, other.size)
    ref, x = reference.ravel()[:n].astype(np.float64), other.ravel()[:n].astype(np.float64)
    noise = float(((ref - x) ** 2).sum())
    return float("inf") if noise == 0 else float(10 * np.log10(float((ref ** 2).sum()) / noise))


@dataclass(frozen=True)
class Parity:
    audio_snr_db: float  # worst case over the texts and seeds (text path, shared plan)
    landmarks_max_abs: float  # text path, shared plan; unit-square coordinates
    speech_landmarks_max_abs: float  # speech path on the same audio
    duration_mismatch: float  # fraction of tokens whose rounded duration differs (own plans)
    cases: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(reference: Voice, other: Voice, texts: list[Any], seeds: tuple[int, ...] = (0, 1)) -> Parity:
    """Compare ``other`` against ``reference`` on every text (str or encoded) and seed."""
    snr, lm, slm, mismatched, tokens = float("inf"), 0.0, 0.0, 0, 0
    for text in texts:
        for seed in seeds:
            opts = SynthesisOptions(seed=seed)
            plan = reference._plan(text, opts)
            twin = copy.deepcopy(plan)
            a_ref = decode_audio(reference.backend, reference.runtime, plan, 0, plan.frames)
            a_oth = decode_audio(other.backend, other.runtime, twin, 0, twin.frames)
            snr = min(snr, snr_db(a_ref, a_oth))
            args = (plan.landmark_latent, plan.g, plan.z_u, 0, plan.landmark_frames)
            l_ref = decode_landmarks(reference.backend, reference.runtime, *args)
            l_oth = decode_landmarks(other.backend, other.runtime, *args)
            lm = max(lm, float(np.abs(l_ref - l_oth).max()))
            s_ref = reference.animate_array(a_ref, reference.sample_rate)
            s_oth = other.animate_array(a_ref, reference.sample_rate)
            slm = max(slm, float(np.abs(s_ref - s_oth).max()))
            own = other._plan(text, opts).d_spec
            tokens += plan.d_spec.size
            mismatched += int((own != plan.d_spec).sum()) if own.size == plan.d_spec.size else plan.d_spec.size
    return Parity(round(snr, 2), lm, slm, mismatched / max(tokens, 1), len(texts) * len(seeds))
