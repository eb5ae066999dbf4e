"""UniFLG: VAE-VITS (prior text encoder, posterior encoder, flow, duration predictor, waveform decoder,
utterance encoder) plus the landmark decoder, with the text and speech paths to the landmark-rate latent.

Shapes: text (B, N); spectrogram frames T; landmark frames L (30 fps). Latents are channel-first
(B, D, T). ``g`` is an index into the one-hot condition (speaker, or emotion in UniFLG-AS); ``z_u`` is
the utterance latent (emotion, or speaker in UniFLG-AS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniflg.config import ModelConfig
from uniflg.model.alignment import maximum_path
from uniflg.model.commons import generate_path, rand_slice_segments, sequence_mask
from uniflg.model.decoders import build_decoder
from uniflg.model.duration import DurationPredictor, StochasticDurationPredictor
from uniflg.model.flow import ResidualCouplingFlow
from uniflg.model.landmark_decoder import LandmarkDecoder
from uniflg.model.posterior import PosteriorEncoder, UtteranceEncoder
from uniflg.model.text_encoder import TextEncoder


@dataclass
class VitsOutput:
    """Everything the stage-1 losses need."""

    wav_hat: Tensor  # (B, 1, segment * hop)
    slice_starts: Tensor  # (B,) spectrogram-frame start of each decoded segment
    duration_loss: Tensor  # scalar
    attn: Tensor  # (B, T, N) hard alignment
    x_mask: Tensor  # (B, 1, N)
    y_mask: Tensor  # (B, 1, T)
    z_p: Tensor  # (B, D, T) flow output
    m_p: Tensor  # (B, D, T) prior mean expanded to frames
    logs_p: Tensor
    logs_q: Tensor  # (B, D, T) posterior log sigma
    mu_u: Tensor  # (B, Du)
    logvar_u: Tensor


@dataclass
class TextPrior:
    """The text encoder's output at token rate, plus what inference needs to expand it."""

    hidden: Tensor  # (B, H, N)
    m_p: Tensor  # (B, D, N)
    logs_p: Tensor  # (B, D, N)
    x_mask: Tensor  # (B, 1, N)


