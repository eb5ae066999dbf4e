"""English: espeak-ng IPA (through libespeak-ng with ctypes, or the espeak-ng CLI) -> tokens.

Prosody codes: accent 2 = primary stress, 3 = secondary stress, 1 = unstressed (a stress mark in the IPA
applies to the vowel it marks and to the consonant right before it); boundary 1 inside a
word, 2 word-final, 3 clause-final; interrogative 1 on the last word of a clause that ends in ``?``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import shutil
import subprocess
import threading

from uniflg.errors import BackendUnavailableError
from uniflg.text import symbols as S
from uniflg.text.japanese import Token

log = logging.getLogger(__name__)

VOICE = "en-us"
_CLAUSE = re.compile(r"[^.,!?;:]+[.,!?;:]*")
_STRESS = {"ˈ": S.ACCENT_HIGH, "ˌ": S.ACCENT_SECONDARY}
_DROP = "ːˑ̃‿"  # length, half-length, nasalization, linking: not distinguished in our set
_VOWEL_START = set("aeiouæɑɐɔəɚɛɜɪᵻʊʌɒɘɵ")


class _Espeak:
    """libespeak-ng's text-to-phonemes through ctypes; the library is global state, hence the lock."""

    _IPA = 0x02

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        self.lib = ctypes.CDLL(name)
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        # AUDIO_OUTPUT_SYNCHRONOUS (2): no audio device is opened.
        if self.lib.espeak_Initialize(2, 0, None, 0) < 0:
            raise OSError("espeak_Initialize failed")
        if self.lib.espeak_SetVoiceByName(VOICE.encode()) != 0:
            raise OSError(f"espeak-ng has no voice {VOICE!r}")
        self.lock = threading.Lock()

    def phonemize(self, text: str) -> str:
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        mode = self._IPA | (ord("_") << 8)  # bits 8-23: separator between phonemes
        out: list[str] = []
        with self.lock:
            while ptr.value:
                res = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), 1, mode)  # 1 = UTF-8
                if res:
                    out.append(res.decode("utf-8"))
        return " ".join(out)


_engine: _Espeak | None = None
_engine_lock = threading.Lock()


def _phonemize(text: str) -> str:
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                _engine = _Espeak()
            except OSError as exc:
                log.debug("libespeak-ng unavailable (%s); trying the espeak-ng CLI", exc)
    if _engine is not None:
        return _engine.phonemize(text)
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise BackendUnavailableError("English needs espeak-ng: apt-get install espeak-ng libespeak-ng1")
    res = subprocess.run([exe, "-q", "--ipa", "--sep=_", "-v", VOICE, text], capture_output=True,
                         text=True, check=True)
    return " ".join(res.stdout.split())


def split_ipa(word: str) -> list[tuple[str, int]]:
    """One espeak word (``_``-separated IPA) -> [(symbol, stress code or 0)], unknown parts split greedily."""
    out: list[tuple[str, int]] = []
    for part in word.split("_"):
        stress = 0
        for mark, code in _STRESS.items():
            if mark in part:
                stress = code
                part = part.replace(mark, "")
        part = "".join(ch for ch in part if ch not in _DROP)
        for k, sym in enumerate(_split_unit(part)):
            out.append((sym, stress if k == 0 else 0))
    return out


def _split_unit(unit: str) -> list[str]:
    """Longest-match an IPA unit onto the table (``ɑɹ`` -> ``ɑ``, ``ɹ``; ``aɪɚ`` -> ``aɪ``, ``ɚ``)."""
    found: list[str] = []
    i = 0
    while i < len(unit):
        for j in range(len(unit), i, -1):
            piece = unit[i:j]
            sym = ENGLISH_SYMBOL.get(piece)
            if sym is not None:
                found.append(sym)
                i = j
                break
        else:
            log.debug("dropping unmapped espeak phoneme %r", unit[i])
            i += 1
    return found


ENGLISH_SYMBOL: dict[str, str] = {s: s for s in S.ENGLISH_ONLY} | dict(S.ENGLISH_MAP)


def _word_tokens(word: str, boundary_last: int, question: bool) -> list[Token]:
    units = split_ipa(word)
    accents = _spread_stress(units)
    toks = []
    for k, ((sym, _), acc) in enumerate(zip(units, accents, strict=True)):
        boundary = boundary_last if k == len(units) - 1 else S.BOUNDARY_INSIDE
        toks.append(Token(sym, acc, boundary, S.INTERROGATIVE_YES if question else S.INTERROGATIVE_NO))
    return toks


def _spread_stress(units: list[tuple[str, int]]) -> list[int]:
    """espeak marks stress on the vowel; the consonant right before it (its onset) shares the code."""
    acc = [S.ACCENT_LOW] * len(units)
    for k, (_, stress) in enumerate(units):
        if stress:
            acc[k] = stress
            if k > 0 and units[k - 1][0][0] not in _VOWEL_START and units[k - 1][1] == 0:
                acc[k - 1] = stress
    return acc


def text_to_tokens(text: str) -> list[Token]:
    """English text -> tokens, with ``^`` / ``$`` around and ``pau`` between clauses."""
    tokens: list[Token] = [Token(S.BOS, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO)]
    clauses = [c.strip() for c in _CLAUSE.findall(text) if c.strip()]
    for ci, clause in enumerate(clauses):
        question = clause.rstrip().endswith("?")
        words = [w for w in _phonemize(clause.rstrip(".,!?;:")).split() if w.strip("_")]
        for wi, word in enumerate(words):
            last = wi == len(words) - 1
            tokens.extend(_word_tokens(word, S.BOUNDARY_BREATH_FINAL if last else S.BOUNDARY_PHRASE_FINAL,
                                       question and last))
        if ci < len(clauses) - 1 and words:
            tokens.append(Token(S.PAUSE, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO))
    tokens.append(Token(S.EOS, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO))
    return tokens
