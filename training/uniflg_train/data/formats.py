"""Corpus manifests and the files they point to (docs/data.md).

A corpus directory holds ``train.jsonl``, ``val.jsonl``, ``test.jsonl``; each line is one utterance::

    {"id": "...", "audio": "wavs/x.wav", "text": "...", "language": "ja"|"en"|"auto",
     "speaker": "...", "emotion": "normal", "landmarks": "landmarks/x.npy" | null, "video": "x.mp4"}

Unpaired items have ``"landmarks": null`` (and no ``video``). ``"nonspeech": KIND`` names non-speech sound in
the audio; with an empty ``text`` (and ``"language": null``) the item is word-free: only stage 2's speech path
reads it (docs/training.md). Paired items give landmarks as ``.npy``
(float32 [T, 70, 2]), ``.json`` (our ``landmarks.json``: {"fps", "layout", "frames"}; or a bare list of
frames), a folder of OpenPose JSON files (``face_keypoints_2d`` per frame, confidence dropped), or a
``video`` that ``uniflg_train.video`` turns into landmarks. Paths are relative to the manifest's folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from uniflg.errors import InvalidInputError
from uniflg.landmarks import FPS, N_POINTS, check_track

SPLITS = ("train", "val", "test")


class BadItemError(Exception):
    """An item that cannot be used; ``path`` is the offending file, ``reason`` says why. ``fatal``: the run cannot
    go on (the cache cannot be written: a full disk). Picklable, so it crosses from worker processes intact."""

    def __init__(self, path: Path | str, reason: str, fatal: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason, self.fatal = str(path), reason, fatal

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason, self.fatal))


MAX_ID_CHARS = 200


def check_item_id(value: str) -> str:
    """An id becomes a file name in the cache: one plain name component, printable, at most 200 characters."""
    if (len(value) > MAX_ID_CHARS or value in (".", "..") or value.startswith(".")
            or any(c in value for c in "/\\") or not value.isprintable()):
        raise ValueError(f"id {value!r} must be a plain name (no '/', '\\', leading '.', control characters; "
                         f"at most {MAX_ID_CHARS} characters)")
    return value


def contained_path(root: Path, value: str, key: str) -> Path:
    """``root / value`` for a relative path that stays inside the corpus folder ``root`` (checked on the names;
    symbolic links inside the corpus may point elsewhere, as when a corpus links to a shared dataset)."""
    if "\x00" in value or Path(value).is_absolute() or ".." in Path(value).parts:
        raise ValueError(f"{key} {value!r} must be a path relative to the corpus folder, without '..'")
    return root / value


@dataclass(frozen=True)
class Item:
    """One manifest line, paths resolved against the corpus folder."""

    id: str
    audio: Path
    text: str
    language: str
    speaker: str
    emotion: str
    landmarks: Path | None
    video: Path | None
    source: str  # "manifest:line" for reports
    nonspeech: str | None = None  # the kind of non-speech sound in the audio, if any

    @property
    def paired(self) -> bool:
        return self.landmarks is not None or self.video is not None

    @property
    def wordless(self) -> bool:
        """No words at all (a non-speech item): nothing for the text path, only sound under a face."""
        return self.nonspeech is not None and not self.text.strip()


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, Any] | ValueError]]:
    """The one reader of a JSONL manifest: ("manifest:line", the line's object, or the ValueError that says why
    it is not one) for every non-blank line, in order. A byte-order mark (Windows editors save one) is skipped."""
    for no, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            yield f"{path}:{no}", exc
            continue
        yield f"{path}:{no}", row if isinstance(row, dict) else ValueError(f"not a JSON object: {line[:40]!r}")


def read_manifest(path: Path) -> tuple[list[Item], list[BadItemError]]:
    """Items of one JSONL manifest, and the lines that are not valid items."""
    items: list[Item] = []
    bad: list[BadItemError] = []
    for where, row in read_rows(path):
        try:
            if isinstance(row, ValueError):
                raise row
            items.append(_item(row, path.parent, where))
        except (ValueError, TypeError, KeyError) as exc:
            bad.append(BadItemError(where, f"bad manifest line ({exc})"))
    return items, bad


def _item(row: dict[str, Any], root: Path, where: str) -> Item:
    nonspeech = row.get("nonspeech")
    if nonspeech is not None and (not isinstance(nonspeech, str) or not nonspeech):
        raise ValueError("'nonspeech' must be the name of the sound (e.g. music, noise) or null")
    for key in ("id", "audio", "text", "speaker"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise ValueError(f"{key!r} must be a string; got {row[key]!r}")
        if not isinstance(row.get(key), str) or not (row[key] or (key == "text" and nonspeech)):
            hint = " (a word-free item says what it holds instead: \"nonspeech\": KIND)" if key == "text" else ""
            raise ValueError(f"missing or empty {key!r}{hint}")
    lm, video = row.get("landmarks"), row.get("video")
    for key, value in (("landmarks", lm), ("video", video), ("language", row.get("language", "auto")),
                       ("emotion", row.get("emotion") or "normal")):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key!r} must be a string")
    return Item(id=check_item_id(row["id"]), audio=contained_path(root, row["audio"], "audio"), text=row["text"],
                language=row.get("language") or "auto", speaker=row["speaker"],
                emotion=row.get("emotion") or "normal", landmarks=contained_path(root, lm, "landmarks") if lm else None,
                video=contained_path(root, video, "video") if video else None, source=where, nonspeech=nonspeech)


def read_landmarks(path: Path) -> tuple[np.ndarray, float]:
    """Landmarks [T, 70, 2] float32 and their frame rate from .npy, .json or an OpenPose JSON folder."""
    from uniflg.audio_file import file_problem

    problem = None if path.is_dir() else file_problem(path)  # a FIFO would block; a symlink loop is no "not found"
    if problem is not None:
        raise BadItemError(path, f"landmark file {problem}")
    try:
        if path.is_dir():
            return _openpose_dir(path), float(FPS)
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False).astype(np.float32), float(FPS)
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict):
                return np.asarray(data["frames"], dtype=np.float32), float(data.get("fps", FPS))
            return np.asarray(data, dtype=np.float32), float(FPS)
    except BadItemError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes a reported bad item
        raise BadItemError(path, f"unreadable landmarks ({type(exc).__name__}: {exc})") from exc
    raise BadItemError(path, f"unknown landmark format {path.suffix!r} (use .npy, .json or an OpenPose folder)")


def _openpose_dir(folder: Path) -> np.ndarray:
    """OpenPose --write_json output: one file per frame, people[0].face_keypoints_2d = [x, y, c] * 70."""
    frames = []
    for f in sorted(folder.glob("*.json")):
        people = json.loads(f.read_text(encoding="utf-8-sig")).get("people") or []
        if not people:
            raise BadItemError(f, "OpenPose frame without a person")
        kp = np.asarray(people[0]["face_keypoints_2d"], dtype=np.float32).reshape(-1, 3)[:, :2]
        frames.append(kp)
    if not frames:
        raise BadItemError(folder, "no OpenPose JSON files")
    return np.stack(frames)


def check_landmarks(lm: np.ndarray, path: Path | str) -> None:
    """:func:`uniflg.landmarks.check_track`, failing as a bad item of ``path``."""
    try:
        check_track(lm)
    except InvalidInputError as exc:
        raise BadItemError(path, str(exc)) from exc


def fit_frames(lm: np.ndarray, fps: float, seconds: float, path: Path | str, tolerance_s: float = 0.2) -> np.ndarray:
    """Resample to 30 fps (linear) and fit to round(seconds * 30) frames: a track whose length differs from
    the audio's by more than ``tolerance_s`` is a bad item; smaller differences are padded (last frame
    repeated) or trimmed."""
    if abs(fps - FPS) > 1e-6:
        t_src = np.arange(lm.shape[0]) / fps
        t_dst = np.arange(int(round(lm.shape[0] / fps * FPS))) / FPS
        flat = lm.reshape(lm.shape[0], -1)
        lm = np.stack([np.interp(t_dst, t_src, flat[:, k]) for k in range(flat.shape[1])], 1)
        lm = lm.reshape(-1, N_POINTS, 2).astype(np.float32)
    want = int(round(seconds * FPS))
    if abs(lm.shape[0] - want) / FPS > tolerance_s:
        raise BadItemError(path, f"{lm.shape[0]} landmark frames for {seconds:.2f} s of audio (expected {want})")
    if lm.shape[0] < want:
        lm = np.concatenate([lm, np.repeat(lm[-1:], want - lm.shape[0], 0)])
    return lm[:want]
