"""Text front end: text -> symbol ids + prosody features (Japanese via Open JTalk, English via espeak-ng)."""

from uniflg.text.frontend import Utterance, detect_language, encode
from uniflg.text.symbols import SYMBOLS

__all__ = ["SYMBOLS", "Utterance", "detect_language", "encode"]
