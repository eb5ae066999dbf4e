"""Bad input, limits, cancellation and auth: each gets its documented status code (docs/grpc.md), and the
server keeps serving afterwards."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import grpc
import numpy as np
import pytest
from bridge_fakes import FakeVoice
from bridge_server import running_server, stub
from uniflg.audio import pcm16_bytes
from uniflg_bridge.server import ServerConfig, build_server
from uniflgapi.v1 import uniflg_pb2 as pb

C = grpc.StatusCode
SR = 16000


def header(sample_rate: int = SR, channels: int = 1) -> pb.AnimateRequest:
    return pb.AnimateRequest(header=pb.AudioHeader(sample_rate=sample_rate, channels=channels))


def audio(seconds: float) -> pb.AnimateRequest:
    return pb.AnimateRequest(audio=pcm16_bytes(np.zeros(int(SR * seconds), np.float32)))


END = pb.AnimateRequest(end_of_audio=pb.EndOfAudio())


def synth(**fields) -> Callable:
    fields.setdefault("text", "こんにちは")
    return lambda s: list(s.Synthesize(pb.SynthesizeRequest(**fields), timeout=10))


def anim(*messages: pb.AnimateRequest) -> Callable:
    return lambda s: list(s.Animate(iter(messages), timeout=10))


BAD_INPUTS: list[tuple[str, Callable, grpc.StatusCode]] = [
    ("empty text", synth(text=""), C.INVALID_ARGUMENT),
    ("whitespace-only text", synth(text=" \n\t "), C.INVALID_ARGUMENT),
    ("oversized text", synth(text="あ" * 201), C.INVALID_ARGUMENT),
    ("control character BEL", synth(text="こん\x07にちは"), C.INVALID_ARGUMENT),
    ("NUL character", synth(text="こん\x00にちは"), C.INVALID_ARGUMENT),
    ("escape sequence", synth(text="\x1b[31mred"), C.INVALID_ARGUMENT),
    ("unsupported characters", synth(text="a#b"), C.INVALID_ARGUMENT),
    ("unknown speaker", synth(speaker="nobody"), C.NOT_FOUND),
    ("unknown emotion", synth(emotion="furious"), C.NOT_FOUND),
    ("NaN speed", synth(speed=math.nan), C.INVALID_ARGUMENT),
    ("infinite speed", synth(speed=math.inf), C.INVALID_ARGUMENT),
    ("negative speed", synth(speed=-1.0), C.INVALID_ARGUMENT),
    ("absurd speed", synth(speed=100.0), C.INVALID_ARGUMENT),
    ("NaN chunk_seconds", synth(chunk_seconds=math.nan), C.INVALID_ARGUMENT),
    ("unknown mode", synth(mode=7), C.INVALID_ARGUMENT),
    ("empty Animate stream", anim(), C.FAILED_PRECONDITION),
    ("audio before the header", anim(audio(0.1), END), C.FAILED_PRECONDITION),
    ("end of audio before the header", anim(END), C.FAILED_PRECONDITION),
    ("a second header", anim(header(), audio(0.1), header(), END), C.FAILED_PRECONDITION),
    ("zero sample rate", anim(header(sample_rate=0), END), C.INVALID_ARGUMENT),
    ("absurd sample rate", anim(header(sample_rate=10_000_000), END), C.INVALID_ARGUMENT),
    ("stereo", anim(header(channels=2), END), C.INVALID_ARGUMENT),
    ("zero channels", anim(header(channels=0), END), C.INVALID_ARGUMENT),
    ("odd byte count", anim(header(), pb.AnimateRequest(audio=b"\x00\x01\x02"), END), C.INVALID_ARGUMENT),
    ("audio over the limit", anim(header(), *[audio(0.5)] * 4, END), C.INVALID_ARGUMENT),
    ("message over the size limit", anim(header(), pb.AnimateRequest(audio=bytes(300_000)), END),
     C.RESOURCE_EXHAUSTED),
    ("messages after end of audio", anim(header(), audio(0.1), END, audio(0.1)), C.FAILED_PRECONDITION),
    ("empty AnimateRequest", anim(header(), pb.AnimateRequest(), END), C.FAILED_PRECONDITION),
]


@pytest.fixture(scope="module")
def server(voice: FakeVoice):
    with running_server(voice, max_streams=3, max_text_chars=200, max_audio_seconds=1.5,
                        max_message_bytes=256 * 1024) as srv:
        yield srv


def still_serving(client) -> None:
    responses = list(client.Synthesize(pb.SynthesizeRequest(text="はい"), timeout=10))
    assert responses[-1].HasField("status")


@pytest.mark.parametrize(("name", "call", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_its_status(client, server, name: str, call: Callable, code: grpc.StatusCode) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(client)
    assert info.value.code() == code, info.value.details()
    assert info.value.details()
    still_serving(client)
    deadline = time.monotonic() + 2
    while server.servicer.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.servicer.active == 0


def test_refusals_name_what_is_accepted(server) -> None:
    channel, client = stub(server)
    with pytest.raises(grpc.RpcError) as info:
        list(client.Synthesize(pb.SynthesizeRequest(text="はい", mode=7), timeout=5))
    assert "unknown mode 7; use one of SYNTHESIS_MODE_UNSPECIFIED, SYNTHESIS_MODE_PARALLEL" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        list(client.Animate(iter([pb.AnimateRequest()]), timeout=5))
    assert info.value.details().endswith("must be an AudioHeader, got an empty message")
    for first, words in ((pb.AnimateRequest(audio=b"\0\0"), "an audio message"), (END, "an EndOfAudio message")):
        with pytest.raises(grpc.RpcError) as info:
            list(client.Animate(iter([first]), timeout=5))
        assert info.value.details().endswith(f"must be an AudioHeader, got {words}"), info.value.details()
    with pytest.raises(grpc.RpcError) as info:  # the SDK's and the CLI's words for the same range
        list(client.Animate(iter([header(sample_rate=7999), END]), timeout=5))
    assert info.value.details().endswith("AudioHeader.sample_rate must be an integer from 8000 to 192000 Hz; got 7999")
    with pytest.raises(grpc.RpcError) as info:  # the float32 field is echoed as sent, not 0.009999999776482582
        list(client.Synthesize(pb.SynthesizeRequest(text="はい", chunk_seconds=0.01), timeout=5))
    assert info.value.details() == "chunk_seconds must be a finite number within [0.05, 10]; got 0.01"
    still_serving(client)


def test_animate_bytes_that_are_no_message_are_invalid_argument(server, caplog) -> None:
    """A client's bad bytes are its error: INVALID_ARGUMENT with one log line, never INTERNAL with a traceback."""
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    raw = channel.stream_stream("/uniflgapi.v1.UniFLGService/Animate", request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
    valid = header().SerializeToString()
    with caplog.at_level(logging.INFO, logger="uniflg_bridge.server"):
        for messages in ([b"\xff\xff\xff"], [valid, b"\xff\xff\xff"]):  # as the header, and after it
            with pytest.raises(grpc.RpcError) as info:
                list(raw(iter(messages), timeout=10))
            assert info.value.code() == C.INVALID_ARGUMENT, info.value.details()
            assert info.value.details().startswith("not a valid uniflgapi.v1.AnimateRequest"), info.value.details()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    channel.close()
    still_serving(stub(server)[1])


def wait_released(voice: FakeVoice, server, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if voice.started == voice.finished and server.servicer.active == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"not released: started={voice.started} finished={voice.finished} "
                         f"active={server.servicer.active}")


@pytest.fixture()
def slow():
    voice = FakeVoice(delay=0.2)
    with running_server(voice, max_streams=2, queue_size=0) as srv:
        channel, s = stub(srv)
        yield voice, srv, s
        channel.close()


def test_cancellation_mid_stream_releases_everything(slow) -> None:
    voice, srv, client = slow
    call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 60, chunk_seconds=0.1), timeout=30)
    assert next(call).WhichOneof("response") == "header"
    next(call)
    assert srv.servicer.open_streams == 1  # what a shutdown now reports as open
    call.cancel()
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == C.CANCELLED
    wait_released(voice, srv)
    assert srv.servicer.open_streams == 0
    still_serving(client)


