"""``uniflg live``: speech from an input (microphone, file paced in real time, PCM16 on stdin) drives the face, sent
to OSC / VMC / Live Link targets as it is computed.

Three threads: the input's capture thread (:mod:`uniflg_bridge.capture`, never blocked), the inference loop
(this module's :class:`LiveSession.run`, on the caller's thread), and a sender that paces frames to the sinks.
Frame *i* covers the input's audio from ``i / fps``; :class:`CaptureClock` maps that sample to the wall-clock time
at which it was captured, which is the frame's OSC time tag, so a receiver measures the latency as
``arrival - (tag + 1 / fps)``. The sender sends frame *i* at ``tag + delay`` (a jitter buffer: frames come out of
the model in blocks, and avatars look best at an even 30 fps); a frame ready later than that goes at once. By default
the delay adapts (:class:`PlayoutDelay`): it starts at the worst case the graphs allow and settles just above the
lags actually observed over the last few seconds.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import logging
import math
import queue
import resource
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
from uniflg.audio import to_mono_float
from uniflg.avatar import AvatarStream, face_calibration
from uniflg.blinks import BlinkTrack
from uniflg.conditioning import InputConditioner
from uniflg.errors import InvalidInputError
from uniflg.inference import SpeechAnimator
from uniflg.procinfo import peak_rss_mb
from uniflg.retarget import ARKIT_52, VRM0, Retargeter
from uniflg.streaming import StreamResampler
from uniflg.types import StreamInfo, SynthesisOptions

from uniflg_bridge.capture import AudioBlock, BlockQueue, MicSource, Source, SourceEnded
from uniflg_bridge.fanout import FrameEvent, FrameSink, StreamMeta
from uniflg_bridge.osc import OscLandmarkSink

log = logging.getLogger(__name__)

QUEUE_SECONDS = 30.0  # audio the capture queue holds while inference catches up
STALL_SECONDS = 1.0  # a microphone silent this long (no callbacks) has stopped
MIN_BLOCK_FRAMES = 1  # frames per inference block: 1 = no frame waits for a later one (CPU 21 % vs 14 % at 2)


@dataclass(frozen=True)
class LiveOptions:
    delay_ms: float | None = None  # jitter buffer: frame i is sent at tag + delay (None: auto)
    reconnect_seconds: float = 0.0  # a microphone that stops: retry for this long, then end (0: end at once)
    status_seconds: float = 0.5  # status line period (a tty: redrawn in place; else a log line every 20x this)
    min_block_frames: int = MIN_BLOCK_FRAMES
    blinks: bool = True  # run-time blinks in the blendshapes (uniflg.blinks), as the server adds them
    blink_seed: int = 0


class CaptureClock:
    """Source sample index -> wall-clock capture time, from the blocks' time stamps (bounded history)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._starts: collections.deque[int] = collections.deque()
        self._times: collections.deque[float] = collections.deque()
        self._seconds_per_sample: collections.deque[float] = collections.deque()
        self._lengths: collections.deque[int] = collections.deque()

    def add(self, block: AudioBlock) -> None:
        self._starts.append(block.first_sample)
        self._times.append(block.captured_at)
        self._seconds_per_sample.append(block.span / max(1, len(block.samples)))
        self._lengths.append(len(block.samples))

    def at(self, sample: float) -> float:
        """Capture time of ``sample``: its block's time stamp plus its offset in the block at the block's own
        spacing (``span / samples``: a stream that came faster than real time is compressed, see
        ``capture.StreamStamps``); outside the kept blocks, extrapolated from the nearest at the sample rate."""
        if not self._starts:
            raise LookupError("no audio captured yet")
        # block starts are integers: "starts <= sample" is "starts <= floor(sample)"
        k = max(0, bisect.bisect_right(self._starts, math.floor(sample)) - 1)
        offset = sample - self._starts[k]
        inside = min(max(offset, 0), self._lengths[k])
        return self._times[k] + inside * self._seconds_per_sample[k] + (offset - inside) / self.rate

    def forget_before(self, sample: float) -> None:
        while len(self._starts) > 1 and self._starts[1] <= sample:
            for kept in (self._starts, self._times, self._seconds_per_sample, self._lengths):
                kept.popleft()


