"""Runtime subcommands of ``uniflg``: ``speak``, ``animate``, ``bench``, ``info`` and ``calibrate-face``
(docs/cli.md). Registering them imports no model, backend or scipy code; each command imports what it runs
(``bench`` lives in :mod:`uniflg.bench`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from uniflg import __version__, argtypes
from uniflg.backends import BACKEND_NAMES, add_backend_arguments, options_from_args
from uniflg.errors import InvalidInputError
from uniflg.landmarks import N_POINTS
from uniflg.types import SynthesisOptions

if TYPE_CHECKING:
    from uniflg.voice_spec import VoiceSpec

log = logging.getLogger(__name__)


def _out(text: str) -> None:
    """A command's result goes to stdout (logs go to stderr)."""
    sys.stdout.write(text + "\n")


OUTPUTS_SPEAK = ("speech.wav", "landmarks.npy", "landmarks.json", "preview.mp4")
OUTPUTS_ANIMATE = OUTPUTS_SPEAK[1:]


def register(sub: argparse._SubParsersAction) -> None:
    from uniflg.audio_file import ACCEPTED_FORMATS, MAX_FILE_SECONDS, SAMPLE_RATE_RANGE

    p = sub.add_parser("speak", help="text -> speech.wav + landmarks (+ preview.mp4)",
                       description="Text -> OUT/speech.wav, landmarks.npy, landmarks.json, preview.mp4.")
    p.add_argument("text", help="what to say (Japanese; English where the English front end is installed)")
    _common(p, text=True)
    p.set_defaults(func=speak)
    lo, hi = SAMPLE_RATE_RANGE
    p = sub.add_parser("animate", help="speech audio file -> landmarks (+ preview.mp4)",
                       description=f"Speech file -> OUT/landmarks.npy, landmarks.json, preview.mp4. Audio: "
                                   f"{', '.join(ACCEPTED_FORMATS)}; {lo}-{hi} Hz, any channel count (mixed "
                                   "to mono); read in blocks, so long files need little memory.")
    p.add_argument("audio", type=argtypes.path, help="speech file")
    p.add_argument("--max-seconds", type=argtypes.positive_seconds, default=MAX_FILE_SECONDS,
                   help="refuse longer files (seconds, from the file header)")
    _common(p, text=False)
    p.set_defaults(func=animate)
    p = sub.add_parser("bench", help="real-time factor, first-chunk latency and memory per mode and backend")
    p.add_argument("--json", action="store_true", help="print JSON {results: [...]} only")
    p.add_argument("--seconds", type=float, default=5.0, help="length of the test sentence")
    p.add_argument("--voice", type=argtypes.path,
                   help="voice folder (default: the embedded voice, else a random small)")
    p.add_argument("--backends", default="all", help="comma list of backends, or all")
    p.add_argument("--models", default="default,paper",
                   help="comma list of models: default (the voice), paper (a random paper-size model), small, tiny "
                        "(random models of those configurations, each built once and kept in --cache; default: "
                        "default,paper)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per row; the median is reported (default 3)")
    p.add_argument("--gpu", choices=("auto", "only", "off"), default="auto",
                   help="GPU rows (onnxruntime CUDA/TensorRT providers, tensorrt; fp32 and fp16): auto adds them to "
                        "--backends all, printing 'unavailable: reason' where one cannot run; only: GPU rows alone")
    p.add_argument("--stream-seconds", default="", metavar="S1,S2,...",
                   help="also time speech-driven streaming in 20 ms pushes over clips of these lengths "
                        "(e.g. 5,300: cost per audio second should not grow with length; default: none)")
    p.add_argument("--cache", type=argtypes.path, default=Path.home() / ".cache" / "uniflg" / "bench",
                   help="where random benchmark voices are kept")
    p.set_defaults(func=_bench)
    p = sub.add_parser("info", help="a voice's languages, speakers, emotions; backends and optional features here")
    p.add_argument("--voice", type=argtypes.path, help="voice folder (default: the embedded voice)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=info)
    p = sub.add_parser("calibrate-face", help="measure a voice's face calibration (blendshapes) into its voice.json",
                       description="Measure how the voice's own faces read as blendshapes (rest face, neutral band, "
                                   "vowel classifier; docs/retargeting.md) and store it as voice.json's "
                                   "face_calibration. Run after exporting or retraining a voice.")
    p.add_argument("--voice", type=argtypes.path, help="voice folder (default: the embedded voice)")
    p.add_argument("--json", action="store_true", help="print the stored calibration's summary as JSON")
    p.set_defaults(func=calibrate_face)


def _common(p: argparse.ArgumentParser, text: bool) -> None:
    p.add_argument("-o", "--output", type=argtypes.path, required=True, help="output folder (created if missing)")
    p.add_argument("--voice", type=argtypes.path, help="voice folder (default: the embedded voice)")
    choices = _default_voice_choices()
    p.add_argument("--speaker", metavar="NAME",
                   help=f"speaker of the voice (embedded voice: {choices[0]}; default: "
                        + ("the voice's speaker for the text's language, else its first)" if text else "its first)"))
    p.add_argument("--emotion", metavar="NAME",
                   help=f"emotion (embedded voice: {choices[1]}; default: "
                        + ("the voice's default stored style, e.g. normal" if text else "from the input speech") + ")")
    p.add_argument("--backend", choices=BACKEND_NAMES, default="auto", help="inference backend")
    add_backend_arguments(p)
    p.add_argument("--seed", type=argtypes.seed, default=0, help="noise seed, 0 to 2**64-1 (same seed, same output)")
    p.add_argument("--no-preview", action="store_true", help="skip preview.mp4")
    if text:
        p.add_argument("--mode", choices=("t", "p"), default="t", help="t: parallel (UniFLG-T), p: pipelined")
        from uniflg.limits import SPEED

        p.add_argument("--speed", type=float, default=1.0,
                       help=f"speaking rate, {SPEED.lo:g}-{SPEED.hi:g} (2 = twice as fast)")
        from uniflg.text.frontend import LANGUAGES

        p.add_argument("--language", choices=("auto", *LANGUAGES), default="auto",
                       help="text language (auto: detected per sentence)")
        p.add_argument("--strict", action="store_true",
                       help="refuse emoji and decorative symbols (default: drop them with a warning)")


def _default_voice_choices() -> tuple[str, str]:
    """Speakers and emotions of the embedded voice for help texts, read from voice.json without loading."""
    from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

    try:
        cfg = json.loads((DEFAULT_VOICE_DIR / VOICE_FILE).read_text(encoding="utf-8"))["config"]
        return ", ".join(cfg["speakers"]), ", ".join(cfg["emotions"])
    except (OSError, ValueError, KeyError, TypeError):
        return "(none installed)", "(none installed)"


def _progress(desc: str, total: float | None, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} {unit} [{elapsed}<{remaining}]"
                if total else "{desc}: {n:.1f} {unit} [{elapsed}, {rate_fmt}]")


