"""Files a user hands the SDK: crafted audio headers, special files, broken voice folders, bad output folders.

Every file is made here. Memory cases run the real CLI in a child process and read that child's peak RSS
(``os.wait4``), so a regression that loads a whole file (or upsamples a 1 Hz header) fails by its number.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from cli_in_process import run_here
from process_helpers import run_measured as measured
from uniflg import errors
from uniflg.audio_file import SAMPLE_RATE_RANGE, check_sample_rate, file_problem, open_audio
from uniflg.errors import InvalidInputError, LimitExceededError, ModelFormatError
from uniflg.types import SynthesisOptions
from uniflg.voice import DEFAULT_VOICE_DIR, VOICE_FILE, load_voice, read_voice_spec
from uniflg.voice_files import check_config_limits, check_voice_folder, read_safetensors_header

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("sdk", "training", "engine_bridge",
                                                                              "engine_bridge/generated"))}
needs_default_voice = pytest.mark.skipif(not (DEFAULT_VOICE_DIR / VOICE_FILE).is_file(), reason="no embedded voice")


def cli(caplog: pytest.LogCaptureFixture, *argv: str) -> tuple[int, str]:
    """``uniflg ARGV`` in this process (:func:`cli_in_process.run_here`) -> (exit code, its ERROR lines);
    ``caplog`` is cleared first, so it holds this command's records only."""
    caplog.clear()
    ran = run_here(*argv)
    return ran.returncode, "\n".join(ran.errors)


def run_measured(*args: str, timeout: float = 300) -> tuple[int, str, float]:
    """``uniflg ARGS`` in a child process -> (exit code, its output, its peak RSS in MB)."""
    try:
        code, out, err, rss = measured([sys.executable, "-m", "uniflg.cli", *args], ENV, timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"uniflg {' '.join(args)} did not finish in {timeout} s")
    return code, out + err, rss


def speechlike(seconds: float, rate: int = 24000, seed: int = 0) -> np.ndarray:
    """Amplitude-modulated harmonics with noise: something for the animator to follow."""
    t = np.arange(int(seconds * rate)) / rate
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 900), 1))
    rng = np.random.default_rng(seed)
    return (0.2 * env * x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def write_wav_header(path: Path, rate: int, data_bytes: int, file_bytes: int | None = None) -> Path:
    """A PCM16 mono WAV header claiming ``data_bytes`` of samples at ``rate``; the file is then extended
    (sparsely) to ``file_bytes``."""
    header = b"RIFF" + struct.pack("<I", min(36 + data_bytes, 2**32 - 1)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(file_bytes if file_bytes is not None else 44 + data_bytes)
    return path


# ---- audio files ------------------------------------------------------------------------------------------------
def test_a_1hz_wav_is_refused_from_its_header_fast_and_small(tmp_path: Path) -> None:
    path = tmp_path / "one-hertz.wav"
    with wave.open(str(path), "wb") as w:  # 32 KB of samples that claim 1 Hz: 4.5 hours at 1 Hz
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(1)
        w.writeframes(np.zeros(16000, np.int16).tobytes())
    with pytest.raises(InvalidInputError, match="8000 to 192000 Hz; got 1"):
        open_audio(path)
    started = time.perf_counter()
    code, out, rss = run_measured("animate", str(path), "-o", str(tmp_path / "out"), "--no-preview", timeout=60)
    assert code == 2 and "8000 to 192000 Hz" in out and "Traceback" not in out, out
    assert time.perf_counter() - started < 30 and rss < 400, (time.perf_counter() - started, rss)


def test_a_sparse_2gb_wav_is_refused_before_decoding(tmp_path: Path) -> None:
    size = 2 * 1024**3
    path = write_wav_header(tmp_path / "sparse.wav", 24000, size - 44, size)  # 12.4 h of silence, no disk used
    with pytest.raises(LimitExceededError, match="12.43 h long; at most 4.00 h"):
        open_audio(path)
    # short limits read in seconds and minutes, not as "0.00 h"
    with pytest.raises(LimitExceededError, match=r"is 12.43 h long; at most 1 s per file"):
        open_audio(path, max_seconds=1)
    with pytest.raises(LimitExceededError, match=r"at most 12 min 30 s per file"):
        open_audio(path, max_seconds=750)
    code, out, rss = run_measured("animate", str(path), "-o", str(tmp_path / "out"), "--no-preview", timeout=60)
    assert code == 2 and "h long" in out and "--max-seconds" in out, out
    assert rss < 400, rss


@pytest.mark.parametrize("rate", [7999, 192001, 0, -24000])
def test_every_path_enforces_the_sample_rate_range(rate: int) -> None:
    with pytest.raises(InvalidInputError, match="8000 to 192000"):
        check_sample_rate(rate)
    assert check_sample_rate(SAMPLE_RATE_RANGE[0]) == 8000 and check_sample_rate(np.int64(192000)) == 192000


@needs_default_voice
def test_voice_apis_refuse_rates_outside_the_range() -> None:
    from uniflg.types import SynthesisOptions

    voice = load_voice(None, "onnxruntime")
    with pytest.raises(InvalidInputError, match="8000 to 192000"):
        voice.animate([np.zeros(100, np.float32)], 1)
    with pytest.raises(InvalidInputError, match="8000 to 192000"):
        voice.synthesize_all("こんにちは", SynthesisOptions(reference_audio=np.zeros(10, np.float32),
                                                       reference_sample_rate=4))


def test_special_files_are_named_for_what_they_are(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    (tmp_path / "folder.wav").mkdir()
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    assert file_problem(fifo) == "is a FIFO (named pipe), not a file"
    assert file_problem(loop) == "cannot be opened (Too many levels of symbolic links)"
    assert file_problem(tmp_path / "folder.wav") == "is a folder, not a file"
    assert file_problem(tmp_path / "dangling.wav") == "is a broken symbolic link"
    assert file_problem(tmp_path / "missing.wav") == "not found"
    with pytest.raises(InvalidInputError, match="FIFO"):
        open_audio(fifo)  # returns at once: the FIFO is never opened


def test_animate_cli_names_folders_fifos_and_unknown_formats(tmp_path: Path, caplog) -> None:
    from uniflg.ffmpeg import ffmpeg_exe

    m4a = tmp_path / "speech.m4a"
    sf.write(str(tmp_path / "speech.wav"), speechlike(1.0), 24000)
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(tmp_path / "speech.wav"), "-c:a", "aac",
                    str(m4a)], check=True)
    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "dir.wav").mkdir()
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    cases = {m4a: "accepted formats: WAV, FLAC", tmp_path / "pipe.wav": "is a FIFO",
             tmp_path / "dir.wav": "is a folder, not a file", tmp_path / "nope.wav": "not found",
             tmp_path / "loop.wav": "Too many levels of symbolic links",
             tmp_path / "empty.wav": "is empty (0 bytes); accepted formats: WAV"}
    (tmp_path / "empty.wav").write_bytes(b"")
    for audio, expected in cases.items():
        code, errors = cli(caplog, "animate", str(audio), "-o", str(tmp_path / "out"))
        assert code == 2 and expected in errors and len(errors.splitlines()) == 1, (audio, errors)


