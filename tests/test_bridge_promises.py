"""The server keeps its promises (docs/grpc.md, docs/osc.md): every stream that completes ends with a Status,
idle or slow clients cannot hold slots, load beyond capacity is queued or refused as retryable, interrupted
streams stop their avatars, asked-for security is never dropped, start-up errors are one line, shutdown
honours the grace period, echoes are bounded, and send failures are counted. Real gRPC clients on port 0 and
real UDP sockets throughout."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from bridge_fakes import FakeVoice
from bridge_server import running_server, serve_in_process, start_server_process, stub
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from uniflg.audio import pcm16_bytes
from uniflg.errors import UnsupportedTextError
from uniflg.types import SynthesisChunk, SynthesisOptions
from uniflg_bridge import livelink, osc, vmc, wire
from uniflg_bridge.fanout import FanOut
from uniflg_bridge.server import AudioBuffer, ServerConfig, build_server
from uniflg_bridge.status import MAX_DETAIL_CHARS, RETRY_AFTER_KEY, RETRY_PUSHBACK_KEY
from uniflg_bridge.udp import DatagramSender, Target
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[1]

C = grpc.StatusCode
SR = 16000
TESTS = Path(__file__).parent
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python 3.11 does not name it


def udp_receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # the kernel stamps each datagram's arrival
    return sock


def collect(sock: socket.socket, seconds: float) -> list[tuple[float, bytes]]:
    """(arrival time by the kernel's clock, time.time() scale; datagram) for ``seconds``: stamps that do not
    depend on when this (possibly starved) thread gets to read."""
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(TimeoutError):
            data, ancillary, _, _ = sock.recvmsg(65536, 64)
            stamp = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    stamp = sec + nsec / 1e9
            out.append((stamp, data))
    return out


def header(sample_rate: int = SR, request_id: str = "") -> pb.AnimateRequest:
    return pb.AnimateRequest(header=pb.AudioHeader(sample_rate=sample_rate, channels=1, request_id=request_id))


def audio(seconds: float) -> pb.AnimateRequest:
    t = np.arange(int(SR * seconds)) / SR
    return pb.AnimateRequest(audio=pcm16_bytes(0.3 * np.sin(2 * np.pi * 200 * t)))


END = pb.AnimateRequest(end_of_audio=pb.EndOfAudio())


def completed(responses: list) -> bool:
    return bool(responses) and responses[-1].WhichOneof("response") == "status"


# ---------------------------------------------------------------- 1. a last chunk without frames


def empty_tail_requests(voice: FakeVoice, want: int) -> list[pb.SynthesizeRequest]:
    """Ordinary requests whose last chunk holds audio but no landmark frame (the fake voice's chunking)."""
    found = []
    for text_len in range(2, 40):
        for speed in (1.0, 1.5, 2.5, 4.0):
            for chunk_seconds in (0.1, 0.25, 0.5):
                options = SynthesisOptions(speed=speed, chunk_seconds=chunk_seconds)
                chunks = list(voice.synthesize("あ" * text_len, options))
                if len(chunks[-1].landmarks) == 0 and len(chunks[-1].audio):
                    found.append(pb.SynthesizeRequest(text="あ" * text_len, speed=speed, chunk_seconds=chunk_seconds))
                    if len(found) == want:
                        return found
    return found


def test_media_chunk_of_a_chunk_without_frames() -> None:
    chunk = SynthesisChunk(index=2, sample_offset=16000, sample_rate=SR, audio=np.zeros(256, np.float32),
                           first_frame=30, landmarks=np.zeros((0, 70, 2), np.float32), is_last=True)
    message = wire.media_chunk(chunk, 30, np.zeros((0, 69), np.float32))
    assert len(message.audio) == 512 and len(message.frames) == 0 and message.time_code == 1.0


def test_synthesize_completes_when_the_last_chunk_has_no_frames() -> None:
    voice = FakeVoice()
    requests = empty_tail_requests(voice, 6)
    assert len(requests) == 6  # several texts, speeds and chunk sizes end so
    rx = udp_receiver()
    fan = FanOut([osc.OscLandmarkSink(Target("127.0.0.1", rx.getsockname()[1]))])
    with running_server(voice, fanout=fan) as srv:
        channel, client = stub(srv)
        for request in requests:
            for blendshapes in (False, True):
                request.include_blendshapes = blendshapes
                responses = list(client.Synthesize(request, timeout=30))
                assert completed(responses), request
                frames = [f for r in responses[1:-1] for f in r.chunk.frames]
                assert responses[-1].status.frame_count == len(frames) > 0
                assert responses[-2].chunk.audio and not responses[-2].chunk.frames  # the frameless tail
                # The stream's fan-out ran to its end: every frame, then /uniflg/stream/end with the count.
                packets = [d for _, d in collect(rx, 0.1)]
                ends = [OscMessage(d).params for d in packets if d.startswith(b"/uniflg/stream/end")]
                assert ends == [[responses[0].header.request_id, len(frames)]]
                indices = {list(OscBundle(d))[0].params[1] for d in packets if d.startswith(b"#bundle")}
                assert indices == set(range(len(frames)))
        channel.close()


# ---------------------------------------------------------------- 2. holding slots


@pytest.fixture()
def strict() -> Iterator:
    """Two slots, no queue, short timeouts: a held slot shows at once as an UNAVAILABLE."""
    voice = FakeVoice()
    with running_server(voice, max_streams=2, queue_size=0, header_timeout=0.5, idle_timeout=0.6) as srv:
        channel, client = stub(srv)
        yield voice, srv, client
        channel.close()


def still_serving(client) -> None:
    assert completed(list(client.Synthesize(pb.SynthesizeRequest(text="はい"), timeout=10)))


def wait_idle(srv, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while srv.servicer.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.servicer.active == 0


def test_silent_animate_calls_hold_no_slot_and_time_out(strict) -> None:
    voice, srv, client = strict
    never = threading.Event()

    def silent() -> Iterator[pb.AnimateRequest]:
        never.wait(5)
        yield from ()

    calls = [client.Animate(silent(), timeout=10) for _ in range(8)]  # 4x the slots
    time.sleep(0.2)
    assert srv.servicer.active == 0
    still_serving(client)  # served at once although 8 calls are open
    for call in calls:
        with pytest.raises(grpc.RpcError) as info:
            list(call)
        assert info.value.code() == C.DEADLINE_EXCEEDED and "AudioHeader" in info.value.details()
    never.set()
    still_serving(client)


@pytest.mark.parametrize("kind", ["silent after the header", "trickle slower than real time"])
def test_idle_or_trickling_uploads_lose_their_slot(strict, kind: str) -> None:
    voice, srv, client = strict
    stop = threading.Event()

    def requests() -> Iterator[pb.AnimateRequest]:
        yield header()
        if kind == "silent after the header":
            stop.wait(5)
        else:  # 10 ms of audio every 0.4 s: within the idle timeout each time, but 40x slower than real time
            while not stop.wait(0.4):
                yield audio(0.01)

    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        list(client.Animate(requests(), timeout=20))
    stop.set()
    assert info.value.code() == C.DEADLINE_EXCEEDED, info.value.details()
    assert time.monotonic() - t0 < 3.0
    wait_idle(srv)
    still_serving(client)


def test_an_unread_answer_frees_its_slot(strict) -> None:
    voice, srv, _ = strict
    # Without BDP probing the client's window stays at 64 KiB, so the 1 MB answer cannot all be buffered.
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.port}", options=[("grpc.http2.bdp_probe", 0)])
    client = pb_grpc.UniFLGServiceStub(channel)
    call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 400, chunk_seconds=0.05), timeout=30)
    first = next(call)  # then read nothing: about 1 MB of answer waits in flow control
    assert first.WhichOneof("response") == "header"
    wait_idle(srv, timeout=5.0)
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == C.DEADLINE_EXCEEDED and "read nothing" in info.value.details()
    still_serving(client)
    channel.close()


