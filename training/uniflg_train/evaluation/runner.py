"""Evaluation's data types and runner: the items scored, the :class:`System` interface a trained system
implements, and :func:`run_eval`, which times every prediction and scores it (the paper's Table 1).

``run_eval`` times every call with ``time.perf_counter`` for RTF (after one untimed warm-up call per method) and
lists methods whose system is missing with null values and a note, so the JSON always has every method x metric.
A system raises ``NotImplementedError`` for modes it does not support (STL has no text mode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm
from uniflg.errors import UniFLGError

from uniflg_train.evaluation.evaluate import Prediction, Reference, evaluate
from uniflg_train.evaluation.table import METHOD_INPUT, METHODS, METRICS, MethodResult, ResultTable

logger = logging.getLogger(__name__)

# method -> (system variant, inference mode)
METHOD_SOURCES: dict[str, tuple[str, str]] = {
    "UniFLG-T": ("UniFLG", "text"),
    "UniFLG-S": ("UniFLG", "speech"),
    "UniFLG-P": ("UniFLG", "pipelined"),
    "TTL": ("TTL", "text"),
    "STL": ("STL", "speech"),
    "STL-D": ("STL-D", "speech"),
}


@dataclass(frozen=True)
class EvalItem:
    utt_id: str
    text: str
    audio: np.ndarray  # reference speech, mono float
    sample_rate: int
    landmarks: np.ndarray  # reference [T, 70, 2]
    speaker: str = ""
    emotion: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. phoneme ids from the data pipeline


class System(Protocol):
    """One trained system (UniFLG, TTL, STL or STL-D) as evaluation sees it."""

    sample_rate: int

    def predict_text(self, item: EvalItem) -> tuple[np.ndarray, np.ndarray]: ...

    def predict_speech(self, item: EvalItem) -> np.ndarray: ...

    def predict_pipelined(self, item: EvalItem) -> tuple[np.ndarray, np.ndarray]: ...


class EvalInputError(UniFLGError):
    """The corpus or the runs given to ``uniflg eval`` cannot be evaluated (the message says why)."""


def load_items(data_dir: Path, split: str = "test", limit: int | None = None,
               leave_out_speakers: tuple[str, ...] = ()) -> list[EvalItem]:
    """The paired items with words of ``DIR/{split}.jsonl`` (reference audio + landmarks), in manifest order,
    but those of ``leave_out_speakers`` (a run's ``--speech-only-speakers``: words its text path cannot read)."""
    import soundfile as sf

    from uniflg_train.data.formats import BadItemError, read_landmarks, read_manifest

    manifest = Path(data_dir) / f"{split}.jsonl"
    if not manifest.is_file():
        raise EvalInputError(f"no {manifest}: run `uniflg corpus make` or point --data at a prepared corpus")
    rows, bad = read_manifest(manifest)
    for b in bad:
        logger.warning("skipped: %s", b)
    items: list[EvalItem] = []
    left_out = 0
    for row in rows:
        if row.landmarks is None or row.wordless:
            continue  # unpaired: nothing to score landmarks against; word-free: nothing for the text path
        if row.speaker in leave_out_speakers:
            left_out += 1
            continue
        try:
            audio, rate = sf.read(row.audio, dtype="float32", always_2d=False)
            landmarks, _ = read_landmarks(row.landmarks)
        except (OSError, RuntimeError, ValueError, BadItemError) as exc:
            logger.warning("%s (%s): skipped: %s", row.source, row.id, exc)
            continue
        items.append(EvalItem(row.id, row.text, audio, rate, landmarks.astype(np.float32), row.speaker,
                              row.emotion))
        if limit is not None and len(items) >= limit:
            break
    if left_out:
        logger.info("left out %d items of %s: the run trained them on the speech path only (--speech-only-speakers)",
                    left_out, ", ".join(leave_out_speakers))
    if not items:
        raise EvalInputError(f"{manifest} has no paired items with landmarks to evaluate"
                             + (f" but speech-only speakers' ({', '.join(leave_out_speakers)})" if left_out else ""))
    return items


def _predict(system: System, mode: str, item: EvalItem) -> Prediction:
    calls: dict[str, Callable[[EvalItem], Any]] = {
        "text": system.predict_text, "speech": system.predict_speech, "pipelined": system.predict_pipelined}
    start = time.perf_counter()
    out = calls[mode](item)
    elapsed = time.perf_counter() - start
    audio, landmarks = out if mode in ("text", "pipelined") else (None, out)
    return Prediction(item.utt_id, np.asarray(landmarks), None if audio is None else np.asarray(audio),
                      system.sample_rate, elapsed)


def collect_predictions(
    items: Sequence[EvalItem], systems: Mapping[str, System], methods: Sequence[str] = METHODS,
) -> tuple[dict[str, list[Prediction]], dict[str, str]]:
    """Run every available method over the items; returns predictions and notes for skipped methods."""
    predictions: dict[str, list[Prediction]] = {}
    notes: dict[str, str] = {}
    for method in methods:
        if method not in METHOD_SOURCES:
            continue
        variant, mode = METHOD_SOURCES[method]
        system = systems.get(variant)
        if system is None:
            notes[method] = f"not run: no {variant} system"
            continue
        if items:
            _predict(system, mode, items[0])  # warm-up, untimed
        progress = tqdm(items, desc=f"eval {method}", unit="utt", leave=False)  # long runs show progress
        predictions[method] = [_predict(system, mode, item) for item in progress]
    return predictions, notes


def run_eval(items: Sequence[EvalItem], systems: Mapping[str, System], methods: Sequence[str] = METHODS,
             neutral: np.ndarray | None = None) -> ResultTable:
    """Predict with every method, then score against the items' references (+ the mean face)."""
    predictions, notes = collect_predictions(items, systems, methods)
    return score(predictions, notes, references(items), neutral)


def references(items: Sequence[EvalItem]) -> list[Reference]:
    return [Reference(i.utt_id, i.landmarks, i.audio, i.sample_rate) for i in items]


def score(predictions: Mapping[str, Sequence[Prediction]], notes: Mapping[str, str], refs: Sequence[Reference],
          neutral: np.ndarray | None = None) -> ResultTable:
    """The table of ``predictions`` against ``refs`` (+ the mean face), with a row of ``null`` metrics for each
    method that did not run (``notes`` says why), so every method is in the table and the JSON."""
    table = evaluate(predictions, refs, neutral=neutral)
    skipped = [MethodResult(m, METHOD_INPUT[m], dict.fromkeys(METRICS), 0, note) for m, note in notes.items()]
    return ResultTable(table.rows + tuple(skipped))