@needs_default_voice
def test_animation_streams_with_a_bounded_buffer_and_equals_the_whole_clip() -> None:
    voice = load_voice(None, "onnxruntime")
    audio = speechlike(8.0, 16000)
    whole = voice.animate_array(audio, 16000)
    pieces = [audio[i:i + 8000] for i in range(0, audio.size, 8000)]  # 0.5 s at a time
    streamed = np.concatenate([c.landmarks for c in voice.animate(pieces, 16000)])
    assert streamed.shape == whole.shape == (240, 70, 2)
    np.testing.assert_allclose(streamed, whole, atol=2e-4)
    # The animator keeps only the audio later frames read: a few seconds, not everything pushed.
    from uniflg.inference import SpeechAnimator

    animator = SpeechAnimator(voice.backend, voice.runtime, np.zeros(1, np.int64), None)
    longest, signal = 0, speechlike(40.0)
    for i in range(0, signal.size, 24000):
        animator.push(signal[i:i + 24000])
        longest = max(longest, animator._audio.end - animator._audio.start)  # samples still kept
    assert animator.emitted > 1100 and longest < 6 * 24000, (animator.emitted, longest)


@needs_default_voice
def test_animate_cli_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    rss = {}
    for minutes in (0.5, 1.5):
        path = tmp_path / f"{minutes}.wav"
        with sf.SoundFile(str(path), "w", 24000, 1, "PCM_16") as f:
            for _ in range(int(minutes * 6)):
                f.write(speechlike(10.0))
        code, out, rss[minutes] = run_measured("animate", str(path), "-o", str(tmp_path / "out"), "--no-preview")
        assert code == 0, out
        assert np.load(tmp_path / "out" / "landmarks.npy").shape == (int(minutes * 1800), 70, 2)
        meta = json.loads((tmp_path / "out" / "landmarks.json").read_text())
        assert len(meta["frames"]) == int(minutes * 1800) and meta["fps"] == 30
    # 3x the audio: the old whole-file path grew about 120 MB per minute; streamed it stays within 50 MB.
    assert rss[1.5] - rss[0.5] < 50 and rss[1.5] < 700, rss


# ---- output folders ---------------------------------------------------------------------------------------------
def test_outputs_are_checked_before_synthesis(tmp_path: Path, caplog) -> None:
    existing = tmp_path / "a-file"
    existing.write_text("keep me")
    code, errors = cli(caplog, "speak", "こんにちは", "-o", str(existing))
    assert code == 2 and "is an existing file; -o needs a folder there" in errors, errors
    assert existing.read_text() == "keep me"
    assert not any("voice default" in r.getMessage() for r in caplog.records)  # refused before loading a voice
    code, errors = cli(caplog, "speak", "こんにちは", "-o", str(existing / "sub"))
    assert code == 2 and "cannot write to output folder" in errors, errors
    (tmp_path / "o" / "landmarks.npy").mkdir(parents=True)
    code, errors = cli(caplog, "animate", str(existing), "-o", str(tmp_path / "o"))
    assert code == 2 and "landmarks.npy is a folder" in errors, errors
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    code, errors = cli(caplog, "speak", "こんにちは", "-o", str(tmp_path / "dangling"))
    assert code == 2 and "is a symbolic link to nothing (broken, or a loop); -o needs a folder" in errors, errors
    code, errors = cli(caplog, "speak", "こんにちは", "-o", str(tmp_path / "o2"), "--voice", str(existing))
    assert code == 2 and f"not a voice folder (a file): {existing}" in errors, errors


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the read-only mount test covers it")
def test_unwritable_output_folder(tmp_path: Path, caplog) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, errors = cli(caplog, "speak", "こんにちは", "-o", str(locked))
    assert code == 2 and "cannot write to output folder" in errors and "Permission denied" in errors, errors


def test_read_only_output_folder(small_tmpfs, caplog) -> None:
    mnt = small_tmpfs(1024, read_only=True)
    code, errors = cli(caplog, "speak", "こんにちは", "-o", str(mnt))
    assert code == 2 and "cannot write to output folder" in errors and "Read-only file system" in errors, errors


def test_a_full_output_disk_is_one_line(small_tmpfs, caplog) -> None:
    mnt = small_tmpfs(64)
    code, errors = cli(caplog, "speak", "こんにちは、今日はいい天気ですね。", "-o", str(mnt / "o"), "--no-preview")
    assert code == 2 and errors == "`uniflg speak` stopped: No space left on device", errors


def test_a_flac_written_to_a_pipe_is_refused_naming_the_fix(tmp_path: Path, caplog) -> None:
    """ffmpeg writing FLAC to a pipe cannot go back to put the length in the header; libsndfile then reports
    2**63 - 1 frames (once read as "58096321723.70 h long") and stops partway through reading it."""
    from uniflg.errors import BackendUnavailableError
    from uniflg.ffmpeg import ffmpeg_exe

    try:
        ffmpeg = ffmpeg_exe()
    except BackendUnavailableError:
        pytest.skip("no ffmpeg (pip install imageio-ffmpeg)")
    wav, flac = tmp_path / "a.wav", tmp_path / "piped.flac"
    sf.write(wav, 0.1 * np.sin(np.arange(3 * 24000) * 0.05).astype(np.float32), 24000)
    encoded = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(wav), "-f", "flac", "-"], capture_output=True,
                             check=True).stdout
    flac.write_bytes(encoded)  # as `| cat > piped.flac` stores it
    said = f"{flac}: its FLAC header does not give its length"
    for argv in (["animate", str(flac), "-o", str(tmp_path / "o"), "--no-preview"],
                 ["live", "--input", str(flac), "--quiet"]):
        code, errors = cli(caplog, *argv)
        assert code == 2 and errors.startswith(said) and "ffmpeg -i piped.flac fixed.wav" in errors, errors


def test_a_disk_that_fills_during_the_landmarks_is_one_line(small_tmpfs, tmp_path: Path, caplog) -> None:
    speech = tmp_path / "speech.wav"
    sf.write(speech, 0.1 * np.sin(np.arange(5 * 24000) * 0.05).astype(np.float32), 24000)
    mnt = small_tmpfs(40)  # landmarks.npy (150 frames, 84 KB) is the first file that does not fit
    code, errors = cli(caplog, "animate", str(speech), "-o", str(mnt / "o"), "--no-preview")
    assert code == 2 and errors == "`uniflg animate` stopped: No space left on device", errors
    assert not (mnt / "o").exists()  # the run's own folder went with it


def test_a_disk_that_fills_during_the_preview_keeps_the_folder_as_it_was(small_tmpfs, caplog) -> None:
    from uniflg.errors import BackendUnavailableError
    from uniflg.ffmpeg import ffmpeg_exe

    try:
        ffmpeg_exe()
    except BackendUnavailableError:
        pytest.skip("no ffmpeg (pip install imageio-ffmpeg)")
    out = small_tmpfs(600) / "o"  # speech.wav and the landmarks fit; the preview does not
    out.mkdir()
    (out / "preview.mp4").write_bytes(b"an earlier run's preview")
    code, errors = cli(caplog, "speak", "こんにちは、今日はいい天気ですね。", "-o", str(out))
    assert code == 2 and errors == "`uniflg speak` stopped: No space left on device", errors
    assert sorted(p.name for p in out.iterdir()) == ["preview.mp4"]  # no half-written preview, no hidden files
    assert (out / "preview.mp4").read_bytes() == b"an earlier run's preview"


