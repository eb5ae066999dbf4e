"""``uniflg serve``: the gRPC server, plus optional OSC / VMC / Live Link fan-out and local playback.

Registered through the ``uniflg.commands`` entry point, so the runtime CLI never imports the bridge. This module
imports no gRPC, no protobuf and no sink until the command runs, so ``uniflg --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg import argtypes
from uniflg.backends import add_backend_arguments, options_from_args
from uniflg.cli import description

from uniflg_bridge.config import ServerConfig
from uniflg_bridge.live_cli import add_blink_arguments
from uniflg_bridge.udp import (
    LIVELINK_PORT,
    LIVELINK_SUBJECT,
    LOOPBACK_MAX_DATAGRAM,
    MAX_DATAGRAM,
    OSC_PORT,
    VMC_PORT,
    Target,
    is_loopback,
)

if TYPE_CHECKING:
    from uniflg_bridge.fanout import AudioOut, FanOut, FrameSink
    from uniflg_bridge.server import Voice

log = logging.getLogger(__name__)


def register_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a voice over gRPC (+ OSC, VMC, Live Link, local playback)",
                       description=description(__doc__))
    d = ServerConfig()
    p.add_argument("--grpc", default="127.0.0.1:50051", metavar="HOST:PORT",
                   help="gRPC bind address (default 127.0.0.1:50051; port 0 picks one; a non-loopback address "
                        "needs a token)")
    p.add_argument("--voice", type=argtypes.path, default=None, metavar="FOLDER",
                   help="voice folder (voice.json + graphs or model.safetensors, as `uniflg export` writes; "
                        "checked at start-up; default: the embedded voice)")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"),
                   help="inference backend (default: auto)")
    add_backend_arguments(p)
    p.add_argument("--token", default=None,
                   help="bearer token clients must send (default: $UNIFLG_TOKEN; --token-file keeps it out of ps)")
    p.add_argument("--token-file", type=argtypes.path, help="read the bearer token from this file (first line)")
    p.add_argument("--tls-cert", type=argtypes.path, help="PEM certificate chain (enables TLS)")
    p.add_argument("--tls-key", type=argtypes.path, help="PEM private key")
    p.add_argument("--tls-client-ca", type=argtypes.path, help="PEM CA bundle: require client certificates (mTLS)")
    p.add_argument("--max-streams", type=int, default=d.max_streams,
                   help=f"streams running at once (default {d.max_streams})")
    p.add_argument("--queue", type=int, default=d.queue_size,
                   help=f"calls that wait for a free stream slot (default {d.queue_size}); more get UNAVAILABLE")
    p.add_argument("--queue-wait", type=float, default=d.queue_wait,
                   help=f"seconds a call waits for a slot before UNAVAILABLE (default {d.queue_wait:g})")
    p.add_argument("--header-timeout", type=float, default=d.header_timeout,
                   help=f"seconds an Animate call has to send its AudioHeader (default {d.header_timeout:g})")
    p.add_argument("--idle-timeout", type=float, default=d.idle_timeout,
                   help=f"seconds of silence from a client (no audio sent, no answer read) before the stream is "
                        f"ended (default {d.idle_timeout:g})")
    p.add_argument("--max-text-chars", type=int, default=None,
                   help="characters per request, over the SDK's per-language limits (docs/frontend.md: ja 1000, "
                        "en 3000); default: the largest of them")
    p.add_argument("--max-audio-seconds", type=float, default=d.max_audio_seconds,
                   help=f"seconds of audio per Animate stream (default {d.max_audio_seconds:g})")
    p.add_argument("--grace", type=float, default=d.grace_seconds,
                   help=f"seconds open streams get on SIGTERM/SIGINT/SIGHUP (default {d.grace_seconds:g}); a second "
                        "signal stops them at once")
    p.add_argument("--osc", action="append", default=[], metavar="HOST:PORT",
                   help=f"send raw landmarks as /uniflg/... OSC bundles (port default {OSC_PORT}; repeatable)")
    p.add_argument("--vmc", action="append", default=[], metavar="HOST:PORT",
                   help=f"send VMC blendshapes to a marionette (port default {VMC_PORT}; repeatable)")
    add_blink_arguments(p)
    p.add_argument("--vmc-perfect-sync", action="store_true", help="also send the 52 ARKit names over VMC")
    p.add_argument("--livelink", action="append", default=[], metavar="HOST:PORT",
                   help=f"send Unreal Live Link Face packets (port default {LIVELINK_PORT}; repeatable)")
    p.add_argument("--livelink-subject", type=argtypes.name, default=LIVELINK_SUBJECT,
                   help="Live Link subject name (1 to 128 characters)")
    p.add_argument("--udp-max-datagram", type=int, default=MAX_DATAGRAM, metavar="BYTES",
                   help=f"largest OSC/VMC datagram; frames are split to fit (default {MAX_DATAGRAM}, no IP "
                        f"fragments on a 1,500-byte LAN; up to {LOOPBACK_MAX_DATAGRAM} for loopback: one per frame; "
                        "at least 576, and with --osc what one landmarks message needs, checked at start-up)")
    p.add_argument("--play", action="store_true", help="play the audio locally, frames paced against it")
    p.add_argument("--audio-device", default=None, help="sounddevice output device (name or index)")
    p.set_defaults(func=run_serve)


def build_fanout(args: argparse.Namespace) -> FanOut:
    """The sinks of ``args`` (addresses and datagram size already checked by :func:`check_addresses`); ValueError
    (one line) for an address that stopped resolving or --play without PortAudio."""
    from uniflg_bridge import livelink, osc, vmc
    from uniflg_bridge.fanout import FanOut

    size = args.udp_max_datagram  # checked with the addresses (check_addresses)
    sinks: list[FrameSink] = []
    for option, targets, port, make in (
            ("--osc", args.osc, OSC_PORT, lambda t: osc.OscLandmarkSink(t, max_datagram=size)),
            ("--vmc", args.vmc, VMC_PORT, lambda t: vmc.VmcSink(t, args.vmc_perfect_sync, size)),
            ("--livelink", args.livelink, LIVELINK_PORT,
             lambda t: livelink.LiveLinkSink(t, args.livelink_subject))):
        for text in targets:
            try:
                sinks.append(make(Target.parse(text, port)))
            except ValueError as exc:
                raise ValueError(f"{option} {text}: {exc} (use HOST:PORT, :PORT or HOST)") from None
            except OSError as exc:  # e.g. a broadcast address: the socket may not send there
                raise ValueError(f"{option} {text}: cannot send there ({exc.strerror or exc}; broadcast addresses "
                                 "are not supported)") from None
    play: Callable[[int], AudioOut] | None = None
    if args.play:
        from uniflg_bridge.player import Player, portaudio_available

        ok, reason = portaudio_available()
        if not ok:
            raise ValueError(f"--play: {reason}")
        device: Any = int(args.audio_device) if str(args.audio_device).isascii() and str(args.audio_device).isdigit() \
            else args.audio_device
        play = lambda rate: Player(rate, device)  # noqa: E731
    for sink in sinks:
        log.info("fan-out: %s -> %s", sink.name, sink.sender.target)  # type: ignore[attr-defined]
    return FanOut(sinks, play)


def load_voice(args: argparse.Namespace) -> Voice:
    from uniflg.voice import load_voice as load  # the runtime's loader

    return load(args.voice, backend=args.backend, options=options_from_args(args))


def read_option_file(option: str, path: Path | None) -> bytes | None:
    """The bytes of the file an option names (None when it names none); ValueError naming the option when it
    cannot be read. Shared with the gRPC tools (examples/grpc_client.py, loadtest)."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None


