"""Dynamic time warping in numpy, vectorized over anti-diagonals.

Steps (1, 0), (0, 1), (1, 1) with equal weights, no band; the path starts at (0, 0) and ends at
(n - 1, m - 1). Cost: Euclidean distance between per-frame feature vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist


@dataclass(frozen=True)
class DTWResult:
    path: np.ndarray  # (L, 2) int64 pairs (i in x, j in y), monotone
    cost: float  # total cost along the path

    @property
    def normalized_cost(self) -> float:
        return self.cost / len(self.path)


def dtw(x: np.ndarray, y: np.ndarray) -> DTWResult:
    """Align ``x`` (n, ...) to ``y`` (m, ...); frames are flattened to vectors."""
    xf = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    yf = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(xf) == 0 or len(yf) == 0:
        raise ValueError("dtw needs two non-empty sequences")
    return dtw_from_cost(cdist(xf, yf))


def dtw_from_cost(cost: np.ndarray) -> DTWResult:
    """DTW on a precomputed (n, m) local cost matrix."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)  # acc[i + 1, j + 1]: best cost of a path ending at (i, j)
    acc[0, 0] = 0.0
    for k in range(2, n + m + 1):  # anti-diagonal i + j = k in the padded grid
        i = np.arange(max(1, k - m), min(n, k - 1) + 1)
        j = k - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    return DTWResult(path=_backtrack(acc), cost=float(acc[n, m]))


def _backtrack(acc: np.ndarray) -> np.ndarray:
    i, j = acc.shape[0] - 1, acc.shape[1] - 1
    path = [(i - 1, j - 1)]
    while (i, j) != (1, 1):
        moves = ((i - 1, j - 1), (i - 1, j), (i, j - 1))  # ties prefer the diagonal
        i, j = min(moves, key=lambda ij: acc[ij])
        path.append((i - 1, j - 1))
    return np.asarray(path[::-1], dtype=np.int64)


def warp_to_reference(x: np.ndarray, path: np.ndarray, n_reference: int) -> np.ndarray:
    """Put ``x`` on the reference timeline: reference frame j gets the mean of the ``x`` frames the
    path matches to it. Returns an array of ``n_reference`` frames shaped like ``x[0]``."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(len(x), -1)
    sums = np.zeros((n_reference, flat.shape[1]))
    counts = np.zeros(n_reference)
    np.add.at(sums, path[:, 1], flat[path[:, 0]])
    np.add.at(counts, path[:, 1], 1.0)
    return (sums / counts[:, None]).reshape((n_reference, *x.shape[1:]))
