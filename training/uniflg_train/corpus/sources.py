"""The corpus generator's speech sources and their languages (no heavy imports: pairing and merge read them)."""

from __future__ import annotations

# "kokoro-en" is its own source, not a language of "kokoro": it is another pipeline (espeak-ng IPA mapped to
# Kokoro's vocabulary, only the voices pocketsphinx understands), and adding it to "kokoro" would renumber the
# streams of existing corpora, so a resumed corpus would no longer match its plan.
# "nonspeech" speaks no language: --languages never drops it, and like every source it is a stream only when
# --sources names it, so corpora made without it keep their streams.
SOURCE_LANGUAGES: dict[str, tuple[str, ...]] = {"hts": ("ja",), "kokoro": ("ja",), "espeak": ("en",),
                                                "kokoro-en": ("en",), "nonspeech": (), "hts-held": ("ja",),
                                                "kokoro-en-native": ("en",), "hts-short": ("ja",)}
HTS_SOURCES = ("hts", "hts-held", "hts-short")  # rendered by the HTS voice: its four speakers, timed, paired or not
UNTIMED_SOURCES = ("kokoro", "kokoro-en", "kokoro-en-native")  # no durations, so no alignment and no face
KOKORO_ENGLISH_SOURCES = ("kokoro-en", "kokoro-en-native")
WORDLESS_SOURCES = ("nonspeech",)  # no words, so no language: their stream's language is ""
SOURCES = tuple(SOURCE_LANGUAGES)
# the HTS voice's speakers, whose seeded procedural faces are the corpus's faces (corpus/voice.py SPEAKERS, which
# a test keeps equal): what `corpus pair --face` and `corpus grid --face` may draw on
CORPUS_FACES = ("mei", "low", "bright", "soft")
