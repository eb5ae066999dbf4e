"""Raw landmarks over OSC: one time-tagged bundle per frame under ``/uniflg/...`` (docs/osc.md).

Layered like python-osc: :func:`encode_message` / :func:`encode_bundle` are pure codecs built on
python-osc's builders; :class:`OscLandmarkSink` adds a UDP socket.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from uniflg.landmarks import N_POINTS
from uniflg.retarget import ARKIT_52

from uniflg_bridge import wire
from uniflg_bridge.fanout import FrameEvent, StreamMeta
from uniflg_bridge.udp import MAX_DATAGRAM, OSC_PORT, DatagramSender, Target
from uniflg_bridge.wire import OscContent

DEFAULT_PORT = OSC_PORT


def _arg_type(value: object) -> str:
    if isinstance(value, bool):
        raise TypeError("OSC booleans are not used in this address space")
    if isinstance(value, int):
        return OscMessageBuilder.ARG_TYPE_INT
    if isinstance(value, float):
        return OscMessageBuilder.ARG_TYPE_FLOAT
    if isinstance(value, str):
        return OscMessageBuilder.ARG_TYPE_STRING
    raise TypeError(f"unsupported OSC argument {value!r}")


def _message(content: OscContent) -> OscMessageBuilder:
    builder = OscMessageBuilder(address=content.address)
    for arg in content.args:
        builder.add_arg(arg, _arg_type(arg))
    return builder


def encode_message(content: OscContent) -> bytes:
    """One OSC message; ints are ``i`` (int32), floats ``f`` (float32), strings ``s``."""
    return _message(content).build().dgram


def encode_bundle(contents: Sequence[OscContent], timetag: float | None = None) -> bytes:
    """An OSC bundle of ``contents``; ``timetag`` in seconds since the Unix epoch (None: immediately)."""
    return _bundle([_message(c).build() for c in contents], timetag)


def _bundle(messages: Sequence[OscMessage], timetag: float | None) -> bytes:
    builder = OscBundleBuilder(IMMEDIATELY if timetag is None else timetag)  # type: ignore[arg-type]
    for message in messages:
        builder.add_content(message)
    return builder.build().dgram


BUNDLE_OVERHEAD = 16  # "#bundle\0" and the 8-byte time tag
ELEMENT_OVERHEAD = 4  # each element's int32 size


def encode_bundles(contents: Sequence[OscContent], timetag: float | None = None,
                   max_bytes: int = MAX_DATAGRAM, lead: Sequence[OscContent] = ()) -> list[bytes]:
    """``contents`` as as few bundles of at most ``max_bytes`` each as their order allows, all with the same
    ``timetag``; every bundle starts with the ``lead`` messages (so each part names its frame). One bundle
    when everything fits. ValueError if a single message cannot fit."""
    head = [_message(c).build() for c in lead]
    base = BUNDLE_OVERHEAD + sum(ELEMENT_OVERHEAD + m.size for m in head)
    parts: list[list[OscMessage]] = [[]]
    size = base
    for content in contents:
        message = _message(content).build()
        need = ELEMENT_OVERHEAD + message.size
        if base + need > max_bytes:
            raise ValueError(f"OSC message {content.address} ({message.size} bytes) cannot fit a "
                             f"{max_bytes}-byte datagram")
        if parts[-1] and size + need > max_bytes:
            parts.append([])
            size = base
        parts[-1].append(message)
        size += need
    return [_bundle(head + part, timetag) for part in parts]


def _min_datagram() -> int:
    """The smallest datagram that carries any frame: its largest message (``/uniflg/landmarks``, 140 floats) after
    the ``/uniflg/frame`` lead with the longest stream id OSC packets carry (wire.OSC_STREAM_ID_BYTES)."""
    contents = wire.osc_frame("x" * wire.OSC_STREAM_ID_BYTES, 0, 30, np.zeros((N_POINTS, 2), np.float32), ARKIT_52,
                              np.zeros(len(ARKIT_52), np.float32))
    lead = _message(contents[0]).build().size
    return BUNDLE_OVERHEAD + 2 * ELEMENT_OVERHEAD + lead + max(_message(c).build().size for c in contents[1:])


MIN_DATAGRAM = _min_datagram()  # 912 bytes: a --udp-max-datagram below it cannot carry a frame


class OscLandmarkSink:
    """Sends ``/uniflg/...`` bundles to one UDP target, time-tagged with the frame's presentation time
    (stream start epoch + index / fps), or for live input the wall-clock time its audio began to be captured. A
    frame that does not fit one ``max_datagram``-byte datagram is split into bundles with the same time tag, each
    opening with its ``/uniflg/frame`` message (docs/osc.md)."""

    name = "osc"

    def __init__(self, target: Target, with_blendshapes: bool = True, max_datagram: int = MAX_DATAGRAM) -> None:
        """ValueError for a ``max_datagram`` below :data:`MIN_DATAGRAM` (it could not carry a frame)."""
        if max_datagram < MIN_DATAGRAM:
            raise ValueError(f"a {max_datagram}-byte datagram cannot carry an OSC frame (its 140-float landmarks "
                             f"message after the frame's stream id); give at least {MIN_DATAGRAM} bytes")
        self.sender = DatagramSender(target, max_datagram)
        self.with_blendshapes = with_blendshapes

    def start(self, meta: StreamMeta) -> None:
        self.sender.send(encode_message(wire.osc_stream_start(meta.stream_id, meta.info)))

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None:
        names = ARKIT_52 if self.with_blendshapes else ()
        weights = event.arkit if self.with_blendshapes else None
        contents = wire.osc_frame(meta.stream_id, event.index, meta.info.fps, event.points, names, weights)
        tag = event.time if event.time is not None else meta.start_epoch + event.index / meta.info.fps
        for datagram in encode_bundles(contents[1:], tag, self.sender.max_datagram, lead=contents[:1]):
            self.sender.send(datagram)

    def end(self, meta: StreamMeta, frame_count: int) -> None:
        self.sender.send(encode_message(wire.osc_stream_end(meta.stream_id, frame_count)))

    def close(self) -> None:
        self.sender.close()