def test_every_cancel_is_logged_as_a_cancel_never_as_a_failure(slow, caplog) -> None:
    # a cancel can land while a response is being written; grpc then raises its own error from the write, which
    # is the client leaving, not a server fault (no ERROR, no traceback)
    voice, srv, client = slow
    with caplog.at_level(logging.INFO, logger="uniflg_bridge.server"):
        for k in range(6):
            call = client.Synthesize(pb.SynthesizeRequest(text="あ" * 60, chunk_seconds=0.1), timeout=30)
            for _ in range(1 + k % 3):
                next(call)
            call.cancel()
            wait_released(voice, srv)
    said = [r.getMessage() for r in caplog.records if r.name == "uniflg_bridge.server"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], said
    assert sum("Synthesize cancelled by the client" in m for m in said) == 6, said
    still_serving(client)


def test_animate_cancellation_releases_the_worker(slow) -> None:
    voice, srv, client = slow
    stop = threading.Event()

    def requests():
        yield header()
        yield audio(0.5)
        stop.wait(10)

    call = client.Animate(requests(), timeout=30)
    assert next(call).WhichOneof("response") == "header"
    next(call)  # frames for the first half second
    call.cancel()
    stop.set()
    wait_released(voice, srv)
    still_serving(client)


def test_deadline_releases_everything(slow) -> None:
    voice, srv, client = slow
    with pytest.raises(grpc.RpcError) as info:
        list(client.Synthesize(pb.SynthesizeRequest(text="あ" * 60, chunk_seconds=0.1), timeout=0.5))
    assert info.value.code() == C.DEADLINE_EXCEEDED
    wait_released(voice, srv)


