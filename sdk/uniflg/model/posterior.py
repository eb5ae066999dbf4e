"""Posterior encoder q(z_f | x_spec) and the utterance encoder q(z_u | x_mel) of VAE-VITS."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uniflg.model.wavenet import WaveNet


class PosteriorEncoder(nn.Module):
    """Linear spectrogram -> WaveNet -> (mu, log sigma) of z_f. Noise is an input, so the graph has no RNG."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int, kernel_size: int,
                 n_layers: int, gin_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.pre = nn.Conv1d(in_channels, hidden, 1)
        self.wavenet = WaveNet(hidden, kernel_size, 1, n_layers, gin_channels)
        self.proj = nn.Conv1d(hidden, 2 * out_channels, 1)

    def forward(self, spec: Tensor, mask: Tensor, g: Tensor | None, noise: Tensor | None = None
                ) -> tuple[Tensor, Tensor, Tensor]:
        """spec: (B, F, T), mask: (B, 1, T), noise: (B, D, T) standard normal or None (random draw)."""
        h = self.wavenet(self.pre(spec) * mask, mask, g)
        mu, log_sigma = (self.proj(h) * mask).split(self.out_channels, dim=1)
        if noise is None:
            noise = torch.randn_like(mu)
        z = (mu + noise * torch.exp(log_sigma)) * mask
        return z, mu, log_sigma


class UtteranceEncoder(nn.Module):
    """Mel spectrogram -> utterance-level latent z_u (VAE-VITS): strided convs, a GRU, masked mean pooling.

    Three stride-2 convolutions shorten the sequence 8x before the GRU, which keeps this recurrent
    layer cheap on CPUs. Returns (mu, logvar), each (B, D); the reparameterized sample is drawn by the
    caller (or the runtime), so the exported graph stays deterministic.
    """

    STRIDE = 8
    # Log mels (natural log, floor ln 1e-5 = -11.5) centre near -6.6 with a spread of about 2.7. Fed raw, each
    # ReLU conv channel is on (or off) for every input, utterance-level differences barely pass, and z_u
    # collapses; centred and scaled, the encoder sees gain, pitch and tempo from the first step.
    MEL_CENTER = -6.5
    MEL_SCALE = 2.5

    def __init__(self, n_mels: int, channels: int, out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = n_mels
        for _ in range(3):
            layers += [nn.Conv1d(c_in, channels, 5, stride=2, padding=2), nn.ReLU()]
            c_in = channels
        self.convs = nn.Sequential(*layers)
        self.gru = nn.GRU(channels, channels, batch_first=True)
        self.proj = nn.Linear(channels, 2 * out_dim)

    def forward(self, mel: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """mel: (B, M, T), mask: (B, 1, T) -> mu, logvar: (B, D)."""
        h = self.convs((mel - self.MEL_CENTER) / self.MEL_SCALE * mask)  # (B, C, ceil(T / 8))
        m = mask[:, :, :: self.STRIDE][:, :, : h.size(2)]  # a frame is valid if its first input frame is
        h, _ = self.gru((h * m).transpose(1, 2))  # (B, T', C)
        m = m.transpose(1, 2)  # (B, T', 1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        mu, logvar = self.proj(pooled).chunk(2, dim=-1)
        return mu, logvar
