"""Serving end to end: fan-out from live streams, playback pacing, the CLI, and SIGTERM draining."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
from bridge_fakes import FakeVoice, synthetic_face
from bridge_server import running_server, start_server_process, stub
from pythonosc.osc_bundle import OscBundle
from uniflg.retarget import Retargeter
from uniflg.types import StreamInfo
from uniflg_bridge import cli, livelink, osc
from uniflg_bridge.fanout import Blendshapes, FanOut, StreamMeta
from uniflg_bridge.udp import LOOPBACK_MAX_DATAGRAM, Target
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

TESTS = Path(__file__).parent


def udp_receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3.0)
    return sock


def test_synthesize_fans_out_paced_frames() -> None:
    rx_osc, rx_ll = udp_receiver(), udp_receiver()
    fan = FanOut([osc.OscLandmarkSink(Target("127.0.0.1", rx_osc.getsockname()[1]),
                                      max_datagram=LOOPBACK_MAX_DATAGRAM),
                  livelink.LiveLinkSink(Target("127.0.0.1", rx_ll.getsockname()[1]))])
    with running_server(FakeVoice(), fanout=fan) as srv:
        channel, client = stub(srv)
        t0 = time.monotonic()
        responses = []
        for r in client.Synthesize(pb.SynthesizeRequest(text="こんにちは"), timeout=10):
            responses.append(r)
            if r.WhichOneof("response") == "chunk" and r.chunk.time_code + len(r.chunk.audio) / 32000 > 0.39:
                served = time.monotonic() - t0  # the last chunk (0.4 s of audio)
        completed = time.monotonic() - t0
        n_frames = responses[-1].status.frame_count
        packets = [rx_osc.recv(65536) for _ in range(n_frames + 2)]
        paced = time.monotonic() - t0
        channel.close()
    bundles = [OscBundle(p) for p in packets[1:-1]]
    assert [list(b)[0].params[1] for b in bundles] == list(range(n_frames))
    # The gRPC chunks come faster than real time; the fan-out follows the audio clock, and the final Status
    # waits for the fan-out (the call stays open while the avatar talks).
    assert served < (n_frames - 1) / 30 - 0.1 <= completed + 0.05 and paced >= (n_frames - 1) / 30 - 0.05
    curves = [livelink.decode_packet(rx_ll.recv(4096)).curves for _ in range(n_frames)]
    assert all(c.shape == (61,) for c in curves)


class FakePlayer:
    def __init__(self) -> None:
        self.started_at: float | None = None
        self.samples = 0
        self.closed = False

    def start(self) -> float:
        self.started_at = time.monotonic() + 0.2  # pretend 200 ms output latency
        return self.started_at

    def write(self, audio: np.ndarray) -> None:
        self.samples += len(audio)

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def test_playback_clock_anchors_the_frames() -> None:
    player = FakePlayer()
    sent: list[tuple[int, float]] = []

    class Rec:
        name = "rec"

        def start(self, meta): pass

        def frame(self, meta, event): sent.append((event.index, time.monotonic()))

        def end(self, meta, n): pass

        def close(self): pass

    async def go() -> None:
        fan = FanOut([Rec()], play=lambda rate: player)
        meta = StreamMeta("s", StreamInfo(sample_rate=16000), 0.0)
        stream = fan.open(meta)
        stream.audio(np.zeros(1600, np.float32))
        faces = np.stack([synthetic_face()] * 3)
        stream.frames(0, faces, Blendshapes.of(Retargeter.from_neutral(synthetic_face()), faces))
        stream.finish()
        await stream.wait()

    asyncio.run(go())
    assert player.samples == 1600 and player.closed
    assert player.started_at is not None
    for index, when in sent:  # frame i is sent when sample i/fps is heard, not before
        assert when >= player.started_at + index / 30 - 1e-3


def test_play_without_the_sound_library_says_what_to_install(tmp_path: Path) -> None:
    # a Python where sounddevice cannot be imported, as after `make demo` without the audio extra
    (tmp_path / "sounddevice.py").write_text("raise ImportError('No module named sounddevice')\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env.pop("UNIFLG_TOKEN", None)
    out = subprocess.run([sys.executable, "-m", "uniflg.cli", "serve", "--play", "--grpc", "127.0.0.1:0"], env=env,
                         capture_output=True, text=True, timeout=120)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "--play: playback needs the 'audio' extra: pip install 'uniflg[audio]'" in lines[0], lines


def test_real_playback_into_a_null_alsa_device(tmp_path: Path) -> None:
    from uniflg_bridge.player import portaudio_available

    ok, reason = portaudio_available()
    if not ok and not reason.startswith("no audio output device"):
        pytest.skip(reason)
    # A private ALSA config whose default pcm is the null device: PortAudio plays into it.
    (tmp_path / ".asoundrc").write_text("pcm.!default { type null }\nctl.!default { type hw card 0 }\n")
    script = textwrap.dedent("""
        import asyncio, numpy as np
        from uniflg_bridge.player import Player
        async def main():
            p = Player(16000)
            p.start()
            p.write(np.zeros(8000, np.float32))
            await p.drain()
            p.close()
            print("played", p.played)
        asyncio.run(main())
    """)
    env = dict(os.environ, HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) >= 8000


def test_cli_registers_serve_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    cli.register_serve(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--osc", ":9001", "--vmc", "127.0.0.1", "--livelink", "localhost:1",
                              "--vmc-perfect-sync", "--max-streams", "4"])
    assert args.grpc == "127.0.0.1:50051" and args.func is cli.run_serve
    fan = cli.build_fanout(args)
    targets = [(s.name, str(s.sender.target)) for s in fan.sinks]
    assert targets == [("osc", "127.0.0.1:9001"), ("vmc", "127.0.0.1:39539"), ("livelink", "localhost:1")]
    asyncio.run(fan.aclose())
    bad = parser.parse_args(["serve", "--grpc", "0.0.0.0:50051"])
    bad.token = None
    assert cli.run_serve(bad) == 2  # refuses a public bind without a token


SERVER_SCRIPT = """
import asyncio, logging, sys
sys.path.insert(0, {tests!r})
from bridge_fakes import FakeVoice
from uniflg_bridge.server import ServerConfig, serve
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
asyncio.run(serve(FakeVoice(delay=0.1), ServerConfig(bind="127.0.0.1:0", grace_seconds=20)))
"""


def test_sigterm_drains_open_streams_and_exits() -> None:
    proc, port, _ = start_server_process(["-c", SERVER_SCRIPT.format(tests=str(TESTS))])
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        client = pb_grpc.UniFLGServiceStub(channel)
        call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 20, chunk_seconds=0.1), timeout=30)
        assert next(call).WhichOneof("response") == "header"
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(grpc.RpcError):  # no new calls once draining
            client.GetInfo(pb.GetInfoRequest(), timeout=2)
        rest = list(call)
        assert rest[-1].HasField("status")  # the open stream ran to the end
        assert proc.wait(timeout=20) == 0
        channel.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_load_script_runs_mixed_streams_without_errors() -> None:
    from uniflg_bridge.loadtest import run_load

    report = asyncio.run(run_load(FakeVoice(), streams=6, animate_seconds=1.0))
    assert report["errors"] == [] and report["frames_per_s"] > 0
    assert report["rss_mib_after"] > 0


FANNED_SERVER_SCRIPT = """
import asyncio, logging, sys
sys.path.insert(0, {tests!r})
from bridge_fakes import FakeVoice
from uniflg_bridge import vmc
from uniflg_bridge.fanout import FanOut
from uniflg_bridge.server import ServerConfig, serve
from uniflg_bridge.udp import Target
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
fan = FanOut([vmc.VmcSink(Target("127.0.0.1", {port}))])
asyncio.run(serve(FakeVoice(), ServerConfig(bind="127.0.0.1:0", grace_seconds=20), fan))
"""


def vmc_receiver() -> socket.socket:
    sock = udp_receiver()
    sock.settimeout(0.05)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    return sock


def drain(sock: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(sock.recv(65536))
        except TimeoutError:
            return out


def is_neutral_vmc(data: bytes) -> bool:
    return not any(m.params[1] for m in OscBundle(data) if m.address == "/VMC/Ext/Blend/Val")


def start_fanned_server(rx: socket.socket, sighup: signal.Handlers = signal.SIG_DFL,
                        ) -> tuple[subprocess.Popen[str], pb_grpc.UniFLGServiceStub, grpc.Channel]:
    """The server of FANNED_SERVER_SCRIPT in its own process, started with SIGHUP's disposition ``sighup`` (as a
    shell leaves it, or as nohup does: SIG_IGN), whatever this test runner's is."""
    script = FANNED_SERVER_SCRIPT.format(tests=str(TESTS), port=rx.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, sighup))
    assert proc.stderr is not None
    for line in proc.stderr:
        if m := re.search(r"on 127\.0\.0\.1:(\d+)", line):
            channel = grpc.insecure_channel(f"127.0.0.1:{m.group(1)}")
            return proc, pb_grpc.UniFLGServiceStub(channel), channel
    raise AssertionError(f"the server exited ({proc.wait()}) before it was serving")


