"""Low-latency speech path: networks that read a bounded amount of future input (issue 18).

The paper's speech path (posterior encoder + flow, then a non-causal WaveNet landmark decoder) reads about 1.1 s
ahead. These two replace it for live input:

* :class:`LiveSpeechToLatent`: waveform -> the speech latent f(z_f) at the spectrogram rate (distilled from the
  full posterior encoder + flow), a gated residual conv stack whose convolutions are padded mostly on the left;
* :class:`LiveLandmarkDecoder`: that latent at 30 fps -> 70 points, the same kind of stack.

Each stack's *right* receptive field (future frames) is set by :func:`right_pads`; the left one is free. The
graphs keep the offline graphs' inputs and outputs (``speech_to_latent``, ``latent_to_landmarks`` in
:mod:`uniflg.backends.graphs`), so the runtime windows them the same way, with separate left/right contexts.
Sizes are a small dataclass stored in ``voice.json``, so the modules rebuild without training code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniflg.config import AudioConfig
from uniflg.model.features import SpectrogramFeatures


@dataclass(frozen=True)
class LiveStackConfig:
    channels: int = 96
    layers: int = 8
    kernel_size: int = 5
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # cycled over the layers
    right_frames: int = 3  # future input frames the stack may read in total


@dataclass(frozen=True)
class LivePathConfig:
    """Sizes of one live path: a speech-to-latent stack on a log mel of ``n_fft`` (smaller than the voice's:
    a shorter window reads less future audio) and a landmark stack."""

    speech: LiveStackConfig = LiveStackConfig(dilations=(1, 2, 4))
    landmarks: LiveStackConfig = LiveStackConfig(channels=64, layers=6, dilations=(1, 2, 4), right_frames=1)
    n_fft: int = 512
    n_mels: int = 80

    @classmethod
    def from_dict(cls, data: dict) -> LivePathConfig:
        def stack(d: dict) -> LiveStackConfig:
            return LiveStackConfig(**{**d, "dilations": tuple(d["dilations"])})

        return cls(stack(data["speech"]), stack(data["landmarks"]), int(data["n_fft"]), int(data["n_mels"]))


def right_pads(cfg: LiveStackConfig) -> list[int]:
    """Right padding per layer: each layer reads up to half its span ahead (centred) until the stack's budget of
    future frames is spent, then none (causal)."""
    left, pads = cfg.right_frames, []
    for i in range(cfg.layers):
        span = (cfg.kernel_size - 1) * cfg.dilations[i % len(cfg.dilations)]
        pad = min(span // 2, left)
        pads.append(pad)
        left -= pad
    return pads


class BoundedStack(nn.Module):
    """Gated residual convolutions (WaveNet-like) with a global condition, padded ``right_pads`` on the right."""

    def __init__(self, in_channels: int, out_channels: int, cfg: LiveStackConfig, cond_channels: int) -> None:
        super().__init__()
        C, k = cfg.channels, cfg.kernel_size
        self.cfg = cfg
        self.pre = nn.Conv1d(in_channels, C, 1)
        self.cond = nn.Linear(cond_channels, 2 * C * cfg.layers)
        self.convs = nn.ModuleList()
        self.res = nn.ModuleList()
        self.pads: list[tuple[int, int]] = []
        for i, right in enumerate(right_pads(cfg)):
            d = cfg.dilations[i % len(cfg.dilations)]
            self.convs.append(nn.Conv1d(C, 2 * C, k, dilation=d))
            self.res.append(nn.Conv1d(C, 2 * C, 1))
            self.pads.append(((k - 1) * d - right, right))
        self.post = nn.Conv1d(C, out_channels, 1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """x (B, in, T), cond (B, cond_channels) -> (B, out, T)."""
        C = self.cfg.channels
        h = self.pre(x)
        g = self.cond(cond).unsqueeze(-1)  # (B, 2C*layers, 1)
        skip = torch.zeros_like(h)
        for i, (conv, res) in enumerate(zip(self.convs, self.res, strict=True)):
            # replicate: the edge frame repeated, not zeros (a window's edge then looks like more of the same)
            a = conv(F.pad(h, self.pads[i], mode="replicate")) + g[:, 2 * C * i:2 * C * (i + 1)]
            acts = torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])
            r = res(acts)
            h = h + r[:, :C]
            skip = skip + r[:, C:]
        return self.post(skip)


class LiveSpeechToLatent(nn.Module):
    """wav (1, S), g (1,), z_u (1, Du) -> latent (1, D, S // hop): the ``speech_to_latent`` graph's signature."""

    mean: Tensor
    std: Tensor

    def __init__(self, audio: AudioConfig, cfg: LivePathConfig, out_channels: int, n_conditions: int,
                 utterance_dim: int) -> None:
        super().__init__()
        feats = AudioConfig(sample_rate=audio.sample_rate, n_fft=cfg.n_fft, hop_length=audio.hop_length,
                            win_length=cfg.n_fft, n_mels=cfg.n_mels, f_min=audio.f_min, f_max=audio.f_max)
        self.features = SpectrogramFeatures(feats)
        self.g_embedding = nn.Embedding(n_conditions, 32)
        self.stack = BoundedStack(cfg.n_mels, out_channels, cfg.speech, 32 + utterance_dim)
        # Target statistics (set before training): the stack predicts standardized latents.
        self.register_buffer("mean", torch.zeros(1, out_channels, 1))
        self.register_buffer("std", torch.ones(1, out_channels, 1))

    def forward(self, wav: Tensor, g: Tensor, z_u: Tensor) -> Tensor:
        mel = self.features.log_mel(self.features.spectrogram(wav))  # (B, n_mels, T)
        cond = torch.cat([self.g_embedding(g), z_u], dim=-1)
        return self.stack(mel, cond) * self.std + self.mean


class LiveLandmarkDecoder(nn.Module):
    """latent (1, D, L), g (1,), z_u (1, Du) -> landmarks (1, L, 70, 2): the ``latent_to_landmarks`` signature."""

    mean_face: Tensor
    scale: Tensor

    def __init__(self, cfg: LivePathConfig, in_channels: int, n_points: int, utterance_dim: int) -> None:
        super().__init__()
        self.n_points = n_points
        self.stack = BoundedStack(in_channels, 2 * n_points, cfg.landmarks, utterance_dim)
        self.register_buffer("mean_face", torch.zeros(n_points, 2))
        self.register_buffer("scale", torch.ones(1))

    def forward(self, latent: Tensor, g: Tensor, z_u: Tensor) -> Tensor:
        y = self.stack(latent, z_u)  # (B, 2N, L)
        B, _, L = y.shape
        return y.transpose(1, 2).reshape(B, L, self.n_points, 2) * self.scale + self.mean_face
