"""The one place that names the exported inference graphs, their inputs, outputs and dynamic axes.

Export (``uniflg_train.export``), the ONNX Runtime backend, the TensorRT builder and the torch backend all
read these specs, so a name is spelled once. No graph contains a random op: every noise tensor is an input,
drawn by the runtime from a NumPy generator seeded by ``SynthesisOptions.seed``. The text graph is cut at the
duration step: durations are rounded, expanded and converted to the 30 fps clock in NumPy
(``uniflg.inference``), identically for every backend.

Graphs (batch of one; ``N`` tokens, ``T`` spectrogram frames, ``L`` landmark frames, ``S`` samples,
``D`` latent channels, ``Du`` utterance-latent size)::

    text_encoder        ids (1,N) i64, prosody (1,N,P) i64, g (1,) i64, z_u (1,Du), duration_noise (1,2,N)
                        -> m_p (1,D,N), logs_p (1,D,N), log_durations (1,1,N)
    inverse_flow        z_p (1,D,T), g, z_u -> z (1,D,T)            f^-1: prior sample -> decoder input
    latent_to_speech    z (1,D,T), g, z_u -> wav (1,T*hop)           waveform decoder (windowed when streaming)
    latent_to_landmarks latent (1,D',L), g, z_u -> landmarks (1,L,70,2)
    speech_to_latent    wav (1,S), g, z_u -> latent (1,D',S//hop)   conv-STFT + posterior mean + flow: f(z_f)
                                                                     (the linear spectrogram itself for STL-D)
    utterance_encoder   wav (1,S) -> mu_u (1,Du), logvar_u (1,Du)    conv-STFT + log-mel + utterance encoder

``g`` is the index of the one-hot condition (speaker; emotion in UniFLG-AS) and ``z_u`` the utterance latent;
every graph that needs the global condition computes it from them (an embedding plus a linear: negligible).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uniflg.errors import ModelFormatError

if TYPE_CHECKING:
    from uniflg.config import ModelConfig

FLOAT = "float32"
INT64 = "int64"


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: ``shape`` holds ints (static) or axis names (dynamic)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    @property
    def dynamic_axes(self) -> dict[int, str]:
        """Axes that vary at run time (the names in AXIS_RANGES); other named axes are fixed by the model."""
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str) and d in AXIS_RANGES}


@dataclass(frozen=True)
class GraphSpec:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """The ``dynamic_axes`` argument of ``torch.onnx.export``."""
        return {t.name: t.dynamic_axes for t in (*self.inputs, *self.outputs) if t.dynamic_axes}


def _cond() -> tuple[TensorSpec, TensorSpec]:
    return TensorSpec("g", INT64, (1,)), TensorSpec("z_u", FLOAT, (1, "utterance_dim"))


TEXT_ENCODER = GraphSpec(
    "text_encoder",
    (TensorSpec("ids", INT64, (1, "tokens")), TensorSpec("prosody", INT64, (1, "tokens", "prosody_dim")),
     *_cond(), TensorSpec("duration_noise", FLOAT, (1, 2, "tokens"))),
    (TensorSpec("m_p", FLOAT, (1, "latent_dim", "tokens")), TensorSpec("logs_p", FLOAT, (1, "latent_dim", "tokens")),
     TensorSpec("log_durations", FLOAT, (1, 1, "tokens"))),
)
INVERSE_FLOW = GraphSpec(
    "inverse_flow",
    (TensorSpec("z_p", FLOAT, (1, "latent_dim", "frames")), *_cond()),
    (TensorSpec("z", FLOAT, (1, "latent_dim", "frames")),),
)
LATENT_TO_SPEECH = GraphSpec(
    "latent_to_speech",
    (TensorSpec("z", FLOAT, (1, "latent_dim", "frames")), *_cond()),
    (TensorSpec("wav", FLOAT, (1, "samples")),),
)
LATENT_TO_LANDMARKS = GraphSpec(
    "latent_to_landmarks",
    (TensorSpec("latent", FLOAT, (1, "landmark_input_dim", "landmark_frames")), *_cond()),
    (TensorSpec("landmarks", FLOAT, (1, "landmark_frames", "points", 2)),),
)
SPEECH_TO_LATENT = GraphSpec(
    "speech_to_latent",
    (TensorSpec("wav", FLOAT, (1, "samples")), *_cond()),
    (TensorSpec("latent", FLOAT, (1, "landmark_input_dim", "frames")),),
)
UTTERANCE_ENCODER = GraphSpec(
    "utterance_encoder",
    (TensorSpec("wav", FLOAT, (1, "samples")),),
    (TensorSpec("mu_u", FLOAT, (1, "utterance_dim")), TensorSpec("logvar_u", FLOAT, (1, "utterance_dim"))),
)

GRAPHS: dict[str, GraphSpec] = {g.name: g for g in (
    TEXT_ENCODER, INVERSE_FLOW, LATENT_TO_SPEECH, LATENT_TO_LANDMARKS, SPEECH_TO_LATENT, UTTERANCE_ENCODER)}


def spec_of(graph: str) -> GraphSpec:
    """The spec of a graph name; ``PATH/NAME`` (a voice's extra speech path, e.g. ``live150/speech_to_latent``)
    has the signature of ``NAME``."""
    return GRAPHS[graph.rsplit("/", 1)[-1]]


def fixed_dims(cfg: ModelConfig) -> dict[str, int]:
    """The sizes a voice's config gives the named fixed axes of its graphs (``latent_dim``, ``points``, ...)."""
    latent = cfg.vits.inter_channels
    return {"utterance_dim": cfg.vits.utterance_dim, "prosody_dim": len(cfg.text.prosody_cardinalities),
            "latent_dim": latent, "points": cfg.landmarks.n_points,
            "landmark_input_dim": cfg.audio.spec_channels if cfg.variant.landmark_input == "spectrogram" else latent}


def check_signature(graph: str, file: str, inputs: dict[str, list[Any]], outputs: dict[str, list[Any]],
                    dims: dict[str, int]) -> None:
    """The inputs and outputs a backend found in ``file`` (name -> shape, ints for fixed axes) against graph
    ``graph``'s spec with the voice's ``dims``: ModelFormatError naming the file, the tensor and what voice.json
    expects. A graph may lack inputs it does not use (the exporter drops them), never have others."""
    spec = spec_of(graph)
    if extra := sorted(set(inputs) - set(spec.input_names)):
        raise ModelFormatError(f"{file} is not the {spec.name} graph: it takes {extra}; {spec.name} takes "
                               f"{spec.input_names} (a file swapped with another graph's, or another model's)")
    if missing := [name for name in spec.output_names if name not in outputs]:
        raise ModelFormatError(f"{file} is not the {spec.name} graph: it lacks the output(s) {missing}")
    for tensor in spec.inputs + spec.outputs:
        shape = inputs.get(tensor.name) if tensor in spec.inputs else outputs.get(tensor.name)
        if shape is None or len(shape) != len(tensor.shape):
            if shape is not None:
                raise ModelFormatError(f"{file}: {tensor.name} has {len(shape)} axes; the {spec.name} graph's has "
                                       f"{len(tensor.shape)} {tensor.shape}")
            continue
        for axis, (want, got) in enumerate(zip(tensor.shape, shape, strict=True)):
            size = dims.get(want) if isinstance(want, str) else want
            if isinstance(got, int) and size is not None and got != size:
                said = f"{want} = {size} in voice.json's config" if isinstance(want, str) else f"{size}"
                raise ModelFormatError(f"{file}: {tensor.name} axis {axis} is {got}; the voice expects {said} "
                                       "(a graph of another model, or a config edited after export)")


# Dynamic-axis ranges for TensorRT optimization profiles: (min, opt, max) per axis name, in the axis's unit.
# 30 s of speech at most per call: 24 kHz * 30 = 720k samples, 2813 frames at hop 256, 900 landmark frames.
AXIS_RANGES: dict[str, tuple[int, int, int]] = {
    "tokens": (1, 64, 512),
    "frames": (8, 256, 2816),
    "samples": (2048, 65536, 720896),
    "landmark_frames": (1, 64, 900),
}
