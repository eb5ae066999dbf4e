"""The NumPy half of inference, shared by every backend: noise, duration rounding and expansion, the 30 fps
clock, windowed (streaming) decoding and the speech-driven animator. The graphs themselves run on a
:class:`uniflg.backends.base.Backend`.

Windowing is exact: a window is decoded with ``context`` frames of real input on each side (the graph's
receptive field, measured at export time and stored in ``voice.json``) and only its centre is kept, so the
streamed chunks equal the whole-utterance result to float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from uniflg.backends.base import Backend
from uniflg.config import ModelConfig
from uniflg.errors import InvalidInputError
from uniflg.streaming import TailBuffer
from uniflg.timing import durations_from_log, landmark_durations, landmark_frames


@dataclass(frozen=True)
class Runtime:
    """What the NumPy side needs to know about a voice's model."""

    cfg: ModelConfig
    contexts: dict[str, int]  # graph name -> context frames each side (spectrogram or landmark frames)

    @property
    def sample_rate(self) -> int:
        return self.cfg.audio.sample_rate

    @property
    def hop(self) -> int:
        return self.cfg.audio.hop_length

    @property
    def fps(self) -> int:
        return self.cfg.landmarks.fps

    @property
    def latent_dim(self) -> int:
        return self.cfg.vits.inter_channels

    def n_land(self, n_samples: int) -> int:
        return landmark_frames(n_samples, self.sample_rate, self.fps)


def expand(x: np.ndarray, durations: np.ndarray, total: int) -> np.ndarray:
    """Token rate (1, D, N) -> frame rate (1, D, total) by integer durations (N,); frames past sum() are 0."""
    idx = np.repeat(np.arange(durations.size), durations)[:total]
    out = np.zeros((x.shape[0], x.shape[1], total), dtype=np.float32)
    out[..., : idx.size] = x[..., idx]
    return out


# The longest one token (a phoneme, a pause) may last, at speed 1 (slower speech: in proportion). Held vowels in the
# training data last under a second; the cap only binds when a large noise_scale_duration draws tokens of minutes.
MAX_TOKEN_SECONDS = 2.0


@dataclass
class TextPlan:
    """A text utterance after the duration step: everything the windowed decoders need."""

    g: np.ndarray  # (1,) int64
    z_u: np.ndarray  # (1, Du)
    d_spec: np.ndarray  # (N,) spectrogram frames per token
    z_p: np.ndarray  # (1, D, T) prior sample at the spectrogram rate
    landmark_latent: np.ndarray  # (1, D, L) prior sample at 30 fps
    z: np.ndarray | None = field(default=None, repr=False)  # f^-1(z_p); frames [0, z_done) are final
    z_done: int = 0

    @property
    def frames(self) -> int:
        return self.z_p.shape[2]

    @property
    def landmark_frames(self) -> int:
        return self.landmark_latent.shape[2]


def plan_text(backend: Backend, rt: Runtime, ids: np.ndarray, prosody: np.ndarray, g: np.ndarray,
              z_u: np.ndarray, rng: np.random.Generator, noise_scale: float, noise_scale_duration: float,
              landmark_noise_scale: float, length_scale: float) -> TextPlan:
    """Run the text encoder and draw the noise, in a fixed order: durations (1,2,N), latent (1,D,T),
    landmarks (1,D,L). Mirrors ``UniFLG.infer_text``."""
    N, D = ids.shape[1], rt.latent_dim
    duration_noise = (rng.standard_normal((1, 2, N)) * noise_scale_duration).astype(np.float32)
    out = backend.run("text_encoder", {"ids": ids, "prosody": prosody, "g": g, "z_u": z_u,
                                       "duration_noise": duration_noise})
    longest = int(np.ceil(MAX_TOKEN_SECONDS * max(1.0, length_scale) * rt.sample_rate / rt.hop))
    d_spec = durations_from_log(out["log_durations"][0, 0], length_scale, longest)
    T = max(int(d_spec.sum()), 1)
    m, logs = expand(out["m_p"], d_spec, T), expand(out["logs_p"], d_spec, T)
    latent_noise = rng.standard_normal((1, D, T)).astype(np.float32) * np.float32(noise_scale)
    z_p = m + latent_noise * np.exp(logs)
    L = rt.n_land(T * rt.hop)
    d_land = landmark_durations(d_spec, L)
    land_noise = rng.standard_normal((1, D, L)).astype(np.float32) * np.float32(landmark_noise_scale)
    lm, llogs = expand(out["m_p"], d_land, L), expand(out["logs_p"], d_land, L)
    return TextPlan(g, z_u, d_spec, z_p.astype(np.float32), (lm + land_noise * np.exp(llogs)).astype(np.float32))


