"""What every backend offers the runtime: run one named graph on NumPy arrays. No torch here."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Backend(Protocol):
    """A backend runs the graphs of :mod:`uniflg.backends.graphs` by name; inputs and outputs are NumPy arrays
    keyed by the graph's input/output names (float32 / int64)."""

    name: str

    def run(self, graph: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def describe(self) -> str: ...
