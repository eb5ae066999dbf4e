"""Reading audio files with limits: a file is checked before any sample is decoded, then read in blocks.

A header can claim anything: a 32 KB WAV that says 1 Hz would be upsampled to hours of 24 kHz audio, and a sparse
2 GB WAV with a valid header is hours of silence. :func:`open_audio` refuses such files from their header alone
(sample rate outside :data:`SAMPLE_RATE_RANGE`, too many channels, longer than ``max_seconds``) and
:meth:`AudioFile.blocks` yields mono float32 blocks, so memory stays bounded by the block size however long the
file is.

Example::

    from uniflg.audio_file import open_audio

    with open_audio("speech.wav") as f:           # raises InvalidInputError / LimitExceededError
        for block in f.blocks(seconds=1.0):        # float32 (n,) mono at f.sample_rate
            ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from uniflg.errors import BackendUnavailableError, InvalidInputError, LimitExceededError
from uniflg.ffmpeg import ffmpeg_exe
from uniflg.limits import MAX_CHANNELS, SAMPLE_RATE, Range, check_sample_rate

SAMPLE_RATE_RANGE = (int(SAMPLE_RATE.lo), int(SAMPLE_RATE.hi))  # Hz; the range the gRPC server accepts too
MAX_FILE_SECONDS = 4 * 3600.0  # default cap of one file (4 hours); callers may raise it
ACCEPTED_FORMATS = ("WAV", "FLAC", "OGG (Vorbis/Opus)", "MP3", "AIFF", "AU", "CAF", "W64", "RF64")
ACCEPTED_HINT = (f"accepted formats: {', '.join(ACCEPTED_FORMATS)} (convert others first, "
                 "e.g. ffmpeg -i in.m4a out.wav)")

log = logging.getLogger(__name__)


def file_problem(path: Path) -> str | None:
    """Why ``path`` is not a regular readable file ("not found", "is a FIFO (named pipe)", "cannot be opened
    (Too many levels of symbolic links)", ...), or None when it is one. Never opens it, so a FIFO cannot block."""
    path = Path(path)
    try:
        st = path.stat()  # follows symlinks: a loop raises ELOOP here
    except FileNotFoundError:
        return "is a broken symbolic link" if path.is_symlink() else "not found"
    except OSError as exc:
        return f"cannot be opened ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(st.st_mode):
        return "is a FIFO (named pipe), not a file"
    if not stat.S_ISREG(st.st_mode):
        return "is a device or socket, not a regular file"
    if not os.access(path, os.R_OK):
        return "is not readable (permission denied)"
    return None


def check_readable_file(path: Path, what: str = "audio file") -> Path:
    """``path`` when it is a regular, readable file; else InvalidInputError naming the real reason."""
    problem = file_problem(Path(path))
    if problem is not None:
        raise InvalidInputError(f"{what} {problem}: {path}")
    return Path(path)


class AudioFile:
    """An open, checked audio file; use :func:`open_audio`. ``frames`` and ``seconds`` come from the header."""

    def __init__(self, handle: Any, path: Path, temporary: Path | None = None) -> None:
        self._f, self.path = handle, path
        self._temporary = temporary  # a decoded copy that ``handle`` reads (see _whole_mp3), removed on close
        self.sample_rate: int = int(handle.samplerate)
        self.channels: int = int(handle.channels)
        self.frames: int = int(handle.frames)
        self._said_short = False

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate

    def blocks(self, seconds: float = 1.0) -> Iterator[np.ndarray]:
        """Mono float32 blocks of about ``seconds`` (channels averaged; at least one sample); NaN/inf samples raise
        InvalidInputError, as does a ``seconds`` that is not a finite number above 0."""
        Range("block seconds", 1.0 / self.sample_rate, 1e7).check(seconds)
        n = max(1, int(seconds * self.sample_rate))
        at = 0  # each iterator keeps its own place: two of them on one file do not take each other's blocks
        while True:
            self._check_open()
            try:
                self._f.seek(at)
                block = self._f.read(n, dtype="float32", always_2d=True)
            except RuntimeError as exc:  # libsndfile error in the middle of the data
                raise InvalidInputError(f"cannot read audio {self.path}: {_reason(exc)}; "
                                        f"{_damaged(self.path) or 'the file is damaged or cut off'}") from exc
            if block.shape[0] == 0:
                self._warn_if_short(at)
                return
            at += block.shape[0]
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            if not np.all(np.isfinite(mono)):
                raise InvalidInputError(f"audio {self.path} contains NaN or infinite samples")
            yield np.ascontiguousarray(mono, dtype=np.float32)

    def _warn_if_short(self, decoded: int) -> None:
        """A compressed file (MP3, OGG) whose header gives more audio than it decodes to, a download or copy cut
        off: libsndfile ends early without a word, so say it once. Encoders pad and trim a few frames, hence the
        tolerance (the larger of 0.1 s and 1 %)."""
        missing = self.frames - decoded
        if self._said_short or missing <= max(0.1 * self.sample_rate, 0.01 * self.frames):
            return
        self._said_short = True
        log.warning("%s is cut off: its header gives %.3f s of audio, it decodes to %.3f s (read as it is)",
                    self.path, self.seconds, decoded / self.sample_rate)

    def _check_open(self) -> None:
        if self._f.closed:
            raise InvalidInputError(f"audio file {self.path} is closed")

    def read(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples at most, float32 (n, channels) as stored (n = 0 at the end)."""
        self._check_open()
        return np.asarray(self._f.read(frames, dtype="float32", always_2d=True))

    def read_all(self) -> np.ndarray:
        """The whole file as mono float32 (for clips whose length the caller has bounded)."""
        parts = list(self.blocks(seconds=max(1.0, self.seconds)))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def close(self) -> None:
        self._f.close()
        _remove(self._temporary)
        self._temporary = None

    def __enter__(self) -> AudioFile:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


UNKNOWN_LENGTH = 2**62  # frames libsndfile reports at or above this: the header did not say (2**63 - 1)


def open_audio(path: str | Path, max_seconds: float | None = MAX_FILE_SECONDS) -> AudioFile:
    """Open and check an audio file from its header (nothing is decoded yet).

    Raises InvalidInputError (missing, a folder, a FIFO, an unknown format - the message lists the accepted
    ones -, a sample rate outside 8-192 kHz, too many channels, no samples) or LimitExceededError (longer than
    ``max_seconds``; None: no cap)."""
    import soundfile as sf

    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InvalidInputError(f"an audio file path must be a non-empty str or Path; got {path!r:.80}")
    if max_seconds is not None:
        Range("max_seconds", 1e-3, float("inf")).check(max_seconds)
    path = check_readable_file(Path(path))
    if path.stat().st_size == 0:
        raise InvalidInputError(f"{path} is empty (0 bytes); {ACCEPTED_HINT}")
    try:
        handle = sf.SoundFile(str(path))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise InvalidInputError(f"cannot read audio {path}: {_reason(exc)}; {_damaged(path) or ACCEPTED_HINT}") from exc
    temporary: Path | None = None
    try:
        check_sample_rate(int(handle.samplerate), f"sample rate of {path}")
        if not 1 <= handle.channels <= MAX_CHANNELS:
            raise InvalidInputError(f"{path} has {handle.channels} channels; at most {MAX_CHANNELS} are accepted")
        if handle.frames <= 0:
            damaged = _damaged(path) if path.stat().st_size > 1024 else None  # an empty recording is small
            said = f" libsndfile can read; {damaged}" if damaged else ""
            raise InvalidInputError(f"{path} has no audio samples{said}")
        if handle.frames >= UNKNOWN_LENGTH:  # libsndfile's answer for a stream whose header left the length out
            raise InvalidInputError(f"{path}: its {handle.format} header does not give its length (written to a pipe, "
                                    "e.g. `ffmpeg ... -f flac -`), and libsndfile stops partway through such a file; "
                                    f"rewrite it with its length, e.g. ffmpeg -i {path.name} fixed.wav")
        if handle.format == "MP3":
            handle, temporary = _whole_mp3(path, handle, max_seconds)
        seconds = handle.frames / handle.samplerate
        _warn_if_cut(path, handle, seconds)
        _check_length(path, seconds, max_seconds)
    except BaseException:
        handle.close()
        _remove(temporary)
        raise
    return AudioFile(handle, path, temporary)


def _check_length(path: Path, seconds: float, max_seconds: float | None) -> None:
    if max_seconds is not None and seconds > max_seconds:
        raise LimitExceededError(f"{path} is {_duration(seconds)} long; at most {_duration(max_seconds)} per "
                                 "file (raise --max-seconds, or split the file)")


def _whole_mp3(path: Path, handle: Any, max_seconds: float | None) -> tuple[Any, Path | None]:
    """``handle`` (libsndfile on an MP3) when it reads the whole file; else a handle on a temporary FLAC that ffmpeg
    decoded, and that file's path. libsndfile takes an MP3's length from its Xing/Info header and, where there is
    none, estimates it from the first frame's bit rate: a VBR MP3 without that header (``ffmpeg -write_xing 0``,
    some streaming rips) was read to that estimate only, e.g. 3.6 s of 10 s, without a word. ffmpeg walks every
    frame (a stream copy, nothing decoded: about 2 s for an hour) to find the real length. Without ffmpeg the file
    is read as libsndfile reads it. The temporary file is unlinked once open (POSIX) or on close (Windows).
    Raises LimitExceededError from the real length."""
    import soundfile as sf

    real = _frame_walk_seconds(path)
    estimated = handle.frames / handle.samplerate
    if real is None or real - estimated <= max(0.1, 0.01 * real):  # the header's length, or a cut-off file
        return handle, None
    _check_length(path, real, max_seconds)  # before decoding hours of sound
    log.info("%s: libsndfile would read only %.3f s of its %.3f s (a VBR MP3 without a length header); ffmpeg "
             "decodes it", path, estimated, real)
    fd, name = tempfile.mkstemp(prefix="uniflg-", suffix=".flac")
    os.close(fd)
    temporary = Path(name)
    try:
        done = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(path), "-map", "0:a:0",
                               "-c:a", "flac", "-sample_fmt", "s32", str(temporary)], capture_output=True, text=True)
        if done.returncode != 0:
            said = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            raise InvalidInputError(f"cannot read audio {path}: ffmpeg could not decode it ({said})")
        decoded = sf.SoundFile(str(temporary))
    except BaseException:
        _remove(temporary)
        raise
    handle.close()
    if os.name == "posix":  # the open handle keeps the data: nothing is left behind, even when the process is killed
        _remove(temporary)
        return decoded, None
    return decoded, temporary


def _frame_walk_seconds(path: Path) -> float | None:
    """The length of ``path``'s first audio stream as ffmpeg finds it by walking its frames, in seconds; None when
    ffmpeg is not there or cannot read the file."""
    try:
        done = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-c", "copy",
                               "-f", "null", "-progress", "pipe:1", "-nostats", "-"], capture_output=True, text=True,
                              timeout=300)
    except (BackendUnavailableError, OSError, subprocess.TimeoutExpired):
        return None
    times = [line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("out_time_us=")]
    if done.returncode != 0 or not times or not times[-1].strip().isdigit():
        return None
    return int(times[-1]) / 1e6


def _remove(temporary: Path | None) -> None:
    if temporary is not None:
        with contextlib.suppress(OSError):
            temporary.unlink()


# Chunked formats whose header declares the sound's size: container id, form types, byte order, sound chunk id.
_CHUNKED = {"WAV": (b"RIFF", (b"WAVE",), "little", b"data"), "WAVEX": (b"RIFF", (b"WAVE",), "little", b"data"),
            "AIFF": (b"FORM", (b"AIFF", b"AIFC"), "big", b"SSND")}


def _warn_if_cut(path: Path, handle: Any, seconds: float) -> None:
    """A WAV or AIFF whose sound chunk is shorter than its header says (a download or a copy cut off): libsndfile
    reads what is there without a word, so say it once. The chunks are walked from the file header (a tag's text may
    hold the word "data"); streams that leave the size out (0 or 0xFFFFFFFF) say nothing."""
    layout = _CHUNKED.get(handle.format)
    if layout is None:
        return
    container, forms, order, sound = layout
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if head[:4] != container or head[8:12] not in forms:
            return
        at = 12
        for _ in range(64):  # the sound chunk follows a few others (fmt, fact, LIST, COMM); a bound, not a loop forever
            f.seek(at)
            head = f.read(8)
            if len(head) < 8:
                return
            declared = int.from_bytes(head[4:8], order)  # type: ignore[arg-type]
            if head[:4] == sound:
                present = size - (at + 8)
                if 0 < declared < 0xFFFFFFFF and present < declared:
                    log.warning("%s is cut off: its header gives %.3f s of audio, the file holds %.3f s "
                                "(read as it is)", path, seconds * declared / max(present, 1), seconds)
                return
            at += 8 + declared + (declared & 1)  # chunks are padded to an even size


# How the accepted formats begin (a sound file's name may lie; its first bytes do not).
_MAGIC = ((b"fLaC", "FLAC"), (b"OggS", "OGG"), (b"ID3", "MP3"), (b"RIFF", "WAV"), (b"RF64", "RF64"), (b"FORM", "AIFF"),
          (b".snd", "AU"), (b"caff", "CAF"), (b"riff", "W64"))


def _damaged(path: Path) -> str | None:
    """For a file libsndfile cannot read although it begins like an accepted format: why that is, most likely,
    and what to do (the accepted-formats hint would say to convert a FLAC to FLAC). None for other files."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return None
    name = next((n for magic, n in _MAGIC if head.startswith(magic)), None)
    if name is None and len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame
        name = "MP3"
    if name is None:
        return None
    return (f"its first bytes say {name}, so it is most likely damaged or cut off (a download or copy that did not "
            f"finish): make it again, or keep what can be decoded with ffmpeg -i {path.name} fixed.wav")


def _duration(seconds: float) -> str:
    """A length as people read it: "5.4 s", "12 min 30 s", "2.50 h"."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    return f"{seconds / 3600:.2f} h"


def _reason(exc: Exception) -> str:
    """libsndfile's message without its "Error opening '<path>': " prefix (the caller names the file)."""
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    if text.startswith("Error opening") and "': " in text:
        text = text.split("': ", 1)[1]
    return text.strip().rstrip(".")


__all__ = ["ACCEPTED_FORMATS", "SAMPLE_RATE_RANGE", "AudioFile", "check_readable_file", "check_sample_rate",
           "file_problem", "open_audio"]
