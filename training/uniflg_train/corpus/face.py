"""70-point face tracks for the procedural corpus, driven by exact phoneme timing.

How a face is made (docs/corpus.md has the full account):

1. **Neutral face**: a 68-point iBUG mean shape plus two pupils, normalized into the unit square (x right,
   y down), deformed per speaker (jaw width, face length, eye spacing, mouth width, brow height) from a
   seed derived from the speaker's name, so each speaker has its own face.
2. **Articulation**: every token has targets for three mouth parameters, lip opening ``O``, jaw ``J`` and
   lip width ``W`` (+ spread, - rounded), with a dominance per parameter (Cohen & Massaro's coarticulation
   model): rounded vowels and /w/ dominate ``W``, velars and /h/ barely dominate (they take their
   neighbours' shape). Dominance is flat over a token's core and decays exponentially (60 ms) around it;
   each parameter is the dominance-weighted mean of the targets. Bilabials add a lip-seal gesture
   (:func:`lip_seal`) that multiplies ``O``: the lips are shut from 15 ms before the label onset to its end.
3. **Expression**: emotion offsets (happy: corners up/out, lower lids up, brows up; sad: corners down,
   inner brows up, lids droop) with a slowly varying intensity; brows lift on the last phrase of a question.
4. **Eyes**: blinks at gamma-distributed intervals (mean 3.5 s, fast close, slower open), small gaze shifts.
5. **Head**: a similarity transform (roll, translation, scale) from smooth random motion plus small nods
   that follow the mouth opening.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from uniflg.landmarks import FPS, N_POINTS

# iBUG 68-point mean face (x right, y down; "right" = the subject's right = image left).
_IBUG68 = np.array([
    (0.0792, 0.3392), (0.0829, 0.4570), (0.0968, 0.5756), (0.1221, 0.6919), (0.1687, 0.8003),
    (0.2398, 0.8957), (0.3257, 0.9771), (0.4223, 1.0433), (0.5318, 1.0608), (0.6413, 1.0398),
    (0.7381, 0.9723), (0.8244, 0.8896), (0.8948, 0.7925), (0.9394, 0.6815), (0.9611, 0.5622),
    (0.9706, 0.4418), (0.9712, 0.3221),
    (0.1638, 0.2492), (0.2178, 0.2043), (0.2913, 0.1924), (0.3675, 0.2036), (0.4393, 0.2331),
    (0.5864, 0.2281), (0.6602, 0.1959), (0.7375, 0.1824), (0.8132, 0.1928), (0.8708, 0.2353),
    (0.5153, 0.3186), (0.5162, 0.3962), (0.5171, 0.4738), (0.5182, 0.5532),
    (0.4337, 0.6041), (0.4755, 0.6208), (0.5207, 0.6343), (0.5659, 0.6188), (0.6071, 0.6016),
    (0.2524, 0.3311), (0.2987, 0.3026), (0.3557, 0.3030), (0.4037, 0.3387), (0.3525, 0.3500), (0.2968, 0.3505),
    (0.6313, 0.3341), (0.6791, 0.2965), (0.7360, 0.2947), (0.7829, 0.3213), (0.7403, 0.3418), (0.6850, 0.3437),
    (0.3532, 0.7462), (0.4146, 0.7191), (0.4777, 0.7068), (0.5227, 0.7171), (0.5698, 0.7054), (0.6352, 0.7157),
    (0.6995, 0.7394), (0.6394, 0.8052), (0.5764, 0.8354), (0.5254, 0.8417), (0.4764, 0.8375), (0.4149, 0.8100),
    (0.3801, 0.7500), (0.4780, 0.7451), (0.5234, 0.7489), (0.5711, 0.7433),
    (0.6724, 0.7442), (0.5725, 0.7766), (0.5224, 0.7834), (0.4776, 0.7820),
])

UPPER_INNER, LOWER_INNER = (61, 62, 63), (65, 66, 67)
UPPER_OUTER, LOWER_OUTER = (49, 50, 51, 52, 53), (55, 56, 57, 58, 59)
CORNERS = (48, 54, 60, 64)

# How far the mouth opens at full opening (O = 1, J = 1), as fractions of the nose-bridge-to-chin height. Real
# talkers open about twice as wide as the first generator did (0.13 / 0.09): on the real-people development set
# the inner-lip gap over the eye distance has a std of 0.10-0.14 and a 95th percentile of 0.29-0.47, where the
# generator's faces had 0.06 and 0.19 (docs/corpus.md, "How wide the mouth opens"). With these values a corpus
# of HTS sentences has a std of about 0.1 and an /a/ opens to about 0.4 eye distances.
LIP_GAP = 0.23
JAW_DROP = 0.16


def mean_face() -> np.ndarray:
    """The generator's neutral face [70, 2]: mouth closed, fitted into [0.05, 0.95]^2."""
    pts = _IBUG68.copy()
    # Close the mouth: the template's inner lips are slightly apart.
    for up, lo in ((61, 67), (62, 66), (63, 65)):
        mid = (pts[up, 1] + pts[lo, 1]) / 2
        pts[up, 1] = pts[lo, 1] = mid
    pupils = np.stack([pts[36:42].mean(0), pts[42:48].mean(0)])
    pts = np.concatenate([pts, pupils])
    lo, hi = pts.min(0), pts.max(0)
    scale = 0.9 / float((hi - lo).max())
    return ((pts - (lo + hi) / 2) * scale + 0.5).astype(np.float64)


