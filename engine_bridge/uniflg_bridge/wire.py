"""The one place that converts SDK values <-> protobuf messages and OSC message contents. Pure: no I/O.

Audio on the wire is PCM16 little-endian mono (the codec is :mod:`uniflg.audio`'s). Landmark points are
flattened x0, y0, ..., x69, y69.
OSC contents are (address, arguments) pairs; :mod:`uniflg_bridge.osc` turns them into datagrams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from uniflg.audio import pcm16_bytes
from uniflg.errors import InvalidInputError
from uniflg.landmarks import N_POINTS
from uniflg.limits import CHUNK_SECONDS, SPEED, Range, check_name
from uniflg.retarget import ARKIT_52
from uniflg.types import FrameChunk, StreamInfo, SynthesisChunk, SynthesisOptions
from uniflgapi.v1 import uniflg_pb2 as pb

OscArg = int | float | str


@dataclass(frozen=True)
class OscContent:
    """One OSC message before encoding: an address and its typed arguments."""

    address: str
    args: tuple[OscArg, ...]


# ---------------------------------------------------------------- requests

_MODES = {pb.SYNTHESIS_MODE_UNSPECIFIED: "t", pb.SYNTHESIS_MODE_PARALLEL: "t",
          pb.SYNTHESIS_MODE_PIPELINED: "p"}


def _or_default(value: float, default: float, limit: Range) -> float:
    """Proto3 floats have no "unset": 0 means the default, anything else is checked against ``limit``. The float32
    is read back at its own precision (7 digits): 0.01 stays 0.01, not 0.009999999776482582."""
    return default if value == 0 else limit.check(float(f"{value:.7g}"))


def synthesis_options(request: pb.SynthesizeRequest) -> SynthesisOptions:
    """Validated SDK options from a SynthesizeRequest (the text is checked by the server's limits)."""
    if request.mode not in _MODES:
        names = ", ".join(pb.SynthesisMode.Name(m) for m in sorted(_MODES))
        raise InvalidInputError(f"unknown mode {request.mode}; use one of {names}")
    return SynthesisOptions(
        speaker=check_name("speaker", request.speaker) or None,
        emotion=check_name("emotion", request.emotion) or None,
        speed=_or_default(request.speed, 1.0, SPEED),
        seed=request.seed if request.HasField("seed") else 0,
        mode=_MODES[request.mode],  # type: ignore[arg-type]
        chunk_seconds=_or_default(request.chunk_seconds, 0.5, CHUNK_SECONDS),
        language=_language(request.language),
        strict_text=request.strict_text,
    )


def _language(name: str) -> str:
    """"" or "auto" -> "auto" (the SDK's name for it); otherwise one of the front end's languages (checked here:
    the name is echoed bounded)."""
    from uniflg.text.charset import LANGUAGES

    if not name or name == "auto":
        return "auto"
    if name not in LANGUAGES:  # repr of at most 16 characters: bounded, control characters escaped
        raise InvalidInputError(f"unknown language {name[:16]!r}; use one of {', '.join(LANGUAGES)}, or auto (or "
                                "empty) for automatic detection")
    return name


# ---------------------------------------------------------------- responses

def stream_header(info: StreamInfo, *, request_id: str, voice: str, start_epoch: float,
                  blendshape_names: Sequence[str] = (), lookahead_ms: float = 0.0) -> pb.StreamHeader:
    return pb.StreamHeader(sample_rate=info.sample_rate, channels=1, fps=info.fps, layout=info.layout,
                           point_count=info.n_points, blendshape_names=list(blendshape_names),
                           start_time_code_since_epoch=start_epoch, request_id=request_id, voice=voice,
                           lookahead_ms=lookahead_ms)


def animate_options(header: pb.AudioHeader) -> SynthesisOptions:
    """Speech-driven options from an AudioHeader: ``max_lookahead_ms`` 0 (unset, an older client) keeps the
    offline path."""
    return SynthesisOptions(max_lookahead_ms=float(header.max_lookahead_ms) if header.max_lookahead_ms else None)


def landmark_frames(first_frame: int, landmarks: np.ndarray, fps: int,
                    blendshapes: np.ndarray | None = None) -> list[pb.LandmarkFrame]:
    """``[n, P, 2]`` landmarks (and optional ``[n, B]`` weights) -> LandmarkFrames ``first_frame ..``."""
    points = np.asarray(landmarks, np.float32)
    flat = points.reshape(len(points), int(np.prod(points.shape[1:])))  # (n, 2P); n may be 0 (no -1 then)
    frames = []
    for k, points in enumerate(flat):
        index = first_frame + k
        weights = blendshapes[k].tolist() if blendshapes is not None else []
        frames.append(pb.LandmarkFrame(index=index, time_code=index / fps, points=points.tolist(),
                                       blendshapes=weights))
    return frames


def media_chunk(chunk: SynthesisChunk | FrameChunk, fps: int,
                blendshapes: np.ndarray | None = None) -> pb.MediaChunk:
    """A chunk's audio (Synthesize; Animate chunks carry none) and frames, with optional ``[n, B]`` weights."""
    audio = pcm16_bytes(chunk.audio) if isinstance(chunk, SynthesisChunk) else b""
    return pb.MediaChunk(time_code=chunk.time_code, audio=audio,
                         frames=landmark_frames(chunk.first_frame, chunk.landmarks, fps, blendshapes))


def final_status(frame_count: int, audio_seconds: float) -> pb.Status:
    return pb.Status(frame_count=frame_count, audio_seconds=audio_seconds)


def points_from_frames(frames: Sequence[pb.LandmarkFrame], n_points: int = N_POINTS) -> np.ndarray:
    """LandmarkFrames -> ``[n, n_points, 2]`` float32 (the client-side inverse of :func:`landmark_frames`)."""
    if not frames:
        return np.zeros((0, n_points, 2), np.float32)
    return np.asarray([f.points for f in frames], np.float32).reshape(len(frames), n_points, 2)


# ---------------------------------------------------------------- OSC contents

OSC_PREFIX = "/uniflg"
# The most UTF-8 bytes of a stream id in OSC packets. The id is the client's request id (up to 128 characters, up to
# 512 bytes of UTF-8) and opens every part of a split frame, so it is bounded to keep the smallest datagram that
# carries a frame fixed (osc.MIN_DATAGRAM); every ASCII id the server accepts fits whole.
OSC_STREAM_ID_BYTES = 128


def osc_stream_id(stream_id: str) -> str:
    """``stream_id`` as OSC packets carry it: its first :data:`OSC_STREAM_ID_BYTES` bytes of UTF-8, cut between
    characters (docs/osc.md)."""
    data = stream_id.encode("utf-8")
    if len(data) <= OSC_STREAM_ID_BYTES:
        return stream_id
    return data[:OSC_STREAM_ID_BYTES].decode("utf-8", "ignore")  # "ignore" drops a character cut in two


def osc_stream_start(stream_id: str, info: StreamInfo) -> OscContent:
    """``/uniflg/stream/start ,siisi``: stream id (:func:`osc_stream_id`), sample rate, fps, layout, point count."""
    return OscContent(f"{OSC_PREFIX}/stream/start",
                      (osc_stream_id(stream_id), info.sample_rate, info.fps, info.layout, info.n_points))


def osc_stream_end(stream_id: str, frame_count: int) -> OscContent:
    """``/uniflg/stream/end ,si``: stream id (:func:`osc_stream_id`), frames sent."""
    return OscContent(f"{OSC_PREFIX}/stream/end", (osc_stream_id(stream_id), frame_count))


def osc_frame(stream_id: str, index: int, fps: int, points: np.ndarray,
              blendshape_names: Sequence[str] = (), weights: np.ndarray | None = None) -> list[OscContent]:
    """The messages of one frame's bundle: ``/uniflg/frame ,sif`` (stream id as :func:`osc_stream_id` cuts it,
    index, time code), ``/uniflg/landmarks ,f*2P`` (x0, y0, ...), then ``/uniflg/blend/<name> ,f`` per blendshape."""
    flat = np.asarray(points, np.float32).reshape(-1)
    out = [OscContent(f"{OSC_PREFIX}/frame", (osc_stream_id(stream_id), int(index), float(np.float32(index / fps)))),
           OscContent(f"{OSC_PREFIX}/landmarks", tuple(float(v) for v in flat))]
    if weights is not None:
        out += [OscContent(f"{OSC_PREFIX}/blend/{name}", (float(w),))
                for name, w in zip(blendshape_names, weights, strict=True)]
    return out


def vmc_frame(names: Sequence[str], weights: np.ndarray, time_code: float) -> list[OscContent]:
    """VMC protocol, performer -> marionette: ``/VMC/Ext/OK ,i`` (1: loaded), ``/VMC/Ext/T ,f`` (time),
    ``/VMC/Ext/Blend/Val ,sf`` per blendshape, then ``/VMC/Ext/Blend/Apply`` (no arguments).
    InvalidInputError (one line) for a weight count other than the names' or a weight or time that is not finite
    (a marionette would show NaN as a broken face)."""
    weights = np.asarray(weights, np.float32).reshape(-1)
    if weights.size != len(names):
        raise InvalidInputError(f"a VMC frame carries one weight per name: {len(names)} names, {weights.size} weights")
    if not (np.isfinite(weights).all() and np.isfinite(time_code)):
        raise InvalidInputError("a VMC frame's weights and time must be finite numbers (NaN or infinity given)")
    out = [OscContent("/VMC/Ext/OK", (1,)), OscContent("/VMC/Ext/T", (float(time_code),))]
    out += [OscContent("/VMC/Ext/Blend/Val", (name, float(w)))
            for name, w in zip(names, weights, strict=True)]
    out.append(OscContent("/VMC/Ext/Blend/Apply", ()))
    return out


# ---------------------------------------------------------------- Live Link Face curves

LIVELINK_EXTRA = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                  "RightEyeYaw", "RightEyePitch", "RightEyeRoll")


def livelink_curves(arkit52: np.ndarray) -> np.ndarray:
    """52 ARKit weights -> the 61 Live Link Face curves: the 52, then head yaw/pitch/roll and the eyes'
    yaw/pitch/roll, which 2-D landmarks of a frontal face do not give (sent as 0)."""
    weights = np.asarray(arkit52, np.float32).reshape(-1)
    if weights.shape != (len(ARKIT_52),):
        raise InvalidInputError(f"Live Link Face needs 52 ARKit weights, got {weights.shape[0]}")
    return np.concatenate([weights, np.zeros(len(LIVELINK_EXTRA), np.float32)])
