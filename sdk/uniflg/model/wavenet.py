"""Non-causal WaveNet (gated dilated convolutions, residual + skip), with optional global conditioning.

Used by the posterior encoder, the coupling layers of the flow, and the landmark decoder.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from uniflg.model.commons import fused_add_tanh_sigmoid_multiply


class WaveNet(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation_rate: int, n_layers: int,
                 gin_channels: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("WaveNet kernel_size must be odd (non-causal, centred)")
        self.channels = channels
        self.n_layers = n_layers
        self.dropout = nn.Dropout(dropout)
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        # One 1x1 conv projects the global condition for every layer at once.
        self.cond_layer = (weight_norm(nn.Conv1d(gin_channels, 2 * channels * n_layers, 1))
                           if gin_channels > 0 else None)
        for i in range(n_layers):
            dilation = dilation_rate**i
            padding = (kernel_size * dilation - dilation) // 2
            self.in_layers.append(weight_norm(
                nn.Conv1d(channels, 2 * channels, kernel_size, dilation=dilation, padding=padding)))
            # The last layer only feeds the skip path, so it needs half the outputs.
            out = 2 * channels if i < n_layers - 1 else channels
            self.res_skip_layers.append(weight_norm(nn.Conv1d(channels, out, 1)))

    def forward(self, x: Tensor, mask: Tensor, g: Tensor | None = None) -> Tensor:
        """x: (B, C, T), mask: (B, 1, T), g: (B, gin, 1) or None -> (B, C, T)."""
        output = torch.zeros_like(x)
        cond = self.cond_layer(g) if (g is not None and self.cond_layer is not None) else None
        C = self.channels
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers, strict=True)):
            h = in_layer(x)
            g_l = cond[:, 2 * C * i: 2 * C * (i + 1)] if cond is not None else torch.zeros_like(h)
            acts = self.dropout(fused_add_tanh_sigmoid_multiply(h, g_l, C))
            rs = res_skip(acts)
            if i < self.n_layers - 1:
                x = (x + rs[:, :C]) * mask
                output = output + rs[:, C:]
            else:
                output = output + rs
        return output * mask
