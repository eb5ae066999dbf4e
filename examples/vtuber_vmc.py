"""Make a VTuber avatar speak: text -> UniFLG speech + face -> VMC blendshapes to VSeeFace, VNyan, Warudo
or VMagicMirror, paced in real time (and the speech played locally with --play).

    # In the VTuber app: enable the VMC protocol receiver on port 39539 (see docs/engines.md), then
    python examples/vtuber_vmc.py "こんにちは、今日はいい天気ですね。" --play
    python examples/vtuber_vmc.py "Hello there." --vmc 192.168.1.20:39539 --perfect-sync
    python examples/vtuber_vmc.py "こんにちは" --dry-run          # print what would be sent, send nothing

Synthesis runs on a worker thread while the bridge's fan-out (the same code `uniflg serve --vmc` uses)
sends frame i at start + i / 30 s: frames stream out while later chunks are still being synthesized.

Bad input (a --vmc address that does not parse or resolve, an unknown speaker or emotion, a speed out of range,
bad arguments) ends with one line on stderr and exit status 2, checked before the voice loads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Iterator

import numpy as np
from uniflg.avatar import AvatarStream
from uniflg.blinks import BlinkTrack
from uniflg.cli import (  # one-line usage errors, as the uniflg command
    Parser,
    description,
    end_quietly_when_reader_goes,
    exit_for_missing_module,
)
from uniflg.errors import UniFLGError
from uniflg.retarget import VRM0, Retargeter
from uniflg.text import split_text
from uniflg.types import SynthesisChunk, SynthesisOptions
from uniflg.voice import Voice, check_request, load_voice, read_voice_spec

try:
    from uniflg_bridge import vmc
    from uniflg_bridge.fanout import AudioOut, Blendshapes, FrameEvent, StreamFanOut, StreamMeta
    from uniflg_bridge.udp import Target
except ModuleNotFoundError as exc:  # the slim install `make demo` makes has no OSC: one line, not a traceback
    exit_for_missing_module(exc, "examples/vtuber_vmc.py")

log = logging.getLogger("vtuber_vmc")
SHOWN = ("A", "I", "U", "E", "O", "Blink", "Joy", "Sorrow")


def calibrate(voice: Voice, first_face: np.ndarray, emotion: str | None = None) -> AvatarStream:
    """The voice's face calibration (silence face, neutral band, vowels; read for the ``emotion`` the text is
    spoken in) with run-time blinks; the utterance's first frame when the voice's faces cannot calibrate."""
    try:
        return AvatarStream.for_voice(voice, blinks=True, seed=0, style=emotion)
    except UniFLGError as exc:
        log.warning("the voice cannot calibrate the retargeter (%s): using the first frame", exc)
        return AvatarStream(Retargeter.from_neutral(first_face), BlinkTrack(0))


class DryRunSink:
    """Prints, per frame, the VMC bundle a VmcSink would send (size and the main VRM presets)."""

    name = "dry-run"

    def __init__(self, perfect_sync: bool) -> None:
        self.names = VRM0 + vmc.PERFECT_SYNC_NAMES if perfect_sync else VRM0

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None:
        weights = np.concatenate([event.vrm, event.arkit]) if len(self.names) > len(VRM0) else event.vrm
        self._print(event.index, weights, meta.info.fps)

    def end(self, meta: StreamMeta, frame_count: int) -> None:
        self._print(frame_count, np.zeros(len(self.names), np.float32), meta.info.fps, "(back to neutral)")

    def _print(self, index: int, weights: np.ndarray, fps: int, note: str = "") -> None:
        size = len(vmc.encode_frame(self.names, weights, index / fps))
        shown = " ".join(f"{n}={weights[VRM0.index(n)] + 0.0:.2f}" for n in SHOWN)  # + 0.0: no "-0.00"
        print(f"frame {index:4d} t={index / fps:6.3f}s  {len(self.names)} Val + Apply, {size} bytes  {shown} {note}")


def chunks_in_thread(voice: Voice, text: str, options: SynthesisOptions) -> asyncio.Queue:
    """Runs the synthesis generator on a worker thread, feeding an asyncio queue (None ends it)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    iterator: Iterator[SynthesisChunk] = voice.synthesize(text, options)   # validates now, in this thread

    def work() -> None:
        try:
            for chunk in iterator:
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except BaseException as exc:  # handed to the event loop, re-raised there
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, work)
    return queue


def options_of(args: argparse.Namespace) -> SynthesisOptions:
    return SynthesisOptions(speaker=args.speaker, emotion=args.emotion, seed=args.seed, speed=args.speed)


