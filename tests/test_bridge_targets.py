"""The UDP targets under load from several streams and odd settings (docs/osc.md, "Several streams at once"; "Datagram
sizes"): one avatar follows one stream at a time on VMC and Live Link, the neutral frame comes only from the stream
that drove it, a datagram limit that cannot carry a frame is refused at start-up, a client's request id cannot push
an OSC frame over the limit, and one sink's failure neither ends the gRPC call nor stops the other sinks. Real
servers on port 0, real gRPC clients, real UDP sockets."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import bridge_server
import grpc
import numpy as np
import pytest
from bridge_fakes import FakeVoice
from bridge_server import running_server, stub
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from uniflg_bridge import livelink, osc, vmc, wire
from uniflg_bridge.fanout import AVATAR_FRAMES_KEY, FanOut, FrameEvent, StreamMeta
from uniflg_bridge.udp import LOOPBACK_MAX_DATAGRAM, Target
from uniflgapi.v1 import uniflg_pb2 as pb

FPS = 30


class Receiver:
    """A UDP socket on loopback whose datagrams a background thread collects until :meth:`stop`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.settimeout(0.05)
        self.packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def target(self) -> Target:
        return Target("127.0.0.1", self.sock.getsockname()[1])

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self.packets.append(self.sock.recv(65536))

    def stop(self, linger: float = 0.3) -> list[bytes]:
        time.sleep(linger)  # the last datagrams on their way
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        return self.packets


@dataclass
class Targets:
    osc: Receiver = field(default_factory=Receiver)
    vmc: Receiver = field(default_factory=Receiver)
    livelink: Receiver = field(default_factory=Receiver)

    def fanout(self) -> FanOut:
        return FanOut([osc.OscLandmarkSink(self.osc.target, max_datagram=LOOPBACK_MAX_DATAGRAM),
                       vmc.VmcSink(self.vmc.target),
                       livelink.LiveLinkSink(self.livelink.target)])

    def stop(self) -> None:
        for receiver in (self.osc, self.vmc, self.livelink):
            receiver.stop()


def vmc_frames(packets: list[bytes]) -> list[tuple[float, list[float]]]:
    """(time code ``/VMC/Ext/T``, the 17 VRM0 values) of each VMC frame (one bundle each without perfect sync)."""
    out = []
    for data in packets:
        messages = list(OscBundle(data))
        t = next(m.params[0] for m in messages if m.address == "/VMC/Ext/T")
        out.append((t, [m.params[1] for m in messages if m.address == "/VMC/Ext/Blend/Val"]))
    return out


def osc_ends(packets: list[bytes]) -> dict[str, int]:
    return dict(OscMessage(d).params for d in packets if d.startswith(b"/uniflg/stream/end"))


@dataclass
class Outcome:
    status: pb.Status
    request_id: str
    trailers: dict[str, str]


def synthesize(client, text: str, request_id: str, delay: float = 0.0) -> Outcome:  # type: ignore[no-untyped-def]
    time.sleep(delay)
    call = client.Synthesize(pb.SynthesizeRequest(text=text, request_id=request_id), timeout=60)
    responses = list(call)
    assert responses[-1].HasField("status"), request_id
    return Outcome(responses[-1].status, responses[0].header.request_id, dict(call.trailing_metadata() or ()))


def strictly_increasing(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:], strict=False))


@pytest.fixture()
def targets() -> Iterator[Targets]:
    t = Targets()
    yield t
    for receiver in (t.osc, t.vmc, t.livelink):
        if not receiver._stop.is_set():
            receiver.stop(0)


# ---------------------------------------------------------------- one avatar, one stream at a time


