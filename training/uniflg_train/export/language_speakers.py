"""Which speaker reads each language by default (voice.json ``language_speakers``), chosen at export.

``uniflg export --language-speaker en=kokoro_jm_kumo`` names them. Without it, an export that knows its corpus
(``--latents-from DATA``) picks, for each language other than Japanese in the corpus's train split, the speaker
with the most **unpaired** items (speech without a face track) of that language: those are the natural voices
(Kokoro, docs/corpus.md), while paired items of other languages come from espeak-ng, whose voice is there to teach
the face, not to be heard. Ties go to the speaker listed first. Japanese keeps the voice's first speaker (the HTS
voice the faces were paired with), so voices trained on Japanese alone get no mapping and behave as before.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from uniflg.errors import InvalidInputError
from uniflg.text.charset import LANGUAGES

log = logging.getLogger(__name__)

FIRST_SPEAKER_LANGUAGE = "ja"  # read by the voice's first speaker unless named


def parse_language_speaker(text: str) -> tuple[str, str]:
    """``"LANG=SPEAKER"`` -> (language, speaker); InvalidInputError naming the accepted form and languages."""
    language, sep, speaker = text.partition("=")
    language, speaker = language.strip(), speaker.strip()
    if not sep or not speaker or language not in LANGUAGES:
        raise InvalidInputError(f"--language-speaker takes LANG=SPEAKER with LANG one of {', '.join(LANGUAGES)}; "
                                f"got {text!r}")
    return language, speaker


def parse_language_speakers(texts: list[str]) -> dict[str, str]:
    """Every ``--language-speaker LANG=SPEAKER`` -> {language: speaker}; a language named twice is refused."""
    mapping: dict[str, str] = {}
    for text in texts:
        language, speaker = parse_language_speaker(text)
        if language in mapping and mapping[language] != speaker:
            raise InvalidInputError(f"--language-speaker names {language} twice ({mapping[language]} and "
                                    f"{speaker}); give one speaker per language")
        mapping[language] = speaker
    return mapping


def check_language_speakers(mapping: dict[str, str], speakers: tuple[str, ...]) -> dict[str, str]:
    """``mapping`` when every speaker it names is one of the model's ``speakers``; else InvalidInputError."""
    for language, speaker in mapping.items():
        if speaker not in speakers:
            raise InvalidInputError(f"--language-speaker {language}={speaker}: the model has no speaker "
                                    f"{speaker!r}; it has: {', '.join(speakers)}")
    return mapping


def corpus_language_speakers(data: Path, speakers: tuple[str, ...]) -> dict[str, str]:
    """The default mapping for a voice of ``speakers`` trained on ``data`` (the module's rule): per language
    other than Japanese, the speaker with the most unpaired train items in it. Builds the feature cache if it
    is missing (as ``--latents-from`` does)."""
    from uniflg_train.data.dataset import open_dataset

    counts: dict[str, Counter[str]] = {}
    for meta in open_dataset(Path(data), "train").items:
        language, speaker = meta.get("language"), meta["speaker"]
        if language in (None, FIRST_SPEAKER_LANGUAGE) or meta["landmark_frames"] > 0 or speaker not in speakers:
            continue
        counts.setdefault(language, Counter())[speaker] += 1
    mapping = {}
    for language in sorted(counts):
        best = max(counts[language].values())
        mapping[language] = next(s for s in speakers if counts[language][s] == best)
        log.info("default %s speaker: %s (%d unpaired train items; others: %s)", language, mapping[language], best,
                 dict(counts[language].most_common()))
    return mapping