def read_token(args: argparse.Namespace) -> str | None:
    """The bearer token from ``--token``, ``--token-file`` (its first line) or ``$UNIFLG_TOKEN``; None when none is
    given. A token that is given but empty is a ValueError, never "no authentication": ``--token "$UNSET"``
    would otherwise start an open server."""
    option = getattr(args, "token", None)
    given = option is not None  # the option itself (its default is None, so an empty one is seen as given)
    if option is not None and not option.strip():
        raise ValueError("--token is empty: give the token clients must send, or leave --token out")
    if args.token_file is None:
        value = option if given else os.environ.get("UNIFLG_TOKEN")
        token = (value or "").strip() or None  # an empty $UNIFLG_TOKEN counts as unset
        return _sendable(token, "--token" if given else "$UNIFLG_TOKEN") if token else None
    if given:
        raise ValueError("give the token once: --token or --token-file, not both")
    data = read_option_file("--token-file", args.token_file) or b""
    lines = data.decode("utf-8", "replace").splitlines()
    token = lines[0].strip() if lines else ""
    if not token:
        what = ("its first line is blank (the token goes on the first line)" if any(line.strip() for line in lines)
                else "the file holds only blank lines" if lines else "the file is empty")
        raise ValueError(f"--token-file {args.token_file}: {what}")
    return _sendable(token, f"--token-file {args.token_file}")


def _sendable(token: str, where: str) -> str:
    """gRPC metadata values are printable ASCII: a token with other characters could be set on the server but
    never sent by a client (it failed in the client as "INTERNAL: Invalid metadata")."""
    bad = list(dict.fromkeys(c for c in token if not " " <= c <= "~"))  # in order of appearance
    if bad:
        shown = " ".join(f"{c!r}" if c.isprintable() else f"U+{ord(c):04X}" for c in bad[:8])
        raise ValueError(f"{where}: the token holds {shown}, which gRPC cannot send; a token is printable ASCII "
                         "(letters, digits, punctuation)")
    return token


