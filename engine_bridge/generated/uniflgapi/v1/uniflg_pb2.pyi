from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SynthesisMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SYNTHESIS_MODE_UNSPECIFIED: _ClassVar[SynthesisMode]
    SYNTHESIS_MODE_PARALLEL: _ClassVar[SynthesisMode]
    SYNTHESIS_MODE_PIPELINED: _ClassVar[SynthesisMode]
SYNTHESIS_MODE_UNSPECIFIED: SynthesisMode
SYNTHESIS_MODE_PARALLEL: SynthesisMode
SYNTHESIS_MODE_PIPELINED: SynthesisMode

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "speaker", "emotion", "speed", "seed", "mode", "chunk_seconds", "include_blendshapes", "request_id", "language", "strict_text")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_BLENDSHAPES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    STRICT_TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    speaker: str
    emotion: str
    speed: float
    seed: int
    mode: SynthesisMode
    chunk_seconds: float
    include_blendshapes: bool
    request_id: str
    language: str
    strict_text: bool
    def __init__(self, text: _Optional[str] = ..., speaker: _Optional[str] = ..., emotion: _Optional[str] = ..., speed: _Optional[float] = ..., seed: _Optional[int] = ..., mode: _Optional[_Union[SynthesisMode, str]] = ..., chunk_seconds: _Optional[float] = ..., include_blendshapes: _Optional[bool] = ..., request_id: _Optional[str] = ..., language: _Optional[str] = ..., strict_text: _Optional[bool] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("header", "chunk", "status")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    chunk: MediaChunk
    status: Status
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., chunk: _Optional[_Union[MediaChunk, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class AnimateRequest(_message.Message):
    __slots__ = ("header", "audio", "end_of_audio")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    END_OF_AUDIO_FIELD_NUMBER: _ClassVar[int]
    header: AudioHeader
    audio: bytes
    end_of_audio: EndOfAudio
    def __init__(self, header: _Optional[_Union[AudioHeader, _Mapping]] = ..., audio: _Optional[bytes] = ..., end_of_audio: _Optional[_Union[EndOfAudio, _Mapping]] = ...) -> None: ...

class AudioHeader(_message.Message):
    __slots__ = ("sample_rate", "channels", "request_id", "include_blendshapes", "max_lookahead_ms")
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_BLENDSHAPES_FIELD_NUMBER: _ClassVar[int]
    MAX_LOOKAHEAD_MS_FIELD_NUMBER: _ClassVar[int]
    sample_rate: int
    channels: int
    request_id: str
    include_blendshapes: bool
    max_lookahead_ms: int
    def __init__(self, sample_rate: _Optional[int] = ..., channels: _Optional[int] = ..., request_id: _Optional[str] = ..., include_blendshapes: _Optional[bool] = ..., max_lookahead_ms: _Optional[int] = ...) -> None: ...

class EndOfAudio(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AnimateResponse(_message.Message):
    __slots__ = ("header", "chunk", "status")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    header: StreamHeader
    chunk: MediaChunk
    status: Status
    def __init__(self, header: _Optional[_Union[StreamHeader, _Mapping]] = ..., chunk: _Optional[_Union[MediaChunk, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class StreamHeader(_message.Message):
    __slots__ = ("sample_rate", "channels", "fps", "layout", "point_count", "blendshape_names", "start_time_code_since_epoch", "request_id", "voice", "lookahead_ms")
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    BLENDSHAPE_NAMES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_CODE_SINCE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    LOOKAHEAD_MS_FIELD_NUMBER: _ClassVar[int]
    sample_rate: int
    channels: int
    fps: int
    layout: str
    point_count: int
    blendshape_names: _containers.RepeatedScalarFieldContainer[str]
    start_time_code_since_epoch: float
    request_id: str
    voice: str
    lookahead_ms: float
    def __init__(self, sample_rate: _Optional[int] = ..., channels: _Optional[int] = ..., fps: _Optional[int] = ..., layout: _Optional[str] = ..., point_count: _Optional[int] = ..., blendshape_names: _Optional[_Iterable[str]] = ..., start_time_code_since_epoch: _Optional[float] = ..., request_id: _Optional[str] = ..., voice: _Optional[str] = ..., lookahead_ms: _Optional[float] = ...) -> None: ...

class MediaChunk(_message.Message):
    __slots__ = ("time_code", "audio", "frames")
    TIME_CODE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    time_code: float
    audio: bytes
    frames: _containers.RepeatedCompositeFieldContainer[LandmarkFrame]
    def __init__(self, time_code: _Optional[float] = ..., audio: _Optional[bytes] = ..., frames: _Optional[_Iterable[_Union[LandmarkFrame, _Mapping]]] = ...) -> None: ...

class LandmarkFrame(_message.Message):
    __slots__ = ("index", "time_code", "points", "blendshapes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TIME_CODE_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BLENDSHAPES_FIELD_NUMBER: _ClassVar[int]
    index: int
    time_code: float
    points: _containers.RepeatedScalarFieldContainer[float]
    blendshapes: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, index: _Optional[int] = ..., time_code: _Optional[float] = ..., points: _Optional[_Iterable[float]] = ..., blendshapes: _Optional[_Iterable[float]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("frame_count", "audio_seconds")
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    frame_count: int
    audio_seconds: float
    def __init__(self, frame_count: _Optional[int] = ..., audio_seconds: _Optional[float] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_text_chars", "max_audio_seconds", "max_concurrent_streams")
    MAX_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    max_text_chars: int
    max_audio_seconds: float
    max_concurrent_streams: int
    def __init__(self, max_text_chars: _Optional[int] = ..., max_audio_seconds: _Optional[float] = ..., max_concurrent_streams: _Optional[int] = ...) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("voice", "speakers", "emotions", "layout", "point_count", "fps", "sample_rate", "blendshape_names", "limits", "sdk_version", "api_version")
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    POINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    BLENDSHAPE_NAMES_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    voice: str
    speakers: _containers.RepeatedScalarFieldContainer[str]
    emotions: _containers.RepeatedScalarFieldContainer[str]
    layout: str
    point_count: int
    fps: int
    sample_rate: int
    blendshape_names: _containers.RepeatedScalarFieldContainer[str]
    limits: Limits
    sdk_version: str
    api_version: str
    def __init__(self, voice: _Optional[str] = ..., speakers: _Optional[_Iterable[str]] = ..., emotions: _Optional[_Iterable[str]] = ..., layout: _Optional[str] = ..., point_count: _Optional[int] = ..., fps: _Optional[int] = ..., sample_rate: _Optional[int] = ..., blendshape_names: _Optional[_Iterable[str]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., sdk_version: _Optional[str] = ..., api_version: _Optional[str] = ...) -> None: ...