class PlayoutDelay:
    """The jitter buffer's delay: fixed, or adaptive = the ``quantile`` of the lags (frame ready - its capture time)
    seen over the last ``window`` frames plus ``margin``, never above ``ceiling`` (the worst case the graphs allow); a
    frame that is later than that goes out when ready. Due times never go backwards, so frames stay in order."""

    def __init__(self, ceiling: float, fixed: float | None = None, window: int = 150, margin: float = 0.01,
                 warmup: int = 10, quantile: float = 0.9) -> None:
        self.ceiling, self.fixed, self.margin, self.warmup, self.quantile = ceiling, fixed, margin, warmup, quantile
        self._lags: collections.deque[float] = collections.deque(maxlen=window)
        self._last_due = -math.inf

    @property
    def seconds(self) -> float:
        if self.fixed is not None:
            return self.fixed
        if len(self._lags) < self.warmup:
            return self.ceiling
        return min(self.ceiling, float(np.quantile(self._lags, self.quantile)) + self.margin)

    def due(self, tag: float, ready_at: float) -> float:
        """Send time of a frame captured at ``tag`` and ready at ``ready_at`` (wall clock)."""
        self._lags.append(ready_at - tag)
        due = max(tag + self.seconds, self._last_due)
        self._last_due = due
        return due


class LatencyStats:
    """Latency histogram in 1 ms bins (constant memory however long the run)."""

    def __init__(self, max_ms: int = 20000) -> None:
        self._bins = np.zeros(max_ms + 1, np.int64)
        self.count = 0

    def add(self, seconds: float) -> None:
        self._bins[min(len(self._bins) - 1, max(0, int(round(seconds * 1000))))] += 1
        self.count += 1

    def percentile(self, q: float) -> float | None:
        if self.count == 0:
            return None
        return float(np.searchsorted(np.cumsum(self._bins), math.ceil(q / 100 * self.count)))


@dataclass
class LiveReport:
    """What a run did, for the final summary line (JSON on stdout) and the benchmark."""

    frames_sent: int = 0
    audio_seconds: float = 0.0
    speech_path: str = "offline"
    lookahead_ms: float = 0.0
    delay_ms: float = 0.0  # the jitter buffer's delay at the end of the run (adaptive by default)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_max_ms: float | None = None
    late_frames: int = 0  # sent after their due time (the jitter buffer was too short for them)
    dropped_blocks: int = 0
    overflows: int = 0
    underruns: int = 0
    reconnects: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    max_rss_mb: float = 0.0
    ended_by: str = ""
    error: str | None = None


