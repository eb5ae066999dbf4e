"""A UniFLG gRPC client: text -> speech.wav + landmarks.npy, or a WAV file -> landmarks, streamed.

    uniflg serve &
    python examples/grpc_client.py synthesize "こんにちは" -o out/grpc
    python examples/grpc_client.py animate out/grpc/speech.wav -o out/grpc
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
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc


def synthesize(stub: pb_grpc.UniFLGServiceStub, args: argparse.Namespace, metadata: list) -> int:
    request = pb.SynthesizeRequest(text=args.text, speaker=args.speaker or "", emotion=args.emotion or "",
                                   include_blendshapes=True)
    audio, frames, rate = [], [], 0
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


def animate(stub: pb_grpc.UniFLGServiceStub, args: argparse.Namespace, metadata: list) -> int:
    pcm, rate = sf.read(args.audio, dtype="int16")
    if pcm.ndim > 1:
        pcm = pcm[:, 0]  # the service takes mono

    def requests() -> Iterator[pb.AnimateRequest]:
        yield pb.AnimateRequest(header=pb.AudioHeader(sample_rate=rate, channels=1))
        step = rate // 10  # 100 ms chunks, as a live microphone would send them
        for i in range(0, len(pcm), step):
            yield pb.AnimateRequest(audio=pcm[i:i + step].astype("<i2").tobytes())
        yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

    frames = []
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    args = parser.parse_args()
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else []
    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.UniFLGServiceStub(channel)
        try:
            return synthesize(stub, args, metadata) if args.command == "synthesize" else \
                animate(stub, args, metadata)
        except grpc.RpcError as exc:
            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
