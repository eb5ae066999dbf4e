"""Runtime subcommands of ``uniflg``: ``speak``, ``animate``, ``bench`` and ``info`` (DESIGN section 4)."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from uniflg import __version__
from uniflg.backends import BACKEND_NAMES
from uniflg.errors import InvalidInputError, NotFoundError
from uniflg.types import SynthesisOptions

if TYPE_CHECKING:
    from uniflg.voice_spec import VoiceSpec

log = logging.getLogger(__name__)


def _out(text: str) -> None:
    """A command's result goes to stdout (logs go to stderr)."""
    sys.stdout.write(text + "\n")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("speak", help="text -> speech.wav + landmarks (+ preview.mp4)")
    p.add_argument("text")
    _common(p, text=True)
    p.set_defaults(func=speak)
    p = sub.add_parser("animate", help="speech audio file -> landmarks (+ preview.mp4)")
    p.add_argument("audio", type=Path)
    _common(p, text=False)
    p.set_defaults(func=animate)
    p = sub.add_parser("bench", help="real-time factor, first-chunk latency and memory per mode and backend")
    p.add_argument("--json", action="store_true", help="print JSON {results: [...]} only")
    p.add_argument("--seconds", type=float, default=5.0, help="length of the test sentence (default 5)")
    p.add_argument("--voice", type=Path, help="voice folder (default: the embedded voice, else a random small)")
    p.add_argument("--backends", default="all", help="comma list of backends, or all (default)")
    p.add_argument("--models", default="default,paper", help="default and/or paper (random paper-size model)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "uniflg" / "bench",
                   help="where random benchmark voices are kept")
    p.set_defaults(func=bench)
    p = sub.add_parser("info", help="voice, speakers, emotions, backends and versions")
    p.add_argument("--voice", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=info)


def _common(p: argparse.ArgumentParser, text: bool) -> None:
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.add_argument("--voice", type=Path, help="voice folder (default: the embedded voice)")
    p.add_argument("--speaker")
    p.add_argument("--emotion")
    p.add_argument("--backend", choices=BACKEND_NAMES, default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-preview", action="store_true", help="skip preview.mp4")
    if text:
        p.add_argument("--mode", choices=("t", "p"), default="t", help="t: parallel (UniFLG-T), p: pipelined")
        p.add_argument("--speed", type=float, default=1.0)
        p.add_argument("--language", default="auto")


def speak(args: argparse.Namespace) -> int:
    from uniflg.outputs import write_landmarks, write_preview, write_wav
    from uniflg.voice import load_voice

    voice = load_voice(args.voice, args.backend)
    opts = SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed, mode=args.mode,
                            speed=args.speed, language=args.language)
    chunks = list(voice.synthesize(args.text, opts))
    audio = np.concatenate([c.audio for c in chunks])
    landmarks = np.concatenate([c.landmarks for c in chunks])
    args.output.mkdir(parents=True, exist_ok=True)
    write_wav(args.output / "speech.wav", audio, voice.sample_rate)
    write_landmarks(args.output, landmarks, voice.sample_rate)
    if not args.no_preview:
        write_preview(args.output / "preview.mp4", landmarks, audio=audio, sample_rate=voice.sample_rate)
    log.info("%s: %.2f s of speech, %d frames (%s)", args.output, audio.size / voice.sample_rate,
                len(landmarks), voice.backend.describe())
    return 0


def animate(args: argparse.Namespace) -> int:
    import soundfile as sf

    from uniflg.outputs import write_landmarks, write_preview
    from uniflg.voice import load_voice

    if not args.audio.is_file():
        raise InvalidInputError(f"audio file not found: {args.audio}")
    try:
        audio, rate = sf.read(str(args.audio), dtype="float32", always_2d=False)
    except RuntimeError as exc:
        raise InvalidInputError(f"cannot read audio {args.audio}: {exc}") from exc
    voice = load_voice(args.voice, args.backend)
    opts = SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed)
    landmarks = voice.animate_array(audio, int(rate), opts)
    args.output.mkdir(parents=True, exist_ok=True)
    write_landmarks(args.output, landmarks, int(rate))
    if not args.no_preview:
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        write_preview(args.output / "preview.mp4", landmarks, audio=mono, sample_rate=int(rate))
    log.info("%s: %d frames (%s)", args.output, len(landmarks), voice.backend.describe())
    return 0


