"""Text front end: text -> symbol ids + prosody features (Japanese via Open JTalk, English via espeak-ng),
with normalization, a symbol policy and sentence splitting for long text (docs/frontend.md)."""

from uniflg.text.charset import LANGUAGES, detect_language
from uniflg.text.frontend import MAX_CHARS, MAX_SYMBOLS, Passage, Utterance, encode, split_text
from uniflg.text.symbols import SYMBOLS

__all__ = ["LANGUAGES", "MAX_CHARS", "MAX_SYMBOLS", "SYMBOLS", "Passage", "Utterance", "detect_language", "encode",
           "split_text"]
