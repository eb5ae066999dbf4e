"""Waveform decoders: HiFi-GAN (the paper's VITS-base) and a multi-stream iSTFT decoder (the CPU default).

The iSTFT is a fixed inverse-DFT basis applied with conv_transpose1d (overlap-add), because
``torch.istft`` does not export to ONNX; it matches torch.istft to float precision (see tests).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from uniflg.config import DecoderConfig
from uniflg.model.commons import get_padding, init_weights

LRELU_SLOPE = 0.1


class ResBlock(nn.Module):
    """HiFi-GAN ResBlock1: pairs of dilated and plain convs with residual connections."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList([weight_norm(nn.Conv1d(channels, channels, kernel_size, dilation=d,
                                                           padding=get_padding(kernel_size, d)))
                                     for d in dilations])
        self.convs2 = nn.ModuleList([weight_norm(nn.Conv1d(channels, channels, kernel_size,
                                                           padding=get_padding(kernel_size)))
                                     for _ in dilations])
        self.convs1.apply(init_weights)
        self.convs2.apply(init_weights)

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class UpsamplingTrunk(nn.Module):
    """conv_pre -> [transposed conv upsampling + multi-receptive-field fusion of ResBlocks]*."""

    def __init__(self, in_channels: int, cfg: DecoderConfig, gin_channels: int) -> None:
        super().__init__()
        c0 = cfg.upsample_initial_channel
        self.conv_pre = nn.Conv1d(in_channels, c0, 7, padding=3)
        self.cond = nn.Conv1d(gin_channels, c0, 1) if gin_channels else None
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        self.n_kernels = len(cfg.resblock_kernel_sizes)
        for i, (rate, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes, strict=True)):
            c_in, c_out = c0 // (2**i), c0 // (2 ** (i + 1))
            self.ups.append(weight_norm(nn.ConvTranspose1d(c_in, c_out, k, rate, padding=(k - rate) // 2)))
            for rk, rd in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilations, strict=True):
                self.resblocks.append(ResBlock(c_out, rk, rd))
        self.ups.apply(init_weights)
        self.out_channels = c0 // (2 ** len(cfg.upsample_rates))

    def forward(self, x: Tensor, g: Tensor | None) -> Tensor:
        x = self.conv_pre(x)
        if g is not None and self.cond is not None:
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * self.n_kernels:(i + 1) * self.n_kernels]
            total = blocks[0](x)
            for block in blocks[1:]:
                total = total + block(x)
            x = total / self.n_kernels
        return F.leaky_relu(x)


class HiFiGANDecoder(nn.Module):
    def __init__(self, in_channels: int, cfg: DecoderConfig, gin_channels: int) -> None:
        super().__init__()
        self.trunk = UpsamplingTrunk(in_channels, cfg, gin_channels)
        self.conv_post = nn.Conv1d(self.trunk.out_channels, 1, 7, padding=3, bias=False)

    def forward(self, z: Tensor, g: Tensor | None = None) -> Tensor:
        """z: (B, D, T) -> wav (B, 1, T * hop)."""
        return torch.tanh(self.conv_post(self.trunk(z, g)))


class ConvISTFT(nn.Module):
    """Inverse STFT (Hann window, centred) as a conv_transpose1d with a fixed inverse-DFT basis."""

    basis: Tensor
    window_sq: Tensor

    def __init__(self, n_fft: int, hop: int) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        n_bins = n_fft // 2 + 1
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(n_bins, dtype=torch.float64).unsqueeze(1)
        # Real inverse DFT: bins 1..N/2-1 appear twice (conjugate symmetry), DC and Nyquist once.
        scale = torch.full((n_bins, 1), 2.0, dtype=torch.float64)
        scale[0] = 1.0
        scale[-1] = 1.0
        angle = 2 * math.pi * k * n / n_fft
        cos_basis = scale * torch.cos(angle) / n_fft * window
        sin_basis = -scale * torch.sin(angle) / n_fft * window
        basis = torch.cat([cos_basis, sin_basis], dim=0).unsqueeze(1)  # (2 * n_bins, 1, n_fft)
        self.register_buffer("basis", basis.float(), persistent=False)
        self.register_buffer("window_sq", (window**2).float().view(1, 1, -1), persistent=False)

    def forward(self, real: Tensor, imag: Tensor) -> Tensor:
        """real, imag: (B, n_fft/2+1, T) -> signal (B, 1, (T - 1) * hop)."""
        frames = torch.cat([real, imag], dim=1)
        signal = F.conv_transpose1d(frames, self.basis, stride=self.hop)
        ones = torch.ones_like(real[:, :1])
        envelope = F.conv_transpose1d(ones, self.window_sq, stride=self.hop)
        signal = signal / envelope.clamp(min=1e-8)
        pad = self.n_fft // 2
        return signal[..., pad:-pad]


class ISTFTDecoder(nn.Module):
    """Multi-stream iSTFT decoder: the trunk predicts log-magnitude and phase for ``streams`` sub-signals at
    1/streams of the rate; each goes through a small iSTFT; a learned filter merges the zero-stuffed streams."""

    def __init__(self, in_channels: int, cfg: DecoderConfig, gin_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk = UpsamplingTrunk(in_channels, cfg, gin_channels)
        self.n_bins = cfg.istft_n_fft // 2 + 1
        self.conv_post = nn.Conv1d(self.trunk.out_channels, cfg.streams * 2 * self.n_bins, 7, padding=3)
        self.istft = ConvISTFT(cfg.istft_n_fft, cfg.istft_hop)
        self.synthesis = nn.Conv1d(cfg.streams, 1, cfg.synthesis_kernel, padding=cfg.synthesis_kernel // 2,
                                   bias=False)

    def forward(self, z: Tensor, g: Tensor | None = None) -> Tensor:
        """z: (B, D, T) -> wav (B, 1, T * hop)."""
        h = self.conv_post(F.pad(self.trunk(z, g), (0, 1), mode="reflect"))  # one extra frame for the OLA tail
        B, _, T = h.shape
        S, K = self.cfg.streams, self.n_bins
        h = h.view(B * S, 2 * K, T)
        magnitude = torch.exp(h[:, :K].clamp(max=8.0))
        phase = math.pi * torch.sin(h[:, K:])
        streams = self.istft(magnitude * torch.cos(phase), magnitude * torch.sin(phase))  # (B*S, 1, L)
        streams = streams.view(B, S, -1)
        L = streams.size(-1)
        # Zero-stuff each stream to the full rate, then let a learned FIR synthesis filter merge them.
        stuffed = torch.cat([streams.unsqueeze(-1), streams.new_zeros(B, S, L, S - 1)], dim=-1).view(B, S, L * S)
        return torch.tanh(self.synthesis(stuffed * S))


def build_decoder(in_channels: int, cfg: DecoderConfig, gin_channels: int) -> nn.Module:
    if cfg.kind == "hifigan":
        return HiFiGANDecoder(in_channels, cfg, gin_channels)
    if cfg.kind == "istft":
        return ISTFTDecoder(in_channels, cfg, gin_channels)
    raise ValueError(f"unknown decoder kind {cfg.kind!r}; choose 'hifigan' or 'istft'")


def remove_weight_norm(module: nn.Module) -> None:
    """Fold weight-norm parametrizations into plain weights (for inference and export)."""
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
