"""VRM A..O from the per-voice vowel classifier (uniflg.vowels): procedural faces whose vowels are known, then the
shipped voice on held-out sentences."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from uniflg.avatar import AvatarStream, face_calibration, frame_symbols
from uniflg.errors import InvalidInputError
from uniflg.retarget import VRM0, Calibration, Retargeter
from uniflg.vowels import VOWELS, VowelModel, mouth_shape
from uniflg_train.corpus.face import make_track

CONSONANTS = ("k", "s", "t", "n", "m", "r", "w", "h", "y", "g", "d", "b", "p", "sh", "ch", "")
FIVE = [VRM0.index(v) for v in "AIUEO"]


def sentence(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A procedural utterance of random (C)V syllables: landmarks [T, 70, 2] with coarticulation, head motion and
    blinks (uniflg_train.corpus.face), and the token at each frame."""
    rng = np.random.default_rng(seed)
    symbols, durations = ["pau"], [0.3]
    for _ in range(int(rng.integers(8, 14))):
        consonant = CONSONANTS[rng.integers(len(CONSONANTS))]
        if consonant:
            symbols.append(consonant)
            durations.append(rng.uniform(0.05, 0.09))
        symbols.append(VOWELS[rng.integers(5)])
        durations.append(rng.uniform(0.07, 0.16))
    symbols.append("pau")
    durations.append(0.3)
    ends = np.cumsum(durations)
    starts = ends - np.array(durations)
    # lead 0: each frame shows exactly the token labelled at its time
    lm = make_track(symbols, starts, ends, float(ends[-1]), "mei", "normal", np.random.default_rng(seed + 1000),
                    lead=0.0)
    return lm, np.array(frame_symbols(list(zip(symbols, starts, ends, strict=True)), len(lm)))


def silence() -> np.ndarray:
    return make_track(["pau"], np.array([0.0]), np.array([2.0]), 2.0, "mei", "normal", np.random.default_rng(7))


def calibrate(seeds: range, classifier: bool = True) -> Calibration:
    tracks = [sentence(s) for s in seeds]
    speech = np.concatenate([lm for lm, _ in tracks])
    labels = np.concatenate([lab for _, lab in tracks])
    sentences = np.concatenate([np.full(len(lm), k) for k, (lm, _) in enumerate(tracks)])
    frames = {v: np.flatnonzero(labels == v) for v in VOWELS}
    if not classifier:
        return Calibration.from_tracks(silence(), speech, frames)
    return Calibration.from_tracks(silence(), speech, frames, labels=labels, sentences=sentences)


@pytest.fixture(scope="module")
def calibration() -> Calibration:
    return calibrate(range(30))


def shares(retargeter: Retargeter, seeds: range) -> dict[str, float]:
    """Per vowel: the share of its frames where its VRM shape is the largest of the five (and above 0)."""
    weights, labels = [], []
    for s in seeds:
        lm, lab = sentence(s)
        weights.append(retargeter.vowels(lm)[0])
        labels.append(lab)
    w, lab = np.concatenate(weights), np.concatenate(labels)
    return {v: float(((w[lab == v].argmax(1) == k) & (w[lab == v, k] > 0)).mean()) for k, v in enumerate(VOWELS)}


def test_unseen_vowels_read_as_their_own_shape(calibration: Calibration) -> None:
    """Fitted on 30 utterances, read on 15 others: every vowel wins on >= 80 % of its frames (coarticulated
    transitions included), and the worst vowel does better than with the older nearest-prototype rule."""
    assert calibration.vowel_model is not None
    new = shares(Retargeter(calibration), range(100, 115))
    old = shares(Retargeter(calibrate(range(30), classifier=False)), range(100, 115))
    assert min(new.values()) >= 0.8, new
    assert min(new.values()) > min(old.values()), (new, old)
    cv = calibration.vowel_model.cv_share  # what cross-validation promised is what unseen speech gets
    assert set(cv) == set(VOWELS) and all(abs(cv[v] - new[v]) < 0.12 for v in VOWELS), (cv, new)


def flicker(retargeter: Retargeter, seeds: range) -> float:
    """Share of frames where one of A..O jumps by more than 0.15 and straight back."""
    out = []
    for seed in seeds:
        d = np.diff(retargeter.vowels(sentence(seed)[0])[0], axis=0)
        out.append(((d[1:] > 0.15) & (d[:-1] < -0.15) | (d[1:] < -0.15) & (d[:-1] > 0.15)).any(1))
    return float(np.concatenate(out).mean())


def test_weights_share_the_activity_and_rest_reads_zero(calibration: Calibration) -> None:
    rt = Retargeter(calibration)
    rest, _ = rt.vowels(silence())
    assert rest.max() < 0.02
    tracks = [sentence(seed) for seed in range(200, 205)]
    weights = np.concatenate([rt.vowels(lm)[0] for lm, _ in tracks])
    labels = np.concatenate([lab for _, lab in tracks])
    assert weights.min() >= 0 and (weights.sum(1) <= 1 + 1e-6).all()  # a blend never opens past one full vowel
    assert np.median(weights[labels == "a", 0]) > 0.5  # a typical /a/ reads clearly as A
    old = flicker(Retargeter(calibrate(range(30), classifier=False)), range(200, 205))
    assert flicker(rt, range(200, 205)) <= 0.6 * old  # smoothed posteriors: far less flicker than the old rule


