"""Where a text path's English stops: ``uniflg eval text-ceiling --checkpoint PATH``.

For each English sentence a reference voice reads (Kokoro's ``jm_kumo`` by default, what the English corpus is made
of), the model's stage 1 is run four ways and pocketsphinx's word error rate (WER) is taken of each, beside the
reference's own:

* ``reconstruction``: the reference through the posterior (its mean) and the waveform decoder, the text path's
  ceiling as a VAE: what the latent space can carry;
* ``per_token``: the posterior's flow latent f(z) averaged over each token's span of the monotonic alignment (MAS)
  with the prior, inverted through the flow and decoded: an estimate of the best a prior that is one Gaussian per
  token (VITS's) can give through this flow (the closest per-token constant, on the trained prior's alignment);
* ``text_mas``: the text path's prior with the MAS durations (sampled at ``latent_noise``): the prior alone;
* ``text``: the text path end to end (``UniFLG.infer_text``: predicted durations and the runtime's noise scales;
  ``uniflg speak`` reads the voice's stored latent instead of the clip's z_u).

The model's paths read the reference resampled to the model's rate, its own z_u (the utterance encoder's mean)
and the chosen speaker's row; the reference itself is transcribed as ``speech-quality`` transcribes it. The spread
between the figures says which part limits the text path (docs/model-card.md, "English").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from uniflg.audio import resample
from uniflg.model.features import SpectrogramFeatures
from uniflg.model.system import UniFLG
from uniflg.text.frontend import encode

from uniflg_train.evaluation.speech_quality import Recognizer, Rendering, word_errors

PATHS = ("reference", "reconstruction", "per_token", "text_mas", "text")


@dataclass(frozen=True)
class CeilingReport:
    """Word error rates (0-1, errors over all reference words) per path of :data:`PATHS`, over ``sentences``."""

    speaker: str
    sentences: int
    words: int
    wer: dict[str, float]


def token_means(z_p: torch.Tensor, path: torch.Tensor) -> torch.Tensor:
    """Frame latents (B, D, T) and a hard alignment (B, T, N) -> each token's mean latent expanded back to its
    frames (B, D, T); a token with no frame gives zeros (it has no frame to fill)."""
    frames = path.sum(1).clamp(min=1).unsqueeze(1)  # (B, 1, N)
    per_token = torch.matmul(z_p, path) / frames  # (B, D, N)
    return UniFLG.expand(per_token, path)


@torch.no_grad()
def renderings(model: UniFLG, text: str, reference: Rendering, speaker: int, latent_noise: float,
               duration_noise: float, seed: int) -> dict[str, np.ndarray]:
    """One sentence -> waveform per model path of :data:`PATHS` (the model's sample rate)."""
    cfg = model.cfg
    features = SpectrogramFeatures(cfg.audio)
    audio = resample(np.asarray(reference.audio, np.float32), reference.sample_rate, cfg.audio.sample_rate)
    spec = features.spectrogram(torch.from_numpy(audio)[None])
    mel, frames = features.log_mel(spec), torch.tensor([spec.size(2)])
    _, z_u, _ = model.encode_utterance(mel, frames)
    g = torch.tensor([speaker])
    cond = model.condition(g, z_u)
    unit = encode(text, "en")
    ids = torch.from_numpy(np.asarray(unit.ids)).long()[None]
    prosody = torch.from_numpy(np.asarray(unit.prosody)).long()[None]
    prior = model.encode_text(ids, prosody, torch.tensor([ids.size(1)]))
    D, N = cfg.vits.inter_channels, ids.size(1)
    mask = torch.ones(1, 1, spec.size(2))
    z, _, _ = model.posterior(spec, mask, cond, torch.zeros(1, D, spec.size(2)))
    z_p = model.flow(z, mask, cond)
    path = model.align(z_p, prior, mask)  # (1, T, N)
    gen = torch.Generator().manual_seed(seed)
    m_p, logs_p = model.expand(prior.m_p, path), model.expand(prior.logs_p, path)
    sampled = m_p + torch.randn(m_p.shape, generator=gen) * latent_noise * torch.exp(logs_p)
    wav, _, _ = model.infer_text(ids, prosody, g, z_u, torch.randn(1, 2, N, generator=gen) * duration_noise,
                                 torch.randn(1, D, 20 * N + 4000, generator=gen) * latent_noise,
                                 torch.zeros(1, D, 8 * N + 1500))
    return {"reconstruction": model.decoder(z, cond)[0, 0].numpy(),
            "per_token": model.synthesize_speech(token_means(z_p, path), mask, cond)[0, 0].numpy(),
            "text_mas": model.synthesize_speech(sampled, mask, cond)[0, 0].numpy(),
            "text": wav[0, 0].numpy()}


def measure(model: UniFLG, sentences: Sequence[str], reference: Callable[[str], Rendering], speaker: str,
            recognizer: Recognizer | None = None, latent_noise: float = 0.667, duration_noise: float = 0.8,
            seed: int = 0, progress: Callable[[Sequence[str]], Sequence[str]] = lambda s: s) -> CeilingReport:
    """WER per path over ``sentences`` (English) read by ``reference``; ``speaker`` names the model's row.
    Noise scales are the runtime's defaults; sentence k uses seed ``seed + k``."""
    model = model.float().eval()
    recognizer = recognizer or Recognizer()
    row = model.cfg.condition_names.index(speaker)
    errors = dict.fromkeys(PATHS, 0)
    words = 0
    for k, text in enumerate(progress(sentences)):
        spoken = reference(text)
        e, n = word_errors(text, recognizer.transcribe(spoken.audio, spoken.sample_rate))  # as speech-quality does
        errors["reference"] += e
        words += n
        for name, wave in renderings(model, text, spoken, row, latent_noise, duration_noise, seed + k).items():
            errors[name] += word_errors(text, recognizer.transcribe(wave, model.cfg.audio.sample_rate))[0]
    return CeilingReport(speaker, len(sentences), words, {k: v / max(words, 1) for k, v in errors.items()})


def to_markdown(report: CeilingReport, setup: dict[str, object]) -> str:
    """``setup``: checkpoint (the one loaded), reference, sentence_set, seed and (optional) latent_noise and
    duration_noise, as the JSON states them."""
    head = "| " + " | ".join(PATHS) + " |\n|" + "---|" * len(PATHS) + "\n"
    row = "| " + " | ".join(f"{report.wer[p] * 100:.0f} %" for p in PATHS) + " |\n"
    count = f"{report.sentences} English sentence{'s' if report.sentences != 1 else ''}"
    return (f"WER (pocketsphinx) of {setup['checkpoint']} with speaker {report.speaker}, {count} of the "
            f"{setup['sentence_set']} set ({report.words} words) read by {setup['reference']}, seed {setup['seed']}"
            + (f", latent noise {setup['latent_noise']:g}, duration noise {setup['duration_noise']:g}"
               if "duration_noise" in setup else "") + ":"
            "\n\n" + head + row +
            "\nreconstruction: posterior and decoder; per_token: f(z) averaged per MAS token span, inverted; "
            "text_mas: the prior with MAS durations; text: the text path end to end.\n")


def english_speaker(names: Sequence[str], voice_speaker: str | None, reference: str) -> str | None:
    """The row that reads English when the call names none: the voice's English speaker (``voice.json``
    ``language_speakers``), else the reference's own row where the model has one (``kokoro-en:VOICE`` and
    ``kokoro-en-native:VOICE`` -> ``kokoro_VOICE``: the reference voice it trained on), else ``kokoro_jm_kumo``
    where it has that; None: none of them (the caller takes the first speaker)."""
    kind, _, voice = reference.partition(":")
    own = f"kokoro_{voice}"
    for candidate in (voice_speaker, own if kind.startswith("kokoro") else None, "kokoro_jm_kumo"):
        if candidate is not None and candidate in names:
            return candidate
    return None
