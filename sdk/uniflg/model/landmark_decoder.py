"""Landmark decoder of UniFLG: 1x1 conv -> non-causal WaveNet with a global condition -> 1x1 conv to N x 2.

Paper sizes: 16 layers, 192 channels, kernel 5, dilation 1, global condition z_u (16-dim), about 7.2 M
parameters. In UniFLG-AS the global condition is the emotion embedding instead of z_u.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uniflg.config import LandmarkDecoderConfig
from uniflg.model.wavenet import WaveNet


class LandmarkDecoder(nn.Module):
    mean_face: Tensor
    scale: Tensor

    def __init__(self, in_channels: int, cfg: LandmarkDecoderConfig, cond_channels: int) -> None:
        super().__init__()
        self.n_points = cfg.n_points
        self.pre = nn.Conv1d(in_channels, cfg.channels, 1)
        self.wavenet = WaveNet(cfg.channels, cfg.kernel_size, cfg.dilation, cfg.layers, cond_channels,
                               cfg.dropout)
        self.post = nn.Conv1d(cfg.channels, 2 * cfg.n_points, 1)
        # The network predicts offsets from the corpus mean face in units of `scale`; the buffers are set
        # from the training data before stage 2 and saved with the weights, so outputs are absolute points.
        self.register_buffer("mean_face", torch.zeros(cfg.n_points, 2))
        self.register_buffer("scale", torch.ones(1))

    def set_statistics(self, mean_face: Tensor, scale: float) -> None:
        self.mean_face.copy_(mean_face)
        self.scale.fill_(scale)

    def normalize(self, landmarks: Tensor) -> Tensor:
        """Absolute points (..., N, 2) -> the network's normalized target space."""
        return (landmarks - self.mean_face) / self.scale

    def forward(self, x: Tensor, mask: Tensor, cond: Tensor) -> Tensor:
        """x: (B, D, T_land), mask: (B, 1, T_land), cond: (B, C_cond, 1) -> landmarks (B, T_land, N, 2)."""
        h = self.wavenet(self.pre(x) * mask, mask, cond)
        y = self.post(h) * mask  # (B, 2N, T)
        B, _, T = y.shape
        offsets = y.transpose(1, 2).reshape(B, T, self.n_points, 2)
        return offsets * self.scale + self.mean_face
