"""A UniFLG gRPC client: text -> speech.wav + landmarks.npy, or a WAV file -> landmarks, streamed.

    uniflg serve &
    python examples/grpc_client.py synthesize "こんにちは" -o out/grpc
    python examples/grpc_client.py animate out/grpc/speech.wav -o out/grpc
    python examples/grpc_client.py synthesize "はい" --address npc.example:50051 --tls-ca server.pem --token-file token

The connection options (--address, --token, --tls-*, --connect-timeout) go before or after the subcommand.
Bad input (bad arguments, a file that is missing or no sound file, an output path that cannot be a folder, TLS
files that cannot be read) ends with one line on stderr and exit status 2, as the other examples do, before any
request is sent; a server that cannot be reached, an error status from the server or a failed write, with one
line and exit status 1. Files are written under a temporary name and renamed when complete, so an interrupted run
leaves no truncated file that looks valid. A text's speech replaces every file of an earlier run in that folder
(speech.wav, landmarks.npy and what `uniflg speak` or `animate` left there: landmarks.json, preview.mp4,
animated.npy), so no file of another utterance stays beside it.

--timeout bounds the whole call (default 900 s). A server that drives an avatar (--osc, --vmc, --livelink)
answers in real time, so a long text or file takes as long as its speech: the longest the default limits allow,
300 s of audio, fits.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile as sf
from uniflg.cli import exit_for_missing_module

try:
    import uniflg_bridge  # noqa: F401  # isort: skip  (before grpc: it quiets gRPC core's INFO lines)
    import grpc
    from uniflg_bridge.client_connection import (
        ClientConnection,
        add_connection_arguments,
        address,
        client_connection,
        unreachable_hint,
    )
    from uniflgapi.v1 import uniflg_pb2 as pb
    from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc
except ModuleNotFoundError as exc:  # the slim install `make demo` makes has no gRPC: one line, not a traceback
    exit_for_missing_module(exc, "examples/grpc_client.py")
from uniflg import argtypes
from uniflg.audio import pcm16
from uniflg.audio_file import MAX_FILE_SECONDS, open_audio
from uniflg.cli import Parser, description  # one-line usage errors, as the uniflg command
from uniflg.commands import OUTPUTS_SPEAK
from uniflg.errors import UniFLGError
from uniflg.limits import check_text
from uniflg.outputs import prepare_output, staged_outputs

# ---------------------------------------------------------------- output files

OUTPUTS = ("speech.wav", "landmarks.npy", "animated.npy")  # what this client writes into --out
# a new speech.wav's folder keeps no file of another utterance: this client's and `uniflg speak`'s
SPEECH_REPLACES = tuple(dict.fromkeys(OUTPUTS + OUTPUTS_SPEAK))


class BadInputError(ValueError):
    """The user's input was wrong (exit status 2), found after connecting (the audio's samples)."""


def write_files(out: Path, writers: dict[str, Callable[[IO[bytes]], None]], replaces: tuple[str, ...] = ()) -> None:
    """Write each ``name -> write(file)`` into ``out`` through the SDK's staged outputs (the ``uniflg speak``
    writer): all files are renamed into place together once complete; on any failure (or Ctrl-C) none is. Each
    file is encoded in memory and written by Python, so a full disk is an OSError naming its cause (libsndfile and
    NumPy writing to the file themselves failed with an AssertionError or "5740 requested and 3040 written").
    ``replaces``: this client's outputs that are removed when not written (a new speech.wav's folder keeps no
    animated.npy of another utterance)."""
    with staged_outputs(out, replaces) as staged:
        for name, write in writers.items():
            encoded = io.BytesIO()
            write(encoded)
            staged.path(name).write_bytes(encoded.getbuffer())


def landmarks(frames: list[pb.LandmarkFrame]) -> np.ndarray:
    return np.array([f.points for f in frames], np.float32).reshape(-1, 70, 2)  # (frames, 70 points, x y)


# ---------------------------------------------------------------- calls

def check_complete(done: bool) -> None:
    """A stream is whole only with its final Status message (docs/grpc.md); one that ended without it (a server
    that stopped, a proxy that cut it) writes nothing."""
    if not done:
        raise ValueError("the stream ended without its final Status (the server stopped or the connection was cut): "
                         "nothing written")


def synthesize(stub: pb_grpc.UniFLGServiceStub, args: argparse.Namespace) -> int:
    request = pb.SynthesizeRequest(text=args.text, speaker=args.speaker or "", emotion=args.emotion or "",
                                   include_blendshapes=True)
    audio: list[np.ndarray] = []
    frames: list[pb.LandmarkFrame] = []
    rate = 0
    done = False
    t0 = time.perf_counter()
    for response in stub.Synthesize(request, metadata=args.metadata, timeout=args.timeout):
        kind = response.WhichOneof("response")
        if kind == "header":
            rate = response.header.sample_rate
            print(f"header: {rate} Hz, {response.header.fps} fps, request {response.header.request_id}")
        elif kind == "chunk":
            if not frames:
                print(f"first chunk after {time.perf_counter() - t0:.3f} s")
            audio.append(np.frombuffer(response.chunk.audio, "<i2"))
            frames.extend(response.chunk.frames)
        else:
            done = True
            print(f"done: {response.status.frame_count} frames, "
                  f"{response.status.audio_seconds:.2f} s of audio")
    if not rate:
        raise ValueError("the stream ended without a header: nothing written")
    check_complete(done)
    pcm = np.concatenate(audio) if audio else np.zeros(0, "<i2")
    write_files(args.out, {"speech.wav": lambda fh: sf.write(fh, pcm, rate, subtype="PCM_16", format="WAV"),
                           "landmarks.npy": lambda fh: np.save(fh, landmarks(frames))}, replaces=SPEECH_REPLACES)
    print(f"wrote {args.out / 'speech.wav'} and {args.out / 'landmarks.npy'}")
    return 0


def check_audio(path: Path) -> float:
    """-> the file's length in seconds, checked as `uniflg animate` reads files (missing, a folder, not audio, NaN
    samples...: ValueError, one line; longer than 4 hours, from the header). The samples are decoded block by block
    and dropped: memory stays small however long the file is, and the server's limit is checked before the file is
    held in memory (:func:`read_audio`)."""
    try:
        with open_audio(path, max_seconds=None) as source:
            if source.seconds > MAX_FILE_SECONDS:  # from the header, before a sample is decoded
                raise ValueError(f"{path} is {source.seconds / 3600:,.1f} h long; this client reads at most "
                                 f"{MAX_FILE_SECONDS / 3600:g} h per file: split the file")
            for _ in source.blocks(10.0):
                pass
            return source.seconds
    except UniFLGError as exc:
        raise ValueError(str(exc)) from None


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """-> (mono int16 samples, sample rate) of a file :func:`check_audio` passed; the channels are mixed, as the
    service takes mono."""
    try:
        with open_audio(path, max_seconds=None) as source:
            return np.concatenate([pcm16(b) for b in source.blocks(10.0)] or [np.zeros(0, "<i2")]), source.sample_rate
    except UniFLGError as exc:  # the file changed since it was checked
        raise BadInputError(str(exc)) from None


def animate(stub: pb_grpc.UniFLGServiceStub, args: argparse.Namespace) -> int:
    limit = stub.GetInfo(pb.GetInfoRequest(), metadata=args.metadata, timeout=args.connect_timeout).limits
    seconds = args.audio_seconds  # from the header: a long file is refused before it is decoded into memory
    if limit.max_audio_seconds and seconds > limit.max_audio_seconds:  # and before the upload, not after it
        raise ValueError(f"{args.audio} is {seconds:,.1f} s long; the server takes at most "
                         f"{limit.max_audio_seconds:g} s of audio per call (GetInfo limits.max_audio_seconds): "
                         "split the file")
    pcm, rate = read_audio(args.audio)

    def requests() -> Iterator[pb.AnimateRequest]:
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=rate, channels=1,
                                                      max_lookahead_ms=args.max_lookahead_ms or 0))
        step = rate // 10  # 100 ms chunks, as a live microphone would send them
        for i in range(0, len(pcm), step):
            yield pb.AnimateRequest(audio=pcm[i:i + step].astype("<i2").tobytes())
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    frames: list[pb.LandmarkFrame] = []
    done = False
    for response in stub.Animate(requests(), metadata=args.metadata, timeout=args.timeout):
        if response.WhichOneof("response") == "chunk":
            frames.extend(response.chunk.frames)
        elif response.WhichOneof("response") == "status":
            done = True
            print(f"done: {len(frames)} frames for "
                  f"{response.status.audio_seconds:.2f} s of audio")
    check_complete(done)
    write_files(args.out, {"animated.npy": lambda fh: np.save(fh, landmarks(frames))})
    print(f"wrote {args.out / 'animated.npy'}")
    return 0


# ---------------------------------------------------------------- connection

def wait_ready(channel: grpc.Channel, args: argparse.Namespace, connection: ClientConnection) -> None:
    try:
        grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
    except grpc.FutureTimeoutError:
        raise ValueError(f"cannot reach a server at {args.address} within {args.connect_timeout:g} s "
                         f"({unreachable_hint(connection, '--address', args.address)})") from None


# ---------------------------------------------------------------- command line

def add_connection_options(parser: argparse.ArgumentParser, suppress: bool = False) -> None:
    """The options every subcommand shares. On the main parser they carry the defaults; the subcommands' copies
    (``suppress``) set nothing unless given, so a value given before the subcommand is kept."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--address", type=address, default=default("127.0.0.1:50051"), metavar="HOST:PORT",
                        help="the server (default 127.0.0.1:50051)")
    add_connection_arguments(parser, suppress)  # --token, --token-file, --tls-*
    parser.add_argument("--connect-timeout", type=argtypes.positive_seconds, default=default(5.0),
                        metavar="SECONDS", help="seconds to wait for the server (default 5)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(description=description(__doc__))
    add_connection_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synthesize", help="text -> speech.wav + landmarks.npy")
    s.add_argument("text")
    s.add_argument("--speaker")
    s.add_argument("--emotion")
    a = sub.add_parser("animate", help="a sound file -> animated.npy")
    a.add_argument("audio", type=argtypes.path, help="a sound file (its channels are mixed to mono)")
    a.add_argument("--max-lookahead-ms", type=argtypes.int_range(1, 60_000), default=None, metavar="MS",
                   help="the live path: a speech path needing at most this much future audio (e.g. 250; default: "
                        "the offline path; GetInfo lists the paths)")
    for p in (s, a):
        p.add_argument("-o", "--out", type=argtypes.path, default=Path("out/grpc"), metavar="FOLDER",
                       help="output folder, new or existing (default out/grpc)")
        p.add_argument("--timeout", type=argtypes.positive_seconds, default=900.0, metavar="SECONDS",
                       help="deadline for the whole call (default 900: a server that drives an avatar answers in "
                            "real time, and its longest call, 300 s of audio, fits)")
        add_connection_options(p, suppress=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:  # every local check before connecting: a typo costs no round trip
        if args.command == "synthesize":
            check_text(args.text)  # empty, control characters, bytes that are not UTF-8
        if args.command == "animate":
            args.audio_seconds = check_audio(args.audio)
        prepare_output(args.out, OUTPUTS)  # as `uniflg speak`
        connection = client_connection(args)
        args.metadata = connection.metadata
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with connection.channel(args.address) as channel:
            wait_ready(channel, args, connection)
            stub = pb_grpc.UniFLGServiceStub(channel)
            return synthesize(stub, args) if args.command == "synthesize" else animate(stub, args)
    except BadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        details = " ".join((exc.details() or "").split())  # one line
        print(f"error: the server answered {exc.code().name}: {details}", file=sys.stderr)
        return 1
    except ValueError as exc:  # no server, an empty stream
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the output folder changed under us, a full disk
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: cannot write to {args.out}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