def test_audio_buffer_is_bounded_and_pauses_the_reader() -> None:
    async def go() -> tuple[int, int, list[int]]:
        buffer = AudioBuffer(max_samples=1000)
        put = 0

        async def producer() -> None:
            nonlocal put
            for _ in range(20):
                await buffer.put(np.zeros(400, np.float32))
                put += 1
            buffer.end(object())  # a marker the consumer stops on below

        task = asyncio.create_task(producer())
        await asyncio.sleep(0.1)
        paused_at = put  # nothing consumes yet: the producer waits once 1000 samples are held
        sizes: list[int] = []

        def consume() -> None:
            for _item in buffer:
                sizes.append(buffer._samples)
                if len(sizes) == 20:
                    return

        await asyncio.to_thread(consume)
        await asyncio.wait_for(task, 5)
        return paused_at, put, sizes

    paused_at, put, held = asyncio.run(go())
    assert paused_at == 3 and put == 20  # 3 x 400 >= 1000 samples, then paused until the voice read some
    assert max(held) <= 1000 + 400


# ---------------------------------------------------------------- 3. admission: queue, retryable refusals


def test_sixteen_mixed_streams_on_default_settings_all_complete() -> None:
    from uniflg_bridge.loadtest import run_load

    report = asyncio.run(run_load(FakeVoice(delay=0.05), streams=16, animate_seconds=1.0))
    assert report["max_concurrent_streams"] >= 16
    assert report["outcomes"] == {"ok": 16}, report["errors"]


def test_beyond_capacity_calls_queue_then_get_a_retryable_refusal() -> None:
    voice = FakeVoice(delay=0.15)
    with running_server(voice, max_streams=2, queue_size=2, queue_wait=3.0) as srv:
        channel, client = stub(srv)
        calls = [client.Synthesize(pb.SynthesizeRequest(text="あ" * 12, chunk_seconds=0.1), timeout=30)
                 for _ in range(8)]
        outcomes, refusal_times = [], []
        t0 = time.monotonic()
        for call in calls:
            try:
                outcomes.append("ok" if completed(list(call)) else "no status")
            except grpc.RpcError as exc:
                outcomes.append(exc.code().name)
                refusal_times.append(time.monotonic() - t0)
                trailers = dict(exc.trailing_metadata())
                assert exc.code() == C.UNAVAILABLE and "retry" in exc.details()
                assert int(trailers[RETRY_AFTER_KEY]) == int(trailers[RETRY_PUSHBACK_KEY]) >= 100
        # 2 run, 2 wait and then run, the rest are refused at once (not after the streams finish)
        assert outcomes.count("ok") == 4 and outcomes.count("UNAVAILABLE") == 4, outcomes
        channel.close()


