"""examples/grpc_client.py and ``python -m uniflg_bridge.loadtest`` as a new user runs them (subprocesses, real
servers on real ports, real TLS): bad options and output paths are one line before anything is sent, connection
options go before or after the subcommand, a protected server gets its token (and certificates), and a successful
run leaves complete files only."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from bridge_server import running_server
from process_helpers import run_measured

ROOT = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k not in ("UNIFLG_TOKEN", "GRPC_VERBOSITY")}  # as a new user
ENV["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("sdk", "training", "engine_bridge",
                                                            "engine_bridge/generated"))
TOKEN = "s3cret-for-the-tools"
CLIENT = "grpc_client.py"
LOADTEST = "python -m uniflg_bridge.loadtest"


def client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "examples" / CLIENT), *args], env=ENV, capture_output=True,
                          text=True, timeout=60)


def loadtest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "uniflg_bridge.loadtest", *args], env=ENV, capture_output=True,
                          text=True, timeout=60)


def one_line(done: subprocess.CompletedProcess[str], code: int, line: str) -> None:
    """Exit ``code`` and exactly ``line`` on stderr (no traceback, nothing else)."""
    assert (done.returncode, done.stderr) == (code, line + "\n"), (done.returncode, done.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def plain(voice: Any) -> Iterator[str]:
    with running_server(voice) as server:
        yield f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def protected(voice: Any) -> Iterator[str]:
    with running_server(voice, token=TOKEN) as server:
        yield f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    return path


# ---------------------------------------------------------------- grpc_client.py: refused before sending

def test_empty_paths_are_refused() -> None:
    one_line(client("synthesize", "はい", "-o", ""), 2,
             f"{CLIENT} synthesize: error: argument -o/--out: an empty path: give a file or folder name "
             f"(see {CLIENT} synthesize --help)")
    one_line(client("animate", ""), 2,
             f"{CLIENT} animate: error: argument audio: an empty path: give a file or folder name "
             f"(see {CLIENT} animate --help)")


def test_text_that_is_empty_or_not_utf8_is_refused_before_connecting(tmp_path) -> None:
    """A byte that is not UTF-8 in the argument failed in protobuf as "surrogates not allowed" (review 18)."""
    nowhere = ["--address", f"127.0.0.1:{free_port()}", "-o", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, str(ROOT / "examples" / CLIENT), "synthesize", b"abc\xe3def", *nowhere],
                          env=ENV, capture_output=True, text=True, timeout=60)
    one_line(done, 2, "error: the text is not valid UTF-8 (bytes or lone surrogates: 0xE3); give UTF-8 text")
    one_line(client("synthesize", "   ", *nowhere), 2, "error: text is empty")


def test_out_that_cannot_be_a_folder_is_refused_before_connecting(tmp_path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    nowhere = ["--address", f"127.0.0.1:{free_port()}", "--connect-timeout", "30"]  # no wait: nothing is sent
    one_line(client(*nowhere, "synthesize", "はい", "-o", str(afile)), 2,
             f"error: output {afile} is an existing file; -o needs a folder there (it is created if missing)")
    one_line(client(*nowhere, "synthesize", "はい", "-o", str(afile / "sub")), 2,
             f"error: cannot write to output folder {afile / 'sub'}: {afile} is a file, not a folder")
    assert afile.read_text() == "keep me"


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_connect_timeout_must_be_positive_and_finite(value: str) -> None:
    reason = f"argument --connect-timeout: must be a finite number of seconds above 0; got {value}"
    one_line(client(f"--connect-timeout={value}", "synthesize", "はい"), 2,
             f"{CLIENT}: error: {reason} (see {CLIENT} --help)")
    one_line(client("synthesize", "はい", f"--connect-timeout={value}"), 2,
             f"{CLIENT} synthesize: error: {reason} (see {CLIENT} synthesize --help)")


def test_connection_options_go_before_or_after_the_subcommand(tmp_path) -> None:
    port = free_port()
    unreachable = (f"error: cannot reach a server at 127.0.0.1:{port} within 1 s (is `uniflg serve` running there? "
                   "check --address HOST:PORT; a TLS server needs --tls-ca)")
    out = ["-o", str(tmp_path / "out")]
    one_line(client("synthesize", "はい", "--connect-timeout", "1", "--address", f"127.0.0.1:{port}", *out), 1,
             unreachable)
    # given before, and not reset to the defaults by the subcommand's copies of the options
    one_line(client("--connect-timeout", "1", "--address", f"127.0.0.1:{port}", "synthesize", "はい", *out), 1,
             unreachable)
    one_line(client("--connect-timeout", "1", "synthesize", "はい", "--address", f"127.0.0.1:{port}", *out), 1,
             unreachable)
    assert not (tmp_path / "out").exists()  # a failed run creates no folder


# ---------------------------------------------------------------- grpc_client.py: a real server

def test_a_successful_run_writes_complete_files(plain, tmp_path) -> None:
    out = tmp_path / "new" / "grpc"  # a folder that does not exist yet
    done = client("synthesize", "はい", "-o", str(out), "--address", plain)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert f"wrote {out / 'speech.wav'} and {out / 'landmarks.npy'}" in done.stdout
    audio, rate = sf.read(out / "speech.wav", dtype="int16")
    frames = np.load(out / "landmarks.npy")
    assert audio.size > 0 and frames.shape[1:] == (70, 2) and frames.shape[0] > 0
    done = client("animate", str(out / "speech.wav"), "-o", str(out), "--address", plain)
    assert done.returncode == 0, done.stderr
    assert np.load(out / "animated.npy").shape[1:] == (70, 2)
    assert sorted(p.name for p in out.iterdir()) == ["animated.npy", "landmarks.npy", "speech.wav"]  # no temporaries
    for left_by_speak in ("landmarks.json", "preview.mp4"):  # `uniflg speak -o` the same folder wrote these
        (out / left_by_speak).write_bytes(b"another utterance")
    done = client("synthesize", "いいえ", "-o", str(out), "--address", plain)  # another utterance
    assert done.returncode == 0, done.stderr
    # no animated.npy, landmarks.json or preview.mp4 of an earlier utterance stays beside the new speech
    assert sorted(p.name for p in out.iterdir()) == ["landmarks.npy", "speech.wav"]


def test_a_file_longer_than_the_server_takes_is_refused_before_upload(plain, tmp_path) -> None:
    """A sparse 12-hour WAV was decoded and uploaded until the server refused it (review 18): a file beyond the
    4-hour cap is refused from its header before connecting, and one beyond the server's limit (GetInfo) before
    its upload."""
    import struct
    import time

    sparse, rate = tmp_path / "long.wav", 24000
    frames = rate * 3600 * 12
    with open(sparse, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", 36 + 2 * frames) + b"WAVEfmt " + struct.pack(
            "<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16) + b"data" + struct.pack("<I", 2 * frames))
        fh.truncate(44 + 2 * frames)
    start = time.monotonic()
    one_line(client("animate", str(sparse), "-o", str(tmp_path / "out"), "--address", plain), 2,
             f"error: {sparse} is 12.0 h long; this client reads at most 4 h per file: split the file")
    assert time.monotonic() - start < 20
    longer = tmp_path / "400s.wav"
    sf.write(longer, np.zeros(8000 * 400, np.int16), 8000, subtype="PCM_16")
    one_line(client("animate", str(longer), "-o", str(tmp_path / "out"), "--address", plain), 1,
             f"error: {longer} is 400.0 s long; the server takes at most 300 s of audio per call (GetInfo "
             "limits.max_audio_seconds): split the file")
    assert not (tmp_path / "out").exists()


def test_a_long_file_is_refused_without_holding_it_in_memory(plain, tmp_path) -> None:
    """An hour of 48 kHz stereo (under the client's 4-hour cap, over the server's 300 s) was decoded whole before
    the server's limit was asked: 2.2 GB resident (review 21). Now it is checked block by block and refused from its
    length; the client's peak memory stays that of an idle client."""
    import struct

    sparse, rate, channels = tmp_path / "hour.wav", 48000, 2
    frames = rate * 3600
    with open(sparse, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", 36 + 4 * frames) + b"WAVEfmt " + struct.pack(
            "<IHHIIHH", 16, 1, channels, rate, 4 * rate, 4, 16) + b"data" + struct.pack("<I", 4 * frames))
        fh.truncate(44 + 4 * frames)
    code, _, stderr, peak_mb = run_measured([sys.executable, str(ROOT / "examples" / CLIENT), "animate", str(sparse),
                                             "-o", str(tmp_path / "out"), "--address", plain], ENV, timeout=120)
    assert (code, stderr) == (1, f"error: {sparse} is 3,600.0 s long; the server takes at most 300 s of audio per "
                                 "call (GetInfo limits.max_audio_seconds): split the file\n")
    assert peak_mb < 400, f"peak {peak_mb:.0f} MB"  # decoded whole: 2,200 MB
    assert not (tmp_path / "out").exists()


