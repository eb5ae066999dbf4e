"""Model configurations as frozen dataclasses, stored as JSON inside every checkpoint and voice.

A checkpoint rebuilds from its JSON alone (no training code). Three named configurations:

* ``paper``: the paper's sizes — VITS-base (HiFi-GAN decoder, 24 kHz) + landmark decoder of 16 layers,
  192 channels, kernel 5, dilation 1, z_u 16-dim.
* ``small``: the CPU default — slimmer prior/posterior and a multi-stream iSTFT decoder.
* ``tiny``: for fast tests.

Variants (UniFLG, UniFLG-AS, TTL, STL, STL-D) are fields of :class:`VariantConfig`, not code copies.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from uniflg.landmarks import FPS, N_POINTS

DecoderKind = Literal["hifigan", "istft"]
LandmarkTraining = Literal["mixed", "text", "speech"]
LandmarkInput = Literal["latent", "spectrogram"]
Conditioning = Literal["speaker", "emotion"]

# The text front end's vocabulary sizes (see uniflg.text.symbols, which asserts them).
N_SYMBOLS = 128
PROSODY_CARDINALITIES = (4, 4, 2)


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 24000
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float | None = None

    @property
    def spec_channels(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_rate(self) -> float:
        """Spectrogram frames per second (93.75 at 24 kHz / hop 256)."""
        return self.sample_rate / self.hop_length


@dataclass(frozen=True)
class TextEncoderConfig:
    n_symbols: int = N_SYMBOLS
    prosody_cardinalities: tuple[int, ...] = PROSODY_CARDINALITIES
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    dropout: float = 0.1
    window_size: int = 4  # relative-position window of the self-attention


@dataclass(frozen=True)
class VitsConfig:
    inter_channels: int = 192
    hidden_channels: int = 192
    gin_channels: int = 256
    posterior_layers: int = 16
    posterior_kernel: int = 5
    flow_couplings: int = 4
    flow_layers: int = 4
    flow_kernel: int = 5
    use_stochastic_duration: bool = True
    duration_filter_channels: int = 256
    utterance_dim: int = 16
    utterance_channels: int = 128
    segment_frames: int = 32  # frames per random decoder slice in training


@dataclass(frozen=True)
class DecoderConfig:
    kind: DecoderKind = "hifigan"
    upsample_initial_channel: int = 512
    upsample_rates: tuple[int, ...] = (8, 8, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    # iSTFT head (kind="istft"): each of `streams` sub-signals comes from an iSTFT, then a learned
    # synthesis filter merges them at the full rate.
    istft_n_fft: int = 16
    istft_hop: int = 4
    streams: int = 4
    synthesis_kernel: int = 63

    def total_upsampling(self) -> int:
        total = 1
        for r in self.upsample_rates:
            total *= r
        if self.kind == "istft":
            total *= self.istft_hop * self.streams
        return total


@dataclass(frozen=True)
class DiscriminatorConfig:
    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    channel_scale: float = 1.0  # < 1 slims the discriminators for CPU training
    use_spectral_norm: bool = False


@dataclass(frozen=True)
class LandmarkDecoderConfig:
    n_points: int = N_POINTS
    layers: int = 16
    channels: int = 192
    kernel_size: int = 5
    dilation: int = 1
    dropout: float = 0.0
    fps: int = FPS


@dataclass(frozen=True)
class VariantConfig:
    """Which system this is. UniFLG: mixed/latent/speaker. UniFLG-AS: conditioning='emotion'.
    TTL: training='text'. STL: training='speech'. STL-D: training='speech', input='spectrogram'."""

    conditioning: Conditioning = "speaker"
    landmark_training: LandmarkTraining = "mixed"
    landmark_input: LandmarkInput = "latent"

    @property
    def text_faces(self) -> bool:
        """Whether the text path draws faces: not for STL-D, whose landmark decoder reads spectrograms (speech)."""
        return self.landmark_input != "spectrogram"

    @property
    def name(self) -> str:
        if self.landmark_input == "spectrogram":
            return "STL-D"
        base = {"mixed": "UniFLG", "text": "TTL", "speech": "STL"}[self.landmark_training]
        return base + ("-AS" if self.conditioning == "emotion" else "")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "paper"
    audio: AudioConfig = field(default_factory=AudioConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    vits: VitsConfig = field(default_factory=VitsConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    landmarks: LandmarkDecoderConfig = field(default_factory=LandmarkDecoderConfig)
    variant: VariantConfig = field(default_factory=VariantConfig)
    speakers: tuple[str, ...] = ("speaker0",)
    emotions: tuple[str, ...] = ("normal", "happy", "sad")

    def __post_init__(self) -> None:
        up = self.decoder.total_upsampling()
        if up != self.audio.hop_length:
            raise ValueError(f"decoder upsamples by {up}, but hop_length is {self.audio.hop_length}")
        if len(self.decoder.upsample_rates) != len(self.decoder.upsample_kernel_sizes):
            raise ValueError(f"upsample_rates {self.decoder.upsample_rates} and upsample_kernel_sizes "
                             f"{self.decoder.upsample_kernel_sizes} differ in length")

    @property
    def condition_names(self) -> tuple[str, ...]:
        """What the rows of g are named after: speakers for UniFLG, emotions for UniFLG-AS."""
        return self.speakers if self.variant.conditioning == "speaker" else self.emotions

    @property
    def n_conditions(self) -> int:
        """Size of the one-hot g."""
        return len(self.condition_names)

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))


def _build(cls: Any, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) frozen dataclass from plain JSON values; unknown keys are an error."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    kwargs: dict[str, Any] = {}
    hints = {f.name: f.default_factory for f in dataclasses.fields(cls)
             if f.default_factory is not dataclasses.MISSING}
    types = typing.get_type_hints(cls)
    for key, value in data.items():
        factory = hints.get(key)
        if isinstance(value, dict) and factory is not None:
            kwargs[key] = _build(type(factory()), value)
        else:
            kwargs[key] = _tuplify(value)
            if not _is_a(kwargs[key], types[key]):
                raise ValueError(f"{cls.__name__}.{key} must be {_kind(types[key])}; got {value!r}")
    return cls(**kwargs)


def _is_a(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's type (int, float, str, bool, X | None, tuple[X, ...], Literal, nested
    dataclasses): "24000" for an int field was a TypeError far from the file that held it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (types.UnionType, typing.Union):
        return any(_is_a(value, a) for a in args)
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_is_a(v, args[0]) for v in value)
        return len(value) == len(args) and all(_is_a(v, t) for v, t in zip(value, args, strict=True))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return True  # a type this check does not know: the dataclass's own checks decide


def _kind(hint: Any) -> str:
    """A field's type as a message says it: "a whole number", "one of 'speaker', 'emotion'", "a number or null"."""
    names = {int: "a whole number", float: "a number", str: "a string", bool: "true or false", type(None): "null"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in names:
        return names[hint]
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_kind(a) for a in args)
    if origin is tuple:
        plural = {int: "whole numbers", float: "numbers", str: "strings"}
        inner = args[0] if args[-1:] == (Ellipsis,) else None
        return "a list" + (f" of {plural[inner]}" if inner in plural else " of lists" if inner is not None else "")
    return getattr(hint, "__name__", str(hint))


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def paper_config(**changes: Any) -> ModelConfig:
    """The paper's configuration: VITS-base at 24 kHz and the 16x192 landmark WaveNet."""
    return ModelConfig(name="paper").replace(**changes)


