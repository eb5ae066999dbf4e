"""OSC / VMC / Live Link encoders against annotated golden bytes, and real UDP receivers on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from bridge_fakes import synthetic_face
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from uniflg.audio import float_from_pcm16_bytes, pcm16_bytes
from uniflg.errors import InvalidInputError
from uniflg.retarget import ARKIT_52, VRM0, Retargeter
from uniflg.types import StreamInfo
from uniflg_bridge import livelink, osc, vmc, wire
from uniflg_bridge.fanout import Blendshapes, FanOut, FrameEvent, Pacer, StreamMeta
from uniflg_bridge.udp import LOOPBACK_MAX_DATAGRAM, MAX_DATAGRAM, Target

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> bytes:
    """Hex fixture with ``#`` comments and free whitespace."""
    text = "".join(line.split("#", 1)[0] for line in (GOLDEN / name).read_text().splitlines())
    return bytes.fromhex("".join(text.split()))


# ------------------------------------------------------------------ golden bytes

def test_osc_message_golden() -> None:
    assert osc.encode_message(wire.osc_stream_end("s1", 42)) == golden("osc_stream_end.hex")


def test_osc_frame_bundle_golden() -> None:
    contents = wire.osc_frame("s1", 3, 30, np.array([[0.5, 0.25]]), ("jawOpen",), np.array([1.0]))
    data = osc.encode_bundle(contents, timetag=1.5)
    assert data == golden("osc_frame_bundle.hex")
    bundle = OscBundle(data)
    assert bundle.timestamp == pytest.approx(1.5)


def test_split_osc_frame_golden() -> None:
    contents = wire.osc_frame("s1", 3, 30, np.array([[0.5, 0.25]]), ("jawOpen", "mouthClose"), np.array([1.0, 0.5]))
    parts = osc.encode_bundles(contents[1:], 1.5, max_bytes=120, lead=contents[:1])
    assert [len(p) for p in parts] == [92, 92, 96] and b"".join(parts) == golden("osc_frame_split.hex")
    assert all(p[8:16] == parts[0][8:16] for p in parts)  # one time tag for the whole frame
    # The first part is the hand-annotated single bundle without its blendshape element.
    assert parts[0] == golden("osc_frame_bundle.hex")[:92]
    # Everything fits: one bundle, byte for byte the unsplit encoding.
    assert osc.encode_bundles(contents[1:], 1.5, lead=contents[:1]) == [osc.encode_bundle(contents, 1.5)]
    with pytest.raises(ValueError, match="cannot fit"):
        osc.encode_bundles(contents[1:], 1.5, max_bytes=60, lead=contents[:1])


def test_split_vmc_frame_golden() -> None:
    parts = vmc.encode_frame_datagrams(("A", "I", "U"), np.array([0.5, 0.25, 1.0]), 0.0, max_bytes=100)
    assert [len(p) for p in parts] == [100, 88, 48] and b"".join(parts) == golden("vmc_frame_split.hex")
    assert vmc.encode_frame_datagrams(("A",), np.array([0.5]), 0.0) == [golden("vmc_frame_bundle.hex")]


def test_vmc_frame_golden() -> None:
    assert vmc.encode_frame(("A",), np.array([0.5]), 0.0) == golden("vmc_frame_bundle.hex")


def test_livelink_packet_golden_and_roundtrip() -> None:
    curves = np.zeros(61, np.float32)
    curves[ARKIT_52.index("jawOpen")] = 1.0
    frame = livelink.LiveLinkFrame("D", "S", 100, 0.5, 30, 1, curves)
    data = livelink.encode_packet(frame)
    assert data == golden("livelink_packet.hex")
    back = livelink.decode_packet(data)
    assert (back.device_id, back.subject, back.frame_number, back.sub_frame) == ("D", "S", 100, 0.5)
    np.testing.assert_array_equal(back.curves, curves)


def test_livelink_rejects_malformed() -> None:
    good = livelink.encode_packet(livelink.LiveLinkFrame("D", "S", 1, 0.0, 30, 1, np.zeros(61)))
    for bad in (good[:-3], b"\x05" + good[1:], good[:5]):
        with pytest.raises(InvalidInputError):
            livelink.decode_packet(bad)
    with pytest.raises(InvalidInputError):
        livelink.encode_packet(livelink.LiveLinkFrame("D", "S", 1, 0.0, 30, 1, np.zeros(60)))


def test_livelink_frame_time_is_a_timecode() -> None:
    assert livelink.frame_time(86400.0 * 3 + 10.0, 4, 30) == (304, 0.0)


def test_pcm16_roundtrip_and_odd_bytes() -> None:
    audio = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], np.float32)
    data = pcm16_bytes(audio)
    assert data[:4] == bytes.fromhex("0000 0040")  # little-endian 0, 16384
    back = float_from_pcm16_bytes(data)
    np.testing.assert_allclose(back[:5], [0.0, 0.5, -0.5, 1.0, -1.0], atol=1e-4)
    with pytest.raises(InvalidInputError):
        float_from_pcm16_bytes(b"\x00\x01\x02")


