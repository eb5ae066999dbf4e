"""Audio inputs for ``uniflg live``: a microphone (PortAudio through ``sounddevice``), a file paced in real time,
or raw PCM16 on a stream (stdin). Each runs on its own thread and hands time-stamped blocks to a bounded
:class:`BlockQueue`, so whatever the consumer does (inference, slow sinks) never stalls the capture.

A block carries the wall-clock time (seconds since the Unix epoch) at which its first sample was captured:
for a microphone, PortAudio's ADC time of the buffer mapped onto the wall clock; for a file, the moment the
paced playback reached that sample; for a stream, its arrival time minus its duration.
"""

from __future__ import annotations

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
                if not out.put(AudioBlock(data, n, epoch0 + n / self.rate), self._stop):
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

# How far ahead of its arrival a block's sample-clock stamp may be before the clock is re-anchored: read-to-read jitter
# (a loaded machine, a writer that catches up on a late write) stays inside it, so the blocks of one write keep
# exactly a block apart instead of being re-stamped by microseconds.
AHEAD_ALLOWANCE_S = 0.03


class StreamSource:
    """Raw PCM16 little-endian, interleaved channels, at ``rate``, read from a binary stream (stdin) as it
    arrives. A writer that falls behind its own clock shows up as underruns; one that runs ahead of it (ffmpeg's
    first burst, a file piped with ``cat``) is stamped when it arrives, never more than :data:`AHEAD_ALLOWANCE_S` in
    the future (a warning when it keeps
    doing so); the end of the stream ends."""

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
        self._created = time.time()  # a writer started with us has been writing since (while the voice loads)

    def start(self, out: BlockQueue) -> None:
        self._thread = threading.Thread(target=self._run, args=(out,), name="uniflg-capture-stdin", daemon=True)
        self._thread.start()

    def _run(self, out: BlockQueue) -> None:
        frame_bytes = 2 * self.channels
        pending, n, ahead = b"", 0, 0
        first_at: float | None = None
        seen = backlog = 0.0  # when data first came; the seconds a paced writer may be ahead by (see below)
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
                # the latest its capture can have begun: this block and whatever still waits in the pipe behind it
                # (one write of 85-100 ms is read in several blocks) were all there by now
                waiting = _buffered_bytes(self._stream) // frame_bytes
                arrived = now - (len(samples) + waiting) / self.rate
                if first_at is None:
                    first_at = arrived
                    # a paced writer (ffmpeg -re) blocked while the voice loaded catches up in a burst: it may run
                    # ahead by as long as this source waited for its reader, plus the pipe it filled, and no more
                    seen, backlog = now, now - self._created + (len(samples) + waiting) / self.rate + 0.5
                elif arrived - (first_at + n / self.rate) > 0.1:  # arrived > 100 ms later than its clock
                    out.underruns += 1
                    first_at = arrived - n / self.rate  # re-anchor: the gap is not audio
                elif (first_at + n / self.rate) - arrived > AHEAD_ALLOWANCE_S:  # there before its clock says it began
                    first_at = arrived - n / self.rate  # re-anchor: audio is never captured in the future
                    ahead += n / self.rate > now - seen + backlog  # beyond the catch-up: faster than real time
                    if ahead == 5:
                        log.warning("stdin delivers audio faster than real time (a file piped with cat?): frames "
                                    "go out as fast as they are computed, stamped when their audio arrived; to "
                                    "play a recording in real time give it as --input FILE, or pace it (ffmpeg -re)")
                # the sample clock: the blocks of one write stay a block apart, so frames leave evenly
                captured = first_at + n / self.rate
                if not out.put(AudioBlock(samples, n, captured), self._stop):
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
            out.put_nowait(AudioBlock(indata.copy(), self._n, now - adc_age))
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