async def speak(voice: Voice, text: str, args: argparse.Namespace, target: Target | None) -> int:
    stop_on_signals(asyncio.current_task())
    options = options_of(args)
    info = voice.stream_info(options)
    queue = chunks_in_thread(voice, text, options)
    meta = StreamMeta(f"vtuber-{int(time.time())}", info, start_epoch=time.time())
    player: AudioOut | None = None
    if args.play and not args.dry_run:
        from uniflg_bridge.player import Player

        player = Player(info.sample_rate)
    fan: StreamFanOut | None = None
    avatar: AvatarStream | None = None
    dry = DryRunSink(args.perfect_sync) if args.dry_run else None
    sink = None if target is None else vmc.VmcSink(target, args.perfect_sync)
    frames = 0
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            if len(item.landmarks) == 0:
                continue
            avatar = avatar or calibrate(voice, item.landmarks[0], args.emotion)
            shapes = Blendshapes(*avatar.weights(item.first_frame, item.landmarks))
            if dry is not None:  # no sockets, no pacing: print each frame as it is synthesized
                for k in range(len(item.landmarks)):
                    dry.frame(meta, FrameEvent(item.first_frame + k, item.landmarks[k], shapes.arkit[k],
                                               shapes.vrm[k]))
            else:
                if fan is None:
                    assert sink is not None
                    fan = StreamFanOut(meta, [sink], player)
                fan.audio(item.audio)
                fan.frames(item.first_frame, item.landmarks, shapes)
            frames += len(item.landmarks)
        if dry is not None:
            dry.end(meta, frames)
        elif fan is not None:
            fan.finish()
            await fan.wait()
    finally:
        if fan is not None:  # stopped early (Ctrl-C, SIGTERM): the fan-out sends the neutral frame before the socket
            fan.cancel()     # closes, or the avatar freezes on its last mouth
            with contextlib.suppress(asyncio.CancelledError):
                await fan.wait()
        if sink is not None:
            sink.close()
    where = "printed (dry run)" if dry else f"sent to {args.vmc}"
    print(f"{frames} frames ({frames / info.fps:.2f} s) {where}")
    return 0


STOPPED_BY: list[int] = []  # SIGTERM or SIGHUP that ended the run


def stop_on_signals(task: asyncio.Task | None) -> None:
    """SIGTERM and SIGHUP (`timeout`, `kill`, a closed terminal) cancel the run as Ctrl-C does, so the avatar gets
    its neutral frame instead of freezing on the last mouth; a signal the caller ignores (`nohup`) stays ignored."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):  # no SIGHUP on Windows
        if task is None or signum is None or signal.getsignal(signum) is not signal.SIG_DFL:
            continue
        try:
            loop.add_signal_handler(signum, _cancel, task, signum)
        except NotImplementedError:  # Windows event loops take no signal handlers
            return


def _cancel(task: asyncio.Task, signum: int) -> None:
    STOPPED_BY.append(signum)
    task.cancel()


def seed(text: str) -> int:
    """argparse type: a noise seed, an integer in [0, 2**64) (as the SDK and gRPC take)."""
    if not text.isdigit() or int(text) >= 2**64:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**64-1; got {text!r}")
    return int(text)


def main() -> int:
    parser = Parser(description=description(__doc__))
    parser.add_argument("text", help="what the avatar says")
    parser.add_argument("--vmc", default=f"127.0.0.1:{vmc.DEFAULT_PORT}", metavar="HOST:PORT",
                        help=f"the VTuber app's VMC receiver (default 127.0.0.1:{vmc.DEFAULT_PORT})")
    parser.add_argument("--perfect-sync", action="store_true",
                        help="also send the 52 ARKit names (JawOpen, EyeBlinkLeft, ...) for perfect-sync avatars")
    parser.add_argument("--play", action="store_true", help="play the speech here; frames follow the playback")
    parser.add_argument("--dry-run", action="store_true", help="print the frames that would be sent; send nothing")
    parser.add_argument("--voice", default=None, help="voice folder (default: the embedded voice)")
    parser.add_argument("--backend", default="auto", choices=("auto", "torch", "onnxruntime", "tensorrt"))
    parser.add_argument("--speaker")
    parser.add_argument("--emotion")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--seed", type=seed, default=0, help="noise seed, 0 to 2**64-1")
    args = parser.parse_args()
    if args.dry_run:  # the printed frames are the result
        end_quietly_when_reader_goes()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    target = None
    if not args.dry_run:
        try:
            target = Target.parse(args.vmc, vmc.DEFAULT_PORT)
            target.check_sendable()
        except ValueError as exc:  # does not parse or resolve, or cannot be sent to (a broadcast address)
            print(f"error: --vmc {args.vmc}: {exc}", file=sys.stderr)
            return 2
    if args.play and not args.dry_run:  # before the model loads: a missing sound library is found in a moment
        from uniflg_bridge.player import portaudio_available

        ok, reason = portaudio_available()
        if not ok:
            print(f"error: --play: {reason}", file=sys.stderr)
            return 2
    try:
        check_request(read_voice_spec(args.voice), options_of(args))  # names and limits, before the model loads
        split_text(args.text)  # empty, unreadable or too long text, also before the model loads
        voice = load_voice(args.voice, backend=args.backend)
        return asyncio.run(speak(voice, args.text, args, target))
    except asyncio.CancelledError:
        if not STOPPED_BY:
            raise
        print(f"stopped by {signal.Signals(STOPPED_BY[-1]).name}", file=sys.stderr)
        return 128 + STOPPED_BY[-1]
    except UniFLGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
