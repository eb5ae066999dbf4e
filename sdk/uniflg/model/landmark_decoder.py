"""Landmark decoder of UniFLG: 1x1 conv -> non-causal WaveNet with a global condition -> 1x1 conv to N x 2.

Paper sizes: 16 layers, 192 channels, kernel 5, dilation 1, global condition z_u (16-dim), about 7.2 M
parameters. In UniFLG-AS the global condition is the emotion embedding instead of z_u.
"""

from __future__ import annotations

from torch import Tensor, nn

from uniflg.config import LandmarkDecoderConfig
from uniflg.model.wavenet import WaveNet


class LandmarkDecoder(nn.Module):
    def __init__(self, in_channels: int, cfg: LandmarkDecoderConfig, cond_channels: int) -> None:
        super().__init__()
        self.n_points = cfg.n_points
        self.pre = nn.Conv1d(in_channels, cfg.channels, 1)
        self.wavenet = WaveNet(cfg.channels, cfg.kernel_size, cfg.dilation, cfg.layers, cond_channels,
                               cfg.dropout)
        self.post = nn.Conv1d(cfg.channels, 2 * cfg.n_points, 1)

    def forward(self, x: Tensor, mask: Tensor, cond: Tensor) -> Tensor:
        """x: (B, D, T_land), mask: (B, 1, T_land), cond: (B, C_cond, 1) -> landmarks (B, T_land, N, 2)."""
        h = self.wavenet(self.pre(x) * mask, mask, cond)
        y = self.post(h) * mask  # (B, 2N, T)
        B, _, T = y.shape
        return y.transpose(1, 2).reshape(B, T, self.n_points, 2)
