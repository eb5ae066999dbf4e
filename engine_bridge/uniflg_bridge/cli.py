"""``uniflg serve``: the gRPC server, plus optional OSC / VMC / Live Link fan-out and local playback.

Registered through the ``uniflg.commands`` entry point, so the runtime CLI never imports the bridge. This module
imports no gRPC, no protobuf and no sink until the command runs, so ``uniflg --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg.backends import add_backend_arguments, options_from_args

from uniflg_bridge.udp import LIVELINK_PORT, LIVELINK_SUBJECT, OSC_PORT, VMC_PORT, Target

if TYPE_CHECKING:
    from uniflg_bridge.fanout import AudioOut, FanOut
    from uniflg_bridge.server import Voice

log = logging.getLogger(__name__)


def register_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a voice over gRPC (+ OSC, VMC, Live Link, local playback)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--grpc", default="127.0.0.1:50051", metavar="HOST:PORT",
                   help="gRPC bind address (default 127.0.0.1:50051; a non-loopback address needs --token)")
    p.add_argument("--voice", default=None, help="voice name or directory (default: the embedded voice)")
    p.add_argument("--backend", default="auto", help="auto|torch|onnxruntime|tensorrt")
    add_backend_arguments(p)
    p.add_argument("--token", default=os.environ.get("UNIFLG_TOKEN"),
                   help="bearer token clients must send (default: $UNIFLG_TOKEN)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain (enables TLS)")
    p.add_argument("--tls-key", type=Path, help="PEM private key")
    p.add_argument("--tls-client-ca", type=Path, help="PEM CA bundle: require client certificates (mTLS)")
    p.add_argument("--max-streams", type=int, default=8, help="concurrent streams (default 8)")
    p.add_argument("--max-text-chars", type=int, default=None,
                   help="characters per request, over the SDK's per-language limits (docs/frontend.md: ja 1000, "
                        "en 3000); default: the largest of them")
    p.add_argument("--max-audio-seconds", type=float, default=300.0,
                   help="seconds of audio per Animate stream (default 300)")
    p.add_argument("--grace", type=float, default=30.0, help="seconds open streams get on SIGTERM")
    p.add_argument("--osc", action="append", default=[], metavar="HOST:PORT",
                   help="send raw landmarks as /uniflg/... OSC bundles (repeatable)")
    p.add_argument("--vmc", action="append", default=[], metavar="HOST:PORT",
                   help=f"send VMC blendshapes to a marionette (port default {VMC_PORT})")
    p.add_argument("--no-blinks", action="store_true",
                   help="no run-time blinks in the blendshapes (the landmarks' own eyelids only)")
    p.add_argument("--blink-seed", type=int, default=0, help="seed of the run-time blinks (default 0)")
    p.add_argument("--vmc-perfect-sync", action="store_true", help="also send the 52 ARKit names over VMC")
    p.add_argument("--livelink", action="append", default=[], metavar="HOST:PORT",
                   help=f"send Unreal Live Link Face packets (port default {LIVELINK_PORT})")
    p.add_argument("--livelink-subject", default=LIVELINK_SUBJECT, help="Live Link subject name")
    p.add_argument("--play", action="store_true", help="play the audio locally, frames paced against it")
    p.add_argument("--audio-device", default=None, help="sounddevice output device (name or index)")
    p.set_defaults(func=run_serve)


def build_fanout(args: argparse.Namespace) -> FanOut:
    from uniflg_bridge import livelink, osc, vmc
    from uniflg_bridge.fanout import FanOut, FrameSink

    sinks: list[FrameSink] = []
    sinks += [osc.OscLandmarkSink(Target.parse(t, OSC_PORT)) for t in args.osc]
    sinks += [vmc.VmcSink(Target.parse(t, VMC_PORT), args.vmc_perfect_sync) for t in args.vmc]
    sinks += [livelink.LiveLinkSink(Target.parse(t, LIVELINK_PORT), args.livelink_subject)
              for t in args.livelink]
    play: Callable[[int], AudioOut] | None = None
    if args.play:
        from uniflg_bridge.player import Player, portaudio_available

        ok, reason = portaudio_available()
        if not ok:
            raise SystemExit(f"--play: {reason}")
        device: Any = int(args.audio_device) if str(args.audio_device).isdigit() else args.audio_device
        play = lambda rate: Player(rate, device)  # noqa: E731
    for sink in sinks:
        log.info("fan-out: %s -> %s", sink.name, sink.sender.target)  # type: ignore[attr-defined]
    return FanOut(sinks, play)


def load_voice(args: argparse.Namespace) -> Voice:
    from uniflg.voice import load_voice as load  # the runtime's loader

    return load(args.voice, backend=args.backend, options=options_from_args(args))


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


def run_serve(args: argparse.Namespace) -> int:
    from uniflg_bridge.server import ServerConfig, serve

    config = ServerConfig(bind=args.grpc, max_streams=args.max_streams,
                          max_text_chars=args.max_text_chars or ServerConfig.max_text_chars,
                          max_audio_seconds=args.max_audio_seconds, token=args.token,
                          tls_cert=_read(args.tls_cert), tls_key=_read(args.tls_key),
                          tls_client_ca=_read(args.tls_client_ca), grace_seconds=args.grace,
                          blinks=not args.no_blinks, blink_seed=args.blink_seed)
    try:
        config.validate()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    voice = load_voice(args)
    asyncio.run(serve(voice, config, build_fanout(args)))
    return 0