def test_a_queued_call_is_refused_when_its_wait_runs_out() -> None:
    voice = FakeVoice(delay=0.3)
    with running_server(voice, max_streams=1, queue_size=4, queue_wait=0.4) as srv:
        channel, client = stub(srv)
        running = client.Synthesize(pb.SynthesizeRequest(text="あ" * 20, chunk_seconds=0.1), timeout=30)
        next(running)
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            list(client.Synthesize(pb.SynthesizeRequest(text="はい"), timeout=10))
        waited = time.monotonic() - t0
        assert info.value.code() == C.UNAVAILABLE and 0.35 <= waited < 1.5
        assert "(1 stream running, 0 waiting; waited 0.4 s)" in info.value.details(), info.value.details()
        assert int(dict(info.value.trailing_metadata())[RETRY_AFTER_KEY]) >= 100
        assert completed(list(running))
        channel.close()


def test_refused_requests_do_not_shrink_the_retry_pause() -> None:
    """Invalid requests refused inside the slot (cheap for anyone to send) say nothing about how long streams take:
    the pause still comes from the completed stream's time."""
    voice = FakeVoice(delay=0.1)
    with running_server(voice, max_streams=1, queue_size=0) as srv:
        channel, client = stub(srv)
        t0 = time.monotonic()
        assert completed(list(client.Synthesize(pb.SynthesizeRequest(text="あ" * 10, chunk_seconds=0.1),
                                                timeout=30)))
        typical = time.monotonic() - t0  # about 0.8 s of frames in 0.1-s chunks, 0.1 s each
        for _ in range(20):
            with pytest.raises(grpc.RpcError) as info:
                list(client.Synthesize(pb.SynthesizeRequest(text="は#い"), timeout=10))
            assert info.value.code() == C.INVALID_ARGUMENT
        running = client.Synthesize(pb.SynthesizeRequest(text="あ" * 20, chunk_seconds=0.1), timeout=30)
        next(running)
        with pytest.raises(grpc.RpcError) as info:
            list(client.Synthesize(pb.SynthesizeRequest(text="はい"), timeout=10))
        assert info.value.code() == C.UNAVAILABLE
        assert int(dict(info.value.trailing_metadata())[RETRY_AFTER_KEY]) >= 0.5 * typical * 1000
        assert completed(list(running))
        channel.close()


def test_get_info_reports_the_text_limit_a_request_can_really_carry() -> None:
    from uniflg.text import MAX_CHARS

    with running_server(FakeVoice(), max_text_chars=100_000) as srv:  # above the SDK's own limits
        channel, client = stub(srv)
        assert client.GetInfo(pb.GetInfoRequest(), timeout=5).limits.max_text_chars == max(MAX_CHARS.values())
        channel.close()


@pytest.mark.parametrize(("field", "value"), [("text", "あ" * 1001), ("speaker", "x" * 20_000),
                                              ("request_id", "r" * 66_000)])
def test_oversized_input_is_never_retryable(field: str, value: str) -> None:
    with running_server(FakeVoice()) as srv:
        channel, client = stub(srv)
        request = pb.SynthesizeRequest(text="はい")
        setattr(request, field, value)
        with pytest.raises(grpc.RpcError) as info:
            list(client.Synthesize(request, timeout=10))
        assert info.value.code() == C.INVALID_ARGUMENT
        assert RETRY_AFTER_KEY not in dict(info.value.trailing_metadata() or ())
        channel.close()


# ---------------------------------------------------------------- 4. interrupted streams stop their avatars


class FailingVoice(FakeVoice):
    """Fails after its third chunk (an error in the middle of a stream)."""

    def _synthesize(self, text, options):  # type: ignore[no-untyped-def]
        for k, chunk in enumerate(super()._synthesize(text, options)):
            if k == 3:
                raise RuntimeError("the model fell over")
            yield chunk


def fanned_server(voice: FakeVoice, **config):  # type: ignore[no-untyped-def]
    rx = {name: udp_receiver() for name in ("osc", "vmc", "livelink")}
    fan = FanOut([osc.OscLandmarkSink(Target("127.0.0.1", rx["osc"].getsockname()[1])),
                  vmc.VmcSink(Target("127.0.0.1", rx["vmc"].getsockname()[1]), perfect_sync=True),
                  livelink.LiveLinkSink(Target("127.0.0.1", rx["livelink"].getsockname()[1]))])
    return rx, running_server(voice, fanout=fan, **config)


def after(packets: list[tuple[float, bytes]], when: float) -> list[bytes]:
    return [d for t, d in packets if t > when]


def is_end(name: str, data: bytes) -> bool:
    """The end/neutral packet of a sink."""
    if name == "osc":
        return data.startswith(b"/uniflg/stream/end")
    if name == "vmc":
        vals = [m.params[1] for m in OscBundle(data) if m.address == "/VMC/Ext/Blend/Val"]
        return all(v == 0.0 for v in vals)
    return not livelink.decode_packet(data).curves.any()


