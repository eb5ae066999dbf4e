"""Unreal Live Link Face (ARKit) UDP packets, as the Live Link Face iOS app sends them (default port 11111).

Packet layout, all integers and floats big-endian:

====================  ===========================================================================
uint8                 packet version (6)
int32 + UTF-8 bytes   device id (the app sends a UUID string); Unreal keys sources on it
int32 + UTF-8 bytes   subject name, shown in Unreal's Live Link window
int32                 frame number (frames since 00:00 UTC at the frame rate: a timecode)
float32               sub-frame in [0, 1)
int32, int32          frame rate numerator, denominator (30, 1)
uint8                 curve count (61)
61 x float32          52 ARKit blendshapes (Apple's order), head yaw, pitch, roll,
                      left eye yaw, pitch, roll, right eye yaw, pitch, roll
====================  ===========================================================================
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
from uniflg.errors import InvalidInputError
from uniflg.retarget import ARKIT_52

from uniflg_bridge import wire
from uniflg_bridge.fanout import FrameEvent, StreamMeta
from uniflg_bridge.udp import LIVELINK_PORT, LIVELINK_SUBJECT, DatagramSender, Target

DEFAULT_PORT = LIVELINK_PORT
VERSION = 6
N_CURVES = 61
DEFAULT_DEVICE_ID = "00000000-0000-4000-8000-00000000F16A"  # a fixed UUID string for the UniFLG source
DEFAULT_SUBJECT = LIVELINK_SUBJECT


@dataclass(frozen=True)
class LiveLinkFrame:
    device_id: str
    subject: str
    frame_number: int
    sub_frame: float
    rate_numerator: int
    rate_denominator: int
    curves: np.ndarray  # (61,) float32


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def encode_packet(frame: LiveLinkFrame) -> bytes:
    curves = np.asarray(frame.curves, np.float32).reshape(-1)
    if curves.shape != (N_CURVES,):
        raise InvalidInputError(f"a Live Link Face packet carries {N_CURVES} curves, got {curves.shape[0]}")
    return b"".join((
        struct.pack(">B", VERSION),
        _string(frame.device_id),
        _string(frame.subject),
        struct.pack(">ifii", frame.frame_number, frame.sub_frame, frame.rate_numerator,
                    frame.rate_denominator),
        struct.pack(">B", N_CURVES),
        curves.astype(">f4").tobytes(),
    ))


def decode_packet(data: bytes) -> LiveLinkFrame:
    """The inverse of :func:`encode_packet`; raises InvalidInputError on a malformed packet."""
    try:
        (version,) = struct.unpack_from(">B", data, 0)
        if version != VERSION:
            raise InvalidInputError(f"unsupported Live Link Face packet version {version}")
        pos = 1
        texts = []
        for _ in range(2):
            (length,) = struct.unpack_from(">i", data, pos)
            if not 0 <= length <= len(data) - pos - 4:
                raise InvalidInputError(f"bad string length {length}")
            texts.append(data[pos + 4:pos + 4 + length].decode("utf-8"))
            pos += 4 + length
        number, sub, num, den = struct.unpack_from(">ifii", data, pos)
        (count,) = struct.unpack_from(">B", data, pos + 16)
        pos += 17
        if len(data) != pos + 4 * count:
            raise InvalidInputError(f"packet of {len(data)} bytes does not hold {count} curves")
        curves = np.frombuffer(data, ">f4", count, pos).astype(np.float32)
    except struct.error as exc:
        raise InvalidInputError(f"truncated Live Link Face packet: {exc}") from exc
    return LiveLinkFrame(texts[0], texts[1], number, sub, num, den, curves)


def frame_time(start_epoch: float, index: int, fps: int) -> tuple[int, float]:
    """(frame number since 00:00 UTC, sub-frame) of frame ``index`` of a stream that starts at
    ``start_epoch``."""
    frames = (start_epoch % 86400.0) * fps + index
    whole = math.floor(frames)
    return int(whole), float(frames - whole)


class LiveLinkSink:
    name = "livelink"
    exclusive = True  # no stream identity in the packets: one stream at a time drives the avatar

    def __init__(self, target: Target, subject: str = DEFAULT_SUBJECT,
                 device_id: str = DEFAULT_DEVICE_ID) -> None:
        self.sender = DatagramSender(target)  # a packet is 61 curves + names: about 300 bytes
        self.subject = subject
        self.device_id = device_id

    def start(self, meta: StreamMeta) -> None:
        pass

    def _send(self, meta: StreamMeta, index: int, arkit: np.ndarray) -> None:
        number, sub = frame_time(meta.start_epoch, index, meta.info.fps)
        self.sender.send(encode_packet(LiveLinkFrame(self.device_id, self.subject, number, sub,
                                                     meta.info.fps, 1, wire.livelink_curves(arkit))))

    def frame(self, meta: StreamMeta, event: FrameEvent) -> None:
        self._send(meta, event.index, event.arkit)

    def end(self, meta: StreamMeta, frame_count: int) -> None:
        self._send(meta, frame_count, np.zeros(len(ARKIT_52), np.float32))  # back to neutral

    def close(self) -> None:
        self.sender.close()