def small_config(**changes: Any) -> ModelConfig:
    """CPU default: narrower prior/posterior, 4-stream iSTFT decoder (hop 256 = 8*2 * 4 * 4)."""
    cfg = ModelConfig(
        name="small",
        text=TextEncoderConfig(hidden_channels=128, filter_channels=384, n_layers=4),
        vits=VitsConfig(inter_channels=128, hidden_channels=128, gin_channels=128, posterior_layers=6,
                        flow_couplings=3, flow_layers=3, duration_filter_channels=128, utterance_channels=96),
        decoder=DecoderConfig(kind="istft", upsample_initial_channel=256, upsample_rates=(8, 2),
                              upsample_kernel_sizes=(16, 4), resblock_kernel_sizes=(3, 7),
                              resblock_dilations=((1, 3, 5), (1, 3, 5))),
        discriminator=DiscriminatorConfig(channel_scale=0.25),
        landmarks=LandmarkDecoderConfig(layers=10, channels=128),
    )
    return cfg.replace(**changes)


def tiny_config(**changes: Any) -> ModelConfig:
    """Seconds-fast for tests: every module present, all of them narrow."""
    cfg = ModelConfig(
        name="tiny",
        text=TextEncoderConfig(hidden_channels=32, filter_channels=64, n_heads=2, n_layers=2),
        vits=VitsConfig(inter_channels=32, hidden_channels=32, gin_channels=32, posterior_layers=2,
                        flow_couplings=2, flow_layers=2, duration_filter_channels=32, utterance_dim=16,
                        utterance_channels=32, segment_frames=16),
        decoder=DecoderConfig(kind="istft", upsample_initial_channel=32, upsample_rates=(8, 2),
                              upsample_kernel_sizes=(16, 4), resblock_kernel_sizes=(3,),
                              resblock_dilations=((1, 3),)),
        discriminator=DiscriminatorConfig(periods=(2, 3), channel_scale=0.125),
        landmarks=LandmarkDecoderConfig(layers=2, channels=32),
    )
    return cfg.replace(**changes)


CONFIGS = {"paper": paper_config, "small": small_config, "tiny": tiny_config}


def named_config(name: str, **changes: Any) -> ModelConfig:
    from uniflg.errors import NotFoundError

    if name not in CONFIGS:
        raise NotFoundError("config", name, list(CONFIGS))
    return CONFIGS[name](**changes)
