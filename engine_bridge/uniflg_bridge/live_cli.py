"""``uniflg live``: a microphone (or a file paced in real time, or PCM16 on stdin) drives the face in real time.

Registered through the ``uniflg.commands`` entry point; this module imports only argparse at load time so that
``uniflg --help`` stays light (the engine loads when the command runs).

    uniflg live --vmc :39539                                   # default microphone -> VSeeFace / VNyan / Warudo
    uniflg live --input talk.wav --osc 127.0.0.1:9000          # a recording, as if spoken now
    arecord -f S16_LE -r 48000 -c 1 | uniflg live --input - --rate 48000 --livelink 192.168.1.20
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg import argtypes
from uniflg.cli import description
from uniflg.fileio import atomic_write_text
from uniflg.limits import Range

if TYPE_CHECKING:
    from uniflg.types import SynthesisOptions
    from uniflg.voice_spec import VoiceSpec

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"osc": 9000, "vmc": 39539, "livelink": 11111}  # as uniflg_bridge.osc / vmc / livelink


def register_live(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="microphone / file / stdin -> face in real time (OSC, VMC, Live Link)",
                       description=description(__doc__))
    add_arguments(p)
    p.set_defaults(func=run_live)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", default="mic", metavar="mic|FILE|-",
                   help="mic (default; PortAudio), a sound file played in real time, or - for raw PCM16 on stdin")
    p.add_argument("--device", default=None, metavar="NAME|INDEX", help="input device (default: the system's)")
    p.add_argument("--rate", type=int, default=None,
                   help="input sample rate (stdin: required; mic: default the device's); resampled to the voice's")
    p.add_argument("--channels", type=int, default=None, help="input channels (stdin default 1); mixed to mono")
    p.add_argument("--block-ms", type=float, default=20.0, help="capture block, 5 to 1000 ms (default 20)")
    p.add_argument("--osc", action="append", default=[], metavar="HOST:PORT",
                   help=f"raw landmarks as /uniflg OSC bundles, time-tagged with capture time (port default "
                        f"{DEFAULT_PORTS['osc']}; repeatable)")
    p.add_argument("--vmc", action="append", default=[], metavar="HOST:PORT",
                   help=f"VMC blendshapes to a marionette (port default {DEFAULT_PORTS['vmc']}; repeatable)")
    p.add_argument("--vmc-perfect-sync", action="store_true", help="also send the 52 ARKit names over VMC")
    p.add_argument("--livelink", action="append", default=[], metavar="HOST:PORT",
                   help=f"Unreal Live Link Face packets (port default {DEFAULT_PORTS['livelink']}; repeatable)")
    p.add_argument("--livelink-subject", type=argtypes.name, default="UniFLG",
                   help="Live Link subject name (1 to 128 characters)")
    add_blink_arguments(p)
    p.add_argument("--max-lookahead-ms", type=float, default=None,
                   help="use a speech path needing at most this much future audio (default: the voice's "
                        "lowest; `uniflg info` lists the paths and their look-ahead)")
    p.add_argument("--delay-ms", type=float, default=None,
                   help="send frame i at its capture time + this (default: adaptive, the 90th percentile of how late "
                        "the last 150 frames were ready + 10 ms, at most look-ahead + one block + margin; 0: as soon "
                        "as computed)")
    p.add_argument("--reconnect", type=argtypes.within(Range("--reconnect", 0.0, 3600.0)), default=10.0,
                   metavar="SECONDS",
                   help="a microphone that stops: try to reopen it for this long, then end (default 10; 0: end)")
    p.add_argument("--voice", type=argtypes.path, default=None, help="voice folder (default: the embedded voice)")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"),
                   help="inference backend")
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: all usable cores)")
    p.add_argument("--speaker", metavar="NAME", help="speaker of the voice (default: its first; `uniflg info` "
                                                      "lists them)")
    p.add_argument("--emotion", metavar="NAME", help="emotion of the voice (`uniflg info` lists them)")
    p.add_argument("--z-u-from-input", action="store_true",
                   help="take the utterance latent from the first second of input (frames start 1 s later) instead "
                        "of the voice's stored latent for --emotion (default: its first emotion, e.g. normal)")
    p.add_argument("--quiet", action="store_true", help="no status line")
    p.add_argument("--summary", type=argtypes.path, default=None, help="also write the end-of-run summary JSON here")


def add_blink_arguments(p: argparse.ArgumentParser) -> None:
    """--no-blinks and --blink-seed: `uniflg serve` and `uniflg live` add run-time blinks alike."""
    p.add_argument("--no-blinks", action="store_true",
                   help="no run-time blinks in the blendshapes (the landmarks' own eyelids only)")
    p.add_argument("--blink-seed", type=argtypes.seed, default=0, help="seed of the run-time blinks (default 0)")


def _sinks(args: argparse.Namespace) -> list[Any]:
    """The sinks of ``--osc/--vmc/--livelink``; InvalidInputError (one line) names the option of a target that does
    not parse (HOST:PORT, :PORT or HOST; port 1..65535) or resolve."""
    from uniflg.errors import InvalidInputError

    from uniflg_bridge import livelink, osc, vmc
    from uniflg_bridge.udp import Target

    sinks: list[Any] = []
    for option, texts, port, make in (
            ("--osc", args.osc, osc.DEFAULT_PORT, osc.OscLandmarkSink),
            ("--vmc", args.vmc, vmc.DEFAULT_PORT, lambda t: vmc.VmcSink(t, args.vmc_perfect_sync)),
            ("--livelink", args.livelink, livelink.DEFAULT_PORT,
             lambda t: livelink.LiveLinkSink(t, args.livelink_subject))):
        for text in texts:
            try:
                sinks.append(make(Target.parse(text, port)))
            except (ValueError, OSError) as exc:
                for sink in sinks:
                    sink.close()
                raise InvalidInputError(f"{option} {text}: {exc} (use HOST:PORT, :PORT or HOST)") from None
    return sinks


def _check_summary(path: Path) -> None:
    """Before the run: ``--summary`` must name a file that can be written in an existing folder (the run's end is
    too late to find out)."""
    from uniflg.errors import InvalidInputError

    if path.is_dir():
        raise InvalidInputError(f"--summary {path} is a folder; give a file name in it (e.g. {path / 'live.json'})")
    if path.exists() and not path.is_file():  # a device or a FIFO: written in place would be fine, but replaced
        raise InvalidInputError(f"--summary {path} is not a regular file (a device or a pipe); give a file name, "
                                "or leave --summary out (the summary goes to stdout)")
    if path.parent.exists() and not path.parent.is_dir():
        raise InvalidInputError(f"--summary {path}: {path.parent} is a file, not a folder")
    if not path.parent.is_dir():
        raise InvalidInputError(f"--summary: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InvalidInputError(f"--summary {path}: no write permission in {path.parent}")


def _source_factory(args: argparse.Namespace) -> Any:
    """-> a function that opens the input (called again to reconnect a microphone)."""
    from uniflg.audio_file import check_sample_rate
    from uniflg.errors import InvalidInputError

    from uniflg_bridge import capture

    if not 5 <= args.block_ms <= 1000:  # also refuses NaN; below 5 ms the per-block work falls seconds behind
        raise InvalidInputError(f"--block-ms must be from 5 to 1000 ms; got {args.block_ms}")
    if args.rate is not None:
        check_sample_rate(args.rate, "--rate")
    if args.channels is not None and not 1 <= args.channels <= 32:
        raise InvalidInputError(f"--channels must be from 1 to 32; got {args.channels}")
    if args.delay_ms is not None and not 0 <= args.delay_ms <= 10_000:
        raise InvalidInputError(f"--delay-ms must be from 0 to 10000 ms; got {args.delay_ms}")
    if args.summary is not None:
        _check_summary(args.summary)
        if args.input not in ("mic", "-") and Path(args.input).exists() and args.summary.exists() \
                and os.path.samefile(args.input, args.summary):
            raise InvalidInputError(f"--summary {args.summary} is the --input file; give another file name")
    if not args.input.strip():  # Path("") is ".", which was then named as "a folder"
        raise InvalidInputError("--input is empty: give mic, a sound file, or - for raw PCM16 on stdin")
    if args.input == "mic":
        device = capture.parse_device(args.device)
        return lambda: capture.MicSource(device, args.rate, args.channels, args.block_ms)
    if args.device is not None:
        raise InvalidInputError("--device applies to --input mic only")
    if args.input == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise InvalidInputError("--input -: standard input is closed (give a pipe, e.g. ffmpeg ... | uniflg "
                                    "live --input - --rate 48000)")
        return lambda: capture.StreamSource(sys.stdin.buffer, args.rate,
                                                    1 if args.channels is None else args.channels, args.block_ms)
    if args.rate is not None or args.channels is not None:
        raise InvalidInputError("--rate/--channels apply to --input mic or - (a file says its own format)")
    return lambda: capture.FileSource(Path(args.input), args.block_ms)


def _speech_options(args: argparse.Namespace, spec: VoiceSpec) -> SynthesisOptions:
    """The live session's options, checked against voice.json (names, limits) before the voice loads."""
    from uniflg.errors import InvalidInputError
    from uniflg.types import SynthesisOptions
    from uniflg.voice import check_request

    if args.max_lookahead_ms is not None and not args.max_lookahead_ms > 0:  # also refuses NaN
        raise InvalidInputError(f"--max-lookahead-ms must be above 0 ms; got {args.max_lookahead_ms}")
    stored = {name: float(entry.get("lookahead_ms", 0.0)) for name, entry in spec.live.items()}
    if args.max_lookahead_ms is not None and all(ms > args.max_lookahead_ms for ms in stored.values()):
        # voice.json's figures are the least each path needs, so this refusal costs no voice load
        have = ", ".join(f"{name} {ms:.0f} ms" for name, ms in stored.items()) or "no live path"
        raise InvalidInputError(f"no speech path of voice {spec.name!r} needs at most {args.max_lookahead_ms:g} ms "
                                f"of look-ahead; it has: {have} and the offline path, which needs more")
    if args.threads is not None and args.threads < 1:
        raise InvalidInputError(f"--threads must be 1 or more; got {args.threads}")
    emotion = args.emotion
    if emotion is not None and args.z_u_from_input:
        raise InvalidInputError("--emotion and --z-u-from-input both choose the utterance latent (the stored one of "
                                "an emotion, or the input's first second); give one")
    if emotion is None and not args.z_u_from_input and spec.latents.get("emotion"):
        emotion = next(iter(spec.latents["emotion"]))  # a live input's first second may well be silence
    speech = SynthesisOptions(speaker=args.speaker, emotion=emotion)
    check_request(spec, speech)
    return speech


