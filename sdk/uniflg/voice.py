"""Voices: load one (the embedded default or a folder) and synthesize or animate with it.

A voice folder holds ``voice.json`` (:class:`VoiceSpec`: model config, speakers, emotions, neutral face,
per-name utterance latents, graph receptive fields, versions) plus the split ONNX graphs of
:mod:`uniflg.backends.graphs` and/or ``model.safetensors`` (torch backend). ``uniflg export`` writes one.

Quick start::

    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice

    voice = load_voice()                                   # the embedded default voice
    for chunk in voice.synthesize("こんにちは", SynthesisOptions(seed=1)):
        play(chunk.audio); draw(chunk.landmarks)           # frames whose start times fall in this audio
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from uniflg.audio import resample, to_mono_float
from uniflg.audio_file import check_sample_rate
from uniflg.backends import open_backend
from uniflg.backends.base import Backend, BackendOptions
from uniflg.backends.graphs import AXIS_RANGES, fixed_dims
from uniflg.conditioning import ConditioningOptions, InputConditioner
from uniflg.errors import InvalidInputError, LimitExceededError, ModelFormatError, NotFoundError, UniFLGError
from uniflg.inference import (
    Runtime,
    SpeechAnimator,
    SpeechGraphs,
    TextPlan,
    chunk_plan,
    decode_audio,
    decode_landmarks,
    frames_in,
    live_speech_context,
    offline_graphs,
    plan_text,
    speech_lookahead_seconds,
)
from uniflg.landmarks import N_POINTS
from uniflg.limits import CHUNK_SECONDS, NOISE_SCALE, SPEED, Range, check_nonempty, check_seed
from uniflg.streaming import StreamResampler
from uniflg.types import FrameChunk, StreamInfo, SynthesisChunk, SynthesisOptions
from uniflg.voice_files import check_weights_config
from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE, WEIGHTS_FILE, VoiceSpec

log = logging.getLogger(__name__)

LIVE_BLOCK_FRAMES = 3  # speech-driven frames per block when a look-ahead bound is asked for (100 ms)
MAX_CHUNK_SECONDS = 2.0  # streamed chunks grow from chunk_seconds to this (less window overhead)
Z_U_SECONDS = 1.0  # speech-driven: z_u comes from the first second of the input (see SpeechAnimator)


class Piece(NamedTuple):
    """One synthesis call's worth of text, checked: a sentence (or part of a long one) of a text."""

    ids: np.ndarray  # (1, N) int64 symbol ids
    prosody: np.ndarray  # (1, N, P) int64 prosody features
    language: str | None  # the front end's language of the piece; None: an encoded utterance that does not say


Condition = tuple[np.ndarray, np.ndarray]  # (g (1,) int64, z_u (1, Du) float32) of one piece


@dataclass(frozen=True)
class SpeechPath:
    """One way this voice turns speech into landmarks, and the audio it needs past a frame before emitting it."""

    name: str  # "offline": the full posterior encoder + flow and landmark decoder
    lookahead_ms: float


def load_voice(path: str | Path | None = None, backend: str = "auto", threads: int | None = None,
               options: BackendOptions | None = None, stored_calibration: bool = True) -> Voice:
    """Load a voice folder (None: the embedded default voice) on ``backend`` (auto|torch|onnxruntime|tensorrt).
    ``stored_calibration`` False: voice.json's ``face_calibration`` is neither checked nor used (for measuring a new
    one, as ``uniflg calibrate-face`` does, when the stored one is malformed).
    InvalidInputError for a ``path`` that is not a str or Path or ``options`` that are not BackendOptions;
    ModelFormatError for a broken folder; BackendUnavailableError when the backend cannot run here."""
    if path is not None and not isinstance(path, str | Path):
        raise InvalidInputError(f"path must be a voice folder (str or pathlib.Path) or None; got {type(path).__name__}")
    if options is not None and not isinstance(options, BackendOptions):
        raise InvalidInputError(f"options must be a uniflg.backends.BackendOptions or None; got "
                                f"{type(options).__name__}")
    folder = Path(path) if path is not None else DEFAULT_VOICE_DIR
    spec = read_voice_spec(path, stored_calibration)
    weights = folder / spec.weights if spec.weights else None
    engine = open_backend(backend, folder, {**spec.graphs, **spec.live_graph_files()}, weights, threads, options,
                          fixed_dims(spec.config))
    model = getattr(engine, "model", None)  # the torch backend: its model carries the config it was trained with
    if model is not None and weights is not None:
        check_weights_config(spec.config, model.cfg, str(folder / VOICE_FILE))
    log.info("voice %s on %s", spec.name, engine.describe())
    return Voice(spec, engine, folder)


def read_voice_spec(path: str | Path | None = None, stored_calibration: bool = True) -> VoiceSpec:
    """The checked :class:`VoiceSpec` of a voice folder (None: the embedded default voice) without loading any
    model: every file it names is inside the folder with a sane header (``stored_calibration``: as in
    :func:`load_voice`). ModelFormatError for a broken folder, NotFoundError when there is no embedded voice."""
    from uniflg.voice_files import check_voice_folder

    folder = Path(path) if path is not None else DEFAULT_VOICE_DIR
    if path is None and not (folder / VOICE_FILE).is_file():
        raise NotFoundError("voice", "default", [])
    return check_voice_folder(folder, stored_calibration)


def check_request(spec: VoiceSpec, options: SynthesisOptions) -> None:
    """Every check of ``options`` that needs no model, as a call with them would make it: ranges (uniflg.limits),
    speaker and emotion names, and the stored utterance latent the names select (voice.json). Commands call it
    before loading the voice, so a typo costs no load. InvalidInputError / NotFoundError name what is accepted."""
    _check_options(options)
    _lookup("speaker", options.speaker, spec.speakers)
    _lookup("emotion", options.emotion, spec.emotions)
    if options.reference_audio is None:
        _stored_latent(spec, options)
    else:
        _reference_wav(options, spec.config.audio.sample_rate, spec.config.audio.hop_length)


