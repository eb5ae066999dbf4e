"""Trained systems as evaluation sees them: a UniFLG model (any variant) run through the torch reference
path (``UniFLG.infer_text`` / ``infer_speech``), so the scores measure the model, not a backend.

z_u: text-driven predictions take z_u from the reference speech (the paper allows reference speech or a
prior sample); speech-driven predictions take it from the input speech, as the paper does.
"""

from __future__ import annotations

import numpy as np
import torch
from uniflg.audio import resample, to_mono_float
from uniflg.model.features import SpectrogramFeatures
from uniflg.model.system import UniFLG
from uniflg.timing import landmark_frames

from uniflg_train.evaluation.runner import EvalItem


class TorchSystem:
    """``stand_in`` / ``as_unknown``: the stage-2 run's reading of speakers (``train landmarks
    --unknown-speakers-as / --read-as-unknown``): items of speakers the model lacks, or named in ``as_unknown``, are
    read with the stand-in's row, as in training (without a stand-in: row 0, the runtime's row for unknown speech)."""

    def __init__(self, model: UniFLG, seed: int = 0, noise_scale: float = 0.667,
                 duration_noise_scale: float = 0.8, landmark_noise_scale: float = 0.0,
                 stand_in: str | None = None, as_unknown: tuple[str, ...] = ()) -> None:
        self.model = model.eval()
        self.cfg = model.cfg
        self.sample_rate = self.cfg.audio.sample_rate
        self.features = SpectrogramFeatures(self.cfg.audio)
        self.seed = seed
        self.noise_scale, self.duration_noise_scale = noise_scale, duration_noise_scale
        self.landmark_noise_scale = landmark_noise_scale
        self.supports_text = self.cfg.variant.landmark_training != "speech"
        self.supports_speech = self.cfg.variant.landmark_training != "text"
        self.stand_in, self.as_unknown = stand_in, frozenset(as_unknown)

    # -- helpers -----------------------------------------------------------------------------------
    def _g(self, item: EvalItem) -> torch.Tensor:
        names = self.cfg.condition_names
        if self.cfg.variant.conditioning == "speaker":
            key = item.speaker if item.speaker not in self.as_unknown else None
            fallback = names.index(self.stand_in) if self.stand_in in names else 0
        else:
            key, fallback = item.emotion, 0
        return torch.tensor([names.index(key) if key in names else fallback])

    def _spec(self, audio: np.ndarray, rate: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        wav = resample(to_mono_float(audio), rate, self.sample_rate)
        spec = self.features.spectrogram(torch.from_numpy(wav)[None])
        return spec, self.features.log_mel(spec), wav.size

    @torch.no_grad()
    def _z_u(self, mel: torch.Tensor) -> torch.Tensor:
        _, mu, _ = self.model.encode_utterance(mel, torch.tensor([mel.size(2)]))
        return mu

    def _text_inputs(self, item: EvalItem) -> tuple[torch.Tensor, torch.Tensor]:
        if "ids" in item.extra:
            ids, prosody = np.asarray(item.extra["ids"]), np.asarray(item.extra["prosody"])
        else:
            from uniflg.text.frontend import encode

            utt = encode(item.text)
            ids, prosody = utt.ids, utt.prosody
        return torch.from_numpy(ids).long()[None], torch.from_numpy(prosody).long()[None]

    # -- System protocol ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict_text(self, item: EvalItem) -> tuple[np.ndarray, np.ndarray]:
        if not self.supports_text:
            raise NotImplementedError(f"{self.cfg.variant.name} has no text-driven mode")
        ids, prosody = self._text_inputs(item)
        _, mel, _ = self._spec(item.audio, item.sample_rate)
        z_u = self._z_u(mel)
        g = torch.Generator().manual_seed(self.seed)
        D, N = self.cfg.vits.inter_channels, ids.size(1)
        wav, lm, _ = self.model.infer_text(
            ids, prosody, self._g(item), z_u,
            torch.randn(1, 2, N, generator=g) * self.duration_noise_scale,
            torch.randn(1, D, 20 * N + 4000, generator=g) * self.noise_scale,
            torch.randn(1, D, 8 * N + 1500, generator=g) * self.landmark_noise_scale)
        return wav[0, 0].numpy(), lm[0].numpy()

    @torch.no_grad()
    def predict_speech(self, item: EvalItem, audio: np.ndarray | None = None, rate: int | None = None
                       ) -> np.ndarray:
        if not self.supports_speech and audio is None:
            raise NotImplementedError(f"{self.cfg.variant.name} has no speech-driven mode")
        audio = item.audio if audio is None else audio
        rate = item.sample_rate if rate is None else rate
        spec, mel, n_samples = self._spec(audio, rate)
        n_land = landmark_frames(n_samples, self.sample_rate, self.cfg.landmarks.fps)
        lm = self.model.infer_speech(spec, self._g(item), self._z_u(mel), n_land)
        return lm[0].numpy()

    def predict_pipelined(self, item: EvalItem) -> tuple[np.ndarray, np.ndarray]:
        """UniFLG-P: synthesize speech from text, then run the speech-driven path on it."""
        wav, _ = self.predict_text(item)
        return wav, self.predict_speech(item, wav, self.sample_rate)