def speaker_face(name: str) -> np.ndarray:
    """A speaker's neutral face: the mean face with a seeded, speaker-specific deformation."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    face = mean_face()
    c = face[27:36].mean(0)
    jaw_w, face_l, eye_sp, mouth_w, brow_h = rng.normal(0, 1, 5) * (0.05, 0.04, 0.04, 0.07, 0.015)
    face[0:17, 0] = c[0] + (face[0:17, 0] - c[0]) * (1 + jaw_w)
    face[4:13, 1] = c[1] + (face[4:13, 1] - c[1]) * (1 + face_l)
    face[48:68, 1] += face_l * 0.15
    for idx in (list(range(17, 22)) + list(range(36, 42)) + [68], list(range(22, 27)) + list(range(42, 48)) + [69]):
        side = np.sign(face[idx, 0].mean() - c[0])
        face[idx, 0] += side * eye_sp * 0.2
    m = face[48:68].mean(0)
    face[48:68, 0] = m[0] + (face[48:68, 0] - m[0]) * (1 + mouth_w)
    face[17:27, 1] -= brow_h
    return face


@dataclass(frozen=True)
class Viseme:
    """Targets for (O, J, W) and their dominances."""

    lips: float
    jaw: float
    width: float
    dom_lips: float = 1.0
    dom_width: float = 1.0
    core: float = 0.6   # fraction of the token over which dominance is flat


_REST = Viseme(0.0, 0.0, 0.0, 1.5, 0.6, 0.9)
_V = {
    "a": Viseme(0.85, 0.8, 0.15), "i": Viseme(0.25, 0.2, 0.7), "u": Viseme(0.2, 0.15, -0.6),
    "e": Viseme(0.5, 0.45, 0.45), "o": Viseme(0.55, 0.5, -0.75),
    "N": Viseme(0.12, 0.1, 0.0, 0.3, 0.2), "cl": Viseme(0.1, 0.1, 0.0, 0.3, 0.2),
    "f": Viseme(0.08, 0.1, -0.5, 4.0, 2.0), "w": Viseme(0.15, 0.15, -0.8, 1.5, 3.0),
    "v": Viseme(0.04, 0.1, 0.0, 6.0, 0.5), "y": Viseme(0.2, 0.15, 0.4, 0.6, 0.8),
    "sh": Viseme(0.15, 0.1, -0.35, 1.0, 1.5), "ch": Viseme(0.12, 0.1, -0.35, 1.0, 1.5),
    "j": Viseme(0.12, 0.1, -0.35, 1.0, 1.5),
    "s": Viseme(0.18, 0.08, 0.1, 0.8, 0.3), "z": Viseme(0.18, 0.08, 0.1, 0.8, 0.3),
    "t": Viseme(0.18, 0.12, 0.0, 0.6, 0.2), "d": Viseme(0.2, 0.12, 0.0, 0.6, 0.2),
    "n": Viseme(0.18, 0.12, 0.0, 0.6, 0.2), "r": Viseme(0.25, 0.2, 0.0, 0.4, 0.2),
    "ts": Viseme(0.15, 0.1, 0.0, 0.8, 0.3),
    "k": Viseme(0.3, 0.3, 0.0, 0.15, 0.1), "g": Viseme(0.3, 0.3, 0.0, 0.15, 0.1),
    "h": Viseme(0.4, 0.35, 0.0, 0.1, 0.1),
    # English-only symbols (the generator is Japanese, but faces for English timing work the same way).
    "æ": Viseme(0.75, 0.7, 0.3), "ɑ": Viseme(0.85, 0.8, 0.1), "ɐ": Viseme(0.5, 0.45, 0.0),
    "ʌ": Viseme(0.5, 0.45, 0.0), "ə": Viseme(0.35, 0.3, 0.0, 0.6), "ɔ": Viseme(0.6, 0.55, -0.7),
    "ɚ": Viseme(0.3, 0.25, -0.3), "ɜ": Viseme(0.3, 0.25, -0.3), "ɛ": Viseme(0.55, 0.5, 0.4),
    "ɪ": Viseme(0.3, 0.25, 0.45), "ᵻ": Viseme(0.3, 0.25, 0.4), "ʊ": Viseme(0.25, 0.2, -0.5),
    "aɪ": Viseme(0.7, 0.65, 0.35), "aʊ": Viseme(0.7, 0.65, -0.3), "eɪ": Viseme(0.45, 0.4, 0.5),
    "oʊ": Viseme(0.5, 0.45, -0.7), "ɔɪ": Viseme(0.55, 0.5, -0.3),
    "θ": Viseme(0.2, 0.15, 0.0, 1.0, 0.3), "ð": Viseme(0.2, 0.15, 0.0, 1.0, 0.3),
    "ʒ": Viseme(0.15, 0.1, -0.35, 1.0, 1.5), "ŋ": Viseme(0.3, 0.3, 0.0, 0.15, 0.1),
    "l": Viseme(0.3, 0.25, 0.0, 0.4, 0.2), "ɹ": Viseme(0.2, 0.15, -0.3, 0.8, 1.0),
    "ɾ": Viseme(0.2, 0.12, 0.0, 0.6, 0.2), "ʔ": Viseme(0.2, 0.2, 0.0, 0.1, 0.1), "x": Viseme(0.3, 0.3, 0.0, 0.15, 0.1),
}
# English targets where English differs from the Japanese reading of the same symbol: labiodental f/v (lower
# lip tucked under the upper teeth: nearly shut, a little spread, dominant), rounded w/ɹ/ʃ, tongue-between-teeth
# θ/ð (a small opening), open æ/ɑ/ɔ. Diphthongs are two targets (:data:`DIPHTHONGS`).
_V_EN = {
    "f": Viseme(0.05, 0.12, 0.1, 5.0, 0.6), "v": Viseme(0.05, 0.12, 0.1, 5.0, 0.6),
    "w": Viseme(0.12, 0.12, -0.9, 1.5, 3.5), "ɹ": Viseme(0.2, 0.15, -0.45, 0.8, 1.5),
    "θ": Viseme(0.22, 0.18, 0.05, 1.5, 0.3), "ð": Viseme(0.22, 0.18, 0.05, 1.2, 0.3),
    "sh": Viseme(0.18, 0.1, -0.5, 1.0, 2.0), "ch": Viseme(0.15, 0.1, -0.5, 1.0, 2.0),
    "j": Viseme(0.15, 0.1, -0.5, 1.0, 2.0), "ʒ": Viseme(0.18, 0.1, -0.5, 1.0, 2.0),
    "æ": Viseme(0.8, 0.75, 0.35), "ɑ": Viseme(0.9, 0.85, 0.05), "ɔ": Viseme(0.7, 0.65, -0.6),
    "u": Viseme(0.18, 0.15, -0.8, 1.0, 1.5), "i": Viseme(0.22, 0.18, 0.75),
}
DIPHTHONGS = {"aɪ": ("a", "ɪ"), "aʊ": ("a", "ʊ"), "eɪ": ("e", "ɪ"), "oʊ": ("o", "ʊ"), "ɔɪ": ("ɔ", "ɪ")}
DIPHTHONG_ONSET = 0.55  # share of a diphthong spent at its first target


def expand_diphthongs(symbols: Sequence[str], starts: np.ndarray, ends: np.ndarray
                      ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """English diphthongs -> two targets each (the first over :data:`DIPHTHONG_ONSET` of the span)."""
    syms, st, en = [], [], []
    for s, a, b in zip(symbols, starts, ends, strict=True):
        if s in DIPHTHONGS:
            mid = a + DIPHTHONG_ONSET * (b - a)
            syms += list(DIPHTHONGS[s])
            st += [a, mid]
            en += [mid, b]
        else:
            syms.append(s)
            st.append(a)
            en.append(b)
    return syms, np.asarray(st, np.float64), np.asarray(en, np.float64)


BILABIALS = frozenset({"m", "b", "p", "my", "by", "py"})
_BILABIAL = Viseme(0.1, 0.1, 0.0, 0.5, 0.3, 1.0)  # the seal comes from lip_seal()
_DEVOICED = {"A": "a", "I": "i", "U": "u", "E": "e", "O": "o"}


def viseme(symbol: str, language: str = "ja") -> Viseme:
    """Mouth targets of one symbol; ``language`` "en" reads shared symbols (f, v, w, ...) the English way."""
    if language == "en" and symbol in _V_EN:
        return _V_EN[symbol]
    if symbol in BILABIALS:
        return _BILABIAL
    if symbol in _DEVOICED:
        v = _V[_DEVOICED[symbol]]
        return Viseme(v.lips * 0.35, v.jaw * 0.35, v.width * 0.6, 0.5, 0.6)
    if symbol in _V:
        return _V[symbol]
    if len(symbol) == 2 and symbol.endswith("y") and symbol[0] in _V:  # palatalized: base + spread
        b = _V[symbol[0]]
        return Viseme(b.lips, b.jaw, b.width + 0.3, b.dom_lips, max(b.dom_width, 0.6), b.core)
    return _REST


# The mouth moves ahead of the sound it makes: in running speech visual speech leads the audio by -40 to 200 ms
# (Schwartz & Savariaux, PLoS Comput. Biol. 10(7), 2014), and on the real-people development set the lips lead
# even the sound's own envelope by 1-2 frames (docs/evaluation.md). The vowel and consonant shapes are reached this
# much before their sound; the bilabial seal stays on the sound (the lips closing is what silences it).
VISUAL_LEAD = 0.05  # s

# Lip-seal gesture of a bilabial: the acoustic closure of this voice comes ~15-20 ms before the HTS
# label boundary (measured with align.py), so the seal starts there, after a closing movement.
SEAL_LEAD = 0.02      # s before the label onset at which the lips are sealed
SEAL_CLOSING = 0.04   # s of closing movement before the seal
SEAL_RELEASE = 0.03   # s of opening movement after the label end


def lip_seal(symbols: Sequence[str], starts: np.ndarray, ends: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Seal amount in [0, 1] per time: 1 while a bilabial holds the lips shut, raised-cosine ramps around.
    Ramps shrink to fit short neighbours (in "papa" the lips still open for the /a/)."""
    seal = np.zeros_like(times)
    dur = ends - starts
    for k, sym in enumerate(symbols):
        if sym not in BILABIALS:
            continue
        before = dur[k - 1] if k > 0 else 1.0
        after = dur[k + 1] if k + 1 < len(symbols) else 1.0
        # A zero-length neighbour (a symbol with no time of its own) leaves a step rather than a 0/0 ramp.
        lead, closing = SEAL_LEAD, max(min(SEAL_CLOSING, 0.25 * before), 1e-4)
        release = min(SEAL_RELEASE, 0.2 * after)
        on, e = starts[k] - lead, ends[k]
        rise = np.clip((times - (on - closing)) / closing, 0, 1)
        fall = np.clip(1 - (times - e) / release, 0, 1)
        ramp = np.where(times < on, rise, np.where(times <= e, 1.0, fall))
        seal = np.maximum(seal, 0.5 - 0.5 * np.cos(np.pi * ramp))
    return seal


