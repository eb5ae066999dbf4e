"""Evaluation metrics against hand-computed values, DTW, MCD, tables and the eval core."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.signal import lfilter
from uniflg_train.evaluation.dtw import dtw, warp_to_reference
from uniflg_train.evaluation.evaluate import Prediction, Reference, evaluate
from uniflg_train.evaluation.lips import inner_lip_gap, pearson
from uniflg_train.evaluation.mcd import MelCepstrumOptions, cepstrum_from_log_spectrum, mcd, mel_alpha
from uniflg_train.evaluation.metrics import (
    align_landmarks,
    energy_envelope,
    interocular_distance,
    landmark_metrics,
    mouth_area,
    polygon_area,
)
from uniflg_train.evaluation.runner import EvalItem, run_eval
from uniflg_train.evaluation.table import METHODS, METRICS, ResultTable

SR = 24000


def talking_face(frames: int = 60, seed: int = 0, speed: float = 1.0) -> np.ndarray:
    """A synthetic face: a fixed random layout, eye corners 36/45 0.4 apart, a mouth that opens
    and closes smoothly (time-warpable via ``speed``)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.2, 0.8, size=(70, 2))
    base[36], base[45] = (0.3, 0.4), (0.7, 0.4)
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    base[60:68] = np.stack([0.5 + 0.08 * np.cos(angles), 0.75 + 0.03 * np.sin(angles)], axis=1)
    t = np.arange(frames) / 30.0 * speed
    opening = 0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t) * np.sin(2 * np.pi * 0.4 * t)
    seq = np.repeat(base[None], frames, axis=0)
    seq[:, 48:68, 1] += (seq[:, 48:68, 1] - 0.75) * opening[:, None] * 2.0  # vertical stretch of the lips
    seq[:, 0:17, 1] += 0.02 * opening[:, None]  # the jaw follows
    return seq


def test_identical_sequences_give_zero() -> None:
    face = talking_face()
    assert all(v == 0.0 for v in landmark_metrics(face, face).values())


def test_known_lip_offset_gives_five_percent() -> None:
    ref = talking_face()
    iod = interocular_distance(ref)
    assert iod == pytest.approx(0.4)
    pred = ref.copy()
    pred[:, 48:68] += np.array([0.6, 0.8]) * 0.05 * iod  # every lip point moves 5 % of the IOD
    m = landmark_metrics(pred, ref)
    assert m["D-LL"] == pytest.approx(5.0)
    assert m["D-L"] == pytest.approx(5.0 * 20 / 70)
    assert m["D-VL"] == pytest.approx(0.0, abs=1e-9) and m["D-V"] == pytest.approx(0.0, abs=1e-9)
    assert m["D-A"] == pytest.approx(0.0, abs=1e-9)  # translation keeps the area


def test_velocity_metric_on_a_hand_computed_case() -> None:
    ref = np.repeat(talking_face(1), 3, axis=0)
    pred = ref.copy()
    pred[1, 48:68, 0] += 0.04  # a one-frame blip: velocities +0.04 then -0.04 on the lips
    m = landmark_metrics(pred, ref)
    assert m["D-VL"] == pytest.approx(100 * 0.04 / 0.4)
    assert m["D-V"] == pytest.approx(100 * 0.04 / 0.4 * 20 / 70)
    assert m["D-LL"] == pytest.approx(100 * 0.04 / 0.4 / 3)