class UniFLG(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        a, v = cfg.audio, cfg.vits
        D = v.inter_channels
        self.text_encoder = TextEncoder(cfg.text, D)
        self.posterior = PosteriorEncoder(a.spec_channels, D, v.hidden_channels, v.posterior_kernel,
                                          v.posterior_layers, v.gin_channels)
        self.flow = ResidualCouplingFlow(D, v.hidden_channels, v.flow_kernel, v.flow_layers, v.flow_couplings,
                                         v.gin_channels)
        self.duration: nn.Module = (
            StochasticDurationPredictor(cfg.text.hidden_channels, 3, 0.5, 4, v.gin_channels)
            if v.use_stochastic_duration
            else DurationPredictor(cfg.text.hidden_channels, v.duration_filter_channels, 3, 0.5, v.gin_channels))
        self.decoder = build_decoder(D, cfg.decoder, v.gin_channels)
        self.utterance = UtteranceEncoder(a.n_mels, v.utterance_channels, v.utterance_dim)
        # One-hot g times a matrix is an embedding lookup; z_u enters the same conditioning vector.
        self.g_embedding = nn.Embedding(cfg.n_conditions, v.gin_channels)
        self.u_projection = nn.Linear(v.utterance_dim, v.gin_channels)
        land_in = a.spec_channels if cfg.variant.landmark_input == "spectrogram" else D
        self.landmark_decoder = LandmarkDecoder(land_in, cfg.landmarks, self.landmark_condition_channels)

    # ---- conditioning ------------------------------------------------------------------------------
    @property
    def landmark_condition_channels(self) -> int:
        """z_u (UniFLG) or the one-hot emotion g (UniFLG-AS)."""
        if self.cfg.variant.conditioning == "emotion":
            return self.cfg.n_conditions
        return self.cfg.vits.utterance_dim

    def condition(self, g: Tensor, z_u: Tensor) -> Tensor:
        """g: (B,) int64, z_u: (B, Du) -> global condition (B, gin, 1) for every VAE-VITS module."""
        return (self.g_embedding(g) + self.u_projection(z_u)).unsqueeze(-1)

    def landmark_condition(self, g: Tensor, z_u: Tensor) -> Tensor:
        """-> (B, C, 1): z_u for UniFLG, one_hot(g) for UniFLG-AS."""
        if self.cfg.variant.conditioning == "emotion":
            return F.one_hot(g, self.cfg.n_conditions).to(z_u.dtype).unsqueeze(-1)
        return z_u.unsqueeze(-1)

    def encode_utterance(self, mel: Tensor, mel_lengths: Tensor, noise: Tensor | None = None
                         ) -> tuple[Tensor, Tensor, Tensor]:
        """mel (B, M, T) -> z_u, mu_u, logvar_u; noise None draws N(0, I), zeros give the mean."""
        mask = sequence_mask(mel_lengths, mel.size(2)).unsqueeze(1).to(mel.dtype)
        mu, logvar = self.utterance(mel, mask)
        if noise is None:
            noise = torch.randn_like(mu)
        return mu + noise * torch.exp(0.5 * logvar), mu, logvar

    # ---- prior / posterior ---------------------------------------------------------------------------
    def encode_text(self, ids: Tensor, prosody: Tensor, lengths: Tensor) -> TextPrior:
        h, m_p, logs_p, x_mask = self.text_encoder(ids, prosody, lengths)
        return TextPrior(h, m_p, logs_p, x_mask)

    def predict_log_durations(self, prior: TextPrior, cond: Tensor, noise: Tensor) -> Tensor:
        """-> log durations (B, 1, N) in spectrogram frames. ``noise`` (B, 2, N) is pre-scaled (SDP only)."""
        if isinstance(self.duration, StochasticDurationPredictor):
            return self.duration.infer(prior.hidden, prior.x_mask, noise, cond)
        return self.duration(prior.hidden, prior.x_mask, cond)

    def speech_latent(self, spec: Tensor, spec_lengths: Tensor, cond: Tensor, noise: Tensor | None = None,
                      posterior: nn.Module | None = None) -> tuple[Tensor, Tensor]:
        """Posterior + flow: spectrogram (B, F, T) -> f(z_f) (B, D, T), mask (B, 1, T).

        ``noise`` None samples q(z_f|x); pass zeros to use the posterior mean. ``posterior``: another posterior
        encoder of the same shape to read the speech with (stage 2 keeps stage 1's while it fine-tunes this one)."""
        mask = sequence_mask(spec_lengths, spec.size(2)).unsqueeze(1).to(spec.dtype)
        z, _, _ = (posterior or self.posterior)(spec, mask, cond, noise)
        return self.flow(z, mask, cond), mask

    def align(self, z_p: Tensor, prior: TextPrior, y_mask: Tensor) -> Tensor:
        """Monotonic alignment search between f(z_f) and N(m_p, s_p) -> hard path (B, T, N)."""
        with torch.no_grad():
            s_sq_r = torch.exp(-2 * prior.logs_p)  # (B, D, N)
            c1 = torch.sum(-0.5 * math.log(2 * math.pi) - prior.logs_p, dim=1, keepdim=True)  # (B, 1, N)
            c2 = torch.matmul(-0.5 * (z_p**2).transpose(1, 2), s_sq_r)  # (B, T, N)
            c3 = torch.matmul(z_p.transpose(1, 2), prior.m_p * s_sq_r)  # (B, T, N)
            c4 = torch.sum(-0.5 * (prior.m_p**2) * s_sq_r, dim=1, keepdim=True)  # (B, 1, N)
            log_likelihood = c1 + c2 + c3 + c4
            mask = y_mask.transpose(1, 2) * prior.x_mask  # (B, T, N)
            return maximum_path(log_likelihood, mask)

    @staticmethod
    def expand(x: Tensor, attn: Tensor) -> Tensor:
        """Token-rate (B, D, N) -> frame-rate (B, D, T) with a hard path (B, T, N)."""
        return torch.matmul(attn, x.transpose(1, 2)).transpose(1, 2)

    # ---- stage 1: VAE-VITS training forward ----------------------------------------------------------
    def forward(self, ids: Tensor, prosody: Tensor, text_lengths: Tensor, spec: Tensor, spec_lengths: Tensor,
                mel: Tensor, g: Tensor, duration_trains_utterance: bool = True) -> VitsOutput:
        """``duration_trains_utterance``: let the duration loss reach the utterance encoder (the speaker
        embedding stays detached, as in VITS). Without it nothing rewards z_u for carrying speaking rate,
        which the posterior cannot supply to the duration predictor, and z_u collapses to the prior. The
        duration predictor then sees z_u's mean, as at inference: a sampled z_u starts as pure noise, which
        the predictor learns to ignore before the encoder can learn anything from it."""
        prior = self.encode_text(ids, prosody, text_lengths)
        z_u, mu_u, logvar_u = self.encode_utterance(mel, spec_lengths)
        cond = self.condition(g, z_u)
        if duration_trains_utterance:
            duration_cond = (self.g_embedding(g).detach() + self.u_projection(mu_u)).unsqueeze(-1)
        else:
            duration_cond = cond.detach()
        y_mask = sequence_mask(spec_lengths, spec.size(2)).unsqueeze(1).to(spec.dtype)
        z, _, logs_q = self.posterior(spec, y_mask, cond)
        z_p = self.flow(z, y_mask, cond)
        attn = self.align(z_p, prior, y_mask)
        durations = attn.sum(1).unsqueeze(1)  # (B, 1, N) frames per token
        if isinstance(self.duration, StochasticDurationPredictor):
            duration_loss = (self.duration(prior.hidden, prior.x_mask, durations, duration_cond).sum()
                             / prior.x_mask.sum())
        else:
            target = torch.log(durations + 1e-6) * prior.x_mask
            predicted = self.duration(prior.hidden, prior.x_mask, duration_cond)
            duration_loss = torch.sum((predicted - target) ** 2) / prior.x_mask.sum()
        m_p, logs_p = self.expand(prior.m_p, attn), self.expand(prior.logs_p, attn)
        z_slice, starts = rand_slice_segments(z, spec_lengths, self.cfg.vits.segment_frames)
        wav_hat = self.decoder(z_slice, cond)
        return VitsOutput(wav_hat, starts, duration_loss, attn, prior.x_mask, y_mask, z_p, m_p, logs_p, logs_q,
                          mu_u, logvar_u)

    # ---- landmark-rate latents (stage 2 and inference) -----------------------------------------------
    @staticmethod
    def landmark_path(durations: Tensor, n_land: Tensor) -> Tensor:
        """Spectrogram durations (B, N) -> landmark-rate hard path (B, L, N), L = max(n_land).

        d_land = diff(round(cumsum(d_spec) * n_land / sum(d_spec))) per item (see uniflg.timing)."""
        durations = durations.to(torch.float64)
        total = durations.sum(1, keepdim=True).clamp(min=1.0)
        ends = torch.round(torch.cumsum(durations, 1) * (n_land.to(torch.float64).unsqueeze(1) / total))
        d_land = torch.diff(ends, dim=1, prepend=torch.zeros_like(ends[:, :1]))
        L = int(n_land.max())
        mask = torch.ones(durations.size(0), L, durations.size(1), dtype=torch.float32, device=durations.device)
        mask = mask * sequence_mask(n_land, L).unsqueeze(-1).float()
        return generate_path(d_land, mask)

    def text_landmark_latent(self, prior: TextPrior, d_spec: Tensor, n_land: Tensor, noise: Tensor
                             ) -> tuple[Tensor, Tensor]:
        """Text path: expand (m_p, s_p) by d_land and sample. noise (B, D, L) pre-scaled -> (B, D, L), mask."""
        path = self.landmark_path(d_spec, n_land).to(prior.m_p.dtype)
        m, logs = self.expand(prior.m_p, path), self.expand(prior.logs_p, path)
        mask = sequence_mask(n_land, path.size(1)).unsqueeze(1).to(m.dtype)
        return (m + noise[..., : m.size(2)] * torch.exp(logs)) * mask, mask

    @staticmethod
    def resample_to_landmarks(x: Tensor, x_lengths: Tensor, n_land: Tensor) -> tuple[Tensor, Tensor]:
        """Speech path: linear interpolation of each item's valid frames (B, D, T) to n_land frames."""
        L = int(n_land.max())
        out = x.new_zeros(x.size(0), x.size(1), L)
        for b in range(x.size(0)):
            t, n = int(x_lengths[b]), int(n_land[b])
            if t > 0 and n > 0:
                out[b, :, :n] = F.interpolate(x[b: b + 1, :, :t], size=n, mode="linear", align_corners=False)[0]
        mask = sequence_mask(n_land, L).unsqueeze(1).to(x.dtype)
        return out, mask

    def decode_landmarks(self, latent: Tensor, mask: Tensor, land_cond: Tensor) -> Tensor:
        """(B, D, L) -> landmarks (B, L, 70, 2)."""
        return self.landmark_decoder(latent, mask, land_cond)

    def landmark_input_from_speech(self, spec: Tensor, spec_lengths: Tensor, cond: Tensor, n_land: Tensor,
                                   noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Speech path to the landmark decoder input: f(z_f) (or the raw spectrogram for STL-D) at 30 fps."""
        if self.cfg.variant.landmark_input == "spectrogram":
            return self.resample_to_landmarks(spec, spec_lengths, n_land)
        z_p, _ = self.speech_latent(spec, spec_lengths, cond, noise)
        return self.resample_to_landmarks(z_p, spec_lengths, n_land)

    def synthesize_speech(self, z_p: Tensor, mask: Tensor, cond: Tensor) -> Tensor:
        """Frame-rate f(z_f) (B, D, T) -> inverse flow -> waveform (B, 1, T * hop)."""
        z = self.flow(z_p, mask, cond, reverse=True)
        return self.decoder(z * mask, cond)

    # ---- reference inference (batch of one), the source of truth for every backend's parity tests ------
    @torch.no_grad()
    def infer_text(self, ids: Tensor, prosody: Tensor, g: Tensor, z_u: Tensor, duration_noise: Tensor,
                   latent_noise: Tensor, landmark_noise: Tensor, length_scale: float = 1.0
                   ) -> tuple[Tensor, Tensor, Tensor]:
        """UniFLG-T for one utterance. ids/prosody (1, N); noises are standard normal, pre-scaled:
        duration (1, 2, N), latent (1, D, T_max), landmark (1, D, L_max); they are cropped to the lengths.
        -> (wav (1, 1, S), landmarks (1, L, 70, 2), durations (1, N))."""
        lengths = torch.tensor([ids.size(1)], device=ids.device)
        prior = self.encode_text(ids, prosody, lengths)
        cond = self.condition(g, z_u)
        log_w = self.predict_log_durations(prior, cond, duration_noise)
        d_spec = torch.ceil(torch.exp(log_w) * prior.x_mask * length_scale).squeeze(1)  # (1, N)
        T = int(d_spec.sum().clamp(min=1))
        path = generate_path(d_spec, torch.ones(1, T, ids.size(1), device=ids.device))
        m, logs = self.expand(prior.m_p, path), self.expand(prior.logs_p, path)
        y_mask = torch.ones(1, 1, T, device=ids.device)
        z_p = m + latent_noise[..., :T] * torch.exp(logs)
        wav = self.synthesize_speech(z_p, y_mask, cond)
        n_land = torch.tensor([round(T * self.cfg.audio.hop_length * self.cfg.landmarks.fps
                                     / self.cfg.audio.sample_rate)], device=ids.device)
        latent, l_mask = self.text_landmark_latent(prior, d_spec, n_land, landmark_noise)
        landmarks = self.decode_landmarks(latent, l_mask, self.landmark_condition(g, z_u))
        return wav, landmarks, d_spec

    @torch.no_grad()
    def infer_speech(self, spec: Tensor, g: Tensor, z_u: Tensor, n_land: int, noise: Tensor | None = None
                     ) -> Tensor:
        """UniFLG-S for one utterance: spectrogram (1, F, T) -> landmarks (1, n_land, 70, 2)."""
        lengths = torch.tensor([spec.size(2)], device=spec.device)
        cond = self.condition(g, z_u)
        if noise is None:
            noise = torch.zeros(1, self.cfg.vits.inter_channels, spec.size(2), device=spec.device)
        n = torch.tensor([n_land], device=spec.device)
        latent, mask = self.landmark_input_from_speech(spec, lengths, cond, n, noise)
        return self.decode_landmarks(latent, mask, self.landmark_condition(g, z_u))
