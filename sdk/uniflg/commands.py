"""Runtime subcommands of ``uniflg``: ``speak``, ``animate``, ``bench`` and ``info`` (docs/cli.md). Registering them
imports no model, backend or scipy code; each command imports what it runs (``bench`` lives in :mod:`uniflg.bench`)."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg import __version__, backends
from uniflg.backends import BACKEND_NAMES, add_backend_arguments, options_from_args
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
    p.add_argument("--gpu", choices=("auto", "only", "off"), default="auto",
                   help="GPU rows (onnxruntime CUDA/TensorRT providers, tensorrt; fp32 and fp16): auto adds them to "
                        "--backends all, printing 'unavailable: reason' where one cannot run; only: GPU rows alone")
    p.add_argument("--stream-seconds", default="", metavar="S1,S2,...",
                   help="also time speech-driven streaming in 20 ms pushes over clips of these lengths "
                        "(e.g. 5,300: cost per audio second should not grow with length)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "uniflg" / "bench",
                   help="where random benchmark voices are kept")
    p.set_defaults(func=_bench)
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
    add_backend_arguments(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-preview", action="store_true", help="skip preview.mp4")
    if text:
        p.add_argument("--mode", choices=("t", "p"), default="t", help="t: parallel (UniFLG-T), p: pipelined")
        p.add_argument("--speed", type=float, default=1.0)
        p.add_argument("--language", choices=("auto", "ja", "en"), default="auto",
                       help="auto (default): detected per sentence")
        p.add_argument("--strict", action="store_true",
                       help="refuse emoji and decorative symbols (default: drop them with a warning)")


def speak(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from uniflg.outputs import write_landmarks, write_preview, write_wav
    from uniflg.text import split_text
    from uniflg.voice import load_voice

    passage = split_text(args.text, args.language, args.strict)  # long text streams sentence by sentence
    voice = load_voice(args.voice, args.backend, options=options_from_args(args))
    opts = SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed, mode=args.mode,
                            speed=args.speed, language=args.language, strict_text=args.strict)
    if len(passage) == 1:
        audio, landmarks = voice.synthesize_all(passage, opts)
    else:  # stream the sentences with one progress bar
        chunks = []
        with tqdm(total=len(passage), unit="sentence", desc="speak") as bar:
            for chunk in voice.synthesize(passage, opts):
                chunks.append(chunk)
                if chunk.sentence > bar.n:
                    bar.update(chunk.sentence - bar.n)  # the sentences before this chunk's are done
            bar.update(bar.total - bar.n)
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
    voice = load_voice(args.voice, args.backend, options=options_from_args(args))
    opts = SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed)
    landmarks = voice.animate_array(audio, int(rate), opts)
    args.output.mkdir(parents=True, exist_ok=True)
    write_landmarks(args.output, landmarks, int(rate))
    if not args.no_preview:
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        write_preview(args.output / "preview.mp4", landmarks, audio=mono, sample_rate=int(rate))
    log.info("%s: %d frames (%s)", args.output, len(landmarks), voice.backend.describe())
    return 0


def _bench(args: argparse.Namespace) -> int:
    from uniflg.bench import bench, format_rows

    report = bench(args)
    if args.json:
        _out(json.dumps(report, indent=2))
    else:
        for row in format_rows(report):
            _out(row)
        _out(json.dumps(report["summary"], indent=2))
    return 0


# ---- info ----------------------------------------------------------------------------------------------------
def info(args: argparse.Namespace) -> int:
    from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

    folder = args.voice or DEFAULT_VOICE_DIR
    data: dict[str, Any] = {"uniflg": __version__, "python": platform.python_version(), "voice": None}
    if (folder / VOICE_FILE).is_file():
        spec, usable = backends.voice_backends(folder)
        data["voice"] = {"name": spec.name, "path": str(folder), "config": spec.config.name,
                         "variant": spec.config.variant.name, "speakers": list(spec.speakers),
                         "emotions": list(spec.emotions), "sample_rate": spec.config.audio.sample_rate,
                         "fps": spec.config.landmarks.fps, "layout": "openpose70",
                         "graphs": sorted(spec.graphs), "contexts": spec.contexts,
                         "live_lookahead_ms": _live_lookahead_ms(spec),
                         "live_paths": {k: v["lookahead_ms"] for k, v in spec.live.items()},
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


def _live_lookahead_ms(spec: VoiceSpec) -> float | None:
    """Audio `uniflg live` needs past a frame before sending it: the lowest look-ahead of the voice's speech paths
    (the offline path's receptive fields, or a live path's stored in voice.json)."""
    from uniflg.inference import Runtime, speech_lookahead_seconds

    if "speech_to_latent" not in spec.graphs and spec.weights is None:
        return None
    offline = speech_lookahead_seconds(Runtime(spec.config, dict(spec.contexts))) * 1000
    return round(min([offline, *(float(p["lookahead_ms"]) for p in spec.live.values())]), 1)