def test_mouth_area_on_a_hand_computed_polygon() -> None:
    # 60 = a mouth corner, 61-63 the upper inner lip, 64 the other corner, 65-67 the lower inner lip.
    square = np.array([[0, 1], [0, 0], [1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [0, 2]], dtype=float)
    assert polygon_area(square) == pytest.approx(4.0)
    ref = np.zeros((2, 70, 2))
    ref[:, 36], ref[:, 45] = (0, 0), (2, 0)  # IOD = 2
    ref[:, 60:68] = square
    pred = ref.copy()
    pred[:, 60:68, 1] *= 1.5  # area 6 instead of 4 -> |6 - 4| / 4 = 50 %
    assert mouth_area(pred) == pytest.approx([6.0, 6.0])
    assert landmark_metrics(pred, ref)["D-A"] == pytest.approx(50.0)
    assert inner_lip_gap(ref)[0] == pytest.approx(2.0)  # 62 = (1, 0), 66 = (1, 2)
    assert inner_lip_gap(pred)[0] == pytest.approx(3.0)


def test_dtw_aligns_a_time_stretched_copy() -> None:
    ref = talking_face(90)
    slow = talking_face(135, speed=90 / 135)  # the same motion 1.5x slower
    aligned = align_landmarks(slow, ref)
    assert aligned.shape == ref.shape
    m = landmark_metrics(aligned, ref)
    unaligned = landmark_metrics(slow[:90], ref)
    assert m["D-LL"] < 0.5 and m["D-LL"] < unaligned["D-LL"] / 10


def test_dtw_path_on_a_hand_case() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])[:, None]
    y = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0])[:, None]
    result = dtw(x, y)
    assert result.cost == 0.0
    assert result.path.tolist() == [[0, 0], [0, 1], [1, 2], [1, 3], [2, 4], [3, 5], [3, 6]]
    assert warp_to_reference(x, result.path, len(y)).ravel().tolist() == y.ravel().tolist()


def test_pearson_and_energy_envelope() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    audio = np.concatenate([np.zeros(800), 0.5 * np.ones(800), np.zeros(400)])  # 2000 samples -> 2.5 frames
    env = energy_envelope(audio, SR)
    assert env.shape == (2,) and env[0] == 0.0 and env[1] == pytest.approx(0.5)
    assert len(energy_envelope(np.zeros(SR), SR)) == 30


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(SR * 2) * 0.1


def test_mcd_identical_is_zero_and_gain_is_ignored(noise: np.ndarray) -> None:
    assert mcd(noise, noise, SR) == 0.0
    assert mcd(noise, 3.0 * noise, SR) == pytest.approx(0.0, abs=1e-9)  # c0 excluded


def test_mcd_of_a_known_filter(noise: np.ndarray) -> None:
    """y = x filtered by 1 - b z^-1: ln|H| has cepstrum -b^m / m, so without warping
    MCD = (10 / ln 10) sqrt(2 sum_m (b^m / m)^2)."""
    b = 0.5
    filtered = lfilter([1.0, -b], [1.0], noise)
    expected = 10 / np.log(10) * np.sqrt(2 * sum((b**m / m) ** 2 for m in range(1, 25)))
    assert expected == pytest.approx(3.1775, abs=1e-4)
    assert mcd(noise, filtered, SR, MelCepstrumOptions(alpha=0.0)) == pytest.approx(expected, rel=0.01)
    # With mel warping: reference value from SPTK's freqt recursion applied to that cepstrum.
    warped = _freqt(np.array([0.0] + [-(b**m) / m for m in range(1, 200)]), 24, mel_alpha(SR))
    expected_mel = 10 / np.log(10) * np.sqrt(2 * np.sum(warped[1:] ** 2))
    assert mcd(noise, filtered, SR) == pytest.approx(expected_mel, rel=0.01)


def test_mel_cepstrum_matches_freqt() -> None:
    omega = np.linspace(0, np.pi, 513)
    log_h = np.log(np.abs(1 - 0.5 * np.exp(-1j * omega)))
    ours = cepstrum_from_log_spectrum(log_h, 0.466, 24)
    ref = _freqt(np.array([0.0] + [-(0.5**m) / m for m in range(1, 200)]), 24, 0.466)
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert mel_alpha(24000) == pytest.approx(0.466) and mel_alpha(16000) == pytest.approx(0.41)


