"""Validate a corpus and build its feature cache (``uniflg preprocess``).

Cache layout (``CACHE`` defaults to ``DATA/cache``)::

    CACHE/index.json          speakers, emotions, audio config, per-split item lists with lengths, skipped items
    CACHE/items/<id>.npz      ids [N] int64, prosody [N, 3] int64, wav [S] int16 (24 kHz, S = T * hop),
                              spec [F, T] float16 (linear magnitude), mel [M, T] float16 (log mel),
                              landmarks [T_land, 70, 2] float32 (paired items only), meta (JSON string)

A word-free item (manifest ``"nonspeech": KIND`` with an empty text) is cached with no tokens (``ids`` [0],
``prosody`` [0, 3], ``text_len`` 0 and ``nonspeech`` in its meta): only stage 2's speech path reads it.

A bad item (unreadable or missing audio, NaN, wrong landmark shape, empty or unreadable transcript, ...)
is logged with its file and reason, listed in ``index.json`` under ``skipped``, and left out; the run
goes on and reports the count at the end. Items whose cache file exists are not recomputed.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout
from tqdm import tqdm
from uniflg.audio import linear_spectrogram, log_mel, mel_filterbank, pcm16, resample, to_mono_float
from uniflg.audio_file import file_problem, open_audio
from uniflg.config import AudioConfig
from uniflg.errors import UniFLGError
from uniflg.fileio import atomic_path, atomic_write_text
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
    ids, prosody, language = np.zeros(0, np.int64), np.zeros((0, 3), np.int64), ""
    if not item.wordless:
        if not item.text.strip():
            raise BadItemError(item.source, "empty transcript (a word-free item says \"nonspeech\": KIND)")
        try:
            utt = encode(item.text, item.language)
        except UniFLGError as exc:
            raise BadItemError(item.source, f"transcript: {exc}") from exc
        ids, prosody, language = utt.ids, utt.prosody, utt.language
    problem = file_problem(item.audio)  # before opening: a FIFO would block, a symlink loop is no "not found"
    if problem is not None:
        raise BadItemError(item.audio, f"audio file {problem}")
    try:
        with open_audio(item.audio, max_seconds=MAX_ITEM_SECONDS) as f:
            audio, rate = f.read_all(), f.sample_rate
        wav = resample(to_mono_float(audio), int(rate), cfg.sample_rate)
    except UniFLGError as exc:
        said = str(exc).replace(f" of {item.audio}", "").replace(f"{item.audio}: ", "").replace(f" {item.audio}", "")
        raise BadItemError(item.audio, f"unreadable audio ({said})") from exc  # the skip line names the file
    except Exception as exc:  # noqa: BLE001 - soundfile raises several types for broken files
        raise BadItemError(item.audio, f"unreadable audio ({type(exc).__name__}: {exc})") from exc
    seconds = wav.size / cfg.sample_rate
    if seconds < MIN_SECONDS:
        raise BadItemError(item.audio, f"audio too short ({seconds:.3f} s)")
    frames = wav.size // cfg.hop_length
    wav = wav[: frames * cfg.hop_length]  # so that T spectrogram frames decode to exactly T * hop samples
    spec = linear_spectrogram(wav, cfg)
    out: dict[str, Any] = {"ids": ids, "prosody": prosody, "wav": pcm16(wav), "spec": spec.astype(np.float16),
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
    out["meta"] = {"id": item.id, "speaker": item.speaker, "emotion": item.emotion, "language": language,
                   "text_len": int(ids.size), "frames": int(spec.shape[1]), "seconds": round(seconds, 4),
                   "landmark_frames": int(out["landmarks"].shape[0]) if "landmarks" in out else 0,
                   "nonspeech": item.nonspeech}
    return out


def _cache_item(args: tuple[Item, Path, AudioConfig]) -> dict[str, Any] | BadItemError:
    """One item -> its meta, or the BadItemError that says why it is left out (never raises: every failure,
    including an unexpected one, comes back as a picklable value so a worker pool cannot lose it)."""
    item, items_dir, cfg = args
    path = items_dir / f"{item.id}.npz"
    if path.parent != items_dir:  # ids are checked when read; this keeps a hand-made Item in the cache too
        return BadItemError(item.source, f"id {item.id!r} would write outside the cache")
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
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: np.savez would add ".npz"
            np.savez(fh, meta=np.array(json.dumps(meta)), **feats)
    except OSError as exc:  # the temporary file is already removed
        fatal = exc.errno in DISK_FULL_ERRNOS
        return BadItemError(path, f"cannot write the cache: {exc.strerror or exc}", fatal=fatal)
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
    try:
        with np.load(path) as z:
            meta: dict[str, Any] = dict(json.loads(str(z["meta"])))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # damaged after it was written: stale
        log.warning("rebuilding %s: the cached file cannot be read", path)
        return None
    same = (meta.get("speaker") == item.speaker and meta.get("emotion") == item.emotion
            and (meta.get("landmark_frames", 0) > 0) == item.paired)
    return meta if same else None


def _order(names: set[str], preferred: tuple[str, ...]) -> list[str]:
    return [n for n in preferred if n in names] + sorted(names - set(preferred))


def check_corpus_folder(data: Path, option: str = "--data") -> None:
    """``data`` must be a folder holding at least one split manifest (InvalidInputError naming ``option`` and it
    otherwise), checked before a cache folder is made in it."""
    from uniflg.errors import InvalidInputError

    if not Path(data).is_dir():
        raise InvalidInputError(f"{option} {data} is not a folder; give the corpus folder with train/val/test.jsonl")
    if not any(os.path.lexists(Path(data) / f"{split}.jsonl") for split in SPLITS):
        raise InvalidInputError(f"{option} {data} holds no train/val/test.jsonl; give a corpus folder (`uniflg "
                                "corpus make`, docs/data.md)")


CACHE_LOCK = ".uniflg-preprocess.lock"  # in the cache folder, held while one process writes it (filelock)


def prepare(data: Path, cache: Path | None = None, cfg: AudioConfig | None = None, jobs: int = 1,
            progress: bool = True) -> PrepareSummary:
    """Validate every manifest of ``data`` and write the feature cache; see the module docstring.

    One process writes a cache at a time (:data:`CACHE_LOCK`): torchrun's ranks, or two trainers started on one
    corpus (the recipe runs both stage-1 runs side by side), wait for the first and then find its items cached."""
    check_corpus_folder(data)
    cache = cache or data / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    lock = FileLock(cache / CACHE_LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        log.info("another process is writing the feature cache %s: waiting for it", cache)
        lock.acquire(timeout=-1)
    try:
        return _prepare(data, cache, cfg or AudioConfig(), jobs, progress)
    finally:
        lock.release()


def _prepare(data: Path, cache: Path, cfg: AudioConfig, jobs: int, progress: bool) -> PrepareSummary:
    items_dir = cache / "items"
    items_dir.mkdir(parents=True, exist_ok=True)
    summary = PrepareSummary(cache)
    work: list[tuple[str, Item]] = []
    seen: set[str] = set()
    for split in SPLITS:
        manifest = data / f"{split}.jsonl"
        if not os.path.lexists(manifest):
            continue
        problem = file_problem(manifest)  # a symlink loop or a FIFO must not make a split vanish silently
        if problem is not None:
            summary.skipped.append(BadItemError(manifest, f"manifest {problem}; the {split} split is empty"))
            continue
        items, bad = read_manifest(manifest)
        summary.skipped.extend(bad)
        for it in items:
            if it.id in seen:
                summary.skipped.append(BadItemError(it.source, f"duplicate id {it.id!r}"))
                continue
            seen.add(it.id)
            work.append((split, it))
    if not work and not summary.skipped:  # check_corpus_folder found manifests: they hold nothing
        from uniflg.errors import InvalidInputError

        raise InvalidInputError(f"the manifests in {data} hold no items (train.jsonl, val.jsonl and test.jsonl are "
                                "empty); `uniflg corpus make` or docs/data.md say what a line holds")
    tasks = [(it, items_dir, cfg) for _, it in work]
    results = _run_all(tasks, jobs, progress)
    splits: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    full: BadItemError | None = None
    for (split, item), res in zip(work, results, strict=True):
        if res is None:  # not attempted: the run stopped at a full disk
            continue
        if isinstance(res, BadItemError):
            full = full or (res if res.fatal else None)
            summary.skipped.append(res if not res.fatal else BadItemError(item.source, res.reason))
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
        "complete": full is None,  # False: a full disk stopped it; the next open_dataset goes on where it stopped
    }
    summary.counts = {s: len(v) for s, v in splits.items()}
    try:
        atomic_write_text(cache / "index.json", json.dumps(index, ensure_ascii=False, indent=1))
    except OSError as exc:
        raise CacheFullError(f"cannot write {cache / 'index.json'}: {exc.strerror or exc}; "
                             f"{sum(summary.counts.values())} items were cached; free space and rerun "
                             "(cached items are kept)") from exc
    if full is not None:
        done, kept_n = sum(1 for r in results if r is not None), sum(summary.counts.values())
        raise CacheFullError(f"stopped: {full.reason} ({full.path}); index.json lists the {kept_n} "
                             f"items cached so far ({len(work) - done} not attempted); free space in {cache} and "
                             "rerun: cached items are not recomputed")
    log.info("%s", summary.report())
    return summary


class CacheFullError(UniFLGError):
    """The cache cannot be written (a full disk, a read-only or over-quota file system); the run stopped after
    writing index.json for what was done."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)