def test_a_stream_that_starts_while_another_drives_the_avatar_is_not_sent_to_it(targets: Targets) -> None:
    """The ordinary NPC overlap: line B starts while line A talks. The VMC marionette and the Live Link subject
    follow A alone, to its end; B goes to OSC (which names its stream) and its trailers say it drove no avatar; A's
    neutral frame is the only one. A line that starts once the avatar is free drives it."""
    with running_server(FakeVoice(), fanout=targets.fanout()) as srv:
        channel, client = stub(srv)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(synthesize, client, "あ" * 40, "A")  # 3.2 s of frames
            b = pool.submit(synthesize, client, "あ" * 10, "B", 0.8)  # 0.8 s, inside A
            first, second = a.result(), b.result()
        third = synthesize(client, "あ" * 5, "C")  # after both: the avatar is free again
        channel.close()
    targets.stop()
    n_a, n_b, n_c = (o.status.frame_count for o in (first, second, third))
    assert first.trailers[AVATAR_FRAMES_KEY] == str(n_a)
    assert second.trailers[AVATAR_FRAMES_KEY] == "0"
    assert third.trailers[AVATAR_FRAMES_KEY] == str(n_c)
    # VMC: A's frames in order, A's neutral frame, then C's frames and C's neutral frame; nothing of B.
    frames = vmc_frames(targets.vmc.packets)
    assert len(frames) == n_a + 1 + n_c + 1, (len(frames), n_a, n_b, n_c)
    times = [t for t, _ in frames]
    assert strictly_increasing(times[:n_a + 1]) and strictly_increasing(times[n_a + 1:])
    assert times[n_a] == pytest.approx(n_a / FPS) and not any(frames[n_a][1])  # A's neutral frame
    assert times[-1] == pytest.approx(n_c / FPS) and not any(frames[-1][1])  # C's
    # Live Link: the same, by frame number (a timecode: A's then C's, never stepping back inside a stream).
    packets = [livelink.decode_packet(d) for d in targets.livelink.packets]
    assert len(packets) == n_a + 1 + n_c + 1
    numbers = [p.frame_number for p in packets]
    assert strictly_increasing(numbers[:n_a + 1]) and strictly_increasing(numbers[n_a + 1:])
    assert [i for i, p in enumerate(packets) if not p.curves.any()] == [n_a, len(packets) - 1]
    # OSC carries every stream, each with its own start and end.
    assert osc_ends(targets.osc.packets) == {"A": n_a, "B": n_b, "C": n_c}


def test_when_the_avatar_frees_up_a_stream_still_talking_takes_it_over(targets: Targets) -> None:
    """B starts while the short A talks; when A ends (with its neutral frame) B's face takes the avatar from its
    next frame on, and ends it with the neutral frame."""
    with running_server(FakeVoice(), fanout=targets.fanout()) as srv:
        channel, client = stub(srv)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(synthesize, client, "あ" * 10, "A")  # 0.8 s
            b = pool.submit(synthesize, client, "あ" * 30, "B", 0.3)  # 2.4 s, from 0.3 s
            first, second = a.result(), b.result()
        channel.close()
    targets.stop()
    n_a, n_b = first.status.frame_count, second.status.frame_count
    taken = int(second.trailers[AVATAR_FRAMES_KEY])
    assert first.trailers[AVATAR_FRAMES_KEY] == str(n_a) and 0 < taken < n_b
    frames = vmc_frames(targets.vmc.packets)
    assert len(frames) == n_a + 1 + taken + 1
    times = [t for t, _ in frames]
    assert strictly_increasing(times[:n_a + 1]) and not any(frames[n_a][1])  # A, then A's neutral frame
    assert times[n_a + 1] == pytest.approx((n_b - taken) / FPS)  # B from the frame it was at
    assert strictly_increasing(times[n_a + 1:]) and times[-1] == pytest.approx(n_b / FPS) and not any(frames[-1][1])
    zeros = [i for i, p in enumerate(livelink.decode_packet(d) for d in targets.livelink.packets) if not p.curves.any()]
    assert zeros == [n_a, n_a + 1 + taken]


# ---------------------------------------------------------------- datagram sizes


def serve_in_process(caplog, *args: str) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    """``uniflg serve``'s handler with a voice that does not exist: -> (exit status, messages at WARNING+)."""
    status, records = bridge_server.serve_in_process(caplog, *args)
    return status, [r.getMessage() for r in records]


