"""The voice file: ``voice.json`` in a voice folder, and the names of the files beside it.

:class:`VoiceSpec` alone reads and writes ``voice.json`` (model config, speakers, emotions, neutral face, face
calibration, per-name utterance latents, graph receptive fields, versions); :func:`read_spec` is the one way to
read a folder's. This module needs neither torch nor ONNX Runtime, so the loader, the writer, ``uniflg info``
and the exporter share it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from uniflg import __version__
from uniflg.config import ModelConfig
from uniflg.errors import ModelFormatError
from uniflg.fileio import atomic_write_text

VOICE_FILE = "voice.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "uniflg-voice"
FORMAT_VERSION = 1
DEFAULT_VOICE_DIR = Path(__file__).parent / "voices" / "default"


@dataclass(frozen=True)
class VoiceSpec:
    """The contents of ``voice.json``; this class alone reads and writes it."""

    name: str
    config: ModelConfig
    graphs: dict[str, str] = field(default_factory=dict)  # graph name -> ONNX file in the folder
    weights: str | None = None  # model.safetensors for the torch backend
    contexts: dict[str, int] = field(default_factory=dict)  # measured receptive fields (see inference)
    latents: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # "emotion"/"speaker" -> z_u
    neutral_face: list[list[float]] | None = None  # (70, 2) mean face
    face_calibration: dict[str, Any] | None = None  # uniflg.retarget.Calibration.to_dict(); see uniflg.avatar
    language: str = "auto"
    # Low-latency speech paths (issue 18), by name: {"graphs": {"speech_to_latent": file, "latent_to_landmarks":
    # file}, "contexts": {graph: [left, right]} (measured receptive fields), "lookahead_ms", "config" (sizes)}
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    sdk_version: str = __version__
    format: str = FORMAT
    version: int = FORMAT_VERSION

    @property
    def speakers(self) -> tuple[str, ...]:
        return self.config.speakers

    @property
    def emotions(self) -> tuple[str, ...]:
        return self.config.emotions

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["config"] = self.config.to_dict()
        data["speakers"], data["emotions"] = list(self.speakers), list(self.emotions)
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str = VOICE_FILE) -> VoiceSpec:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ModelFormatError(f"{where}: not a UniFLG voice (format {data.get('format')!r})")
            if int(data.get("version", 0)) > FORMAT_VERSION:
                raise ModelFormatError(f"{where}: voice format {data['version']} is newer than this SDK reads "
                                       f"({FORMAT_VERSION}); upgrade uniflg")
            data.pop("speakers", None), data.pop("emotions", None)  # derived from the config
            data["config"] = ModelConfig.from_dict(data["config"])
            unknown = set(data) - {f for f in cls.__dataclass_fields__}
            if unknown:
                raise ModelFormatError(f"{where}: unknown fields {sorted(unknown)}")
            return cls(**data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeError: JSON that is no object
            raise ModelFormatError(f"{where}: malformed voice file: {exc}") from exc

    def live_graph_files(self) -> dict[str, str]:
        """The live paths' graphs as backend graph names ``PATH/GRAPH`` -> ONNX file."""
        return {f"{path}/{graph}": file for path, entry in self.live.items()
                for graph, file in entry.get("graphs", {}).items()}

    def write(self, folder: Path) -> Path:
        return atomic_write_text(Path(folder) / VOICE_FILE, self.to_json())


def read_spec(folder: str | Path) -> VoiceSpec:
    """The :class:`VoiceSpec` of a voice folder; :class:`ModelFormatError` when it has no valid ``voice.json``."""
    path = Path(folder) / VOICE_FILE
    if not path.is_file():
        raise ModelFormatError(f"not a voice folder (no {VOICE_FILE}): {folder}")
    return VoiceSpec.from_json(path.read_text(encoding="utf-8"), str(path))
