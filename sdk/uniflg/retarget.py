"""Landmarks -> blendshape weights: ARKit 52 names and VRM 0.x expression names.

The retargeter measures a handful of geometric features per frame (mouth opening and width, corner
heights, eye aspect ratios, brow heights, pupil offsets), all divided by that frame's inter-ocular
distance so head size and distance cancel, compares them with a :class:`Calibration` (mouth shapes from the
closed-mouth rest face, expressions from the edge of the voice's neutral band) and maps the differences to
weights through linear ranges, clipped to [0, 1]. VRM A..O come from the voice's vowel classifier
(:mod:`uniflg.vowels`), or from the nearest of five vowel prototypes when a calibration has none.
Blendshapes the 2-D landmarks cannot observe (tongue, cheek puff, lip roll, ...) are always 0. The formulas
and the measured figures are in docs/retargeting.md; a voice's calibration comes from :mod:`uniflg.avatar`.

"Left"/"Right" are the subject's, as in ARKit and OpenPose: the subject's left eye is points 42-47.
Numpy only; no model or bridge imports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from uniflg.errors import InvalidInputError
from uniflg.landmarks import FPS, N_POINTS, check_track
from uniflg.vowels import VOWELS, VowelModel, VowelState, mouth_shape

log = logging.getLogger(__name__)

# ARKit's 52 blendshape locations in Apple's documented order (also the order of Live Link Face curves).
ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)

# VRM 0.x preset expressions (BlendShapeClip presets), as VMC marionettes name them.
VRM0: tuple[str, ...] = (
    "Neutral", "A", "I", "U", "E", "O", "Blink", "Joy", "Angry", "Sorrow", "Fun",
    "LookUp", "LookDown", "LookLeft", "LookRight", "Blink_L", "Blink_R",
)

# Ranges: the feature change (in inter-ocular distances, or a ratio) that maps to weight 1.
JAW_RANGE = 0.40       # inner-lip gap growth for a fully open jaw
CHIN_RANGE = 0.40      # nose-to-chin growth for a fully dropped jaw
WIDTH_RANGE = 0.15     # relative mouth-width change for full pucker / stretch (as a ratio)
CORNER_RANGE = 0.08    # corner rise (smile) or drop (frown) relative to the nose base
LIP_RANGE = 0.06       # upper-lip rise relative to the nose base
SHIFT_RANGE = 0.10     # sideways jaw / mouth shift
BLINK_RANGE = 0.80     # relative eye-aspect-ratio loss for a full blink
WIDE_RANGE = 0.40      # relative eye-aspect-ratio gain for fully wide eyes
BROW_RANGE = 0.08      # brow rise or drop relative to the eye centre
LOOK_X_RANGE = 0.20    # pupil offset along the eye axis, in eye widths
LOOK_Y_RANGE = 0.12    # pupil offset across the eye axis, in eye widths


@dataclass(frozen=True)
class Features:
    """Per-frame geometric features, each an array ``[T]`` (distances in inter-ocular distances)."""

    lip_gap: np.ndarray        # inner lips: |62 - 66|
    chin: np.ndarray           # nose tip 30 to chin 8
    width: np.ndarray          # mouth corners |48 - 54|
    corner_r: np.ndarray       # nose base y - right corner (48) y: larger = corner higher
    corner_l: np.ndarray       # nose base y - left corner (54) y
    upper_lip_r: np.ndarray    # nose base y - upper lip point 50 y
    upper_lip_l: np.ndarray    # nose base y - upper lip point 52 y
    jaw_shift: np.ndarray      # chin x - nose-bridge x (positive: toward the subject's left)
    mouth_shift: np.ndarray    # mouth-corner midpoint x - nose-bridge x
    ear_r: np.ndarray          # eye aspect ratio, right eye (36-41)
    ear_l: np.ndarray          # eye aspect ratio, left eye (42-47)
    brow_inner: np.ndarray     # eye-centre y - inner brow y (21, 22), mean of both sides
    brow_outer_r: np.ndarray   # right eye-centre y - outer right brow (17) y
    brow_outer_l: np.ndarray   # left eye-centre y - outer left brow (26) y
    brow_r: np.ndarray         # right eye-centre y - mean right brow (17-21) y
    brow_l: np.ndarray         # left eye-centre y - mean left brow (22-26) y
    look_x_r: np.ndarray       # right pupil along the right eye's inner->outer axis, eye widths
    look_x_l: np.ndarray       # left pupil along the left eye's inner->outer axis, eye widths
    look_y_r: np.ndarray       # right pupil below the eye centre, eye widths
    look_y_l: np.ndarray       # left pupil below the eye centre, eye widths


def _dist(p: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(p[:, i] - p[:, j], axis=-1)  # (T,)


def _ear(p: np.ndarray, first: int) -> np.ndarray:
    """Eye aspect ratio of the 6 eye points starting at ``first`` (corners first+0 and first+3)."""
    a = _dist(p, first + 1, first + 5)
    b = _dist(p, first + 2, first + 4)
    return (a + b) / (2.0 * np.maximum(_dist(p, first, first + 3), 1e-9))


def _pupil(p: np.ndarray, pupil: int, inner: int, outer: int, eye: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pupil offset from the eye centre along (x) and across (y, downwards) the inner->outer axis."""
    axis = p[:, outer] - p[:, inner]  # (T, 2)
    width = np.maximum(np.linalg.norm(axis, axis=-1), 1e-9)
    u = axis / width[:, None]
    d = p[:, pupil] - eye
    along = (d * u).sum(-1) / width
    across = (d[:, 1] * u[:, 0] - d[:, 0] * u[:, 1]) / width  # y-down normal of the axis
    if outer < inner:  # the right eye's axis points to -x: keep "across" positive downwards
        across = -across
    return along, across