class FrameSender:
    """The sender thread: sends each frame to every sink at its due time, in order."""

    def __init__(self, sinks: Sequence[FrameSink], latency: LatencyStats, fps: int) -> None:
        self.sinks, self.latency, self.fps = list(sinks), latency, fps
        self.sent = 0
        self.late = 0
        self.last_tag: float | None = None  # the time tag of the last frame sent
        self._q: queue.Queue[tuple[FrameEvent, float, float] | None] = queue.Queue()
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uniflg-live-send", daemon=True)
        self.meta: StreamMeta | None = None

    def start(self, meta: StreamMeta) -> None:
        self.meta = meta
        for sink in self.sinks:
            sink.start(meta)
        self._thread.start()

    def put(self, event: FrameEvent, tag: float, due: float) -> None:
        self._q.put((event, tag, due))

    @property
    def pending(self) -> int:
        return self._q.qsize()

    def _run(self) -> None:
        assert self.meta is not None
        while (item := self._q.get()) is not None:
            event, tag, due = item
            delay = due - time.time()
            if delay > 0 and self._abort.wait(delay):
                break
            if self._abort.is_set():
                break
            for sink in self.sinks:
                sink.frame(self.meta, event)
            now = time.time()
            self.late += now > due + 0.005
            self.latency.add(now - (tag + 1 / self.fps))
            self.sent += 1
            self.last_tag = tag

    def close(self, neutral: FrameEvent | None, drain: bool, stop: threading.Event | None = None) -> None:
        """Stop (after sending what is queued when ``drain``, unless ``stop`` is set meanwhile: a signal during a
        long jitter-buffer drain), then leave every target neutral."""
        if not drain:
            self._abort.set()
        self._q.put(None)
        while self._thread.is_alive():
            self._thread.join(0.05)
            if stop is not None and stop.is_set():
                self._abort.set()
        if self.meta is None:
            return
        for sink in self.sinks:
            if neutral is not None and isinstance(sink, OscLandmarkSink):  # VMC / Live Link zero themselves
                # tagged one frame after the last sent: the sample clock can be seconds behind after a stall
                tag = self.last_tag + 1 / self.fps if self.last_tag is not None else None
                sink.frame(self.meta, FrameEvent(self.sent, neutral.points, neutral.arkit, neutral.vrm, tag))
            sink.end(self.meta, self.sent)


class StatusLine:
    """The live status: one line rewritten in place on a terminal (a log line every 20 periods elsewhere). While
    it is in place, :meth:`logging_kept_apart` starts each log record on a line of its own."""

    def __init__(self, out: TextIO | None, period: float) -> None:
        self.out, self.period = out, period
        self.tty = bool(out is not None and out.isatty())
        self._next = 0.0
        self._count = 0
        self._shown = False  # a status line without its newline is on the terminal

    def maybe(self, text: Callable[[], str], force: bool = False) -> None:
        now = time.monotonic()
        if self.out is None or (now < self._next and not force):
            return
        self._next = now + self.period
        self._count += 1
        if self.tty:
            self.out.write("\r" + text().ljust(100)[:120])
            self.out.flush()
            self._shown = True
        elif force or self._count % 20 == 1:
            log.info("%s", text())

    def done(self) -> None:
        if self._shown and self.out is not None:
            self.out.write("\n")
            self.out.flush()
        self._shown = False

    def filter(self, record: logging.LogRecord) -> bool:
        """A logging filter that ends the status line before the record is written (else a warning would be
        glued to the status text); keeps every record."""
        self.done()
        return True

    @contextlib.contextmanager
    def logging_kept_apart(self) -> Iterator[None]:
        """While inside, every handler of the root logger ends the status line before it writes a record."""
        handlers = list(logging.getLogger().handlers) if self.tty else []
        for handler in handlers:
            handler.addFilter(self)
        try:
            yield
        finally:
            for handler in handlers:
                handler.removeFilter(self)