# ---- info ----------------------------------------------------------------------------------------------------
def info(args: argparse.Namespace) -> int:
    from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

    folder = args.voice or DEFAULT_VOICE_DIR
    data: dict[str, Any] = {"uniflg": __version__, "python": platform.python_version(), "voice": None}
    if (folder / VOICE_FILE).is_file():
        spec, usable = _voice_backends(folder)
        data["voice"] = {"name": spec.name, "path": str(folder), "config": spec.config.name,
                         "variant": spec.config.variant.name, "speakers": list(spec.speakers),
                         "emotions": list(spec.emotions), "sample_rate": spec.config.audio.sample_rate,
                         "fps": spec.config.landmarks.fps, "layout": "openpose70",
                         "graphs": sorted(spec.graphs), "contexts": spec.contexts,
                         "backends": {k: (v or "available") for k, v in usable.items()}}
    elif args.voice:
        raise NotFoundError("voice", str(args.voice), [])
    for module in ("numpy", "onnxruntime", "torch", "tensorrt"):
        try:
            data[module] = __import__(module).__version__
        except ImportError:
            data[module] = None
    if args.json:
        _out(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for key, value in data.items():
            _out(f"{key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value}")
    return 0


# ---- bench ---------------------------------------------------------------------------------------------------
SENTENCE = "こんにちは。今日はとてもいい天気ですね、一緒に公園まで散歩に行きませんか。"


def bench(args: argparse.Namespace) -> int:
    from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

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
    results = []
    for label, folder in voices:
        for backend in _backends_for(folder, args.backends):
            results.extend(_bench_voice(label, folder, backend, args.seconds, args.repeats))
    report = {"results": results, "summary": _summary(results), "machine": _machine()}
    if args.json:
        _out(json.dumps(report, indent=2))
    else:
        for r in results:
            _out(f"{r['model']:>14} {r['backend']:>12} {r['mode']:>2}  RTF {r['rtf']:.4f}  first chunk "
                  f"{r['first_chunk_ms'] if r['first_chunk_ms'] is not None else '-':>6} ms  "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB")
        _out(json.dumps(report["summary"], indent=2))
    return 0


def _random_voice(config: str, cache: Path) -> Path:
    from uniflg.voice_spec import VOICE_FILE

    folder = cache / f"{config}-{__version__}"
    if not (folder / VOICE_FILE).is_file():
        try:
            from uniflg.voice import random_voice
        except ImportError as exc:  # pragma: no cover - random_voice imports torch lazily
            raise InvalidInputError(f"creating a random {config!r} voice needs torch: {exc}") from exc
        log.warning("writing a random %r voice to %s (once)", config, folder)
        random_voice(config, folder)
    return folder


def _voice_backends(folder: Path) -> tuple[VoiceSpec, dict[str, str]]:
    """-> (the VoiceSpec in ``folder``, backend name -> '' when usable for it, else the reason it is not)."""
    from uniflg.backends import available_backends
    from uniflg.voice_spec import read_spec

    spec = read_spec(folder)
    has_weights = spec.weights is not None and (folder / spec.weights).is_file()
    return spec, available_backends(bool(spec.graphs), has_weights)


def _backends_for(folder: Path, wanted: str) -> list[str]:
    """The requested backends that can run this voice; an unknown name is an error, an unavailable one is
    logged with its reason and skipped."""
    _, usable = _voice_backends(folder)
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


def _bench_voice(label: str, folder: Path, backend: str, seconds: float, repeats: int) -> list[dict[str, Any]]:
    from uniflg.voice import load_voice

    voice = load_voice(folder, backend)
    text = _sentence()
    opts = _options_for_length(voice, text, seconds)
    audio, _ = voice.synthesize_all(text, opts)  # warm-up; also the speech for mode s
    secs = audio.size / voice.sample_rate
    rows = []

    def row(mode: str, fn, first=None) -> None:  # noqa: ANN001
        times = [_timed(fn) for _ in range(max(1, repeats))]
        firsts = [_timed(first) for _ in range(max(1, repeats))] if first else None
        rows.append({"mode": mode, "backend": backend, "model": label, "config": voice.config.name,
                     "rtf": round(float(np.median(times)) / secs, 5), "audio_seconds": round(secs, 3),
                     "first_chunk_ms": round(float(np.median(firsts)) * 1000, 1) if firsts else None,
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
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
    opts = SynthesisOptions(seed=0)
    plan = voice._plan(text, opts)
    natural = plan.frames * voice.runtime.hop / voice.sample_rate
    return SynthesisOptions(seed=0, speed=float(np.clip(natural / seconds, 0.1, 10.0)))


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    by = {(r["model"], r["backend"], r["mode"]): r for r in results}
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
