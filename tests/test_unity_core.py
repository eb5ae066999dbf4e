"""The Unity package's UnityEngine-free C# core (engine_bridge/unity/Runtime/Core), compiled with Mono's
``mcs`` and run with ``mono``: golden OSC bytes from our Python encoders, unit checks, and a live loopback
test where the bridge's OSC and VMC senders send to the C# decoder listening on UDP."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from uniflg.retarget import ARKIT_52, VRM0
from uniflg.types import StreamInfo
from uniflg_bridge import osc, vmc, wire
from uniflg_bridge.fanout import FrameEvent, StreamMeta
from uniflg_bridge.udp import MAX_DATAGRAM, Target

ROOT = Path(__file__).resolve().parents[1]
UNITY = ROOT / "engine_bridge" / "unity"
GOLDEN = Path(__file__).parent / "golden"

MCS, MONO = shutil.which("mcs") or "", shutil.which("mono") or ""
needs_mono = pytest.mark.skipif(
    not MCS or not MONO,
    reason="Mono is not installed (needs `mcs` and `mono`: apt-get install mono-mcs mono-runtime)")


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("unity") / "CoreTests.exe"
    sources = sorted((UNITY / "Runtime" / "Core").glob("*.cs")) + [UNITY / "Tests~" / "CoreTests.cs"]
    done = subprocess.run([MCS, "-warnaserror", f"-out:{exe}", *map(str, sources)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return exe


def run(program: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MONO, str(program), *args], capture_output=True, text=True, timeout=120)


def test_core_has_no_unity_dependency() -> None:
    for source in (UNITY / "Runtime" / "Core").glob("*.cs"):
        assert "using UnityEngine" not in source.read_text(encoding="utf-8"), source
    asmdef = json.loads((UNITY / "Runtime" / "Core" / "UniFLG.Face.Core.asmdef").read_text())
    assert asmdef["noEngineReferences"] is True


@needs_mono
def test_runtime_scripts_typecheck_against_unity_stubs(tmp_path: Path) -> None:
    """The MonoBehaviours against empty stand-ins with Unity's signatures (Tests~/UnityStubs.cs): valid C#,
    but not a substitute for opening the package in the Unity editor."""
    sources = (sorted((UNITY / "Runtime").rglob("*.cs")) + sorted((UNITY / "Samples~").rglob("*.cs"))
               + [UNITY / "Tests~" / "UnityStubs.cs"])
    done = subprocess.run([MCS, "-warnaserror", "-target:library", f"-out:{tmp_path / 'Runtime.dll'}",
                           *map(str, sources)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_mono
def test_golden_osc_bytes_decode(program: Path) -> None:
    done = run(program, "golden", str(GOLDEN))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout


@needs_mono
def test_core_unit_checks(program: Path) -> None:
    done = run(program, "unit")
    assert done.returncode == 0, done.stdout + done.stderr


def _listen(program: Path, packets: int, timeout: float = 20) -> tuple[subprocess.Popen[str], int]:
    """The C# listener on a free port, until ``packets`` datagrams came or ``timeout`` seconds passed."""
    proc = subprocess.Popen([MONO, str(program), "listen", "0", str(packets), str(timeout)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if not first:
        proc.kill()
        pytest.fail(f"the C# listener did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, json.loads(first)["port"]


def _events(proc: subprocess.Popen[str]) -> list[dict]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    return [json.loads(line) for line in out.splitlines()]


@needs_mono
def test_live_osc_and_vmc_from_the_python_senders(program: Path) -> None:
    n = 3
    rng = np.random.default_rng(0)
    points = rng.random((n, 70, 2), dtype=np.float32)
    arkit = rng.random((n, 52), dtype=np.float32)
    vrm = rng.random((n, len(VRM0)), dtype=np.float32)
    meta = StreamMeta("req-7", StreamInfo(sample_rate=24000), start_epoch=1_700_000_000.25)

    # The senders' default datagram limit (1,400 bytes, as `uniflg serve` sends on a LAN) splits every frame: the C#
    # decoder merges the /uniflg parts by (stream id, index) and accumulates the VMC values until Apply.
    osc_parts = len(osc.encode_bundles(wire.osc_frame("req-7", 0, 30, points[0], ARKIT_52, arkit[0])[1:], 0.0,
                                       MAX_DATAGRAM, lead=wire.osc_frame("req-7", 0, 30, points[0])[:1]))
    vmc_parts = len(vmc.encode_frame_datagrams(list(VRM0) + list(vmc.PERFECT_SYNC_NAMES),
                                               np.zeros(len(VRM0) + 52, np.float32), 0.0))
    assert osc_parts == 3 and vmc_parts == 3  # docs/osc.md: 3 bundles each
    # 1 start + n split frames + 1 end over OSC; n frames + 1 neutral frame over VMC (perfect sync).
    proc, port = _listen(program, packets=(1 + n * osc_parts + 1) + (n + 1) * vmc_parts)
    target = Target("127.0.0.1", port)
    osc_sink = osc.OscLandmarkSink(target)
    vmc_sink = vmc.VmcSink(target, perfect_sync=True)
    try:
        osc_sink.start(meta)
        for i in range(n):
            osc_sink.frame(meta, FrameEvent(i, points[i], arkit[i], vrm[i]))
        osc_sink.end(meta, n)
        for i in range(n):
            vmc_sink.frame(meta, FrameEvent(i, points[i], arkit[i], vrm[i]))
        vmc_sink.end(meta, n)
    finally:
        osc_sink.close()
        vmc_sink.close()
    events = _events(proc)

    done = events.pop()
    assert done == {"done": True, "packets": 2 + n * osc_parts + (n + 1) * vmc_parts, "malformed": 0,
                    "ignored": n + 1, "late_parts": 0}  # ignored: /VMC/Ext/OK, once per frame
    start, *rest = events
    assert start == {"event": "start", "stream": "req-7", "sample_rate": 24000, "fps": 30,
                     "layout": "openpose70", "points": 70}
    frames = [e for e in rest if e["event"] == "frame" and e["source"] == "uniflg" and not e["is_end"]]
    assert [f["index"] for f in frames] == list(range(n))
    for i, f in enumerate(frames):
        assert f["stream"] == "req-7"
        assert f["time_code"] == float(np.float32(i / 30))
        assert f["timetag"] == pytest.approx(meta.start_epoch + i / 30, abs=1e-6)
        np.testing.assert_array_equal(np.asarray(f["points"], np.float32), points[i].reshape(-1))
        assert list(f["weights"]) == list(ARKIT_52)
        np.testing.assert_array_equal(np.asarray(list(f["weights"].values()), np.float32), arkit[i])
    ends = [e for e in rest if e["event"] == "end"]
    assert ends == [{"event": "end", "stream": "req-7", "frames": n}]
    neutral = [e for e in rest if e.get("is_end")]
    assert len(neutral) == 1 and neutral[0]["time_code"] == pytest.approx(n / 30)

    vmc_frames = [e for e in rest if e["event"] == "frame" and e["source"] == "vmc"]
    assert len(vmc_frames) == n + 1
    names = list(VRM0) + list(vmc.PERFECT_SYNC_NAMES)
    for i, f in enumerate(vmc_frames):
        assert f["stream"] == "vmc" and f["timetag"] is None and f["points"] is None
        assert f["time_code"] == float(np.float32(i / 30))
        assert list(f["weights"]) == names
        expected = np.concatenate([vrm[i], arkit[i]]) if i < n else np.zeros(len(names), np.float32)
        np.testing.assert_array_equal(np.asarray(list(f["weights"].values()), np.float32), expected)


def test_every_package_asset_has_its_meta_file() -> None:
    """Unity ignores meta-less assets in immutable (git / tarball) packages; make_meta.py writes them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_meta", UNITY / "Tests~" / "make_meta.py")
    assert spec is not None and spec.loader is not None
    make_meta = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_meta)
    missing = [str(p.relative_to(UNITY)) for p in make_meta.assets()
               if not p.with_name(p.name + ".meta").is_file()
               or p.with_name(p.name + ".meta").read_text() != make_meta.meta_text(p)]
    assert not missing, f"run python engine_bridge/unity/Tests~/make_meta.py: {missing}"
    assert json.loads((UNITY / "package.json").read_text())["name"] == "com.uniflg.face"


@needs_mono
def test_vtuber_example_drives_the_csharp_receiver(program: Path, tmp_path: Path) -> None:
    """examples/vtuber_vmc.py end to end: text -> SDK voice -> the bridge's paced VMC sender -> C# decoder."""
    pytest.importorskip("torch", reason="random_voice needs torch")
    import re
    import sys
    import time

    from inference_helpers import calibrated_random_voice

    calibrated_random_voice(tmp_path / "voice")
    cmd = [sys.executable, str(ROOT / "examples" / "vtuber_vmc.py"), "こんにちは、今日はいい天気ですね。",
           "--voice", str(tmp_path / "voice"), "--backend", "torch"]
    dry = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    frames = int(re.search(r"(\d+) frames \([\d.]+ s\) printed \(dry run\)", dry.stdout).group(1))  # type: ignore[union-attr]
    assert frames > 0 and dry.stdout.count("Val + Apply") == frames + 1

    # The listener stops as soon as every packet came. It waits long: a voice without a stored face calibration
    # measures one before sending anything (17-20 s on a 2-core machine).
    proc, port = _listen(program, packets=frames + 1, timeout=180)
    t0 = time.monotonic()
    live = subprocess.run([*cmd, "--vmc", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=300)
    assert live.returncode == 0, live.stderr
    assert time.monotonic() - t0 >= frames / 30  # paced in real time, not sent in a burst
    events = _events(proc)
    assert events[-1]["packets"] == frames + 1 and events[-1]["malformed"] == 0
    got = [e for e in events[:-1] if e["event"] == "frame"]
    assert [e["time_code"] for e in got] == [float(np.float32(i / 30)) for i in range(frames + 1)]
    assert all(list(e["weights"]) == list(VRM0) for e in got)
    assert all(0.0 <= w <= 1.0 for e in got for w in e["weights"].values())
    assert all(w == 0.0 for w in got[-1]["weights"].values())  # back to neutral
