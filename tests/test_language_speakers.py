"""Per-language default speakers (voice.json ``language_speakers``): read and written by VoiceSpec, checked at
load, used by the text path when a call names no speaker, reported by `uniflg info`."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from uniflg.errors import ModelFormatError
from uniflg.types import SynthesisOptions
from uniflg.voice import DEFAULT_VOICE_DIR, load_voice
from uniflg.voice_spec import VOICE_FILE, VoiceSpec, read_spec

EN = "The weather is nice today."
JA = "今日はとても良い天気ですね。"


def _with_mapping(folder: Path, mapping: object) -> Path:
    data = json.loads((folder / VOICE_FILE).read_text(encoding="utf-8"))
    data["language_speakers"] = mapping
    (folder / VOICE_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def mapped_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the default voice whose English speaker is ``bright`` (its third speaker)."""
    folder = tmp_path_factory.mktemp("voice") / "mapped"
    shutil.copytree(DEFAULT_VOICE_DIR, folder)
    return _with_mapping(folder, {"en": "bright"})


def test_voice_spec_round_trips_with_and_without_language_speakers(mapped_folder: Path) -> None:
    plain = read_spec(DEFAULT_VOICE_DIR)
    assert plain.language_speakers == {}
    # without a mapping the field is not written: rewriting a voice.json gives the file it was read from
    assert plain.to_json() == (DEFAULT_VOICE_DIR / "voice.json").read_text(encoding="utf-8").rstrip("\n")
    assert VoiceSpec.from_json(plain.to_json()) == plain
    mapped = read_spec(mapped_folder)
    assert mapped.language_speakers == {"en": "bright"}
    again = VoiceSpec.from_json(mapped.to_json())
    assert again == mapped and again.speaker_for("en") == "bright" and again.speaker_for("ja") is None


@pytest.mark.parametrize(("mapping", "named"), [
    ({"en": "nobody"}, ["'nobody'", "mei, low, bright, soft"]),
    ({"fr": "mei"}, ["'fr'", "ja, en"]),
    (["en", "mei"], ["must be an object"]),
])
def test_a_bad_mapping_is_refused_at_load_naming_it_and_the_choices(tmp_path: Path, mapping: object,
                                                                    named: list[str]) -> None:
    shutil.copy(DEFAULT_VOICE_DIR / VOICE_FILE, tmp_path / VOICE_FILE)
    _with_mapping(tmp_path, mapping)
    with pytest.raises(ModelFormatError) as err:
        read_spec(tmp_path)
    assert str(tmp_path / VOICE_FILE) in str(err.value) and all(n in str(err.value) for n in named)
    with pytest.raises(ModelFormatError):  # constructing one in code is checked the same way
        replace(read_spec(DEFAULT_VOICE_DIR), language_speakers=mapping)


def test_english_text_uses_the_voice_english_speaker_and_an_explicit_speaker_wins(mapped_folder: Path) -> None:
    mapped = load_voice(mapped_folder, backend="onnxruntime")
    plain = load_voice(backend="onnxruntime")
    seed = SynthesisOptions(seed=4)
    en_default, _ = mapped.synthesize_all(EN, seed)
    en_named, _ = plain.synthesize_all(EN, replace(seed, speaker="bright"))
    np.testing.assert_array_equal(en_default, en_named)
    en_first, _ = plain.synthesize_all(EN, seed)
    assert en_first.shape != en_default.shape or not np.allclose(en_first, en_default, atol=1e-3)
    # an explicit speaker always wins; Japanese (no entry) keeps the first speaker
    np.testing.assert_array_equal(mapped.synthesize_all(EN, replace(seed, speaker="mei"))[0], en_first)
    np.testing.assert_array_equal(mapped.synthesize_all(JA, seed)[0], plain.synthesize_all(JA, seed)[0])
    # an explicit language is the text's language too; phoneme timing follows the same speaker
    assert mapped.phoneme_timing(EN, replace(seed, language="en")) == plain.phoneme_timing(
        EN, replace(seed, speaker="bright"))


