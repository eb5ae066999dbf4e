"""The acceptance report's pieces: the paper's claims from a table, and lip-opening correlations."""

from __future__ import annotations

import numpy as np
import pytest
from uniflg_train.evaluation.evaluate import Prediction, Reference
from uniflg_train.evaluation.report import check_claims, lip_correlations
from uniflg_train.evaluation.table import MethodResult, ResultTable


def _face_track(openings: np.ndarray) -> np.ndarray:
    track = np.zeros((len(openings), 70, 2), np.float32)
    track[:, :, 0] = np.linspace(0, 1, 70)
    track[:, [62, 66], 0] = 0.5  # inner-lip top and bottom on one vertical line
    track[:, 66, 1] = openings  # the bottom moves down as the mouth opens
    return track


def test_claims_compare_the_named_methods() -> None:
    rows = (MethodResult("UniFLG-T", "text", {"D-LL": 8.41, "D-L": 3.55}),
            MethodResult("TTL", "text", {"D-LL": 9.16, "D-L": 3.40}),
            MethodResult("UniFLG-P", "text", {"D-LL": 8.69, "D-L": 3.70}))
    checks = {(c.claim, c.metric): c for c in check_claims(ResultTable(rows))}
    assert checks[("UniFLG-T <= TTL", "D-LL")].holds is True
    assert checks[("UniFLG-T <= TTL", "D-L")].holds is False  # 3.55 > 3.40: reported, not hidden
    assert checks[("UniFLG-T <= UniFLG-P", "D-LL")].holds is True
    assert checks[("UniFLG-S <= STL", "D-LL")].holds is None  # neither method present


def test_lip_correlation_is_one_for_a_scaled_copy_and_minus_one_for_an_inverted_one() -> None:
    t = np.linspace(0, 6, 90)
    ref = _face_track(0.05 + 0.04 * np.sin(t))
    refs = {"a": Reference("a", ref)}
    same = {"UniFLG-S": [Prediction("a", _face_track(0.1 + 0.08 * np.sin(t)))]}
    inverted = {"UniFLG-S": [Prediction("a", _face_track(0.05 - 0.04 * np.sin(t)))]}
    assert lip_correlations(same, refs)["UniFLG-S"] == pytest.approx(1.0, abs=1e-9)
    assert lip_correlations(inverted, refs)["UniFLG-S"] == pytest.approx(-1.0, abs=1e-9)
