"""The trainer's view of a corpus: the data pipeline's dataset over its feature cache (built on first use)."""

from __future__ import annotations

import logging
from pathlib import Path

from uniflg.errors import InvalidInputError

from uniflg_train.data.dataset import Collate, UniFLGDataset, collate, open_dataset

log = logging.getLogger(__name__)


def open_training_data(data: Path, split: str, paired_only: bool, max_seconds: float, sample_rate: int,
                       jobs: int = 2, only_speakers: tuple[str, ...] | None = None, text_only: bool = False,
                       cache: Path | None = None) -> tuple[UniFLGDataset, Collate, UniFLGDataset]:
    """-> (dataset, collate function, metadata with the cache-wide ``speakers`` / ``emotions``: the dataset).
    ``text_only`` leaves word-free (non-speech) items out, and logs how many."""
    dataset = open_dataset(Path(data), split, cache=cache, paired_only=paired_only, max_seconds=max_seconds,
                           jobs=jobs, only_speakers=only_speakers, text_only=text_only)
    if dataset.wordless_dropped:
        log.info("%d word-free (non-speech) items of the %r split left out: they have no text",
                 dataset.wordless_dropped, split)
    if dataset.audio.sample_rate != sample_rate:
        raise ValueError(f"{data}: the feature cache is at {dataset.audio.sample_rate} Hz, "
                         f"the model at {sample_rate} Hz")
    if len(dataset) == 0 and dataset.wordless_dropped:
        raise InvalidInputError(f"{data}: the {split!r} split holds only word-free (non-speech) items "
                                f"({dataset.wordless_dropped}), and stage 1 learns from text: add items with words")
    if len(dataset) == 0:
        what = "paired items (with landmarks)" if paired_only else "items"
        if only_speakers:
            what += f" of {', '.join(only_speakers)}"
        raise InvalidInputError(f"{data}: the {split!r} split has no {what} of at most {max_seconds} s")
    return dataset, collate, dataset
