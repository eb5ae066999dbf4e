"""Long text: the SDK splits it at sentence ends and streams across the pieces; the CLI and gRPC get that from
the SDK. Uses the shipped default voice on ONNX Runtime and a real gRPC server (port 0) and client."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from bridge_server import running_server, start_server_process, stub
from uniflg.errors import LimitExceededError, UnsupportedTextError
from uniflg.types import SynthesisOptions
from uniflg.voice import load_voice
from uniflgapi.v1 import uniflg_pb2 as pb
from uniflgapi.v1 import uniflg_pb2_grpc as pb_grpc

DATA = Path(__file__).parent / "data"
JA = (DATA / "long_ja.txt").read_text(encoding="utf-8")  # 325 characters, three paragraphs
EN = (DATA / "long_en.txt").read_text(encoding="utf-8")  # 2,003 characters, six paragraphs


@pytest.fixture(scope="module")
def voice():
    return load_voice(backend="onnxruntime")


def _check_stream(chunks, sample_rate: int, sentences: int) -> tuple[np.ndarray, np.ndarray]:
    samples = frames = 0
    for c in chunks:  # one continuous stream: no gaps, no overlaps, frames on the sample clock
        assert c.sample_offset == samples and c.first_frame == frames
        samples += c.audio.size
        frames += len(c.landmarks)
    assert [c.is_last for c in chunks].count(True) == 1 and chunks[-1].is_last
    assert sorted({c.sentence for c in chunks}) == list(range(sentences))
    assert frames == round(samples * 30 / sample_rate)  # the contract: frame j shows the face at j / 30 s
    for c in chunks:  # so every sentence starts on its own frame: sample s is frame s * 30 / sr
        if c.index and chunks[c.index - 1].sentence != c.sentence:
            assert c.sample_offset * 30 % sample_rate == 0 and c.first_frame == c.sample_offset * 30 // sample_rate
    return np.concatenate([c.audio for c in chunks]), np.concatenate([c.landmarks for c in chunks])


def test_long_japanese_streams_across_sentences(voice) -> None:
    opts = SynthesisOptions(seed=3)
    chunks = list(voice.synthesize(JA, opts))
    audio, landmarks = _check_stream(chunks, voice.sample_rate, 10)
    assert audio.size / voice.sample_rate > 30  # the 325 characters are all spoken (about 65 s)
    # every piece but the last ends on a frame boundary: a sentence starts at frame j = its sample / 800
    starts = [c for c in chunks if c.sentence > 0 and c.index and chunks[c.index - 1].sentence != c.sentence]
    assert all(c.sample_offset * 30 % voice.sample_rate == 0 for c in starts)
    whole_audio, whole_lm = voice.synthesize_all(JA, opts)
    np.testing.assert_array_equal(whole_audio, audio)
    assert voice.landmarks_from_text(JA, opts).shape == landmarks.shape == whole_lm.shape


@pytest.mark.parametrize("mode", ["t", "p"])
@pytest.mark.parametrize("chunk_seconds", [0.05, 0.5])
def test_sentences_start_on_their_frame_whatever_the_last_chunk_holds(voice, mode: str, chunk_seconds: float) -> None:
    # at the default 0.5 s, "New paragraph."'s last chunk holds 1,504 samples and no frame; it once lost its
    # padding frame there, and every later frame ran 33 ms early
    text = "Wait...\n\nNew paragraph.\tTab."
    chunks = list(voice.synthesize(text, SynthesisOptions(seed=0, mode=mode, chunk_seconds=chunk_seconds)))
    _check_stream(chunks, voice.sample_rate, max(c.sentence for c in chunks) + 1)


def test_long_english_streams_and_errors_come_before_the_stream(voice) -> None:
    chunks = list(voice.synthesize(EN, SynthesisOptions(seed=1, chunk_seconds=2.0)))
    audio, _ = _check_stream(chunks, voice.sample_rate, 29)
    assert audio.size / voice.sample_rate > 60
    with pytest.raises(UnsupportedTextError, match="ʘ"):
        voice.synthesize(EN + " Press ʘ now.")  # refused at the call, before any audio
    with pytest.raises(LimitExceededError):
        voice.synthesize(JA * 4)


def test_cli_speaks_long_text_with_one_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from uniflg.cli import main

    out = tmp_path / "ja"
    assert main(["speak", JA, "-o", str(out), "--no-preview", "--backend", "onnxruntime"]) == 0
    err = capsys.readouterr().err
    bars = [line for line in err.split("\n") if "speak:" in line]
    assert len(bars) == 1 and bars[0].endswith("sentence/s]") and "10/10" in bars[0]  # one bar, ten sentences
    audio, rate = sf.read(out / "speech.wav")
    meta = json.loads((out / "landmarks.json").read_text())
    assert audio.size / rate > 30 and abs(len(meta["frames"]) - audio.size / rate * 30) <= 1
    assert main(["speak", "Hi ♪", "-o", str(tmp_path / "s"), "--no-preview", "--strict"]) == 2
    assert "'♪' (U+266A)" in caplog.text
    assert main(["speak", "Press ʘ now.", "-o", str(tmp_path / "x"), "--no-preview"]) == 2
    assert "'ʘ' (U+0298)" in caplog.text and not (tmp_path / "x").exists()
    assert main(["speak", "Let's go ♪😀😀", "-o", str(tmp_path / "e"), "--no-preview"]) == 0  # dropped, warned
    assert (tmp_path / "e" / "speech.wav").is_file()
    assert "dropped what is not read (emoji, symbols, faces, stage directions): ♪ 😀" in caplog.text
    # invisible format characters (a Windows file's byte-order mark, zero-width spaces) go without a word;
    # control characters are refused by name, and the hint does not suggest the language it already detected
    assert main(["speak", "\ufeffこん\u200bにちは", "-o", str(tmp_path / "b"), "--no-preview"]) == 0
    from uniflg.text.frontend import split_text

    for strict in (False, True):  # a lone zero-width joiner is no emoji: removed, the word kept whole
        assert split_text("Hel\u200dlo", strict=strict).sentences == ("Hello",)
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one emoji made of three and two joiners
    assert split_text(f"Family {family} here").dropped == (family,)
    assert main(["speak", "a\x1bb", "-o", str(tmp_path / "c"), "--no-preview"]) == 2
    assert "text contains control characters '\\x1b' (U+001B) (only newline, carriage return and tab are allowed)" in \
        caplog.text
    caplog.clear()
    assert main(["speak", "Press ʘ now.", "-o", str(tmp_path / "x"), "--no-preview"]) == 2
    assert "give text it reads (the text was detected as en; if it is in another language, name it: ja)" in \
        caplog.text
    assert main(["speak", "Press ʘ now.", "-o", str(tmp_path / "x"), "--no-preview", "--language", "en"]) == 2
    assert "give text it reads, let the language be detected (auto), or name another: ja" in caplog.text


def _synthesize(client: pb_grpc.UniFLGServiceStub, text: str) -> tuple[float, int]:
    responses = list(client.Synthesize(pb.SynthesizeRequest(text=text, seed=2), timeout=300))
    assert responses[0].WhichOneof("response") == "header" and responses[-1].HasField("status")
    frames = [f.index for r in responses[1:-1] for f in r.chunk.frames]
    assert frames == list(range(len(frames)))
    seconds = sum(len(r.chunk.audio) // 2 for r in responses[1:-1]) / responses[0].header.sample_rate
    return seconds, len(frames)


def test_grpc_synthesizes_long_text_in_both_languages(voice) -> None:
    with running_server(voice) as srv:
        channel, client = stub(srv)
        for text, at_least in ((JA, 30), (EN, 60)):
            seconds, frames = _synthesize(client, text)
            assert seconds > at_least and abs(frames - seconds * 30) <= 1
        with pytest.raises(grpc.RpcError) as err:
            list(client.Synthesize(pb.SynthesizeRequest(text="안녕하세요"), timeout=30))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ja (Japanese)" in err.value.details()
        channel.close()


def _audio(client: pb_grpc.UniFLGServiceStub, text: str) -> bytes:
    responses = list(client.Synthesize(pb.SynthesizeRequest(text=text, seed=4), timeout=60))
    return b"".join(r.chunk.audio for r in responses[1:-1])


def test_grpc_rejections_leave_no_trace_and_emoji_are_dropped(voice) -> None:
    with running_server(voice) as srv:
        channel, client = stub(srv)
        before = _audio(client, "testing one two three")
        for bad in ("\ua733", "Press ʘ now.", "Привет", "ȸ ƛ ǂ", "합니다"):
            with pytest.raises(grpc.RpcError) as err:
                list(client.Synthesize(pb.SynthesizeRequest(text=bad), timeout=30))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _audio(client, "testing one two three") == before
        assert _audio(client, "testing ♪ one two three 😀") == before  # decoration dropped, same speech
        channel.close()


def test_grpc_language_and_strict_text_fields(voice) -> None:
    """SynthesizeRequest.language pins the front end's language; strict_text refuses decoration instead of
    dropping it; an unknown language is refused naming the ones there are."""
    with running_server(voice) as srv:
        channel, client = stub(srv)
        auto = _audio(client, "testing one two three")
        pinned = b"".join(r.chunk.audio for r in list(client.Synthesize(
            pb.SynthesizeRequest(text="testing one two three", seed=4, language="en"), timeout=60))[1:-1])
        assert pinned == auto
        refusals = [(pb.SynthesizeRequest(text="testing ♪ one", strict_text=True), "♪"),
                    (pb.SynthesizeRequest(text="今日は😀晴れ", strict_text=True), "😀"),
                    (pb.SynthesizeRequest(text="今日は晴れです。", language="en"), "en"),
                    (pb.SynthesizeRequest(text="hello", language="ko\x00" + "x" * 5000), "use one of ja, en")]
        for request, named in refusals:
            with pytest.raises(grpc.RpcError) as err:
                list(client.Synthesize(request, timeout=30))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (request.text, err.value.details())
            assert named in err.value.details() and len(err.value.details()) < 600
        channel.close()


@pytest.mark.slow
def test_uniflg_serve_synthesizes_long_text() -> None:
    """The installed command: `uniflg serve` in its own process, a real gRPC client."""
    proc, port, _ = start_server_process(["-m", "uniflg.cli", "serve", "--grpc", "127.0.0.1:0"])
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        client = pb_grpc.UniFLGServiceStub(channel)
        for text, at_least in ((JA, 30), (EN, 60)):
            seconds, _ = _synthesize(client, text)
            assert seconds > at_least
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
