"""Spectrogram features as an exportable nn.Module: the STFT is a conv1d with a fixed windowed DFT basis,
so the speech-to-latent ONNX graph can take the waveform directly. Matches uniflg.audio (NumPy)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniflg.audio import mel_filterbank
from uniflg.config import AudioConfig


class SpectrogramFeatures(nn.Module):
    basis: Tensor
    mel_basis: Tensor

    def __init__(self, cfg: AudioConfig) -> None:
        super().__init__()
        self.cfg = cfg
        n_fft, n_bins = cfg.n_fft, cfg.n_fft // 2 + 1
        window = np.hanning(cfg.win_length + 1)[:-1]
        if cfg.win_length < n_fft:
            left = (n_fft - cfg.win_length) // 2
            window = np.pad(window, (left, n_fft - cfg.win_length - left))
        n = np.arange(n_fft)
        k = np.arange(n_bins)[:, None]
        angle = 2 * np.pi * k * n / n_fft
        basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])[:, None, :]
        self.register_buffer("basis", torch.from_numpy(basis.astype(np.float32)), persistent=False)
        self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank(cfg)), persistent=False)

    def spectrogram(self, wav: Tensor) -> Tensor:
        """wav (B, S) -> magnitude (B, n_fft/2+1, S // hop)."""
        pad = (self.cfg.n_fft - self.cfg.hop_length) // 2
        x = F.pad(wav.unsqueeze(1), (pad, pad), mode="reflect")
        spec = F.conv1d(x, self.basis, stride=self.cfg.hop_length)  # (B, 2F, T)
        real, imag = spec.chunk(2, dim=1)
        return torch.sqrt(real**2 + imag**2 + 1e-6)

    def log_mel(self, spec: Tensor) -> Tensor:
        """(B, F, T) magnitude -> (B, n_mels, T) log mel."""
        return torch.log(torch.clamp(torch.matmul(self.mel_basis, spec), min=1e-5))