def _dbfs(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * math.log10(max(rms, 1e-6))


class LiveSession:
    """One live run: ``source`` -> speech-driven animator -> paced frames to ``sinks``."""

    def __init__(self, voice: Any, source: Source, sinks: Sequence[FrameSink], options: LiveOptions,
                 speech: SynthesisOptions | None = None, make_source: Callable[[], Source] | None = None,
                 status_out: TextIO | None = sys.stderr, path: str = "offline") -> None:
        self.voice, self.source, self.options, self.path = voice, source, options, path
        self.speech = speech or SynthesisOptions()  # speaker / emotion conditioning
        self.make_source = make_source  # reopens a microphone after it stops
        self.fps = voice.config.landmarks.fps
        self.sinks = list(sinks)
        self.stop = threading.Event()
        self.stopped_by = ""
        self.latency = LatencyStats()
        self.sender = FrameSender(self.sinks, self.latency, self.fps)
        self.report = LiveReport(speech_path=path)
        self.status = StatusLine(status_out, options.status_seconds)
        self._level = -120.0
        self.retargeter = _retargeter(voice)
        # One stream: VRM A..O carry their state from block to block (uniflg.avatar.AvatarStream).
        blinks = BlinkTrack(options.blink_seed, self.fps) if options.blinks else None
        self._avatar = (AvatarStream(Retargeter(
            self.retargeter.calibration.for_style(self.speech.emotion).for_path(self.path)), blinks)
            if self.retargeter is not None else None)
        self.neutral_face = _neutral_face(voice)

    # -- the parts a run is made of

    def _animator(self) -> SpeechAnimator:
        g, z_u = self.voice._condition(self.speech, speech_driven=True)
        return self.voice.speech_animator(g, z_u, self.path, self.options.min_block_frames)

    def lookahead_ms(self, animator: SpeechAnimator) -> float:
        """The graphs' look-ahead plus what the input conditioner holds back."""
        return animator.lookahead_seconds * 1000 + self._conditioner().latency_samples / self.voice.sample_rate * 1000

    def _conditioner(self) -> InputConditioner:
        """The voice's input conditioning for this run's speech path (DC and rumble removal, level; the noise floor
        on the offline path only, see :meth:`uniflg.voice.Voice.input_conditioner`)."""
        return self.voice.input_conditioner(self.path)

    def delay_seconds(self, animator: SpeechAnimator) -> float:
        """The worst case: the look-ahead, one inference block, one capture block and 30 ms for the computation."""
        block = self.source.block_samples / self.source.rate
        return animator.lookahead_seconds + self.options.min_block_frames / self.fps + block + 0.03

    def _events(self, first: int, landmarks: np.ndarray) -> list[FrameEvent]:
        if self._avatar is None:
            zeros_a, zeros_v = np.zeros((len(landmarks), 52), np.float32), np.zeros((len(landmarks), 17), np.float32)
            return [FrameEvent(first + k, landmarks[k], zeros_a[k], zeros_v[k]) for k in range(len(landmarks))]
        arkit, vrm = self._avatar.weights(first, landmarks)
        return [FrameEvent(first + k, landmarks[k], arkit[k], vrm[k]) for k in range(len(landmarks))]

    def _neutral_event(self) -> FrameEvent | None:
        """The voice's neutral face with every weight 0 (its mean face has parted lips, which a calibration
        on the closed-mouth rest face would read as an open jaw)."""
        if self.neutral_face is None:
            return None
        return FrameEvent(0, self.neutral_face, np.zeros(len(ARKIT_52), np.float32), np.zeros(len(VRM0), np.float32))

    # -- the run

    def run(self) -> LiveReport:
        """Capture, animate and send until the input ends, ``stop`` is set (Ctrl-C / SIGTERM) or the input fails
        (and cannot be reopened). Always ends with a neutral frame on every target."""
        with self.status.logging_kept_apart():
            return self._run()

    def _run(self) -> LiveReport:
        t_wall, r0 = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
        animator = self._animator()
        resampler = StreamResampler(self.source.rate, self.voice.sample_rate)
        conditioner = self._conditioner()
        clock = CaptureClock(self.source.rate)
        out = BlockQueue(QUEUE_SECONDS, self.source.rate, self.source.block_samples)
        self.report.lookahead_ms = round(self.lookahead_ms(animator), 1)
        ceiling = self.delay_seconds(animator)
        fixed = self.options.delay_ms / 1000 if self.options.delay_ms is not None else None
        delay = PlayoutDelay(ceiling, fixed)
        ratio = self.source.rate / self.fps  # source samples per frame
        emitted, received, drain = 0, 0, False
        log.info("live: %s; look-ahead %.0f ms, send delay %s", self.source.description,
                 self.report.lookahead_ms, f"{fixed * 1000:.0f} ms" if fixed is not None else
                 f"adaptive (at most {ceiling * 1000:.0f} ms)")
        self._warm_up()
        self.source.start(out)
        try:
            while not self.stop.is_set():
                item = out.get(timeout=0.1)
                if item is None:
                    if self._stalled() and not self._reopen(out):
                        break
                    self._show(out)
                    continue
                if isinstance(item, SourceEnded):
                    if item.error is None:
                        self.stopped_by, drain = "end of input", True
                        tail = conditioner.push(resampler.finish())
                        rest = np.concatenate([tail, conditioner.finish()])
                        blocks = animator.push(rest) if received else []
                        if animator.samples_received >= animator.min_samples:
                            blocks += animator.finish()
                        elif received:  # under one frame's worth: nothing to animate, like an empty input
                            log.info("input ended after %d samples, under one frame's worth", received)
                        emitted = self._send_blocks(blocks, emitted, clock, ratio, delay)
                        break
                    log.warning("input: %s", item.error)
                    if not self._reopen(out, item.error):
                        break
                    continue
                if self.sender.meta is None:
                    start = item.captured_at - item.first_sample / self.source.rate
                    info = StreamInfo(sample_rate=self.voice.sample_rate, fps=self.fps, n_points=70)
                    self.sender.start(StreamMeta(uuid.uuid4().hex, info, start))
                clock.add(item)
                try:
                    mono = to_mono_float(item.samples)
                except InvalidInputError as exc:  # NaN or an absurd peak mid-run: the input failed, not the options
                    self.stopped_by, self.report.error = "input failed", f"input: {exc}"
                    break
                received += len(mono)
                self._level = 0.8 * self._level + 0.2 * _dbfs(mono) if self._level > -120 else _dbfs(mono)
                speech = conditioner.push(resampler.push(mono))
                emitted = self._send_blocks(animator.push(speech), emitted, clock, ratio, delay)
                clock.forget_before(emitted * ratio)
                self._show(out)
        finally:
            self.source.stop()
            self.sender.close(self._neutral_event(), drain=drain, stop=self.stop)
            self.status.maybe(lambda: self._status_text(out), force=True)
            self.status.done()
            self._finish_report(out, received, t_wall, r0)
        return self.report

    def _warm_up(self) -> None:
        """Run the speech graphs once on silence before capture starts (see ``Voice.warm_up``); live never reads
        text, so the text front end stays unloaded."""
        warm = getattr(self.voice, "warm_up", None)
        if warm is not None:
            warm(text=False)

    def _send_blocks(self, blocks: list[np.ndarray], emitted: int, clock: CaptureClock, ratio: float,
                     delay: PlayoutDelay) -> int:
        for block in blocks:
            for event in self._events(emitted, block):
                tag = clock.at(event.index * ratio)
                self.sender.put(FrameEvent(event.index, event.points, event.arkit, event.vrm, tag), tag,
                                delay.due(tag, time.time()))
            self.report.delay_ms = round(delay.seconds * 1000, 1)
            emitted += len(block)
        return emitted

    def _stalled(self) -> bool:
        last = getattr(self.source, "last_callback", None)
        return last is not None and time.monotonic() - last > STALL_SECONDS

    def _reopen(self, out: BlockQueue, why: str = "no audio for over a second (device unplugged?)") -> bool:
        """A microphone that stopped: reopen it for up to ``reconnect_seconds`` (its clock goes on from where it
        was; the gap shows in the time tags), else end the run with the reason."""
        give_up = time.monotonic() + self.options.reconnect_seconds
        self.source.stop()
        while self.make_source is not None and time.monotonic() < give_up and not self.stop.is_set():
            try:
                _refresh_portaudio(self.source)
                source = self.make_source()
                if isinstance(source, MicSource) and isinstance(self.source, MicSource):
                    source._n = self.source._n  # keep one sample clock across the reconnect
                source.start(out)
                self.source = source
                self.report.reconnects += 1
                log.warning("input reconnected: %s", source.description)
                return True
            except Exception as exc:  # noqa: BLE001 - keep trying until the deadline
                log.debug("reconnect failed: %s", exc)
                self.stop.wait(0.5)
        self.stopped_by = "input failed"
        self.report.error = f"input stopped: {why}"
        return False

    def _status_text(self, out: BlockQueue) -> str:
        p50, p95 = self.latency.percentile(50), self.latency.percentile(95)
        lat = f"{p50:.0f}/{p95:.0f} ms" if p50 is not None and p95 is not None else "-"
        problems = out.overflows + out.underruns + out.dropped_blocks
        extra = (f" | overflow {out.overflows} underrun {out.underruns} dropped {out.dropped_blocks}"
                 if problems else "")
        return (f"in {self._level:6.1f} dBFS | look-ahead {self.report.lookahead_ms:.0f} ms | latency p50/p95 "
                f"{lat} | sent {self.sender.sent}{extra}")

    def _show(self, out: BlockQueue) -> None:
        self.status.maybe(lambda: self._status_text(out))

    def _finish_report(self, out: BlockQueue, received: int, t_wall: float, r0: Any) -> None:
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        rep = self.report
        rep.frames_sent, rep.late_frames = self.sender.sent, self.sender.late
        rep.audio_seconds = round(received / self.source.rate, 3)
        for name, q in (("latency_p50_ms", 50), ("latency_p95_ms", 95), ("latency_max_ms", 100)):
            setattr(rep, name, self.latency.percentile(q))
        rep.dropped_blocks, rep.overflows, rep.underruns = out.dropped_blocks, out.overflows, out.underruns
        rep.cpu_seconds = round((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 2)
        rep.wall_seconds = round(time.monotonic() - t_wall, 2)
        rep.max_rss_mb = peak_rss_mb()
        rep.ended_by = self.stopped_by or "stopped (signal)"


def _neutral_face(voice: Any) -> np.ndarray | None:
    face = getattr(getattr(voice, "spec", None), "neutral_face", None)
    return np.asarray(face, np.float32).reshape(70, 2) if face is not None else None


def _retargeter(voice: Any) -> Retargeter | None:
    """Calibrated like the server's streams: the voice's face calibration (uniflg.avatar) where it can have one,
    else its neutral face; None when neither calibrates."""
    if hasattr(voice, "phoneme_timing"):  # uniflg.voice.Voice
        try:
            return Retargeter(face_calibration(voice))
        except InvalidInputError as exc:
            log.warning("no face calibration for this voice (%s); using its neutral face", exc)
    face = _neutral_face(voice)
    if face is None:
        return None
    try:
        return Retargeter.from_neutral(face)
    except Exception as exc:  # noqa: BLE001 - a degenerate face: landmarks only
        log.warning("blendshapes unavailable: cannot calibrate the retargeter (%s)", exc)
        return None


def _refresh_portaudio(source: Source) -> None:
    """PortAudio lists devices once per initialization: re-initialize so a replugged device is found."""
    sd = getattr(source, "sd", None)
    if sd is not None:
        with contextlib.suppress(Exception):
            sd._terminate()
            sd._initialize()


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Any:
    """Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closed, an SSH session dropped) set ``stop`` instead of
    ending the process, so the run ends through its cleanup: neutral frames, the stream end, the summary. A signal
    the caller ignores is handled all the same, except SIGHUP (``nohup``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGINT", "SIGTERM", "SIGHUP")  # SIGHUP: not on Windows
    previous = {s: signal.getsignal(s) for s in (getattr(signal, n) for n in names if hasattr(signal, n))}
    # nohup ignores SIGHUP, and it stays ignored; a background job of a script inherits SIGINT ignored too, but
    # `kill -INT` is still meant to stop it (as `uniflg serve` does)
    previous = {s: h for s, h in previous.items() if not (h is signal.SIG_IGN and s == getattr(signal, "SIGHUP", -1))}

    def handler(signum: int, _frame: Any) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
