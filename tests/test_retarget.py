"""The retargeter on synthetic faces: each control moves the blendshapes it should, and only those."""

from __future__ import annotations

import numpy as np
import pytest
from bridge_fakes import synthetic_face
from uniflg.errors import InvalidInputError
from uniflg.retarget import ARKIT_52, VRM0, Calibration, Retargeter


@pytest.fixture(scope="module")
def rt() -> Retargeter:
    return Retargeter.from_neutral(synthetic_face())


def arkit(rt: Retargeter, **controls: float) -> dict[str, float]:
    w = rt.arkit(synthetic_face(**controls))[0]
    return dict(zip(ARKIT_52, w.tolist(), strict=True))


def vrm(rt: Retargeter, **controls: float) -> dict[str, float]:
    w = rt.vrm(synthetic_face(**controls))[0]
    return dict(zip(VRM0, w.tolist(), strict=True))


def test_name_lists() -> None:
    assert len(ARKIT_52) == 52 and len(set(ARKIT_52)) == 52
    assert ARKIT_52[0] == "eyeBlinkLeft" and ARKIT_52[17] == "jawOpen" and ARKIT_52[-1] == "tongueOut"
    assert {"A", "I", "U", "E", "O", "Blink", "Joy", "Sorrow", "Blink_L", "Blink_R"} <= set(VRM0)


def test_neutral_face_gives_zero_weights(rt: Retargeter) -> None:
    assert np.abs(rt.arkit(synthetic_face())).max() < 1e-5
    assert np.abs(rt.vrm(synthetic_face())).max() < 1e-5


def test_open_mouth_raises_jaw_open_and_a(rt: Retargeter) -> None:
    half, full = arkit(rt, jaw=0.5), arkit(rt, jaw=1.0)
    assert 0.1 < half["jawOpen"] < full["jawOpen"] <= 1.0
    assert vrm(rt, jaw=1.0)["A"] > 0.5
    assert full["eyeBlinkLeft"] == 0 and full["mouthSmileLeft"] < 0.1


def test_closed_eyes_blink(rt: Retargeter) -> None:
    both = arkit(rt, blink_left=1.0, blink_right=1.0)
    assert both["eyeBlinkLeft"] == pytest.approx(1.0) and both["eyeBlinkRight"] == pytest.approx(1.0)
    assert both["jawOpen"] == 0
    v = vrm(rt, blink_left=1.0, blink_right=1.0)
    assert v["Blink"] == pytest.approx(1.0) and v["Blink_L"] == pytest.approx(0.0)


def test_one_eye_is_the_subjects_left(rt: Retargeter) -> None:
    w = arkit(rt, blink_left=1.0)
    assert w["eyeBlinkLeft"] > 0.9 and w["eyeBlinkRight"] == 0
    v = vrm(rt, blink_left=1.0)
    assert v["Blink"] == 0 and v["Blink_L"] > 0.9 and v["Blink_R"] == 0


def test_smile_and_frown(rt: Retargeter) -> None:
    w = arkit(rt, smile=1.0)
    assert w["mouthSmileLeft"] > 0.5 and w["mouthSmileRight"] > 0.5 and w["mouthFrownLeft"] == 0
    assert vrm(rt, smile=1.0)["Joy"] > 0.5
    f = arkit(rt, smile=-1.0)
    assert f["mouthFrownLeft"] > 0.5 and f["mouthSmileLeft"] == 0
    assert vrm(rt, smile=-1.0)["Sorrow"] > 0.2


def test_pucker_gives_u_and_o(rt: Retargeter) -> None:
    assert arkit(rt, pucker=1.0)["mouthPucker"] > 0.5
    assert vrm(rt, pucker=1.0)["U"] > 0.5
    assert vrm(rt, pucker=1.0, jaw=1.0)["O"] > 0.5


def test_brows_and_gaze(rt: Retargeter) -> None:
    w = arkit(rt, brow_up=1.0)
    assert w["browInnerUp"] > 0.3 and w["browOuterUpLeft"] > 0.3 and w["browDownLeft"] == 0
    g = arkit(rt, look_left=1.0)
    assert g["eyeLookOutLeft"] > 0.3 and g["eyeLookInRight"] > 0.3 and g["eyeLookInLeft"] == 0


def test_values_clipped_and_scale_invariant(rt: Retargeter) -> None:
    faces = np.stack([synthetic_face(jaw=j, smile=s) for j in (0, 3) for s in (-3, 3)])
    w = rt.arkit(faces)
    assert w.shape == (4, 52) and w.dtype == np.float32 and w.min() >= 0 and w.max() <= 1
    moved = synthetic_face(jaw=0.5) * 3.0 + 7.0  # the same face, bigger and elsewhere
    np.testing.assert_allclose(rt.arkit(moved), rt.arkit(synthetic_face(jaw=0.5)), atol=1e-5)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError):
        Calibration.from_neutral(np.zeros((68, 2)))
    rt = Retargeter.from_neutral(synthetic_face())
    bad = synthetic_face()
    bad[3, 0] = np.nan
    with pytest.raises(InvalidInputError):
        rt.arkit(bad)
    with pytest.raises(InvalidInputError):
        rt.weights(synthetic_face(), ("nope",))
    assert rt.weights(synthetic_face(jaw=1), ("A", "jawOpen")).shape == (1, 2)