# ---- voice folders ----------------------------------------------------------------------------------------------
@pytest.fixture
def voice_copy(tmp_path: Path) -> Path:
    if not (DEFAULT_VOICE_DIR / VOICE_FILE).is_file():
        pytest.skip("no embedded voice")
    folder = tmp_path / "voice"
    shutil.copytree(DEFAULT_VOICE_DIR, folder)
    return folder


LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 3804560\n")


def _break(folder: Path, how: str) -> str:
    """Damage the folder one way -> the words the error must contain."""
    graph, weights = folder / "text_encoder.onnx", folder / "model.safetensors"
    if how == "lfs-graph":
        graph.write_text(LFS_POINTER)
        return "git-lfs pointer"
    if how == "lfs-weights":
        weights.write_text(LFS_POINTER)
        return "git-lfs pointer"
    if how == "half-graph":
        data = graph.read_bytes()
        graph.write_bytes(data[: len(data) // 2])
        return "not a complete ONNX model"
    if how == "garbage-graph":
        graph.write_bytes(os.urandom(4096))
        return "text_encoder.onnx"
    if how == "truncated-weights":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) - 1000])
        return "truncated"
    if how == "absurd-header":
        weights.write_bytes(struct.pack("<Q", 2**62) + b"{}")
        return "header length"
    spec = json.loads((folder / VOICE_FILE).read_text())
    if how == "escape-relative":
        spec["graphs"]["text_encoder"] = "../../../../etc/passwd"
        expected = "must be a file inside the voice folder"
    elif how == "escape-absolute":
        spec["graphs"]["text_encoder"] = "/etc/hostname"
        expected = "must be a file inside the voice folder"
    elif how == "escape-symlink":
        graph.unlink()
        graph.symlink_to("/etc/hostname")
        expected = "points outside the voice folder"
    elif how == "absurd-config":
        spec["config"]["vits"]["hidden_channels"] = 20000
        expected = "vits.hidden_channels = 20000"
    elif how == "string-in-config":  # review 20: a TypeError from the range check, far from the file
        spec["config"]["audio"]["sample_rate"] = "24000"
        expected = "AudioConfig.sample_rate must be a whole number; got '24000'"
    elif how == "wrong-literal-in-config":
        spec["config"]["variant"]["conditioning"] = "speakers"
        expected = "VariantConfig.conditioning must be one of 'speaker', 'emotion'; got 'speakers'"
    else:
        raise AssertionError(how)
    (folder / VOICE_FILE).write_text(json.dumps(spec))
    return expected


BREAKS = ["lfs-graph", "lfs-weights", "half-graph", "garbage-graph", "truncated-weights", "absurd-header",
          "escape-relative", "escape-absolute", "escape-symlink", "absurd-config", "string-in-config",
          "wrong-literal-in-config"]


@pytest.mark.parametrize("how", BREAKS)
def test_broken_voice_folders_raise_model_format_error(voice_copy: Path, how: str) -> None:
    expected = _break(voice_copy, how)
    with pytest.raises(ModelFormatError, match=expected.replace("(", r"\(")):
        load_voice(voice_copy, "onnxruntime" if "weights" not in how and how != "absurd-header" else "auto")


def _set(path: str, value: object) -> Callable[[dict], None]:
    """An edit of voice.json: the field at ``path`` (keys joined by '/') set to ``value``."""
    def edit(spec: dict) -> None:
        *parents, leaf = path.split("/")
        for key in parents:
            spec = spec[key]
        spec[leaf] = value
    return edit


# voice.json fields beyond the config, each damaged one way -> the words of the one-line error
SPEC_BREAKS = {
    "negative context": (_set("contexts/latent_to_speech", -5), "contexts must give each windowed graph"),
    "fractional context": (_set("contexts/inverse_flow", 2.5), "a whole number of frames >= 0"),
    "no contexts": (_set("contexts", {}), "contexts must give each windowed graph"),
    "text context": (_set("contexts/latent_to_speech", "12"), "contexts must give each windowed graph"),
    "unknown graph": (_set("graphs/textencoder", "text_encoder.onnx"), "graphs names ['textencoder']"),
    "live as a list": (_set("live", ["live250"]), "live must be a JSON object"),
    "live without contexts": (lambda s: s["live"]["live250"].pop("contexts"), "contexts must give speech_to_latent"),
    "live context not a pair": (_set("live/live250/contexts/speech_to_latent", 5), "[left, right]"),
    "live graph outside": (_set("live/live250/graphs/speech_to_latent", "/etc/hostname"),
                           "must be a file inside the voice folder"),
    "live graph up": (_set("live/live250/graphs/speech_to_latent", "../voice/live250_speech_to_latent.onnx"),
                      "must be a file inside the voice folder"),
    "live lookahead": (_set("live/live250/lookahead_ms", "fast"), "lookahead_ms must be a positive number"),
    "latents as a list": (_set("latents", [1, 2]), "latents must be a JSON object"),
    "short latent": (lambda s: s["latents"]["emotion"]["normal"].pop(), "must be 16 finite numbers"),
    "NaN latent": (_set("latents/emotion/happy", [math.nan] * 16), "must be 16 finite numbers"),
    "text latent": (_set("latents/emotion/happy", "loud"), "must be 16 finite numbers"),
    "latent of no emotion": (_set("latents/emotion/angry", [0.0] * 16), "stores 'angry', which is not one of"),
    "latent kind": (_set("latents/style", {}), "latents holds 'style'"),
    "neutral face text": (_set("neutral_face", "none"), "neutral_face must be 70 [x, y] pairs"),
    "neutral face short": (lambda s: s["neutral_face"].pop(), "neutral_face must be 70 [x, y] pairs"),
    "calibration": (_set("face_calibration", {"rest": "x"}), "face_calibration: malformed face calibration"),
    "version text": (_set("version", "1"), "version must be a whole number from 1"),
    "version zero": (_set("version", 0), "version must be a whole number from 1"),
    "version bool": (_set("version", True), "version must be a whole number from 1"),
    "name": (_set("name", 123), "name must be a non-empty string"),
    "language": (_set("language", "fr"), "language must be auto or one of ja, en; got 'fr'"),
}


@pytest.mark.parametrize("case", sorted(SPEC_BREAKS))
def test_voice_json_fields_are_checked_when_the_folder_is_read(voice_copy: Path, case: str) -> None:
    edit, said = SPEC_BREAKS[case]
    spec = json.loads((voice_copy / VOICE_FILE).read_text())
    edit(spec)
    (voice_copy / VOICE_FILE).write_text(json.dumps(spec))
    with pytest.raises(ModelFormatError) as info:
        read_voice_spec(voice_copy)
    assert said in str(info.value) and str(voice_copy) in str(info.value), info.value  # the folder or its voice.json


def test_stored_speaker_latents_may_name_speakers_the_model_never_had(voice_copy: Path) -> None:
    """UniFLG-AS's z_u is the speaker: `export --latents-from` a corpus of unseen talkers stores theirs."""
    spec = json.loads((voice_copy / VOICE_FILE).read_text())
    spec["latents"]["speaker"] = {"espeak_en-us": [0.0] * 16}
    (voice_copy / VOICE_FILE).write_text(json.dumps(spec))
    assert read_voice_spec(voice_copy).latents["speaker"] == {"espeak_en-us": [0.0] * 16}


