"""Audio inputs for ``uniflg live``: a microphone (PortAudio through ``sounddevice``), a file paced in real time,
or raw PCM16 on a stream (stdin). Each runs on its own thread and hands time-stamped blocks to a bounded
:class:`BlockQueue`, so whatever the consumer does (inference, slow sinks) never stalls the capture.

A block carries the wall-clock time (seconds since the Unix epoch) at which its first sample was captured, and
the seconds its samples span on that clock (the stamp of the sample after it, minus its own): for a microphone,
PortAudio's ADC time of the buffer mapped onto the wall clock; for a file, the moment the paced playback reached
that sample; for a stream, the sample clock anchored on its arrival (:class:`StreamStamps`). Stamps always increase
from block to block and within one, so the frames' time tags do too.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import select
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
from uniflg.errors import InvalidInputError, UniFLGError

log = logging.getLogger(__name__)

PCM16_SCALE = 32768.0


class CaptureError(UniFLGError):
    """An input that cannot be opened or that failed while running (device gone, unsupported settings)."""


@dataclass(frozen=True)
class AudioBlock:
    samples: np.ndarray  # (n, channels) float32 in [-1, 1]
    first_sample: int  # index of samples[0] on the source's sample clock
    captured_at: float  # wall-clock time (epoch seconds) at which samples[0] was captured
    span: float  # seconds from samples[0]'s stamp to the next block's: n / rate, less where a stream is compressed


@dataclass(frozen=True)
class SourceEnded:
    """The last item a source puts: ``error`` is None at a normal end (end of file or stream)."""

    error: str | None = None


class BlockQueue:
    """A bounded queue of blocks between a capture thread and the consumer, with the counts the status line
    shows. Real-time sources (a microphone) never block: when the queue is full the block is dropped and
    counted. Sources that can wait (a file, a pipe) block instead, so no audio is lost."""

    def __init__(self, max_seconds: float, rate: int, block_samples: int) -> None:
        self._q: queue.Queue[AudioBlock | SourceEnded] = queue.Queue(
            maxsize=max(2, int(max_seconds * rate / max(1, block_samples))))
        self.dropped_blocks = 0
        self.overflows = 0  # the device's own input overflows (samples lost before we saw them)
        self.underruns = 0  # gaps: the input delivered later than its own clock said it would

    def put_nowait(self, item: AudioBlock | SourceEnded) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            if isinstance(item, SourceEnded):  # the end must get through: make room
                self._drop_one()
                self._q.put_nowait(item)
            else:
                self.dropped_blocks += 1

    def end(self, item: SourceEnded, stop: threading.Event) -> None:
        """A reader thread's end marker: it waits for room like the blocks before it (a file or a pipe loses
        nothing at its end), unless the run is stopping, when it makes room."""
        if not self.put(item, stop):
            self.put_nowait(item)

    def put(self, item: AudioBlock | SourceEnded, stop: threading.Event) -> bool:
        """Block until there is room (or ``stop`` is set: -> False)."""
        while not stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, timeout: float) -> AudioBlock | SourceEnded | None:
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None

    def _drop_one(self) -> None:
        try:
            self._q.get_nowait()
            self.dropped_blocks += 1
        except queue.Empty:
            pass

    @property
    def queued(self) -> int:
        return self._q.qsize()


class Source(Protocol):
    rate: int
    channels: int
    block_samples: int
    description: str

    def start(self, out: BlockQueue) -> None: ...

    def stop(self) -> None: ...


# ---------------------------------------------------------------- file, paced like a microphone

class FileSource:
    """A recording played into the pipeline in real time: block k is released when the paced clock reaches its
    last sample, as a sound card would deliver it. Ends at the end of the file."""

    def __init__(self, path: Path, block_ms: float = 20.0, realtime: bool = True) -> None:
        from uniflg.audio_file import file_problem, open_audio

        if (problem := file_problem(path)) is not None:  # a FIFO, folder or loop is named, never opened
            raise InvalidInputError(f"--input {path} {problem} (use 'mic', a sound file, or '-' for stdin)")
        self._file = open_audio(path, max_seconds=None)  # the checks every audio file gets (rate, channels, length)
        self.rate, self.channels = self._file.sample_rate, self._file.channels
        self.block_samples = max(1, int(self.rate * block_ms / 1000))
        self.realtime = realtime
        seconds = self._file.seconds
        self.description = f"file {path.name} ({self.rate} Hz, {self.channels} ch, {seconds:.1f} s)"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, out: BlockQueue) -> None:
        self._thread = threading.Thread(target=self._run, args=(out,), name="uniflg-capture-file", daemon=True)
        self._thread.start()

    def _run(self, out: BlockQueue) -> None:
        t0, epoch0, n = time.monotonic(), time.time(), 0
        try:
            while not self._stop.is_set():
                data = self._file.read(self.block_samples)
                if len(data) == 0:
                    break
                if self.realtime:
                    delay = t0 + (n + len(data)) / self.rate - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                if not out.put(AudioBlock(data, n, epoch0 + n / self.rate, len(data) / self.rate), self._stop):
                    break
                n += len(data)
            out.end(SourceEnded(), self._stop)
        except Exception as exc:  # noqa: BLE001 - reported to the consumer, which ends cleanly
            out.end(SourceEnded(f"reading the file failed: {exc}"), self._stop)
        finally:
            self._file.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


# ---------------------------------------------------------------- raw PCM16 on a stream (stdin)

# How far ahead of its arrival a block's sample-clock stamp may be before the clock is slowed down: read-to-read
# jitter (a loaded machine, a writer that catches up on a late write) stays inside it, so the blocks of one write
# keep exactly a block apart instead of being re-stamped by microseconds.
AHEAD_ALLOWANCE_S = 0.03
# A stream that arrives later than its sample clock by more than this has a gap (an underrun): the clock jumps on.
UNDERRUN_S = 0.1
# The least share of its duration a block's stamps advance by while the clock is slowed down: stamps keep
# increasing however fast the stream comes, and keep up with its arrival up to 100 times real time.
MIN_SPAN_SHARE = 0.01
# Blocks beyond the catch-up allowance before the stream is named faster than real time.
EARLY_BLOCKS_WARNED = 5
# What a paced writer started with `live` may deliver beyond real time without being named faster than real time:
# the time this source waited for its reader and the pipe it filled, plus CATCH_UP_MARGIN_S (ffmpeg -re's first
# half-second burst, and the interpreter's start before the source existed: 0.4 s on a loaded 2-core machine), at up
# to REAL_TIME_TOLERANCE times real time (ffmpeg -re catches up at about 1.05x for a while: measured 1.04-1.07x over
# 11 s). `cat` is tens of times faster.
CATCH_UP_MARGIN_S = 1.5
REAL_TIME_TOLERANCE = 1.25


@dataclass(frozen=True)
class Stamp:
    captured_at: float  # wall-clock time of the block's first sample (epoch seconds)
    span: float  # seconds its samples span on that clock
    gap: bool  # the stream came later than its clock: an underrun, the clock jumped on


class StreamSource:
    """Raw PCM16 little-endian, interleaved channels, at ``rate``, read from a binary stream (stdin) as it
    arrives; its blocks are stamped by :class:`StreamStamps`. A writer that falls behind its own clock shows up as
    underruns; one that runs ahead of it (ffmpeg's first burst, a file piped with ``cat``) is warned about when it
    keeps doing so; the end of the stream ends."""

    def __init__(self, stream: BinaryIO, rate: int, channels: int = 1, block_ms: float = 20.0) -> None:
        from uniflg.audio_file import check_sample_rate

        if rate is None:
            raise InvalidInputError("--input - (raw PCM16 on stdin) needs --rate HZ (e.g. --rate 48000)")
        check_sample_rate(rate, "--rate")
        if channels <= 0:
            raise InvalidInputError(f"--channels must be positive; got {channels}")
        self.rate, self.channels = int(rate), int(channels)
        self.block_samples = max(1, int(self.rate * block_ms / 1000))
        self.description = f"stdin PCM16 ({self.rate} Hz, {self.channels} ch)"
        self._stream = stream
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # a writer started with us has been writing since (while the voice loads)
        self._stamps = StreamStamps(self.rate, created=time.time())

    def start(self, out: BlockQueue) -> None:
        self._thread = threading.Thread(target=self._run, args=(out,), name="uniflg-capture-stdin", daemon=True)
        self._thread.start()

    def _run(self, out: BlockQueue) -> None:
        frame_bytes = 2 * self.channels
        pending, n, warned = b"", 0, False
        try:
            while not self._stop.is_set():
                data = _read_some(self._stream, self.block_samples * frame_bytes, self._stop)
                if not data:
                    break
                now = time.time()
                pending += data
                usable = len(pending) // frame_bytes * frame_bytes
                if usable == 0:
                    continue
                raw, pending = pending[:usable], pending[usable:]
                samples = np.frombuffer(raw, "<i2").astype(np.float32).reshape(-1, self.channels) / PCM16_SCALE
                stamp = self._stamps.stamp(now, len(samples), _buffered_bytes(self._stream) // frame_bytes)
                out.underruns += stamp.gap
                if self._stamps.faster_than_real_time and not warned:
                    warned = True
                    log.warning("stdin delivers audio faster than real time (a file piped with cat?): frames go "
                                "out as fast as they are computed, stamped when their audio arrived; to play a "
                                "recording in real time give it as --input FILE, or pace it (ffmpeg -re)")
                if not out.put(AudioBlock(samples, n, stamp.captured_at, stamp.span), self._stop):
                    break
                n += len(samples)
            if pending:
                log.warning("stdin ended inside a sample frame: %d trailing bytes ignored", len(pending))
            out.end(SourceEnded(), self._stop)
        except Exception as exc:  # noqa: BLE001 - reported to the consumer, which ends cleanly
            out.end(SourceEnded(f"reading stdin failed: {exc}"), self._stop)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:  # a file descriptor is polled: the reader sees the flag within 0.1 s
            self._thread.join(timeout=1.0)


class StreamStamps:
    """Capture times for a stream's blocks, from when they arrive (``now``) and what still waits in the pipe.

    Every sample known to be there at a read (read, in this block, or waiting behind it) was captured by then: with
    a real-time writer, sample ``i`` no later than ``read time - (samples there - i) / rate``. A block's capture
    cannot have begun later than the least of these bounds over the reads that saw its first sample (one write of
    85-100 ms is read as several blocks; a reader held back by its consumer, or a pipe filled while the voice loaded,
    finds samples that came long before). The first block is stamped so; then the sample clock goes on from it, so
    a real-time writer's blocks are exactly their duration apart and frames leave evenly. A stream that falls more
    than :data:`UNDERRUN_S` behind that clock has a gap: the clock jumps on to the block (``Stamp.gap``). One that
    runs ahead of it by more than :data:`AHEAD_ALLOWANCE_S` (ffmpeg's catch-up burst after the voice loaded, a
    file piped with ``cat``) cannot be stamped back without time going backwards: the clock slows down instead
    (each block spans less, at least :data:`MIN_SPAN_SHARE` of its duration) until it is back within the allowance.

    Guarantees, for any arrival pattern: stamps strictly increase (each block starts where the previous one's span
    ended, or later), and a block is stamped no later than its arrival plus :data:`AHEAD_ALLOWANCE_S` while the
    stream comes at most 1 / :data:`MIN_SPAN_SHARE` times faster than real time.
    """

    def __init__(self, rate: int, created: float) -> None:
        self.rate = rate
        self.created = created  # when the source was made: a paced writer started with it may be blocked since
        self.received = 0  # samples stamped so far
        self.early_blocks = 0  # blocks that came faster than real time, beyond the catch-up allowance
        self._next: float | None = None  # the stamp of the next sample on the sample clock
        self._first_seen = self._catch_up = 0.0
        # (samples there by a read, read time - that count / rate) of the reads that may still bound a later block:
        # ends and keys both increase (an entry with a key no lower than a later one's bounds nothing)
        self._known: collections.deque[tuple[int, float]] = collections.deque()

    @property
    def faster_than_real_time(self) -> bool:
        return self.early_blocks >= EARLY_BLOCKS_WARNED

    def stamp(self, now: float, samples: int, waiting: int) -> Stamp:
        """The stamp of the next ``samples`` samples, read at ``now`` (epoch seconds) with ``waiting`` more samples
        still in the pipe behind them."""
        duration = samples / self.rate
        there = self.received + samples + waiting
        key = now - there / self.rate
        while self._known and self._known[-1][1] >= key:
            self._known.pop()
        self._known.append((there, key))
        while self._known[0][0] <= self.received:  # reads that ended before this block: they bound nothing now
            self._known.popleft()
        latest = self._known[0][1] + self.received / self.rate  # the latest its capture can have begun
        gap = False
        if self._next is None:
            start = latest
            # a paced writer (ffmpeg -re) blocked while the voice loaded catches up in a burst: it may run ahead by
            # as long as this source waited for its reader, plus the pipe it filled, and a margin
            self._first_seen = now
            self._catch_up = now - self.created + (samples + waiting) / self.rate + CATCH_UP_MARGIN_S
        elif latest - self._next > UNDERRUN_S:
            start, gap = latest, True  # the gap is not audio
        else:
            start = self._next
        excess = start - latest - AHEAD_ALLOWANCE_S  # there before its clock says it began, beyond the jitter
        # below a microsecond is the epoch clock's float rounding (its step is 0.24 us), not a stream ahead
        span = duration if excess <= 1e-6 else max(MIN_SPAN_SHARE * duration, duration - excess)
        self.early_blocks += self.received / self.rate > REAL_TIME_TOLERANCE * (now - self._first_seen) + self._catch_up
        self._next = start + span
        self.received += samples
        return Stamp(start, span, gap)


def _buffered_bytes(stream: BinaryIO) -> int:
    """Bytes waiting unread in ``stream``'s pipe (FIONREAD); 0 where that cannot be asked (not a pipe, Windows)."""
    try:
        import fcntl
        import termios

        buffer = bytearray(4)
        fcntl.ioctl(stream.fileno(), termios.FIONREAD, buffer)
        return int.from_bytes(buffer, "little")
    except (ImportError, AttributeError, OSError, ValueError):
        return 0


def _read_some(stream: BinaryIO, n: int, stop: threading.Event) -> bytes:
    """Up to ``n`` bytes, returning what one read gives (no waiting for a full block); b'' at the end or once
    ``stop`` is set. A stream with a file descriptor (stdin, a pipe) is polled and read with os.read: a thread
    blocked inside the BufferedReader would hold its lock, and interpreter shutdown aborts ("could not acquire
    lock ... at interpreter shutdown") when it cannot take it back. Other streams (or Windows, where select
    takes sockets only) read as they are."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        fd = -1
    if fd < 0 or os.name != "posix":
        read1 = getattr(stream, "read1", None)
        return read1(n) if read1 is not None else stream.read(n)
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            return os.read(fd, n)
    return b""


# ---------------------------------------------------------------- microphone (PortAudio)

def portaudio() -> Any:
    """The ``sounddevice`` module, or a CaptureError naming what to install."""
    try:
        import sounddevice
    except ImportError as exc:
        raise CaptureError("--input mic needs the 'audio' extra: pip install 'uniflg[audio]' "
                           "(or use --input FILE / --input -)") from exc
    except OSError as exc:  # the package is there but the PortAudio library is not
        raise CaptureError(f"--input mic needs the PortAudio library ({exc}): on Debian/Ubuntu "
                           "apt install libportaudio2; or use --input FILE / --input -") from exc
    return sounddevice


def parse_device(text: str | None) -> int | str | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else text


class MicSource:
    """A PortAudio input stream. Its callback (PortAudio's thread) copies each buffer into the queue and never
    blocks; input overflows reported by the device are counted. If the device stops delivering (unplugged), the
    consumer notices the silence of the callback and calls :meth:`restart` or ends."""

    def __init__(self, device: int | str | None = None, rate: int | None = None, channels: int | None = None,
                 block_ms: float = 20.0) -> None:
        self.sd = portaudio()
        self.device = device
        try:
            info = self.sd.query_devices(device, "input")
        except (ValueError, self.sd.PortAudioError) as exc:
            devices = self.input_devices()
            if device is None:  # the user named none: the system has no default input
                raise CaptureError("no input device found (no microphone, or PortAudio sees none); "
                                   + (f"choose one with --device: {devices}" if devices else
                                      "give a sound file or - (PCM16 on stdin) with --input")) from exc
            raise CaptureError(f"--device {device!r}: {exc}; input devices: {devices or 'none'}") from exc
        self.rate = int(rate or info["default_samplerate"])
        self.channels = int(channels or min(2, max(1, int(info["max_input_channels"]))))
        try:
            self.sd.check_input_settings(device=device, samplerate=self.rate, channels=self.channels,
                                         dtype="float32")
        except (ValueError, self.sd.PortAudioError) as exc:
            raise CaptureError(f"input device {info['name']!r} does not accept {self.rate} Hz x {self.channels} "
                               f"channels ({exc}); its default rate is {int(info['default_samplerate'])} Hz "
                               f"and it has {info['max_input_channels']} input channels") from exc
        self.block_samples = max(1, int(self.rate * block_ms / 1000))
        self.description = f"mic {info['name']!r} ({self.rate} Hz, {self.channels} ch)"
        self._stream: Any = None
        self._n = 0
        self.last_callback = time.monotonic()

    def input_devices(self) -> list[str]:
        try:
            return [f"{i}: {d['name']}" for i, d in enumerate(self.sd.query_devices())
                    if d["max_input_channels"] > 0]
        except Exception:  # noqa: BLE001 - only used in an error message
            return []

    def start(self, out: BlockQueue) -> None:
        def callback(indata: np.ndarray, frames: int, t: Any, status: Any) -> None:
            now = time.time()
            self.last_callback = time.monotonic()
            if status.input_overflow:
                out.overflows += 1
            if status.input_underflow:
                out.underruns += 1
            adc_age = t.currentTime - t.inputBufferAdcTime if t.inputBufferAdcTime else frames / self.rate
            out.put_nowait(AudioBlock(indata.copy(), self._n, now - adc_age, frames / self.rate))
            self._n += frames

        def finished() -> None:
            if self._stream is not None and not getattr(self, "_stopping", False):
                out.put_nowait(SourceEnded("the input device stopped (unplugged or taken by another program)"))

        self._stopping = False
        try:
            self._stream = self.sd.InputStream(device=self.device, samplerate=self.rate, channels=self.channels,
                                               blocksize=self.block_samples, dtype="float32", callback=callback,
                                               finished_callback=finished)
            self._stream.start()
        except self.sd.PortAudioError as exc:
            raise CaptureError(f"cannot open {self.description}: {exc}") from exc
        self.last_callback = time.monotonic()

    def stop(self) -> None:
        self._stopping = True
        if self._stream is not None:
            try:
                self._stream.abort()
                self._stream.close()
            except self.sd.PortAudioError as exc:
                log.debug("closing the input stream: %s", exc)
            self._stream = None
