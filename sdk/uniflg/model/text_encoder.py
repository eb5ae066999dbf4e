"""Prior text encoder: symbol + prosody embeddings -> transformer with relative positions -> (mu, log sigma)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uniflg.config import TextEncoderConfig
from uniflg.model.commons import sequence_mask


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T) tensors."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class RelativeSelfAttention(nn.Module):
    """Multi-head self-attention with learned relative-position keys/values inside +-window (Shaw et al.)."""

    def __init__(self, channels: int, n_heads: int, window_size: int, dropout: float) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError("channels must be divisible by n_heads")
        self.n_heads, self.k_channels, self.window = n_heads, channels // n_heads, window_size
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.out = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)
        std = self.k_channels**-0.5
        self.rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * std)
        self.rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.k_channels) * std)
        nn.init.xavier_uniform_(self.qkv.weight)

    def _relative_table(self, table: Tensor, length: int) -> Tensor:
        """(1, 2W+1, d) -> (L, L, d): entry [i, j] is the embedding of offset clamp(j - i, -W, W)."""
        offsets = torch.arange(length, device=table.device)
        rel = (offsets.view(1, -1) - offsets.view(-1, 1)).clamp(-self.window, self.window) + self.window
        return table[0][rel]

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        """x: (B, C, T); attn_mask: (B, 1, T, T) -> (B, C, T)."""
        B, C, T = x.shape
        H, d = self.n_heads, self.k_channels
        q, k, v = self.qkv(x).chunk(3, dim=1)
        q = q.view(B, H, d, T).transpose(2, 3) / math.sqrt(d)  # (B, H, T, d)
        k = k.view(B, H, d, T).transpose(2, 3)
        v = v.view(B, H, d, T).transpose(2, 3)
        rel_k = self._relative_table(self.rel_k, T)  # (T, T, d)
        rel_v = self._relative_table(self.rel_v, T)
        scores = q @ k.transpose(-2, -1) + torch.einsum("bhid,ijd->bhij", q, rel_k)  # (B, H, T, T)
        scores = scores.masked_fill(attn_mask == 0, -1e4)
        p = self.dropout(F.softmax(scores, dim=-1))
        out = p @ v + torch.einsum("bhij,ijd->bhid", p, rel_v)  # (B, H, T, d)
        return self.out(out.transpose(2, 3).reshape(B, C, T))


class FeedForward(nn.Module):
    def __init__(self, channels: int, filter_channels: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(channels, filter_channels, kernel_size, padding=pad)
        self.conv2 = nn.Conv1d(filter_channels, channels, kernel_size, padding=pad)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.dropout(torch.relu(self.conv1(x * mask)))
        return self.conv2(x * mask) * mask


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: TextEncoderConfig) -> None:
        super().__init__()
        c = cfg.hidden_channels
        self.attn = nn.ModuleList(
            [RelativeSelfAttention(c, cfg.n_heads, cfg.window_size, cfg.dropout) for _ in range(cfg.n_layers)])
        self.norm1 = nn.ModuleList([ChannelLayerNorm(c) for _ in range(cfg.n_layers)])
        self.ffn = nn.ModuleList(
            [FeedForward(c, cfg.filter_channels, cfg.kernel_size, cfg.dropout) for _ in range(cfg.n_layers)])
        self.norm2 = nn.ModuleList([ChannelLayerNorm(c) for _ in range(cfg.n_layers)])
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        attn_mask = mask.unsqueeze(2) * mask.unsqueeze(-1)  # (B, 1, T, T)
        x = x * mask
        for attn, n1, ffn, n2 in zip(self.attn, self.norm1, self.ffn, self.norm2, strict=True):
            x = n1(x + self.dropout(attn(x, attn_mask)))
            x = n2(x + self.dropout(ffn(x, mask)))
        return x * mask


class TextEncoder(nn.Module):
    """ids (B, N), prosody (B, N, P), lengths (B,) -> h (B, H, N), mu, log_sigma (B, D, N), mask (B, 1, N)."""

    def __init__(self, cfg: TextEncoderConfig, out_channels: int) -> None:
        super().__init__()
        c = cfg.hidden_channels
        self.hidden_channels, self.out_channels = c, out_channels
        self.symbol_emb = nn.Embedding(cfg.n_symbols, c)
        self.prosody_emb = nn.ModuleList([nn.Embedding(n, c) for n in cfg.prosody_cardinalities])
        for emb in [self.symbol_emb, *self.prosody_emb]:
            nn.init.normal_(emb.weight, 0.0, c**-0.5)
        self.encoder = TransformerEncoder(cfg)
        self.proj = nn.Conv1d(c, 2 * out_channels, 1)

    def forward(self, ids: Tensor, prosody: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x = self.symbol_emb(ids)
        for i, emb in enumerate(self.prosody_emb):
            x = x + emb(prosody[..., i])
        x = (x * math.sqrt(self.hidden_channels)).transpose(1, 2)  # (B, H, N)
        mask = sequence_mask(lengths, ids.size(1)).unsqueeze(1).to(x.dtype)
        h = self.encoder(x, mask)
        mu, log_sigma = (self.proj(h) * mask).split(self.out_channels, dim=1)
        return h, mu, log_sigma, mask