def speak(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from uniflg.outputs import prepare_output, staged_outputs, write_landmarks, write_preview, write_wav
    from uniflg.text import split_text
    from uniflg.voice import check_request, load_voice, read_voice_spec

    prepare_output(args.output, OUTPUTS_SPEAK)  # before any work: a bad -o costs nothing
    opts = SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed, mode=args.mode,
                            speed=args.speed, language=args.language, strict_text=args.strict)
    check_request(read_voice_spec(args.voice), opts)  # names and limits from voice.json: a typo costs no load
    passage = split_text(args.text, args.language, args.strict)  # long text streams sentence by sentence
    voice = load_voice(args.voice, args.backend, options=options_from_args(args))
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
    # all files move into place together, or none; an earlier preview.mp4 goes with --no-preview
    with staged_outputs(args.output, OUTPUTS_SPEAK) as out:
        wav = write_wav(out.path("speech.wav"), audio, voice.sample_rate)
        write_landmarks(out.path("landmarks.npy"), out.path("landmarks.json"), landmarks, voice.sample_rate)
        if not args.no_preview:
            write_preview(out.path("preview.mp4"), landmarks, audio_path=wav, progress=True)
    log.info("%s: %.2f s of speech, %d frames (%s)", args.output, audio.size / voice.sample_rate,
                len(landmarks), voice.backend.describe())
    return 0


