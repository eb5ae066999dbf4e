"""Landmark metrics of the paper's Table 1 as defined below (one definition per metric).

Landmarks are ``[T, 70, 2]`` (OpenPose face-70, see :mod:`uniflg.landmarks`).

* Normalization: every distance is divided by the **reference** face's inter-ocular distance (outer
  eye corners 36 and 45), averaged over the reference utterance's frames, and reported in %.
* D-LL: mean Euclidean distance between predicted and reference lip points 48-67, over points and
  frames. D-L: the same over all 70 points.
* D-VL / D-V: the same distances between velocities (frame differences ``x[t+1] - x[t]``), lips / all.
* D-A: mean |A_pred - A_ref| / mean A_ref over frames, A = shoelace area of the inner-lip polygon
  60-67, in %.
* Over an evaluation set, frames are pooled: sums over all frames of all utterances divided by the
  total frame count (areas are first divided by each utterance's squared inter-ocular distance).
* Sequences must already share a timeline: align text-driven outputs with
  :func:`uniflg_train.evaluation.dtw.dtw` and :func:`~uniflg_train.evaluation.dtw.warp_to_reference`
  first (see :func:`align_landmarks`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np
from uniflg.landmarks import FPS, INNER_LIP, LEFT_EYE_CORNERS, LIPS, N_POINTS, RIGHT_EYE_CORNERS, check_track

from uniflg_train.evaluation.dtw import dtw, warp_to_reference

OUTER_EYE_CORNERS = (RIGHT_EYE_CORNERS[0], LEFT_EYE_CORNERS[1])  # (36, 45)
LANDMARK_METRICS = ("D-LL", "D-VL", "D-A", "D-L", "D-V")
_LIPS = np.asarray(LIPS)
_INNER = np.asarray(INNER_LIP)


def _check(landmarks: np.ndarray) -> np.ndarray:
    return check_track(landmarks, empty=True, dtype=np.float64)


def interocular_distance(reference: np.ndarray) -> float:
    """Mean distance between the outer eye corners 36 and 45 over the reference's frames."""
    ref = _check(reference)
    a, b = OUTER_EYE_CORNERS
    iod = float(np.linalg.norm(ref[:, a] - ref[:, b], axis=-1).mean())
    if not iod > 0:
        raise ValueError("reference inter-ocular distance is zero")
    return iod


def polygon_area(points: np.ndarray) -> np.ndarray:
    """Shoelace area of polygons ``[..., K, 2]`` (vertices in order); returns ``[...]``, >= 0."""
    x, y = points[..., 0], points[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1))


def mouth_area(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip (60-67) polygon area per frame, ``[T]``."""
    return polygon_area(_check(landmarks)[:, _INNER])


def energy_envelope(audio: np.ndarray, sample_rate: int, fps: int = FPS, db: bool = False) -> np.ndarray:
    """RMS of the samples that landmark frame i covers, ``[i / fps, (i + 1) / fps)``, for
    ``round(len / sr * fps)`` frames (the SDK's frame count); ``db`` gives 20 log10(rms + 1e-8)."""
    wav = np.asarray(audio, dtype=np.float64).ravel()
    n_frames = int(round(len(wav) * fps / sample_rate))
    bounds = np.round(np.arange(n_frames + 1) * sample_rate / fps).astype(np.int64)
    power = np.concatenate([[0.0], np.cumsum(wav * wav)])
    hi = np.minimum(bounds[1:], len(wav))
    lo = np.minimum(bounds[:-1], hi)
    counts = np.maximum(hi - lo, 1)
    rms = np.sqrt((power[hi] - power[lo]) / counts)
    return 20.0 * np.log10(rms + 1e-8) if db else rms


def mean_face_prediction(neutral: np.ndarray, n_frames: int) -> np.ndarray:
    """The "mean face" baseline: the neutral face ``[70, 2]`` repeated for ``n_frames``."""
    face = np.asarray(neutral, dtype=np.float32).reshape(N_POINTS, 2)
    return np.repeat(face[None], n_frames, axis=0)


def neutral_face(references: Iterable[np.ndarray]) -> np.ndarray:
    """Fallback neutral face: the mean of all reference frames (use the model's mean face when known)."""
    stacked = np.concatenate([_check(r) for r in references])
    return stacked.mean(axis=0).astype(np.float32)


def align_landmarks(prediction: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """DTW-align a text-driven prediction to the reference timeline (feature: all 140 coordinates per
    frame); returns a prediction with the reference's frame count."""
    pred, ref = _check(prediction), _check(reference)
    result = dtw(pred, ref)
    return warp_to_reference(pred, result.path, len(ref))


@dataclass(frozen=True)
class LandmarkSums:
    """Sufficient statistics of the landmark metrics; add them across utterances, then ``.metrics()``."""

    lip_dist: float = 0.0  # sum over frames of mean lip-point distance / iod
    all_dist: float = 0.0
    lip_vel: float = 0.0
    all_vel: float = 0.0
    area_abs: float = 0.0  # sum over frames of |A_pred - A_ref| / iod^2
    area_ref: float = 0.0  # sum over frames of A_ref / iod^2
    frames: int = 0
    vel_frames: int = 0

    def __add__(self, other: LandmarkSums) -> LandmarkSums:
        return LandmarkSums(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def metrics(self) -> dict[str, float]:
        """D-LL, D-VL, D-A, D-L, D-V in % (NaN where nothing was accumulated)."""
        def ratio(num: float, den: float) -> float:
            return 100.0 * num / den if den > 0 else float("nan")

        return {
            "D-LL": ratio(self.lip_dist, self.frames),
            "D-VL": ratio(self.lip_vel, self.vel_frames),
            "D-A": ratio(self.area_abs, self.area_ref),
            "D-L": ratio(self.all_dist, self.frames),
            "D-V": ratio(self.all_vel, self.vel_frames),
        }


def landmark_sums(prediction: np.ndarray, reference: np.ndarray) -> LandmarkSums:
    """Statistics for one utterance whose prediction is already on the reference timeline."""
    pred, ref = _check(prediction), _check(reference)
    if pred.shape != ref.shape:
        raise ValueError(f"prediction {pred.shape} and reference {ref.shape} differ: align them first")
    iod = interocular_distance(ref)
    dist = np.linalg.norm(pred - ref, axis=-1) / iod  # (T, 70)
    vel = np.linalg.norm(np.diff(pred, axis=0) - np.diff(ref, axis=0), axis=-1) / iod  # (T-1, 70)
    area_p, area_r = mouth_area(pred) / iod**2, mouth_area(ref) / iod**2
    return LandmarkSums(
        lip_dist=float(dist[:, _LIPS].mean(axis=1).sum()), all_dist=float(dist.mean(axis=1).sum()),
        lip_vel=float(vel[:, _LIPS].mean(axis=1).sum()) if len(vel) else 0.0,
        all_vel=float(vel.mean(axis=1).sum()) if len(vel) else 0.0,
        area_abs=float(np.abs(area_p - area_r).sum()), area_ref=float(area_r.sum()),
        frames=len(ref), vel_frames=len(vel),
    )


def landmark_metrics(prediction: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """D-LL, D-VL, D-A, D-L, D-V (%) for one utterance on a shared timeline."""
    return landmark_sums(prediction, reference).metrics()