def test_udp_target_parse() -> None:
    assert Target.parse("10.0.0.2:9000") == Target("10.0.0.2", 9000)
    assert Target.parse(":39539") == Target("127.0.0.1", 39539)
    assert Target.parse("[::1]:11111") == Target("::1", 11111)
    with pytest.raises(ValueError):
        Target.parse("host")


def test_a_bare_ipv6_target_that_ends_like_a_port_is_questioned(caplog) -> None:
    assert Target.parse("::1:9000", 39539) == Target("::1:9000", 39539)  # valid IPv6: kept, as documented
    assert "::1:9000 is read as the IPv6 address [::1:9000] on the default port 39539; to send to ::1 on port 9000, " \
        "write [::1]:9000" in caplog.text
    assert Target.parse("::1:9000", 39539) == Target("::1:9000", 39539)
    assert caplog.text.count("is read as the IPv6 address") == 1  # said once, however often it is parsed
    Target.parse("::2:9000", 9000)  # OSC's default port is 9000 too: the warning may not contradict itself
    assert "::2:9000 is read as the IPv6 address [::2:9000] on the default port 9000; to send to ::2 on port 9000, " \
        "write [::2]:9000" in caplog.text
    assert Target.parse("fe80::1", 39539) == Target("fe80::1", 39539)
    with pytest.raises(ValueError, match=r"'127.0.0.1:9000:1' is neither HOST:PORT nor an IPv6 address"):
        Target.parse("127.0.0.1:9000:1", 39539)  # once "cannot resolve host" with a port nobody typed


def test_vmc_frames_refuse_a_wrong_weight_count_and_nan() -> None:
    from uniflg.errors import InvalidInputError
    from uniflg_bridge.wire import vmc_frame

    names = ("A", "I", "U")
    assert [m.address for m in vmc_frame(names, np.array([0.1, 0.2, 0.3]), 0.5)][-2:] == \
        ["/VMC/Ext/Blend/Val", "/VMC/Ext/Blend/Apply"]
    with pytest.raises(InvalidInputError, match="one weight per name: 3 names, 2 weights"):
        vmc_frame(names, np.array([0.1, 0.2]), 0.5)
    with pytest.raises(InvalidInputError, match="must be finite numbers"):
        vmc_frame(names, np.array([0.1, np.nan, 0.3]), 0.5)
    with pytest.raises(InvalidInputError, match="must be finite numbers"):
        vmc_frame(names, np.array([0.1, 0.2, 0.3]), float("inf"))


@pytest.mark.parametrize("port", [70000, -1, 65536, 9000.0, True])
def test_udp_target_refuses_a_port_outside_the_range(port) -> None:
    # 70000 would otherwise be sent to 70000 mod 65536 = 4464 (getaddrinfo wraps it), -1 was called a bad host
    with pytest.raises(ValueError, match=r"the port of '127.0.0.1' must be a whole number in 1..65535"):
        Target("127.0.0.1", port)


def test_a_sender_refuses_port_zero_and_names_the_option_of_a_broadcast_target(capsys, caplog) -> None:
    from uniflg_bridge.udp import DatagramSender

    with pytest.raises(ValueError, match="port 0 only picks a free port to bind"):
        DatagramSender(Target("127.0.0.1", 0))
    from uniflg.cli import main

    assert main(["serve", "--grpc", "127.0.0.1:0", "--osc", "255.255.255.255:9000"]) == 2
    assert ("--osc 255.255.255.255:9000: cannot send there (Permission denied; broadcast addresses are not "
            "supported)") in caplog.text + capsys.readouterr().err


# ------------------------------------------------------------------ real UDP receivers

def receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def drain(sock: socket.socket) -> list[bytes]:
    out = []
    sock.settimeout(0.3)
    try:
        while True:
            out.append(sock.recv(65536))
    except TimeoutError:
        return out


def run_stream(n_frames: int, *sinks: object) -> StreamMeta:
    meta = StreamMeta("req-1", StreamInfo(sample_rate=16000), start_epoch=1000.0)
    faces = np.stack([synthetic_face(jaw=i / n_frames) for i in range(n_frames)])

    async def go() -> None:
        fan = FanOut(list(sinks))  # type: ignore[arg-type]
        stream = fan.open(meta)
        stream.frames(0, faces, Blendshapes.of(Retargeter.from_neutral(synthetic_face()), faces))
        stream.finish()
        await stream.wait()
        await fan.aclose()

    asyncio.run(go())
    return meta


@pytest.mark.parametrize(("max_datagram", "parts"), [(LOOPBACK_MAX_DATAGRAM, 1), (MAX_DATAGRAM, 3)],
                         ids=["loopback", "default 1400"])
