"""``uniflg eval --data DIR --run RUN2 --json [--out FILE]``: the paper's Table 1 for a trained run.

The metric core (:func:`uniflg_train.evaluation.evaluate.evaluate`) is complete and tested. Running
the models goes through the small :class:`System` interface below; the trainer fills in
:func:`load_systems` and :func:`load_items`.

TODO(trainer author) — what ``run_eval`` needs:

* ``load_items(data_dir) -> list[EvalItem]``: the evaluation split of the paired corpus, each with the
  text-front-end input the model takes, speaker/emotion, reference 24 kHz audio and ``[T, 70, 2]``
  reference landmarks at 30 fps.
* ``load_systems(run_dir, extra_runs) -> dict[str, System]`` keyed by variant name: ``"UniFLG"`` (the
  run itself) and, when trained, ``"TTL"``, ``"STL"``, ``"STL-D"``. Each :class:`System` implements
  ``predict_text(item) -> (audio, landmarks)`` (text-driven, z_u from the reference speech or N(0, I):
  say which in the model card), ``predict_speech(item) -> landmarks`` (from ``item.audio``) and
  ``predict_pipelined(item) -> (audio, landmarks)`` (TTS, then speech-driven on the synthesized audio).
  A system raises ``NotImplementedError`` for modes it does not support (STL has no text mode).

``run_eval`` times every call with ``time.perf_counter`` for RTF (after one untimed warm-up call per
method) and lists methods whose system is missing with null values and a note, so the JSON always has
every method x metric.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
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


class EvalNotWiredError(UniFLGError):
    """The model-running half of ``uniflg eval`` is not connected yet."""


def load_items(data_dir: Path, split: str = "test", limit: int | None = None) -> list[EvalItem]:
    """The paired items of ``DIR/{split}.jsonl`` (reference audio + landmarks), in manifest order."""
    import json

    import soundfile as sf

    manifest = Path(data_dir) / f"{split}.jsonl"
    if not manifest.is_file():
        raise EvalNotWiredError(f"no {manifest}: run `uniflg corpus make` or point --data at a prepared corpus")
    items: list[EvalItem] = []
    for line_no, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        if not rec.get("landmarks"):
            continue  # unpaired: nothing to score landmarks against
        try:
            audio, rate = sf.read(Path(data_dir) / rec["audio"], dtype="float32", always_2d=False)
            landmarks = np.load(Path(data_dir) / rec["landmarks"]).astype(np.float32)
        except (OSError, RuntimeError, ValueError) as exc:
            logger.warning("%s line %d (%s): skipped: %s", manifest, line_no, rec.get("id"), exc)
            continue
        items.append(EvalItem(rec["id"], rec["text"], audio, rate, landmarks, rec.get("speaker", ""),
                              rec.get("emotion", "")))
        if limit is not None and len(items) >= limit:
            break
    if not items:
        raise EvalNotWiredError(f"{manifest} has no paired items with landmarks to evaluate")
    return items


def load_systems(run_dir: Path, extra_runs: Mapping[str, Path]) -> dict[str, System]:
    """UniFLG from ``run_dir`` (a stage-2 run) and TTL/STL/STL-D from ``extra_runs``, newest checkpoints."""
    from uniflg_train.checkpoint import CheckpointManager, load_trained_model
    from uniflg_train.evaluation.systems import TorchSystem

    systems: dict[str, System] = {}
    for name, run in {"UniFLG": run_dir, **extra_runs}.items():
        latest = CheckpointManager(Path(run) / "checkpoints").latest()
        if latest is None or latest.config() is None:
            raise EvalNotWiredError(f"{run}: no complete checkpoint with a config under {run}/checkpoints")
        systems[name] = TorchSystem(load_trained_model(latest.path)[0])
    return systems


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
        predictions[method] = [_predict(system, mode, item) for item in items]
    return predictions, notes


def run_eval(items: Sequence[EvalItem], systems: Mapping[str, System], methods: Sequence[str] = METHODS,
             neutral: np.ndarray | None = None) -> ResultTable:
    """Predict with every method, then score against the items' references (+ the mean face)."""
    predictions, notes = collect_predictions(items, systems, methods)
    refs = [Reference(i.utt_id, i.landmarks, i.audio, i.sample_rate) for i in items]
    table = evaluate(predictions, refs, neutral=neutral)
    skipped = [MethodResult(m, METHOD_INPUT[m], dict.fromkeys(METRICS), 0, note) for m, note in notes.items()]
    return ResultTable(table.rows + tuple(skipped))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="objective evaluation (the paper's Table 1)",
                            description="D-LL, D-VL, D-A, D-L, D-V, MCD and RTF per method "
                                        "(Markdown, or JSON with --json).")
    parser.add_argument("--data", type=Path, required=True, help="prepared corpus directory")
    parser.add_argument("--run", type=Path, required=True, help="stage-2 run directory (UniFLG)")
    parser.add_argument("--baseline", action="append", default=[], metavar="NAME=RUN", type=_parse_baseline,
                        help="a baseline run: TTL=DIR, STL=DIR or STL-D=DIR (repeatable)")
    parser.add_argument("--split", default="test", help="manifest split to score (default test)")
    parser.add_argument("--limit", type=int, help="score at most this many items")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--out", type=Path, help="also write the table here (.json or .md)")
    parser.add_argument("--report", type=Path,
                        help="also write the acceptance report (Markdown: table, lip correlations, the paper's "
                             "claims, unseen-voice check)")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    extra = dict(args.baseline)
    items, systems = load_items(args.data, args.split, args.limit), load_systems(args.run, extra)
    if args.report is not None:
        from uniflg_train.evaluation.report import run_report

        table, report = run_report(items, systems)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report, encoding="utf-8")
    else:
        table = run_eval(items, systems)
    text = table.to_json() if args.json else table.to_markdown()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table.to_json() if args.out.suffix == ".json" else table.to_markdown(),
                            encoding="utf-8")
    return 0


def _parse_baseline(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or name not in ("TTL", "STL", "STL-D"):
        raise argparse.ArgumentTypeError(f"--baseline wants TTL=DIR, STL=DIR or STL-D=DIR, got {value!r}")
    return name, Path(path)