def stopped(proc: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    """(exit status, the rest of its log) once the server has exited within ``timeout`` seconds."""
    try:
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    return code, proc.stderr.read()


def test_a_health_watch_does_not_hold_a_stopping_server() -> None:
    """A load balancer's Watch sees NOT_SERVING and ends; with no stream open the server exits at once, not after
    the 20 s grace."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    rx = vmc_receiver()
    proc, _, channel = start_fanned_server(rx)
    seen: list[int] = []
    ended: list[str] = []

    def watch() -> None:
        try:
            for reply in health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=60):
                seen.append(reply.status)
            ended.append("OK")
        except grpc.RpcError as exc:
            ended.append(exc.code().name)

    watcher = threading.Thread(target=watch)
    watcher.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code, log = stopped(proc, timeout=10)
    took = time.monotonic() - t0
    watcher.join(5)
    channel.close()
    assert code == 0 and took < 8, (took, log)
    assert seen == [health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING]
    assert ended == ["OK"], ended
    assert "SIGTERM: shutting down; 0 open stream(s)" in log, log


def test_a_second_ctrl_c_stops_the_open_streams_at_once() -> None:
    rx = vmc_receiver()
    proc, client, channel = start_fanned_server(rx)
    call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 300), timeout=60)  # 24 s of frames
    next(call), next(call)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert proc.poll() is None  # the first Ctrl-C gives the stream its grace (20 s)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, log = stopped(proc, timeout=10)
    took = time.monotonic() - t0
    with pytest.raises(grpc.RpcError):
        list(call)
    channel.close()
    packets = drain(rx)
    assert code == 0 and took < 8, (took, log)
    assert "SIGINT (Ctrl-C): shutting down; 1 open stream(s) get up to 20 s" in log, log
    assert "SIGINT (Ctrl-C) again: stopping now; 1 open stream(s) are cancelled" in log, log
    assert packets and is_neutral_vmc(packets[-1])  # the avatar was left neutral


def test_sighup_shuts_down_like_sigterm() -> None:
    """A closed terminal (or ssh session): the open stream completes, the avatar ends neutral, a log line says why."""
    rx = vmc_receiver()
    proc, client, channel = start_fanned_server(rx)
    call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 20), timeout=60)  # 1.6 s of frames
    next(call)
    proc.send_signal(signal.SIGHUP)
    rest = list(call)
    code, log = stopped(proc, timeout=15)
    channel.close()
    packets = drain(rx)
    assert code == 0 and rest[-1].HasField("status"), log
    assert "SIGHUP (the terminal closed): shutting down; 1 open stream(s)" in log, log
    assert len(packets) == rest[-1].status.frame_count + 1 and is_neutral_vmc(packets[-1])


def test_under_nohup_sighup_is_still_ignored() -> None:
    rx = vmc_receiver()
    proc, client, channel = start_fanned_server(rx, sighup=signal.SIG_IGN)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    assert proc.poll() is None and client.GetInfo(pb.GetInfoRequest(), timeout=10).voice == "fake"
    proc.send_signal(signal.SIGTERM)
    code, log = stopped(proc, timeout=15)
    channel.close()
    assert code == 0 and "SIGHUP" not in log and "SIGTERM: shutting down" in log, log
