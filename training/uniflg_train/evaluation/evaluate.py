"""The evaluation core: predictions + references -> :class:`ResultTable` (no model code here).

Alignment per method input (see :data:`~uniflg_train.evaluation.table.METHOD_INPUT`): text-driven
landmarks are DTW-aligned to the reference (:func:`~uniflg_train.evaluation.metrics.align_landmarks`);
speech-driven and baseline outputs share the reference's timeline and are cut to the shorter length
(they differ by at most a frame of rounding). MCD is computed for every prediction that carries audio
(text-driven methods), RTF = total inference seconds / total seconds of speech produced (text) or
consumed (speech). The mean-face baseline is added when the predictions lack it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from uniflg.landmarks import FPS

from uniflg_train.evaluation.mcd import MCDSums, MelCepstrumOptions, mcd_sums
from uniflg_train.evaluation.metrics import (
    LandmarkSums,
    align_landmarks,
    landmark_sums,
    mean_face_prediction,
    neutral_face,
)
from uniflg_train.evaluation.table import METHOD_INPUT, MethodResult, ResultTable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    utt_id: str
    landmarks: np.ndarray  # [T, 70, 2] at 30 fps
    audio: np.ndarray | None = None  # mono float
    sample_rate: int = 24000


@dataclass(frozen=True)
class Prediction:
    utt_id: str
    landmarks: np.ndarray  # [T', 70, 2] at 30 fps
    audio: np.ndarray | None = None  # text-driven methods: the synthesized speech
    sample_rate: int = 24000
    elapsed_s: float | None = None  # inference time for RTF


def _duration(pred: Prediction, ref: Reference) -> float:
    if pred.audio is not None:
        return len(pred.audio) / pred.sample_rate
    if ref.audio is not None:
        return len(ref.audio) / ref.sample_rate
    return len(ref.landmarks) / FPS


def evaluate_method(method: str, predictions: Sequence[Prediction], references: Mapping[str, Reference],
                    mcd_options: MelCepstrumOptions = MelCepstrumOptions()) -> MethodResult:
    kind = METHOD_INPUT.get(method, "text")
    sums, mcd, seconds, elapsed = LandmarkSums(), MCDSums(), 0.0, 0.0
    timed = bool(predictions) and all(p.elapsed_s is not None for p in predictions)
    for pred in predictions:
        ref = references[pred.utt_id]
        if kind == "text":
            aligned, target = align_landmarks(pred.landmarks, ref.landmarks), np.asarray(ref.landmarks)
        else:
            n = min(len(pred.landmarks), len(ref.landmarks))
            aligned, target = np.asarray(pred.landmarks)[:n], np.asarray(ref.landmarks)[:n]
        sums = sums + landmark_sums(aligned, target)
        if pred.audio is not None and ref.audio is not None:
            mcd = mcd + mcd_sums(ref.audio, pred.audio, ref.sample_rate, mcd_options,
                                 prediction_rate=pred.sample_rate)
        seconds += _duration(pred, ref)
        elapsed += pred.elapsed_s or 0.0
    metrics: dict[str, float | None] = dict(sums.metrics())
    metrics["MCD"] = mcd.mean if mcd.pairs else None
    metrics["RTF"] = elapsed / seconds if timed and seconds > 0 else None
    return MethodResult(method, kind, metrics, utterances=len(predictions))


def evaluate(predictions: Mapping[str, Sequence[Prediction]], references: Sequence[Reference],
             neutral: np.ndarray | None = None,
             mcd_options: MelCepstrumOptions = MelCepstrumOptions()) -> ResultTable:
    """One row per method in ``predictions`` plus the mean-face baseline (``neutral`` face ``[70, 2]``;
    default: the mean of all reference frames)."""
    refs = {r.utt_id: r for r in references}
    rows = [evaluate_method(m, preds, refs, mcd_options) for m, preds in predictions.items()]
    if "mean-face" not in predictions:
        face = neutral if neutral is not None else neutral_face(r.landmarks for r in references)
        baseline = [Prediction(r.utt_id, mean_face_prediction(face, len(r.landmarks))) for r in references]
        rows.append(evaluate_method("mean-face", baseline, refs, mcd_options))
    for row in rows:
        logger.info("%s: %s", row.method, {k: v for k, v in row.metrics.items() if v is not None})
    return ResultTable(tuple(rows))