def test_timeout_bounds_the_whole_call(plain, tmp_path) -> None:
    """--timeout replaces a fixed 120 s deadline that failed every call longer than 2 minutes on a server driving
    an avatar in real time (review 21)."""
    one_line(client("synthesize", "はい", "--timeout", "0"), 2,
             f"{CLIENT} synthesize: error: argument --timeout: must be a finite number of seconds above 0; got 0 "
             f"(see {CLIENT} synthesize --help)")
    done = client("synthesize", "はい", "--timeout", "0.001", "-o", str(tmp_path / "out"), "--address", plain)
    assert done.returncode == 1 and done.stderr.startswith("error: the server answered DEADLINE_EXCEEDED"), done.stderr
    assert not (tmp_path / "out").exists()


def test_token_protected_server(protected, token_file, tmp_path) -> None:
    out = tmp_path / "out"
    one_line(client("--address", protected, "synthesize", "はい", "-o", str(out)), 1,
             "error: the server answered UNAUTHENTICATED: missing 'authorization: Bearer <token>' metadata")
    assert not out.exists()
    done = client("synthesize", "はい", "-o", str(out), "--address", protected, "--token-file", str(token_file))
    assert done.returncode == 0, done.stderr
    assert (out / "speech.wav").is_file() and (out / "landmarks.npy").is_file()


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grpc_client_example", ROOT / "examples" / CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_interrupted_write_leaves_the_old_files_and_no_partial_one(tmp_path) -> None:
    example = load_example()
    (tmp_path / "speech.wav").write_bytes(b"the previous run")

    def interrupted(fh: Any) -> None:
        fh.write(b"RIFF" + b"\0" * 100)  # a WAV header's start, then Ctrl-C
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        example.write_files(tmp_path, {"landmarks.npy": lambda fh: np.save(fh, np.zeros((2, 70, 2))),
                                       "speech.wav": interrupted})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav"]  # landmarks.npy not renamed either
    assert (tmp_path / "speech.wav").read_bytes() == b"the previous run"


