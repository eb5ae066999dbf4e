"""File outputs of ``uniflg speak`` / ``uniflg animate``: ``speech.wav`` (PCM16 mono), ``landmarks.npy``
(float32 [T, 70, 2]), ``landmarks.json`` (fps, layout, sample_rate, frames) and ``preview.mp4`` (drawn by
:mod:`uniflg.preview`, speech muxed when given). Thin writers; no model code.

:func:`prepare_output` checks the output folder before any synthesis runs, so a bad ``-o`` costs nothing (and
leaves nothing behind); the writers create the folder. :func:`staged_outputs` writes one result's files under
temporary names and moves them into place together at the end, so an interrupted or failed run (Ctrl-C, a full
disk, ffmpeg failing) leaves neither truncated files that look valid nor a mix of old and new ones: the folder
keeps what it held before.
``landmarks.json`` is written frame by frame, so an hour of landmarks needs no hour-sized list of floats.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from uniflg.audio import pcm16
from uniflg.errors import InvalidInputError
from uniflg.fileio import TMP_PREFIX
from uniflg.landmarks import FPS, OPENPOSE_70

log = logging.getLogger(__name__)


def prepare_output(folder: Path, names: Iterable[str] = (), option: str = "-o") -> Path:
    """Check, before any work, that ``folder`` can be created or written and that none of ``names`` (the files
    about to be written) is a folder. Nothing is created: a refused request leaves no empty folder behind (the
    writer makes the folder when it has results). Raises InvalidInputError with the reason (an existing file,
    permission denied, a read-only file system...); ``option`` is what the messages call the command's option
    (``--out FILE`` names the file, so it checks the file's folder)."""
    folder = Path(folder)
    try:  # Python 3.11 answers a name too long with OSError where it answers a missing one with False
        dangling, exists, is_dir = folder.is_symlink() and not folder.exists(), folder.exists(), folder.is_dir()
    except OSError as exc:
        raise InvalidInputError(f"output {folder}: {exc.strerror or exc}; {option} needs a folder") from None
    if dangling:
        raise InvalidInputError(f"output {folder} is a symbolic link to nothing (broken, or a loop); {option} needs "
                                "a folder")
    if exists and not is_dir:
        raise InvalidInputError(f"output {folder} is an existing file; {option} needs a folder there (it is created "
                                "if missing)")
    if is_dir:
        try:  # the real test: create and remove a file
            fd, probe = tempfile.mkstemp(dir=folder, prefix=".uniflg-write-test-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise InvalidInputError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from exc
    else:
        parent = next(p for p in folder.absolute().parents if p.exists())
        if not parent.is_dir():
            raise InvalidInputError(f"cannot write to output folder {folder}: {parent} is a file, not a folder")
        if os.statvfs(parent).f_flag & os.ST_RDONLY:
            raise InvalidInputError(f"cannot write to output folder {folder}: Read-only file system ({parent})")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InvalidInputError(f"cannot write to output folder {folder}: Permission denied ({parent})")
        _try_create(folder.absolute(), parent)
    for name in names:
        if (folder / name).is_dir():
            raise InvalidInputError(f"output {folder / name} is a folder; remove it or choose another {option}")
    return folder


def _try_create(folder: Path, existing: Path) -> None:
    """Create the missing folders from ``existing`` down to ``folder`` and remove them again: file systems such as
    /proc pass every permission check and still refuse mkdir."""
    missing = [folder, *[p for p in folder.parents if p != existing and existing in p.parents]]
    made: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir()
            made.append(path)
    except OSError as exc:
        raise InvalidInputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from exc
    finally:
        for path in reversed(made):
            path.rmdir()


class StagedOutputs:
    """The files of one result in ``folder``: :meth:`path` gives each its temporary name there (same suffix, so
    ffmpeg picks the format); :func:`staged_outputs` moves them all into place, or removes them.

    ``replaces``: the names the command may write; at the end, those this run did not write are removed (an
    earlier run's ``preview.mp4`` beside new speech would show another sentence), except the files in ``keep``
    (the command's input). A failed run also removes the folders it created, so nothing is left behind."""

    def __init__(self, folder: Path, replaces: Iterable[str] = (), keep: Iterable[Path] = ()) -> None:
        self.folder = Path(folder)
        self.replaces = tuple(replaces)
        self.keep = {Path(p).resolve() for p in keep}
        self._staged: dict[str, Path] = {}
        self._made: list[Path] = []  # folders this run created, outermost first

    def path(self, name: str) -> Path:
        """Where to write ``name`` now (created folder, hidden name); it becomes ``folder / name`` at the end."""
        if name not in self._staged:
            if not self.folder.is_dir():
                missing = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
                self.folder.mkdir(parents=True, exist_ok=True)
                self._made = [*reversed(missing), *self._made]
            self._staged[name] = self.folder / f"{TMP_PREFIX}{os.getpid()}-{name}"
        return self._staged[name]

    def commit(self) -> None:
        """Move the staged files into place, each with one atomic rename, so every name always holds a whole file.
        Each earlier file is kept meanwhile as a second link under a hidden name; when a move fails (a file that
        cannot be replaced, a folder put there meanwhile, Ctrl-C), the earlier files are put back, so the folder
        never mixes two results. OSError names the file that could not be replaced, never the hidden name."""
        written: set[str] = set()
        kept: list[tuple[Path, Path | None]] = []  # (final, the earlier file's second link), for each name written
        name = ""
        try:
            for name, tmp in self._staged.items():
                if not tmp.exists():  # a writer that gave up (no ffmpeg) wrote nothing
                    continue
                final = self.folder / name
                earlier = None
                if final.is_file() and not final.is_symlink():
                    earlier = self.folder / f"{TMP_PREFIX}{os.getpid()}-old-{name}"
                    _second_link(final, earlier)
                kept.append((final, earlier))
                os.replace(tmp, final)
                written.add(name)
        except BaseException as exc:
            for final, earlier in reversed(kept):  # put back what this run replaced
                if final.name not in written:  # (the one that failed) still the earlier file
                    if earlier is not None:
                        earlier.unlink(missing_ok=True)
                elif earlier is not None:
                    os.replace(earlier, final)
                else:
                    final.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise OSError(exc.errno, f"cannot replace {name}: {exc.strerror or exc}",
                              str(self.folder / name)) from exc
            raise
        for _, earlier in kept:
            if earlier is not None:
                earlier.unlink(missing_ok=True)
        for name in self.replaces:
            old = self.folder / name
            if name not in written and old.is_file() and old.resolve() not in self.keep:
                old.unlink()
        self._made = []  # they hold the result now

    def discard(self) -> None:
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
        for folder in reversed(self._made):  # innermost first; one that holds anything else stays
            with contextlib.suppress(OSError):
                folder.rmdir()


def _second_link(path: Path, other: Path) -> None:
    """``other`` becomes a second name of ``path``'s file (a copy where the file system has no hard links)."""
    other.unlink(missing_ok=True)
    try:
        os.link(path, other)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK) \
                or not os.access(path, os.R_OK):
            raise
        shutil.copy2(path, other)


@contextlib.contextmanager
def staged_outputs(folder: Path, replaces: Iterable[str] = (), keep: Iterable[Path] = ()) -> Iterator[StagedOutputs]:
    """Write a result's files through ``StagedOutputs.path``; when the block ends without an error (or a Ctrl-C),
    they replace the folder's files of those names together (and ``replaces`` names this run did not write are
    removed, ``keep`` excepted); otherwise they are removed, with any folder the run created, and the folder keeps
    what it held before."""
    staged = StagedOutputs(folder, replaces, keep)
    try:
        yield staged
        staged.commit()
    finally:
        staged.discard()


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """PCM16 mono WAV. Encoded in memory, then written by Python, so a full disk is an OSError naming its cause
    (libsndfile would only say "System error")."""
    import soundfile as sf

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    sf.write(buffer, pcm16(audio), sample_rate, subtype="PCM_16", format="WAV")
    Path(path).write_bytes(buffer.getbuffer())
    return path


def write_landmarks(npy: Path, meta: Path, landmarks: np.ndarray, sample_rate: int, fps: int = FPS,
                    layout: str = OPENPOSE_70) -> tuple[Path, Path]:
    """Write ``npy`` (float32 [T, 70, 2]) and ``meta`` (JSON) -> (npy, meta). The JSON repeats the frames as
    nested lists (rounded to 1e-5) for non-NumPy tools; it is written one frame at a time."""
    landmarks = np.asarray(landmarks, np.float32)
    npy.parent.mkdir(parents=True, exist_ok=True)
    meta.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()  # encoded in memory, written by Python: a full disk is then ENOSPC, not NumPy's
    np.save(buffer, landmarks)  # "22680 requested and 10208 written" without an errno
    npy.write_bytes(buffer.getbuffer())
    head = {"fps": fps, "layout": layout, "sample_rate": sample_rate,
            "n_points": int(landmarks.shape[1]) if landmarks.ndim == 3 else 0}
    with open(meta, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(head)[:-1] + ', "frames": [')
        for i, frame in enumerate(landmarks):
            fh.write((", " if i else "") + json.dumps(np.round(frame, 5).tolist()))
        fh.write("]}")
    return npy, meta


def write_preview(path: Path, landmarks: np.ndarray, fps: int = FPS, audio: np.ndarray | None = None,
                  sample_rate: int | None = None, audio_path: Path | None = None,
                  progress: bool = False) -> Path | None:
    """preview.mp4 via :func:`uniflg.preview.render_preview` (``audio`` samples or an ``audio_path`` file muxed;
    ``progress``: a bar on stderr); -> None (logged) when ffmpeg is unavailable or fails."""
    from uniflg.preview import render_preview

    try:
        return render_preview(path, landmarks, audio=audio, sample_rate=sample_rate, fps=fps, audio_path=audio_path,
                              progress=progress)
    except (OSError, RuntimeError) as exc:
        Path(path).unlink(missing_ok=True)  # what ffmpeg wrote before it failed is no preview
        full = next((e for e in (errno.ENOSPC, errno.EDQUOT) if os.strerror(e) in str(exc)), None)
        if full is not None:  # the disk is full, not the preview broken: the run fails like any other write
            raise OSError(full, os.strerror(full)) from None
        log.warning("no preview: %s", exc)
        return None
