"""Monotonic rational-quadratic splines (Durkan et al., 2019) with identity tails.

Written without boolean-mask indexing or in-place writes, so the inverse exports to ONNX and TensorRT:
inputs outside [-B, B] are evaluated on clamped values and then replaced by the identity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3


def _knots(unnormalized: Tensor, low: float, high: float, min_size: float) -> tuple[Tensor, Tensor]:
    """Softmax bin sizes -> (knot positions (..., K+1) from low to high, bin sizes (..., K))."""
    n_bins = unnormalized.shape[-1]
    sizes = min_size + (1 - min_size * n_bins) * F.softmax(unnormalized, dim=-1)
    inner = torch.cumsum(sizes, dim=-1)[..., :-1] * (high - low) + low
    lo = torch.full_like(inner[..., :1], low)
    hi = torch.full_like(inner[..., :1], high)
    knots = torch.cat([lo, inner, hi], dim=-1)
    return knots, knots[..., 1:] - knots[..., :-1]


def _bin_index(knots: Tensor, x: Tensor) -> Tensor:
    """Index of the bin containing x: (..., 1) int64."""
    upper = knots[..., -1:] + 1e-6
    edges = torch.cat([knots[..., :-1], upper], dim=-1)
    return ((x.unsqueeze(-1) >= edges).long().sum(dim=-1, keepdim=True) - 1).clamp(min=0,
                                                                                   max=knots.shape[-1] - 2)


def rational_quadratic_spline(x: Tensor, widths_u: Tensor, heights_u: Tensor, derivs_u: Tensor,
                              inverse: bool, tail_bound: float) -> tuple[Tensor, Tensor]:
    """Elementwise spline on x (...); parameters (..., K), (..., K), (..., K-1). Returns (y, log|dy/dx|)."""
    B = tail_bound
    inside = (x >= -B) & (x <= B)
    xc = x.clamp(-B, B)
    # Boundary derivatives are fixed to 1 so the spline joins the identity tails smoothly.
    edge = math.log(math.expm1(1 - MIN_DERIVATIVE))
    pad = torch.full_like(derivs_u[..., :1], edge)
    derivs = MIN_DERIVATIVE + F.softplus(torch.cat([pad, derivs_u, pad], dim=-1))
    cw, w = _knots(widths_u, -B, B, MIN_BIN_WIDTH)
    ch, h = _knots(heights_u, -B, B, MIN_BIN_HEIGHT)
    idx = _bin_index(ch if inverse else cw, xc)

    def pick(t: Tensor) -> Tensor:
        return t.gather(-1, idx).squeeze(-1)

    x_k, w_k, y_k, h_k = pick(cw[..., :-1]), pick(w), pick(ch[..., :-1]), pick(h)
    d_k, d_k1 = pick(derivs[..., :-1]), pick(derivs[..., 1:])
    s_k = h_k / w_k
    slope_sum = d_k + d_k1 - 2 * s_k
    if inverse:
        dy = xc - y_k
        a = dy * slope_sum + h_k * (s_k - d_k)
        b = h_k * d_k - dy * slope_sum
        c = -s_k * dy
        disc = (b.pow(2) - 4 * a * c).clamp(min=0)
        theta = (2 * c) / (-b - torch.sqrt(disc))
        out = theta * w_k + x_k
    else:
        theta = (xc - x_k) / w_k
        tt = theta * (1 - theta)
        out = y_k + h_k * (s_k * theta.pow(2) + d_k * tt) / (s_k + slope_sum * tt)
    tt = theta * (1 - theta)
    denominator = s_k + slope_sum * tt
    numerator = s_k.pow(2) * (d_k1 * theta.pow(2) + 2 * s_k * tt + d_k * (1 - theta).pow(2))
    logabsdet = torch.log(numerator) - 2 * torch.log(denominator)
    if inverse:
        logabsdet = -logabsdet
    out = torch.where(inside, out, x)
    logabsdet = torch.where(inside, logabsdet, torch.zeros_like(logabsdet))
    return out, logabsdet
