"""Validate a corpus and build its feature cache (``uniflg preprocess``).

Cache layout (``CACHE`` defaults to ``DATA/cache``)::

    CACHE/index.json          speakers, emotions, audio config, per-split item lists with lengths, skipped items
    CACHE/items/<id>.npz      ids [N] int64, prosody [N, 3] int64, wav [S] int16 (24 kHz, S = T * hop),
                              spec [F, T] float16 (linear magnitude), mel [M, T] float16 (log mel),
                              landmarks [T_land, 70, 2] float32 (paired items only), meta (JSON string)

A bad item (unreadable or missing audio, NaN, wrong landmark shape, empty or unreadable transcript, ...)
is logged with its file and reason, listed in ``index.json`` under ``skipped``, and left out; the run
goes on and reports the count at the end. Items whose cache file exists are not recomputed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm
from uniflg.audio import linear_spectrogram, log_mel, mel_filterbank, pcm16, resample, to_mono_float
from uniflg.config import AudioConfig
from uniflg.errors import UniFLGError
from uniflg.fileio import atomic_path
from uniflg.text import encode

from uniflg_train.data.formats import (
    SPLITS,
    BadItemError,
    Item,
    check_landmarks,
    fit_frames,
    read_landmarks,
    read_manifest,
)

log = logging.getLogger(__name__)

CACHE_VERSION = 1
DEFAULT_EMOTIONS = ("normal", "happy", "sad")
MIN_SECONDS = 0.1


@dataclass
class PrepareSummary:
    cache: Path
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[BadItemError] = field(default_factory=list)

    def report(self) -> str:
        kept = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"{sum(self.counts.values())} items cached ({kept}); {len(self.skipped)} skipped"


def item_features(item: Item, cfg: AudioConfig) -> dict[str, Any]:
    """Load, validate and featurize one item; raises :class:`BadItemError`."""
    if not item.text.strip():
        raise BadItemError(item.source, "empty transcript")
    try:
        utt = encode(item.text, item.language)
    except UniFLGError as exc:
        raise BadItemError(item.source, f"transcript: {exc}") from exc
    if not item.audio.exists():
        raise BadItemError(item.audio, "audio file not found")
    try:
        audio, rate = sf.read(str(item.audio), dtype="float32", always_2d=False)
    except Exception as exc:  # noqa: BLE001 - soundfile raises several types for broken files
        raise BadItemError(item.audio, f"unreadable audio ({type(exc).__name__}: {exc})") from exc
    try:
        wav = resample(to_mono_float(audio), int(rate), cfg.sample_rate)
    except UniFLGError as exc:
        raise BadItemError(item.audio, str(exc)) from exc
    seconds = wav.size / cfg.sample_rate
    if seconds < MIN_SECONDS:
        raise BadItemError(item.audio, f"audio too short ({seconds:.3f} s)")
    frames = wav.size // cfg.hop_length
    wav = wav[: frames * cfg.hop_length]  # so that T spectrogram frames decode to exactly T * hop samples
    spec = linear_spectrogram(wav, cfg)
    out: dict[str, Any] = {"ids": utt.ids, "prosody": utt.prosody, "wav": pcm16(wav), "spec": spec.astype(np.float16),
                           "mel": log_mel(spec, cfg, mel_filterbank(cfg)).astype(np.float16)}
    if item.landmarks is not None:
        lm, fps = read_landmarks(item.landmarks)
        check_landmarks(lm, item.landmarks)
        out["landmarks"] = fit_frames(lm, fps, seconds, item.landmarks)
    elif item.video is not None:
        from uniflg_train.video.extract import VideoUnavailableError, video_landmarks

        try:
            lm, fps = video_landmarks(item.video)
        except VideoUnavailableError as exc:
            raise BadItemError(item.video, str(exc)) from exc
        check_landmarks(lm, item.video)
        out["landmarks"] = fit_frames(lm, fps, seconds, item.video)
    out["meta"] = {"id": item.id, "speaker": item.speaker, "emotion": item.emotion, "language": utt.language,
                   "text_len": int(utt.ids.size), "frames": int(spec.shape[1]), "seconds": round(seconds, 4),
                   "landmark_frames": int(out["landmarks"].shape[0]) if "landmarks" in out else 0}
    return out


def _cache_item(args: tuple[Item, Path, AudioConfig]) -> dict[str, Any] | BadItemError:
    item, items_dir, cfg = args
    path = items_dir / f"{item.id}.npz"
    try:
        cached = _fresh_meta(path, item)
        if cached is not None:
            return cached
        feats = item_features(item, cfg)
    except BadItemError as bad:
        return bad
    except Exception as exc:  # noqa: BLE001 - never end the run on one item
        return BadItemError(item.source, f"{type(exc).__name__}: {exc}")
    meta = feats.pop("meta")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: np.savez would add ".npz"
        np.savez(fh, meta=np.array(json.dumps(meta)), **feats)
    return meta


def _fresh_meta(path: Path, item: Item) -> dict[str, Any] | None:
    """The cached item's meta when the cache is newer than its sources and agrees on speaker, emotion and
    pairing (a manifest may gain or lose landmarks without touching the audio); None: recompute."""
    if not path.exists():
        return None
    cached_at = path.stat().st_mtime
    sources = [p for p in (item.audio, item.landmarks, item.video) if p is not None and p.exists()]
    if any(p.stat().st_mtime > cached_at for p in sources):
        return None
    with np.load(path) as z:
        meta: dict[str, Any] = dict(json.loads(str(z["meta"])))
    same = (meta.get("speaker") == item.speaker and meta.get("emotion") == item.emotion
            and (meta.get("landmark_frames", 0) > 0) == item.paired)
    return meta if same else None


def _order(names: set[str], preferred: tuple[str, ...]) -> list[str]:
    return [n for n in preferred if n in names] + sorted(names - set(preferred))


def prepare(data: Path, cache: Path | None = None, cfg: AudioConfig | None = None, jobs: int = 1,
            progress: bool = True) -> PrepareSummary:
    """Validate every manifest of ``data`` and write the feature cache; see the module docstring."""
    cfg = cfg or AudioConfig()
    cache = cache or data / "cache"
    items_dir = cache / "items"
    items_dir.mkdir(parents=True, exist_ok=True)
    summary = PrepareSummary(cache)
    work: list[tuple[str, Item]] = []
    seen: set[str] = set()
    for split in SPLITS:
        manifest = data / f"{split}.jsonl"
        if not manifest.exists():
            continue
        items, bad = read_manifest(manifest)
        summary.skipped.extend(bad)
        for it in items:
            if it.id in seen:
                summary.skipped.append(BadItemError(it.source, f"duplicate id {it.id!r}"))
                continue
            seen.add(it.id)
            work.append((split, it))
    if not work and not summary.skipped:
        raise FileNotFoundError(f"no train/val/test .jsonl manifests in {data}")
    tasks = [(it, items_dir, cfg) for _, it in work]
    if jobs > 1:
        with get_context("fork").Pool(jobs) as pool:
            results = list(tqdm(pool.imap(_cache_item, tasks, chunksize=4), total=len(tasks), desc="preprocess",
                                unit="item", disable=not progress))
    else:
        results = [_cache_item(t) for t in tqdm(tasks, desc="preprocess", unit="item", disable=not progress)]
    splits: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for (split, _), res in zip(work, results, strict=True):
        if isinstance(res, BadItemError):
            summary.skipped.append(res)
        else:
            splits[split].append(res)
    for skip in summary.skipped:
        log.warning("skipped %s: %s", skip.path, skip.reason)
    kept = [m for ms in splits.values() for m in ms]
    preferred_speakers = _corpus_speakers(data)
    index = {
        "version": CACHE_VERSION, "data": str(data.resolve()), "audio": dataclasses.asdict(cfg),
        "speakers": _order({m["speaker"] for m in kept}, preferred_speakers),
        "emotions": _order({m["emotion"] for m in kept}, DEFAULT_EMOTIONS),
        "splits": splits, "skipped": [{"file": b.path, "reason": b.reason} for b in summary.skipped],
    }
    (cache / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8")
    summary.counts = {s: len(v) for s, v in splits.items()}
    log.info("%s", summary.report())
    return summary


def _corpus_speakers(data: Path) -> tuple[str, ...]:
    meta = data / "corpus.json"
    if meta.exists():
        try:
            return tuple(json.loads(meta.read_text(encoding="utf-8")).get("speakers", ()))
        except ValueError:
            return ()
    return ()