def _window(total: int, start: int, end: int, context: int) -> tuple[int, int]:
    return max(0, start - context), min(total, end + context)


def decode_audio(backend: Backend, rt: Runtime, plan: TextPlan, f0: int, f1: int) -> np.ndarray:
    """Waveform of spectrogram frames [f0, f1): samples [f0*hop, f1*hop)."""
    a, b = _window(plan.frames, f0, f1, rt.contexts.get("latent_to_speech", 0))
    _inverse_flow_until(backend, rt, plan, b)
    assert plan.z is not None  # filled up to frame b by the inverse flow
    wav = backend.run("latent_to_speech", {"z": plan.z[..., a:b], "g": plan.g, "z_u": plan.z_u})["wav"][0]
    return wav[(f0 - a) * rt.hop:(f1 - a) * rt.hop]


def _inverse_flow_until(backend: Backend, rt: Runtime, plan: TextPlan, end: int) -> None:
    """Extend f^-1(z_p) to frames [0, end), windowed with the flow's receptive field (the whole utterance at
    once when the voice does not record it), so the first chunk does not wait for the whole flow."""
    if plan.z is None:
        plan.z = np.zeros_like(plan.z_p)
    if end <= plan.z_done:
        return
    context = rt.contexts.get("inverse_flow")
    if context is None:
        end = plan.frames
        context = 0
    a, b = _window(plan.frames, plan.z_done, end, context)
    z = backend.run("inverse_flow", {"z_p": plan.z_p[..., a:b], "g": plan.g, "z_u": plan.z_u})["z"]
    plan.z[..., plan.z_done:end] = z[..., plan.z_done - a:end - a]
    plan.z_done = end


def decode_landmarks(backend: Backend, rt: Runtime, latent: np.ndarray, g: np.ndarray, z_u: np.ndarray,
                     j0: int, j1: int) -> np.ndarray:
    """Landmarks of frames [j0, j1) from a landmark-rate latent (1, D', L) -> (j1 - j0, 70, 2)."""
    if j1 <= j0:
        return np.zeros((0, rt.cfg.landmarks.n_points, 2), np.float32)
    a, b = _window(latent.shape[2], j0, j1, rt.contexts.get("latent_to_landmarks", 0))
    out = backend.run("latent_to_landmarks", {"latent": latent[..., a:b], "g": g, "z_u": z_u})["landmarks"][0]
    return out[j0 - a:j1 - a]


def chunk_plan(total_frames: int, first_frames: int, max_frames: int) -> list[tuple[int, int]]:
    """Spectrogram-frame chunks: the first small (low latency), then doubling up to ``max_frames`` (less
    context overhead)."""
    chunks, start, size = [], 0, max(1, first_frames)
    while start < total_frames:
        end = min(total_frames, start + size)
        chunks.append((start, end))
        start, size = end, min(max_frames, size * 2)
    return chunks


