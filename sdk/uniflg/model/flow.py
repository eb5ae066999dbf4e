"""Residual-coupling normalizing flow f_theta: z_f <-> f(z_f), volume preserving (mean-only couplings)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uniflg.model.wavenet import WaveNet


class ResidualCoupling(nn.Module):
    """Affine coupling: the second half is shifted by a WaveNet of the first half (mean only: logdet 0)."""

    def __init__(self, channels: int, hidden: int, kernel_size: int, n_layers: int, gin_channels: int) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError("coupling channels must be even")
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden, 1)
        self.wavenet = WaveNet(hidden, kernel_size, 1, n_layers, gin_channels)
        self.post = nn.Conv1d(hidden, self.half_channels, 1)
        # Start as the identity map so early training is stable.
        nn.init.zeros_(self.post.weight)
        if self.post.bias is not None:
            nn.init.zeros_(self.post.bias)

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None, reverse: bool = False) -> Tensor:
        x0, x1 = x.split(self.half_channels, dim=1)
        shift = self.post(self.wavenet(self.pre(x0) * mask, mask, g)) * mask
        x1 = (x1 - shift) * mask if reverse else (x1 + shift) * mask
        return torch.cat([x0, x1], dim=1)


class ResidualCouplingFlow(nn.Module):
    def __init__(self, channels: int, hidden: int, kernel_size: int, n_layers: int, n_couplings: int,
                 gin_channels: int) -> None:
        super().__init__()
        self.couplings = nn.ModuleList(
            [ResidualCoupling(channels, hidden, kernel_size, n_layers, gin_channels) for _ in range(n_couplings)])

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None, reverse: bool = False) -> Tensor:
        """z_f -> f(z_f) (reverse=False) or back. Between couplings the channel order is flipped."""
        if not reverse:
            for coupling in self.couplings:
                x = torch.flip(coupling(x, mask, g), [1])
        else:
            for coupling in reversed(self.couplings):
                x = coupling(torch.flip(x, [1]), mask, g, reverse=True)
        return x