def _freqt(c: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """SPTK's freqt (frequency transform of a minimum-phase cepstrum), as an independent reference."""
    g = np.zeros(order + 1)
    for value in c[::-1]:
        d = g.copy()
        g[0] = value + alpha * d[0]
        g[1] = (1 - alpha * alpha) * d[0] + alpha * d[1]
        for j in range(2, order + 1):
            g[j] = d[j - 1] + alpha * (d[j] - g[j - 1])
    return g


def test_evaluate_table_has_every_method_and_metric() -> None:
    refs = [Reference(f"u{i}", talking_face(45, seed=0), np.random.default_rng(i).standard_normal(SR) * 0.1)
            for i in range(2)]
    preds = {
        "UniFLG-T": [Prediction(r.utt_id, talking_face(60, speed=0.75), r.audio, SR, 0.01) for r in refs],
        "UniFLG-S": [Prediction(r.utt_id, r.landmarks, None, SR, 0.02) for r in refs],
    }
    table = evaluate(preds, refs)
    rows = {r.method: r for r in table.rows}
    assert set(rows) == {"UniFLG-T", "UniFLG-S", "mean-face"}
    assert rows["UniFLG-S"].value("D-LL") == 0.0 and rows["UniFLG-S"].value("MCD") is None
    assert rows["UniFLG-T"].value("MCD") == 0.0 and rows["UniFLG-T"].value("D-LL") < 1.0
    assert rows["UniFLG-T"].value("RTF") == pytest.approx(0.01)
    assert rows["mean-face"].value("D-LL") > 5.0 and rows["mean-face"].value("RTF") is None
    data = json.loads(table.to_json())
    assert data["metrics"] == list(METRICS)
    assert all(set(METRICS) <= set(row) for row in data["methods"])
    md = table.to_markdown()
    assert md.splitlines()[0].startswith("| Input | Method | D-LL ↓ [%]") and "| Baseline | mean-face |" in md


class _FakeSystem:
    sample_rate = SR

    def predict_text(self, item: EvalItem) -> tuple[np.ndarray, np.ndarray]:
        return item.audio, item.landmarks

    def predict_speech(self, item: EvalItem) -> np.ndarray:
        return item.landmarks

    def predict_pipelined(self, item: EvalItem) -> tuple[np.ndarray, np.ndarray]:
        return item.audio, item.landmarks


def test_run_eval_lists_every_method() -> None:
    audio = np.random.default_rng(0).standard_normal(SR // 2) * 0.1
    items = [EvalItem("a", "テスト", audio, SR, talking_face(15))]
    table = run_eval(items, {"UniFLG": _FakeSystem(), "STL": _FakeSystem()})
    data = json.loads(table.to_json())
    assert sorted(r["method"] for r in data["methods"]) == sorted(METHODS)
    by_name = {r["method"]: r for r in data["methods"]}
    assert by_name["UniFLG-T"]["D-LL"] == 0.0 and by_name["UniFLG-T"]["RTF"] is not None
    assert by_name["TTL"]["D-LL"] is None and "not run" in by_name["TTL"]["note"]


def test_markdown_shape_like_table_1() -> None:
    records = [{"method": "UniFLG-T", "D-LL": 8.41, "D-VL": 1.86, "D-A": 16.2, "D-L": 3.55, "D-V": 0.66,
                "RTF": 0.027}, {"method": "UniFLG-S", "D-LL": 8.82}]
    lines = ResultTable.from_records(records).to_markdown().splitlines()
    assert lines[2] == "| Text | UniFLG-T | 8.41 | 1.86 | 16.2 | 3.55 | 0.660 | — | 0.0270 |"
    assert lines[3].startswith("| Speech | UniFLG-S | 8.82 | — |")


def test_eval_command_parses_and_reports_unwired_loaders(tmp_path) -> None:
    import argparse

    from uniflg.errors import UniFLGError
    from uniflg_train.evaluation import command

    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers())
    args = parser.parse_args(["eval", "--data", str(tmp_path), "--run", str(tmp_path), "--json",
                              "--baseline", f"STL={tmp_path}"])
    assert args.json and args.baseline == [("STL", tmp_path)]
    with pytest.raises(UniFLGError):
        args.func(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--data", "d", "--run", "r", "--baseline", "XX=1"])
