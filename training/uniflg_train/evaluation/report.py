"""The default voice's acceptance report: Table 1 plus lip-opening correlations, the paper's claims checked
on our data, and speech-driven animation of a voice never seen in training (espeak-ng English).

Definitions:
- lip-opening correlation r: Pearson correlation between the inner-lip height (points 62-66) of the
  prediction and of the reference, frames pooled over the evaluation set; text-driven predictions are
  DTW-aligned to the reference first (as for D-LL).
- unseen-voice correlation: Pearson correlation between the predicted inner-lip height and the RMS energy
  of the audio over each 1/30-s frame, frames pooled over the sentences.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from uniflg.landmarks import N_POINTS

from uniflg_train.evaluation.evaluate import Prediction, Reference
from uniflg_train.evaluation.lips import inner_lip_gap, pearson
from uniflg_train.evaluation.metrics import align_landmarks, energy_envelope
from uniflg_train.evaluation.runner import METHOD_SOURCES, EvalItem, System, collect_predictions, references, score
from uniflg_train.evaluation.table import METHOD_INPUT, ResultTable

log = logging.getLogger(__name__)

UNSEEN_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Please open the window before the meeting begins.",
    "My mother baked a warm apple pie for everybody.",
    "We will be waiting by the blue boat at noon.",
)

# (claim, better method, worse method, metrics) from the paper's section 4.2.1.
CLAIMS = (
    ("UniFLG-T <= TTL", "UniFLG-T", "TTL", ("D-LL", "D-L")),
    ("UniFLG-S <= STL", "UniFLG-S", "STL", ("D-LL", "D-L")),
    ("UniFLG-T <= UniFLG-P", "UniFLG-T", "UniFLG-P", ("D-LL",)),
)


@dataclass(frozen=True)
class ClaimCheck:
    claim: str
    metric: str
    left: float | None
    right: float | None

    @property
    def holds(self) -> bool | None:
        if self.left is None or self.right is None:
            return None
        return self.left <= self.right


def lip_correlations(predictions: Mapping[str, Sequence[Prediction]], references: Mapping[str, Reference]
                     ) -> dict[str, float]:
    out: dict[str, float] = {}
    for method, preds in predictions.items():
        p_all, r_all = [], []
        for pred in preds:
            ref = np.asarray(references[pred.utt_id].landmarks)
            if METHOD_INPUT.get(method) == "text":
                aligned = align_landmarks(pred.landmarks, ref)
            else:
                n = min(len(pred.landmarks), len(ref))
                aligned, ref = np.asarray(pred.landmarks)[:n], ref[:n]
            p_all.append(inner_lip_gap(aligned))
            r_all.append(inner_lip_gap(ref))
        if p_all:
            out[method] = pearson(np.concatenate(p_all), np.concatenate(r_all))
    return out


def check_claims(table: ResultTable) -> list[ClaimCheck]:
    rows = {r.method: r for r in table.rows}
    checks = []
    for claim, left, right, metrics in CLAIMS:
        for metric in metrics:
            lv = rows[left].value(metric) if left in rows else None
            rv = rows[right].value(metric) if right in rows else None
            checks.append(ClaimCheck(claim, metric, lv, rv))
    return checks


def espeak_audio(texts: Sequence[str], folder: Path, voice: str = "en-us") -> list[tuple[np.ndarray, int]]:
    """Render sentences with the espeak-ng command-line synthesizer (a voice the model never heard)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    clips = []
    for i, text in enumerate(texts):
        path = folder / f"unseen_{i}.wav"
        subprocess.run([exe, "-v", voice, "-w", str(path), text], check=True, capture_output=True)
        audio, rate = sf.read(path, dtype="float32")
        clips.append((audio, rate))
    return clips


def unseen_voice_correlation(system: System, speaker: str, texts: Sequence[str] = UNSEEN_TEXTS) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        clips = espeak_audio(texts, Path(tmp))
    lips, energy = [], []
    for i, (audio, rate) in enumerate(clips):
        item = EvalItem(f"unseen_{i}", texts[i], audio, rate, np.zeros((1, N_POINTS, 2), np.float32), speaker, "normal")
        landmarks = system.predict_speech(item)
        env = energy_envelope(audio, rate)
        n = min(len(landmarks), len(env))
        lips.append(inner_lip_gap(landmarks[:n]))
        energy.append(env[:n])
    return pearson(np.concatenate(lips), np.concatenate(energy))


def reference_energy_correlation(items: Sequence[EvalItem]) -> float:
    """The same lip/energy correlation on the corpus's own (procedural) faces, for scale."""
    lips, energy = [], []
    for item in items:
        env = energy_envelope(item.audio, item.sample_rate)
        n = min(len(item.landmarks), len(env))
        lips.append(inner_lip_gap(item.landmarks[:n]))
        energy.append(env[:n])
    return pearson(np.concatenate(lips), np.concatenate(energy))


def run_report(items: Sequence[EvalItem], systems: Mapping[str, System]) -> tuple[ResultTable, str]:
    """-> (Table 1, the Markdown report)."""
    predictions, notes = collect_predictions(items, systems)
    refs = references(items)
    table = score(predictions, notes, refs)  # the methods that did not run too, as `uniflg eval` lists them
    by_id = {r.utt_id: r for r in refs}
    lips = lip_correlations(predictions, by_id)
    claims = check_claims(table)
    rows = {r.method: r for r in table.rows}
    lines = ["## Objective evaluation (held-out procedural items)", "", table.to_markdown(), ""]
    if notes:
        lines += [f"- {m}: {n}" for m, n in notes.items()] + [""]
    lines += ["## Acceptance figures", "", "| Figure | Value | Target |", "|---|---:|---|"]
    mean_dll = rows["mean-face"].value("D-LL") if "mean-face" in rows else None
    for method in ("UniFLG-S", "UniFLG-T"):
        dll = rows[method].value("D-LL") if method in rows else None
        ratio = dll / mean_dll if dll is not None and mean_dll else None
        lines.append(f"| {method} D-LL / mean-face D-LL | {_fmt(ratio)} | <= 0.5 |")
        lines.append(f"| {method} lip-opening r | {_fmt(lips.get(method))} | >= 0.7 |")
    mcd = rows["UniFLG-T"].value("MCD") if "UniFLG-T" in rows else None
    lines.append(f"| UniFLG-T MCD vs the HTS rendering (DTW) | {_fmt(mcd)} dB | <= 7.0 dB |")
    system = systems.get("UniFLG")
    if system is not None:
        try:
            unseen = unseen_voice_correlation(system, items[0].speaker)
            lines.append(f"| UniFLG-S on unseen espeak-ng English: lip opening vs energy r | {_fmt(unseen)} | report |")
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            lines.append(f"| unseen-voice check | not run: {exc} | report |")
        scale = reference_energy_correlation(items)
        lines.append(f"| (scale) corpus faces: lip opening vs energy r | {_fmt(scale)} | |")
    lines += ["", "## The paper's claims on our data", "", "| Claim | Metric | Left | Right | Holds |",
              "|---|---|---:|---:|---|"]
    for c in claims:
        holds = "n/a" if c.holds is None else ("yes" if c.holds else "**no**")
        lines.append(f"| {c.claim} | {c.metric} | {_fmt(c.left)} | {_fmt(c.right)} | {holds} |")
    lines += ["", "Lip-opening correlations (all methods): "
              + ", ".join(f"{m} {_fmt(v)}" for m, v in lips.items()), ""]
    return table, "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.3g}"


__all__ = ["METHOD_SOURCES", "check_claims", "lip_correlations", "run_report", "unseen_voice_correlation"]