@pytest.mark.parametrize("ending", ["cancel", "deadline", "error", "shutdown", "animate cancel"])
def test_interrupted_streams_stop_the_fanout_within_a_frame(ending: str) -> None:
    voice = FailingVoice() if ending == "error" else FakeVoice()
    rx, server = fanned_server(voice)
    collected: dict[str, list[tuple[float, bytes]]] = {}
    stop = threading.Event()
    with server as srv:
        channel, client = stub(srv)
        text = pb.SynthesizeRequest(text="今日はいい天気ですね。" * 6)  # 5.3 s of frames
        if ending == "animate cancel":
            def requests() -> Iterator[pb.AnimateRequest]:
                yield header()
                yield audio(4.0)
                stop.wait(10)
            call = client.Animate(requests(), timeout=30)
        else:
            call = client.Synthesize(text, timeout=1.0 if ending == "deadline" else 30)
        threads = {name: threading.Thread(target=lambda n=name: collected.__setitem__(n, collect(rx[n], 3.5)))
                   for name in rx}
        for t in threads.values():
            t.start()
        next(call), next(call)  # the header and the first chunk
        time.sleep(0.5)
        ended = time.time()
        if ending in ("cancel", "animate cancel"):
            call.cancel()
        elif ending == "shutdown":
            asyncio.run_coroutine_threadsafe(srv.stop(0.3), srv.loop).result(10)
            # the stream ends when the grace (0.3 s) is over and the server has cancelled it: when stop() returns,
            # which on a loaded machine is later than 0.3 s (63 frames "late" beside a long MP3 decode, session 22)
            ended = time.time()
        with pytest.raises(grpc.RpcError):
            list(call)
        if ending in ("deadline", "error"):  # the server ended it; the client hears so at once
            ended = time.time()
        stop.set()
        for t in threads.values():
            t.join()
        channel.close()
    for name, packets in collected.items():
        late = after(packets, ended + 1 / 30 + 0.25)  # a frame, plus the server's reaction on a busy machine
        frames_late = [d for d in late if not is_end(name, d)]
        assert not frames_late, f"{name}: {len(frames_late)} frame datagrams after the stream ended"
        assert any(is_end(name, d) for _, d in packets), f"{name}: no end/neutral packet"