MAX_ITEM_SECONDS = 600.0  # one utterance; longer files are refused from their header, before decoding


def _run_all(tasks: list[tuple[Item, Path, AudioConfig]], jobs: int, progress: bool
             ) -> list[dict[str, Any] | BadItemError | None]:
    """Results in task order. A full disk stops the run (later items stay None). With ``jobs`` > 1 a worker
    process that dies (killed, out of memory) turns its items into BadItemErrors instead of a hang."""
    results: list[dict[str, Any] | BadItemError | None] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="preprocess", unit="item", disable=not progress)
    with bar:
        if jobs <= 1:
            for i, task in enumerate(tasks):
                results[i] = _cache_item(task)
                bar.update()
                if _is_fatal(results[i]):
                    break
            return results
        # "spawn": forked workers can inherit a lock another thread held (see corpus.generate._rows).
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_cache_item, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futures):
                i = futures[fut]
                if fut.cancelled():  # after a full disk: never attempted
                    continue
                try:
                    results[i] = fut.result()
                except BrokenProcessPool:
                    results[i] = BadItemError(tasks[i][0].source, "the worker process died (killed, or out of "
                                                                 "memory?) while preparing this or another item")
                except Exception as exc:  # noqa: BLE001 - a result that failed to cross from the worker
                    results[i] = BadItemError(tasks[i][0].source, f"{type(exc).__name__}: {exc}")
                bar.update()
                if _is_fatal(results[i]):  # stop: cancel what has not started, keep what finishes
                    for other in futures:
                        other.cancel()
    return results


def _is_fatal(result: object) -> bool:
    return isinstance(result, BadItemError) and result.fatal


def _corpus_speakers(data: Path) -> tuple[str, ...]:
    meta = data / "corpus.json"
    if meta.exists():
        try:
            return tuple(json.loads(meta.read_text(encoding="utf-8")).get("speakers", ()))
        except ValueError:
            return ()
    return ()
