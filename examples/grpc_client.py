"""A UniFLG gRPC client: text -> speech.wav + landmarks.npy, or a WAV file -> landmarks, streamed.

    uniflg serve &
    python examples/grpc_client.py synthesize "こんにちは" -o out/grpc
    python examples/grpc_client.py animate out/grpc/speech.wav -o out/grpc

Bad input (bad arguments, a file that is missing or no sound file) ends with one line on stderr and exit status
2, as the other examples do; a server that cannot be reached, an error status from the server or an unwritable
output folder, with one line and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import soundfile as sf
from uniflg.cli import Parser  # one-line usage errors, as the uniflg command
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc


def synthesize(stub: pb_grpc.UniFLGServiceStub, args: argparse.Namespace, metadata: list) -> int:
    request = pb.SynthesizeRequest(text=args.text, speaker=args.speaker or "", emotion=args.emotion or "",
                                   include_blendshapes=True)
    audio: list[np.ndarray] = []
    frames: list[pb.LandmarkFrame] = []
    rate = 0
    t0 = time.perf_counter()
    for response in stub.Synthesize(request, metadata=metadata, timeout=120):
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
            print(f"done: {response.status.frame_count} frames, "
                  f"{response.status.audio_seconds:.2f} s of audio")
    args.out.mkdir(parents=True, exist_ok=True)
    sf.write(args.out / "speech.wav", np.concatenate(audio), rate, subtype="PCM_16")
    np.save(args.out / "landmarks.npy", np.array([f.points for f in frames], np.float32).reshape(-1, 70, 2))
    print(f"wrote {args.out}/speech.wav and landmarks.npy")
    return 0


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """-> (mono int16 samples, sample rate); ValueError (one line) for a missing or unreadable file."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        pcm, rate = sf.read(path, dtype="int16")
    except (sf.LibsndfileError, RuntimeError) as exc:  # not a sound file soundfile reads
        raise ValueError(f"{path}: not a readable sound file ({exc})") from None
    return (pcm[:, 0] if pcm.ndim > 1 else pcm), rate  # the service takes mono


def animate(stub: pb_grpc.UniFLGServiceStub, args: argparse.Namespace, metadata: list) -> int:
    pcm, rate = args.pcm

    def requests() -> Iterator[pb.AnimateRequest]:
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=rate, channels=1))
        step = rate // 10  # 100 ms chunks, as a live microphone would send them
        for i in range(0, len(pcm), step):
            yield pb.AnimateRequest(audio=pcm[i:i + step].astype("<i2").tobytes())
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    frames: list[pb.LandmarkFrame] = []
    for response in stub.Animate(requests(), metadata=metadata, timeout=120):
        if response.WhichOneof("response") == "chunk":
            frames.extend(response.chunk.frames)
        elif response.WhichOneof("response") == "status":
            print(f"done: {len(frames)} frames for "
                  f"{response.status.audio_seconds:.2f} s of audio")
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "animated.npy", np.array([f.points for f in frames], np.float32).reshape(-1, 70, 2))
    return 0


def main() -> int:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--token", default=None, help="bearer token, if the server requires one")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synthesize")
    s.add_argument("text")
    s.add_argument("--speaker")
    s.add_argument("--emotion")
    s.add_argument("-o", "--out", type=Path, default=Path("out/grpc"))
    a = sub.add_parser("animate")
    a.add_argument("audio", type=Path)
    a.add_argument("-o", "--out", type=Path, default=Path("out/grpc"))
    parser.add_argument("--connect-timeout", type=float, default=5.0, help="seconds to wait for the server")
    args = parser.parse_args()
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    if args.command == "animate":
        try:
            args.pcm = read_audio(args.audio)  # before connecting: a typo costs no round trip
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        with grpc.insecure_channel(args.address) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
            except grpc.FutureTimeoutError:
                raise ValueError(f"cannot reach a server at {args.address} within {args.connect_timeout:g} s "
                                 "(is `uniflg serve` running? --address HOST:PORT)") from None
            stub = pb_grpc.UniFLGServiceStub(channel)
            return synthesize(stub, args, metadata) if args.command == "synthesize" else \
                animate(stub, args, metadata)
    except grpc.RpcError as exc:
        details = " ".join((exc.details() or "").split())  # one line
        print(f"error: the server answered {exc.code().name}: {details}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:  # no server, unwritable output folder
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
