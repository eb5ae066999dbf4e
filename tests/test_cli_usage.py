"""The ``uniflg`` command line meets bad input early and in one line.

- usage errors of every subcommand: ``uniflg X: error: ... (see uniflg X --help)``, no usage block, exit 2;
- ``uniflg serve``: the addresses (gRPC bind, OSC/VMC/Live Link targets) are checked before tokens, files and limits;
- request options that voice.json and ``uniflg.limits`` can check (speaker, emotion, speed) are refused before the
  voice loads, in ``speak``, ``animate`` and ``live``.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from process_helpers import terminal_signals
from uniflg.voice_spec import DEFAULT_VOICE_DIR, VOICE_FILE

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("sdk", "training", "engine_bridge",
                                                                              "engine_bridge/generated"))}
needs_default_voice = pytest.mark.skipif(not (DEFAULT_VOICE_DIR / VOICE_FILE).is_file(), reason="no embedded voice")
LOADED = "voice default on"  # uniflg.voice.load_voice's INFO line: the model was loaded


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """``uniflg ARGV`` in this process, which must stop at the parser with exit 2 -> its stderr."""
    from uniflg.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(("argv", "prog", "said"), [
    (["speak"], "uniflg speak", "the following arguments are required: text, -o/--output"),
    (["speak", "hi", "-o", "x", "--speed", "fast"], "uniflg speak", "argument --speed: invalid float value: 'fast'"),
    (["animate", "a.wav", "-o", "x", "--seed", "-1"], "uniflg animate", "argument --seed: must be from 0"),
    (["serve", "--bogus"], "uniflg serve", "unrecognized arguments: --bogus"),
    (["live", "--backend", "gpu"], "uniflg live", "argument --backend: invalid choice: 'gpu'"),
    (["train", "nosuch"], "uniflg train", "argument STAGE: invalid choice: 'nosuch'"),
    (["corpus", "make"], "uniflg corpus make", "the following arguments are required: --out"),
    (["export"], "uniflg export", "the following arguments are required: -o/--output"),
    (["nosuch"], "uniflg", "argument COMMAND: invalid choice: 'nosuch'"),
    # an empty path would be the current folder: refused wherever a path is asked for
    (["corpus", "make", "--out", ""], "uniflg corpus make", "argument --out: an empty path"),
    (["corpus", "merge", "a", " ", "--out", "m"], "uniflg corpus merge", "argument CORPUS: an empty path"),
    (["train", "vits", "--data", "d", "--out", ""], "uniflg train vits", "argument --out: an empty path"),
    (["export", "-o", "", "--voice", "v"], "uniflg export", "argument -o/--output: an empty path"),
    (["speak", "hi", "-o", ""], "uniflg speak", "argument -o/--output: an empty path"),
    (["serve", "--voice", ""], "uniflg serve", "argument --voice: an empty path"),
    (["preprocess", "--data", "d", "--jobs", "0"], "uniflg preprocess", "argument --jobs: must be from 1 to 256"),
    (["serve", "--blink-seed", "-1"], "uniflg serve", "argument --blink-seed: must be from 0 to 2**64-1; got -1"),
    # a text that starts with '-' is taken for an option: the line says how to pass it
    (["speak", "-o", "x", "-5度です"], "uniflg speak", "the following arguments are required: text (text that starts "
                                                       "with '-' goes after --, e.g. -- \"-5度です\")"),
])
def test_usage_errors_are_one_line_naming_the_command_and_its_help(capsys, argv, prog, said) -> None:
    err = usage_error(capsys, *argv)
    assert err.count("\n") == 1 and "usage:" not in err, err
    assert err.startswith(f"{prog}: error: {said}"), err
    assert err.rstrip().endswith(f"(see {prog} --help)"), err


def test_usage_error_from_the_installed_command_line() -> None:
    out = subprocess.run([sys.executable, "-m", "uniflg.cli", "info", "--jsn"], env=ENV, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "uniflg info: error: unrecognized arguments: --jsn (see uniflg info --help)\n"


# ---------------------------------------------------------------- uniflg serve: addresses first

def serve(caplog: pytest.LogCaptureFixture, *argv: str) -> tuple[int, list[str]]:
    """``uniflg serve ARGV`` in this process (no token in the environment) -> (exit code, WARNING+ lines). Without
    --grpc it listens on a free port: a server on the default 50051 would change which check fails first."""
    from uniflg.cli import main

    bind = [] if "--grpc" in argv else ["--grpc", "127.0.0.1:0"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        code = main(["serve", *bind, *argv])
    return code, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture()
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIFLG_TOKEN", raising=False)


def test_serve_reports_an_unresolvable_bind_before_the_missing_token(caplog, no_env_token) -> None:
    code, lines = serve(caplog, "--grpc", "nosuch.invalid:50051")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("--grpc nosuch.invalid:50051: cannot resolve 'nosuch.invalid'"), lines


def test_serve_reports_a_taken_public_port_before_the_missing_token(caplog, no_env_token) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, lines = serve(caplog, "--grpc", f"0.0.0.0:{port}")
    assert code == 2 and lines == [f"--grpc 0.0.0.0:{port}: cannot listen there (Address already in use)"], lines


def test_serve_restarts_on_a_port_its_last_run_left_in_time_wait(caplog, no_env_token) -> None:
    # a server that closed its side of a connection first leaves the port in TIME-WAIT for about a minute; the gRPC
    # server binds with SO_REUSEADDR there, so the start-up check must not call the port taken
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the gRPC server's listener
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            accepted.close()  # the server side closes first: its end enters TIME-WAIT
            client.recv(1)
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("0.0.0.0", port))  # the state the restart meets (else this test would prove nothing)
    code, lines = serve(caplog, "--grpc", f"0.0.0.0:{port}")
    assert code == 2 and len(lines) == 1 and "cannot listen" not in lines[0] and "token" in lines[0], lines


@pytest.mark.parametrize(("argv", "said"), [
    (["--grpc", "0.0.0.0:0", "--osc", "nosuch.invalid:9000"], "--osc nosuch.invalid:9000: cannot resolve host"),
    (["--grpc", "0.0.0.0:0", "--vmc", ":70000"], "--vmc :70000: the port in ':70000' is outside 1..65535"),
    (["--token-file", "/nonexistent/token", "--livelink", "host:port"],
     "--livelink host:port: the port in 'host:port' is not a number"),
    (["--tls-cert", "/nonexistent/cert.pem", "--udp-max-datagram", "100"],
     "--udp-max-datagram must be within [576, 65507] bytes, got 100"),
])
def test_serve_reports_bad_udp_targets_before_token_and_files(caplog, no_env_token, argv, said) -> None:
    code, lines = serve(caplog, *argv)
    assert code == 2 and len(lines) == 1 and lines[0].startswith(said), lines


@pytest.mark.parametrize("option, value", [("--max-text-chars", "0"), ("--queue-wait", "nan"),
                                           ("--idle-timeout", "inf"), ("--grace", "-2.5"), ("--max-streams", "0")])
def test_serve_refuses_a_limit_that_is_zero_negative_or_not_finite(caplog, option, value) -> None:
    code, lines = serve(caplog, "--grpc", "127.0.0.1:0", option, value)
    assert code == 2 and lines == ["limits must be finite and positive (--queue, --queue-wait and --grace may be "
                                   f"0); got {option} {value}"], lines


def test_serve_reports_a_broken_voice_folder_before_loading(caplog, tmp_path) -> None:
    code, lines = serve(caplog, "--grpc", "127.0.0.1:0", "--voice", str(tmp_path))
    assert code == 2 and lines == [f"not a voice folder (no voice.json): {tmp_path}"], lines


# ---------------------------------------------------------------- request options before the voice loads

def run(caplog: pytest.LogCaptureFixture, *argv: str) -> tuple[int, list[str]]:
    """``uniflg ARGV`` in this process -> (exit code, every INFO+ line)."""
    from uniflg.cli import main

    caplog.clear()
    with caplog.at_level(logging.INFO):
        code = main(list(argv))
    return code, [r.getMessage() for r in caplog.records]


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import numpy as np
    from uniflg.outputs import write_wav

    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    t = np.arange(16000) / 16000
    write_wav(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return path


REFUSED = [
    (["--speaker", "nosuch"], "unknown speaker 'nosuch'; available: mei, low, bright, soft"),
    (["--emotion", "angry"], "unknown emotion 'angry'; available: normal, happy, sad"),
]


@needs_default_voice
@pytest.mark.parametrize(("options", "said"), [
    *REFUSED, (["--speed", "99"], "speed must be a finite number within [0.25, 4]; got 99.0"),
    (["--speed", "nan"], "speed must be a finite number within [0.25, 4]; got nan")])
def test_speak_refuses_options_before_the_voice_loads(caplog, tmp_path, options, said) -> None:
    code, lines = run(caplog, "speak", "こんにちは", "-o", str(tmp_path / "out"), *options)
    assert code == 2 and lines[-1] == said, lines
    assert not any(LOADED in line for line in lines), lines


@needs_default_voice
@pytest.mark.parametrize(("options", "said"), REFUSED)
def test_animate_refuses_options_before_the_voice_loads(caplog, tmp_path, speech_wav, options, said) -> None:
    code, lines = run(caplog, "animate", str(speech_wav), "-o", str(tmp_path / "out"), *options)
    assert code == 2 and lines[-1] == said, lines
    assert not any(LOADED in line for line in lines), lines


@needs_default_voice
def test_eval_blendshapes_refuses_an_unknown_emotion_before_the_voice_loads(caplog) -> None:
    pytest.importorskip("torch")  # the evaluation commands come with the train extra
    code, lines = run(caplog, "eval-blendshapes", "--emotion", "angry")
    assert code == 2 and lines[-1] == "unknown emotion 'angry'; available: normal, happy, sad", lines
    assert not any(LOADED in line for line in lines), lines


@needs_default_voice
def test_animate_refuses_too_short_audio_from_its_header_in_the_files_own_terms(caplog, tmp_path) -> None:
    import soundfile as sf

    short = tmp_path / "short.wav"
    sf.write(short, np.full(800, 0.01, np.float32), 48000)  # 16.7 ms: 400 samples once at the voice's 24 kHz
    code, lines = run(caplog, "animate", str(short), "-o", str(tmp_path / "out"))
    assert code == 2 and lines[-1] == (f"audio too short to animate: {short} holds 16.67 ms; need at least 21.33 ms "
                                       "(two spectrogram hops)"), lines
    assert not any(LOADED in line for line in lines), lines


@needs_default_voice
@pytest.mark.parametrize(("options", "said"), [
    *REFUSED, (["--max-lookahead-ms", "0"], "--max-lookahead-ms must be above 0 ms; got 0.0"),
    (["--max-lookahead-ms", "100"], "no speech path of voice 'default' needs at most 100 ms of look-ahead; it has: "
                                    "live250 250 ms and the offline path, which needs more"),
    (["--osc", "nosuch.invalid:9000"], "--osc nosuch.invalid:9000: cannot resolve host 'nosuch.invalid'"),
    (["--vmc", "127.0.0.1:0"], "--vmc 127.0.0.1:0: the port in '127.0.0.1:0' is outside 1..65535")])
def test_live_refuses_options_and_targets_before_the_voice_loads(caplog, speech_wav, options, said) -> None:
    code, lines = run(caplog, "live", "--input", str(speech_wav), "--quiet", *options)
    assert code == 2 and lines[-1].startswith(said), lines
    assert not any(LOADED in line for line in lines), lines


@needs_default_voice
def test_speak_with_accepted_options_still_loads_and_speaks(caplog, tmp_path) -> None:
    code, lines = run(caplog, "speak", "はい", "-o", str(tmp_path / "out"), "--speaker", "low", "--emotion", "sad",
                      "--speed", "1.5", "--no-preview")
    assert code == 0 and any(LOADED in line for line in lines), lines
    assert (tmp_path / "out" / "speech.wav").stat().st_size > 1000


@pytest.mark.parametrize(("options", "said"), [
    (["--seconds", "-1"], "--seconds must be above 0 and at most 600; got -1.0"),
    (["--repeats", "0"], "--repeats must be 1 or more; got 0"),
    (["--stream-seconds", "5,nan"], "--stream-seconds takes seconds from 1 to 3600; got '5,nan'"),
    (["--stream-seconds", ","], "--stream-seconds names no length; give a comma list of seconds (e.g. 5,300); got ','"),
    (["--backends", "onnxruntime,foo"], "unknown backend 'foo'; available: all, torch, onnxruntime, tensorrt"),
])
def test_bench_refuses_options_before_any_voice_loads(caplog, tmp_path, options, said) -> None:
    code, lines = run(caplog, "bench", "--models", "default,tiny", "--cache", str(tmp_path), *options)
    assert code == 2 and lines == [said], lines
    assert not any(tmp_path.iterdir())  # no random benchmark voice was written either


def test_ctrl_c_while_the_commands_import_is_one_line_and_130() -> None:
    """Ctrl-C while the parser is built from the command modules (the first half second) printed a
    KeyboardInterrupt traceback; later it was one line and 130. Now it is the same whenever it comes."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "uniflg.cli", "live", "--input", "-", "--rate", "16000"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                            preexec_fn=terminal_signals)
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.time() + 30
    # numpy is first mapped while the command modules import (uniflg.cli and uniflg itself import no numpy)
    while time.time() < deadline and proc.poll() is None and b"numpy" not in maps.read_bytes():
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Traceback" not in err, err.decode()[-1500:]
    assert err.decode().strip().splitlines()[-1] == "WARNING uniflg: interrupted"


