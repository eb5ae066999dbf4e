"""Benchmark of ``uniflg live`` as a user runs it: a speech file played in real time into a separate
``uniflg live --input FILE --osc ...`` process, and a real UDP OSC receiver that checks what arrives.

    python -m uniflg_bridge.livebench --seconds 60 --json out/live60.json
    nice python -m uniflg_bridge.livebench --seconds 1800 --json out/live1800.json    # the 30-minute run
    python -m uniflg_bridge.livebench --seconds 20 --grpc 250    # gRPC Animate, audio paced in 100 ms chunks

Reports: frames received (indices contiguous, count = 30 x seconds, then the closing neutral frame), latency
p50/p95/max from the time tags (arrival - (tag + 1/30)), frame-clock drift (time tags against the audio clock,
i.e. tag_i - tag_0 - i/30), CPU of the live process (% of one core), resident memory at the start and the end,
and CPU seconds per audio second in the first and the last tenth of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from uniflg import argtypes
from uniflg.cli import description

SENTENCES = ("こんにちは。今日はとてもいい天気ですね、一緒に公園まで散歩に行きませんか。",
             "明日の会議は午後三時からです。資料を忘れずに持ってきてください。",
             "ゲームの配信を始めます。みなさん、よろしくお願いします！")


def make_speech(path: Path, seconds: float, rate: int = 48000) -> None:
    """``seconds`` of the default voice's speech (three sentences with pauses, repeated) at ``rate``, stereo:
    a microphone-like format, so the live path resamples and mixes down."""
    import soundfile as sf
    from uniflg.audio import resample
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice

    voice = load_voice()
    parts = []
    for i, text in enumerate(SENTENCES):
        audio, _ = voice.synthesize_all(text, SynthesisOptions(seed=i))
        parts += [audio, np.zeros(int(0.4 * voice.sample_rate), np.float32)]
    cycle = resample(np.concatenate(parts), voice.sample_rate, rate)
    n = int(round(seconds * rate))
    mono = np.tile(cycle, int(np.ceil(n / cycle.size)))[:n]
    sf.write(str(path), np.stack([mono, 0.8 * mono], axis=1), rate, subtype="PCM_16")


class OscReceiver:
    """Records (frame index, time tag, arrival) of every /uniflg frame bundle on a UDP port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames: list[tuple[int, float, float]] = []
        self.end_count: int | None = None
        self.started = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from pythonosc.osc_bundle import OscBundle
        from pythonosc.osc_message import OscMessage

        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            now = time.time()
            if OscBundle.dgram_is_bundle(data):
                bundle = OscBundle(data)
                first = bundle.content(0)
                # a frame too big for one datagram comes as several bundles, each led by /uniflg/frame: count
                # the one that carries the landmarks
                if (first.address == "/uniflg/frame" and bundle.num_contents > 1
                        and bundle.content(1).address == "/uniflg/landmarks"):
                    self.frames.append((int(first.params[1]), bundle.timestamp, now))
                    self.started.set()
            else:
                msg = OscMessage(data)
                if msg.address == "/uniflg/stream/end":
                    self.end_count = int(msg.params[1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _proc(pid: int) -> tuple[float, float, float] | None:
    """(CPU seconds, RSS MB, peak RSS MB so far) of a live process from /proc (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
          if line.startswith(("VmRSS", "VmHWM"))}
    return (int(stat[11]) + int(stat[12])) / tick, kb.get("VmRSS", 0) / 1024, kb.get("VmHWM", 0) / 1024


def run(seconds: float, extra: list[str], workdir: Path) -> dict[str, Any]:
    wav = workdir / "speech.wav"
    make_speech(wav, seconds)
    receiver = OscReceiver()
    summary_path = workdir / "summary.json"
    cmd = [sys.executable, "-m", "uniflg_bridge.live_cli", "--input", str(wav), "--osc",
           f"127.0.0.1:{receiver.port}", "--quiet", "--summary", str(summary_path), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    samples: list[tuple[float, float, float, float]] = []  # (monotonic, cpu s, rss MB, peak rss MB)
    try:
        while proc.poll() is None:
            got = _proc(proc.pid)
            if got is not None and receiver.started.is_set():
                samples.append((time.monotonic(), *got))
            time.sleep(1.0)
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait()
        time.sleep(0.3)
        receiver.close()
    live = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return analyse(receiver, samples, seconds, live, proc.returncode)


def analyse(receiver: OscReceiver, samples: list[tuple[float, float, float, float]], seconds: float,
            live: dict[str, Any], returncode: int) -> dict[str, Any]:
    fps = 30
    expected = int(round(seconds * fps))
    frames = receiver.frames
    speech = [f for f in frames if f[0] < expected]
    idx = np.array([f[0] for f in speech])
    tags = np.array([f[1] for f in speech])
    arrival = np.array([f[2] for f in speech])
    latency = (arrival - (tags + 1 / fps)) * 1000
    drift = (tags - tags[0] - idx / fps) * 1000 if len(idx) else np.zeros(0)
    tenth = max(1, len(samples) // 10)
    cost = {}
    if len(samples) >= 4:
        first, last = samples[: tenth + 1], samples[-tenth - 1:]
        cost = {"first_tenth": round((first[-1][1] - first[0][1]) / (first[-1][0] - first[0][0]), 4),
                "last_tenth": round((last[-1][1] - last[0][1]) / (last[-1][0] - last[0][0]), 4)}
    minute = fps * 60
    return {
        "audio_seconds": seconds, "returncode": returncode,
        "frames_expected": expected, "frames_received": len(speech),
        "indices_contiguous": bool(len(idx) == expected and np.array_equal(idx, np.arange(expected))),
        "closing_neutral_frame": any(f[0] == expected for f in frames),
        "stream_end_count": receiver.end_count,
        "latency_ms": {"p50": _pct(latency, 50), "p95": _pct(latency, 95), "max": _pct(latency, 100),
                       "p50_first_minute": _pct(latency[:minute], 50), "p50_last_minute": _pct(latency[-minute:], 50)},
        "frame_clock_drift_ms": {"max_abs": round(float(np.abs(drift).max()), 3) if drift.size else None,
                                 "end": round(float(drift[-1]), 3) if drift.size else None},
        "cpu_percent_of_one_core": round(100 * live["cpu_seconds"] / live["wall_seconds"], 1) if live else None,
        "cpu_seconds_per_audio_second": cost,
        "rss_mb": {"start": round(samples[0][2], 1) if samples else None,
                   "end": round(samples[-1][2], 1) if samples else None,
                   "peak_at_start": round(samples[0][3], 1) if samples else None,
                   "peak_at_end": round(samples[-1][3], 1) if samples else None},
        "live_summary": live,
    }


def grpc_run(seconds: float, max_lookahead_ms: int, workdir: Path, chunk_ms: int = 100) -> dict[str, Any]:
    """``uniflg serve`` in its own process; a client sends ``seconds`` of speech to ``Animate`` in ``chunk_ms``
    chunks paced in real time (``max_lookahead_ms`` in the header; 0 = not set, an old client) and records when
    each frame arrives. Latency of frame i = its arrival - the moment the chunk holding the end of its audio
    ((i + 1) / 30 s) was sent."""
    import grpc
    import soundfile as sf
    from uniflgapi.v1 import uniflg_pb2 as pb
    from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

    wav = workdir / "speech.wav"
    make_speech(wav, seconds, rate=24000)
    audio = sf.read(str(wav), dtype="int16")[0][:, 0]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", "from uniflg.cli import main; import sys; sys.exit(main())",
                               "serve", "--grpc", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=120)
        stub = pb_grpc.UniFLGServiceStub(channel)
        step = 24000 * chunk_ms // 1000
        sent_at: list[float] = []  # time chunk k was sent

        def requests() -> Any:
            header = pb.AudioHeader(sample_rate=24000, channels=1)
            if max_lookahead_ms:
                header.max_lookahead_ms = max_lookahead_ms
            yield pb.AnimateRequest(header=header)
            t0 = time.monotonic()
            for k, i in enumerate(range(0, audio.size, step)):
                delay = t0 + k * chunk_ms / 1000 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent_at.append(time.monotonic())
                yield pb.AnimateRequest(audio=audio[i:i + step].astype("<i2").tobytes())
            yield pb.AnimateRequest(end_of_audio=pb.EndOfAudio())

        arrivals: list[tuple[int, float]] = []
        lookahead = None
        for response in stub.Animate(requests(), timeout=seconds + 120):
            now = time.monotonic()
            if response.HasField("header"):
                lookahead = getattr(response.header, "lookahead_ms", None)
            elif response.HasField("chunk"):
                arrivals += [(f.index, now) for f in response.chunk.frames]
        channel.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    n = len(arrivals)
    # The client plays a microphone: chunk k is sent when its last sample has been spoken, so sample s was spoken
    # at sent_at[0] - chunk + s / rate, and frame i's audio ends at sent_at[0] - chunk + (i + 1) / 30.
    spoken0 = sent_at[0] - chunk_ms / 1000
    idx = np.array([i for i, _ in arrivals])
    latency = np.array([t for _, t in arrivals]) - (spoken0 + (idx + 1) / 30)
    streamed = latency[(idx + 1) / 30 <= len(sent_at) * chunk_ms / 1000 - 1.5]  # not the end-of-audio flush
    return {"audio_seconds": seconds, "max_lookahead_ms": max_lookahead_ms, "header_lookahead_ms": lookahead,
            "frames": n, "indices_contiguous": [i for i, _ in arrivals] == list(range(n)),
            "latency_ms": {"first_frame": _pct(streamed[:1] * 1000, 50), "p50": _pct(streamed * 1000, 50),
                           "p95": _pct(streamed * 1000, 95), "max": _pct(streamed * 1000, 100)}}


def _pct(x: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(x, q)), 1) if x.size else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniflg_bridge.livebench", description=description(__doc__))
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the paced speech (default 60)")
    parser.add_argument("--json", type=argtypes.path, default=None, help="also write the result here")
    parser.add_argument("--grpc", type=int, default=None, metavar="MAX_LOOKAHEAD_MS",
                        help="measure gRPC Animate instead (0: an old client without the field)")
    parser.add_argument("live_args", nargs="*", help="extra `uniflg live` options (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.grpc is not None:
            result = grpc_run(args.seconds, args.grpc, Path(tmp))
        else:
            result = run(args.seconds, args.live_args, Path(tmp))
    text = json.dumps(result, indent=2)
    sys.stdout.write(text + "\n")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if result.get("indices_contiguous") else 1


if __name__ == "__main__":
    sys.exit(main())