def test_osc_sink_sends_timetagged_bundles_per_frame(max_datagram: int, parts: int) -> None:
    rx = receiver()
    run_stream(5, osc.OscLandmarkSink(Target("127.0.0.1", rx.getsockname()[1]), max_datagram=max_datagram))
    packets = drain(rx)
    start, *frames, end = packets
    assert OscMessage(start).address == "/uniflg/stream/start"
    assert OscMessage(end).address == "/uniflg/stream/end" and OscMessage(end).params == ["req-1", 5]
    assert len(frames) == 5 * parts and all(len(p) <= max_datagram for p in frames)
    for i in range(5):
        bundles = [OscBundle(data) for data in frames[i * parts:(i + 1) * parts]]
        msgs = []
        for bundle in bundles:  # every part: the frame's time tag, opened by its /uniflg/frame message
            assert bundle.timestamp == pytest.approx(1000.0 + i / 30, abs=1e-6)
            first, *rest = list(bundle)
            assert first.address == "/uniflg/frame" and first.params[:2] == ["req-1", i]
            msgs += rest
        assert msgs[0].address == "/uniflg/landmarks" and len(msgs[0].params) == 140
        blend = {m.address.rsplit("/", 1)[1]: m.params[0] for m in msgs[1:]}
        assert list(blend) == list(ARKIT_52)
    rx.close()


@pytest.mark.parametrize(("perfect_sync", "max_datagram", "parts"), [
    (False, MAX_DATAGRAM, 1), (True, LOOPBACK_MAX_DATAGRAM, 1), (True, MAX_DATAGRAM, 3)],
    ids=["vrm0", "perfect sync loopback", "perfect sync default 1400"])
def test_vmc_sink_sends_val_then_apply(perfect_sync: bool, max_datagram: int, parts: int) -> None:
    rx = receiver()
    run_stream(4, vmc.VmcSink(Target("127.0.0.1", rx.getsockname()[1]), perfect_sync, max_datagram))
    packets = drain(rx)
    assert len(packets) == (4 + 1) * parts  # frames, then a neutral frame at the end
    assert all(len(p) <= max_datagram for p in packets)
    frames = []
    for k in range(0, len(packets), parts):
        msgs = [m for data in packets[k:k + parts] for m in OscBundle(data)]
        addresses = [m.address for m in msgs]
        assert addresses[:2] == ["/VMC/Ext/OK", "/VMC/Ext/T"]
        assert addresses[-1] == "/VMC/Ext/Blend/Apply" and addresses.count("/VMC/Ext/Blend/Apply") == 1
        vals = msgs[2:-1]
        assert all(m.address == "/VMC/Ext/Blend/Val" for m in vals)
        names = [m.params[0] for m in vals]
        expected = list(VRM0) + ([n[0].upper() + n[1:] for n in ARKIT_52] if perfect_sync else [])
        assert names == expected
        assert all(0.0 <= m.params[1] <= 1.0 for m in vals)
        frames.append({m.params[0]: m.params[1] for m in vals})
    assert frames[3]["A"] > 0.3  # the mouth opens over the stream
    assert all(v == 0.0 for v in frames[-1].values())  # and the stream ends neutral
    rx.close()


def test_livelink_sink_packets_decode_to_61_curves() -> None:
    rx = receiver()
    run_stream(4, livelink.LiveLinkSink(Target("127.0.0.1", rx.getsockname()[1]), subject="NPC"))
    packets = [livelink.decode_packet(p) for p in drain(rx)]
    assert len(packets) == 5
    for k, frame in enumerate(packets):
        assert frame.curves.shape == (61,) and frame.subject == "NPC"
        assert (frame.rate_numerator, frame.rate_denominator) == (30, 1)
        assert frame.frame_number == 1000 * 30 + k
    assert packets[3].curves[ARKIT_52.index("jawOpen")] > 0.3
    rx.close()


# ------------------------------------------------------------------ pacing

def test_pacer_deadlines_come_from_indices() -> None:
    now = [100.0]
    pacer = Pacer(30, clock=lambda: now[0])
    assert pacer.due(0) == 100.0
    now[0] = 250.0  # time passing never moves the anchor
    assert pacer.due(300) == pytest.approx(110.0)


class Recorder:
    name = "rec"

    def __init__(self) -> None:
        self.times: list[tuple[int, float]] = []

    def start(self, meta: StreamMeta) -> None:
        pass

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None:
        self.times.append((event.index, time.monotonic()))

    def end(self, meta: StreamMeta, frame_count: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_fanout_paces_frames_in_real_time_without_drift() -> None:
    rec = Recorder()
    t0 = time.monotonic()
    run_stream(15, rec)
    anchor = rec.times[0][1]
    assert anchor - t0 < 0.2
    for index, when in rec.times:
        lateness = when - (anchor + index / 30)
        assert -0.002 < lateness < 0.03, (index, lateness)
    assert rec.times[-1][1] - anchor == pytest.approx(14 / 30, abs=0.03)