def measure(landmarks: np.ndarray) -> Features:
    """Features of ``[T, 70, 2]`` (or one ``[70, 2]``) landmarks in the OpenPose-70 layout."""
    p = check_track(landmarks, single=True, empty=True, dtype=np.float64)
    eye_r = p[:, 36:42].mean(1)  # (T, 2)
    eye_l = p[:, 42:48].mean(1)
    iod = np.maximum(np.linalg.norm(eye_l - eye_r, axis=-1), 1e-9)  # (T,)
    nose_y = p[:, 33, 1]
    bridge_x = p[:, 27:31, 0].mean(1)
    look_x_r, look_y_r = _pupil(p, 68, 39, 36, eye_r)
    look_x_l, look_y_l = _pupil(p, 69, 42, 45, eye_l)
    return Features(
        lip_gap=_dist(p, 62, 66) / iod,
        chin=_dist(p, 30, 8) / iod,
        width=_dist(p, 48, 54) / iod,
        corner_r=(nose_y - p[:, 48, 1]) / iod,
        corner_l=(nose_y - p[:, 54, 1]) / iod,
        upper_lip_r=(nose_y - p[:, 50, 1]) / iod,
        upper_lip_l=(nose_y - p[:, 52, 1]) / iod,
        jaw_shift=(p[:, 8, 0] - bridge_x) / iod,
        mouth_shift=((p[:, 48, 0] + p[:, 54, 0]) / 2 - bridge_x) / iod,
        ear_r=_ear(p, 36),
        ear_l=_ear(p, 42),
        brow_inner=(eye_r[:, 1] - p[:, 21, 1] + eye_l[:, 1] - p[:, 22, 1]) / (2 * iod),
        brow_outer_r=(eye_r[:, 1] - p[:, 17, 1]) / iod,
        brow_outer_l=(eye_l[:, 1] - p[:, 26, 1]) / iod,
        brow_r=(eye_r[:, 1] - p[:, 17:22, 1].mean(1)) / iod,
        brow_l=(eye_l[:, 1] - p[:, 22:27, 1].mean(1)) / iod,
        look_x_r=look_x_r, look_x_l=look_x_l, look_y_r=look_y_r, look_y_l=look_y_l,
    )


