"""The voice file: ``voice.json`` in a voice folder, and the names of the files beside it.

:class:`VoiceSpec` alone reads and writes ``voice.json`` (model config, speakers, emotions, neutral face, face
calibration, per-name utterance latents, graph receptive fields, versions); :func:`read_spec` is the one way to
read a folder's. ``language_speakers`` (optional; older files without it load unchanged) maps a language of the
text front end to the speaker that reads it when a call names no speaker (:meth:`VoiceSpec.speaker_for`). This
module needs neither torch nor ONNX Runtime, so the loader, the writer, ``uniflg info`` and the exporter share it.
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
    # Text path: the speaker for text of a language when the call names none, e.g. {"en": "kokoro_jm_kumo"};
    # a language not listed uses the first speaker. Checked against the speakers at construction (load).
    language_speakers: dict[str, str] = field(default_factory=dict)
    # Low-latency speech paths (issue 18), by name: {"graphs": {"speech_to_latent": file, "latent_to_landmarks":
    # file}, "contexts": {graph: [left, right]} (measured receptive fields), "lookahead_ms", "config" (sizes),
    # "steps" (training), "speakers" (the condition rows its graphs hold); checked by voice_files.check_spec_contents
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    sdk_version: str = __version__
    format: str = FORMAT
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self._check_language_speakers()

    def _check_language_speakers(self) -> None:
        from uniflg.text.charset import LANGUAGES

        if not isinstance(self.language_speakers, dict):
            raise ModelFormatError(f"voice {self.name!r}: language_speakers must be an object "
                                   f"{{language: speaker}}; got {self.language_speakers!r}")
        for language, speaker in self.language_speakers.items():
            if language not in LANGUAGES:
                raise ModelFormatError(f"voice {self.name!r}: language_speakers names language {language!r}; "
                                       f"the text front end reads {', '.join(LANGUAGES)}")
            if speaker not in self.speakers:
                raise ModelFormatError(f"voice {self.name!r}: language_speakers[{language!r}] names speaker "
                                       f"{speaker!r}, which the voice does not have; it has: "
                                       f"{', '.join(self.speakers)}")
            stored = self.latents.get("speaker", {})
            if self.config.variant.conditioning == "emotion" and speaker not in stored:
                raise ModelFormatError(f"voice {self.name!r}: language_speakers[{language!r}] names speaker "
                                       f"{speaker!r}, which has no stored latent (UniFLG-AS picks a speaker by "
                                       f"its latent); stored: {', '.join(stored) or 'none'}")

    def speaker_for(self, language: str | None) -> str | None:
        """The speaker that reads text of ``language`` by default (``language_speakers``), or None: the first."""
        return self.language_speakers.get(language) if language is not None else None

    @property
    def speakers(self) -> tuple[str, ...]:
        """The speaker names a request may give: the model's (UniFLG: the rows of g). UniFLG-AS, whose z_u is the
        speaker, adds those it only stores a latent for: talkers the model never had a row for (the paper's
        answer for unseen speakers; ``uniflg export --latents-from`` a corpus of them)."""
        names = self.config.speakers
        stored = self.latents.get("speaker", {}) if isinstance(self.latents, dict) else {}
        if self.config.variant.conditioning == "emotion" and isinstance(stored, dict):
            names += tuple(n for n in stored if n not in names)
        return names

    @property
    def emotions(self) -> tuple[str, ...]:
        return self.config.emotions

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["config"] = self.config.to_dict()
        data["speakers"], data["emotions"] = list(self.speakers), list(self.emotions)
        if not self.language_speakers:  # optional: a voice without one writes the file it was read from
            del data["language_speakers"]
        return json.dumps(data, indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, where: str = VOICE_FILE) -> VoiceSpec:
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ModelFormatError(f"{where}: a voice file is a JSON object; got a JSON {type(data).__name__}")
            if data.get("format") != FORMAT:
                raise ModelFormatError(f"{where}: not a UniFLG voice (format {data.get('format')!r})")
            version = data.get("version")
            if isinstance(version, bool) or not isinstance(version, int) or version < 1:
                raise ModelFormatError(f"{where}: version must be a whole number from 1 (this SDK reads up to "
                                       f"{FORMAT_VERSION}); got {version!r}")
            if version > FORMAT_VERSION:
                raise ModelFormatError(f"{where}: voice format {version} is newer than this SDK reads "
                                       f"({FORMAT_VERSION}); upgrade uniflg")
            data.pop("speakers", None), data.pop("emotions", None)  # derived from the config
            data["config"] = ModelConfig.from_dict(data["config"])
            unknown = set(data) - {f for f in cls.__dataclass_fields__}
            if unknown:
                raise ModelFormatError(f"{where}: unknown fields {sorted(unknown)}")
            try:
                return cls(**data)
            except ModelFormatError as exc:  # a field that contradicts another (language_speakers)
                raise ModelFormatError(f"{where}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeError: JSON that is no object
            raise ModelFormatError(f"{where}: malformed voice file: {exc}") from exc

    def live_graph_files(self) -> dict[str, str]:
        """The live paths' graphs as backend graph names ``PATH/GRAPH`` -> ONNX file."""
        return {f"{path}/{graph}": file for path, entry in self.live.items()
                for graph, file in entry.get("graphs", {}).items()}

    def write(self, folder: Path) -> Path:
        return atomic_write_text(Path(folder) / VOICE_FILE, self.to_json())


def missing_voice_file(folder: Path) -> str:
    """Why ``folder`` holds no voice.json, as the refusals say it: no such folder, a file, or no voice.json."""
    return f"no {VOICE_FILE}" if folder.is_dir() else "a file" if folder.exists() else "no such folder"


def read_spec(folder: str | Path) -> VoiceSpec:
    """The :class:`VoiceSpec` of a voice folder; :class:`ModelFormatError` when it has no valid ``voice.json``."""
    path = Path(folder) / VOICE_FILE
    if not path.is_file():
        raise ModelFormatError(f"not a voice folder ({missing_voice_file(Path(folder))}): {folder}")
    return VoiceSpec.from_json(path.read_text(encoding="utf-8"), str(path))
