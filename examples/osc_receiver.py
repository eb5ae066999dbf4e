"""Receive UniFLG's OSC output (`uniflg serve --osc 127.0.0.1:9000`) and print what arrives.

    python examples/osc_receiver.py --port 9000
    python examples/osc_receiver.py --port 39539 --vmc     # act as a VMC marionette instead

With --count N it exits after N frames (handy in scripts). An address it cannot listen on (a host that does not
resolve or is not this machine's, a port in use or out of range) ends with one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from uniflg.cli import (  # one-line usage errors, as the uniflg command
    Parser,
    description,
    end_quietly_when_reader_goes,
    exit_for_missing_module,
)

try:
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer
except ModuleNotFoundError as exc:  # the slim install `make demo` makes has no OSC: one line, not a traceback
    exit_for_missing_module(exc, "examples/osc_receiver.py")


class Printer:
    def __init__(self, count: int | None) -> None:
        self.count = count
        self.frames = 0
        self.blend: dict[str, float] = {}
        self.current = ""  # the /uniflg/frame header of the frame being received
        self.server: BlockingOSCUDPServer | None = None

    def frame_done(self) -> None:
        self.frames += 1
        if self.count is not None and self.frames >= self.count and self.server is not None:
            self.server.uniflg_stop = True  # type: ignore[attr-defined]

    def on_start(self, _addr: str, *args: Any) -> None:
        print(f"stream {args[0]}: {args[1]} Hz, {args[2]} fps, layout {args[3]}, {args[4]} points")

    def on_frame(self, _addr: str, stream: str, index: int, time_code: float) -> None:
        # Every part of a split frame (datagrams <= 1,400 bytes, docs/osc.md) opens with /uniflg/frame: remember
        # it, and print once, with the part that carries the landmarks.
        self.current = f"{stream} frame {index:5d} t={time_code:7.3f}"

    def on_landmarks(self, _addr: str, *xy: float) -> None:
        mouth = abs(xy[2 * 66 + 1] - xy[2 * 62 + 1])  # inner-lip gap
        print(f"{self.current}  lip gap {mouth:.3f}")
        self.frame_done()

    def on_end(self, _addr: str, stream: str, frames: int) -> None:
        print(f"stream {stream} ended after {frames} frames")

    def on_vmc_val(self, _addr: str, name: str, value: float) -> None:
        self.blend[name] = value

    def on_vmc_apply(self, _addr: str) -> None:
        shown = {k: round(v, 2) for k, v in self.blend.items() if k in ("A", "I", "U", "E", "O", "Blink", "Joy")}
        print(f"apply {shown}")
        self.frame_done()


def tolerant(handler: Callable[..., None]) -> Callable[..., None]:
    """A handler that meets a message it cannot read (too few arguments, wrong types: another sender, a newer
    version) says so in one line instead of python-osc printing a traceback for each packet."""
    def handle(address: str, *args: Any) -> None:
        try:
            handler(address, *args)
        except (IndexError, TypeError, ValueError) as exc:
            print(f"ignored a malformed {address} message ({len(args)} arguments: {exc})", file=sys.stderr)

    return handle


def bounded_int(lo: int, hi: int) -> Any:
    """argparse type: an integer in [lo, hi]."""
    def parse(text: str) -> int:
        if not text.isdigit() or not lo <= int(text) <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer from {lo} to {hi}; got {text!r}")
        return int(text)

    return parse


def main() -> int:
    parser = Parser(description=description(__doc__))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=bounded_int(1, 65535), default=9000)
    parser.add_argument("--vmc", action="store_true", help="decode VMC blendshape bundles")
    parser.add_argument("--count", type=bounded_int(1, 10**9), default=None, help="exit after this many frames")
    args = parser.parse_args()
    end_quietly_when_reader_goes()  # the printout is the result (`| head`)
    printer = Printer(args.count)
    dispatcher = Dispatcher()
    if args.vmc:
        dispatcher.map("/VMC/Ext/Blend/Val", tolerant(printer.on_vmc_val))
        dispatcher.map("/VMC/Ext/Blend/Apply", tolerant(printer.on_vmc_apply))
    else:
        dispatcher.map("/uniflg/stream/start", tolerant(printer.on_start))
        dispatcher.map("/uniflg/frame", tolerant(printer.on_frame))
        dispatcher.map("/uniflg/landmarks", tolerant(printer.on_landmarks))
        dispatcher.map("/uniflg/stream/end", tolerant(printer.on_end))
    try:
        server = BlockingOSCUDPServer((args.host, args.port), dispatcher)
    except OSError as exc:  # unresolvable host, not this machine's address, port in use
        print(f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    printer.server = server
    print(f"listening on {args.host}:{args.port}", flush=True)
    try:
        while not getattr(server, "uniflg_stop", False):
            server.handle_request()
    except KeyboardInterrupt:
        return 130
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