def test_a_full_disk_is_one_line_and_leaves_nothing(plain, small_tmpfs) -> None:
    """libsndfile wrote speech.wav itself and a full disk ended in an AssertionError traceback; NumPy said "5740
    requested and 3040 written" (review 18). Now both are encoded in memory and a full disk is one line."""
    out = small_tmpfs(64) / "g"
    text = (ROOT / "tests" / "data" / "long_ja.txt").read_text(encoding="utf-8")[:300]
    done = client("synthesize", text, "-o", str(out), "--address", plain)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: cannot write to {out}: No space left on device"), done.stderr
    assert not out.exists() or not any(out.iterdir())


# ---------------------------------------------------------------- grpc_client.py: TLS

@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Self-signed server ("localhost") and client certificates, each its own CA."""
    folder = tmp_path_factory.mktemp("pki")
    for name in ("server", "client"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem")],
                       check=True, capture_output=True)
    return {p.name: p for p in folder.iterdir()}


def test_mutual_tls_with_a_token(voice, pki, token_file, tmp_path) -> None:
    with running_server(voice, token=TOKEN, tls_cert=pki["server.pem"].read_bytes(),
                        tls_key=pki["server.key"].read_bytes(),
                        tls_client_ca=pki["client.pem"].read_bytes()) as server:
        address = f"127.0.0.1:{server.port}"  # an IP: the certificate's name comes from --tls-server-name
        tls = ["--address", address, "--tls-ca", str(pki["server.pem"]), "--tls-server-name", "localhost"]
        mine = ["--tls-cert", str(pki["client.pem"]), "--tls-key", str(pki["client.key"])]
        done = client(*tls, "synthesize", "はい", "-o", str(tmp_path), *mine, "--token-file", str(token_file))
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "speech.wav").is_file()
        one_line(client(*tls, *mine, "synthesize", "はい", "-o", str(tmp_path)), 1,
                 "error: the server answered UNAUTHENTICATED: missing 'authorization: Bearer <token>' metadata")
        unreachable = (f"error: cannot reach a server at {address} within 1 s (is `uniflg serve` running there with "
                       "TLS? --tls-ca must hold its certificate, the name in it match --address or --tls-server-name, "
                       "and a server that asks for client certificates needs --tls-cert/--tls-key)")
        # the handshake fails on the server's side (no client certificate) or on ours (a CA that did not sign the
        # server's): one line each, without gRPC core's INFO lines about the handshake
        one_line(client(*tls, "--connect-timeout", "1", "synthesize", "はい", "-o", str(tmp_path)), 1, unreachable)
        wrong_ca = ["--address", address, "--tls-ca", str(pki["client.pem"]), "--tls-server-name", "localhost"]
        one_line(client(*wrong_ca, *mine, "--connect-timeout", "1", "synthesize", "はい", "-o", str(tmp_path)), 1,
                 unreachable)
    one_line(client("--tls-cert", str(pki["client.pem"]), "synthesize", "はい"), 2,
             "error: a client certificate needs both --tls-cert and --tls-key")
    one_line(client("--tls-ca", str(token_file), "synthesize", "はい"), 2,
             f"error: --tls-ca {token_file}: not a PEM file (no -----BEGIN line)")


# ---------------------------------------------------------------- loadtest

def test_ctrl_c_during_a_loadtest_burst_is_quiet() -> None:
    """Ctrl-C while 200 streams ran on the in-process server printed dozens of tracebacks: the pool was shut down
    before the cancelled calls' cleanup ran ("cannot schedule new futures after shutdown"), and a reader that
    failed as its call ended was never retrieved (review 18)."""
    import signal
    import time

    from process_helpers import terminal_signals

    proc = subprocess.Popen([sys.executable, "-m", "uniflg_bridge.loadtest", "--streams", "200"], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=terminal_signals)
    maps, deadline = Path(f"/proc/{proc.pid}/maps"), time.time() + 60
    while time.time() < deadline and proc.poll() is None and "onnxruntime" not in maps.read_text(errors="replace"):
        time.sleep(0.05)  # the voice is loading
    time.sleep(1.5)  # the server is up and the burst's streams are open
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and "never retrieved" not in err, err[-2000:]


def test_loadtest_unreachable_target_is_one_line() -> None:
    port = free_port()
    one_line(loadtest("--target", f"127.0.0.1:{port}", "--connect-timeout", "1"), 1,
             f"error: cannot reach a server at 127.0.0.1:{port} within 1 s (is `uniflg serve` running there? "
             "check --target HOST:PORT; a TLS server needs --tls-ca)")


def test_loadtest_against_a_token_protected_server(protected, token_file) -> None:
    run = ["--target", protected, "--streams", "2", "--animate-seconds", "0.5"]
    hint = "(give the server's token: --token or --token-file)"
    one_line(loadtest(*run), 1, f"error: the server at {protected} answered GetInfo with UNAUTHENTICATED: missing "
                                f"'authorization: Bearer <token>' metadata {hint}")
    one_line(loadtest(*run, "--token", "wrong"), 1,
             f"error: the server at {protected} answered GetInfo with UNAUTHENTICATED: invalid bearer token {hint}")
    for given in (["--token", TOKEN], ["--token-file", str(token_file)]):
        done = loadtest(*run, *given)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["outcomes"] == {"ok": 2}


def test_loadtest_over_mutual_tls_with_a_token(voice, pki, token_file) -> None:
    with running_server(voice, token=TOKEN, tls_cert=pki["server.pem"].read_bytes(),
                        tls_key=pki["server.key"].read_bytes(),
                        tls_client_ca=pki["client.pem"].read_bytes()) as server:
        target = f"127.0.0.1:{server.port}"
        run = ["--target", target, "--streams", "2", "--animate-seconds", "0.5", "--connect-timeout", "2"]
        tls = ["--tls-ca", str(pki["server.pem"]), "--tls-server-name", "localhost"]
        mine = ["--tls-cert", str(pki["client.pem"]), "--tls-key", str(pki["client.key"])]
        done = loadtest(*run, *tls, *mine, "--token-file", str(token_file))
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["outcomes"] == {"ok": 2} and report["max_concurrent_streams"] >= 1
        one_line(loadtest(*run, *tls, *mine), 1,
                 f"error: the server at {target} answered GetInfo with UNAUTHENTICATED: missing 'authorization: "
                 "Bearer <token>' metadata (give the server's token: --token or --token-file)")
        plaintext = "is `uniflg serve` running there? check --target HOST:PORT; a TLS server needs --tls-ca"
        no_client_certificate = ("is `uniflg serve` running there with TLS? --tls-ca must hold its certificate, the "
                                 "name in it match --target or --tls-server-name, and a server that asks for client "
                                 "certificates needs --tls-cert/--tls-key")
        for given, hint in (([], plaintext), (tls, no_client_certificate)):  # the handshake fails
            one_line(loadtest(*run, *given, "--token-file", str(token_file)), 1,
                     f"error: cannot reach a server at {target} within 2 s ({hint})")


@pytest.mark.parametrize(("argv", "reason"), [
    (["--tls-ca", "PEM"], "--tls-* options need --target: the in-process server is plaintext on loopback"),
    (["--target", "127.0.0.1:1", "--tls-cert", "PEM"], "a client certificate needs both --tls-cert and --tls-key"),
    (["--target", "127.0.0.1:1", "--tls-server-name", "localhost"],
     "--tls-server-name needs TLS: add --tls-ca (or --tls-cert/--tls-key)"),
    (["--target", "127.0.0.1:1", "--tls-ca", "TOKEN"], "--tls-ca TOKEN: not a PEM file (no -----BEGIN line)"),
])
def test_loadtest_tls_options_are_checked_before_connecting(capsys, pki, token_file, argv, reason) -> None:
    from uniflg_bridge.loadtest import main

    files = {"PEM": str(pki["client.pem"]), "TOKEN": str(token_file)}
    with pytest.raises(SystemExit) as exit_:
        main([files.get(a, a) for a in argv])
    assert exit_.value.code == 2
    reason = reason.replace("TOKEN", str(token_file))
    assert capsys.readouterr().err == f"{LOADTEST}: error: {reason} (see {LOADTEST} --help)\n"


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--streams", "0", "must be from 1 to 10_000; got 0"),
    ("--concurrency", "-3", "must be from 1 to 10_000; got -3"),
    ("--pid", "0", "must be from 1 to 4_194_304; got 0"),
    ("--animate-seconds", "0", "must be a finite number from 0.1 to 3600; got 0"),
    ("--duration", "-1", "must be a finite number from 0 to 604800; got -1"),
    ("--warmup", "nan", "must be a finite number from 0 to 604800; got nan"),
    ("--sample-every", "0", "must be a finite number of seconds above 0; got 0"),
    ("--connect-timeout", "inf", "must be a finite number of seconds above 0; got inf"),
])
def test_loadtest_numeric_options_are_range_checked(capsys, option: str, value: str, reason: str) -> None:
    from uniflg_bridge.loadtest import main

    with pytest.raises(SystemExit) as exit_:
        main([f"{option}={value}"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"{LOADTEST}: error: argument {option}: {reason} (see {LOADTEST} --help)\n"


def test_loadtest_unreadable_token_file(capsys, tmp_path) -> None:
    from uniflg_bridge.loadtest import main

    with pytest.raises(SystemExit) as exit_:
        main(["--target", "127.0.0.1:1", "--token-file", str(tmp_path / "nope")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (f"{LOADTEST}: error: --token-file {tmp_path / 'nope'}: cannot read it "
                                       f"(No such file or directory) (see {LOADTEST} --help)\n")


def test_loadtest_tells_a_status_grpc_aio_lost_from_a_server_error() -> None:
    """grpc.aio (grpc/grpc#36066) turns a refusal of an Animate call that is still uploading into INTERNAL "Internal
    error from Core" without trailers: counted as "status lost", not as a server error that fails the run."""
    import grpc
    from grpc.aio import AioRpcError, Metadata
    from uniflg_bridge.loadtest import STATUS_LOST, StreamResult, _aio_lost_status, summarize

    def error(details: str, trailers: Metadata | None = None) -> AioRpcError:
        return AioRpcError(grpc.StatusCode.INTERNAL, Metadata(), trailers or Metadata(), details=details)

    lost = error("Internal error from Core")
    assert _aio_lost_status("animate", lost, {})
    assert not _aio_lost_status("synthesize", lost, {})  # unary-request calls do not upload
    assert not _aio_lost_status("animate", lost, {"retry-after-ms": "100"})  # trailers came: the status did too
    assert not _aio_lost_status("animate", error("internal error (ValueError); see the server log"), {})
    report = summarize([StreamResult("animate", STATUS_LOST, "Internal error from Core", 0.1, 0.0, 0, 0),
                        StreamResult("animate", "INTERNAL", "internal error (ValueError)", 0.1, 0.0, 0, 0)], 1.0)
    assert report["outcomes"] == {STATUS_LOST: 1, "INTERNAL": 1}
    assert [e["outcome"] for e in report["errors"]] == ["INTERNAL"]


@pytest.mark.parametrize("given", ["127.0.0.1", "[::1]", "npc.example"])
def test_an_address_without_a_port_is_refused(given: str) -> None:
    """`--address 127.0.0.1` was accepted, gRPC tried port 443, and the run said the server could not be reached
    (review 21)."""
    reason = (f"argument --address: {given!r} has no port: give HOST:PORT (uniflg serve listens on 127.0.0.1:50051 "
              "by default)")
    one_line(client("synthesize", "はい", "--address", given), 2,
             f"{CLIENT} synthesize: error: {reason} (see {CLIENT} synthesize --help)")
    one_line(loadtest("--target", given), 2, f"{LOADTEST}: error: argument --target: {reason.split(': ', 1)[1]} "
                                              f"(see {LOADTEST} --help)")


def test_a_host_that_does_not_resolve_is_named(tmp_path) -> None:
    done = client("synthesize", "はい", "--connect-timeout", "1", "--address", "nosuch.invalid:50051",
                  "-o", str(tmp_path / "out"))
    assert done.returncode == 1 and done.stderr.startswith(
        "error: cannot reach a server at nosuch.invalid:50051 within 1 s (cannot resolve the host 'nosuch.invalid'"), \
        done.stderr
    assert done.stderr.rstrip().endswith("check the name in --address)")