def run_live(args: argparse.Namespace) -> int:
    from uniflg.voice import read_voice_spec

    make_source = _source_factory(args)
    speech = _speech_options(args, read_voice_spec(args.voice))  # names and limits: a typo costs no load
    sinks = _sinks(args)  # addresses that do not parse or resolve, before the input opens
    try:
        return _run(args, make_source, speech, sinks)
    finally:
        for sink in sinks:
            sink.close()


def _run(args: argparse.Namespace, make_source: Any, speech: SynthesisOptions, sinks: list[Any]) -> int:
    from uniflg.voice import load_voice

    from uniflg_bridge.live import LiveOptions, LiveSession, stop_on_signals

    source = make_source()  # input errors (no file, no PortAudio, bad rate) before the voice loads
    if not sinks:
        log.warning("no --osc / --vmc / --livelink target: frames are computed and counted but sent nowhere")
    voice = load_voice(args.voice, backend=args.backend, threads=args.threads)
    path = voice.speech_path(args.max_lookahead_ms if args.max_lookahead_ms is not None
                             else min(p.lookahead_ms for p in voice.speech_paths()))
    log.info("speech path %s (look-ahead %.0f ms)", path.name, path.lookahead_ms)
    missing = [name for name in voice.spec.live if name not in {p.name for p in voice.speech_paths()}]
    if missing:  # e.g. --backend torch
        log.warning("the %s backend runs the offline speech path only (look-ahead %.0f ms): the voice's live path "
                    "%s needs ONNX Runtime (--backend onnxruntime) or TensorRT", voice.backend.name,
                    voice.lookahead_seconds * 1000, ", ".join(missing))
    options = LiveOptions(delay_ms=args.delay_ms, reconnect_seconds=args.reconnect, blinks=not args.no_blinks,
                          blink_seed=args.blink_seed)
    session = LiveSession(voice, source, sinks, options, speech,
                          make_source=make_source if args.input == "mic" else None,
                          status_out=None if args.quiet else sys.stderr, path=path.name)
    with stop_on_signals(session.stop):
        report = session.run()
    summary = json.dumps(asdict(report))
    failed = bool(report.error)
    try:
        sys.stdout.write(summary + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head -1`): the summary file below still gets it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    if args.summary is not None:
        try:
            atomic_write_text(args.summary, summary + "\n")
        except OSError as exc:  # checked before the run; a full disk or a vanished folder at its end
            log.error("--summary %s: cannot write it (%s); the summary went to stdout", args.summary,
                      exc.strerror or exc)
            failed = True
    if report.error:
        log.error("%s", report.error)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m uniflg_bridge.live_cli ARGS`` = ``uniflg live ARGS`` (where the entry point is not installed)."""
    from uniflg.cli import Parser
    from uniflg.errors import UniFLGError

    parser = Parser(prog="uniflg live", description=description(__doc__))
    parser.add_argument("-v", "--verbose", action="count", default=0)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose + 1, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_live(args)
    except UniFLGError as exc:
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())

