"""Inference wrapper modules: one ``nn.Module`` per graph of :mod:`uniflg.backends.graphs`, taking exactly the
graph's inputs in order. ``torch.onnx.export`` traces these (never a monkeypatched ``forward``) and the torch
backend runs the same modules, so both backends compute the same function. Needs torch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uniflg.backends import graphs
from uniflg.model.decoders import remove_weight_norm
from uniflg.model.features import SpectrogramFeatures
from uniflg.model.system import UniFLG


class _Conditioned(nn.Module):
    def __init__(self, model: UniFLG) -> None:
        super().__init__()
        self.model = model

    def cond(self, g: Tensor, z_u: Tensor) -> Tensor:
        return self.model.condition(g, z_u)


class TextEncoderGraph(_Conditioned):
    def forward(self, ids: Tensor, prosody: Tensor, g: Tensor, z_u: Tensor, duration_noise: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        lengths = torch.ones_like(ids).sum(1)  # (1,) = N: the whole sequence is valid
        prior = self.model.encode_text(ids, prosody, lengths)
        log_w = self.model.predict_log_durations(prior, self.cond(g, z_u), duration_noise)
        return prior.m_p, prior.logs_p, log_w


class InverseFlowGraph(_Conditioned):
    def forward(self, z_p: Tensor, g: Tensor, z_u: Tensor) -> Tensor:
        mask = torch.ones_like(z_p[:, :1])  # (1, 1, T)
        return self.model.flow(z_p, mask, self.cond(g, z_u), reverse=True)


class LatentToSpeechGraph(_Conditioned):
    def forward(self, z: Tensor, g: Tensor, z_u: Tensor) -> Tensor:
        return self.model.decoder(z, self.cond(g, z_u)).squeeze(1)  # (1, T * hop)


class LatentToLandmarksGraph(_Conditioned):
    def forward(self, latent: Tensor, g: Tensor, z_u: Tensor) -> Tensor:
        mask = torch.ones_like(latent[:, :1])
        return self.model.decode_landmarks(latent, mask, self.model.landmark_condition(g, z_u))


class SpeechToLatentGraph(_Conditioned):
    """wav -> f(z_f) at the spectrogram rate, from the posterior mean (deterministic: no noise input)."""

    def __init__(self, model: UniFLG) -> None:
        super().__init__(model)
        self.features = SpectrogramFeatures(model.cfg.audio)

    def forward(self, wav: Tensor, g: Tensor, z_u: Tensor) -> Tensor:
        spec = self.features.spectrogram(wav)  # (1, F, T)
        if self.model.cfg.variant.landmark_input == "spectrogram":  # STL-D reads the spectrogram itself
            return spec
        mask = torch.ones_like(spec[:, :1])
        cond = self.cond(g, z_u)
        D = self.model.cfg.vits.inter_channels
        zeros = torch.zeros_like(spec[:, :1]).expand(-1, D, -1)  # posterior mean
        z, _, _ = self.model.posterior(spec, mask, cond, zeros)
        return self.model.flow(z, mask, cond)


class UtteranceEncoderGraph(nn.Module):
    def __init__(self, model: UniFLG) -> None:
        super().__init__()
        self.model = model
        self.features = SpectrogramFeatures(model.cfg.audio)

    def forward(self, wav: Tensor) -> tuple[Tensor, Tensor]:
        mel = self.features.log_mel(self.features.spectrogram(wav))  # (1, M, T)
        mask = torch.ones_like(mel[:, :1])
        return self.model.utterance(mel, mask)


WRAPPERS: dict[str, type[nn.Module]] = {
    graphs.TEXT_ENCODER.name: TextEncoderGraph,
    graphs.INVERSE_FLOW.name: InverseFlowGraph,
    graphs.LATENT_TO_SPEECH.name: LatentToSpeechGraph,
    graphs.LATENT_TO_LANDMARKS.name: LatentToLandmarksGraph,
    graphs.SPEECH_TO_LATENT.name: SpeechToLatentGraph,
    graphs.UTTERANCE_ENCODER.name: UtteranceEncoderGraph,
}


def prepare_for_inference(model: UniFLG) -> UniFLG:
    """eval mode, weight norm folded into plain weights, no gradients."""
    model.eval()
    remove_weight_norm(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def build_graph_modules(model: UniFLG) -> dict[str, nn.Module]:
    return {name: cls(model).eval() for name, cls in WRAPPERS.items()}


def example_inputs(name: str, model: UniFLG, length: int = 40) -> tuple[Tensor, ...]:
    """Inputs of the right shapes and dtypes to trace graph ``name`` (also used for context measurement)."""
    cfg = model.cfg
    gen = torch.Generator().manual_seed(0)
    D, Du = cfg.vits.inter_channels, cfg.vits.utterance_dim
    land_in = cfg.audio.spec_channels if cfg.variant.landmark_input == "spectrogram" else D
    g = torch.zeros(1, dtype=torch.long)
    z_u = torch.randn(1, Du, generator=gen)
    if name == "text_encoder":
        ids = torch.randint(0, cfg.text.n_symbols, (1, length), generator=gen)
        prosody = torch.stack([torch.randint(0, n, (1, length), generator=gen)
                               for n in cfg.text.prosody_cardinalities], dim=-1)
        return ids, prosody, g, z_u, torch.randn(1, 2, length, generator=gen)
    if name in ("inverse_flow", "latent_to_speech"):
        return torch.randn(1, D, length, generator=gen), g, z_u
    if name == "latent_to_landmarks":
        return torch.randn(1, land_in, length, generator=gen), g, z_u
    wav = 0.1 * torch.randn(1, length * cfg.audio.hop_length, generator=gen)
    return (wav, g, z_u) if name == "speech_to_latent" else (wav,)


@torch.no_grad()
def measure_context(module: nn.Module, inputs: tuple[Tensor, ...], in_rate: int, out_rate: int,
                    time_dim: int = 1) -> int:
    """Receptive field of a time-convolutional graph, in input frames on each side (exact, measured).

    Perturbs one input frame in the middle of a long input and finds the output span that changes; a window
    decoded with this many frames of real context on each side equals the whole-utterance result there.
    ``in_rate``/``out_rate``: input/output samples per input frame (e.g. 1 and hop for the decoder)."""
    x = inputs[0]
    T = x.size(-1) // in_rate
    mid = T // 2
    base = module(*inputs)
    y = x.clone()
    y[..., mid * in_rate:(mid + 1) * in_rate] += 1.0
    diff = (module(y, *inputs[1:]) - base).abs().movedim(time_dim, 0)
    changed = torch.nonzero(diff.reshape(diff.size(0), -1).amax(dim=1)).flatten()
    if changed.numel() == 0:
        return 0
    first, last = int(changed[0]) // out_rate, int(changed[-1]) // out_rate
    return max(mid - first, last - mid) + 1


def measure_contexts(model: UniFLG) -> dict[str, int]:
    """Context frames needed on each side of a window, per windowed graph (spectrogram or landmark frames)."""
    mods = build_graph_modules(model)
    hop = model.cfg.audio.hop_length
    long_ = 160
    return {
        "inverse_flow": measure_context(mods["inverse_flow"], example_inputs("inverse_flow", model, long_), 1, 1,
                                        time_dim=2),
        "latent_to_speech": measure_context(mods["latent_to_speech"],
                                            example_inputs("latent_to_speech", model, long_), 1, hop),
        "latent_to_landmarks": measure_context(
            mods["latent_to_landmarks"], example_inputs("latent_to_landmarks", model, long_), 1, 1),
        "speech_to_latent": measure_context(mods["speech_to_latent"],
                                            example_inputs("speech_to_latent", model, long_), hop, 1, time_dim=2),
    }