def animate(args: argparse.Namespace) -> int:
    from uniflg.audio_file import open_audio
    from uniflg.outputs import prepare_output, staged_outputs, write_landmarks, write_preview
    from uniflg.voice import check_request, load_voice, read_voice_spec

    prepare_output(args.output, OUTPUTS_ANIMATE)
    for name in OUTPUTS_ANIMATE:  # the input under an output's name (a WAV called landmarks.npy) would be replaced
        target = args.output / name
        if target.exists() and args.audio.exists() and os.path.samefile(target, args.audio):
            raise InvalidInputError(f"{args.audio} is the file `animate` would write as {name} in {args.output}; "
                                    "choose another -o folder or rename the audio")
    opts = SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed)
    with open_audio(args.audio, args.max_seconds) as source:  # reads the header only
        read_as = _identity(args.audio)
        spec = read_voice_spec(args.voice)
        check_request(spec, opts)  # names and limits from voice.json: a typo costs no load
        shortest = 2 * spec.config.audio.hop_length / spec.config.audio.sample_rate  # Animation.min_samples
        if source.seconds < shortest:
            raise InvalidInputError(f"audio too short to animate: {args.audio} holds {1000 * source.seconds:.2f} "
                                    f"ms; need at least {1000 * shortest:.2f} ms (two spectrogram hops)")
        voice = load_voice(args.voice, args.backend, options=options_from_args(args))
        rate = source.sample_rate
        with _progress("animate (seconds of audio)", source.seconds, "s") as bar:
            def blocks() -> Any:
                done = 0
                for block in source.blocks(seconds=1.0):
                    yield block
                    done += block.size  # counted in samples: summed seconds overshoot the total (a 104 % bar)
                    bar.update(min(done, source.frames) / rate - bar.n)

            parts = [c.landmarks for c in voice.animate(blocks(), rate, opts)]
    landmarks = np.concatenate(parts) if parts else np.zeros((0, N_POINTS, 2), np.float32)
    with staged_outputs(args.output, OUTPUTS_ANIMATE, keep=[args.audio]) as out:  # (speech.wav is not ours here)
        write_landmarks(out.path("landmarks.npy"), out.path("landmarks.json"), landmarks, rate)
        # the preview muxes the file itself: one replaced during the run, or while ffmpeg read it, gets none
        if not args.no_preview and _identity(args.audio) == read_as:
            write_preview(out.path("preview.mp4"), landmarks, audio_path=args.audio, progress=True)
        if not args.no_preview and _identity(args.audio) != read_as:
            out.path("preview.mp4").unlink(missing_ok=True)
            log.warning("no preview: %s changed or went away during the run (the landmarks are of the audio as it "
                        "was read)", args.audio)
    log.info("%s: %d frames (%s)", args.output, len(landmarks), voice.backend.describe())
    return 0


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """(device, inode, size, mtime) of a file: an editor's save replaces it (new inode), a rewrite changes the
    size or time. None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


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
    """Human-readable by default; ``--json`` prints the same facts as one object. Exit 2 when the voice is
    broken (its reason is printed, and no backend is called available)."""
    from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

    folder = args.voice or DEFAULT_VOICE_DIR
    data: dict[str, Any] = {"uniflg": __version__, "python": platform.python_version(), "voice": None}
    if args.voice is not None or (folder / VOICE_FILE).is_file():
        data["voice"] = _voice_info(folder)
    data["features"] = _features()
    data["versions"] = {m: _version_of(m) for m in ("numpy", "onnxruntime", "torch", "tensorrt")}
    if args.json:
        _out(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        _out(_info_text(data))
    return 2 if data["voice"] and data["voice"].get("error") else 0


# ---- calibrate-face --------------------------------------------------------------------------------------------
def calibrate_face(args: argparse.Namespace) -> int:
    """Measure and store; prints jaw range, the classifier's shrinkage and its cross-validated vowel shares."""
    from uniflg.avatar import store_face_calibration
    from uniflg.outputs import prepare_output
    from uniflg.voice import load_voice
    from uniflg.voice_spec import DEFAULT_VOICE_DIR

    folder = args.voice or DEFAULT_VOICE_DIR
    prepare_output(folder, option="--voice")  # voice.json is rewritten: a read-only folder fails now, not after 2 min
    # the default texts: what they measure is what this voice's faces give now, even if an older calibration
    # (of other weights) had more; the summary below says what was measured. The stored one is not read: a malformed
    # one is what this command repairs (loading names it and sends the user here)
    calibration = store_face_calibration(load_voice(folder, stored_calibration=False), folder, force=True)
    model = calibration.vowel_model
    cv_share = model.cv_share if model else {}
    summary = {"voice": str(folder), "rest_lip_gap": calibration.rest["lip_gap"], "jaw_range": calibration.jaw_range,
               "jaw_range_measured": calibration.jaw_measured, "shrinkage": model.shrinkage if model else None,
               "cv_share": cv_share}
    if args.json:
        _out(json.dumps(summary, indent=2))
    else:
        shares = " ".join(f"{v.upper()} {x:.0%}" for v, x in cv_share.items()) or "-"
        jaw = "" if calibration.jaw_measured else " (the default: the voice's /a/ barely opens its lips)"
        _out(f"stored face_calibration in {folder}: rest lip gap {calibration.rest['lip_gap']:.4f} IOD, jaw range "
             f"{calibration.jaw_range:.3f} IOD{jaw}, vowel shrinkage {summary['shrinkage']}, cross-validated vowel "
             f"shares {shares}")
    return 0


