"""``uniflg bench``: real-time factor, first-chunk latency and peak memory per mode, backend and model size.

Text-driven modes (t, t-stream, p, landmarks-from-text) and the speech-driven mode (s) each run ``--repeats`` times
after a warm-up; the figure is the median. Random voices (``paper``, ``small``, ``tiny``) are written once to
``--cache``.
"""

from __future__ import annotations

import argparse
import logging
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from uniflg import __version__
from uniflg.backends import BACKEND_NAMES, voice_backends
from uniflg.backends.base import BackendOptions
from uniflg.errors import InvalidInputError, NotFoundError, UniFLGError
from uniflg.limits import SPEED
from uniflg.procinfo import peak_rss_mb
from uniflg.types import SynthesisOptions

log = logging.getLogger(__name__)

MAX_SENTENCE_SECONDS = 600.0  # --seconds: at most this (the speed range, 0.25-4x, bounds what is reached)
MAX_STREAM_SECONDS = 3600.0  # --stream-seconds: the clip is built whole in memory (about 100 kB per second)
MIN_STREAM_SECONDS = 1.0  # and at least a second: a stream is timed over its 20 ms pushes
SENTENCE = "こんにちは。今日はとてもいい天気ですね、一緒に公園まで散歩に行きませんか。"


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark the ``uniflg bench`` options describe -> {results: [...], summary, machine}."""
    from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

    stream_lengths = _seconds_list(args.stream_seconds)  # every option before the first voice loads
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= MAX_SENTENCE_SECONDS):
        raise InvalidInputError(f"--seconds must be above 0 and at most {MAX_SENTENCE_SECONDS:g}; got {args.seconds}")
    if args.repeats < 1:
        raise InvalidInputError(f"--repeats must be 1 or more; got {args.repeats}")
    known = [n for n in BACKEND_NAMES if n != "auto"]
    for option, value, choices in (("--backends", args.backends, "all, " + ", ".join(known)),
                                   ("--models", args.models, "default, paper, small, tiny")):
        if not any(v.strip() for v in value.split(",")):  # an empty list measured nothing and exited 0
            raise InvalidInputError(f"{option} names nothing; give a comma list of: {choices}")
    for name in (n.strip() for n in args.backends.split(",") if n.strip() and args.backends != "all"):
        if name not in known:  # before a random voice is written (hundreds of MB) for a typo
            raise NotFoundError("backend", name, ["all", *known])
    voices: list[tuple[str, Path]] = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        if model == "default":
            if args.voice is not None:
                voices.append(("default", args.voice))
            elif (DEFAULT_VOICE_DIR / VOICE_FILE).is_file():
                voices.append(("default", DEFAULT_VOICE_DIR))
            else:
                log.warning("no embedded default voice yet: benchmarking a randomly initialized 'small' voice")
                voices.append(("random-small", _random_voice("small", args.cache)))
        elif model in ("paper", "small", "tiny"):
            voices.append((f"random-{model}", _random_voice(model, args.cache)))
        else:
            raise NotFoundError("bench model", model, ["default", "paper", "small", "tiny"])
    results: list[dict[str, Any]] = []
    gpu = args.gpu
    for label, folder in voices:
        if gpu != "only":
            for backend in _backends_for(folder, args.backends):
                results.extend(_bench_voice(label, folder, backend, args.seconds, args.repeats))
                results.extend(_bench_stream(label, folder, backend, stream_lengths))
        if gpu == "only" or (gpu == "auto" and args.backends == "all"):
            results.extend(_bench_gpu(label, folder, args.seconds, args.repeats, args.backends))
    return {"results": results, "summary": _summary(results), "machine": _machine()}


def format_rows(report: dict[str, Any]) -> list[str]:
    """One line per result, for people (a GPU target that cannot run here says why)."""
    return [f"{r['model']:>14} {r['backend']:>24}     {r['status']}" if r.get("status", "ok") != "ok" else
            f"{r['model']:>14} {r['backend']:>24} {r['mode']:>2} {r.get('audio_seconds', 0):>6.1f} s  "
            f"RTF {r['rtf']:.4f}  first chunk "
            f"{r['first_chunk_ms'] if r['first_chunk_ms'] is not None else '-':>6} ms  "
            f"peak RSS {r['peak_rss_mb']:.0f} MB" for r in report["results"]]


def _random_voice(config: str, cache: Path) -> Path:
    from uniflg.voice_spec import VOICE_FILE

    folder = cache / f"{config}-{__version__}"
    if not (folder / VOICE_FILE).is_file():
        try:
            from uniflg.voice import random_voice
        except ImportError as exc:  # pragma: no cover - random_voice imports torch lazily
            raise InvalidInputError(f"creating a random {config!r} voice needs torch: {exc}") from exc
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # not a folder, no permission, /proc: one line before the voice is built
            raise InvalidInputError(f"--cache {cache}: cannot make the folder {folder} ({exc.strerror or exc})") \
                from None
        log.warning("writing a random %r voice to %s (once)", config, folder)
        random_voice(config, folder)
    return folder


def _backends_for(folder: Path, wanted: str) -> list[str]:
    """The requested backends that can run this voice; an unknown name is an error, an unavailable one is
    logged with its reason and skipped."""
    _, usable = voice_backends(folder)
    if wanted == "all":
        return [n for n, why in usable.items() if not why]
    names = []
    for name in (n.strip() for n in wanted.split(",") if n.strip()):
        if name not in usable:
            raise NotFoundError("backend", name, list(usable))
        if usable[name]:
            log.warning("skipping backend %s: %s", name, usable[name])
        else:
            names.append(name)
    return names


def _bench_gpu(label: str, folder: Path, seconds: float, repeats: int, wanted: str = "all") -> list[dict[str, Any]]:
    """Rows of every GPU target (uniflg.backends.targets) of the ``wanted`` backends: measured, or one row saying
    why it cannot run."""
    from uniflg.backends import _cuda_gpu
    from uniflg.backends.onnx_backend import available_providers
    from uniflg.backends.targets import gpu_targets

    _, usable = voice_backends(folder)
    rows: list[dict[str, Any]] = []
    names = {n.strip() for n in wanted.split(",")}
    for target in gpu_targets(usable, _cuda_gpu(), available_providers()):
        if wanted != "all" and target.backend not in names:
            continue
        if target.reason:
            rows.append({"model": label, "backend": target.label, "precision": target.precision,
                         "status": f"unavailable: {target.reason}"})
            continue
        try:
            rows.extend(_bench_voice(label, folder, target.backend, seconds, repeats, target.options, target.label))
        except UniFLGError as exc:  # a GPU target that fails to load is a row, not the end of the benchmark
            rows.append({"model": label, "backend": target.label, "precision": target.precision,
                         "status": f"unavailable: {exc}"})
    return rows


def _bench_voice(label: str, folder: Path, backend: str, seconds: float, repeats: int,
                 options: BackendOptions | None = None, target: str | None = None) -> list[dict[str, Any]]:
    from uniflg.voice import load_voice

    voice = load_voice(folder, backend, options=options)
    text = _sentence()
    opts = _options_for_length(voice, text, seconds)
    audio, _ = voice.synthesize_all(text, opts)  # warm-up; also the speech for mode s
    secs = audio.size / voice.sample_rate
    rows = []

    def row(mode: str, fn, first=None) -> None:  # noqa: ANN001
        times = [_timed(fn) for _ in range(max(1, repeats))]
        firsts = [_timed(first) for _ in range(max(1, repeats))] if first else None
        rows.append({"mode": mode, "backend": target or backend, "model": label, "config": voice.config.name,
                     "status": "ok", "precision": options.precision if options and options.precision else "fp32",
                     "rtf": round(float(np.median(times)) / secs, 5), "audio_seconds": round(secs, 3),
                     "first_chunk_ms": round(float(np.median(firsts)) * 1000, 1) if firsts else None,
                     "peak_rss_mb": peak_rss_mb(),
                     "backend_detail": voice.backend.describe()})

    row("t", lambda: voice.synthesize_all(text, opts), lambda: next(voice.synthesize(text, opts)))
    row("t-stream", lambda: list(voice.synthesize(text, opts)))
    row("s", lambda: voice.animate_array(audio, voice.sample_rate),
        lambda: _first_frames(voice, audio))
    p_opts = SynthesisOptions(**{**opts.__dict__, "mode": "p"})
    row("p", lambda: voice.synthesize_all(text, p_opts), lambda: next(voice.synthesize(text, p_opts)))
    row("landmarks-from-text", lambda: voice.landmarks_from_text(text, opts))
    rows[2]["lookahead_ms"] = round(voice.lookahead_seconds * 1000, 1)
    return rows


def _seconds_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise InvalidInputError(f"--stream-seconds takes a comma list of seconds; got {text!r}") from exc
    if text.strip() and not values:  # "," measured no stream, as an empty --backends measured nothing
        raise InvalidInputError(f"--stream-seconds names no length; give a comma list of seconds (e.g. 5,300); "
                                f"got {text!r}")
    if not all(math.isfinite(v) and MIN_STREAM_SECONDS <= v <= MAX_STREAM_SECONDS for v in values):
        raise InvalidInputError(f"--stream-seconds takes seconds from {MIN_STREAM_SECONDS:g} to "
                                f"{MAX_STREAM_SECONDS:g}; got {text!r}")
    return values


def _bench_stream(label: str, folder: Path, backend: str, lengths: list[float]) -> list[dict[str, Any]]:
    """RTF of ``Voice.animate`` fed 20 ms pushes, per clip length (the synthesized sentence repeated): the cost
    per audio second of speech-driven streaming should not grow with the stream's length."""
    if not lengths:
        return []
    from uniflg.voice import load_voice

    voice = load_voice(folder, backend)
    sr = voice.sample_rate
    speech, _ = voice.synthesize_all(_sentence(), SynthesisOptions(seed=0))
    step, rows = sr // 50, []
    for seconds in lengths:
        audio = np.tile(speech, int(np.ceil(seconds * sr / speech.size)))[: int(seconds * sr)]
        frames, t0 = 0, time.perf_counter()
        for chunk in voice.animate((audio[i:i + step] for i in range(0, audio.size, step)), sr):
            frames += len(chunk.landmarks)
        elapsed = time.perf_counter() - t0
        rows.append({"mode": "s-stream-20ms", "backend": backend, "model": label, "config": voice.config.name,
                     "rtf": round(elapsed / seconds, 5), "audio_seconds": round(seconds, 3), "frames": frames,
                     "first_chunk_ms": None,
                     "peak_rss_mb": peak_rss_mb(),
                     "backend_detail": voice.backend.describe()})
    return rows