def _check_bind(bind: str) -> None:
    """The gRPC address parses, resolves and is free now (a ValueError names it). ``:PORT`` is refused: for a UDP
    target it means loopback, for a listening address many servers read it as every interface."""
    if bind.startswith(":"):
        raise ValueError(f"--grpc {bind}: give the host to listen on: 127.0.0.1{bind} (this machine only) or "
                         f"0.0.0.0{bind} / [::]{bind} (every interface; needs a token)")
    try:
        target = Target.parse(bind, allow_port_zero=True)
    except ValueError as exc:
        raise ValueError(f"--grpc: {exc}") from None
    try:
        family, address = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM,
                                             flags=socket.AI_PASSIVE)[0][::4]
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"--grpc {bind}: cannot resolve {target.host!r} ({exc})") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        if os.name != "nt":  # as gRPC binds: a port in TIME-WAIT from the last run is free, a listening one is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ValueError(f"--grpc {bind}: cannot listen there ({exc.strerror or exc})") from None


def check_addresses(args: argparse.Namespace) -> None:
    """Every address first, before tokens, files and limits (an address that cannot work is the most basic fault):
    ``--grpc`` parses, resolves and is free; each OSC / VMC / Live Link target parses and resolves; the datagram
    size is in range and, with ``--osc``, carries a frame. ValueError (one line) names the option and the address."""
    _check_bind(args.grpc)
    size = args.udp_max_datagram
    if not 576 <= size <= LOOPBACK_MAX_DATAGRAM:
        raise ValueError(f"--udp-max-datagram must be within [576, {LOOPBACK_MAX_DATAGRAM}] bytes, got {size}")
    if args.osc:
        from uniflg_bridge.osc import MIN_DATAGRAM

        if size < MIN_DATAGRAM:
            raise ValueError(f"--udp-max-datagram {size} cannot carry one --osc frame (its 140-float landmarks "
                             f"message after the stream id); give at least {MIN_DATAGRAM} bytes")
    for option, targets, port in (("--osc", args.osc, OSC_PORT), ("--vmc", args.vmc, VMC_PORT),
                                  ("--livelink", args.livelink, LIVELINK_PORT)):
        for text in targets:
            try:
                target = Target.parse(text, port)
            except ValueError as exc:
                raise ValueError(f"{option} {text}: {exc} (use HOST:PORT, :PORT or HOST)") from None
            if target.port:  # (port 0 is refused by the sender, with its own reason)
                try:
                    target.check_sendable()
                except ValueError as exc:
                    raise ValueError(f"{option} {text}: {exc}") from None
            else:
                target.resolve()


def server_config(args: argparse.Namespace) -> ServerConfig:
    """The checked settings of ``args`` (ValueError, one line, for anything that cannot be served); the addresses
    are checked first (:func:`check_addresses`), then the token, TLS files and limits."""
    check_addresses(args)
    config = ServerConfig(
        bind=args.grpc, max_streams=args.max_streams, queue_size=args.queue, queue_wait=args.queue_wait,
        header_timeout=args.header_timeout, idle_timeout=args.idle_timeout, max_text_chars=args.max_text_chars,
        max_audio_seconds=args.max_audio_seconds, token=read_token(args),
        tls_cert=read_option_file("--tls-cert", args.tls_cert), tls_key=read_option_file("--tls-key", args.tls_key),
        tls_client_ca=read_option_file("--tls-client-ca", args.tls_client_ca), grace_seconds=args.grace,
        blinks=not args.no_blinks, blink_seed=args.blink_seed)
    config.validate()
    if config.token and not config.tls and not is_loopback(Target.parse(args.grpc, allow_port_zero=True).host):
        log.warning("the bearer token travels in clear text to %s: add --tls-cert/--tls-key", args.grpc)
    return config


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (default: 8 per core, one per busy thread) before the inference threads start.
    Blocks freed by one worker but carved from another thread's arena stay resident; with 4 streams the cap
    halved a long run's memory growth (-> True when applied; other C libraries: False, nothing done)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


M_ARENA_MAX = -8  # glibc's mallopt parameter


def run_serve(args: argparse.Namespace) -> int:
    """Check every address and file first (one line and exit 2 on a problem), then load the voice and serve."""
    from uniflg.errors import UniFLGError
    from uniflg.voice import read_voice_spec

    try:
        config = server_config(args)
        read_voice_spec(args.voice)  # a broken voice folder before any socket opens or the model loads
        fanout = build_fanout(args)
    except (ValueError, UniFLGError) as exc:
        log.error("%s", exc)
        return 2
    limit_malloc_arenas()
    from uniflg_bridge.server import serve

    try:
        voice = load_voice(args)
        warm = getattr(voice, "warm_up", None)
        if warm is not None:  # live Animate streams (max_lookahead_ms) should not pay for the first session opens
            warm()
        asyncio.run(serve(voice, config, fanout))
    except OSError as exc:  # the address was taken between the check and the bind
        log.error("%s", exc)
        return 2
    finally:
        for sink in fanout.sinks:
            sink.close()
    return 0
