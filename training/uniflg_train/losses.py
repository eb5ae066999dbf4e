"""Training losses of VITS / VAE-VITS (adversarial, feature matching, mel, KL, utterance KL) and the
landmark decoder's masked MSE."""

from __future__ import annotations

import torch
from torch import Tensor


def discriminator_loss(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """Least-squares GAN: real -> 1, fake -> 0."""
    loss = torch.zeros((), device=real[0].device)
    for r, f in zip(real, fake, strict=True):
        loss = loss + torch.mean((1 - r) ** 2) + torch.mean(f**2)
    return loss


def generator_loss(fake: list[Tensor]) -> Tensor:
    loss = torch.zeros((), device=fake[0].device)
    for f in fake:
        loss = loss + torch.mean((1 - f) ** 2)
    return loss


def feature_matching_loss(real_maps: list[list[Tensor]], fake_maps: list[list[Tensor]]) -> Tensor:
    loss = torch.zeros((), device=real_maps[0][0].device)
    for rm, fm in zip(real_maps, fake_maps, strict=True):
        for r, f in zip(rm, fm, strict=True):
            loss = loss + torch.mean(torch.abs(r.detach() - f))
    return 2 * loss


def kl_loss(z_p: Tensor, logs_q: Tensor, m_p: Tensor, logs_p: Tensor, mask: Tensor) -> Tensor:
    """KL(q(z|x) || p(z|c)) estimated at the posterior sample pushed through the flow (VITS eq. 4)."""
    kl = logs_p - logs_q - 0.5 + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * mask) / torch.sum(mask)


def utterance_kl_loss(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z_u|x) || N(0, I)), summed over dimensions, averaged over the batch."""
    return torch.mean(torch.sum(-0.5 * (1 + logvar - mu**2 - torch.exp(logvar)), dim=1))


def masked_mse(pred: Tensor, target: Tensor, frame_mask: Tensor) -> Tensor:
    """pred/target (B, L, N, 2), frame_mask (B, L) -> mean squared error over valid frames."""
    m = frame_mask.to(pred.dtype)[..., None, None]
    denom = m.sum() * pred.size(2) * pred.size(3)
    return torch.sum(((pred - target) ** 2) * m) / denom.clamp(min=1.0)