def _first_frames(voice: Any, audio: np.ndarray) -> None:
    """Compute time until the first frames when the audio arrives all at once in 20 ms pieces."""
    step = voice.sample_rate // 50
    for chunk in voice.animate((audio[i:i + step] for i in range(0, audio.size, step)), voice.sample_rate):
        if len(chunk.landmarks):
            return


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _sentence() -> Any:
    try:
        from uniflg.text.frontend import encode

        return encode(SENTENCE, language="ja")
    except Exception as exc:  # noqa: BLE001 - benchmark without a text front end: a fixed symbol sequence
        log.warning("text front end unavailable (%s): benchmarking a fixed symbol sequence", exc)
        from types import SimpleNamespace

        n = 48
        return SimpleNamespace(ids=np.arange(n) % 60 + 1, prosody=np.zeros((n, 3), np.int64))


def _options_for_length(voice: Any, text: Any, seconds: float) -> SynthesisOptions:
    """Speed that makes this voice say the sentence in about ``seconds`` (random voices have random durations)."""
    natural = voice.speech_seconds(text, SynthesisOptions(seed=0))
    speed = float(np.clip(natural / seconds, SPEED.lo, SPEED.hi))
    if abs(natural / speed - seconds) > 0.1 * seconds:  # the speed range cannot stretch the sentence that far
        log.warning("bench: the test sentence lasts %.1f-%.1f s at speeds %g-%g; measuring %.1f s, not --seconds "
                    "%g (each row's audio_seconds says what was measured)", natural / SPEED.hi, natural / SPEED.lo,
                    SPEED.lo, SPEED.hi, natural / speed, seconds)
    return SynthesisOptions(seed=0, speed=speed)


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["model"], r["backend"], r["mode"]): r for r in results if r.get("status", "ok") == "ok"}
    out: dict[str, Any] = {"t_over_p": {}, "paper_over_default": {}}
    for (model, backend, mode), r in by.items():
        if mode == "t" and (model, backend, "p") in by:
            out["t_over_p"][f"{model}/{backend}"] = round(r["rtf"] / by[(model, backend, "p")]["rtf"], 3)
        if model == "random-paper":
            for base in ("default", "random-small"):
                if (base, backend, mode) in by:
                    ratio = r["rtf"] / by[(base, backend, mode)]["rtf"]
                    out["paper_over_default"][f"{backend}/{mode}"] = round(ratio, 2)
    return out


def _machine() -> dict[str, Any]:
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_count": os.cpu_count(), "usable_cores": cores, "platform": platform.platform(),
            "python": platform.python_version(), "uniflg": __version__, "argv": sys.argv[1:]}
