"""Duration predictors: VITS's stochastic one (flow-based, trained by variational dequantization) and a
deterministic one (log-duration regression). Both see the text encoder output detached from its graph;
the caller decides which parts of the global condition the duration loss may train."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniflg.model.splines import rational_quadratic_spline
from uniflg.model.text_encoder import ChannelLayerNorm


class DilatedDepthSeparableConv(nn.Module):
    def __init__(self, channels: int, kernel_size: int, n_layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.sep = nn.ModuleList()
        self.pointwise = nn.ModuleList()
        self.norm1 = nn.ModuleList()
        self.norm2 = nn.ModuleList()
        for i in range(n_layers):
            dilation = kernel_size**i
            padding = (kernel_size * dilation - dilation) // 2
            self.sep.append(nn.Conv1d(channels, channels, kernel_size, groups=channels, dilation=dilation,
                                      padding=padding))
            self.pointwise.append(nn.Conv1d(channels, channels, 1))
            self.norm1.append(ChannelLayerNorm(channels))
            self.norm2.append(ChannelLayerNorm(channels))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None) -> Tensor:
        if g is not None:
            x = x + g
        for sep, pw, n1, n2 in zip(self.sep, self.pointwise, self.norm1, self.norm2, strict=True):
            y = F.gelu(n1(sep(x * mask)))
            y = self.dropout(F.gelu(n2(pw(y))))
            x = x + y
        return x * mask


class ElementwiseAffine(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.m = nn.Parameter(torch.zeros(channels, 1))
        self.logs = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None, reverse: bool = False
                ) -> tuple[Tensor, Tensor]:
        if reverse:
            return (x - self.m) * torch.exp(-self.logs) * mask, torch.zeros(x.size(0), device=x.device)
        y = (self.m + torch.exp(self.logs) * x) * mask
        return y, torch.sum(self.logs * mask, [1, 2])


class LogFlow(nn.Module):
    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None, reverse: bool = False
                ) -> tuple[Tensor, Tensor]:
        if reverse:
            return torch.exp(x) * mask, torch.zeros(x.size(0), device=x.device)
        y = torch.log(x.clamp(min=1e-5)) * mask
        return y, torch.sum(-y, [1, 2])


class FlipFlow(nn.Module):
    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None, reverse: bool = False
                ) -> tuple[Tensor, Tensor]:
        return torch.flip(x, [1]), torch.zeros(x.size(0), device=x.device)


class SplineCouplingFlow(nn.Module):
    """Coupling layer whose transform is a rational-quadratic spline conditioned on the other half."""

    def __init__(self, channels: int, filter_channels: int, kernel_size: int, n_layers: int,
                 n_bins: int = 10, tail_bound: float = 5.0) -> None:
        super().__init__()
        self.half_channels, self.n_bins, self.tail_bound = channels // 2, n_bins, tail_bound
        self.filter_channels = filter_channels
        self.pre = nn.Conv1d(self.half_channels, filter_channels, 1)
        self.convs = DilatedDepthSeparableConv(filter_channels, kernel_size, n_layers)
        self.proj = nn.Conv1d(filter_channels, self.half_channels * (3 * n_bins - 1), 1)
        nn.init.zeros_(self.proj.weight)
        if self.proj.bias is not None:
            nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None, reverse: bool = False
                ) -> tuple[Tensor, Tensor]:
        x0, x1 = x.split(self.half_channels, dim=1)
        h = self.proj(self.convs(self.pre(x0), mask, g)) * mask
        B, C, T = x0.shape
        h = h.reshape(B, C, -1, T).permute(0, 1, 3, 2)  # (B, C, T, 3K-1)
        scale = math.sqrt(self.filter_channels)
        K = self.n_bins
        y1, logabsdet = rational_quadratic_spline(
            x1, h[..., :K] / scale, h[..., K:2 * K] / scale, h[..., 2 * K:], reverse, self.tail_bound)
        y = torch.cat([x0, y1], dim=1) * mask
        return y, torch.sum(logabsdet * mask, [1, 2])


def _flow_stack(filter_channels: int, kernel_size: int, n_flows: int) -> nn.ModuleList:
    layers: list[nn.Module] = [ElementwiseAffine(2)]
    for _ in range(n_flows):
        layers += [SplineCouplingFlow(2, filter_channels, kernel_size, n_layers=3), FlipFlow()]
    return nn.ModuleList(layers)


class StochasticDurationPredictor(nn.Module):
    """Training: returns the negative variational lower bound of log p(d | h) per item (B,).
    Inference (``infer``): maps noise (B, 2, N) to log durations (B, 1, N)."""

    def __init__(self, in_channels: int, kernel_size: int = 3, dropout: float = 0.5, n_flows: int = 4,
                 gin_channels: int = 0) -> None:
        super().__init__()
        fc = in_channels
        self.log_flow = LogFlow()
        self.flows = _flow_stack(fc, kernel_size, n_flows)
        self.post_pre = nn.Conv1d(1, fc, 1)
        self.post_proj = nn.Conv1d(fc, fc, 1)
        self.post_convs = DilatedDepthSeparableConv(fc, kernel_size, 3, dropout)
        self.post_flows = _flow_stack(fc, kernel_size, 4)
        self.pre = nn.Conv1d(in_channels, fc, 1)
        self.proj = nn.Conv1d(fc, fc, 1)
        self.convs = DilatedDepthSeparableConv(fc, kernel_size, 3, dropout)
        self.cond = nn.Conv1d(gin_channels, fc, 1) if gin_channels else None

    def _context(self, x: Tensor, mask: Tensor, g: Tensor | None) -> Tensor:
        x = self.pre(x.detach())
        if g is not None and self.cond is not None:
            x = x + self.cond(g)
        return self.proj(self.convs(x, mask)) * mask

    def forward(self, x: Tensor, mask: Tensor, durations: Tensor, g: Tensor | None = None) -> Tensor:
        """x: (B, C, N) text hidden, durations: (B, 1, N) MAS frame counts -> NLL bound (B,)."""
        ctx = self._context(x, mask, g)
        h_w = self.post_proj(self.post_convs(self.post_pre(durations), mask)) * mask
        e_q = torch.randn(durations.size(0), 2, durations.size(2), device=x.device, dtype=x.dtype) * mask
        z_q, logdet_q = e_q, torch.zeros(x.size(0), device=x.device)
        for flow in self.post_flows:
            z_q, ld = flow(z_q, mask, g=ctx + h_w)
            logdet_q = logdet_q + ld
        z_u, z1 = z_q.split(1, dim=1)
        u = torch.sigmoid(z_u) * mask
        z0 = (durations - u) * mask
        logdet_q = logdet_q + torch.sum((F.logsigmoid(z_u) + F.logsigmoid(-z_u)) * mask, [1, 2])
        log_q = torch.sum(-0.5 * (math.log(2 * math.pi) + e_q**2) * mask, [1, 2]) - logdet_q
        z0, logdet = self.log_flow(z0, mask)
        z = torch.cat([z0, z1], dim=1)
        for flow in self.flows:
            z, ld = flow(z, mask, g=ctx)
            logdet = logdet + ld
        nll = torch.sum(0.5 * (math.log(2 * math.pi) + z**2) * mask, [1, 2]) - logdet
        return nll + log_q

    def infer(self, x: Tensor, mask: Tensor, noise: Tensor, g: Tensor | None = None) -> Tensor:
        """noise: (B, 2, N), already scaled by the caller's noise scale -> log durations (B, 1, N)."""
        ctx = self._context(x, mask, g)
        flows = list(reversed(self.flows))
        flows = flows[:-2] + [flows[-1]]  # the last coupling before the affine only shapes z1: skip it
        z = noise * mask
        for flow in flows:
            z, _ = flow(z, mask, g=ctx, reverse=True)
        return z[:, :1] * mask


class DurationPredictor(nn.Module):
    """Deterministic log-duration regressor (two conv blocks)."""

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int = 3, dropout: float = 0.5,
                 gin_channels: int = 0) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(in_channels, filter_channels, kernel_size, padding=pad)
        self.norm1 = ChannelLayerNorm(filter_channels)
        self.conv2 = nn.Conv1d(filter_channels, filter_channels, kernel_size, padding=pad)
        self.norm2 = ChannelLayerNorm(filter_channels)
        self.proj = nn.Conv1d(filter_channels, 1, 1)
        self.dropout = nn.Dropout(dropout)
        self.cond = nn.Conv1d(gin_channels, in_channels, 1) if gin_channels else None

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None) -> Tensor:
        """-> log durations (B, 1, N)."""
        x = x.detach()
        if g is not None and self.cond is not None:
            x = x + self.cond(g)
        x = self.dropout(self.norm1(torch.relu(self.conv1(x * mask))))
        x = self.dropout(self.norm2(torch.relu(self.conv2(x * mask))))
        return self.proj(x * mask) * mask