def _voice_info(folder: Path) -> dict[str, Any]:
    from uniflg.errors import UniFLGError
    from uniflg.voice_files import check_voice_folder

    try:
        spec = check_voice_folder(folder)
        usable = _voice_backends(folder, spec)
    except UniFLGError as exc:
        return {"path": str(folder), "error": str(exc)}
    from uniflg.text.frontend import LANGUAGES

    return {"name": spec.name, "path": str(folder), "config": spec.config.name,
            "variant": spec.config.variant.name,
            "languages": list(LANGUAGES) if spec.language == "auto" else [spec.language],
            "speakers": list(spec.speakers), "language_speakers": dict(spec.language_speakers),
            "emotions": list(spec.emotions),
            "sample_rate": spec.config.audio.sample_rate, "fps": spec.config.landmarks.fps, "layout": "openpose70",
            "graphs": sorted(spec.graphs), "contexts": spec.contexts,
            "live_lookahead_ms": _live_lookahead_ms(spec),
            "live_paths": {k: v["lookahead_ms"] for k, v in spec.live.items()},
            "offline_lookahead_ms": _offline_lookahead_ms(spec),
            "backends": {k: (v or "available") for k, v in usable.items()}}


PORTAUDIO = "PortAudio (live microphone, serve --play)"


def _features() -> dict[str, str]:
    """Optional features -> "available" or why not, probed without side effects."""
    out: dict[str, str] = {}
    for lang, sample in (("Japanese front end", "こんにちは"), ("English front end", "hello")):
        try:
            from uniflg.text.frontend import encode

            encode(sample, language="ja" if sample != "hello" else "en")
            out[lang] = "available"
        except Exception as exc:  # noqa: BLE001 - any failure means "not here", with its reason
            out[lang] = f"unavailable: {exc}"
    try:
        from uniflg.ffmpeg import ffmpeg_exe

        out["ffmpeg (preview.mp4)"] = f"available ({ffmpeg_exe()})"
    except Exception as exc:  # noqa: BLE001
        out["ffmpeg (preview.mp4)"] = f"unavailable: {exc}"
    try:
        import sounddevice  # raises OSError without the PortAudio library

        devices = sounddevice.query_devices()
        inputs = sum(1 for d in devices if d["max_input_channels"] > 0)
        outputs = sum(1 for d in devices if d["max_output_channels"] > 0)
        out[PORTAUDIO] = (f"available ({inputs} input and {outputs} output devices)" if inputs or outputs
                          else "the library is installed, but there is no audio device (live --input FILE or -, "
                               "and serve without --play still work)")
    except ImportError:
        out[PORTAUDIO] = "unavailable: pip install 'uniflg[audio]'"
    except OSError as exc:
        out[PORTAUDIO] = f"unavailable: {exc} (Debian/Ubuntu: apt-get install libportaudio2)"
    from uniflg.backends import _cuda_gpu, available_backends

    gpu = _cuda_gpu()
    trt = available_backends(True, False)["tensorrt"]
    out["GPU"] = ("NVIDIA GPU visible" + ("; TensorRT available" if not trt else f"; {trt}")) if gpu \
        else "unavailable: no NVIDIA GPU visible (CPU backends only)"
    return out