def articulation(symbols: Sequence[str], starts: np.ndarray, ends: np.ndarray, times: np.ndarray,
                 scale: float = 1.0, language: str = "ja", lead: float | None = None) -> np.ndarray:
    """Mouth parameters (O, J, W) at ``times`` [T, 3]: dominance-weighted coarticulation of the targets, ``lead``
    seconds ahead of the sound (default :data:`VISUAL_LEAD`), then the bilabial seal gesture, timed to the sound,
    multiplies the lip opening. English splits diphthongs into two targets."""
    if language == "en":
        symbols, starts, ends = expand_diphthongs(symbols, starts, ends)
    seal = lip_seal(symbols, starts, ends, times)
    times = times + (VISUAL_LEAD if lead is None else lead)
    vis = [viseme(s, language) for s in symbols]
    targets = np.array([(v.lips * scale, v.jaw * scale, v.width) for v in vis])          # (K, 3)
    dom = np.array([(v.dom_lips, v.dom_lips, v.dom_width) for v in vis])                   # (K, 3)
    dur = np.maximum(ends - starts, 1e-3)
    core = np.array([v.core for v in vis])
    lo = starts + dur * (1 - core) / 2
    hi = ends - dur * (1 - core) / 2
    dist = np.maximum(0, np.maximum(lo[None, :] - times[:, None], times[:, None] - hi[None, :]))  # (T, K)
    weight = np.exp(-dist / 0.06)[:, :, None] * dom[None, :, :]                # (T, K, 3)
    params = (weight * targets[None]).sum(1) / np.maximum(weight.sum(1), 1e-9)  # (T, 3)
    params[:, 0] *= 1.0 - seal
    return params