# Features that shape the mouth (measured from the rest face) and features of expression (measured from the
# edge of the voice's neutral band: what its neutral speech and its silence already do).
MOUTH_FEATURES = ("lip_gap", "chin", "width")
VRM_VOWELS = ("A", "I", "U", "E", "O")
# Where each vowel sits in (lip-gap growth in IODs, relative width change) when a voice gives no prototypes:
# Japanese vowels by opening (a > e ~ o > i ~ u) and spreading (i, e) or rounding (u, o).
DEFAULT_VOWELS: dict[str, tuple[float, float]] = {
    "a": (0.30, 0.0), "i": (0.08, 0.08), "u": (0.06, -0.10), "e": (0.18, 0.06), "o": (0.18, -0.10),
}
A_JAW_OPEN = 0.6       # jawOpen at a voice's mean /a/ opening (calibrated voices; ARKit captures of /a/)
VOWEL_SIGMA = 0.02     # IODs: how softly A..O share a mouth between two vowel prototypes
NEUTRAL_PERCENTILES = (5.0, 95.0)  # the band of neutral speech frames that reads as "no expression"


@dataclass(frozen=True)
class Calibration:
    """What "no expression" means for one face, as scalars per :class:`Features` name.

    ``rest``: the closed-mouth rest face (a voice's silence face); mouth-shape weights (jawOpen, pucker,
    stretch, A..O) grow from it. ``low``/``high``: the neutral band of every feature; expression weights
    (smile, frown, brows, blink, wide eyes, gaze) grow only outside it, so what a voice's neutral speech and
    silence do anyway reads as 0. ``vowels``: per vowel a..o the mean (lip-gap growth, relative width change)
    the voice makes on it; VRM A..O share the mouth by nearness to these. ``jaw_range``: the lip-gap growth
    that reads as jawOpen 1 (``jaw_measured``: taken from the voice's own /a/; False: :data:`JAW_RANGE`, the
    default, because the voice had no /a/ frames or its /a/ barely opened the lips). ``vowel_model``: the
    voice's fitted vowel classifier (:mod:`uniflg.vowels`), which drives A..O when present (the prototypes then
    serve only calibrations made without one). ``style_models``: the classifier fitted on each of the voice's other
    stored styles (e.g. happy, sad: their mouths sit elsewhere, so the neutral one reads all their vowels as A or
    O); :meth:`for_style` picks one.
    """

    rest: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    vowels: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_VOWELS))
    jaw_range: float = JAW_RANGE
    vowel_model: VowelModel | None = None
    style_models: dict[str, VowelModel] = field(default_factory=dict)
    path_rest_faces: dict[str, np.ndarray] = field(default_factory=dict)  # speech path -> its silence [70, 2]
    path_models: dict[str, VowelModel] = field(default_factory=dict)  # speech path -> its vowel classifier
    path_bands: dict[str, tuple[dict[str, float], dict[str, float]]] = field(default_factory=dict)  # -> (low, high)
    jaw_measured: bool = False

    @property
    def neutral(self) -> dict[str, float]:
        return self.rest

    def for_path(self, path: str | None) -> Calibration:
        """This calibration for faces drawn by speech path ``path`` (``offline``, ``live250``...; None: the text
        path): that path's vowel classifier, fitted on its own faces for the voice's speech (the speech path
        draws other mouths than the text path: read with the text path's classifier, every vowel of its faces
        came out A), and its rest face (the default voice's live250 path smiles a little at rest, which read as
        Joy 0.48 against the offline rest face), the neutral band widened to hold it. Itself for None or a path
        it knows nothing of."""
        key = path or ""
        model, face, band = self.path_models.get(key), self.path_rest_faces.get(key), self.path_bands.get(key)
        if model is None and face is None and band is None:
            return self
        out = replace(self, vowel_model=model or self.vowel_model, style_models={})  # the input's style is unknown
        rest = _scalars(measure(face[None])) if face is not None else self.rest
        low, high = band if band is not None else (self.low, self.high)  # its own neutral speech, when measured
        low, high = _widened(low, high, rest)
        return replace(out, rest=rest, low=low, high=high)

    @staticmethod
    def band_of(speech: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        """The neutral band (:data:`NEUTRAL_PERCENTILES` of each feature) of ``[S, 70, 2]`` neutral speech."""
        return _band(measure(speech))

    def for_style(self, style: str | None) -> Calibration:
        """This calibration with the vowel classifier of stored style ``style`` (an emotion name); itself for
        None, the default style, or a style it has no classifier for (e.g. a reference clip's)."""
        if style is None or style not in self.style_models:
            return self
        return replace(self, vowel_model=self.style_models[style])

    @classmethod
    def from_neutral(cls, face: np.ndarray) -> Calibration:
        """Calibrate on one neutral ``[70, 2]`` face (mouth closed, eyes open, looking ahead): a zero-width band,
        the default vowel prototypes and ranges."""
        arr = np.asarray(face)
        if arr.shape != (N_POINTS, 2):
            raise InvalidInputError(f"a neutral face is [{N_POINTS}, 2], got {arr.shape}")
        rest = _scalars(measure(arr))
        _check_rest(rest)
        return cls(rest, dict(rest), dict(rest))

    @classmethod
    def from_tracks(cls, silence: np.ndarray, speech: np.ndarray,
                    vowel_frames: dict[str, np.ndarray] | None = None, *,
                    labels: np.ndarray | None = None, sentences: np.ndarray | None = None,
                    fps: int = FPS, styles: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
                    ) -> Calibration:
        """Calibrate on a voice's own output.

        ``silence``: ``[T, 70, 2]`` landmarks for digital silence (the rest face is their per-feature median).
        ``speech``: ``[S, 70, 2]`` landmarks of neutral speech; the band is the 5th-95th percentile of its
        features, widened to include the rest face. ``vowel_frames``: vowel name (a, i, u, e, o) -> indices
        into ``speech`` of frames inside that vowel (from the text path's phoneme timing); their mean
        features become the vowel prototypes, and the /a/ prototype sets ``jaw_range`` so that the voice's
        mean /a/ reads as jawOpen :data:`A_JAW_OPEN`. Vowels with no frames keep the defaults.
        ``labels``: ``[S]`` the token at each speech frame, and ``sentences``: ``[S]`` its sentence index: with
        them the vowel classifier is fitted (:meth:`uniflg.vowels.VowelModel.fit`, at ``fps``); without them, or
        when a vowel has too few frames (a warning), A..O use the prototypes. ``styles``: style name ->
        ``(speech, labels, sentences)`` of the same texts in the voice's other stored styles; each gets its own
        classifier (``style_models``; one classifier fitted on all styles at once cost the neutral /i/ 18 points
        on the held-out sentences). The band, prototypes and jaw range stay those of the neutral ``speech``.
        """
        rest_feats, speech_feats = measure(silence), measure(speech)
        if len(rest_feats.lip_gap) == 0 or len(speech_feats.lip_gap) == 0:
            raise InvalidInputError("calibration needs at least one silence frame and one speech frame")
        rest = {f.name: float(np.median(getattr(rest_feats, f.name))) for f in fields(Features)}
        _check_rest(rest)
        low, high = _widened(*_band(speech_feats), rest)
        vowels = dict(DEFAULT_VOWELS)
        for v, idx in (vowel_frames or {}).items():
            idx = np.asarray(idx, dtype=np.int64)
            if v in vowels and idx.size:
                gap = float(np.mean(speech_feats.lip_gap[idx])) - rest["lip_gap"]
                ratio = float(np.mean(speech_feats.width[idx])) / rest["width"] - 1.0
                vowels[v] = (gap, ratio)
        a_gap = vowels["a"][0]
        jaw_measured = bool(vowel_frames and "a" in vowel_frames and a_gap > 0.01)
        jaw_range = a_gap / A_JAW_OPEN if jaw_measured else JAW_RANGE
        if not jaw_measured:
            log.warning("the voice's /a/ %s, so jawOpen uses the default range %.2f IOD (not measured)",
                        f"opens the lips by only {a_gap:.4f} IOD" if vowel_frames and "a" in vowel_frames
                        else "has no frames in the calibration speech", JAW_RANGE)
        rest_shape = np.median(mouth_shape(silence), 0)
        model, style_models = None, {}
        if labels is not None:
            try:
                model = VowelModel.fit(mouth_shape(speech), rest_shape, labels, sentences, fps)
                for name, (track, track_labels, track_sentences) in (styles or {}).items():
                    style_models[name] = VowelModel.fit(mouth_shape(track), rest_shape, track_labels,
                                                        track_sentences, fps)
            except InvalidInputError as exc:  # e.g. a calibration text set missing a vowel: keep the prototypes
                log.warning("no vowel classifier (%s); VRM A..O use the vowel prototypes", exc)
        return cls(rest, low, high, vowels, jaw_range, model, style_models if model is not None else {},
                   jaw_measured=jaw_measured)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``face_calibration`` entry of ``voice.json``)."""
        data = {"rest": self.rest, "low": self.low, "high": self.high,
                "vowels": {k: list(v) for k, v in self.vowels.items()}, "jaw_range": self.jaw_range,
                "jaw_range_measured": self.jaw_measured}
        if self.vowel_model is not None:
            data["vowel_model"] = self.vowel_model.to_dict()
        if self.style_models:
            data["style_vowel_models"] = {name: m.to_dict() for name, m in self.style_models.items()}
        if self.path_models:
            data["path_vowel_models"] = {name: m.to_dict() for name, m in self.path_models.items()}
        if self.path_bands:
            data["path_bands"] = {name: {"low": lo, "high": hi} for name, (lo, hi) in self.path_bands.items()}
        if self.path_rest_faces:
            data["path_rest_faces"] = {name: np.round(face, 6).tolist() for name, face in self.path_rest_faces.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Inverse of :meth:`to_dict`; :class:`InvalidInputError` when a field is missing or malformed. A dict
        without ``vowel_model`` (written before the classifier existed) loads with the prototypes for A..O."""
        names = {f.name for f in fields(Features)}
        try:
            maps = [{k: float(v) for k, v in data[key].items()} for key in ("rest", "low", "high")]
            vowels = {k: (float(v[0]), float(v[1])) for k, v in data["vowels"].items()}
            jaw_range = float(data["jaw_range"])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InvalidInputError(f"malformed face calibration: {exc!r}") from exc
        if any(set(m) != names for m in maps) or set(vowels) != set(VOWELS) or not jaw_range > 0:
            raise InvalidInputError("a face calibration needs rest/low/high for every feature, vowels a/i/u/e/o "
                                    "and a positive jaw_range")
        _check_rest(maps[0])
        model = VowelModel.from_dict(data["vowel_model"]) if data.get("vowel_model") is not None else None
        styles, faces = data.get("style_vowel_models") or {}, data.get("path_rest_faces") or {}
        paths, bands = data.get("path_vowel_models") or {}, data.get("path_bands") or {}
        if not all(isinstance(m, dict) for m in (styles, faces, paths, bands)):
            raise InvalidInputError("malformed face calibration: style_vowel_models, path_vowel_models, "
                                    "path_bands and path_rest_faces map names")
        try:
            path_bands = {str(name): ({k: float(v) for k, v in b["low"].items()},
                                      {k: float(v) for k, v in b["high"].items()}) for name, b in bands.items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInputError(f"malformed face calibration: path_bands: {exc!r}") from exc
        if any(set(lo) != names or set(hi) != names for lo, hi in path_bands.values()):
            raise InvalidInputError("a face calibration's path_bands need low/high for every feature")
        try:
            rest_faces = {str(name): np.asarray(face, np.float32).reshape(N_POINTS, 2) for name, face in faces.items()}
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed face calibration: path_rest_faces: {exc}") from exc
        # written before the flag existed: the default range was the fallback's exact value
        jaw_measured = data.get("jaw_range_measured", jaw_range != JAW_RANGE)
        if not isinstance(jaw_measured, bool):
            raise InvalidInputError(f"malformed face calibration: jaw_range_measured is true or false, got "
                                    f"{jaw_measured!r}")
        return cls(maps[0], maps[1], maps[2], vowels, jaw_range, model,
                   {str(name): VowelModel.from_dict(m) for name, m in styles.items()}, rest_faces,
                   {str(name): VowelModel.from_dict(m) for name, m in paths.items()}, path_bands, jaw_measured)


def _band(feats: Features) -> tuple[dict[str, float], dict[str, float]]:
    pairs = {f.name: np.percentile(getattr(feats, f.name), NEUTRAL_PERCENTILES) for f in fields(Features)}
    return {k: float(v[0]) for k, v in pairs.items()}, {k: float(v[1]) for k, v in pairs.items()}


def _widened(low: dict[str, float], high: dict[str, float], rest: dict[str, float]
             ) -> tuple[dict[str, float], dict[str, float]]:
    """The band stretched to hold the rest face (what silence does anyway reads as no expression)."""
    return {k: min(v, rest[k]) for k, v in low.items()}, {k: max(v, rest[k]) for k, v in high.items()}


def _scalars(feats: Features) -> dict[str, float]:
    return {f.name: float(getattr(feats, f.name)[0]) for f in fields(Features)}


def _check_rest(rest: dict[str, float]) -> None:
    if rest["ear_r"] <= 0 or rest["ear_l"] <= 0 or rest["width"] <= 0:
        raise InvalidInputError("the neutral face has closed eyes or a zero-width mouth")


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 1.0).astype(np.float32)


