"""Result tables shaped like the paper's Table 1, as Markdown and JSON.

Rows are methods grouped by input (text, speech, none); columns are :data:`METRICS`. A value that
does not apply (MCD of a speech-driven method, which makes no audio) or was not run is ``None``:
``null`` in JSON, an em dash in Markdown. Every method x metric key is always present.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

InputKind = Literal["text", "speech", "none"]
METHODS: tuple[str, ...] = ("UniFLG-T", "UniFLG-S", "UniFLG-P", "TTL", "STL", "STL-D", "mean-face")
METHOD_INPUT: dict[str, InputKind] = {
    "TTL": "text", "UniFLG-P": "text", "UniFLG-T": "text",
    "STL": "speech", "STL-D": "speech", "UniFLG-S": "speech",
    "mean-face": "none",
}
TABLE_ORDER: tuple[str, ...] = ("TTL", "UniFLG-P", "UniFLG-T", "STL", "STL-D", "UniFLG-S", "mean-face")
METRICS: tuple[str, ...] = ("D-LL", "D-VL", "D-A", "D-L", "D-V", "MCD", "RTF")
UNITS: dict[str, str] = {"D-LL": "%", "D-VL": "%", "D-A": "%", "D-L": "%", "D-V": "%", "MCD": "dB", "RTF": ""}
INPUT_LABEL: dict[str, str] = {"text": "Text", "speech": "Speech", "none": "Baseline"}


@dataclass(frozen=True)
class MethodResult:
    method: str
    input: InputKind
    metrics: Mapping[str, float | None]
    utterances: int = 0
    note: str = ""

    def value(self, metric: str) -> float | None:
        v = self.metrics.get(metric)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


@dataclass(frozen=True)
class ResultTable:
    rows: tuple[MethodResult, ...]
    metrics: tuple[str, ...] = METRICS
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> ResultTable:
        """From ``[{"method": ..., "D-LL": ..., ...}, ...]`` (input kind from the method name)."""
        rows = []
        for rec in records:
            method = str(rec["method"])
            kind = rec.get("input") or METHOD_INPUT.get(method, "text")
            rows.append(MethodResult(method, kind, {m: rec.get(m) for m in METRICS},
                                     int(rec.get("utterances", 0)), str(rec.get("note", ""))))
        return cls(tuple(rows))

    def ordered(self) -> list[MethodResult]:
        rank = {name: i for i, name in enumerate(TABLE_ORDER)}
        groups = {"text": 0, "speech": 1, "none": 2}
        return sorted(self.rows, key=lambda r: (groups.get(r.input, 3), rank.get(r.method, len(rank))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "units": {m: UNITS.get(m, "") for m in self.metrics},
            "methods": [
                {"method": r.method, "input": r.input, "utterances": r.utterances,
                 **{m: r.value(m) for m in self.metrics}, **({"note": r.note} if r.note else {})}
                for r in self.ordered()
            ],
            **({"meta": dict(self.meta)} if self.meta else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        heads = [f"{m} ↓ [{UNITS[m]}]" if UNITS.get(m) else f"{m} ↓" for m in self.metrics]
        lines = ["| Input | Method | " + " | ".join(heads) + " |",
                 "|---|---|" + "---:|" * len(self.metrics)]
        previous = None
        for row in self.ordered():
            label = INPUT_LABEL.get(row.input, row.input) if row.input != previous else ""
            previous = row.input
            cells = [format_value(row.value(m)) for m in self.metrics]
            lines.append(f"| {label} | {row.method} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def format_value(value: float | None) -> str:
    """Three significant digits like the paper (8.41, 16.2, 0.660); an em dash for None."""
    if value is None:
        return "—"
    if value == 0:
        return "0"
    text = f"{value:#.3g}"
    return text.rstrip(".") if "e" not in text else text
