"""MediaPipe Face Mesh (478 points with iris refinement) -> OpenPose face-70 order. No MediaPipe import.

Each OpenPose point takes the Face Mesh vertex at the same anatomical place (jaw contour, brows, nose,
eye corners and lids, lip contours); the pupils (68 right, 69 left: the subject's) are the iris centres
468 and 473. "Right" is the subject's right, which is the image left in a frontal video.
"""

from __future__ import annotations

import numpy as np
from uniflg.landmarks import N_POINTS

MEDIAPIPE_POINTS = 478  # 468 mesh vertices + 2 x 5 iris points (refine_landmarks=True)

MEDIAPIPE_TO_OPENPOSE: tuple[int, ...] = (
    # jaw 0-16, from the subject's right ear level down to the chin and up to the left
    127, 234, 93, 132, 58, 172, 136, 150, 152, 379, 365, 397, 288, 361, 323, 454, 356,
    # right brow 17-21 (outer -> inner), left brow 22-26 (inner -> outer)
    70, 63, 105, 66, 107,
    336, 296, 334, 293, 300,
    # nose bridge 27-30, nose base 31-35
    168, 197, 5, 4,
    75, 97, 2, 326, 305,
    # right eye 36-41: outer corner, upper lid x2, inner corner, lower lid x2
    33, 160, 158, 133, 153, 144,
    # left eye 42-47: inner corner, upper lid x2, outer corner, lower lid x2
    362, 385, 387, 263, 373, 380,
    # outer lip 48-59: right corner, upper lip to the left corner, lower lip back
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # inner lip 60-67
    78, 82, 13, 312, 308, 317, 14, 87,
    # pupils 68 (right), 69 (left): iris centres
    468, 473,
)

assert len(MEDIAPIPE_TO_OPENPOSE) == N_POINTS
assert len(set(MEDIAPIPE_TO_OPENPOSE)) == N_POINTS


def to_openpose(points: np.ndarray) -> np.ndarray:
    """[..., 478, 2 or 3] Face Mesh points -> [..., 70, 2] in OpenPose order (z dropped)."""
    pts = np.asarray(points)
    if pts.shape[-2] != MEDIAPIPE_POINTS:
        raise ValueError(f"expected {MEDIAPIPE_POINTS} Face Mesh points (refine_landmarks=True); got {pts.shape}")
    return pts[..., list(MEDIAPIPE_TO_OPENPOSE), :2].astype(np.float32)