# ---------------------------------------------------------------- 5 and 6. start-up: one line, exit 2


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``uniflg serve`` in a fresh interpreter, with a voice that does not exist: a check that ran after the
    voice loaded would report the voice instead."""
    code = "import sys; from uniflg.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, "serve", "--voice", "/nonexistent/voice", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pki")
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem")],
                       check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=localhost",
                    "-passout", "pass:secret", "-keyout", str(folder / "enc.key"), "-out", str(folder / "enc.pem")],
                   check=True, capture_output=True)  # PKCS#8 "ENCRYPTED PRIVATE KEY"
    subprocess.run(["openssl", "genrsa", "-aes256", "-traditional", "-passout", "pass:secret", "-out",
                    str(folder / "enc_trad.key"), "2048"], check=True, capture_output=True)  # "Proc-Type: 4,ENCRYPTED"
    (folder / "empty").write_bytes(b"")
    (folder / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    (folder / "token").write_text("s3cret-from-a-file\n")
    (folder / "blank_first").write_text("\n\ns3cret-on-line-3\n")
    return {p.stem if p.suffix != ".key" else p.stem + "_key": p for p in folder.iterdir()}


def tls_cases(p: dict[str, Path]) -> dict[str, list[str]]:
    return {
        "empty cert and key": ["--tls-cert", str(p["empty"]), "--tls-key", str(p["empty"])],
        "client CA without cert and key": ["--tls-client-ca", str(p["a"])],
        "key without cert": ["--tls-key", str(p["a_key"])],
        "mismatched key": ["--tls-cert", str(p["a"]), "--tls-key", str(p["b_key"])],
        "garbage certificate": ["--tls-cert", str(p["garbage"]), "--tls-key", str(p["a_key"])],
        "missing key file": ["--tls-cert", str(p["a"]), "--tls-key", "/nonexistent/key.pem"],
        "empty client CA": ["--tls-cert", str(p["a"]), "--tls-key", str(p["a_key"]), "--tls-client-ca",
                            str(p["empty"])],
        "certificate as key": ["--tls-cert", str(p["a"]), "--tls-key", str(p["a"])],
        "encrypted key": ["--tls-cert", str(p["enc"]), "--tls-key", str(p["enc_key"])],
        "encrypted traditional key": ["--tls-cert", str(p["a"]), "--tls-key", str(p["enc_trad_key"])],
    }


@pytest.mark.parametrize("case", ["empty cert and key", "client CA without cert and key", "key without cert",
                                  "mismatched key", "garbage certificate", "missing key file", "empty client CA",
                                  "certificate as key", "encrypted key", "encrypted traditional key"])
def test_tls_that_cannot_be_set_up_refuses_to_start(pki, caplog, case: str) -> None:
    status, records = serve_in_process(caplog, "--grpc", "127.0.0.1:0", *tls_cases(pki)[case])
    assert status == 2 and len(records) == 1 and records[0].exc_info is None
    message = records[0].getMessage()
    assert "tls" in message.lower() and "\n" not in message, message
    if case.startswith("encrypted"):  # never a pass-phrase prompt: the refusal says how to decrypt
        assert "--tls-key is encrypted" in message and "openssl pkey -in key.pem -out plain.pem" in message, message


@pytest.mark.slow  # an interpreter start-up that imports the whole CLI
def test_an_encrypted_key_never_prompts_for_a_pass_phrase(pki) -> None:
    """Under a terminal OpenSSL would ask on /dev/tty and wait there; a pseudo-terminal stands in for it."""
    import os
    import pty

    code = "import sys; from uniflg.cli import main; sys.exit(main())"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        os.execv(sys.executable, [sys.executable, "-c", code, "serve", "--voice", "/nonexistent/voice", "--grpc",
                                  "127.0.0.1:0", *tls_cases(pki)["encrypted key"]])
    output, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if b"pass phrase:" in output.lower():
            break
    finished, status = os.waitpid(pid, os.WNOHANG)
    while not finished and b"pass phrase:" not in output.lower() and time.monotonic() < deadline:
        time.sleep(0.05)  # the terminal closed as the child exits
        finished, status = os.waitpid(pid, os.WNOHANG)
    if not finished:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(fd)
    text = output.decode(errors="replace")
    assert finished and os.waitstatus_to_exitcode(status) == 2, text
    assert "PEM pass phrase" not in text and "--tls-key is encrypted" in text and len(text.strip().splitlines()) == 1


@pytest.mark.slow  # an interpreter start-up that imports the whole CLI
def test_refusal_is_one_line_on_stderr_from_the_real_command(pki) -> None:
    out = run_cli("--grpc", "127.0.0.1:0", *tls_cases(pki)["empty cert and key"])
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "--tls-cert and --tls-key are missing or empty" in lines[0] and "plaintext" in lines[0]


def test_tls_config_refuses_in_the_library_too(pki) -> None:
    config = ServerConfig(bind="127.0.0.1:0", tls_cert=b"", tls_key=b"")
    with pytest.raises(ValueError, match="TLS"):
        asyncio.run(build_server(FakeVoice(), config))


@pytest.mark.slow
def test_tls_and_token_file_serve_securely(pki) -> None:
    """A working mTLS + token-file server (real handshake): the token comes from the file, not argv."""
    script = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); import bridge_fakes, uniflg_bridge.cli as c; "
              "c.load_voice = lambda args: bridge_fakes.FakeVoice(); from uniflg.cli import main; sys.exit(main())")
    port = free_port()
    proc, _, line = start_server_process(["-c", script, "serve", "--grpc", f"127.0.0.1:{port}", "--token-file",
                                          str(pki["token"]), "--tls-cert", str(pki["a"]), "--tls-key",
                                          str(pki["a_key"])])
    try:
        assert "TLS" in line
        creds = grpc.ssl_channel_credentials(root_certificates=pki["a"].read_bytes())
        channel = grpc.secure_channel(f"localhost:{port}", creds)
        client = pb_grpc.UniFLGServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            client.GetInfo(pb.GetInfoRequest(), timeout=10)
        assert info.value.code() == C.UNAUTHENTICATED
        reply = client.GetInfo(pb.GetInfoRequest(), metadata=(("authorization", "Bearer s3cret-from-a-file"),),
                               timeout=10)
        assert reply.voice == "fake"
        channel.close()
    finally:
        proc.terminate()
        proc.wait(20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_startup_errors_are_one_line_and_exit_2(pki, tmp_path, caplog) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    cases = {
        "gRPC port in use": ["--grpc", f"127.0.0.1:{busy.getsockname()[1]}"],
        "gRPC port out of range": ["--grpc", "127.0.0.1:99999"],
        "gRPC port not a number": ["--grpc", "127.0.0.1:http"],
        "gRPC host unresolvable": ["--grpc", "no-such-host.invalid:50051"],
        "VMC port not a number": ["--vmc", "127.0.0.1:notaport"],
        "OSC host unresolvable": ["--osc", "no-such-host.invalid:9000"],
        "Live Link port zero": ["--livelink", "127.0.0.1:0"],
        "datagram limit too small": ["--osc", ":9000", "--udp-max-datagram", "100"],
        "empty token file": ["--token-file", str(pki["empty"])],
        "empty --token (an unset shell variable)": ["--token", ""],
        "blank --token": ["--token", "  "],
        "token file with a blank first line": ["--token-file", str(pki["blank_first"])],
        "missing token file": ["--token-file", str(tmp_path / "nope")],
        "public bind without a token": ["--grpc", "0.0.0.0:0"],
        "gRPC address without a host": ["--grpc", ":50565"],
        "gRPC address without a host, with a token": ["--grpc", ":50565", "--token", "t0ken"],
        "negative limit": ["--max-streams", "0"],
    }
    try:
        for name, args in cases.items():
            status, records = serve_in_process(caplog, *args)
            messages = [r.getMessage() for r in records]
            assert status == 2 and len(records) == 1 and records[0].exc_info is None, (name, messages)
            assert "voice" not in messages[0].lower(), (name, messages)  # checked before the voice loads
            if "without a host" in name:  # one reading of :PORT, before the voice (and never gRPC core's own line)
                assert messages[0] == "--grpc :50565: give the host to listen on: 127.0.0.1:50565 (this machine " \
                                      "only) or 0.0.0.0:50565 / [::]:50565 (every interface; needs a token)", messages
            if "token" in name and "bind" not in name and "host" not in name:
                assert messages[0] == {
                    "empty token file": f"--token-file {pki['empty']}: the file is empty",
                    "token file with a blank first line": f"--token-file {pki['blank_first']}: its first line is "
                                                          "blank (the token goes on the first line)",
                    "missing token file": messages[0],
                }.get(name, "--token is empty: give the token clients must send, or leave --token out"), messages
    finally:
        busy.close()


@pytest.mark.parametrize(("given", "said"), [
    (["--token", "日本語トークン"],
     "--token: the token holds '日' '本' '語' 'ト' 'ー' 'ク' 'ン', which gRPC cannot send"),
    (["--token", "caf\u00e9"], "--token: the token holds 'é', which gRPC cannot send"),
    (["--token", "a\tb"], "--token: the token holds U+0009, which gRPC cannot send"),
])
def test_a_token_grpc_cannot_send_refuses_to_start_and_the_client_says_why(caplog, tmp_path, given, said) -> None:
    """A non-ASCII token started the server, and every client then failed with "INTERNAL: Invalid metadata"
    (review 18): the server, the example client and loadtest (one reader, cli.read_token) now refuse it."""
    status, records = serve_in_process(caplog, *given)
    assert status == 2 and [r.getMessage() for r in records][0].startswith(said), records
    token_file = tmp_path / "token"
    token_file.write_text(given[1] + "\n", encoding="utf-8")
    status, records = serve_in_process(caplog, "--token-file", str(token_file))
    assert status == 2 and f"--token-file {token_file}: the token holds" in records[0].getMessage()
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "grpc_client.py"), "--token", given[1],
                           "synthesize", "はい", "-o", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                              str(ROOT / p) for p in ("sdk", "engine_bridge", "engine_bridge/generated"))})
    assert done.returncode == 2 and done.stderr.startswith(f"error: {said}"), done.stderr


def test_token_without_tls_on_a_public_bind_warns(caplog) -> None:
    import argparse

    from uniflg_bridge import cli

    parser = argparse.ArgumentParser()
    cli.register_serve(parser.add_subparsers())
    args = parser.parse_args(["serve", "--grpc", "0.0.0.0:0", "--token", "t0ken"])
    with caplog.at_level(logging.WARNING):
        config = cli.server_config(args)
    assert config.token == "t0ken" and any("clear text" in r.message for r in caplog.records)


# ---------------------------------------------------------------- 7. shutdown honours --grace

SERVER_SCRIPT = """
import asyncio, logging, sys
sys.path.insert(0, {tests!r})
from bridge_fakes import FakeVoice
from uniflg_bridge import vmc
from uniflg_bridge.fanout import FanOut
from uniflg_bridge.server import ServerConfig, serve
from uniflg_bridge.udp import Target
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
fan = FanOut([vmc.VmcSink(Target("127.0.0.1", {port}))])
asyncio.run(serve(FakeVoice(), ServerConfig(bind="127.0.0.1:0", grace_seconds=1.0), fan))
"""


def test_sigterm_with_frames_still_paced_exits_within_the_grace() -> None:
    import signal

    rx = udp_receiver()
    proc, port, _ = start_server_process(["-c", SERVER_SCRIPT.format(tests=str(TESTS), port=rx.getsockname()[1])])
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        client = pb_grpc.UniFLGServiceStub(channel)
        call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 300), timeout=60)  # 24 s of frames
        next(call), next(call)
        time.sleep(0.3)
        t0 = time.time()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        took = time.time() - t0
        packets = collect(rx, 0.3)
        assert packets and is_end("vmc", packets[-1][1])  # the avatar was left neutral ...
        assert packets[-1][0] - t0 < 1.0 + 0.5  # ... when the 1 s grace ran out, not after the 24 s of frames
        assert took < 1.0 + 8.0, took  # the process is gone soon after (interpreter teardown on a busy machine)
        channel.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


# ---------------------------------------------------------------- 8. bounded echoes


class UnreadableVoice(FakeVoice):
    def synthesize(self, text, options):  # type: ignore[no-untyped-def]
        raise UnsupportedTextError("the front end cannot read: " + " ".join(f"{c!r} (U+{ord(c):04X})" for c in text),
                                   tuple(text))


@pytest.mark.parametrize(("name", "request_fields", "code"), [
    ("20 KB speaker", {"speaker": "話" * 20_000}, C.INVALID_ARGUMENT),
    ("20 KB emotion", {"emotion": "e" * 20_000}, C.INVALID_ARGUMENT),
    ("66,000-character request id", {"request_id": "r" * 66_000}, C.INVALID_ARGUMENT),
    ("control characters in the request id", {"request_id": "a\x00b"}, C.INVALID_ARGUMENT),
    ("unknown 100-character speaker", {"speaker": "s" * 100}, C.NOT_FOUND),
    ("1,000 distinct unreadable characters", {"text": "".join(chr(0xAC00 + i) for i in range(1000))},
     C.INVALID_ARGUMENT),
])
def test_echoes_are_bounded(name: str, request_fields: dict, code: grpc.StatusCode) -> None:
    voice = UnreadableVoice() if name.startswith("1,000") else FakeVoice()
    with running_server(voice, max_text_chars=2000) as srv:
        channel, client = stub(srv)
        request_fields.setdefault("text", "はい")
        with pytest.raises(grpc.RpcError) as info:
            list(client.Synthesize(pb.SynthesizeRequest(**request_fields), timeout=10))
        assert info.value.code() == code, info.value.details()
        assert 0 < len(info.value.details()) <= MAX_DETAIL_CHARS
        with pytest.raises(grpc.RpcError) as info:  # Animate's header carries a request id too
            list(client.Animate(iter([header(request_id="r" * 66_000), audio(0.1), END]), timeout=10))
        assert info.value.code() == C.INVALID_ARGUMENT and len(info.value.details()) <= MAX_DETAIL_CHARS
        if not isinstance(voice, UnreadableVoice):
            still_serving(client)
        channel.close()


# ---------------------------------------------------------------- 9. datagram sizes and send failures


def test_every_fanout_datagram_fits_1400_bytes() -> None:
    rx, server = fanned_server(FakeVoice())
    with server as srv:
        channel, client = stub(srv)
        assert completed(list(client.Synthesize(pb.SynthesizeRequest(text="こんにちは"), timeout=30)))
        channel.close()
        for name, sock in rx.items():
            packets = collect(sock, 0.3)
            assert packets and max(len(d) for _, d in packets) <= 1400, name


def test_send_failures_are_counted_per_target(caplog) -> None:
    closed = udp_receiver()
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the kernel answers ICMP port unreachable
    open_rx = udp_receiver()
    bad = DatagramSender(Target("127.0.0.1", port))
    good = DatagramSender(Target("127.0.0.1", open_rx.getsockname()[1]), max_datagram=100)
    with caplog.at_level(logging.WARNING, logger="uniflg_bridge.udp"):
        for _ in range(20):
            bad.send(b"x" * 50)
            good.send(b"y" * 50)
            time.sleep(0.005)
        good.send(b"z" * 101)  # over its limit: counted, not sent
        bad.close()
        good.close()
    refused = [n for reason, n in bad.failures.items() if "ECONNREFUSED" in reason]
    assert refused and refused[0] >= 9 and bad.sent + sum(bad.failures.values()) == 20
    assert good.sent == 20 and sum(good.failures.values()) == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"127.0.0.1:{port}" in m and "ECONNREFUSED" in m for m in messages)
    assert any("more send failures" in m and f"127.0.0.1:{port}" in m for m in messages)  # the count at close
    open_rx.close()


def test_the_first_failure_summary_comes_30_s_after_the_first_failure(caplog) -> None:
    """A sender created long ago (idle before its first stream) logs its first failure, and no summary right after
    it: the 30-s window starts at that first line."""
    import uniflg_bridge.udp as udp

    closed = udp_receiver()
    port = closed.getsockname()[1]
    closed.close()
    bad = DatagramSender(Target("127.0.0.1", port))
    bad._reported_at -= 2 * udp.REPORT_EVERY  # created a minute ago
    with caplog.at_level(logging.WARNING, logger="uniflg_bridge.udp"):
        for _ in range(20):
            bad.send(b"x" * 50)
            time.sleep(0.005)
        messages = [r.getMessage() for r in caplog.records]
        bad.close()
    assert sum(bad.failures.values()) >= 2
    assert len(messages) == 1 and "failed: ECONNREFUSED" in messages[0], messages


# ---------------------------------------------------------------- review 19: shutdown, idle headers, sizes, bytes


def test_headers_alone_hold_no_slot(strict) -> None:
    """Four Animate calls that send a header and then nothing (twice the slots, no queue) hold no slot: others are
    served at once, and each header-only call ends at its idle timeout (16 such clients locked a default server
    out for 30 s)."""
    voice, srv, client = strict
    stop = threading.Event()

    def header_only() -> Iterator[pb.AnimateRequest]:
        yield header()
        stop.wait(5)

    calls = [client.Animate(header_only(), timeout=10) for _ in range(4)]
    time.sleep(0.2)
    assert srv.servicer.active == 0
    still_serving(client)
    for call in calls:
        with pytest.raises(grpc.RpcError) as info:
            list(call)
        assert info.value.code() == C.DEADLINE_EXCEEDED and "no audio" in info.value.details()
    stop.set()


def test_streams_that_fail_during_the_shutdown_grace_get_their_status() -> None:
    """After SIGTERM a stream still in its grace that then fails ends with its own status (an odd PCM16 byte count is
    INVALID_ARGUMENT, a header that waits for audio DEADLINE_EXCEEDED), never OK without a Status (1,782 of 2,000
    calls open at a shutdown ended so)."""
    voice = FakeVoice()
    go = threading.Event()

    def odd_after_shutdown() -> Iterator[pb.AnimateRequest]:
        yield header()
        yield audio(0.3)
        go.wait(10)
        yield pb.AnimateRequest(audio=b"\x00\x01\x02")

    def header_then_nothing() -> Iterator[pb.AnimateRequest]:
        yield header()
        go.wait(10)
        time.sleep(2)

    with running_server(voice, idle_timeout=0.8) as srv:
        channel, client = stub(srv)
        odd = client.Animate(odd_after_shutdown(), timeout=20)
        idle = client.Animate(header_then_nothing(), timeout=20)
        time.sleep(0.3)
        stopping = asyncio.run_coroutine_threadsafe(srv.stop(10), srv.loop)  # type: ignore[attr-defined]
        time.sleep(0.2)
        go.set()
        for call, code, words in ((odd, C.INVALID_ARGUMENT, "even number of bytes"), (idle, C.DEADLINE_EXCEEDED,
                                                                                        "no audio")):
            with pytest.raises(grpc.RpcError) as info:
                list(call)
            assert info.value.code() == code and words in info.value.details(), info.value
        stopping.result(15)
        channel.close()


def test_a_large_speech_driven_chunk_is_sent_in_pieces(monkeypatch) -> None:
    """Frames computed from one large audio message go out in messages of at most MAX_FRAMES_PER_MESSAGE frames, in
    order, with their blendshapes (one 4 MiB message at 8 kHz gave a 4.5 MB answer: RESOURCE_EXHAUSTED after all
    the work). The limit is set to 10 frames here so a 3 s message shows it."""
    from uniflg_bridge import server as server_module

    monkeypatch.setattr(server_module, "MAX_FRAMES_PER_MESSAGE", 10)
    with running_server(FakeVoice()) as srv:
        channel, client = stub(srv)
        responses = list(client.Animate(iter([pb.AnimateRequest(header=pb.AudioHeader(
            sample_rate=SR, channels=1, include_blendshapes=True)), audio(3.0), END]), timeout=30))
        channel.close()
    assert completed(responses)
    chunks = [r.chunk for r in responses if r.WhichOneof("response") == "chunk"]
    indices = [f.index for c in chunks for f in c.frames]
    assert max(len(c.frames) for c in chunks) == 10 and len(chunks) >= 9
    assert indices == list(range(len(indices))) and responses[-1].status.frame_count == len(indices) == 90
    assert all(len(f.blendshapes) == len(responses[0].header.blendshape_names) for c in chunks for f in c.frames)


def test_pieces_keep_frame_numbers_and_the_last_flag() -> None:
    from uniflg.types import FrameChunk
    from uniflg_bridge.server import MAX_FRAMES_PER_MESSAGE, _pieces

    chunk = FrameChunk(first_frame=7, landmarks=np.zeros((2 * MAX_FRAMES_PER_MESSAGE + 5, 70, 2), np.float32),
                       is_last=True)
    weights = np.arange(len(chunk.landmarks), dtype=np.float32)[:, None]
    pieces = list(_pieces(chunk, weights))
    assert [(p.first_frame, len(p.landmarks), p.is_last) for p, _ in pieces] == [
        (7, MAX_FRAMES_PER_MESSAGE, False), (7 + MAX_FRAMES_PER_MESSAGE, MAX_FRAMES_PER_MESSAGE, False),
        (7 + 2 * MAX_FRAMES_PER_MESSAGE, 5, True)]
    assert np.concatenate([w for _, w in pieces]).ravel().tolist() == weights.ravel().tolist()


@pytest.mark.parametrize(("method", "data", "message"), [
    ("GetInfo", b"\xff\xff\xff", "GetInfoRequest"),
    ("Synthesize", b"\x0a\x02\xff\xfe", "SynthesizeRequest"),  # the text field with bad UTF-8
])
def test_unary_requests_that_do_not_parse_are_invalid_argument_without_a_traceback(caplog, method: str, data: bytes,
                                                                                     message: str) -> None:
    with caplog.at_level(logging.INFO), running_server(FakeVoice()) as srv:
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
        path = f"/uniflgapi.v1.UniFLGService/{method}"
        call = channel.unary_stream(path) if method == "Synthesize" else channel.unary_unary(path)
        with pytest.raises(grpc.RpcError) as info:
            result = call(data, timeout=10)
            list(result) if method == "Synthesize" else result  # noqa: B018 - read the stream
        assert info.value.code() == C.INVALID_ARGUMENT
        assert info.value.details().startswith(f"not a valid uniflgapi.v1.{message}: its bytes do not parse")
        still_serving(pb_grpc.UniFLGServiceStub(channel))
        channel.close()
    assert "Traceback" not in caplog.text and "Unexpected" not in caplog.text


def test_an_empty_token_is_refused_when_the_variable_is_set_but_empty(caplog, monkeypatch) -> None:
    """`UNIFLG_TOKEN=` exported and `--token ""` started a server with no authentication."""
    monkeypatch.setenv("UNIFLG_TOKEN", "")
    status, records = serve_in_process(caplog, "--token", "")
    assert status == 2 and records[0].getMessage() == \
        "--token is empty: give the token clients must send, or leave --token out"


@pytest.mark.parametrize("port", ["²", "９０００", "9⁰"])
def test_a_port_in_other_digits_is_not_a_number(port: str) -> None:
    with pytest.raises(ValueError, match="is not a number"):
        Target.parse(f"127.0.0.1:{port}")


def test_animate_answers_its_header_before_any_audio() -> None:
    """A live client may wait for the StreamHeader (its look-ahead) before it streams: the header answers the
    AudioHeader at once, before the first audio and before a slot is taken (review 19's re-check)."""
    go = threading.Event()

    def requests() -> Iterator[pb.AnimateRequest]:
        yield header()
        go.wait(10)  # no audio until the header has come back
        yield audio(0.5)
        yield END

    with running_server(FakeVoice()) as srv:
        channel, client = stub(srv)
        call = client.Animate(requests(), timeout=20)
        first = next(call)
        assert first.WhichOneof("response") == "header" and not go.is_set()
        go.set()
        assert completed([first, *call])
        channel.close()


def test_a_health_check_that_does_not_parse_is_invalid_argument_without_a_traceback(caplog) -> None:
    with caplog.at_level(logging.INFO), running_server(FakeVoice(), token="s3cret") as srv:
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/grpc.health.v1.Health/Check")(b"\x0a\x02\xff\xfe", timeout=10)
        channel.close()
    assert info.value.code() == C.INVALID_ARGUMENT
    assert info.value.details().startswith("not a valid grpc.health.v1.HealthCheckRequest")
    assert "Traceback" not in caplog.text
