"""Small tensor helpers shared by the model modules: masks, slicing, alignment paths."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sequence_mask(lengths: Tensor, max_length: int | None = None) -> Tensor:
    """[B] lengths -> [B, T] bool mask."""
    if max_length is None:
        max_length = int(lengths.max())
    positions = torch.arange(max_length, dtype=lengths.dtype, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def slice_segments(x: Tensor, starts: Tensor, size: int) -> Tensor:
    """Take x[b, :, starts[b]:starts[b]+size] for each b. x: (B, C, T) -> (B, C, size)."""
    index = starts.view(-1, 1, 1) + torch.arange(size, device=x.device).view(1, 1, -1)
    return torch.gather(x, 2, index.expand(x.size(0), x.size(1), size))


def rand_slice_segments(x: Tensor, lengths: Tensor, size: int, generator: torch.Generator | None = None
                        ) -> tuple[Tensor, Tensor]:
    """Random windows of ``size`` frames inside each item's valid length (short items start at 0)."""
    max_start = (lengths - size).clamp(min=0)
    u = torch.rand(x.size(0), device=x.device, generator=generator)
    starts = (u * (max_start + 1).to(u.dtype)).long().clamp(max=max_start.max().item())
    starts = torch.minimum(starts, max_start)
    if x.size(2) < size:  # the whole batch is shorter than one window
        x = F.pad(x, (0, size - x.size(2)))
    return slice_segments(x, starts, size), starts


def generate_path(durations: Tensor, mask: Tensor) -> Tensor:
    """Hard alignment from integer durations.

    durations: (B, T_x) frames per token; mask: (B, T_y, T_x) -> path (B, T_y, T_x) with path[b, y, x] = 1
    when output frame y belongs to token x.
    """
    B, T_y, T_x = mask.shape
    ends = torch.cumsum(durations, dim=1)  # (B, T_x)
    frames = torch.arange(T_y, device=durations.device, dtype=ends.dtype).view(1, T_y, 1)
    starts = ends - durations
    path = (frames >= starts.unsqueeze(1)) & (frames < ends.unsqueeze(1))
    return path.to(mask.dtype) * mask


def fused_add_tanh_sigmoid_multiply(a: Tensor, b: Tensor, channels: int) -> Tensor:
    """WaveNet gate: tanh(x[:C]) * sigmoid(x[C:]) of x = a + b."""
    x = a + b
    return torch.tanh(x[:, :channels]) * torch.sigmoid(x[:, channels:])


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


def init_weights(module: torch.nn.Module, mean: float = 0.0, std: float = 0.01) -> None:
    if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d):
        module.weight.data.normal_(mean, std)
