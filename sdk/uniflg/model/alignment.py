"""Monotonic alignment search (Glow-TTS / VITS) in vectorized NumPy: no compiled extension to build.

The dynamic program runs over output frames; each step is a vector operation over the batch and the
text positions, so cost is O(T_y) Python steps of O(B * T_x) work.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

NEG_INF = -1e9


def maximum_path_numpy(values: np.ndarray, t_y: np.ndarray, t_x: np.ndarray) -> np.ndarray:
    """values: (B, T_y, T_x) log-likelihoods; t_y, t_x: valid lengths -> path (B, T_y, T_x) of 0/1.

    Every output frame takes exactly one token, tokens are visited in order, none is skipped, the path
    starts at token 0 and ends at token t_x - 1, maximizing the summed values.
    """
    B, T_y, T_x = values.shape
    acc = np.full((B, T_y, T_x), NEG_INF, dtype=np.float64)
    x_idx = np.arange(T_x)[None, :]
    valid_x = x_idx < t_x[:, None]
    for y in range(T_y):
        # Reachable tokens at frame y: x <= y (at most one advance per frame) and enough frames left
        # to reach the last token: x >= t_x - (t_y - y).
        reachable = valid_x & (x_idx <= y) & (x_idx >= (t_x - (t_y - y))[:, None]) & (y < t_y)[:, None]
        if y == 0:
            prev = np.where(x_idx == 0, 0.0, NEG_INF)
        else:
            stay = acc[:, y - 1]
            advance = np.concatenate([np.full((B, 1), NEG_INF), acc[:, y - 1, :-1]], axis=1)
            prev = np.maximum(stay, advance)
        acc[:, y] = np.where(reachable, prev + values[:, y], NEG_INF)
    path = np.zeros((B, T_y, T_x), dtype=np.float32)
    for b in range(B):
        x = int(t_x[b]) - 1
        for y in range(int(t_y[b]) - 1, -1, -1):
            path[b, y, x] = 1.0
            if x > 0 and (x == y or acc[b, y - 1, x] < acc[b, y - 1, x - 1]):
                x -= 1
    return path


@torch.no_grad()
def maximum_path(values: Tensor, mask: Tensor) -> Tensor:
    """values: (B, T_y, T_x); mask: (B, T_y, T_x) of the valid region -> path, same shape and device."""
    t_y = mask[:, :, 0].sum(1).long().cpu().numpy()
    t_x = mask[:, 0, :].sum(1).long().cpu().numpy()
    path = maximum_path_numpy(values.detach().float().cpu().numpy(), t_y, t_x)
    return torch.from_numpy(path).to(device=values.device, dtype=values.dtype)