def test_a_datagram_limit_that_cannot_carry_an_osc_frame_is_refused_at_start_up(caplog) -> None:  # type: ignore[no-untyped-def]
    smallest = osc.MIN_DATAGRAM
    assert 576 < smallest < 1232  # the IPv6 minimum MTU's payload carries any frame, whatever the request id
    for size in (576, 700, smallest - 1):
        status, messages = serve_in_process(caplog, "--osc", ":9000", "--udp-max-datagram", str(size))
        assert status == 2 and len(messages) == 1, messages
        assert f"--udp-max-datagram {size}" in messages[0] and f"at least {smallest}" in messages[0], messages
    status, messages = serve_in_process(caplog, "--osc", ":9000", "--udp-max-datagram", str(smallest))
    assert status == 2 and "datagram" not in messages[0] and "voice" in messages[0]  # accepted: the voice is next
    status, messages = serve_in_process(caplog, "--vmc", ":39539", "--udp-max-datagram", "576")
    assert status == 2 and "voice" in messages[0]  # VMC messages are small: 576 carries a frame
    with pytest.raises(ValueError, match=f"at least {smallest}"):
        osc.OscLandmarkSink(Target("127.0.0.1", 9000), max_datagram=smallest - 1)


def test_a_long_request_id_cannot_push_an_osc_frame_over_the_limit(targets: Targets) -> None:
    """128 emoji are 512 bytes of UTF-8: in OSC packets the stream id is cut to its first 128 bytes (whole
    characters), so the smallest accepted limit still carries every frame and the call completes."""
    request_id = "🙂" * 128
    fan = FanOut([osc.OscLandmarkSink(targets.osc.target, max_datagram=osc.MIN_DATAGRAM),
                  vmc.VmcSink(targets.vmc.target, max_datagram=576)])
    with running_server(FakeVoice(), fanout=fan) as srv:
        channel, client = stub(srv)
        outcome = synthesize(client, "こんにちは", request_id)
        channel.close()
    targets.stop()
    assert outcome.request_id == request_id  # gRPC echoes the whole id
    packets = targets.osc.packets
    assert packets and max(len(d) for d in packets) <= osc.MIN_DATAGRAM
    cut = "🙂" * (wire.OSC_STREAM_ID_BYTES // 4)
    assert osc_ends(packets) == {cut: outcome.status.frame_count}
    bundles = [list(OscBundle(d)) for d in packets if d.startswith(b"#bundle")]
    indices = {b[0].params[1] for b in bundles if any(m.address == "/uniflg/landmarks" for m in b)}
    assert indices == set(range(outcome.status.frame_count)) and {b[0].params[0] for b in bundles} == {cut}
    applies = [m for d in targets.vmc.packets for m in OscBundle(d) if m.address == "/VMC/Ext/Blend/Apply"]
    assert len(applies) == outcome.status.frame_count + 1  # VMC frames split in two at 576 bytes: all arrive


def test_stream_ids_are_cut_by_utf8_bytes_at_a_character_boundary() -> None:
    assert wire.osc_stream_id("A" * 200) == "A" * wire.OSC_STREAM_ID_BYTES
    assert wire.osc_stream_id("日" * 100).encode() == ("日" * 42).encode()  # 126 bytes: a 43rd would be 129
    assert wire.osc_stream_id("req-7") == "req-7"
    start = wire.osc_stream_start("x" * 300, FakeVoice().stream_info())
    assert start.args[0] == "x" * wire.OSC_STREAM_ID_BYTES


class BrokenSink:
    """A user's sink (the FrameSink protocol is public) whose encoder fails from the third frame on."""

    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def start(self, meta: StreamMeta) -> None:
        pass

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None:
        self.calls += 1
        if event.index >= 2:
            raise ValueError(f"cannot encode frame {event.index}")

    def end(self, meta: StreamMeta, frame_count: int) -> None:
        raise ValueError("cannot encode the end either")

    def close(self) -> None:
        pass


def test_one_sinks_failure_ends_neither_the_call_nor_the_other_sinks(targets: Targets, caplog) -> None:  # type: ignore[no-untyped-def]
    broken = BrokenSink()
    fan = FanOut([broken, vmc.VmcSink(targets.vmc.target), livelink.LiveLinkSink(targets.livelink.target)])
    with running_server(FakeVoice(), fanout=fan) as srv, caplog.at_level(logging.WARNING):
        channel, client = stub(srv)
        outcome = synthesize(client, "こんにちは", "r1")
        again = synthesize(client, "はい", "r2")  # the server keeps serving, the sink is tried again
        channel.close()
    targets.stop()
    n = outcome.status.frame_count + again.status.frame_count
    assert len(vmc_frames(targets.vmc.packets)) == n + 2  # every frame and both neutral frames
    assert len(targets.livelink.packets) == n + 2
    failures = [r for r in caplog.records if "broken" in r.getMessage()]
    assert failures and all(r.exc_info is None and "\n" not in r.getMessage() for r in failures)
    assert len([r for r in failures if "'r1'" in r.getMessage()]) == 1  # one line per stream and sink
    assert broken.calls == 3 + 3  # frames 0, 1 and the failing 2 of each stream; then it is left alone


def test_a_sink_error_in_the_fanout_still_ends_with_a_status_and_trailers() -> None:
    """Even a sink whose start fails (before any frame): the call completes with its Status."""

    class FailsAtStart(BrokenSink):
        def start(self, meta: StreamMeta) -> None:
            raise OSError("no route")

    with running_server(FakeVoice(), fanout=FanOut([FailsAtStart()])) as srv:
        channel, client = stub(srv)
        outcome = synthesize(client, "はい", "r3")
        channel.close()
    assert outcome.status.frame_count > 0


def test_grpc_status_codes_unchanged_for_the_avatar_trailer(targets: Targets) -> None:
    """Without VMC or Live Link targets no avatar trailer is sent (OSC names its streams)."""
    fan = FanOut([osc.OscLandmarkSink(targets.osc.target)])
    with running_server(FakeVoice(), fanout=fan) as srv:
        channel, client = stub(srv)
        outcome = synthesize(client, "はい", "r4")
        channel.close()
    targets.stop()
    assert AVATAR_FRAMES_KEY not in outcome.trailers


def test_cancelled_overlapping_stream_leaves_the_avatar_to_the_next(targets: Targets) -> None:
    """The interrupt an NPC script makes: cancel line A, start line B. A's neutral frame, then B drives the avatar."""
    with running_server(FakeVoice(), fanout=targets.fanout()) as srv:
        channel, client = stub(srv)
        a = client.Synthesize(pb.SynthesizeRequest(text="あ" * 40, request_id="A"), timeout=60)
        next(a), next(a)
        time.sleep(0.4)
        a.cancel()
        with pytest.raises(grpc.RpcError):
            list(a)
        b = synthesize(client, "あ" * 8, "B")
        channel.close()
    targets.stop()
    assert b.trailers[AVATAR_FRAMES_KEY] == str(b.status.frame_count)
    frames = vmc_frames(targets.vmc.packets)
    zeros = [i for i, (_, values) in enumerate(frames) if not any(values)]
    assert zeros[-2:] == [len(frames) - b.status.frame_count - 2, len(frames) - 1]
    assert np.allclose([t for t, _ in frames[zeros[-2] + 1:]], np.arange(b.status.frame_count + 1) / FPS)


def test_target_edges_from_review_20(tmp_path) -> None:
    """Target("", port) printed as :PORT (loopback) but could not send; a link-local IPv6 address without its
    interface was a bare errno blamed on the syntax; a token file of blank lines was "empty"."""
    import argparse

    from uniflg_bridge.cli import read_token

    assert Target("", 9000) == Target.parse(":9000") == Target("127.0.0.1", 9000)
    Target("", 9000).check_sendable()
    said = r"a link-local IPv6 address needs its interface, e\.g\. \[fe80::1%eth0\]:9000"
    with pytest.raises(ValueError, match=said):
        Target("fe80::1", 9000).check_sendable()
    blank = tmp_path / "blank"
    blank.write_text("  \n")
    with pytest.raises(ValueError, match="the file holds only blank lines"):
        read_token(argparse.Namespace(token=None, token_file=blank))
