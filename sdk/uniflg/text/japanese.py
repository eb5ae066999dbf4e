"""Japanese: Open JTalk full-context labels (pyopenjtalk-plus, offline) -> tokens with prosody codes.

One token per label, so a list of per-label durations (e.g. from the HTS engine) lines up with the tokens.
Fields used (HTS-style label format of Open JTalk):

* phoneme: ``p3`` in ``p1^p2-p3+p4=p5``; the first/last ``sil`` become ``^``/``$``, ``pau`` stays;
* ``A:a1+a2+a3``: a2 = mora position in the accent phrase (1-based), a3 = moras to the phrase end;
* ``F:f1_f2#f3_...``: f2 = accent type (0 = flat, k = drop after mora k), f3 = interrogative phrase flag.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from uniflg.text import symbols as S

_PHONE = re.compile(r"\^([^-]+)-([^+]+)\+([^=]+)=")
_A = re.compile(r"/A:([^+]+)\+([^+]+)\+([^/]+)/")
_F = re.compile(r"/F:([^_]+)_([^#]+)#([^_]+)_")


@dataclass(frozen=True)
class Token:
    symbol: str
    accent: int
    boundary: int
    interrogative: int


def full_context_labels(text: str) -> list[str]:
    """Open JTalk labels of ``text`` (pyopenjtalk-plus bundles the dictionary: no download); none for text without
    a letter or digit (Open JTalk finds no phoneme there and says so on the C-level stderr)."""
    if not any(c.isalnum() for c in text):
        return []
    import pyopenjtalk

    return list(pyopenjtalk.extract_fullcontext(text))


@functools.lru_cache(maxsize=4096)
def reads_character(ch: str) -> bool:
    """Whether Open JTalk reads ``ch`` (some kana comes out; it passes the characters it cannot read through)."""
    import pyopenjtalk

    return any("\u30a0" <= c <= "\u30ff" for c in pyopenjtalk.g2p(ch, kana=True))


def _int(field: str) -> int | None:
    return None if field == "xx" else int(field)


def _accent(mora: int | None, accent_type: int | None) -> int:
    """Tokyo-dialect pitch of a mora: the first mora is low unless the type is 1 (head-high); the pitch
    stays high up to the accent nucleus (type k) and is low after it; type 0 never drops."""
    if mora is None or accent_type is None:
        return S.ACCENT_NONE
    if accent_type == 1:
        return S.ACCENT_HIGH if mora == 1 else S.ACCENT_LOW
    if mora == 1:
        return S.ACCENT_LOW
    return S.ACCENT_HIGH if accent_type == 0 or mora <= accent_type else S.ACCENT_LOW


# Open JTalk phonemes outside the symbol table (which the voices were trained on, so it cannot grow): the nearest
# in it. フュ (fy: フューチャー, フュージョン) is read ヒュ, as many speakers say it.
_NEAREST_PHONEME = {"fy": "hy"}


def labels_to_tokens(labels: Sequence[str]) -> list[Token]:
    """Full-context labels -> one :class:`Token` per label."""
    phones: list[str] = []
    for lab in labels:
        m = _PHONE.search(lab)
        if m is None:
            raise ValueError(f"not an Open JTalk full-context label: {lab!r}")
        phones.append(_NEAREST_PHONEME.get(m.group(2), m.group(2)))
    tokens: list[Token] = []
    for i, (lab, ph) in enumerate(zip(labels, phones, strict=True)):
        if ph in ("sil", "pau"):
            sym = S.PAUSE if ph == "pau" else (S.BOS if i == 0 else S.EOS if i == len(labels) - 1 else S.PAUSE)
            tokens.append(Token(sym, S.ACCENT_NONE, S.BOUNDARY_BREATH_FINAL, S.INTERROGATIVE_NO))
            continue
        a = _A.search(lab)
        f = _F.search(lab)
        mora = _int(a.group(2)) if a else None
        to_end = _int(a.group(3)) if a else None
        accent_type = _int(f.group(2)) if f else None
        question = f is not None and f.group(3) == "1"
        nxt = phones[i + 1] if i + 1 < len(phones) else "sil"
        if nxt in ("sil", "pau"):
            boundary = S.BOUNDARY_BREATH_FINAL
        elif to_end == 1 and _A.search(labels[i + 1]) is not None and _next_mora_starts_phrase(labels[i + 1]):
            boundary = S.BOUNDARY_PHRASE_FINAL
        else:
            boundary = S.BOUNDARY_INSIDE
        tokens.append(Token(ph, _accent(mora, accent_type), boundary,
                            S.INTERROGATIVE_YES if question else S.INTERROGATIVE_NO))
    return tokens


def _next_mora_starts_phrase(label: str) -> bool:
    a = _A.search(label)
    return a is not None and a.group(2) == "1"
