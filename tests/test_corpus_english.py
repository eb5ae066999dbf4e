"""English Paired items (espeak-ng), --languages, and non-speech spliced under a closed mouth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from uniflg.errors import InvalidInputError
from uniflg.text import encode
from uniflg_train.corpus.align import lip_aperture
from uniflg_train.corpus.english import mnemonic_symbols, time_symbols
from uniflg_train.corpus.face import articulation, make_track, mean_face
from uniflg_train.corpus.generate import CorpusSpec, make_corpus, plan, streams
from uniflg_train.corpus.nonspeech import KINDS, splice

pytest.importorskip("espeakng_loader", reason="espeak-ng synthesis needs the espeakng-loader wheel")


def _rows(root):
    return [json.loads(line) for s in ("train", "val", "test") for line in (root / f"{s}.jsonl").open()]


def test_events_are_timed_onto_the_front_end_symbols():
    # "^ h ə l oʊ $" from events h @ l oU, a leading and a trailing pause; "@L" would be two symbols.
    events = [("_:", 0.0), ("h", 0.1), ("@", 0.2), ("l", 0.25), ("'oU", 0.3), ("_", 0.6)]
    t = time_symbols(("^", "h", "ə", "l", "oʊ", "$"), events, 0.8)
    assert t.matched == 1.0
    np.testing.assert_allclose(t.starts, [0.0, 0.1, 0.2, 0.25, 0.3, 0.6])
    np.testing.assert_allclose(t.ends, [0.1, 0.2, 0.25, 0.3, 0.6, 0.8])
    assert mnemonic_symbols("@L") == ("ə", "l") and mnemonic_symbols(",eI") == ("eɪ",)
    assert mnemonic_symbols("I#") == ("ᵻ",) and mnemonic_symbols("zz9") == ()
    # A symbol espeak did not say still gets a span inside the speech, in order.
    t = time_symbols(("^", "h", "ə", "ɹ", "oʊ", "$"), events, 0.8)
    assert 0.7 < t.matched < 1.0 and np.all(np.diff(t.starts) >= 0) and t.ends[3] > t.starts[3]


def test_real_espeak_speech_matches_the_front_end_almost_everywhere():
    from uniflg_train.corpus.espeak_voice import synthesize
    from uniflg_train.corpus.sentences_en import COVERAGE

    for text in COVERAGE[:6]:
        sp = synthesize(text, "en-us+m3")
        utt = encode(text, "en")
        t = time_symbols(utt.symbols, [(e.phoneme, e.start) for e in sp.phonemes], sp.audio.size / sp.sample_rate)
        assert t.matched > 0.9, text
        assert np.all(np.diff(t.starts) >= -1e-9) and t.ends[-1] == pytest.approx(sp.audio.size / sp.sample_rate)


def _param_at(symbols, starts, ends, k, language, frac=0.5):
    times = np.array([starts[k] + frac * (ends[k] - starts[k])])  # lead 0: the shapes, not their timing
    return articulation(symbols, np.asarray(starts), np.asarray(ends), times, language=language, lead=0.0)[0]


def test_english_mouth_targets_differ_where_english_differs():
    # Evenly timed 150-ms tokens: a - f - a, a - w - a, a - aɪ - a.
    def params(mid, language, frac=0.5):
        syms = ["a", mid, "a"]
        return _param_at(syms, [0.0, 0.15, 0.3], [0.15, 0.3, 0.45], 1, language, frac)

    # Labiodental f/v: the lips nearly shut and not rounded; the Japanese f (bilabial ɸ) rounds.
    f_en, f_ja = params("f", "en"), params("f", "ja")
    assert f_en[0] < 0.25 * params("æ", "en")[0] and f_en[2] > 0.0 > f_ja[2]
    assert params("v", "en")[0] < 0.25 * params("ɑ", "en")[0]
    # w rounds more in English; θ opens a little; open vowels open widest.
    assert params("w", "en")[2] < params("w", "ja")[2] < 0
    assert params("ɑ", "en")[0] > params("ə", "en")[0] > params("θ", "en")[0] > f_en[0]
    # A diphthong moves: aɪ starts open and ends spread and closer.
    start, end = params("aɪ", "en", 0.2), params("aɪ", "en", 0.9)
    assert start[0] > end[0] + 0.15 and end[2] > start[2]


def test_english_corpus_items_are_paired_and_use_the_front_end_symbols(tmp_path):
    spec = CorpusSpec(tmp_path / "c", 6, seed=1, paired_fraction=1.0, sources=("hts", "espeak"),
                      languages=("ja", "en"))
    meta = make_corpus(spec, progress=False)
    assert meta["sources"] == {"hts": 3, "espeak": 3} and meta["languages"] == {"ja": 3, "en": 3}
    assert "GPL-3.0" in meta["credits"]["espeak"]["licence"] and meta["language"] == "mixed"
    rows = [r for r in _rows(spec.out) if r["source"] == "espeak"]
    assert len(rows) == 3 and len({r["voice"] for r in rows}) == 3  # voices cycle over the English items
    for r in rows:
        assert r["language"] == "en" and r["speaker"] == f"espeak_{r['voice']}" and r["speaker"] in meta["speakers"]
        align = json.loads((spec.out / r["alignment"]).read_text())
        assert tuple(align["symbols"]) == encode(r["text"], "en").symbols
        info = sf.info(str(spec.out / r["audio"]))
        lm = np.load(spec.out / r["landmarks"])
        assert info.samplerate == 24000 and lm.shape == (round(info.duration * 30), 70, 2)
        ap = lip_aperture(lm)
        assert ap.max() > 0.02 and ap[:2].max() < 0.25 * ap.max()  # speaks, starts closed
    # Texts and timing are seeded: the same plan again.
    by_index = sorted(_rows(spec.out), key=lambda r: r["id"][2:])
    assert [plan(spec, i).text for i in range(6)] == [r["text"] for r in by_index]


def test_languages_select_the_streams():
    both = CorpusSpec(None, 4, sources=("hts", "kokoro", "espeak"))  # type: ignore[arg-type]
    assert streams(both) == [("hts", "ja"), ("kokoro", "ja"), ("espeak", "en")]
    en = CorpusSpec(None, 4, sources=("hts", "espeak"), languages=("en",))  # type: ignore[arg-type]
    assert streams(en) == [("espeak", "en")] and {plan(en, i).source for i in range(4)} == {"espeak"}
    # HTS speakers cycle over the HTS items only, whatever else is mixed in.
    mixed = CorpusSpec(None, 16, sources=("hts", "espeak"))  # type: ignore[arg-type]
    assert sorted({plan(mixed, i).speaker for i in range(16) if plan(mixed, i).source == "hts"}) == [0, 1, 2, 3]


def test_languages_no_source_speaks_are_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="none of the sources hts speaks them"):
        make_corpus(CorpusSpec(tmp_path, 2, sources=("hts",), languages=("en",)), progress=False)
    with pytest.raises(InvalidInputError, match="--languages: unknown fr; available: en, ja"):
        make_corpus(CorpusSpec(tmp_path, 2, languages=("fr",)), progress=False)


@pytest.mark.parametrize("kind", KINDS)
def test_nonspeech_is_spliced_around_and_into_pauses_under_a_closed_mouth(kind):
    sr = 24000
    rng = np.random.default_rng(0)
    # ^ (0.2 s) a (0.3) pau (0.4) a (0.3) $ (0.2): a tone as the "speech".
    symbols = ["^", "a", "pau", "a", "$"]
    starts, ends = np.array([0.0, 0.2, 0.5, 0.9, 1.2]), np.array([0.2, 0.5, 0.9, 1.2, 1.4])
    audio = np.zeros(int(1.4 * sr), np.float32)
    for a, b in ((0.2, 0.5), (0.9, 1.2)):
        i, j = round(a * sr), round(b * sr)
        audio[i:j] = 0.1 * np.sin(2 * np.pi * 200 * np.arange(j - i) / sr)
    sp = splice(audio, sr, symbols, starts, ends, rng, kind)
    lead = sp.starts[1] - 0.2
    assert 0.4 <= lead <= 2.0 and sp.starts[0] == 0.0 and sp.ends[-1] == pytest.approx(sp.seconds)
    np.testing.assert_allclose(np.diff(sp.starts)[1:], np.diff(starts)[1:])  # speech shifts, durations stay
    pause = sp.audio[int((sp.starts[2] + 0.05) * sr):int((sp.ends[2] - 0.05) * sr)]
    edge = sp.audio[: int(lead * sr)]
    level = 20 * np.log10(np.sqrt(np.mean(np.concatenate([pause, edge]).astype(np.float64) ** 2)) + 1e-12)
    if kind == "silence":
        assert level < -85
    else:
        assert -46 < level < -15  # LEVEL_DBFS, less a little for the fades and the breath's swell
    lm = make_track(symbols, sp.starts, sp.ends, sp.seconds, "mei", "normal", np.random.default_rng(1))
    ap = lip_aperture(lm)
    t = np.arange(ap.size) / 30
    speech = ((t > sp.starts[1] + 0.1) & (t < sp.ends[1] - 0.1))
    quiet = (t < sp.starts[1] - 0.15) | ((t > sp.starts[2] + 0.15) & (t < sp.ends[2] - 0.15))
    assert ap[quiet].max() < 0.1 * ap[speech].max()   # the mouth stays closed through the non-speech


def test_corpus_splices_nonspeech_into_paired_items(tmp_path):
    spec = CorpusSpec(tmp_path / "n", 8, seed=2, paired_fraction=1.0, nonspeech_fraction=1.0,
                      sources=("hts", "espeak"))
    meta = make_corpus(spec, progress=False)
    rows = _rows(spec.out)
    assert all(r["nonspeech"] in KINDS for r in rows) and sum(meta["nonspeech"].values()) == 8
    for r in rows:
        align = json.loads((spec.out / r["alignment"]).read_text())
        lm = np.load(spec.out / r["landmarks"])
        assert lm.shape[0] == round(sf.info(str(spec.out / r["audio"])).duration * 30)
        assert align["starts"][1] >= 0.4  # the leading non-speech
    face = mean_face()
    assert face.shape == (70, 2)