def test_pose_and_size_change_nothing(calibration: Calibration) -> None:
    """Head roll, scale and position cancel (the features live in a face-aligned frame)."""
    lm, _ = sentence(300)
    a = np.deg2rad(12.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = (lm @ rot.T) * 1.7 + np.array([0.3, -0.2])
    rt = Retargeter(calibration)
    np.testing.assert_allclose(rt.vowels(moved.astype(np.float32))[0], rt.vowels(lm)[0], atol=2e-4)


def test_chunked_stream_equals_whole(calibration: Calibration) -> None:
    lm, _ = sentence(400)
    whole = AvatarStream(Retargeter(calibration)).weights(0, lm)[1]
    stream = AvatarStream(Retargeter(calibration))
    cuts = [0, 1, 8, 9, 40, len(lm)]
    parts = np.concatenate([stream.weights(a, lm[a:b])[1] for a, b in zip(cuts, cuts[1:], strict=False)])
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    fresh = AvatarStream(Retargeter(calibration)).weights(40, lm[40:])[1]  # a restart forgets the past
    np.testing.assert_allclose(stream.weights(40, lm[40:])[1], fresh, atol=1e-6)


def test_calibration_round_trips_and_old_dicts_still_load(calibration: Calibration,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    lm, _ = sentence(500)
    data = calibration.to_dict()
    again = Calibration.from_dict(data)
    np.testing.assert_allclose(Retargeter(again).vrm(lm), Retargeter(calibration).vrm(lm), atol=1e-4)  # 7 digits
    old = {k: v for k, v in data.items() if k != "vowel_model"}  # a voice.json written before the classifier
    legacy = Calibration.from_dict(old)
    assert legacy.vowel_model is None
    assert Retargeter(legacy).vowels(lm)[1] is None  # the prototype rule, stateless

    class OldVoice:
        class spec:  # noqa: N801 - stands in for a VoiceSpec
            name = "old"
            face_calibration = old

    with caplog.at_level(logging.WARNING, logger="uniflg.avatar"):
        assert face_calibration(OldVoice()).vowel_model is None
    assert "uniflg calibrate-face" in caplog.text


def test_bad_vowel_models_are_refused(calibration: Calibration) -> None:
    data = calibration.to_dict()
    other = dict(data, vowel_model=dict(data["vowel_model"], features=["lip_gap"]))
    with pytest.raises(InvalidInputError, match="recalibrate"):
        Calibration.from_dict(other)
    broken = dict(data, vowel_model=dict(data["vowel_model"], means=[[0.0]]))
    with pytest.raises(InvalidInputError, match="means"):
        Calibration.from_dict(broken)
    lm, lab = sentence(600)
    no_e = np.where(lab == "e", "pau", lab)
    with pytest.raises(InvalidInputError, match="too few"):
        VowelModel.fit(mouth_shape(lm), mouth_shape(silence()).mean(0), no_e)
    # a calibration whose sentences miss a vowel keeps the prototype rule instead of failing
    assert Calibration.from_tracks(silence(), lm, labels=no_e).vowel_model is None


def test_default_voice_reads_its_vowels() -> None:
    """The shipped voice on the 20 held-out sentences (not its calibration set): every vowel wins on >= 60 % of
    its frames, with little flicker; silence reads shut."""
    from uniflg.types import SynthesisOptions
    from uniflg.voice import load_voice
    from uniflg_train.evaluation.blendshapes import sentence_set
    from uniflg_train.evaluation.sentences import HELD_OUT_JA

    voice = load_voice()
    assert face_calibration(voice).vowel_model is not None, "run: uniflg calibrate-face"

    def weights(first: int, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return AvatarStream.for_voice(voice, blinks=False).weights(first, lm)

    report = sentence_set(voice, HELD_OUT_JA, weights, SynthesisOptions(), "ja")
    assert all(x is not None and x >= 0.6 for x in report["vowel_share"].values()), report["vowel_share"]
    assert report["vowel_flicker"] <= 0.05 and report["vowel_step"]["p95"] <= 0.5, report
    assert report["jaw_peak_min"] >= 0.6
    _, vrm = weights(0, voice.animate_array(np.zeros(2 * voice.sample_rate, np.float32), voice.sample_rate))
    assert vrm[:, FIVE].max() < 0.05


def test_blendshape_targets_judge_the_demo_sentence_too() -> None:
    """Issue 17 judges the demo sentence and the held-out set: a demo vowel under 60 % fails the vowel target,
    a vowel the demo lacks (its devoiced U) is not judged, a held-out vowel that never occurs fails."""
    from uniflg_train.evaluation.blendshapes import passes

    def report(demo: dict[str, float | None], ja: dict[str, float | None]) -> dict:
        def one(share: dict[str, float | None]) -> dict:
            return {"jaw_peak_min": 0.8, "vowel_share": share, "emotion_speech": {"Angry": 0.0}}
        return {"demo": one(demo), "ja": one(ja), "silence": {"Angry": 0.0}, "blinks_per_minute": 15.0}

    good = dict.fromkeys("AIUEO", 0.7)
    assert passes(report(good | {"U": None}, good))["vowel_share"]
    assert not passes(report(good | {"A": 0.16}, good))["vowel_share"]
    assert not passes(report(good, good | {"E": None}))["vowel_share"]
    assert passes(report(good, good)) == {"jaw_peak": True, "vowel_share": True, "emotion": True, "blinks": True}