def frames_in(rt: Runtime, f0: int, f1: int, total_land: int, last: bool) -> tuple[int, int]:
    """Landmark frames whose start time j/fps falls in the samples [f0*hop, f1*hop)."""

    def first_at(frame: int) -> int:  # smallest j with j/fps >= frame*hop/sr
        return -(-(frame * rt.hop * rt.fps) // rt.sample_rate)

    return min(first_at(f0), total_land), (total_land if last else min(first_at(f1), total_land))


@dataclass(frozen=True)
class SpeechGraphs:
    """The two graphs of a speech-driven path and the input each reads on either side of an output frame
    (left, right): spectrogram frames for speech-to-latent (its receptive field + 1 for the segment's reflect
    padding), 30 fps frames for the landmark decoder."""

    speech_to_latent: str
    latent_to_landmarks: str
    speech_context: tuple[int, int]
    landmark_context: tuple[int, int]


def offline_graphs(rt: Runtime) -> SpeechGraphs:
    """The paper's path: posterior encoder + flow and the non-causal landmark decoder (symmetric contexts)."""
    c = rt.contexts.get("speech_to_latent", 0) + 1
    c_land = rt.contexts.get("latent_to_landmarks", 0)
    return SpeechGraphs("speech_to_latent", "latent_to_landmarks", (c, c), (c_land, c_land))


def live_speech_context(left: int, right: int) -> tuple[int, int]:
    """Windowing context of a live speech-to-latent graph from its measured receptive field (each side already one
    frame wider than the reach, see ``measure_context``). The left side gets one more frame for the segment's
    reflect padding, as the offline graph does; on the right the measurement's spare frame already covers it (the
    padding, (n_fft - hop) / 2 = 128 samples, is under one hop), and every frame there is look-ahead."""
    return left + 1, right


def speech_lookahead_seconds(rt: Runtime, graphs: SpeechGraphs | None = None) -> float:
    """Audio a speech-driven path needs past a frame's end before it can emit that frame: the landmark
    decoder's right context (+1 for the interpolation) plus the speech-to-latent graph's (+2 for the
    interpolation and the hop)."""
    graphs = graphs or offline_graphs(rt)
    return (graphs.landmark_context[1] + 1) / rt.fps + (graphs.speech_context[1] + 2) * rt.hop / rt.sample_rate


class SpeechAnimator:
    """Speech-driven landmarks from audio that arrives in pieces, with a bounded look-ahead.

    Landmark frame j is emitted once the audio up to about ``(j + 1) / fps + lookahead_seconds`` has arrived,
    where the look-ahead is the receptive field of the speech-to-latent graph (spectrogram frames) plus that
    of the landmark decoder (30 fps frames); results equal the whole-clip computation. Frame j reads the
    speech latent by linear interpolation at spectrogram position ``(j + 0.5) * sr / (fps * hop) - 0.5``
    (frame centres aligned, as ``F.interpolate(..., align_corners=False)`` at the exact rate).

    Cost per audio second is constant however long the stream runs: audio, spectrogram-rate latents and
    landmark-rate latents live in :class:`~uniflg.streaming.TailBuffer` windows trimmed to what later frames
    still read, and each spectrogram frame's latent is computed once (with ``C`` frames of real audio on
    each side), so a block re-runs only the context, never earlier blocks.
    """

    def __init__(self, backend: Backend, rt: Runtime, g: np.ndarray, z_u: np.ndarray | None,
                 z_u_seconds: float = 1.0, min_block_frames: int = 6, graphs: SpeechGraphs | None = None) -> None:
        self.backend, self.rt, self.g, self.z_u = backend, rt, g, z_u
        self.z_u_samples = int(z_u_seconds * rt.sample_rate)
        self.min_block = min_block_frames
        self.graphs = graphs or offline_graphs(rt)
        self.C_left, self.C = self.graphs.speech_context  # C: future spectrogram frames a latent frame reads
        self.C_land_left, self.C_land = self.graphs.landmark_context
        self.ratio = rt.sample_rate / (rt.fps * rt.hop)
        self._audio = TailBuffer((), 8 * rt.sample_rate)
        self._spec = TailBuffer(None, 512)  # speech latent (1, D', frames), spectrogram rate
        self._land = TailBuffer(None, 256)  # the same at 30 fps
        self.emitted = 0
        self._finished = False

    @property
    def lookahead_seconds(self) -> float:
        """Audio needed past a frame's end before that frame is emitted (worst case, excluding blocking)."""
        return speech_lookahead_seconds(self.rt, self.graphs)

    @property
    def samples_received(self) -> int:
        return self._audio.end

    @property
    def buffer_capacity(self) -> tuple[int, int, int]:
        """Allocated (audio samples, spectrogram-rate latents, landmark-rate latents): bounded by the block and
        context sizes (and the largest single push), not by the stream's length."""
        return self._audio.capacity, self._spec.capacity, self._land.capacity

    def _pos(self, j: np.ndarray) -> np.ndarray:
        return (j + 0.5) * self.ratio - 0.5

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        """Add mono float samples ``(S,)`` at the model's rate; returns the landmark blocks (n, 70, 2) now final.
        InvalidInputError for another shape or dtype (``Voice.animate`` converts PCM, channels and rates), NaN or
        infinite samples, or a push after :meth:`finish`."""
        if self._finished:
            raise InvalidInputError("this stream is finished: start another animator for more speech")
        samples = np.asarray(samples)
        if samples.ndim != 1 or samples.dtype.kind != "f":
            raise InvalidInputError(f"push takes mono float samples (S,); got {samples.dtype} {list(samples.shape)} "
                                    "(Voice.animate converts PCM, channels and sample rates)")
        if samples.size:
            samples = samples.astype(np.float32, copy=False)
            if not np.all(np.isfinite(samples)):
                raise InvalidInputError("audio contains NaN or infinite samples")
            self._audio.append(samples)
        return self._advance(final=False)

    @property
    def min_samples(self) -> int:
        """Samples :meth:`finish` needs (two hops, one landmark frame's worth); fewer raise InvalidInputError."""
        return 2 * self.rt.hop

    def finish(self) -> list[np.ndarray]:
        """The remaining landmark blocks at the end of the stream; InvalidInputError under :attr:`min_samples` or
        when it was finished already."""
        if self._finished:
            raise InvalidInputError("this stream is finished already")
        blocks = self._advance(final=True)
        self._finished = True
        return blocks

    def _advance(self, final: bool) -> list[np.ndarray]:
        rt, S = self.rt, self._audio.end
        if final and self.min_samples > S:  # in ms: the count at the model's rate would not be the caller's
            raise InvalidInputError(f"audio too short to animate: {1000 * S / rt.sample_rate:.2f} ms; need at least "
                                    f"{1000 * self.min_samples / rt.sample_rate:.2f} ms (two spectrogram hops)")
        if self.z_u is None:
            if self.z_u_samples > S and not final:
                return []
            wav = self._audio.get(0, min(S, self.z_u_samples))[None]
            self.z_u = self.backend.run("utterance_encoder", {"wav": wav})["mu_u"].astype(np.float32)
        if final:
            T, ready = S // rt.hop, rt.n_land(S)
            n_lat = ready
        else:
            T = S // rt.hop - self.C  # spectrogram frames whose whole context has arrived
            if T < 2:
                return []
            n_lat = self._last_j_below(T - 1)
            ready = n_lat - self.C_land
            if ready - self.emitted < self.min_block:
                return []
        if ready <= self.emitted:
            return []
        self._extend_speech_latent(T, final)
        self._extend_landmark_latent(n_lat, T, final)
        block = self._decode(self.emitted, ready, n_lat)
        self.emitted = ready
        self._forget()
        return [block]

    def _extend_speech_latent(self, T: int, final: bool) -> None:
        """Compute the speech latent of spectrogram frames [done, T), each with C frames of context per side
        (the clip's end, reflect-padded by the graph, when ``final``)."""
        done, hop = self._spec.end, self.rt.hop
        if done >= T:
            return
        a = max(0, done - self.C_left)
        end = self._audio.end if final else (T + self.C) * hop
        assert self.z_u is not None  # set from the first second of input before any frame is decoded
        seg = self._audio.get(a * hop, end)[None]
        latent = self.backend.run(self.graphs.speech_to_latent, {"wav": seg, "g": self.g, "z_u": self.z_u})["latent"]
        self._spec.append(latent[..., done - a:T - a])

    def _extend_landmark_latent(self, n_lat: int, T: int, final: bool) -> None:
        """Interpolate landmark-rate latents [done, n_lat) from the spectrogram-rate ones (T frames so far)."""
        done = self._land.end
        if n_lat <= done:
            return
        pos = self._pos(np.arange(done, n_lat, dtype=np.float64))
        if final:
            pos = np.clip(pos, 0, T - 1)
        pos = np.maximum(pos, 0)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, T - 1)
        w = (pos - i0).astype(np.float32)
        base = int(i0.min())
        spec = self._spec.get(base, int(i1.max()) + 1)
        x0, x1 = spec[..., i0 - base], spec[..., i1 - base]
        self._land.append(((1 - w) * x0 + w * x1).astype(np.float32))  # (1, D', n_lat - done)

    def _decode(self, j0: int, j1: int, n_lat: int) -> np.ndarray:
        """Landmarks of frames [j0, j1), decoded with the landmark decoder's context on each side."""
        l0, l1 = max(0, j0 - self.C_land_left), min(n_lat, j1 + self.C_land)
        assert self.z_u is not None
        feed = {"latent": self._land.get(l0, l1), "g": self.g, "z_u": self.z_u}
        # a copy: a view would keep the whole context window's output alive as long as any frame is held
        return self.backend.run(self.graphs.latent_to_landmarks, feed)["landmarks"][0][j0 - l0:j1 - l0].copy()

    def _forget(self) -> None:
        """Trim every buffer to what the next block still reads."""
        keep_land = max(0, self.emitted - self.C_land_left)
        self._land.trim(keep_land)
        self._spec.trim(max(0, int(math.floor(self._pos(np.array(self._land.end)))) - 1))
        keep_audio = max(0, self._spec.end - self.C_left) * self.rt.hop
        if self.z_u is not None:
            self._audio.trim(keep_audio)

    def _last_j_below(self, k_max: int) -> int:
        """Number of landmark frames j >= 0 whose interpolation reads spectrogram frames <= k_max."""
        j = int(math.floor((k_max - 1 + 0.5) / self.ratio - 0.5)) + 1
        while j > 0 and math.floor(self._pos(np.array(j - 1))) + 1 > k_max:
            j -= 1
        while math.floor(self._pos(np.array(j))) + 1 <= k_max:
            j += 1
        return j
