"""torch Dataset and collate over the feature cache of ``uniflg preprocess``.

``collate`` returns a :class:`Batch`; B = batch size, N = longest token sequence, F = n_fft/2 + 1,
M = n_mels, T = longest spectrogram, S = T * hop, L = longest landmark track:

============== ==================== ==========================================================
field          shape / dtype        meaning
============== ==================== ==========================================================
ids            [B, N] int64         symbol ids (uniflg.text.symbols), 0-padded
prosody        [B, N, 3] int64      accent, boundary, interrogative codes, 0-padded
text_lengths   [B] int64            tokens per item (0: a word-free item, see ``Batch.with_text``)
spec           [B, F, T] float32    linear magnitude spectrogram (uniflg.audio), 0-padded
mel            [B, M, T] float32    log mel, padded with log(1e-5)
spec_lengths   [B] int64            frames per item
wav            [B, 1, S] float32    24 kHz waveform in [-1, 1], 0-padded; S_i = spec_lengths_i * hop
wav_lengths    [B] int64            samples per item
speaker        [B] int64            index into ``dataset.speakers``
emotion        [B] int64            index into ``dataset.emotions``
landmarks      [B, L, 70, 2] f32    30 fps tracks (edge-padded), or None if no item has one
landmark_lengths [B] int64          frames per item (0 for unpaired items), or None
has_landmarks  [B] bool             which items are paired
item_ids       list[str]            manifest ids
============== ==================== ==========================================================
"""

from __future__ import annotations

import errno
import json
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from uniflg.config import AudioConfig
from uniflg.errors import InvalidInputError
from uniflg.landmarks import N_POINTS

from uniflg_train.data.labels import speaker_rows