def _reference_wav(options: SynthesisOptions, sample_rate: int, hop: int) -> np.ndarray:
    """``options.reference_audio`` checked, as mono float32 at the voice's ``sample_rate`` (InvalidInputError naming
    what is wrong: no or a bad rate, not audio, NaN, shorter than two hops)."""
    if not options.reference_sample_rate:
        raise InvalidInputError("reference_audio needs reference_sample_rate")
    check_sample_rate(options.reference_sample_rate, "reference_sample_rate")
    assert options.reference_audio is not None
    if isinstance(options.reference_audio, str | bytes | Path):
        raise InvalidInputError("reference_audio must be samples (an array), not a file name; read the file with "
                                "uniflg.audio_file.open_audio(path).read_all()")
    wav = resample(to_mono_float(options.reference_audio), options.reference_sample_rate, sample_rate)
    if wav.size < 2 * hop:
        raise InvalidInputError(f"reference_audio is too short: {wav.size} samples at {sample_rate} Hz "
                                f"(after resampling); need at least {2 * hop}")
    return wav


ARRAY_BLOCK_SAMPLES = 65536  # animate_array feeds its stream this many samples at a time (about 1.4 s at 48 kHz)


class Voice:
    """A loaded voice on one backend.

    Thread safety: a Voice may be shared by threads; calls may run concurrently (``uniflg serve`` runs one stream
    per worker thread on one Voice). The Voice keeps no per-call state (each call has its own plan, animator and
    random generator) and every backend's ``run`` is safe for concurrent callers (see
    :mod:`uniflg.backends.base`). A single iterator returned by ``synthesize``/``animate`` is not: consume each
    from one thread."""

    def __init__(self, spec: VoiceSpec, backend: Backend, folder: Path | None = None) -> None:
        self.spec, self.backend, self.folder = spec, backend, folder
        self.config = spec.config
        self.runtime = Runtime(spec.config, dict(spec.contexts))
        # speech-driven input (files, Voice.animate streams, gRPC Animate) is conditioned before the model
        self.conditioning = ConditioningOptions()
        self._warned_english = False  # _warn_untrained_english: once per voice

    # ---- description -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def speakers(self) -> tuple[str, ...]:
        return self.spec.speakers

    @property
    def emotions(self) -> tuple[str, ...]:
        return self.spec.emotions

    def speaker_for(self, language: str | None, options: SynthesisOptions | None = None) -> str | None:
        """The speaker that reads text of ``language`` (``"ja"``, ``"en"``; None: unknown) under ``options``:
        the options' speaker when they name one (it always wins), else the voice's speaker for that language
        (``voice.json`` ``language_speakers``), else None (the voice's first speaker)."""
        if options is not None and options.speaker is not None:
            return options.speaker
        return self.spec.speaker_for(language)

    @property
    def sample_rate(self) -> int:
        return self.config.audio.sample_rate

    @property
    def neutral_face(self) -> np.ndarray | None:
        """The voice's ``[70, 2]`` float32 neutral (mean) face from voice.json, or None when it has none;
        blendshape retargeting calibrates on it."""
        face = self.spec.neutral_face
        return None if face is None else np.asarray(face, np.float32)

    @property
    def lookahead_seconds(self) -> float:
        """Speech-driven streaming: audio needed past a frame before it is emitted (receptive fields)."""
        held = InputConditioner(self.sample_rate, self.conditioning).latency_samples / self.sample_rate
        return SpeechAnimator(self.backend, self.runtime, np.zeros(1, np.int64), None).lookahead_seconds + held

    def speech_paths(self) -> list[SpeechPath]:
        """The speech-driven paths this voice can run on its backend, lowest look-ahead first: the offline path
        (look-ahead = the graphs' receptive fields, about 1.1 s for the default voice) and any live paths
        (``voice.json`` ``live``; ONNX graphs, so not on the torch backend)."""
        held = InputConditioner(self.sample_rate, self.conditioning).latency_samples / self.sample_rate
        paths = [SpeechPath(name, round((speech_lookahead_seconds(self.runtime, self._graphs(name)) + held) * 1000, 1))
                 for name in self.spec.live if self._runs(name)]
        paths.append(SpeechPath("offline", round(self.lookahead_seconds * 1000, 1)))
        return sorted(paths, key=lambda p: p.lookahead_ms)

    def _runs(self, path: str) -> bool:
        # ONNX Runtime lists its graph files (sessions open on first use), TensorRT its engines; torch has neither
        known = getattr(self.backend, "paths", None) or getattr(self.backend, "engines", None) or {}
        return all(f"{path}/{g}" in known for g in ("speech_to_latent", "latent_to_landmarks"))

    def _graphs(self, path: str) -> SpeechGraphs:
        if path == "offline":
            return offline_graphs(self.runtime)
        if path not in self.spec.live:
            raise NotFoundError("speech path", path, ["offline", *self.spec.live])
        ctx = self.spec.live[path]["contexts"]
        s_left, s_right = ctx["speech_to_latent"]
        l_left, l_right = ctx["latent_to_landmarks"]
        return SpeechGraphs(f"{path}/speech_to_latent", f"{path}/latent_to_landmarks",
                            live_speech_context(s_left, s_right), (int(l_left), int(l_right)))

    def speech_path(self, max_lookahead_ms: float | None) -> SpeechPath:
        """The path with the most look-ahead within ``max_lookahead_ms`` (None: offline). Raises InvalidInputError
        naming the paths when none is within the bound."""
        paths = self.speech_paths()
        if max_lookahead_ms is None:
            return next(p for p in paths if p.name == "offline")
        if isinstance(max_lookahead_ms, bool) or not isinstance(max_lookahead_ms, int | float) \
                or not max_lookahead_ms > 0:  # also refuses NaN and "250"
            raise InvalidInputError(f"max_lookahead_ms must be above 0 ms (or None: the offline path); got "
                                    f"{max_lookahead_ms!r}")
        fitting = [p for p in paths if p.lookahead_ms <= max_lookahead_ms]
        if not fitting:
            have = ", ".join(f"{p.name} {p.lookahead_ms:.0f} ms" for p in paths)
            raise InvalidInputError(f"no speech path of voice {self.name!r} needs at most {max_lookahead_ms:g} ms "
                                    f"of look-ahead; it has: {have}{self._paths_elsewhere()}")
        return fitting[-1]  # the most look-ahead (best quality) within the bound

    def _paths_elsewhere(self) -> str:
        """Why the voice's live paths are missing from :meth:`speech_paths` on this backend ('' when none is)."""
        missing = [name for name in self.spec.live if not self._runs(name)]
        if not missing:
            return ""
        return (f" (its live path {', '.join(missing)} runs on ONNX Runtime or TensorRT, not on the "
                f"{self.backend.name} backend)")

    def stream_info(self, options: SynthesisOptions | None = None) -> StreamInfo:
        return StreamInfo(sample_rate=self.sample_rate, fps=self.config.landmarks.fps,
                          n_points=self.config.landmarks.n_points)

    # ---- text-driven (UniFLG-T, or pipelined UniFLG-P) -----------------------------------------------
    def synthesize(self, text: Any, options: SynthesisOptions | None = None) -> Iterator[SynthesisChunk]:
        """Stream speech and landmarks for ``text``: a string of any length (split at sentence ends into
        pieces that stream one after another, see :func:`uniflg.text.split_text`), a
        :class:`uniflg.text.Passage`, or an encoded utterance with ``ids`` and ``prosody``. Input is validated
        now (errors raise here, not at the first ``next``); ``SynthesisChunk.sentence`` says which piece a
        chunk belongs to."""
        options = options or SynthesisOptions()
        self._check_text_faces(options.mode)
        return self._stream_pieces(self._prepare(text, options), options)

    def synthesize_all(self, text: Any, options: SynthesisOptions | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Whole text at once -> (audio float32 (S,), landmarks float32 (round(S/sr*30), 70, 2)); text of
        several pieces gives the concatenated stream of :meth:`synthesize`."""
        options = options or SynthesisOptions()
        self._check_text_faces(options.mode)
        pieces = self._prepare(text, options)
        if len(pieces) > 1:
            chunks = list(self._stream_pieces(pieces, options))
            return np.concatenate([c.audio for c in chunks]), np.concatenate([c.landmarks for c in chunks])
        conditions, rng = self._start(options, pieces)
        plan = self._plan_piece(pieces[0], conditions[0], rng, options)
        audio = decode_audio(self.backend, self.runtime, plan, 0, plan.frames)
        if options.mode == "p":
            return audio, self._animate_whole(audio, plan.g, plan.z_u)
        lm = decode_landmarks(self.backend, self.runtime, plan.landmark_latent, plan.g, plan.z_u, 0,
                              plan.landmark_frames)
        return audio, lm

    def landmarks_from_text(self, text: Any, options: SynthesisOptions | None = None) -> np.ndarray:
        """Landmarks only (no waveform decoding): the cheapest text path. Text of several pieces: their frames
        in a row, each piece but the last padded to whole frames as in :meth:`synthesize`."""
        options = options or SynthesisOptions()
        self._check_text_faces("t")
        pieces = self._prepare(text, options)
        conditions, rng = self._start(options, pieces)
        out = []
        for k, (piece, condition) in enumerate(zip(pieces, conditions, strict=True)):
            plan = self._plan_piece(piece, condition, rng, options)
            lm = decode_landmarks(self.backend, self.runtime, plan.landmark_latent, plan.g, plan.z_u, 0,
                                  plan.landmark_frames)
            out.append(lm if k == len(pieces) - 1 else self._pad_piece(plan, np.zeros(0, np.float32), lm)[1])
        return np.concatenate(out)

    def _check_text_faces(self, mode: str) -> None:
        """STL-D's landmark decoder reads spectrograms, not the text path's latents: it draws faces from speech."""
        if mode == "t" and not self.config.variant.text_faces:
            raise InvalidInputError(f"voice {self.name!r} is {self.config.variant.name}: its landmark decoder reads "
                                    "speech, so the text path draws no face; "
                                    "animate speech, or synthesize in pipelined mode ('p'; gRPC "
                                    "SYNTHESIS_MODE_PIPELINED)")

    def speech_seconds(self, text: Any, options: SynthesisOptions | None = None) -> float:
        """Length in seconds of the speech ``text`` gives at ``options`` (text encoder and duration predictor
        only; no waveform is decoded). Text of several pieces: their sum (without the under-one-frame padding
        between them)."""
        options = options or SynthesisOptions()
        pieces = self._prepare(text, options)
        conditions, rng = self._start(options, pieces)
        frames = sum(self._plan_piece(p, c, rng, options).frames for p, c in zip(pieces, conditions, strict=True))
        return frames * self.runtime.hop / self.sample_rate

    def phoneme_timing(self, text: Any, options: SynthesisOptions | None = None
                       ) -> list[tuple[str, float, float]]:
        """(symbol, start s, end s) per front-end token of ``text`` (a string, a Passage, or an encoded
        utterance with ``symbols``), from the duration predictor at ``options``: the timing that
        :meth:`synthesize` and :meth:`landmarks_from_text` use at the same options and seed, pieces of a long
        text one after another (each but the last padded to whole landmark frames, as those do)."""
        options = options or SynthesisOptions()
        _check_options(options)
        if isinstance(text, str):
            if not text.strip():
                raise InvalidInputError("text is empty")
            from uniflg.text.frontend import split_text

            text = split_text(text, options.language, options.strict_text)
        utterances = list(text.utterances) if hasattr(text, "utterances") else [text]
        pieces = [self._encode(u, options) for u in utterances]
        conditions, rng = self._start(options, pieces)
        sr, hop, fps = self.sample_rate, self.runtime.hop, self.runtime.fps
        out: list[tuple[str, float, float]] = []
        start = 0
        for k, (utterance, piece, condition) in enumerate(zip(utterances, pieces, conditions, strict=True)):
            symbols = tuple(getattr(utterance, "symbols", ()))
            plan = self._plan_piece(piece, condition, rng, options)
            if len(symbols) != len(plan.d_spec):
                raise InvalidInputError("phoneme timing needs utterances with one symbol per token")
            ends = start + np.cumsum(np.asarray(plan.d_spec, np.int64)) * hop  # samples
            out += [(s, float(e - d * hop) / sr, float(e) / sr) for s, d, e in zip(symbols, plan.d_spec, ends,
                                                                                   strict=True)]
            if k < len(pieces) - 1:  # the next piece starts after this one's padding (see _pad_piece)
                start += int(round(-(-plan.frames * hop * fps // sr) * sr / fps))
        return out

    def _prepare(self, text: Any, options: SynthesisOptions) -> list[Piece]:
        _check_options(options)
        return self._encode_pieces(text, options)

    def _start(self, options: SynthesisOptions, pieces: list[Piece]
               ) -> tuple[list[Condition], np.random.Generator]:
        """-> ((g, z_u) per piece, the generator the pieces' noise comes from, in order).

        Each piece is conditioned as if :meth:`speaker_for` its language had been named, so a text in one
        language gives exactly what naming that speaker gives. When a later piece changes speaker, UniFLG keeps
        the stream's z_u (one speaking style throughout) and changes g; UniFLG-AS, whose z_u is the speaker,
        takes that speaker's (the named one's stored latent, else the voice's default)."""
        rng = np.random.default_rng(options.seed)
        speakers = [self.speaker_for(p.language, options) for p in pieces]
        if any(p.language == "en" and s is None for p, s in zip(pieces, speakers, strict=True)):
            self._warn_untrained_english()
        g, z_u = self._condition(replace(options, speaker=speakers[0]))
        assert z_u is not None  # only speech-driven animation leaves z_u to the input speech
        known: dict[str | None, Condition] = {speakers[0]: (g, z_u)}
        for name in speakers[1:]:
            if name in known:
                continue
            if self.config.variant.conditioning == "emotion":
                g_k, z_k = self._condition(replace(options, speaker=name))
                assert z_k is not None
                known[name] = (g_k, z_k)
            else:
                known[name] = (np.array([_lookup("speaker", name, self.speakers)], dtype=np.int64), z_u)
        return [known[name] for name in speakers], rng

    def _plan(self, text: Any, options: SynthesisOptions) -> TextPlan:
        """The plan of one utterance (the first piece of a longer text)."""
        pieces = self._prepare(text, options)
        conditions, rng = self._start(options, pieces)
        return self._plan_piece(pieces[0], conditions[0], rng, options)

    def _plan_piece(self, piece: Piece, condition: Condition, rng: np.random.Generator,
                    options: SynthesisOptions) -> TextPlan:
        g, z_u = condition
        return plan_text(self.backend, self.runtime, piece.ids, piece.prosody, g, z_u, rng, options.noise_scale,
                         options.noise_scale_duration, options.landmark_noise_scale, 1.0 / options.speed)

    def _stream_pieces(self, pieces: list[Piece], options: SynthesisOptions) -> Iterator[SynthesisChunk]:
        conditions, rng = self._start(options, pieces)  # now: an unknown speaker or emotion raises here
        return self._piece_chunks(pieces, options, conditions, rng)

    def _piece_chunks(self, pieces: list[Piece], options: SynthesisOptions, conditions: list[Condition],
                      rng: np.random.Generator) -> Iterator[SynthesisChunk]:
        """One stream across the pieces of a long text, each with its (g, z_u) (see :meth:`_start`); each
        piece but the last is padded to whole landmark frames (see :meth:`_pad_piece`), so frame ``j`` of the
        stream still starts at sample ``j * sr / fps``."""
        sr, hop = self.sample_rate, self.runtime.hop
        first = max(1, int(np.ceil(options.chunk_seconds * sr / hop)))
        index = sample0 = frame0 = 0
        before: np.ndarray | None = None  # the last frame sent, for padding after a chunk without frames
        for k, (piece, condition) in enumerate(zip(pieces, conditions, strict=True)):
            plan = self._plan_piece(piece, condition, rng, options)
            chunks = chunk_plan(plan.frames, first, max(first, int(MAX_CHUNK_SECONDS * sr / hop)))
            stream = self._stream_pipelined(plan, chunks) if options.mode == "p" else self._stream_parallel(plan,
                                                                                                           chunks)
            final = k == len(pieces) - 1
            samples = frames = 0
            for c in stream:
                audio, lm = c.audio, c.landmarks
                if c.is_last and not final:
                    audio, lm = self._pad_piece(plan, audio, lm, before)
                if len(lm):
                    before = lm[-1]
                yield SynthesisChunk(index, sample0 + c.sample_offset, sr, audio, frame0 + c.first_frame, lm,
                                     c.is_last and final, sentence=k)
                index += 1
                samples, frames = c.sample_offset + audio.size, c.first_frame + len(lm)
            sample0, frame0 = sample0 + samples, frame0 + frames

    def _pad_piece(self, plan: TextPlan, audio: np.ndarray, landmarks: np.ndarray,
                   before: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Pad a piece's last audio with silence to a whole number of landmark frames, repeating its last frame
        where rounding left one short, so the next piece starts on a frame boundary. ``before``: the last frame
        sent before ``landmarks``, for a last chunk that carries no frame of its own."""
        sr, fps = self.sample_rate, self.runtime.fps
        samples = plan.frames * self.runtime.hop
        n_frames = -(-samples * fps // sr)  # ceil
        pad = int(round(n_frames * sr / fps)) - samples
        extra = n_frames - plan.landmark_frames
        if extra > 0:
            held = landmarks[-1:] if len(landmarks) else before if before is not None else self._rest_frame()
            landmarks = np.concatenate([landmarks, np.repeat(held.reshape(1, -1, 2), extra, axis=0)])
        return np.concatenate([audio, np.zeros(max(pad, 0), np.float32)]), landmarks.astype(np.float32, copy=False)

    def _rest_frame(self) -> np.ndarray:
        """A piece that drew no frame at all (not seen in practice) holds the voice's neutral face."""
        face = self.spec.neutral_face
        return np.asarray(face, np.float32) if face is not None else np.zeros((N_POINTS, 2), np.float32)

    def _stream_parallel(self, plan: TextPlan, chunks: list[tuple[int, int]]) -> Iterator[SynthesisChunk]:
        rt, hop = self.runtime, self.runtime.hop
        for i, (f0, f1) in enumerate(chunks):
            last = i == len(chunks) - 1
            audio = decode_audio(self.backend, rt, plan, f0, f1)
            j0, j1 = frames_in(rt, f0, f1, plan.landmark_frames, last)
            lm = decode_landmarks(self.backend, rt, plan.landmark_latent, plan.g, plan.z_u, j0, j1)
            yield SynthesisChunk(i, f0 * hop, self.sample_rate, audio, j0, lm, last)

    def _stream_pipelined(self, plan: TextPlan, chunks: list[tuple[int, int]]) -> Iterator[SynthesisChunk]:
        """UniFLG-P: audio from the text path, landmarks from that audio by the speech-driven animator. An audio
        chunk goes out once the frames that start inside it are ready (the animator's look-ahead)."""
        rt, hop = self.runtime, self.runtime.hop
        animator = SpeechAnimator(self.backend, rt, plan.g, plan.z_u, Z_U_SECONDS)
        frames: list[np.ndarray] = []
        have = 0
        pending: list[tuple[int, int, int, np.ndarray]] = []
        index = 0
        for i, (f0, f1) in enumerate(chunks):
            last = i == len(chunks) - 1
            audio = decode_audio(self.backend, rt, plan, f0, f1)
            blocks = animator.push(audio) if not last else animator.push(audio) + animator.finish()
            for b in blocks:
                frames.append(b)
                have += len(b)
            pending.append((f0, f1, i, audio))
            lm_all = np.concatenate(frames) if frames else np.zeros((0, N_POINTS, 2), np.float32)
            while pending:
                p0, p1, pi, paudio = pending[0]
                p_last = pi == len(chunks) - 1
                j0, j1 = frames_in(rt, p0, p1, rt.n_land(plan.frames * hop), p_last)
                if j1 > have and not (last and p_last):
                    break
                pending.pop(0)
                yield SynthesisChunk(index, p0 * hop, self.sample_rate, paudio, j0, lm_all[j0:j1], p_last)
                index += 1

    # ---- speech-driven (UniFLG-S) --------------------------------------------------------------------
    def animate(self, chunks: Iterable[np.ndarray], sample_rate: int,
                options: SynthesisOptions | None = None) -> Iterator[FrameChunk]:
        """Landmarks from streamed mono audio chunks (float32 or int16) at ``sample_rate``. Frames are
        emitted as audio arrives, each about :attr:`lookahead_seconds` after its audio (or the selected path's
        look-ahead with ``options.max_lookahead_ms``). z_u: from the options (emotion, speaker or reference audio),
        else from the first second of the input, except with ``max_lookahead_ms`` (live input), where the voice's
        first stored latent is used so that the first frames need not wait for that second."""
        if isinstance(chunks, np.ndarray):  # iterating one array gives samples, not chunks
            raise InvalidInputError("animate takes an iterable of audio chunks; for one whole array use "
                                    "animate_array(audio, sample_rate)")
        if isinstance(chunks, str | bytes) or not isinstance(chunks, Iterable):
            raise InvalidInputError(f"animate takes an iterable of audio chunks (arrays); got {type(chunks).__name__}")
        options = options or SynthesisOptions()
        _check_options(options)
        sample_rate = check_sample_rate(sample_rate, "sample_rate")
        g, z_u = self._condition(options, speech_driven=True)
        path = self.speech_path(options.max_lookahead_ms)
        block = 6 if options.max_lookahead_ms is None else LIVE_BLOCK_FRAMES
        if z_u is None and options.max_lookahead_ms is not None:
            z_u = self._stored_latent()  # live input: a first second of input would delay every frame by a second
        return self._animate_stream(chunks, int(sample_rate), g, z_u, block, path.name)

    def warm_up(self, text: bool = True) -> None:
        """Run every speech path once on a second of silence, and the input conditioning once: ONNX Runtime
        opens sessions on first use and its first runs plan memory, and the conditioning's filter imports
        scipy.signal on first audio (~0.3 s), all of which would otherwise make a live stream's first frames
        late (measured over gRPC Animate: the first frame 540 ms after its audio instead of 270 ms). With ``text``
        the text path runs once too, on one short word (a server's first Synthesize took 0.4 s instead of 0.1 s);
        a process that only animates speech (``uniflg live``) leaves it out, and with it the text front end's
        dictionaries (about 70 MB resident)."""
        InputConditioner(self.sample_rate, self.conditioning).push(np.zeros(self.sample_rate // 10, np.float32))
        try:
            if text:
                self.synthesize_all("hello" if self.spec.language == "en" else "あ", SynthesisOptions(seed=0))
        except UniFLGError as exc:  # a voice whose text path cannot run here has nothing there to warm
            log.debug("warm-up: the text path did not run (%s)", exc)
        g = np.zeros(1, np.int64)
        z_u = self._stored_latent()
        if z_u is None:
            z_u = np.zeros((1, self.config.vits.utterance_dim), np.float32)
        for path in self.speech_paths():
            animator = self.speech_animator(g, z_u, path.name, LIVE_BLOCK_FRAMES)
            animator.push(np.zeros(self.sample_rate, np.float32))
            animator.finish()

    def _stored_latent(self) -> np.ndarray | None:
        """The first stored utterance latent (the voice's first emotion, e.g. normal), if the voice has any."""
        for table in self.spec.latents.values():
            for values in table.values():
                return np.asarray(values, np.float32).reshape(1, -1)
        return None

    def speech_animator(self, g: np.ndarray, z_u: np.ndarray | None, path: str = "offline",
                        block_frames: int = LIVE_BLOCK_FRAMES) -> SpeechAnimator:
        """A push-based animator on one of :meth:`speech_paths` (for callers that drive it themselves): ``g`` int64
        ``[1]``, the speaker (UniFLG-AS: emotion) row; ``z_u`` float32 ``[1, utterance_dim]`` or None (estimated from
        the first :data:`Z_U_SECONDS` of speech). Its :meth:`~uniflg.inference.SpeechAnimator.push` takes mono float
        samples at the voice's rate, already conditioned (:meth:`input_conditioner`). InvalidInputError for another
        ``g`` or ``z_u``, or when ``g`` selects a speaker the path's graphs do not hold (:meth:`path_speakers`);
        NotFoundError for an unknown ``path``."""
        g = np.asarray(g)
        if g.shape != (1,) or g.dtype.kind not in "iu" or not 0 <= int(g[0]) < len(self.config.condition_names):
            raise InvalidInputError(f"g must be an integer array [1] holding a speaker row 0.."
                                    f"{len(self.config.condition_names) - 1} ({', '.join(self.config.condition_names)})"
                                    f"; got {g.dtype} {list(g.shape)}" + (f" = {g.tolist()}" if g.size <= 4 else ""))
        if z_u is not None:
            z_u = np.asarray(z_u)
            want = (1, self.config.vits.utterance_dim)
            if z_u.shape != want or z_u.dtype.kind != "f" or not np.all(np.isfinite(z_u)):
                raise InvalidInputError(f"z_u must be finite floats of shape {list(want)} (or None: estimated from "
                                        f"the speech); got {z_u.dtype} {list(z_u.shape)}")
            z_u = z_u.astype(np.float32, copy=False)
        if isinstance(block_frames, bool) or not isinstance(block_frames, (int, np.integer)) or block_frames < 1:
            raise InvalidInputError(f"block_frames must be a whole number >= 1; got {block_frames!r}")
        self._check_path_speaker(path, g.astype(np.int64))
        return SpeechAnimator(self.backend, self.runtime, g, z_u, Z_U_SECONDS, block_frames, self._graphs(path))

    def path_speakers(self, path: str) -> tuple[str, ...]:
        """The speakers (UniFLG-AS: emotions) a speech path's graphs hold rows for: every one for the offline path;
        for a live path those of the voice it was distilled from (``voice.json`` ``live.PATH.speakers``; a voice that
        learned new speakers later, e.g. a new language, keeps live paths that know only the earlier ones)."""
        names = self.config.condition_names
        if path == "offline":
            return names
        self._graphs(path)  # unknown path: NotFoundError naming the paths
        return tuple(self.spec.live[path].get("speakers", names))

    def _check_path_speaker(self, path: str, g: np.ndarray) -> None:
        known = self.path_speakers(path)
        if int(g[0]) >= len(known):
            raise InvalidInputError(f"the {path} speech path knows {', '.join(known)}, not "
                                    f"{self.config.condition_names[int(g[0])]} (added "
                                    "after it was distilled): name one of those, or leave max_lookahead_ms unset for "
                                    "the offline path")

    def animate_array(self, audio: np.ndarray, sample_rate: int,
                      options: SynthesisOptions | None = None) -> np.ndarray:
        """Whole clip -> landmarks (round(seconds * 30), 70, 2); equals the concatenated stream, and is fed to it in
        blocks of :data:`ARRAY_BLOCK_SAMPLES`, so memory does not grow with the clip beyond the clip itself."""
        a = np.asarray(audio)
        blocks = ([a] if a.ndim == 0 or len(a) <= ARRAY_BLOCK_SAMPLES else
                  (a[i:i + ARRAY_BLOCK_SAMPLES] for i in range(0, len(a), ARRAY_BLOCK_SAMPLES)))
        parts = [c.landmarks for c in self.animate(blocks, sample_rate, options)]
        return np.concatenate(parts) if parts else np.zeros((0, N_POINTS, 2), np.float32)

    def input_conditioner(self, path: str | SpeechPath = "offline") -> InputConditioner:
        """The input conditioning (:mod:`uniflg.conditioning`) that speech path ``path`` reads: the voice's
        ``conditioning``, and for live paths the same without the noise floor for empty input. A live path is a
        small network distilled on input without that floor: it reads digital silence as silence (the default
        voice's live250: mean lip gap 0.05x of speech's) but a noise floor as a half-open mouth (0.19x), while the
        offline path shows the opposite (0.12x on digital silence, 0.03x on the floor; ``uniflg eval robustness``).
        ``path``: a name or what :meth:`speech_path` returns."""
        if isinstance(path, SpeechPath):
            path = path.name
        if path == "offline":
            return InputConditioner(self.sample_rate, self.conditioning)
        self._graphs(path)  # unknown path: NotFoundError naming the paths
        return InputConditioner(self.sample_rate, replace(self.conditioning, noise_floor_dbfs=None))

    def _animate_stream(self, chunks: Iterable[np.ndarray], sample_rate: int, g: np.ndarray,
                        z_u: np.ndarray | None, block_frames: int = 6, path: str = "offline"
                        ) -> Iterator[FrameChunk]:
        animator = self.speech_animator(g, z_u, path, block_frames)
        resampler = StreamResampler(sample_rate, self.sample_rate)
        conditioner = self.input_conditioner(path)
        fps, emitted = self.config.landmarks.fps, 0
        for chunk in chunks:
            for block in animator.push(conditioner.push(resampler.push(to_mono_float(chunk)))):
                yield FrameChunk(emitted, block, fps, False)
                emitted += len(block)
        tail = conditioner.push(resampler.finish())
        blocks = animator.push(np.concatenate([tail, conditioner.finish()])) + animator.finish()
        block = np.concatenate(blocks) if blocks else np.zeros((0, N_POINTS, 2), np.float32)
        yield FrameChunk(emitted, block, fps, True)

    def _animate_whole(self, audio: np.ndarray, g: np.ndarray, z_u: np.ndarray) -> np.ndarray:
        animator = SpeechAnimator(self.backend, self.runtime, g, z_u, Z_U_SECONDS)
        return np.concatenate(animator.push(audio) + animator.finish())

    # ---- inputs ----------------------------------------------------------------------------------------
    def _encode_pieces(self, text: Any, options: SynthesisOptions) -> list[Piece]:
        """A string or Passage -> a checked :class:`Piece` per sentence piece; an utterance -> one."""
        if isinstance(text, str):
            check_nonempty(text)
            try:
                from uniflg.text.frontend import split_text
            except ImportError as exc:
                raise ModelFormatError(f"the text front end is not available: {exc}") from exc
            text = split_text(text, options.language, options.strict_text)
        if hasattr(text, "utterances"):
            return [self._encode(u, options) for u in text.utterances]
        return [self._encode(text, options)]

    def _encode(self, text: Any, options: SynthesisOptions) -> Piece:
        """An encoded utterance (``ids``, ``prosody``, optionally ``language``) -> a checked :class:`Piece`
        (without a ``language`` attribute: the options' language unless it is "auto")."""
        if not (hasattr(text, "ids") and hasattr(text, "prosody")):
            raise InvalidInputError(f"text must be a str, a Passage or an encoded utterance (ids, prosody); got "
                                    f"{type(text).__name__}")
        for name in ("ids", "prosody"):
            given = np.asarray(getattr(text, name))
            if given.dtype.kind not in "iu":  # 2.7 would be truncated to 2, a string or 2**70 raise from NumPy
                raise InvalidInputError(f"{name} must be whole numbers (int64); got an array of dtype {given.dtype}")
        ids = np.asarray(text.ids, dtype=np.int64).reshape(1, -1)
        prosody = np.asarray(text.prosody, dtype=np.int64)
        n_prosody = len(self.config.text.prosody_cardinalities)
        if ids.size == 0:
            raise InvalidInputError("the text encodes to no symbols")
        if ids.size > AXIS_RANGES["tokens"][2]:
            raise LimitExceededError(f"text too long: {ids.size} symbols; at most {AXIS_RANGES['tokens'][2]} "
                                     "per call (split it into sentences)")
        if prosody.shape != (ids.size, n_prosody):
            raise InvalidInputError(f"prosody must be ({ids.size}, {n_prosody}); got {prosody.shape}")
        if ids.min() < 0 or ids.max() >= self.config.text.n_symbols:
            raise InvalidInputError(f"symbol ids must be in [0, {self.config.text.n_symbols}); "
                                    f"got [{ids.min()}, {ids.max()}]")
        for i, n in enumerate(self.config.text.prosody_cardinalities):
            if prosody[:, i].min() < 0 or prosody[:, i].max() >= n:
                raise InvalidInputError(f"prosody feature {i} must be in [0, {n}); "
                                        f"got [{prosody[:, i].min()}, {prosody[:, i].max()}]")
        language = getattr(text, "language", None) or (None if options.language == "auto" else options.language)
        return Piece(ids, prosody[None], language)

    def condition_index(self, options: SynthesisOptions) -> int:
        """g, the row of the model's global embedding that ``options`` select: the named speaker's (UniFLG) or
        the named emotion's (UniFLG-AS); 0 where none is named. Both names are checked (NotFoundError)."""
        speaker = _lookup("speaker", options.speaker, self.speakers)
        emotion = _lookup("emotion", options.emotion, self.emotions)
        return emotion if self.config.variant.conditioning == "emotion" else speaker

    def _condition(self, options: SynthesisOptions, speech_driven: bool = False
                   ) -> tuple[np.ndarray, np.ndarray | None]:
        """-> (g (1,) int64, z_u (1, Du) or None = from the input speech).

        g indexes the speaker (UniFLG) or the emotion (UniFLG-AS). z_u, in this order of precedence: the
        reference audio's utterance-encoder mean; the stored latent of the named emotion (UniFLG) or speaker
        (UniFLG-AS); for speech-driven animation, the input speech itself; else the voice's default stored
        latent (its first, e.g. ``normal``), or the prior's mean 0 for a voice that stores none.

        Not a draw from N(0, I): z_u's KL weight is small (0.02), so the training utterances' latents sit well
        inside that prior (the default voice's stored latents have norms 0.8-2.6; a 16-dim N(0, I) draw about 4),
        and a draw gave each seed a face and voice style no training utterance had (a mouth that read as /a/ on
        every vowel, a sad face in neutral speech)."""
        g = np.array([self.condition_index(options)], dtype=np.int64)
        if options.reference_audio is not None:
            return g, self._reference_latent(options)
        stored = _stored_latent(self.spec, options)
        if stored is not None:
            return g, stored
        if speech_driven:
            return g, None
        default = self._stored_latent()
        return g, default if default is not None else np.zeros((1, self.config.vits.utterance_dim), np.float32)

    def _warn_untrained_english(self) -> None:
        """Once per voice: English text, and the voice names no speaker for English (a voice whose text path
        learned English exports one, ``uniflg export --language-speaker en=NAME``)."""
        if self._warned_english:
            return
        self._warned_english = True
        log.warning("voice %s names no English speaker (voice.json language_speakers), so its first speaker, %s, "
                    "reads the English text; a voice whose text path learned English names one. The embedded "
                    "voice learned Japanese only: listeners will understand little of its English, while the face "
                    "follows the English phonemes (docs/model-card.md, \"English\")", self.name, self.speakers[0])

    def _reference_latent(self, options: SynthesisOptions) -> np.ndarray:
        wav = _reference_wav(options, self.sample_rate, self.runtime.hop)
        return self.backend.run("utterance_encoder", {"wav": wav[None]})["mu_u"].astype(np.float32)


def _lookup(kind: str, name: str | None, choices: tuple[str, ...]) -> int:
    if name is None:
        return 0
    if name not in choices:
        raise NotFoundError(kind, name, choices)
    return choices.index(name)


def _stored_latent(spec: VoiceSpec, options: SynthesisOptions) -> np.ndarray | None:
    """(1, Du) float32: voice.json's latent of the named emotion (UniFLG) or speaker (UniFLG-AS); None when no
    name is given; NotFoundError when the voice stores none for the name."""
    as_variant = spec.config.variant.conditioning == "emotion"
    kind, name = ("speaker", options.speaker) if as_variant else ("emotion", options.emotion)
    return None if name is None else _named_latent(spec, kind, name)


def _named_latent(spec: VoiceSpec, kind: str, name: str) -> np.ndarray:
    """The stored z_u ``(1, Du)`` of emotion or speaker ``name``; NotFoundError naming the stored ones."""
    table = spec.latents.get(kind, {})
    if name not in table:
        raise NotFoundError(f"{kind} latent", name, list(table))
    return np.asarray(table[name], np.float32).reshape(1, -1)


def _check_options(o: SynthesisOptions) -> None:
    if not isinstance(o, SynthesisOptions):
        raise InvalidInputError(f"options must be a uniflg.types.SynthesisOptions (or None: the defaults); got "
                                f"{type(o).__name__}")
    if o.mode not in ("t", "p"):
        raise InvalidInputError(f"mode must be 't' or 'p'; got {o.mode!r}")
    SPEED.check(o.speed)
    for name in ("noise_scale", "noise_scale_duration", "landmark_noise_scale"):
        Range(name, NOISE_SCALE.lo, NOISE_SCALE.hi).check(getattr(o, name))
    CHUNK_SECONDS.check(o.chunk_seconds)
    if o.seed is not None:
        check_seed(o.seed)
    from uniflg.text.charset import LANGUAGES

    if o.language not in ("auto", *LANGUAGES):  # an option, not text the front end could not read
        raise InvalidInputError(f"language must be auto or one of {', '.join(LANGUAGES)}; got {o.language!r}")
    if not isinstance(o.strict_text, bool):
        raise InvalidInputError(f"strict_text must be True or False; got {o.strict_text!r}")
    if o.reference_sample_rate is not None and o.reference_audio is None:
        raise InvalidInputError("reference_sample_rate is given without reference_audio")
    lookahead = o.max_lookahead_ms
    if lookahead is not None and (isinstance(lookahead, bool) or not isinstance(lookahead, int | float)
                                  or not lookahead > 0):  # also refuses NaN
        raise InvalidInputError(f"max_lookahead_ms must be above 0 ms (or None: the offline path); got {lookahead!r}")


def random_voice(config_name: str, path: str | Path, seed: int = 0, onnx: bool = True,
                 name: str | None = None, **changes: Any) -> Path:
    """Write a randomly initialized voice (for tests and benchmarks) to ``path``: ``model.safetensors``,
    ``voice.json`` and, with ``onnx``, the ONNX graphs; ``changes`` override fields of the named config
    (e.g. ``variant``, ``speakers``). Needs torch (and onnx for the graphs)."""
    import torch

    from uniflg.config import named_config
    from uniflg.model.system import UniFLG
    from uniflg.voice_writer import write_voice

    torch.manual_seed(seed)
    model = UniFLG(named_config(config_name, **changes))
    rng = np.random.default_rng(seed)
    Du = model.cfg.vits.utterance_dim
    kind, names = (("speaker", model.cfg.speakers) if model.cfg.variant.conditioning == "emotion"
                   else ("emotion", model.cfg.emotions))
    latents = {kind: {n: rng.standard_normal(Du).round(4).tolist() for n in names}}
    return write_voice(model, Path(path), name or f"random-{config_name}", latents, onnx=onnx, weights=True)


__all__ = ["DEFAULT_VOICE_DIR", "VOICE_FILE", "WEIGHTS_FILE", "SpeechPath", "Voice", "VoiceSpec", "check_request",
           "load_voice", "random_voice", "read_voice_spec"]