def _version_of(module: str) -> str | None:
    """The installed distribution's version, read from its metadata (importing torch would take seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


def _info_text(data: dict[str, Any]) -> str:
    lines = [f"uniflg {data['uniflg']} (Python {data['python']})"]
    v = data["voice"]
    if v is None:
        lines.append("voice: none installed (give --voice FOLDER)")
    elif v.get("error"):
        lines.append(f"voice: {v['path']}: BROKEN - {v['error']}")
    else:
        lines += [f"voice: {v['name']} ({v['path']})",
                  f"  model: {v['config']} {v['variant']}; {v['sample_rate']} Hz audio, {v['fps']} fps "
                  f"{v['layout']} landmarks",
                  f"  languages: {', '.join(v['languages'])}",
                  f"  speakers: {', '.join(v['speakers'])}" + _language_speakers_text(v["language_speakers"]),
                  f"  emotions: {', '.join(v['emotions'])}",
                  "  speech paths (look-ahead): " + ", ".join(
                      [f"{name} {ms:g} ms" for name, ms in v["live_paths"].items()]
                      + [f"offline {v['offline_lookahead_ms']:g} ms" if v["offline_lookahead_ms"] else "offline"]),
                  "  backends:"]
        lines += [f"    {name}: {why}" for name, why in v["backends"].items()]
    lines.append("features here:")
    lines += [f"  {name}: {why}" for name, why in data["features"].items()]
    lines.append("versions: " + ", ".join(f"{k} {val or '-'}" for k, val in data["versions"].items()))
    return "\n".join(lines)


def _language_speakers_text(mapping: dict[str, str]) -> str:
    """The speakers line's suffix naming each language's default speaker, e.g. ``(default per language: en
    kokoro_jm_kumo)``; empty for a voice without ``language_speakers``."""
    if not mapping:
        return ""
    return " (default per language: " + ", ".join(f"{k} {v}" for k, v in mapping.items()) + ")"


def _voice_backends(folder: Path, spec: VoiceSpec | None = None) -> dict[str, str]:
    """Backend name -> '' when usable for the voice in ``folder``, else the reason it is not. With ONNX Runtime
    installed it is asked to load every graph and check it against the config, as the voice's first calls would:
    a graph it cannot read, or another graph's file, is a broken folder (ModelFormatError), since ``auto`` would
    pick ONNX Runtime and fail on it."""
    from uniflg.backends import available_backends
    from uniflg.backends.graphs import fixed_dims
    from uniflg.voice_files import check_voice_folder

    spec = spec or check_voice_folder(folder)
    has_weights = spec.weights is not None and (folder / spec.weights).is_file()
    usable = available_backends(bool(spec.graphs), has_weights)
    if not usable.get("onnxruntime"):
        from uniflg.backends.onnx_backend import OnnxBackend

        backend = OnnxBackend(folder, dict(spec.graphs), threads=1, dims=fixed_dims(spec.config))
        for graph in spec.graphs:
            backend.session(graph)  # sessions open lazily: open each once to know it loads
    return usable


def _offline_lookahead_ms(spec: VoiceSpec) -> float | None:
    """The offline speech path's look-ahead as ``Voice.speech_paths`` reports it (receptive fields plus what the
    input conditioning holds back), without loading the model; None for a voice without a speech path."""
    from uniflg.conditioning import ConditioningOptions, InputConditioner
    from uniflg.inference import Runtime, speech_lookahead_seconds

    if "speech_to_latent" not in spec.graphs and spec.weights is None:
        return None
    rate = spec.config.audio.sample_rate
    held = InputConditioner(rate, ConditioningOptions()).latency_samples / rate
    return round((speech_lookahead_seconds(Runtime(spec.config, dict(spec.contexts))) + held) * 1000, 1)


def _live_lookahead_ms(spec: VoiceSpec) -> float | None:
    """Audio `uniflg live` needs past a frame before sending it: the lowest look-ahead of the voice's speech paths
    (the offline path's receptive fields, or a live path's stored in voice.json)."""
    from uniflg.inference import Runtime, speech_lookahead_seconds

    if "speech_to_latent" not in spec.graphs and spec.weights is None:
        return None
    offline = speech_lookahead_seconds(Runtime(spec.config, dict(spec.contexts))) * 1000
    return round(min([offline, *(float(p["lookahead_ms"]) for p in spec.live.values())]), 1)
