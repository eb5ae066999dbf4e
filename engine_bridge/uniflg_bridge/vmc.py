"""VMC protocol (performer -> marionette) blendshapes: per frame, one bundle of ``/VMC/Ext/Blend/Val``
(name, value) messages then ``/VMC/Ext/Blend/Apply``. Marionettes (VSeeFace, VNyan, Warudo,
VMagicMirror) listen on UDP 39539 by default.

Names: VRM 0.x presets (A, I, U, E, O, Blink, Blink_L, Blink_R, Joy, Angry, Sorrow, Fun, ...), and with
``perfect_sync`` the 52 ARKit names in the PascalCase spelling perfect-sync avatars use (``JawOpen``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from uniflg.retarget import ARKIT_52, VRM0

from uniflg_bridge import wire
from uniflg_bridge.fanout import FrameEvent, StreamMeta
from uniflg_bridge.osc import encode_bundle, encode_bundles
from uniflg_bridge.udp import MAX_DATAGRAM, VMC_PORT, DatagramSender, Target

DEFAULT_PORT = VMC_PORT
PERFECT_SYNC_NAMES: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in ARKIT_52)


def encode_frame(names: Sequence[str], weights: np.ndarray, time_code: float) -> bytes:
    """One frame as an immediate bundle: OK, T, Val per name, Apply."""
    return encode_bundle(wire.vmc_frame(names, weights, time_code), None)


def encode_frame_datagrams(names: Sequence[str], weights: np.ndarray, time_code: float,
                           max_bytes: int = MAX_DATAGRAM) -> list[bytes]:
    """One frame as immediate bundles of at most ``max_bytes``: the same messages in the same order, split
    where needed (marionettes apply the pending values at ``/VMC/Ext/Blend/Apply``, which comes last)."""
    return encode_bundles(wire.vmc_frame(names, weights, time_code), None, max_bytes)


def _min_datagram() -> int:
    """The smallest datagram that carries any frame: a bundle of its largest message (a perfect-sync name's Val)."""
    names = VRM0 + PERFECT_SYNC_NAMES
    contents = wire.vmc_frame(names, np.zeros(len(names), np.float32), 0.0)
    return max(len(encode_bundle([c], None)) for c in contents)


MIN_DATAGRAM = _min_datagram()


class VmcSink:
    name = "vmc"
    exclusive = True  # no stream identity in the packets: one stream at a time drives the avatar

    def __init__(self, target: Target, perfect_sync: bool = False, max_datagram: int = MAX_DATAGRAM) -> None:
        """ValueError for a ``max_datagram`` below :data:`MIN_DATAGRAM` (it could not carry a frame)."""
        if max_datagram < MIN_DATAGRAM:
            raise ValueError(f"a {max_datagram}-byte datagram cannot carry a VMC frame; give at least {MIN_DATAGRAM} "
                             "bytes")
        self.sender = DatagramSender(target, max_datagram)
        self.perfect_sync = perfect_sync

    def _send(self, weights: np.ndarray, time_code: float) -> None:
        for datagram in encode_frame_datagrams(self.names, weights, time_code, self.sender.max_datagram):
            self.sender.send(datagram)

    def start(self, meta: StreamMeta) -> None:
        pass

    @property
    def names(self) -> tuple[str, ...]:
        return VRM0 + PERFECT_SYNC_NAMES if self.perfect_sync else VRM0

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None:
        weights = np.concatenate([event.vrm, event.arkit]) if self.perfect_sync else event.vrm
        self._send(weights, event.index / meta.info.fps)

    def end(self, meta: StreamMeta, frame_count: int) -> None:
        # Leave the avatar neutral when the stream stops.
        zeros = np.zeros(len(self.names), np.float32)
        self._send(zeros, frame_count / meta.info.fps)

    def close(self) -> None:
        self.sender.close()