def _profile(face: np.ndarray, idx: tuple[int, ...]) -> np.ndarray:
    """1 at the lip middle, falling towards the corners (lips open most in the middle)."""
    cx = (face[48, 0] + face[54, 0]) / 2
    half = (face[54, 0] - face[48, 0]) / 2
    return np.clip(1.0 - ((face[list(idx), 0] - cx) / half) ** 2, 0.25, 1.0)


def pose_mouth(face: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Neutral face [70, 2] and (O, J, W) [T, 3] -> faces [T, 70, 2]."""
    T = params.shape[0]
    out = np.repeat(face[None], T, axis=0)
    h = face[8, 1] - face[27, 1]                  # nose bridge to chin
    O, J, W = params[:, 0:1], params[:, 1:2], params[:, 2:3]
    gap = O * LIP_GAP * h                          # inner-lip gap
    lips = list(range(48, 68))
    cx = (face[48, 0] + face[54, 0]) / 2
    # Width: spread widens, rounding narrows (inner corners move in more).
    widen = np.where(W > 0, 0.10, 0.16) * W
    out[:, lips, 0] = cx + (face[lips, 0] - cx) * (1 + widen)
    for idx, k in ((UPPER_INNER, -0.3), (UPPER_OUTER, -0.25), (LOWER_INNER, 0.7), (LOWER_OUTER, 0.7)):
        out[:, list(idx), 1] += k * gap * _profile(face, idx)[None, :]
    out[:, list(CORNERS), 1] += 0.3 * gap
    # Rounded lips protrude: seen from the front, the outer lips thicken a little.
    rnd = np.clip(-W, 0, 1)
    out[:, list(UPPER_OUTER), 1] -= 0.012 * h * rnd
    out[:, list(LOWER_OUTER), 1] += 0.012 * h * rnd
    jaw_w = np.array([0.15, 0.35, 0.55, 0.75, 0.9, 1.0, 0.9, 0.75, 0.55, 0.35, 0.15])  # points 3..13
    out[:, 3:14, 1] += J * JAW_DROP * h * jaw_w[None, :]
    return out


def _smooth_noise(rng: np.random.Generator, times: np.ndarray, freqs: tuple[float, float], n: int = 3) -> np.ndarray:
    """Sum of ``n`` random sinusoids in the band ``freqs`` (Hz), unit peak amplitude."""
    f = rng.uniform(*freqs, n)
    ph = rng.uniform(0, 2 * np.pi, n)
    a = rng.uniform(0.5, 1.0, n)
    return (a[None] * np.sin(2 * np.pi * f[None] * times[:, None] + ph[None])).sum(1) / a.sum()


def blinks(rng: np.random.Generator, times: np.ndarray) -> np.ndarray:
    """Eyelid closure in [0, 1] per time: gamma-distributed intervals, 80 ms close, 160 ms open."""
    closure = np.zeros_like(times)
    t = rng.uniform(0.2, 3.0)
    while t < times[-1] + 0.3 if times.size else False:
        close, open_ = rng.uniform(0.06, 0.1), rng.uniform(0.12, 0.2)
        rise = np.clip((times - (t - close)) / close, 0, 1)
        fall = np.clip(1 - (times - t) / open_, 0, 1)
        closure = np.maximum(closure, np.where(times < t, rise, fall) ** 0.8)
        t += 0.3 + rng.gamma(2.0, 1.6)
    return closure


def expression(out: np.ndarray, face: np.ndarray, emotion: str, intensity: np.ndarray) -> None:
    """Emotion offsets in place. ``intensity`` [T] in [0, 1]."""
    h = face[8, 1] - face[27, 1]
    k = intensity[:, None] * h
    left = np.array([48, 60]), np.array([54, 64])  # subject's right corners (image left), left corners
    if emotion == "happy":
        for idx, sign in ((left[0], -1), (left[1], 1)):
            out[:, idx, 1] -= 0.035 * k
            out[:, idx, 0] += sign * 0.025 * k
        out[:, [49, 53, 59, 55], 1] -= 0.012 * k
        out[:, [40, 41, 46, 47], 1] -= 0.010 * k   # cheeks push the lower lids up
        out[:, 17:27, 1] -= 0.012 * k
    elif emotion == "sad":
        out[:, list(left[0]) + list(left[1]), 1] += 0.03 * k
        out[:, [59, 55, 58, 56], 1] += 0.008 * k
        out[:, [20, 21, 22, 23], 1] -= 0.03 * k * np.array([0.6, 1.0, 1.0, 0.6])[None]
        out[:, [17, 26], 1] += 0.012 * k
        out[:, [37, 38, 43, 44], 1] += 0.008 * k   # upper lids droop


def eyes(out: np.ndarray, closure: np.ndarray, gaze: np.ndarray) -> None:
    """Blink (upper lids to the lower lids) and pupils (eye centre + gaze) in place."""
    for upper, lower, pupil, eye in (((37, 38), (41, 40), 68, slice(36, 42)), ((43, 44), (47, 46), 69, slice(42, 48))):
        centre = out[:, eye].mean(1)
        width = np.linalg.norm(out[:, eye.start + 3] - out[:, eye.start], axis=1)
        out[:, list(upper)] += closure[:, None, None] * (out[:, list(lower)] - out[:, list(upper)]) * 0.95
        out[:, pupil] = centre + gaze * width[:, None]


def head_motion(out: np.ndarray, rng: np.random.Generator, times: np.ndarray, opening: np.ndarray) -> np.ndarray:
    """Roll / translation / scale about the nose tip: slow drift plus nods that follow the mouth opening."""
    roll = np.deg2rad(1.5) * _smooth_noise(rng, times, (0.08, 0.5))
    tx = 0.008 * _smooth_noise(rng, times, (0.05, 0.4))
    kernel = np.hanning(15) / np.hanning(15).sum()   # ~0.5 s
    nod = np.convolve(opening, kernel, mode="same")
    ty = 0.006 * _smooth_noise(rng, times, (0.05, 0.4)) + 0.006 * (nod - nod.mean())
    sc = 1 + 0.01 * _smooth_noise(rng, times, (0.05, 0.3))
    pivot = out[:, 30:31].copy()
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    d = out - pivot
    rx = c * d[..., 0] - s * d[..., 1]
    ry = s * d[..., 0] + c * d[..., 1]
    res = np.stack([rx, ry], -1) * sc[:, None, None] + pivot
    res[..., 0] += tx[:, None]
    res[..., 1] += ty[:, None]
    return res


def make_track(symbols: Sequence[str], starts: np.ndarray, ends: np.ndarray, seconds: float, speaker: str,
               emotion: str, rng: np.random.Generator, articulation_scale: float = 1.0,
               interrogative: np.ndarray | None = None, language: str = "ja", lead: float | None = None
               ) -> np.ndarray:
    """Landmarks float32 [T, 70, 2], T = round(seconds * 30); frame i shows time i / 30. ``speaker`` names the
    face (its seeded shape); ``language`` selects the mouth targets (:func:`viseme`); ``lead``: how far the
    mouth moves ahead of the sound (default :data:`VISUAL_LEAD`)."""
    T = int(round(seconds * FPS))
    times = np.arange(T) / FPS
    face = speaker_face(speaker)
    params = articulation(symbols, np.asarray(starts), np.asarray(ends), times, articulation_scale, language, lead)
    out = pose_mouth(face, params)
    intensity = np.clip(rng.uniform(0.7, 1.0) + 0.2 * _smooth_noise(rng, times, (0.1, 0.5)), 0, 1)
    expression(out, face, emotion, intensity)
    if interrogative is not None and np.any(interrogative):
        q_start = float(np.asarray(starts)[np.asarray(interrogative) > 0].min())
        lift = np.clip((times - q_start) / 0.3, 0, 1)[:, None] * 0.015 * (face[8, 1] - face[27, 1])
        out[:, 17:27, 1] -= lift
    gaze = np.stack([0.12 * _smooth_noise(rng, times, (0.1, 0.6)), 0.05 * _smooth_noise(rng, times, (0.1, 0.6))], -1)
    eyes(out, blinks(rng, times), gaze)
    out = head_motion(out, rng, times, params[:, 0])
    assert out.shape == (T, N_POINTS, 2)
    return out.astype(np.float32)