def test_concurrent_stream_limit(slow) -> None:
    voice, srv, client = slow
    calls = [client.Synthesize(pb.SynthesizeRequest(text="あ" * 20, chunk_seconds=0.1), timeout=30)
             for _ in range(2)]
    for call in calls:
        next(call)  # both are running
    with pytest.raises(grpc.RpcError) as info:
        list(client.Synthesize(pb.SynthesizeRequest(text="あ"), timeout=10))
    assert info.value.code() == C.UNAVAILABLE  # busy: retryable (no queue here)
    for call in calls:
        assert list(call)[-1].HasField("status")
    still_serving(client)


@pytest.fixture(scope="module")
def secured():
    with running_server(FakeVoice(), token="s3cret") as srv:
        yield srv


@pytest.mark.parametrize(("metadata", "code", "said"), [
    ((), C.UNAUTHENTICATED, "missing 'authorization: Bearer <token>' metadata"),
    ((("authorization", "Bearer wrong"),), C.UNAUTHENTICATED, "invalid bearer token"),
    ((("authorization", "Basic s3cret"),), C.UNAUTHENTICATED, "must read 'Bearer <token>'"),
    ((("authorization", "s3cret"),), C.UNAUTHENTICATED, "must read 'Bearer <token>'"),
], ids=["missing token", "wrong token", "wrong scheme", "no scheme"])
def test_token_required(secured, metadata, code, said) -> None:
    channel, client = stub(secured)
    with pytest.raises(grpc.RpcError) as info:
        list(client.Synthesize(pb.SynthesizeRequest(text="はい"), metadata=metadata, timeout=5))
    assert info.value.code() == code and said in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        client.GetInfo(pb.GetInfoRequest(), metadata=metadata, timeout=5)
    assert info.value.code() == code
    with pytest.raises(grpc.RpcError) as info:
        list(client.Animate(iter([header(), END]), metadata=metadata, timeout=5))
    assert info.value.code() == code
    ok = list(client.Synthesize(pb.SynthesizeRequest(text="はい"),
                                metadata=(("authorization", "Bearer s3cret"),), timeout=5))
    assert ok[-1].HasField("status")
    channel.close()


def test_health_needs_no_token(secured) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{secured.port}")
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    channel.close()


def test_non_loopback_bind_needs_a_token() -> None:
    import asyncio

    with pytest.raises(ValueError, match="token"):
        asyncio.run(build_server(FakeVoice(), ServerConfig(bind="0.0.0.0:0")))


