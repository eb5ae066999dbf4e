"""MediaPipe -> OpenPose index map (always) and real Face Mesh runs on scikit-image's astronaut photo
(only where the video environment exists: `make video-env`)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from uniflg_train.video.mapping import MEDIAPIPE_POINTS, MEDIAPIPE_TO_OPENPOSE, to_openpose


def test_index_map_is_a_70_point_injection_with_anatomical_anchors():
    m = MEDIAPIPE_TO_OPENPOSE
    assert len(m) == 70 and len(set(m)) == 70 and max(m) < MEDIAPIPE_POINTS
    anchors = {8: 152, 30: 4, 36: 33, 39: 133, 42: 362, 45: 263, 48: 61, 51: 0, 54: 291, 57: 17,
               62: 13, 66: 14, 68: 468, 69: 473}
    assert {k: m[k] for k in anchors} == anchors
    assert all(i < 468 for i in m[:68])  # only the pupils come from the iris points


def test_to_openpose_reorders_and_drops_z():
    pts = np.stack([np.arange(478), -np.arange(478), np.ones(478)], -1)[None].repeat(2, 0)  # (2, 478, 3)
    out = to_openpose(pts)
    assert out.shape == (2, 70, 2) and out.dtype == np.float32
    assert out[0, :, 0].tolist() == list(MEDIAPIPE_TO_OPENPOSE)
    with pytest.raises(ValueError, match="478"):
        to_openpose(np.zeros((468, 2)))


def _check_face(lm: np.ndarray) -> None:
    """Anatomy in image coordinates (x right, y down; the subject's right is the image left)."""
    assert np.isfinite(lm).all()
    assert lm[0, 0] < lm[8, 0] < lm[16, 0]                 # jaw runs right ear -> chin -> left ear
    assert lm[8, 1] > lm[57, 1] > lm[51, 1] > lm[30, 1]     # chin below lips below nose tip
    assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]    # eye corners in order
    assert lm[36, 0] < lm[68, 0] < lm[39, 0] and lm[42, 0] < lm[69, 0] < lm[45, 0]  # pupils inside the eyes
    assert lm[48, 0] < lm[62, 0] < lm[54, 0] and lm[62, 1] <= lm[66, 1]
    assert lm[19, 1] < lm[37, 1] and lm[24, 1] < lm[44, 1]   # brows above the eyes


def test_face_mesh_on_the_astronaut_photo(astronaut):
    from uniflg_train.video.extract import video_landmarks

    lm, fps = video_landmarks(astronaut)
    assert lm.shape == (1, 70, 2) and fps == 30.0
    _check_face(lm[0] * 512)
    # The face is in the upper middle of the 512 x 512 photo.
    centre = lm[0].mean(0) * 512
    assert 150 < centre[0] < 300 and 60 < centre[1] < 200


def test_face_video_gives_a_track(astronaut, tmp_path):
    from uniflg.ffmpeg import ffmpeg_exe
    from uniflg_train.video.extract import video_landmarks

    clip = tmp_path / "still.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-loop", "1", "-i", str(astronaut), "-t", "0.5",
                    "-r", "30", "-pix_fmt", "yuv420p", str(clip)], check=True)
    lm, fps = video_landmarks(clip)
    assert fps == pytest.approx(30.0) and lm.shape == (15, 70, 2)
    _check_face(lm[7] * 512)
    assert np.abs(lm - lm[:1]).max() < 0.01  # a still picture gives a still track