class Retargeter:
    """Turns landmark frames into ARKit-52 and VRM0 weights, calibrated on a neutral face (:class:`Calibration`)."""

    def __init__(self, calibration: Calibration) -> None:
        self.calibration = calibration

    @classmethod
    def from_neutral(cls, face: np.ndarray) -> Retargeter:
        return cls(Calibration.from_neutral(face))

    def _delta(self, feats: Features, name: str) -> np.ndarray:
        """Signed distance outside the neutral band (0 inside it); from the rest face for mouth features."""
        x = getattr(feats, name)
        c = self.calibration
        if name in MOUTH_FEATURES:
            return x - c.rest[name]
        return np.where(x > c.high[name], x - c.high[name], np.minimum(x - c.low[name], 0.0))

    def arkit(self, landmarks: np.ndarray) -> np.ndarray:
        """``[T, 52]`` float32 weights in :data:`ARKIT_52` order, each in [0, 1]."""
        f = measure(landmarks)
        c = self.calibration
        d = self._delta
        out = np.zeros((f.lip_gap.shape[0], len(ARKIT_52)), dtype=np.float32)
        w = dict.fromkeys(ARKIT_52)
        jaw = _clip(d(f, "lip_gap") / c.jaw_range)
        chin = _clip(d(f, "chin") / CHIN_RANGE)
        ratio = f.width / c.rest["width"] - 1.0
        w["jawOpen"] = jaw
        w["mouthClose"] = _clip(chin - jaw)  # the jaw drops while the lips stay together
        w["mouthPucker"] = _clip(-ratio / WIDTH_RANGE)
        w["mouthFunnel"] = _clip(w["mouthPucker"] * np.minimum(1.0, jaw / 0.25))
        for side, corner in (("Right", "corner_r"), ("Left", "corner_l")):
            rise = d(f, corner) / CORNER_RANGE
            smile = _clip(rise)
            w[f"mouthSmile{side}"] = smile
            w[f"mouthFrown{side}"] = _clip(-rise)
            w[f"mouthStretch{side}"] = _clip(ratio / WIDTH_RANGE * (1.0 - smile))
            w[f"cheekSquint{side}"] = _clip(0.5 * smile)
        w["mouthUpperUpRight"] = _clip(d(f, "upper_lip_r") / LIP_RANGE)
        w["mouthUpperUpLeft"] = _clip(d(f, "upper_lip_l") / LIP_RANGE)
        w["jawLeft"] = _clip(d(f, "jaw_shift") / SHIFT_RANGE)
        w["jawRight"] = _clip(-d(f, "jaw_shift") / SHIFT_RANGE)
        w["mouthLeft"] = _clip(d(f, "mouth_shift") / SHIFT_RANGE)
        w["mouthRight"] = _clip(-d(f, "mouth_shift") / SHIFT_RANGE)
        for side, s in (("Right", "r"), ("Left", "l")):
            ear = getattr(f, f"ear_{s}")
            w[f"eyeBlink{side}"] = _clip((1.0 - ear / c.low[f"ear_{s}"]) / BLINK_RANGE)
            w[f"eyeWide{side}"] = _clip((ear / c.high[f"ear_{s}"] - 1.0) / WIDE_RANGE)
            look_x = d(f, f"look_x_{s}") / LOOK_X_RANGE
            look_y = d(f, f"look_y_{s}") / LOOK_Y_RANGE
            w[f"eyeLookOut{side}"] = _clip(look_x)
            w[f"eyeLookIn{side}"] = _clip(-look_x)
            w[f"eyeLookDown{side}"] = _clip(look_y)
            w[f"eyeLookUp{side}"] = _clip(-look_y)
            w[f"browDown{side}"] = _clip(-d(f, f"brow_{s}") / BROW_RANGE)
            w[f"browOuterUp{side}"] = _clip(d(f, f"brow_outer_{s}") / BROW_RANGE)
        w["browInnerUp"] = _clip(d(f, "brow_inner") / BROW_RANGE)
        for i, name in enumerate(ARKIT_52):
            value = w[name]
            if value is not None:
                out[:, i] = value
        return out

    def vowels(self, landmarks: np.ndarray, state: VowelState | None = None
               ) -> tuple[np.ndarray, VowelState | None]:
        """``[T, 5]`` VRM A, I, U, E, O weights in [0, 1], and the state to continue the same stream from.

        With a fitted vowel model (:attr:`Calibration.vowel_model`), its weights
        (:meth:`uniflg.vowels.VowelModel.weights`; ``state``: where the stream's previous chunk ended, None for
        a fresh start). Otherwise (returned state None) each frame is a point in (lip-gap growth, mouth-width
        change) space, both in inter-ocular distances from the rest face. The vowel prototype nearest to it
        takes the mouth's activity: the frame's distance from the rest face over that prototype's (1 at the
        voice's mean vowel, clipped); the others take that times a Gaussian kernel of how much farther they are
        (:data:`VOWEL_SIGMA`, in IODs).
        """
        c = self.calibration
        if c.vowel_model is not None:
            return c.vowel_model.weights(mouth_shape(landmarks), state)
        f = measure(landmarks)
        to_iod = np.array([1.0, c.rest["width"]])  # the width prototype is a ratio: to IODs like the gap
        p = np.array([c.vowels[v] for v in VOWELS]) * to_iod  # (5, 2)
        x = np.stack([f.lip_gap - c.rest["lip_gap"], f.width / c.rest["width"] - 1.0], -1) * to_iod  # (T, 2)
        d2 = ((x[:, None, :] - p[None]) ** 2).sum(-1)  # (T, 5)
        nearest = d2.argmin(1)
        activity = np.linalg.norm(x, axis=-1) / np.maximum(np.linalg.norm(p[nearest], axis=-1), 1e-3)
        share = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * VOWEL_SIGMA**2))
        return _clip(_clip(activity)[:, None] * share), None

    def vrm(self, landmarks: np.ndarray, arkit: np.ndarray | None = None,
            vowels: np.ndarray | None = None) -> np.ndarray:
        """``[T, 17]`` float32 weights in :data:`VRM0` order, each in [0, 1]: A..O from :meth:`vowels` (pass
        ``vowels`` ``[T, 5]`` to reuse a stream's, see :class:`uniflg.avatar.AvatarStream`), the rest derived
        from the ARKit weights (pass ``arkit`` to reuse them, e.g. with run-time blinks added)."""
        a = self.arkit(landmarks) if arkit is None else np.asarray(arkit)
        vowel = self.vowels(landmarks)[0] if vowels is None else np.asarray(vowels)
        frames = len(measure(landmarks).lip_gap)
        for name, given, width in (("arkit", a, len(ARKIT_52)), ("vowels", vowel, len(VRM_VOWELS))):
            if given.shape != (frames, width):
                raise InvalidInputError(f"{name} must be [T, {width}] for the {frames} frames of the landmarks; got "
                                        f"{list(given.shape)}")
        k = {name: a[:, i] for i, name in enumerate(ARKIT_52)}
        jaw = k["jawOpen"]
        blink = np.minimum(k["eyeBlinkLeft"], k["eyeBlinkRight"])
        v = {
            "Neutral": np.zeros_like(jaw),
            **{name: vowel[:, i] for i, name in enumerate(VRM_VOWELS)},
            "Blink": blink,
            "Joy": (k["mouthSmileLeft"] + k["mouthSmileRight"]) / 2,
            "Angry": (k["browDownLeft"] + k["browDownRight"]) / 2,
            "Sorrow": 0.5 * (k["mouthFrownLeft"] + k["mouthFrownRight"]) / 2 + 0.5 * k["browInnerUp"],
            "Fun": np.zeros_like(jaw),
            "LookUp": (k["eyeLookUpLeft"] + k["eyeLookUpRight"]) / 2,
            "LookDown": (k["eyeLookDownLeft"] + k["eyeLookDownRight"]) / 2,
            # The subject's left: the left eye looks out, the right eye looks in.
            "LookLeft": (k["eyeLookOutLeft"] + k["eyeLookInRight"]) / 2,
            "LookRight": (k["eyeLookOutRight"] + k["eyeLookInLeft"]) / 2,
            # Per-eye remainders over the shared Blink, so weights never add up past a full blink.
            "Blink_L": k["eyeBlinkLeft"] - blink,
            "Blink_R": k["eyeBlinkRight"] - blink,
        }
        return np.stack([_clip(v[name]) for name in VRM0], axis=-1)

    def weights(self, landmarks: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """``[T, len(names)]`` weights for any mix of ARKit-52 and VRM0 names."""
        arkit = self.arkit(landmarks)
        vrm = self.vrm(landmarks, arkit) if any(n in VRM0 and n not in ARKIT_52 for n in names) else None
        cols = []
        for name in names:
            if name in ARKIT_52:
                cols.append(arkit[:, ARKIT_52.index(name)])
            elif name in VRM0 and vrm is not None:
                cols.append(vrm[:, VRM0.index(name)])
            else:
                raise InvalidInputError(f"unknown blendshape {name!r}; use ARKit-52 or VRM0 names")
        return np.stack(cols, axis=-1) if cols else np.zeros((arkit.shape[0], 0), np.float32)