def test_a_voice_file_linked_from_outside_is_refused(voice_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    shutil.copy(voice_copy / VOICE_FILE, outside)
    (voice_copy / VOICE_FILE).unlink()
    (voice_copy / VOICE_FILE).symlink_to(outside)
    with pytest.raises(ModelFormatError, match="voice.json 'voice.json' points outside the voice folder"):
        read_voice_spec(voice_copy)


def test_a_voice_file_that_is_no_object_says_so(voice_copy: Path) -> None:
    (voice_copy / VOICE_FILE).write_text("[1, 2, 3]")
    with pytest.raises(ModelFormatError, match="a voice file is a JSON object; got a JSON list"):
        read_voice_spec(voice_copy)


def _swap_files(folder: Path, a: str, b: str) -> None:
    first = (folder / a).read_bytes()
    (folder / a).write_bytes((folder / b).read_bytes())
    (folder / b).write_bytes(first)


# graphs that contradict voice.json -> the words of the one ModelFormatError (once ONNX Runtime opens or runs them)
GRAPH_MISMATCHES = {
    "graph files swapped": (lambda f, s: _swap_files(f, "text_encoder.onnx", "inverse_flow.onnx"),
                            "text_encoder.onnx is not the text_encoder graph: it takes ['z_p']"),
    "graph names swapped": (lambda f, s: s["graphs"].update(latent_to_speech="latent_to_landmarks.onnx"),
                            "latent_to_landmarks.onnx is not the latent_to_speech graph"),
    "points in the config": (lambda f, s: (s["config"]["landmarks"].update(n_points=68), s.pop("neutral_face")),
                             "landmarks axis 2 is 70; the voice expects points = 68 in voice.json's config"),
    "speakers the graphs lack": (lambda f, s: s["config"].update(speakers=[*s["config"]["speakers"], "x", "y"]),
                                 "disagrees with its voice.json"),
}


@pytest.mark.parametrize(("field", "value", "said"), [
    ("speakers", ["mei", "extra"], "voice.json's config gives speakers = ('mei', 'extra'), but the weights were"),
    ("landmarks/n_points", 68, "voice.json's config gives landmarks.n_points = 68, but the weights were trained"),
])
def test_the_torch_backend_refuses_a_config_its_weights_contradict(voice_copy: Path, field: str, value: object,
                                                                    said: str) -> None:
    spec = json.loads((voice_copy / VOICE_FILE).read_text())
    _set(f"config/{field}", value)(spec)
    spec.pop("neutral_face")  # sized by n_points: checked on its own
    spec.pop("language_speakers", None)
    (voice_copy / VOICE_FILE).write_text(json.dumps(spec))
    with pytest.raises(ModelFormatError, match=re.escape(said)):
        load_voice(voice_copy, "torch")


@pytest.mark.parametrize("case", sorted(GRAPH_MISMATCHES))
def test_graphs_that_contradict_voice_json_are_one_model_format_error(voice_copy: Path, case: str) -> None:
    edit, said = GRAPH_MISMATCHES[case]
    spec = json.loads((voice_copy / VOICE_FILE).read_text())
    edit(voice_copy, spec)
    (voice_copy / VOICE_FILE).write_text(json.dumps(spec))
    voice = load_voice(voice_copy, "onnxruntime")
    with pytest.raises(ModelFormatError, match=re.escape(said)):
        voice.synthesize_all("こんにちは", SynthesisOptions(speaker=voice.spec.speakers[-1]))


def test_an_unreadable_graph_is_a_model_format_error_naming_it(voice_copy: Path) -> None:
    graph = voice_copy / "text_encoder.onnx"
    graph.chmod(0)
    # root reads anything: drop the capabilities that let it, as a normal user is
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    if drop and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    code = ("from uniflg.voice import read_voice_spec; from uniflg.errors import ModelFormatError\n"
            f"try: read_voice_spec({str(voice_copy)!r})\nexcept ModelFormatError as e: print('MFE', e)")
    run = subprocess.run([*drop, sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == (f"MFE {graph}: cannot be read (Permission denied); a voice folder's files must be "
                                  "readable by the user running uniflg"), run.stdout + run.stderr


@pytest.mark.parametrize("how", ["symlink out", "truncated", "missing"])
def test_live_graphs_get_the_checks_of_every_graph(voice_copy: Path, tmp_path: Path, how: str) -> None:
    graph = voice_copy / "live250_speech_to_latent.onnx"
    if how == "symlink out":
        outside = tmp_path / "outside.onnx"
        shutil.copy(graph, outside)
        graph.unlink()
        graph.symlink_to(outside)
        said = "points outside the voice folder"
    elif how == "truncated":
        graph.write_bytes(graph.read_bytes()[:5000])
        said = "not a complete ONNX model"
    else:
        graph.unlink()
        said = "live graph 'live250/speech_to_latent' 'live250_speech_to_latent.onnx' is missing"
    with pytest.raises(ModelFormatError, match=re.escape(said)):
        read_voice_spec(voice_copy)


@pytest.mark.parametrize("how", ["lfs-graph", "half-graph", "truncated-weights", "escape-relative"])
def test_cli_on_a_broken_voice_exits_2_with_one_line(voice_copy: Path, tmp_path: Path, how: str, caplog,
                                                      capsys) -> None:
    expected = _break(voice_copy, how)
    code, errors = cli(caplog, "speak", "こんにちは", "--voice", str(voice_copy), "-o", str(tmp_path / "o"))
    assert code == 2 and expected in errors and len(errors.splitlines()) == 1, errors
    capsys.readouterr()
    code, _ = cli(caplog, "info", "--voice", str(voice_copy))
    out = capsys.readouterr().out
    assert code == 2 and "BROKEN" in out and expected in out and ": available" not in out.split("features")[0], out


def test_serve_refuses_a_broken_voice_at_start_up(voice_copy: Path, caplog) -> None:
    pytest.importorskip("grpc")
    expected = _break(voice_copy, "half-graph")
    code, errors = cli(caplog, "serve", "--voice", str(voice_copy), "--grpc", "127.0.0.1:0")
    assert code == 2 and expected in errors and len(errors.splitlines()) == 1, errors


@pytest.mark.parametrize("damage", ["not a graph", "another graph's file"])
def test_a_graph_onnx_runtime_cannot_use_makes_info_say_broken(voice_copy: Path, caplog, capsys, damage: str) -> None:
    """A graph ONNX Runtime cannot load, or another graph's file under its name, is a broken folder: `info` says
    BROKEN and exits 2 (it exited 0 while `speak` on the default backend then failed)."""
    if damage == "not a graph":  # structurally complete protobuf (one graph field) whose contents are no ONNX graph
        (voice_copy / "text_encoder.onnx").write_bytes(b"\x3a\x04\x0a\x02\x08\x01")
        said = "ONNX Runtime cannot load the graph"
    else:
        shutil.copy(voice_copy / "text_encoder.onnx", voice_copy / "speech_to_latent.onnx")
        said = "is not the speech_to_latent graph"
    capsys.readouterr()
    code, _ = cli(caplog, "info", "--voice", str(voice_copy), "--json")
    voice = json.loads(capsys.readouterr().out)["voice"]
    assert code == 2 and said in voice["error"] and "backends" not in voice, voice
    if damage != "not a graph":
        return
    voice = load_voice(voice_copy, "onnxruntime")  # sessions open on first use
    with pytest.raises(ModelFormatError, match="ONNX Runtime cannot load the graph"):
        voice.synthesize_all("こんにちは")


def test_a_tiny_model_file_asking_for_gigabytes_is_refused_before_allocation(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from uniflg.config import named_config

    cfg = json.loads(named_config("tiny").to_json())
    cfg["vits"]["hidden_channels"] = 20000
    header = json.dumps({"__metadata__": {"uniflg_config": json.dumps(cfg)},
                         "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    assert path.stat().st_size < 4096
    # peak_rss_mb: this process's own peak (ru_maxrss would carry over the pytest parent's from the fork)
    code = ("from uniflg.model.io import load_model\nfrom uniflg.errors import ModelFormatError\n"
            "from uniflg.procinfo import peak_rss_mb\n"
            f"try:\n    load_model({str(path)!r})\nexcept ModelFormatError as e:\n    print('refused:', e)\n"
            "print('rss', int(peak_rss_mb()))")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120).stdout
    assert "refused:" in out and "hidden_channels = 20000" in out, out
    assert int(out.split("rss")[-1]) < 1500, out  # torch itself is ~400 MB; the 8 GB model never exists


def test_sane_config_limits_admit_the_shipped_configs() -> None:
    from uniflg.config import named_config

    for name in ("tiny", "small", "paper"):
        check_config_limits(named_config(name))
    with pytest.raises(ModelFormatError, match="audio.sample_rate = 1000000"):
        check_config_limits(named_config("tiny").replace(audio=named_config("tiny").audio.__class__(
            sample_rate=1_000_000)))
    # a corpus of 100 talkers (JVS, VCTK): names have their own limit (MAX_NAMES), not the 64 of a size list
    check_config_limits(named_config("tiny").replace(speakers=tuple(f"jvs{i:03d}" for i in range(100))))
    with pytest.raises(ModelFormatError, match="4097 speakers; 1 to 4096 are accepted"):
        check_config_limits(named_config("tiny").replace(speakers=tuple(f"s{i}" for i in range(4097))))


@needs_default_voice
def test_the_shipped_voice_passes_the_checks() -> None:
    spec = check_voice_folder(DEFAULT_VOICE_DIR)
    metadata, elements = read_safetensors_header(DEFAULT_VOICE_DIR / spec.weights)  # type: ignore[operator]
    assert elements > 1_000_000 and any("config" in k for k in metadata)


# ---- errors, CLI, help ------------------------------------------------------------------------------------------
def test_every_sdk_error_survives_pickling() -> None:
    samples = [errors.InvalidInputError("bad"), errors.UnsupportedTextError("no", ("x",)),
               errors.NotFoundError("speaker", "bob", ["a", "b"]), errors.LimitExceededError("long"),
               errors.BackendUnavailableError("none"), errors.ModelFormatError("broken"),
               errors.StoppedBySignalError("stopped", 15)]
    for exc in samples:
        back = pickle.loads(pickle.dumps(exc))
        assert type(back) is type(exc) and str(back) == str(exc) and vars(back) == vars(exc)


def test_help_shows_choices_and_defaults_without_literal_quotes() -> None:
    from uniflg.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"speak", "animate", "info", "bench", "serve", "preprocess", "train", "eval", "export"} <= set(commands)
    texts = {name: " ".join(p.format_help().split()) for name, p in commands.items()}
    assert not [name for name, text in texts.items() if "``" in text] and "``" not in parser.format_help()
    for words in ("{auto,ja,en}", "{t,p}", "(default: 1.0)", "mei, low, bright, soft", "normal, happy, sad",
                  "{auto,torch,onnxruntime,tensorrt}", "(default: 0)"):
        assert words in texts["speak"], (words, texts["speak"])
    assert "WAV, FLAC" in texts["animate"] and "8000-192000 Hz" in texts["animate"]
    assert "--voice FOLDER" in texts["serve"] and "voice name" not in texts["serve"]


@needs_default_voice
def test_info_is_readable_and_lists_languages_and_features(caplog, capsys) -> None:
    capsys.readouterr()
    code, _ = cli(caplog, "info")
    out = capsys.readouterr().out
    assert code == 0 and not out.lstrip().startswith("{"), out
    for words in ("languages: ja", "speakers: mei", "emotions: normal, happy, sad", "English front end:",
                  "PortAudio (live microphone, serve --play):", "ffmpeg (preview.mp4):", "GPU:",
                  "onnxruntime: available", "speech paths (look-ahead): live250 250 ms, offline 1095.3 ms"):
        assert words in out, (words, out)
    code, _ = cli(caplog, "info", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["voice"]["languages"][0] == "ja" and set(data["features"]) >= {"GPU", "English front end"}


# torch and the training-only packages made unimportable, as on the slim install (pip install uniflg).
SLIM = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "safetensors", "onnx", "onnxscript", "tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Block())
from uniflg.cli import main
for argv in (["train", "vits", "--data", "d", "--out", "r"], ["eval", "--data", "d", "--run", "r"],
             ["export", "--format", "onnx", "--voice", "v", "-o", "o"]):
    print(argv[0], main(argv), flush=True)
"""


def test_training_commands_on_the_slim_install_name_the_extra() -> None:
    proc = subprocess.run([sys.executable, "-c", SLIM], env=ENV, capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["train", "2", "eval", "2", "export", "2"], proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all("pip install 'uniflg[train]'" in line for line in lines), proc.stderr


def test_option_values_and_unmakeable_outputs_are_refused_before_work(tmp_path: Path, caplog) -> None:
    """Found by a new-user review: a negative seed, a NaN/zero/negative --max-seconds (NaN switched the limit
    off) and an output folder that passes every permission check but cannot be made (/proc)."""
    wav = tmp_path / "s.wav"
    sf.write(str(wav), speechlike(1.0), 24000, subtype="PCM_16")
    for argv, message in ((["speak", "hello", "--seed", "-5", "-o", str(tmp_path / "a")], "--seed: must be from 0"),
                          (["animate", str(wav), "--max-seconds", "nan", "-o", str(tmp_path / "b")], "finite"),
                          (["animate", str(wav), "--max-seconds", "0", "-o", str(tmp_path / "b")], "above 0"),
                          (["animate", str(wav), "--max-seconds", "-1", "-o", str(tmp_path / "b")], "above 0")):
        ran = run_here(*argv)  # argparse's usage error: exit 2, its message on stderr
        assert ran.returncode == 2 and message in ran.stderr, argv
    if Path("/proc/self").is_dir():
        code, errors = cli(caplog, "speak", "hello", "-o", "/proc/uniflg-test/out", "--no-preview")
        assert code == 2 and "cannot create output folder" in errors and len(errors.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav"]  # nothing was created for refused requests


# ---- staged outputs: what a finished or failed run leaves in the folder -----------------------------------------
def test_a_finished_run_removes_its_own_stale_outputs_but_never_its_input(tmp_path: Path) -> None:
    from uniflg.commands import OUTPUTS_ANIMATE, OUTPUTS_SPEAK
    from uniflg.outputs import staged_outputs

    out = tmp_path / "out"
    out.mkdir()
    for name in ("speech.wav", "preview.mp4", "notes.txt"):
        (out / name).write_bytes(b"earlier run")
    with staged_outputs(out, OUTPUTS_SPEAK) as staged:  # as `speak --no-preview`
        staged.path("speech.wav").write_bytes(b"new")
        staged.path("landmarks.npy").write_bytes(b"new")
    assert sorted(p.name for p in out.iterdir()) == ["landmarks.npy", "notes.txt", "speech.wav"]
    assert (out / "speech.wav").read_bytes() == b"new"  # the old preview (another sentence) is gone; notes stay
    (out / "preview.mp4").write_bytes(b"the user's own video, animated into this folder")
    with staged_outputs(out, OUTPUTS_ANIMATE, keep=[out / "preview.mp4"]) as staged:  # as `animate preview.mp4 -o`
        staged.path("landmarks.npy").write_bytes(b"newer")
    assert {p.name for p in out.iterdir()} == {"landmarks.npy", "notes.txt", "speech.wav", "preview.mp4"}
    assert (out / "speech.wav").read_bytes() == b"new"  # not animate's to remove


def test_a_failed_run_leaves_no_folder_it_created(tmp_path: Path) -> None:
    from uniflg.outputs import staged_outputs

    deep = tmp_path / "a" / "b" / "c"
    with pytest.raises(OSError, match="No space left"), staged_outputs(deep, ("speech.wav",)) as staged:
        staged.path("speech.wav").write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []  # a, b and c were this run's
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mine.txt").write_text("kept")
    with pytest.raises(KeyboardInterrupt), staged_outputs(deep) as staged:
        staged.path("landmarks.npy").write_bytes(b"half")
        raise KeyboardInterrupt
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["mine.txt"]  # b and c removed, a was there before


def test_open_audio_checks_its_own_arguments(tmp_path: Path) -> None:
    path = tmp_path / "ok.wav"
    sf.write(path, np.zeros(24000, np.float32), 24000)
    for bad, named in ((dict(max_seconds=float("nan")), "max_seconds must be a finite number within [0.001, inf]; "
                                                       "got nan"),
                       (dict(max_seconds=-1), "got -1"), (dict(max_seconds="5"), "got '5'")):
        with pytest.raises(InvalidInputError) as err:
            open_audio(path, **bad)
        assert named in str(err.value)
    for bad_path in (None, 3, b"ok.wav", ""):
        with pytest.raises(InvalidInputError, match="an audio file path must be a non-empty str or Path"):
            open_audio(bad_path)  # type: ignore[arg-type]
    with open_audio(path) as f:
        for seconds in (0, -1, float("nan"), 1e-9):  # 0 gave 24,000 one-sample blocks, nan a ValueError
            with pytest.raises(InvalidInputError, match="block seconds must be a finite number"):
                list(f.blocks(seconds))
        assert [b.size for b in f.blocks(0.4)] == [9600, 9600, 4800]


def test_torch_backend_needs_safetensors_too(monkeypatch) -> None:
    """torch without safetensors (the torch wheel installed alone, before the extras) is not a usable backend: the
    reason names the missing package, and load_voice raises BackendUnavailableError, not ModuleNotFoundError."""
    import uniflg.backends as backends
    from uniflg.errors import BackendUnavailableError
    from uniflg.voice import load_voice

    real = backends._installed
    monkeypatch.setattr(backends, "_installed", lambda name: name != "safetensors" and real(name))
    assert backends.available_backends(True, True)["torch"] == \
        "safetensors not installed (pip install 'uniflg[torch]')"
    with pytest.raises(BackendUnavailableError, match="safetensors not installed"):
        load_voice(backend="torch")


def test_info_says_when_portaudio_has_no_device(caplog, capsys) -> None:
    """`info` asks PortAudio for its devices: "available" only with one (a machine with the library and no device
    refused serve --play after info said available); without the library it names the package to install
    (sounddevice raises OSError then, which pytest.importorskip does not turn into a skip)."""
    try:
        import sounddevice
    except ImportError:
        pytest.skip("needs the audio extra (pip install 'uniflg[audio]')")
    except OSError:  # sounddevice is installed, the PortAudio library is not (no libportaudio2 here)
        sounddevice = None
    devices = sounddevice.query_devices() if sounddevice is not None else []
    capsys.readouterr()
    code, _ = cli(caplog, "info", "--json")
    line = json.loads(capsys.readouterr().out)["features"]["PortAudio (live microphone, serve --play)"]
    assert code == 0
    if sounddevice is None:
        assert line.startswith("unavailable: ") and line.endswith("(Debian/Ubuntu: apt-get install libportaudio2)")
    elif any(d["max_input_channels"] or d["max_output_channels"] for d in devices):
        assert line.startswith("available (")
    else:
        assert line.startswith("the library is installed, but there is no audio device")


# ---- review 19: dead output streams, bench limits, cut files, the input under an output's name ----------------

def _sine_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, subtype="PCM_16", format="WAV")
    return path


@needs_default_voice
@pytest.mark.parametrize("stderr", ["closed", "a pipe nobody reads"])
def test_a_dead_stderr_loses_no_output(tmp_path: Path, stderr: str) -> None:
    """The progress bar writes to stderr: a closed stderr (2>&-) or one whose reader is gone (2>&1 | head -1) made
    `animate` exit 1 with nothing written (review 19)."""
    audio = _sine_wav(tmp_path / "in.wav", 3.0)
    cmd = [sys.executable, "-m", "uniflg.cli", "animate", str(audio), "-o", str(tmp_path / "out"), "--no-preview"]
    if stderr == "closed":
        done = subprocess.run(cmd, env=ENV, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(2), timeout=120)
        code = done.returncode
    else:
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        proc.stderr.close()  # the reader is gone before the first log line
        code = proc.wait(timeout=120)
    assert code == 0
    assert np.load(tmp_path / "out" / "landmarks.npy").shape == (90, 70, 2)


@needs_default_voice
def test_a_closed_stdout_is_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "uniflg.cli", "info"], env=ENV, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: os.close(1), timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(("argv", "said"), [
    (["--stream-seconds", "1e9"], "--stream-seconds takes seconds from 1 to 3600; got '1e9'"),
    (["--backends", ",,"], "--backends names nothing; give a comma list of: all, torch, onnxruntime, tensorrt"),
    (["--models", ""], "--models names nothing; give a comma list of: default, paper, small, tiny"),
])
def test_bench_refuses_what_would_measure_nothing_or_exhaust_memory(caplog, argv: list[str], said: str) -> None:
    code, errors = cli(caplog, "bench", *argv)
    assert code == 2 and errors == said, errors


def test_bench_cache_that_is_no_folder_is_one_line(caplog, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, errors = cli(caplog, "bench", "--cache", str(tmp_path / "file" / "x"), "--models", "tiny")
    assert code == 2 and errors.startswith(f"--cache {tmp_path / 'file' / 'x'}: cannot make the folder") \
        and errors.endswith("(Not a directory)"), errors


def test_a_cut_off_wav_is_read_with_one_warning(tmp_path: Path, caplog) -> None:
    whole = _sine_wav(tmp_path / "whole.wav", 3.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:20000])
    with caplog.at_level(logging.WARNING, logger="uniflg.audio_file"):
        with open_audio(whole) as f:
            assert f.seconds == 3.0
        assert caplog.text == ""
        with open_audio(cut) as f:
            seconds = f.seconds
    assert seconds == pytest.approx((20000 - 44) / 2 / 16000, abs=1e-3)
    assert f"{cut} is cut off: its header gives 3.000 s of audio, the file holds 0.624 s" in caplog.text


@pytest.mark.parametrize(("container", "subtype"), [("WAV", "PCM_24"), ("WAV", "FLOAT"), ("AIFF", "PCM_16"),
                                                   ("AIFF", "FLOAT")])  # AIFF FLOAT is written as AIFC
def test_a_whole_file_with_data_in_a_tag_is_not_called_cut(tmp_path: Path, caplog, container: str,
                                                           subtype: str) -> None:
    """The sound chunk is found by walking the chunks: a comment holding the word "data" was taken for it (review 19),
    24-bit files (WAVE_FORMAT_EXTENSIBLE) were never checked, and AIFF was never checked (note 19)."""
    path = tmp_path / f"tagged.{container.lower()}"
    with sf.SoundFile(str(path), "w", 48000, 1, subtype=subtype, format=container) as f:
        f.comment = "see the metadata here"
        f.write(np.zeros(48000, np.float32))
    with caplog.at_level(logging.WARNING, logger="uniflg.audio_file"):
        with open_audio(path):
            pass
        assert "cut off" not in caplog.text
        cut = tmp_path / f"cut.{container.lower()}"
        cut.write_bytes(path.read_bytes()[:30000])
        with open_audio(cut):
            pass
    assert f"{cut.name} is cut off: its header gives 1.000 s" in caplog.text


@needs_default_voice
def test_animate_refuses_to_overwrite_the_audio_it_reads(tmp_path: Path, caplog) -> None:
    audio = _sine_wav(tmp_path / "landmarks.npy", 1.0)  # a WAV that happens to carry an output's name
    before = audio.read_bytes()
    code, errors = cli(caplog, "animate", str(audio), "-o", str(tmp_path), "--no-preview")
    assert code == 2 and "is the file `animate` would write as landmarks.npy" in errors
    assert audio.read_bytes() == before


@pytest.mark.parametrize(("argv", "said"), [
    (["animate", "-take1.wav", "-o", "out"], "a file name that starts with '-' goes after --"),
    (["speak", "hi", "-o", "out", "--ort-providers", ""], "unknown ONNX Runtime provider ''"),
    (["live", "--input", ""], "--input is empty: give mic, a sound file, or - for raw PCM16 on stdin"),
    (["live", "--input", "x.wav", "--livelink", "1.2.3.4:-1"], "the port in '1.2.3.4:-1' is outside 1..65535"),
    (["bench", "--voice", "/nonexistent/voice", "--models", "default"],
     "not a voice folder (no such folder): /nonexistent/voice"),
])
def test_small_usage_errors_say_what_was_meant(caplog, capsys, argv: list[str], said: str) -> None:
    from uniflg.cli import main

    with caplog.at_level(logging.INFO):
        try:
            code = main(argv)
        except SystemExit as exit_:  # usage errors leave through argparse's exit; the rest are ERROR log lines
            code = int(exit_.code or 0)
    errors = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert code == 2 and said in errors + capsys.readouterr().err, errors


@needs_default_voice
def test_the_torch_backend_names_the_live_path_it_cannot_run() -> None:
    pytest.importorskip("torch")
    voice = load_voice(backend="torch")
    assert [p.name for p in voice.speech_paths()] == ["offline"]
    with pytest.raises(InvalidInputError, match="its live path live250 runs on ONNX Runtime or TensorRT, not on the "
                                                "torch backend"):
        voice.speech_path(300)


@pytest.mark.parametrize("target", ["device", "the input"])
def test_live_summary_never_replaces_a_device_or_the_input(caplog, tmp_path: Path, target: str) -> None:
    """`live --summary /dev/full` (as root) replaced the device with a regular file; `--summary X --input X`
    overwrote the audio (review 19's re-check)."""
    pytest.importorskip("uniflg_bridge")
    audio = _sine_wav(tmp_path / "in.wav", 1.0)
    summary = "/dev/null" if target == "device" else str(audio)
    before = audio.read_bytes()
    code, errors = cli(caplog, "live", "--input", str(audio), "--summary", summary)
    assert code == 2 and ("not a regular file" in errors if target == "device" else "is the --input file" in errors)
    assert Path("/dev/null").is_char_device() and audio.read_bytes() == before


def test_bench_cache_that_cannot_be_made_is_one_line(caplog) -> None:
    code, errors = cli(caplog, "bench", "--cache", "/proc/uniflg-cache", "--models", "tiny")
    assert code == 2 and errors.startswith("--cache /proc/uniflg-cache: cannot make the folder"), errors


def test_audio_file_iterators_keep_their_own_place_and_a_closed_file_is_one_line(tmp_path: Path) -> None:
    """Review 20: a second blocks() iterator took the first one's blocks (it ended after one, silently), and a
    closed file raised soundfile's own error."""
    f = open_audio(_sine_wav(tmp_path / "a.wav", 2.0))
    first = f.blocks(0.5)
    head = next(first)
    assert sum(b.size for b in f.blocks(0.5)) == 32000  # a whole second pass
    assert head.size + sum(b.size for b in first) == 32000  # the first goes on where it was
    f.close()
    for call in (lambda: f.read(10), f.read_all, lambda: next(f.blocks())):
        with pytest.raises(errors.InvalidInputError, match=r"^audio file .*a\.wav is closed$"):
            call()


@needs_default_voice
def test_animate_drops_a_preview_whose_audio_was_replaced_while_ffmpeg_read_it(caplog, tmp_path, monkeypatch) -> None:
    """`uniflg speak -o D` replacing D/speech.wav while `uniflg animate D/speech.wav -o D` encoded its preview gave a
    59 s video muxed with the new 0.8 s audio, and no warning (review 21): the input is checked again after the mux.
    The replacement happens inside the real preview writer, where a concurrent `speak` landed it."""
    import uniflg.outputs

    audio = _sine_wav(tmp_path / "speech.wav", 1.0)
    real = uniflg.outputs.write_preview

    def replaced_meanwhile(*args, **kwargs):
        other = _sine_wav(tmp_path / "other.wav", 0.5)
        os.replace(other, audio)  # as `speak` lands its files: a new inode under the same name
        return real(*args, **kwargs)

    monkeypatch.setattr(uniflg.outputs, "write_preview", replaced_meanwhile)
    (tmp_path / "preview.mp4").write_bytes(b"an earlier preview")
    code, errors_said = cli(caplog, "animate", str(audio), "-o", str(tmp_path))
    assert code == 0 and errors_said == ""
    assert not (tmp_path / "preview.mp4").exists()  # neither the mixed one nor the earlier run's
    assert np.load(tmp_path / "landmarks.npy").shape == (30, 70, 2)  # the landmarks of the audio as it was read
    assert any("no preview:" in r.getMessage() and "changed or went away" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("suffix", "fmt", "name"), [("flac", "FLAC", "FLAC"), ("ogg", "OGG", "OGG"),
                                                     ("wav", "WAV", None)])
def test_a_cut_off_file_is_named_damaged_not_an_unaccepted_format(tmp_path, suffix, fmt, name) -> None:
    """A FLAC cut in half was refused with the accepted formats ('WAV, FLAC, ...': convert your FLAC) or, as an
    OGG, as having no audio samples (review 21). A file whose first bytes are an accepted format's is called damaged
    or cut off, with what to do; a WAV cut off is read with a warning, as before."""
    t = np.arange(48000 * 3) / 48000
    whole = tmp_path / f"whole.{suffix}"
    sf.write(whole, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000, format=fmt)
    cut = tmp_path / f"cut.{suffix}"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    if name is None:
        with open_audio(cut) as f:
            assert 0 < f.read_all().size < t.size
        return
    with pytest.raises(InvalidInputError) as info, open_audio(cut) as f:
        f.read_all()
    said = str(info.value)
    assert f"its first bytes say {name}, so it is most likely damaged or cut off" in said, said
    assert "accepted formats" not in said and f"ffmpeg -i cut.{suffix} fixed.wav" in said


def _whole_and_cut_mp3(folder: Path) -> tuple[Path, Path]:
    """3 s of 220 Hz at 48 kHz as libsndfile writes an MP3 (with a Xing header), and its first half."""
    t = np.arange(48000 * 3) / 48000
    whole = folder / "whole.mp3"
    sf.write(whole, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000, format="MP3")
    cut = folder / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return whole, cut


@pytest.mark.parametrize("blocks", [1.0, 0.25])
def test_a_cut_off_mp3_is_read_with_one_warning(tmp_path: Path, caplog, blocks: float) -> None:
    """An MP3 cut in half decoded to its first half without a word (note 21): its header (Xing) gives the whole
    length, libsndfile stops where the data does. Now the reader says so once, whatever the block size; a whole
    MP3 says nothing (the encoder's padding is within the tolerance)."""
    whole, cut = _whole_and_cut_mp3(tmp_path)
    samples = 48000 * 3  # what whole.mp3 holds
    with caplog.at_level(logging.WARNING, logger="uniflg.audio_file"):
        with open_audio(whole) as f:
            assert sum(b.size for b in f.blocks(blocks)) == samples
        assert caplog.text == ""
        with open_audio(cut) as f:
            decoded = sum(b.size for b in f.blocks(blocks))
            assert sum(b.size for b in f.blocks(blocks)) == decoded  # a second pass: no second warning
    assert 0.3 * samples < decoded < 0.7 * samples
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"{cut} is cut off: its header gives 3.000 s of audio, it decodes to {decoded / 48000:.3f} s "
                    "(read as it is)"], said


@needs_default_voice
def test_a_warning_during_a_progress_bar_gets_its_own_line(tmp_path: Path) -> None:
    """The cut-off warning came in the middle of `animate`'s progress bar ("... [00:02<00:00]WARNING ..."): the
    CLI now writes log lines through tqdm, which clears the bar first and draws it again below."""
    _, cut = _whole_and_cut_mp3(tmp_path)
    out = subprocess.run([sys.executable, "-m", "uniflg.cli", "animate", str(cut), "-o", str(tmp_path / "out"),
                          "--no-preview"], env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stderr.split("\n") if "is cut off" in line)
    assert "animate (seconds of audio)" in out.stderr  # the bar was drawn
    assert line.rsplit("\r", 1)[-1].startswith("WARNING uniflg.audio_file: "), repr(line)


def _mp3_without_length_header(path: Path, seconds: float, vbr: bool) -> Path:
    """An MP3 as `ffmpeg -write_xing 0` writes it: no Xing/Info header, so nothing in the file gives its length."""
    from uniflg.ffmpeg import ffmpeg_exe

    quality = ["-q:a", "2"] if vbr else ["-b:a", "128k"]  # noise makes the VBR encoder's bit rate vary
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:a=0.3",
                    "-ar", "44100", *quality, "-write_xing", "0", str(path)], check=True)
    return path


def test_a_vbr_mp3_without_a_length_header_is_read_whole(tmp_path: Path, caplog, monkeypatch) -> None:
    """libsndfile estimates such a file's length from its first frame's bit rate and stops there: 10 s of VBR MP3
    were read as 3.6 s, without a word (found while checking cut-off MP3s). Now ffmpeg's frame walk gives the real
    length, and a file libsndfile would read short is decoded by ffmpeg into a temporary file, removed on close;
    a constant-bit-rate file, whose estimate is right, is read by libsndfile as before."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the decoded copy goes
    vbr = _mp3_without_length_header(tmp_path / "vbr.mp3", 10, vbr=True)
    assert sf.info(str(vbr)).duration < 7  # what libsndfile alone makes of it
    with caplog.at_level(logging.INFO, logger="uniflg.audio_file"), open_audio(vbr) as f:
        assert f.seconds == pytest.approx(10.0, abs=0.1)
        assert sum(b.size for b in f.blocks(2.0)) == f.frames
        # the decoded copy: unlinked while open on POSIX (a killed process leaves nothing), else removed on close
        assert (f._temporary is None) == (os.name == "posix")
        assert [p.suffix for p in scratch.iterdir()] == ([] if os.name == "posix" else [".flac"])
    assert "libsndfile would read only" in caplog.text and "of its 10.0" in caplog.text
    cbr = _mp3_without_length_header(tmp_path / "cbr.mp3", 10, vbr=False)
    with open_audio(cbr) as f:
        assert f._temporary is None and f.seconds == pytest.approx(10.0, abs=0.1)
    with pytest.raises(LimitExceededError, match=r"vbr.mp3 is 10 s long; at most 5 s per file"):
        open_audio(vbr, max_seconds=5.0)
    assert not list(scratch.iterdir())  # nothing left behind, also when the limit refused the file


def test_a_file_that_cannot_be_replaced_leaves_every_earlier_file(tmp_path) -> None:
    """Files move into place one rename each: when a later one could not be replaced (here a folder put in its
    place while the run worked), the earlier ones had already been replaced, and the folder mixed two results
    (review 21). Now the earlier files come back, and the error names the file, not its hidden temporary name."""
    from uniflg.outputs import staged_outputs

    for name in ("speech.wav", "landmarks.npy", "preview.mp4"):
        (tmp_path / name).write_text(f"earlier {name}")
    names = ("speech.wav", "landmarks.npy", "preview.mp4")
    with pytest.raises(OSError) as info, staged_outputs(tmp_path, names) as out:
        out.path("speech.wav").write_text("new speech")
        out.path("landmarks.npy").write_text("new landmarks")
        (tmp_path / "landmarks.npy").unlink()  # meanwhile, a folder takes the second name
        (tmp_path / "landmarks.npy").mkdir()
        (tmp_path / "landmarks.npy" / "x").write_text("x")
    assert str(info.value).startswith("[Errno") and "cannot replace landmarks.npy" in str(info.value)
    assert info.value.filename == str(tmp_path / "landmarks.npy")
    assert (tmp_path / "speech.wav").read_text() == "earlier speech.wav"  # put back
    assert (tmp_path / "preview.mp4").read_text() == "earlier preview.mp4"  # not removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landmarks.npy", "preview.mp4", "speech.wav"]


def test_a_successful_commit_replaces_every_file_and_leaves_no_hidden_one(tmp_path) -> None:
    from uniflg.outputs import staged_outputs

    for name in ("speech.wav", "landmarks.npy", "preview.mp4"):
        (tmp_path / name).write_text(f"earlier {name}")
    with staged_outputs(tmp_path, ("speech.wav", "landmarks.npy", "preview.mp4")) as out:
        out.path("speech.wav").write_text("new speech")
        out.path("landmarks.npy").write_text("new landmarks")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landmarks.npy", "speech.wav"]  # the old preview goes
    assert (tmp_path / "speech.wav").read_text() == "new speech"
    assert (tmp_path / "landmarks.npy").read_text() == "new landmarks"
