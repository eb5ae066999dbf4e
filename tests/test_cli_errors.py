"""Odd input to `uniflg corpus` and `uniflg eval`: one line naming what was wrong and what is accepted, exit 2,
nothing measured first and nothing half-written left behind (issue: CLI tracebacks found by a new-user review)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from process_helpers import terminal_signals
from uniflg.cli import main


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run a command that argparse refuses: exit 2 and one ``error:`` line on stderr (returned)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1, err
    return err


TRAINING_TOP, SAMPLING_TOP = ("2**63-1", "9223372036854775808"), ("2**64-1", "18446744073709551616")


@pytest.mark.parametrize(("argv", "top"), [
    (["corpus", "make", "--out", "{tmp}/c"], TRAINING_TOP),  # training adds epochs to its seed
    (["train", "landmarks", "--data", "{tmp}", "--run", "{tmp}/run"], TRAINING_TOP),
    (["eval", "speech-quality", "--systems", "hts"], SAMPLING_TOP),  # what a gRPC request may carry
    (["eval", "robustness", "{tmp}/a.wav"], SAMPLING_TOP),
    (["eval-blendshapes"], SAMPLING_TOP),
    (["speak", "x", "-o", "{tmp}/c"], SAMPLING_TOP),
])
@pytest.mark.parametrize("seed", ["-1", "above", "x"])
def test_every_seed_is_checked_where_it_is_parsed(argv: list[str], top: tuple[str, str], seed: str,
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    said, above = top
    err = usage_error([*args, "--seed", above if seed == "above" else seed], capsys)
    assert "argument --seed:" in err and (f"from 0 to {said};" in err or "not an integer" in err), err
    assert not (tmp_path / "c").exists()


def test_corpus_make_refuses_huge_counts_and_a_file_as_out_before_creating_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "x"
    err = usage_error(["corpus", "make", "--out", str(out), "--utterances", "99999999999999999999"], capsys)
    assert "--utterances: must be from 1 to 10_000_000" in err
    assert "--jobs: must be from 1" in usage_error(["corpus", "make", "--out", str(out), "--jobs", "0"], capsys)
    assert not out.exists()
    afile = tmp_path / "file"
    afile.write_text("keep me")
    assert main(["corpus", "make", "--out", str(afile), "--utterances", "1"]) == 2
    assert f"output {afile} is an existing file; --out needs a folder there" in caplog.text
    assert afile.read_text() == "keep me"


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from uniflg_train.corpus.generate import CorpusSpec, make_corpus

    root = tmp_path_factory.mktemp("corpora")
    make_corpus(CorpusSpec(root / "a", 2, seed=1, paired_fraction=1.0), progress=False)
    make_corpus(CorpusSpec(root / "b", 2, seed=2), progress=False)
    return root / "a", root / "b"


def _copy(folder: Path, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, to))


def test_corpus_merge_checks_every_source_before_writing(two_corpora: tuple[Path, Path], tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    a, b = _copy(two_corpora[0], tmp_path / "a"), two_corpora[1]
    out = tmp_path / "merged"
    wav = next(iter(sorted((a / "wavs").iterdir())))
    wav.unlink()
    assert main(["corpus", "merge", str(a), str(b), "--out", str(out)]) == 2
    assert f"audio file {wav} is missing" in caplog.text and not out.exists()  # no half-made merged/wavs
    caplog.clear()
    c = _copy(two_corpora[0], tmp_path / "c")
    (c / "corpus.json").write_text('{"utterances": 2,')
    assert main(["corpus", "merge", str(b), str(c), "--out", str(out)]) == 2
    assert f"{c / 'corpus.json'}: not valid JSON" in caplog.text and not out.exists()
    caplog.clear()
    afile = tmp_path / "file"
    afile.write_text("keep me")
    for argv, message in (([str(b), str(two_corpora[0]), "--out", str(afile)], "is an existing file;"),
                          ([str(b), str(two_corpora[0]), "--out", str(b / "inner")], "is inside the source"),
                          ([str(b), str(b), "--out", str(out)], "given more than once")):
        assert main(["corpus", "merge", *argv]) == 2
        assert message in caplog.text, (argv, caplog.text)
        caplog.clear()
    assert afile.read_text() == "keep me" and not (b / "inner").exists() and not out.exists()
    d = _copy(two_corpora[0], tmp_path / "d")
    manifest = next(m for m in sorted(d.glob("*.jsonl")) if m.read_text().strip())
    row = json.loads(manifest.read_text().splitlines()[0])
    row["audio"] = "../../outside.wav"
    manifest.write_text(json.dumps(row) + "\n")
    assert main(["corpus", "merge", str(d), str(b), "--out", str(out)]) == 2
    assert "is not inside the corpus folder" in caplog.text and not out.exists()
    assert main(["corpus", "merge", str(two_corpora[0]), str(b), "--out", str(out)]) == 0  # the good ones merge


def test_speech_quality_checks_voice_names_before_measuring(capsys: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("espeakng_loader", reason="espeak-ng synthesis is not installed")
    pytest.importorskip("pyopenjtalk", reason="the hts system is not installed")
    for systems, message in (("hts,espeak:zz-xx", "espeak-ng has no voice 'zz-xx'; give a name or name+variant "
                                                  "such as en-us"),
                             ("hts,kokoro:nope", "unknown Kokoro voice 'nope'; choose from jf_alpha"),
                             ("hts,kokoro-en:nope", "unknown Kokoro voice 'nope'")):
        assert main(["eval", "speech-quality", "--limit", "1", "--systems", systems]) == 2
        assert message in caplog.text
        assert capsys.readouterr().out == ""  # hts, named first, was not measured
        caplog.clear()


def _clip(folder: Path, name: str, frames: int) -> None:
    rate = 16000
    t = np.arange(frames * rate // 30) / rate
    sf.write(folder / f"{name}.wav", (0.1 * np.sin(2 * np.pi * 220 * t) * np.sin(np.pi * 3 * t)).astype(np.float32),
             rate)
    track = np.random.default_rng(0).normal(0, 1, (frames, 70, 2)).astype(np.float32)
    np.save(folder / f"{name}.npy", track)


def test_real_av_skips_a_clip_too_short_for_the_lag_search(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    _clip(clips, "short", 10)
    err = usage_error(["eval", "real-av", str(clips), "--max-lag", "100000"], capsys)
    assert "--max-lag: must be from 0 to 300" in err
    assert main(["eval", "real-av", str(clips)]) == 2  # the only clip: 10 frames < 13
    assert "no clip in" in caplog.text and "at least 13 frames at 30 fps for --max-lag 5 (short)" in caplog.text
    _clip(clips, "long", 60)
    out = tmp_path / "r.json"
    assert main(["eval", "real-av", str(clips), "--out", str(out)]) == 0
    assert "| short | skipped (too short) |" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert [(c["name"], c["skipped"]) for c in data["clips"]] == [("long", False), ("short", True)]
    assert "need at least 13" in data["clips"][1]["note"] and np.isfinite(data["median"]["r"])


def test_eval_audio_and_out_are_checked_before_any_work(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert main(["eval", "robustness", str(bad)]) == 2
    assert f"cannot read audio {bad}" in caplog.text and "accepted formats: WAV" in caplog.text
    caplog.clear()
    clips = tmp_path / "clips"
    clips.mkdir()
    _clip(clips, "a", 60)
    assert main(["eval", "real-av", str(clips), "--out", "/proc/x.json"]) == 2
    assert "cannot write to output folder /proc" in caplog.text
    caplog.clear()
    (clips / "b.wav").write_text("not audio")
    np.save(clips / "b.npy", np.zeros((60, 70, 2), np.float32))
    with caplog.at_level(logging.INFO):
        assert main(["eval", "real-av", str(clips)]) == 2
    assert f"cannot read audio {clips / 'b.wav'}" in caplog.text
    assert "on onnxruntime" not in caplog.text  # review 20: found only after the clips before it were measured
    caplog.clear()
    odd = tmp_path / "odd"
    odd.mkdir()
    _clip(odd, "a", 60)
    _clip(odd, "c", 60)
    np.save(odd / "c.npy", np.zeros((60, 68, 2), np.float32))  # a 68-point track: refused before measuring
    (odd / "e.wav").write_bytes((odd / "a.wav").read_bytes())  # a wav without its track
    with caplog.at_level(logging.INFO):
        assert main(["eval", "real-av", str(odd)]) == 2
    assert "skipping e.wav: no e.npy beside it" in caplog.text
    assert f"{odd / 'c.npy'}: a lip track is [T, 70, 2]; got (60, 68, 2)" in caplog.text
    assert "on onnxruntime" not in caplog.text  # refused before the voice loaded
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert main(["eval", "real-av", str(tmp_path / "none")]) == 2
    assert f"not a folder of clips: {tmp_path / 'none'}" in caplog.text and "on onnxruntime" not in caplog.text


def test_augment_noise_names_the_kinds_and_needs_augment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    argv = ["train", "landmarks", "--data", str(tmp_path), "--vits", str(tmp_path / "v"), "--out", str(tmp_path / "o")]
    err = usage_error([*argv, "--augment", "--augment-noise", "band,drums"], capsys)
    assert "unknown noise kind drums; choose from color, babble, music, band" in err
    assert main([*argv, "--augment-noise", "band"]) == 2
    assert "--augment-noise needs --augment" in caplog.text and not (tmp_path / "o").exists()
    for wrong, said in ((["--augment-warp", "0.5"], "--augment-warp needs --augment"),
                        (["--augment", "--augment-warp", "1.5"], "is a probability in [0, 1]; got 1.5"),
                        (["--augment", "--augment-warp-semitones", "0"], "semitones must be in (0, 12]"),
                        (["--augment-telephone", "0.3"], "--augment-telephone needs --augment"),
                        (["--augment", "--augment-telephone", "-0.1"], "--augment-telephone is a probability in "
                                                                       "[0, 1]; got -0.1")):
        caplog.clear()
        assert main([*argv, *wrong]) == 2
        assert said in caplog.text and not (tmp_path / "o").exists()


def test_augment_options_reach_the_augmenter() -> None:
    from uniflg_train.trainer.common import make_augmenter
    from uniflg_train.trainer.options import LandmarkTrainOptions, VitsTrainOptions

    assert make_augmenter(VitsTrainOptions(), 24000) is None
    default = make_augmenter(VitsTrainOptions(augment=True), 24000).options
    assert (default.p_warp, default.warp_semitones, default.p_telephone) == (0.2, (-2.0, 2.0), 0.1)
    tuned = make_augmenter(LandmarkTrainOptions(augment=True, augment_warp=0.8, augment_warp_semitones=4.0,
                                                augment_noise=("band",), augment_telephone=0.35), 24000).options
    assert (tuned.p_warp, tuned.warp_semitones, tuned.noise_kinds, tuned.p_telephone) == (0.8, (-4.0, 4.0),
                                                                                          ("band",), 0.35)


@pytest.mark.parametrize(("command", "stop"), [("speak", "SIGINT"), ("animate", "SIGINT"), ("speak", "SIGTERM"),
                                             ("animate", "SIGHUP")])
def test_ctrl_c_while_the_preview_renders_leaves_the_folder_as_it_was(command: str, stop: str, tmp_path: Path) -> None:
    """Interrupted in its last step (ffmpeg drawing preview.mp4), a run once left a truncated preview that played
    as a normal file beside new speech and landmarks; now its files move into place together or not at all.
    SIGTERM and SIGHUP reach the process alone (``timeout``, ``docker stop``, a closed terminal): they once left
    hidden temporaries behind and ffmpeg encoding on; now they end the run like Ctrl-C."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    text = (root / "tests/data/long_ja.txt").read_text(encoding="utf-8")
    out = tmp_path / "o"
    out.mkdir()
    (out / "speech.wav").write_bytes(b"earlier result")
    (out / "landmarks.npy").write_bytes(b"earlier result")
    if command == "speak":
        argv = ["speak", text, "-o", str(out)]
    else:  # 57 s of speech to animate: the same long text, spoken once without a preview
        assert main(["speak", text, "-o", str(tmp_path / "src"), "--no-preview"]) == 0
        argv = ["animate", str(tmp_path / "src" / "speech.wav"), "-o", str(out)]
    # a terminal's default signals, also when the suite itself runs as a background job or under nohup (`make test
    # &` starts with SIGINT ignored, nohup with SIGHUP ignored, and an ignored signal stays ignored across exec)
    proc = subprocess.Popen([sys.executable, "-m", "uniflg.cli", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=terminal_signals)
    deadline = time.time() + 120
    if not Path(f"/proc/{proc.pid}/task/{proc.pid}/children").exists():
        proc.kill()
        pytest.skip("this kernel has no /proc/PID/task/PID/children: cannot see when ffmpeg starts")

    def ffmpeg_child() -> str | None:  # a child of any of the process's threads
        kids = []
        for listing in Path(f"/proc/{proc.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                kids += listing.read_text().split()
        for kid in kids:
            with contextlib.suppress(OSError):
                if b"ffmpeg" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    return kid
        return None

    ffmpeg = None
    while time.time() < deadline and proc.poll() is None and ffmpeg is None:
        ffmpeg = ffmpeg_child()
        time.sleep(0.01)
    assert ffmpeg, "ffmpeg never ran: " + proc.communicate(timeout=60)[1].decode()[-1500:]
    time.sleep(0.3)  # ffmpeg has written part of the video
    signum = signal.Signals[stop]
    if stop == "SIGINT":
        os.killpg(proc.pid, signum)  # Ctrl-C in a terminal reaches the whole process group
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()[-1500:]
    assert not Path(f"/proc/{ffmpeg}").exists() or b"ffmpeg" not in Path(f"/proc/{ffmpeg}/cmdline").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["landmarks.npy", "speech.wav"]  # nothing new, no temporaries
    assert (out / "speech.wav").read_bytes() == (out / "landmarks.npy").read_bytes() == b"earlier result"


def test_a_path_too_long_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    from uniflg.cli import main

    long = str(tmp_path / ("n" * 300))  # one name over NAME_MAX: Python 3.11's is_dir() raises instead of False
    assert main(["speak", "はい", "-o", long, "--no-preview"]) == 2
    assert main(["info", "--voice", long]) == 2
    printed = capsys.readouterr()
    said = caplog.text + printed.err + printed.out  # `info` reports a broken voice in its listing
    assert f"output {long}: File name too long; -o needs a folder" in said
    assert f"not a voice folder (File name too long): {long}" in said
    assert "Traceback" not in said and not any(tmp_path.iterdir())


@pytest.mark.parametrize(("hidden", "argv", "extra"), [
    ("filelock", ["corpus", "make", "--out", "{tmp}/c", "--utterances", "2"], "train"),
])
def test_a_missing_extra_module_is_one_line_naming_the_extra(tmp_path: Path, hidden: str, argv: list[str],
                                                            extra: str) -> None:
    # as on the README's runtime-only install (`make demo`): the module cannot be imported at all
    code = (f"import sys; sys.modules[{hidden!r}] = None; from uniflg.cli import main; "
            f"sys.exit(main({[a.replace('{tmp}', str(tmp_path)) for a in argv]!r}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1].endswith(
        f"needs {hidden}, which is not installed: pip install 'uniflg[{extra}]'"), run.stderr
    assert "Traceback" not in run.stderr


def test_each_module_the_message_names_comes_with_its_extra() -> None:
    """The "pip install 'uniflg[EXTRA]'" line must name an extra that really installs the module."""
    import re
    from importlib.metadata import packages_distributions

    import tomllib
    from uniflg.cli import _EXTRA_FOR_MODULE

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]

    def requirements(extra: str) -> set[str]:
        names: set[str] = set()
        for req in extras[extra]:
            name = re.split(r"[<>=\[ ]", req, maxsplit=1)[0].lower().replace("_", "-")
            names |= requirements(re.search(r"\[(\w+)", req)[1]) if name == "uniflg" else {name}
        return names

    installed = packages_distributions()
    checked = 0
    for module, extra in _EXTRA_FOR_MODULE.items():
        for dist in installed.get(module, []):  # modules not installed here cannot be traced to a distribution
            if dist.lower().replace("_", "-") in requirements(extra):
                checked += 1
                break
        else:
            assert module not in installed, f"{module} (from {installed.get(module)}) is not in uniflg[{extra}]"
    assert checked >= 10


@pytest.mark.parametrize("variant", ["ttl", "stl", "stl-d"])
def test_stage1_refuses_the_variants_that_reuse_the_uniflg_stage1(tmp_path: Path, variant: str, caplog) -> None:
    from uniflg.cli import main

    (tmp_path / "c").mkdir()
    assert main(["train", "vits", "--data", str(tmp_path / "c"), "--out", str(tmp_path / "run"), "--variant",
                 variant]) == 2
    assert (f"--variant {variant} reuses the UniFLG stage 1: train it with `uniflg train landmarks --variant "
            f"{variant} --vits RUN`") in caplog.text
    assert not (tmp_path / "run").exists()