@needs_default_voice
def test_text_of_emoji_only_is_one_line(caplog, tmp_path) -> None:
    code, lines = run(caplog, "speak", "😀 ♪", "-o", str(tmp_path / "o"), "--no-preview")
    assert code == 2 and lines == ["nothing speakable: only '😀' (U+1F600) '♪' (U+266A)"], lines


def test_help_shows_no_empty_defaults(capsys) -> None:
    """`(default: [])` after the repeatable --osc and `(default: )` after --stream-seconds (review 21): an empty
    default means none, and is not printed; a meaningful one still is."""
    from uniflg.cli import main

    for argv in (["serve", "--help"], ["bench", "--help"], ["speak", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert "(default: [])" not in text and "(default: )" not in text, argv
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "default: default,paper" in " ".join(capsys.readouterr().out.split())


_PRINTS_UNTIL_STOPPED = """
import signal, sys
from uniflg.cli import end_quietly_when_reader_goes
end_quietly_when_reader_goes()
if sys.argv[1] == "no-sigpipe":  # as where none comes (Windows, or a runtime that turns it into EPIPE)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
for i in range(10**7):
    print("line", i)
"""


@pytest.mark.parametrize("case", ["sigpipe", "no-sigpipe"])
def test_a_printout_ends_quietly_when_its_reader_goes(case: str) -> None:
    """end_quietly_when_reader_goes: killed by SIGPIPE where it comes, else status 141 from the BrokenPipeError,
    and in both cases nothing on stderr (no traceback, no 'Exception ignored' from the exit flush)."""
    proc = subprocess.Popen([sys.executable, "-c", _PRINTS_UNTIL_STOPPED, case], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (-13 if case == "sigpipe" else 141) and err == b"", err
