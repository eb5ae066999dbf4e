"""Which vowel a mouth shows: a per-voice classifier fitted on the voice's own vowel frames (numpy only).

A frame is described by :data:`SHAPE_FEATURES` (lip gaps, widths and heights of the OpenPose-70 mouth in a
face-aligned frame, see :func:`mouth_shape`) minus the voice's rest face, plus their change since the
previous frame (where the mouth is heading, which separates a vowel from the consonant it leaves). Each
vowel a, i, u, e, o is a Gaussian over these features, with its covariance shrunk towards the pooled one:
regularized discriminant analysis (Friedman, "Regularized discriminant analysis", JASA 84(405), 1989;
Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*, 2nd ed., §4.3.1). The shrinkage is
chosen at calibration time by leave-sentences-out cross-validation on the voice's own frames, so nothing
is tuned to one voice. :class:`VowelModel` turns the class log-likelihoods into smooth VRM A..O weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from uniflg.errors import InvalidInputError
from uniflg.landmarks import FPS, check_track

VOWELS = ("a", "i", "u", "e", "o")
# Mouth shape per frame, all in inter-ocular distances (IOD) in a face frame: origin at the nose base (33),
# u along the eye line (subject's right -> left eye centre), v perpendicular to it, downwards.
SHAPE_FEATURES: tuple[str, ...] = (
    "lip_gap",       # |62 - 66|: inner lips
    "outer_gap",     # |51 - 57|: outer lips
    "width",         # |48 - 54|: mouth corners
    "inner_width",   # |60 - 64|: inner corners
    "upper_lip",     # v of 51: outer upper lip below the nose
    "lower_lip",     # v of 57: outer lower lip
    "upper_inner",   # v of 62
    "lower_inner",   # v of 66
    "corner_v",      # mean v of 48, 54: corners
    "chin",          # v of 8
)
SHRINKAGE_GRID = (0.25, 0.5, 0.75, 0.9)  # candidate weights of the pooled covariance (cross-validated)
DEFAULT_SHRINKAGE = 0.75                 # when there are too few sentences to cross-validate
CV_FOLDS = 5
RIDGE = 1e-3          # added to every covariance (standardized units): features like lip_gap/outer_gap co-vary
TEMPERATURE = 2.0     # softens the class posteriors into weights (1: the Bayes posterior); see weights()
SMOOTHING_SECONDS = 0.035  # time constant of the posteriors' causal low-pass (about one frame at 30 fps)
MIN_FRAMES = 3        # per vowel, to fit a Gaussian at all


def mouth_shape(landmarks: np.ndarray) -> np.ndarray:
    """``[T, 70, 2]`` (or ``[70, 2]``) OpenPose-70 landmarks -> ``[T, len(SHAPE_FEATURES)]`` float64 features.

    Invariant to translation, scale and in-plane rotation (head roll) of the face."""
    p = check_track(landmarks, single=True, empty=True, dtype=np.float64)
    eye_r, eye_l = p[:, 36:42].mean(1), p[:, 42:48].mean(1)  # (T, 2)
    axis = eye_l - eye_r
    iod = np.maximum(np.linalg.norm(axis, axis=-1), 1e-9)  # (T,)
    u = axis / iod[:, None]
    down = np.stack([-u[:, 1], u[:, 0]], -1)  # u rotated +90 deg: y-down in image coordinates

    def v(i: int) -> np.ndarray:
        return ((p[:, i] - p[:, 33]) * down).sum(-1) / iod

    def dist(i: int, j: int) -> np.ndarray:
        return np.linalg.norm(p[:, i] - p[:, j], axis=-1) / iod

    cols = (dist(62, 66), dist(51, 57), dist(48, 54), dist(60, 64), v(51), v(57), v(62), v(66),
            (v(48) + v(54)) / 2, v(8))
    return np.stack(cols, -1)


def with_motion(shape: np.ndarray, previous: np.ndarray | None = None,
                starts: np.ndarray | None = None) -> np.ndarray:
    """``[T, K]`` shapes -> ``[T, 2K]``: each frame's shape and its change since the frame before. ``previous``:
    the ``[K]`` shape of the frame before the first (a stream's last chunk), else the first frame has no
    motion; ``starts``: ``[T]`` bool, True where a new sentence begins (no motion across it)."""
    before = np.concatenate([shape[:1] if previous is None else previous[None], shape[:-1]])  # (T, K)
    if starts is not None:
        before[starts] = shape[starts]
    return np.concatenate([shape, shape - before], -1)


@dataclass(frozen=True, eq=False)
class VowelState:
    """Where a stream's vowel weights stand after its last frame: that frame's ``[K]`` mouth shape (for the
    next frame's motion) and its smoothed ``[5]`` posterior."""

    shape: np.ndarray
    posterior: np.ndarray


@dataclass(frozen=True, eq=False)
class VowelModel:
    """Gaussian class models of a voice's five vowels over standardized :func:`with_motion` features.

    ``rest``: ``[K]`` rest-face shape, subtracted first; ``scale``: ``[2K]`` pooled within-vowel spread that
    standardizes each feature; ``means`` ``[5, 2K]``, ``covariances`` ``[5, 2K, 2K]`` (standardized, shrunk);
    ``gaps``: ``[5]`` mean lip-gap growth per vowel (IOD): the opening at which that vowel's weight reaches 1;
    ``shrinkage``: the chosen weight of the pooled covariance; ``cv_share``: per vowel, the share of its
    frames that leave-sentences-out cross-validation assigned to it (what the calibration expects unseen
    speech to reach); ``fps``: the frame rate it was fitted at (motion is per frame).
    """

    rest: np.ndarray
    scale: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    gaps: np.ndarray
    shrinkage: float
    cv_share: dict[str, float]
    fps: int = FPS
    _inv_chol: np.ndarray = field(init=False, repr=False)  # (5, 2K, 2K): whitens each class
    _log_det: np.ndarray = field(init=False, repr=False)   # (5,)

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise InvalidInputError(f"vowel model fps must be positive, got {self.fps}")
        k2 = 2 * len(SHAPE_FEATURES)
        shapes = {"rest": (k2 // 2,), "scale": (k2,), "means": (5, k2), "covariances": (5, k2, k2), "gaps": (5,)}
        for name, shape in shapes.items():
            if np.shape(getattr(self, name)) != shape:
                raise InvalidInputError(f"vowel model {name} must have shape {shape}, "
                                        f"got {np.shape(getattr(self, name))}")
        # Precisions and log-determinants, once (the covariances are symmetric positive definite).
        chol = np.linalg.cholesky(self.covariances)  # raises LinAlgError if not positive definite
        object.__setattr__(self, "_inv_chol", np.linalg.inv(chol))
        object.__setattr__(self, "_log_det", 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(-1))

    @classmethod
    def fit(cls, shape: np.ndarray, rest: np.ndarray, labels: Sequence[str] | np.ndarray,
            sentences: np.ndarray | None = None, fps: int = FPS) -> VowelModel:
        """Fit on ``[N, K]`` shapes (:func:`mouth_shape`) of a voice's speech, ``rest`` ``[K]`` its rest shape,
        ``labels`` the token at each frame (vowel frames are those labelled a, i, u, e or o) and ``sentences``
        ``[N]`` the sentence index of each frame (motion restarts at each; cross-validation holds out whole
        sentences); ``fps`` the frame rate (motion is per frame). :class:`InvalidInputError` when a vowel has
        fewer than :data:`MIN_FRAMES` frames."""
        lab = np.asarray(labels)
        sent = np.zeros(len(lab), np.int64) if sentences is None else np.asarray(sentences, np.int64)
        if shape.shape != (len(lab), len(SHAPE_FEATURES)) or sent.shape != lab.shape:
            raise InvalidInputError(f"vowel fit needs [N, {len(SHAPE_FEATURES)}] shapes and N labels/sentences")
        starts = np.r_[True, sent[1:] != sent[:-1]]
        x = with_motion(shape - rest, starts=starts)  # (N, 2K)
        y = np.array([VOWELS.index(s) if s in VOWELS else -1 for s in lab])
        counts = np.bincount(y[y >= 0], minlength=5)
        if counts.min() < MIN_FRAMES:
            missing = [v for v, n in zip(VOWELS, counts, strict=True) if n < MIN_FRAMES]
            raise InvalidInputError(f"vowel calibration needs >= {MIN_FRAMES} frames of each vowel; too few of "
                                    f"{missing}")
        keep = y >= 0
        x, y, sent = x[keep], y[keep], sent[keep]
        scale = np.sqrt(np.mean([x[y == k].var(0) for k in range(5)], 0)) + 1e-6  # pooled within-vowel std
        z = x / scale
        shrinkage, cv_share = _choose_shrinkage(z, y, sent)
        means, covs = _gaussians(z, y, shrinkage)
        gaps = np.maximum(np.array([x[y == k, 0].mean() for k in range(5)]), 1e-2)
        return cls(np.asarray(rest, np.float64), scale, means, covs, gaps, shrinkage, cv_share, fps)

    def log_likelihood(self, shape: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """``[T, K]`` shapes (``previous``: the ``[K]`` shape before them) -> ``[T, 5]`` class log-likelihoods."""
        prev = None if previous is None else previous - self.rest
        z = with_motion(shape - self.rest, prev) / self.scale  # (T, 2K)
        d = z[:, None, :] - self.means[None]  # (T, 5, 2K)
        m = np.einsum("kij,tkj->tki", self._inv_chol, d)  # (T, 5, 2K): whitened by each class
        return -0.5 * (m**2).sum(-1) - 0.5 * self._log_det[None]

    def weights(self, shape: np.ndarray, state: VowelState | None = None) -> tuple[np.ndarray, VowelState]:
        """``[T, K]`` shapes -> (``[T, 5]`` A..O weights in [0, 1], the state after the last frame).

        The class posteriors (log-likelihoods over :data:`TEMPERATURE`, equal priors) are smoothed causally
        with time constant :data:`SMOOTHING_SECONDS` at ``fps``; the mouth's *activity* (its lip-gap growth
        over the posterior-weighted mean gap of the vowels: 1 at a vowel's typical opening, 0 with the lips at
        rest) is shared out by them, so the five weights sum to the activity: a mouth between two vowels shows
        both, weights move smoothly, and the blend never opens a rig past one full vowel. ``state``: where the
        previous chunk of the same stream ended (None: a fresh start).
        """
        if len(shape) == 0:
            return np.zeros((0, 5)), state or VowelState(self.rest.copy(), np.full(5, 0.2))
        ll = self.log_likelihood(shape, None if state is None else state.shape) / TEMPERATURE  # (T, 5)
        post = np.exp(ll - ll.max(1, keepdims=True))
        post /= post.sum(1, keepdims=True)
        alpha = 1.0 - np.exp(-1.0 / (self.fps * SMOOTHING_SECONDS))
        smoothed = np.empty_like(post)
        last = post[0] if state is None else state.posterior
        for t in range(len(post)):  # one-pole low-pass, causal
            last = last + alpha * (post[t] - last)
            smoothed[t] = last
        activity = np.clip((shape[:, 0] - self.rest[0]) / (smoothed @ self.gaps), 0.0, 1.0)
        return np.clip(activity[:, None] * smoothed, 0.0, 1.0), VowelState(shape[-1].copy(), smoothed[-1].copy())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``vowel_model`` of a ``face_calibration``), numbers to 7 significant digits."""
        def r(a: np.ndarray) -> Any:
            return np.vectorize(lambda x: float(f"{x:.7g}"), otypes=[float])(a).tolist()

        return {"features": list(SHAPE_FEATURES), "rest": r(self.rest), "scale": r(self.scale),
                "means": r(self.means), "covariances": r(self.covariances), "gaps": r(self.gaps),
                "shrinkage": self.shrinkage, "cv_share": self.cv_share, "fps": self.fps}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VowelModel:
        """Inverse of :meth:`to_dict`; :class:`InvalidInputError` when malformed or made for other features."""
        if list(data.get("features", ())) != list(SHAPE_FEATURES):
            raise InvalidInputError(f"vowel model made for features {data.get('features')}, this SDK measures "
                                    f"{list(SHAPE_FEATURES)}: recalibrate the voice (uniflg calibrate-face)")
        try:
            def arr(key: str) -> np.ndarray:
                return np.asarray(data[key], np.float64)

            return cls(arr("rest"), arr("scale"), arr("means"), arr("covariances"), arr("gaps"),
                       float(data["shrinkage"]), {k: float(v) for k, v in data["cv_share"].items()}, int(data["fps"]))
        except (KeyError, TypeError, ValueError, AttributeError, np.linalg.LinAlgError) as exc:
            raise InvalidInputError(f"malformed vowel model: {exc!r}") from exc


def _gaussians(z: np.ndarray, y: np.ndarray, shrinkage: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-class means ``[5, D]`` and covariances ``[5, D, D]`` shrunk towards the pooled one, plus a ridge."""
    means = np.stack([z[y == k].mean(0) for k in range(5)])
    covs = np.stack([np.cov(z[y == k].T) for k in range(5)])
    pooled = covs.mean(0)
    eye = np.eye(z.shape[1])
    return means, (1 - shrinkage) * covs + shrinkage * pooled[None] + RIDGE * eye[None]


def _predict(means: np.ndarray, covs: np.ndarray, z: np.ndarray) -> np.ndarray:
    chol = np.linalg.cholesky(covs)
    m = np.einsum("kij,tkj->tki", np.linalg.inv(chol), z[:, None, :] - means[None])
    ll = -0.5 * (m**2).sum(-1) - np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(-1)[None]
    return ll.argmax(1)


def _choose_shrinkage(z: np.ndarray, y: np.ndarray, sent: np.ndarray) -> tuple[float, dict[str, float]]:
    """The :data:`SHRINKAGE_GRID` value whose leave-sentences-out predictions give the best worst-vowel share
    (ties: best mean share), with those shares; :data:`DEFAULT_SHRINKAGE` and no shares when there are fewer
    sentences than folds or a fold would leave a vowel too few frames."""
    ids = np.unique(sent)
    if len(ids) < CV_FOLDS:
        return DEFAULT_SHRINKAGE, {}
    fold = np.searchsorted(ids, sent) % CV_FOLDS
    if any(np.bincount(y[fold != f], minlength=5).min() < MIN_FRAMES for f in range(CV_FOLDS)):
        return DEFAULT_SHRINKAGE, {}
    best: tuple[float, float, float, dict[str, float]] | None = None
    for lam in SHRINKAGE_GRID:
        pred = np.empty_like(y)
        for f in range(CV_FOLDS):
            test = fold == f
            pred[test] = _predict(*_gaussians(z[~test], y[~test], lam), z[test])
        share = {v: float((pred[y == k] == k).mean()) for k, v in enumerate(VOWELS)}
        key = (min(share.values()), float(np.mean(list(share.values()))))
        if best is None or key > best[:2]:
            best = (*key, lam, share)
    assert best is not None
    return best[2], best[3]