LOG_MEL_FLOOR = float(np.log(1e-5))

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One padded batch, as the data pipeline collates it and both training stages read it (shapes above)."""

    ids: Tensor
    prosody: Tensor
    text_lengths: Tensor
    spec: Tensor
    mel: Tensor
    spec_lengths: Tensor
    wav: Tensor
    wav_lengths: Tensor
    speaker: Tensor
    emotion: Tensor
    landmarks: Tensor | None
    landmark_lengths: Tensor | None
    has_landmarks: Tensor
    item_ids: list[str]
    speech_wav: Tensor | None = None  # (B, S) degraded copy of wav for the speech path (data.augment)

    def to(self, device: torch.device | str) -> Batch:
        moved: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            moved[f.name] = value.to(device) if isinstance(value, Tensor) else value
        return Batch(**moved)

    def speech_spectrogram(self, features: Any) -> Tensor:
        """The linear spectrogram (B, F, T) the speech-to-latent path reads: that of ``speech_wav`` (computed by
        ``features``, a :class:`uniflg.model.features.SpectrogramFeatures`) when the batch was augmented, else
        the cached clean ``spec``."""
        if self.speech_wav is None:
            return self.spec
        return features.spectrogram(self.speech_wav)[..., : self.spec.size(2)]

    def select(self, keep: Tensor) -> Batch:
        """The items where ``keep`` (B,) bool is true, in order (padding as it was)."""
        picked: dict[str, Any] = {}
        rows = keep.nonzero()[:, 0]
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Tensor):
                value = value[rows.to(value.device)]
            elif isinstance(value, list):
                value = [v for v, k in zip(value, keep.tolist(), strict=True) if k]
            picked[f.name] = value
        return Batch(**picked)

    def with_text(self) -> Batch | None:
        """The items that have words (``text_lengths`` > 0), for the text path; None when none has."""
        keep = self.text_lengths > 0
        if bool(keep.all()):
            return self
        return self.select(keep) if bool(keep.any()) else None

    def condition_index(self, conditioning: str) -> Tensor:
        """g: the speaker (UniFLG) or the emotion (UniFLG-AS)."""
        return self.speaker if conditioning == "speaker" else self.emotion


class UniFLGDataset(Dataset):
    """Items of one split of a feature cache. ``paired_only`` keeps items with landmarks; ``max_seconds``
    drops longer items; ``only_speakers`` keeps those speakers' items; ``text_only`` drops word-free items
    (their count: :attr:`wordless_dropped`). ``speakers`` / ``emotions`` are the cache-wide name lists
    (index = class id), so class ids do not change when items are filtered."""

    def __init__(self, cache: Path, split: str = "train", paired_only: bool = False,
                 max_seconds: float | None = None, only_speakers: tuple[str, ...] | None = None,
                 text_only: bool = False) -> None:
        index_path = Path(cache) / "index.json"
        if not index_path.exists():
            raise FileNotFoundError(f"no feature cache at {cache}: run `uniflg preprocess --data DIR`")
        index = json.loads(index_path.read_text(encoding="utf-8"))
        self.cache = Path(cache)
        self.audio = AudioConfig(**index["audio"])
        self.speakers: tuple[str, ...] = tuple(index["speakers"])
        self.emotions: tuple[str, ...] = tuple(index["emotions"])
        metas = index["splits"].get(split, [])
        if paired_only:
            metas = [m for m in metas if m["landmark_frames"] > 0]
        if max_seconds is not None:
            metas = [m for m in metas if m["seconds"] <= max_seconds]
        if only_speakers:
            unknown = sorted(set(only_speakers) - set(self.speakers))
            if unknown:
                raise InvalidInputError(f"{cache}: no speaker {', '.join(unknown)}; "
                                        f"the corpus has {', '.join(self.speakers)}")
            metas = [m for m in metas if m["speaker"] in only_speakers]
        self.wordless_dropped = sum(m["text_len"] == 0 for m in metas) if text_only else 0
        if text_only:
            metas = [m for m in metas if m["text_len"] > 0]
        self.items: list[dict[str, Any]] = metas
        self._speaker_rows = {name: i for i, name in enumerate(self.speakers)}
        self._speech_only: frozenset[str] = frozenset()
        self.lengths = [m["frames"] for m in metas]  # spectrogram frames, e.g. for bucketing samplers

    def use_label_order(self, speakers: tuple[str, ...], emotions: tuple[str, ...], owner: str = "the model",
                        unknown_speakers_as: str | None = None, as_unknown: tuple[str, ...] = ()) -> None:
        """Number speakers and emotions as ``speakers`` / ``emotions`` do (a model's tables) instead of the
        cache's own order, so a model trained on another corpus reads each item with its own row. Items of a
        speaker the table lacks, or named in ``as_unknown``, take ``unknown_speakers_as``'s row (data/labels.py
        says why).

        Raises InvalidInputError naming every speaker or emotion of the kept items that has no row."""
        rows = speaker_rows((m["speaker"] for m in self.items), speakers, unknown_speakers_as, owner,
                            hint="choose items with --paired-speakers", as_unknown=as_unknown)
        missing = sorted({m["emotion"] for m in self.items} - set(emotions))
        if missing:
            raise InvalidInputError(f"{self.cache}: {owner} has no emotion {', '.join(missing)} (it has "
                                    f"{', '.join(emotions)})")
        self.speakers, self.emotions = tuple(speakers), tuple(emotions)
        self._speaker_rows = rows

    def read_speech_only(self, speakers: tuple[str, ...]) -> int:
        """From now on these speakers' items come without their words (``ids`` and ``prosody`` of length 0), so
        they train the speech path only, as word-free items do; returns how many of the kept items that is.

        Raises InvalidInputError naming a speaker none of the kept items has."""
        present = {m["speaker"] for m in self.items}
        unknown = sorted(set(speakers) - present)
        if unknown:
            raise InvalidInputError(f"{self.cache}: no kept item of speaker {', '.join(unknown)} (kept: the items "
                                    f"this stage reads, e.g. paired ones of --paired-speakers; their speakers: "
                                    f"{', '.join(sorted(present))})")
        self._speech_only = frozenset(speakers)
        return sum(m["speaker"] in self._speech_only for m in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        meta = self.items[i]
        path = self.cache / "items" / f"{meta['id']}.npz"
        try:
            with np.load(path) as z:
                out = {k: z[k] for k in ("ids", "prosody", "wav", "spec", "mel")}
                out["landmarks"] = z["landmarks"] if "landmarks" in z.files else None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged after preprocess
            raise InvalidInputError(f"{path}: the cached item cannot be read ({type(exc).__name__}: {exc}); run "
                                    f"`uniflg preprocess --data {self.cache.parent}` to rebuild it") from None
        if meta["speaker"] in self._speech_only:
            out["ids"], out["prosody"] = out["ids"][:0], out["prosody"][:0]
        out["id"] = meta["id"]
        out["speaker"] = self._speaker_rows[meta["speaker"]]
        out["emotion"] = self.emotions.index(meta["emotion"])
        return out


def _pad(arrays: list[np.ndarray], axis: int, value: float = 0.0, dtype: Any = np.float32) -> Tensor:
    longest = max(a.shape[axis] for a in arrays)
    out = []
    for a in arrays:
        widths = [(0, 0)] * a.ndim
        widths[axis] = (0, longest - a.shape[axis])
        out.append(np.pad(a.astype(dtype, copy=False), widths, constant_values=value))
    return torch.from_numpy(np.stack(out))


Collate = Callable[[list[dict[str, Any]]], Batch]  # items of a UniFLGDataset -> one padded batch


def collate(items: list[dict[str, Any]]) -> Batch:
    """Pad a list of :class:`UniFLGDataset` items into a :class:`Batch` (see the module docstring)."""
    lm = [it["landmarks"] for it in items]
    has = torch.tensor([x is not None for x in lm])
    landmarks = lengths = None
    if bool(has.any()):
        longest = max(x.shape[0] for x in lm if x is not None)
        padded = [np.zeros((longest, N_POINTS, 2), np.float32) if x is None
                  else np.concatenate([x, np.repeat(x[-1:], longest - x.shape[0], 0)]) for x in lm]
        landmarks = torch.from_numpy(np.stack(padded).astype(np.float32))
        lengths = torch.tensor([0 if x is None else x.shape[0] for x in lm], dtype=torch.int64)
    wavs = [it["wav"].astype(np.float32) / 32768.0 for it in items]
    return Batch(
        ids=_pad([it["ids"] for it in items], 0, 0, np.int64),
        prosody=_pad([it["prosody"] for it in items], 0, 0, np.int64),
        text_lengths=torch.tensor([it["ids"].shape[0] for it in items], dtype=torch.int64),
        spec=_pad([it["spec"] for it in items], 1),
        mel=_pad([it["mel"] for it in items], 1, LOG_MEL_FLOOR),
        spec_lengths=torch.tensor([it["spec"].shape[1] for it in items], dtype=torch.int64),
        wav=_pad(wavs, 0).unsqueeze(1),
        wav_lengths=torch.tensor([w.size for w in wavs], dtype=torch.int64),
        speaker=torch.tensor([it["speaker"] for it in items], dtype=torch.int64),
        emotion=torch.tensor([it["emotion"] for it in items], dtype=torch.int64),
        landmarks=landmarks, landmark_lengths=lengths, has_landmarks=has,
        item_ids=[it["id"] for it in items],
    )


def _stale_cache_reason(data: Path, cache: Path) -> str | None:
    """Why ``cache`` must be (re)built for ``data``: "" when it does not exist, a reason when a manifest is newer
    than its index or the index is partial (a full disk stopped it); None when it is up to date. A corpus grown by
    `uniflg corpus make` trained on its first items only, and a partial cache on what it held (review 20)."""
    index = cache / "index.json"
    if not index.exists():
        return ""
    built = index.stat().st_mtime
    changed = [m.name for m in (data / f"{s}.jsonl" for s in ("train", "val", "test"))
               if m.is_file() and m.stat().st_mtime > built]
    if changed:
        return f"{', '.join(changed)} changed since it was built"
    try:
        complete = json.loads(index.read_text(encoding="utf-8")).get("complete", True)
    except (OSError, ValueError, AttributeError):
        return "its index cannot be read"
    return None if complete else "a full disk stopped it before every item was cached"


def open_dataset(data: Path, split: str = "train", cache: Path | None = None, paired_only: bool = False,
                 max_seconds: float | None = None, jobs: int = 1,
                 only_speakers: tuple[str, ...] | None = None, text_only: bool = False) -> UniFLGDataset:
    """The dataset of ``data``'s ``split``, building the feature cache first if it is missing, and bringing it up
    to date if a manifest changed since it was built or a full disk stopped it (only new or changed items are
    computed: ``uniflg preprocess`` keeps what is cached)."""
    cache = cache or Path(data) / "cache"
    stale = _stale_cache_reason(Path(data), cache)
    if stale is not None:
        from uniflg_train.data.preprocess import check_corpus_folder, prepare

        check_corpus_folder(Path(data))  # before a cache folder is made in it
        if stale:
            log.info("updating the feature cache %s: %s", cache, stale)
        try:
            prepare(Path(data), cache, jobs=jobs)
        except (PermissionError, OSError) as exc:
            if not isinstance(exc, PermissionError) and exc.errno != errno.EROFS:
                raise
            raise InvalidInputError(f"cannot write the feature cache {cache} ({exc.strerror or exc}): `uniflg train` "
                                    "takes a writable folder for it with --cache DIR; other commands need a writable "
                                    "copy of the corpus") from None
    return UniFLGDataset(cache, split, paired_only, max_seconds, only_speakers, text_only)