def test_english_without_an_english_speaker_is_said_once_per_voice(mapped_folder: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    plain, mapped = load_voice(backend="onnxruntime"), load_voice(mapped_folder, backend="onnxruntime")
    plain.synthesize_all(JA, SynthesisOptions(seed=0))
    plain.synthesize_all(EN, SynthesisOptions(seed=0, speaker="low"))  # a named speaker is the caller's choice
    mapped.synthesize_all(EN, SynthesisOptions(seed=0))
    assert "English" not in caplog.text
    plain.synthesize_all(JA + " " + EN, SynthesisOptions(seed=0))  # the English sentence of a mixed text
    plain.synthesize_all(EN, SynthesisOptions(seed=1))
    said = [r.getMessage() for r in caplog.records if "names no English speaker" in r.getMessage()]
    assert said == ["voice default names no English speaker (voice.json language_speakers), so its first "
                    "speaker, mei, reads the English text; a voice whose text path learned English names one. "
                    "The embedded voice learned Japanese only: listeners will understand little of its English, "
                    "while the face follows the English phonemes (docs/model-card.md, \"English\")"]


def test_mixed_text_switches_speaker_per_sentence(mapped_folder: Path) -> None:
    mapped = load_voice(mapped_folder, backend="onnxruntime")
    plain = load_voice(backend="onnxruntime")
    text, seed = f"{JA}{EN}", SynthesisOptions(seed=2)

    def sentences(voice):  # audio per sentence of the stream
        chunks = list(voice.synthesize(text, seed))
        return [np.concatenate([c.audio for c in chunks if c.sentence == k]) for k in (0, 1)]

    (ja_m, en_m), (ja_p, en_p) = sentences(mapped), sentences(plain)
    np.testing.assert_array_equal(ja_m, ja_p)  # the Japanese sentence: the first speaker in both
    assert en_m.shape != en_p.shape or not np.allclose(en_m, en_p, atol=1e-3)  # English: bright vs mei


def test_info_reports_the_mapping(mapped_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from uniflg.cli import main

    assert main(["info", "--voice", str(mapped_folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["voice"]["language_speakers"] == {"en": "bright"}
    assert main(["info", "--voice", str(mapped_folder)]) == 0
    speakers = ", ".join(read_spec(mapped_folder).speakers)
    assert f"speakers: {speakers} (default per language: en bright)" in capsys.readouterr().out


def test_speak_command_uses_the_english_speaker(mapped_folder: Path, tmp_path: Path) -> None:
    import soundfile as sf
    from uniflg.cli import main

    common = ["--backend", "onnxruntime", "--seed", "7", "--no-preview"]
    assert main(["speak", EN, "-o", str(tmp_path / "a"), "--voice", str(mapped_folder), *common]) == 0
    assert main(["speak", EN, "-o", str(tmp_path / "b"), "--speaker", "bright", *common]) == 0
    assert main(["speak", EN, "-o", str(tmp_path / "c"), *common]) == 0
    a, b, c = (sf.read(tmp_path / x / "speech.wav", dtype="int16")[0] for x in "abc")
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_the_corpus_rule_picks_the_unpaired_speaker_with_most_items_per_language(tmp_path: Path) -> None:
    """`uniflg export --latents-from DATA` without --language-speaker: per language other than Japanese, the
    speaker with the most unpaired train items (paired espeak items and other splits do not count)."""
    from dataclasses import asdict

    from uniflg.config import AudioConfig
    from uniflg_train.export.language_speakers import corpus_language_speakers

    def items(n: int, speaker: str, language: str, paired: bool = False) -> list[dict]:
        return [{"id": f"{speaker}{language}{paired}{i}", "speaker": speaker, "language": language, "emotion": "n",
                 "frames": 10, "seconds": 1.0, "landmark_frames": 30 if paired else 0} for i in range(n)]

    train = (items(5, "mei", "ja", paired=True) + items(9, "kokoro_jm_kumo", "ja") + items(4, "kokoro_jm_kumo", "en")
             + items(9, "espeak_en-us", "en", paired=True) + items(3, "espeak_en-us", "en"))
    speakers = ("mei", "espeak_en-us", "kokoro_jm_kumo")
    index = {"audio": asdict(AudioConfig()), "speakers": list(speakers), "emotions": ["n"],
             "splits": {"train": train, "val": items(20, "espeak_en-us", "en")}}
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "index.json").write_text(json.dumps(index))
    assert corpus_language_speakers(tmp_path, speakers) == {"en": "kokoro_jm_kumo"}
    # a tie goes to the speaker listed first; a speaker the model lacks is not chosen
    index["splits"]["train"] = train + items(1, "espeak_en-us", "en")
    (tmp_path / "cache" / "index.json").write_text(json.dumps(index))
    assert corpus_language_speakers(tmp_path, speakers) == {"en": "espeak_en-us"}
    assert corpus_language_speakers(tmp_path, ("mei", "kokoro_jm_kumo")) == {"en": "kokoro_jm_kumo"}
    index["splits"]["train"] = items(5, "mei", "ja", paired=True) + items(9, "kokoro_jm_kumo", "ja")
    (tmp_path / "cache" / "index.json").write_text(json.dumps(index))
    assert corpus_language_speakers(tmp_path, speakers) == {}  # Japanese only: no mapping, behaviour unchanged


def test_uniflg_as_reads_a_language_with_its_speaker_latent(tmp_path: Path) -> None:
    """UniFLG-AS conditions on the speaker through z_u: the mapped speaker's stored latent, as if named."""
    pytest.importorskip("torch")
    from types import SimpleNamespace

    from inference_helpers import utterance
    from uniflg.config import VariantConfig, tiny_config
    from uniflg.model.system import UniFLG
    from uniflg.voice_writer import write_voice

    cfg = tiny_config(variant=VariantConfig(conditioning="emotion"), speakers=("a", "b"))
    rng = np.random.default_rng(0)
    latents = {"speaker": {n: rng.standard_normal(cfg.vits.utterance_dim).round(4).tolist() for n in ("a", "b")}}
    with pytest.raises(ModelFormatError, match="no stored latent"):
        write_voice(UniFLG(cfg), tmp_path / "bad", "as", {"speaker": {"a": latents["speaker"]["a"]}}, onnx=False,
                    language_speakers={"en": "b"})
    assert not (tmp_path / "bad").exists()  # refused before anything is written
    write_voice(UniFLG(cfg), tmp_path / "as", "as", latents, onnx=False, language_speakers={"en": "b"})
    voice = load_voice(tmp_path / "as", backend="torch")
    u = utterance(20, seed=1)
    en, ja = (SimpleNamespace(ids=u.ids, prosody=u.prosody, language=lang) for lang in ("en", "ja"))
    seed = SynthesisOptions(seed=3)
    np.testing.assert_array_equal(voice.synthesize_all(en, seed)[0],
                                  voice.synthesize_all(ja, replace(seed, speaker="b"))[0])
    assert not np.array_equal(voice.synthesize_all(ja, seed)[0], voice.synthesize_all(en, seed)[0])
    # mixed text: the Japanese piece as when alone (its own draw), the English one with b's latent
    plain = tmp_path / "plain"
    shutil.copytree(tmp_path / "as", plain)
    _with_mapping(plain, {})

    def pieces(folder: Path) -> list[np.ndarray]:
        chunks = list(load_voice(folder, backend="torch").synthesize(SimpleNamespace(utterances=(ja, en)), seed))
        return [np.concatenate([c.audio for c in chunks if c.sentence == k]) for k in (0, 1)]

    (ja_m, en_m), (ja_p, en_p) = pieces(tmp_path / "as"), pieces(plain)
    single_ja = voice.synthesize_all(ja, seed)[0]
    np.testing.assert_array_equal(ja_m[:single_ja.size], single_ja)
    np.testing.assert_array_equal(ja_m, ja_p)
    assert en_m.shape != en_p.shape or not np.allclose(en_m, en_p, atol=1e-3)


def test_uniflg_as_names_a_speaker_it_only_stores_a_latent_for(tmp_path: Path) -> None:
    """UniFLG-AS's unseen talkers (export --latents-from) are speakers a request, the language mapping and
    `uniflg info` name like the model's own; a UniFLG voice's speakers stay its rows."""
    pytest.importorskip("torch")
    from inference_helpers import utterance
    from uniflg.config import VariantConfig, tiny_config
    from uniflg.errors import NotFoundError
    from uniflg.model.system import UniFLG
    from uniflg.voice import check_request
    from uniflg.voice_writer import write_voice

    cfg = tiny_config(variant=VariantConfig(conditioning="emotion"), speakers=("a",))
    rng = np.random.default_rng(0)
    latents = {"speaker": {n: rng.standard_normal(cfg.vits.utterance_dim).round(4).tolist() for n in ("a", "guest")}}
    write_voice(UniFLG(cfg), tmp_path / "as", "as", latents, onnx=False, language_speakers={"en": "guest"})
    voice = load_voice(tmp_path / "as", backend="torch")
    assert voice.speakers == ("a", "guest")
    check_request(voice.spec, SynthesisOptions(speaker="guest"))
    u, seed = utterance(20, seed=1), SynthesisOptions(seed=3)
    guest = voice.synthesize_all(u, replace(seed, speaker="guest"))[0]
    assert not np.array_equal(guest, voice.synthesize_all(u, replace(seed, speaker="a"))[0])
    with pytest.raises(NotFoundError, match="'nobody'"):
        voice.synthesize_all(u, replace(seed, speaker="nobody"))
    spec = json.loads((tmp_path / "as" / VOICE_FILE).read_text(encoding="utf-8"))
    assert spec["speakers"] == ["a", "guest"] and spec["config"]["speakers"] == ["a"]
    plain = VoiceSpec.from_json((DEFAULT_VOICE_DIR / VOICE_FILE).read_text(encoding="utf-8"))
    with_guest = replace(plain, latents={**plain.latents, "speaker": {"guest": [0.0] * 16}})
    assert with_guest.speakers == plain.config.speakers  # UniFLG: g's rows only
