"""HiFi-GAN multi-period and multi-scale discriminators (training only), with a width multiplier."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from uniflg.config import DiscriminatorConfig
from uniflg.model.commons import get_padding
from uniflg.model.decoders import LRELU_SLOPE

FeatureMaps = list[Tensor]


def _w(channels: int, scale: float) -> int:
    return max(8, int(channels * scale))


class PeriodDiscriminator(nn.Module):
    """Folds the waveform into (T/p, p) and applies 2-D convs along time."""

    def __init__(self, period: int, scale: float, use_spectral_norm: bool) -> None:
        super().__init__()
        self.period = period
        norm = spectral_norm if use_spectral_norm else weight_norm
        chans = [1, _w(32, scale), _w(128, scale), _w(512, scale), _w(1024, scale), _w(1024, scale)]
        self.convs = nn.ModuleList()
        for i in range(5):
            stride = (3, 1) if i < 4 else (1, 1)
            self.convs.append(norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), stride,
                                             padding=(get_padding(5, 1), 0))))
        self.conv_post = norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: Tensor) -> tuple[Tensor, FeatureMaps]:
        fmap: FeatureMaps = []
        B, C, T = x.shape
        if T % self.period:
            x = F.pad(x, (0, self.period - T % self.period), "reflect")
        x = x.view(B, C, -1, self.period)  # (B, 1, T/p, p)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return x.flatten(1), fmap


class ScaleDiscriminator(nn.Module):
    def __init__(self, scale: float, use_spectral_norm: bool) -> None:
        super().__init__()
        norm = spectral_norm if use_spectral_norm else weight_norm
        c = [1, _w(16, scale), _w(64, scale), _w(256, scale), _w(1024, scale), _w(1024, scale),
             _w(1024, scale)]
        specs = [(15, 1, 1, 7), (41, 4, 4, 20), (41, 4, 16, 20), (41, 4, 64, 20), (41, 4, 256, 20),
                 (5, 1, 1, 2)]
        self.convs = nn.ModuleList()
        for i, (k, s, groups, p) in enumerate(specs):
            g = min(groups, c[i], c[i + 1]) if i > 0 else 1
            while c[i] % g or c[i + 1] % g:
                g //= 2
            self.convs.append(norm(nn.Conv1d(c[i], c[i + 1], k, s, groups=g, padding=p)))
        self.conv_post = norm(nn.Conv1d(c[-1], 1, 3, 1, padding=1))

    def forward(self, x: Tensor) -> tuple[Tensor, FeatureMaps]:
        fmap: FeatureMaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return x.flatten(1), fmap


class MultiPeriodScaleDiscriminator(nn.Module):
    """VITS's discriminator: one scale discriminator on the raw waveform plus one per period."""

    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        s = cfg.channel_scale
        self.discriminators = nn.ModuleList(
            [ScaleDiscriminator(s, use_spectral_norm=True)]
            + [PeriodDiscriminator(p, s, cfg.use_spectral_norm) for p in cfg.periods])

    def forward(self, real: Tensor, fake: Tensor
                ) -> tuple[list[Tensor], list[Tensor], list[FeatureMaps], list[FeatureMaps]]:
        real_out, fake_out, real_maps, fake_maps = [], [], [], []
        for d in self.discriminators:
            r, rm = d(real)
            f, fm = d(fake)
            real_out.append(r)
            fake_out.append(f)
            real_maps.append(rm)
            fake_maps.append(fm)
        return real_out, fake_out, real_maps, fake_maps
