"""Checks of a voice folder's files before anything is built from them.

A voice folder comes from a download, a git checkout or a colleague: any file may be a git-lfs pointer, cut
short, or crafted. Everything here reads headers only (a few bytes of each graph, the JSON header of the
safetensors file) and raises :class:`~uniflg.errors.ModelFormatError` naming the file and what is wrong:

* every file ``voice.json`` names must be a plain relative name that resolves inside the folder;
* a git-lfs pointer is recognized and named (``git lfs pull`` fetches the real file);
* an ONNX graph must be a complete protobuf message at the top level (a truncated or cut graph is not);
* a safetensors file must have a sane header length, and tensors that lie inside the file;
* a model config must stay within :data:`CONFIG_LIMITS` (a 1.5 KB file must not ask for gigabytes).

Example::

    from uniflg.voice_files import check_voice_folder

    spec = check_voice_folder(Path("my-voice"))   # VoiceSpec, or ModelFormatError
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg.audio_file import SAMPLE_RATE_RANGE
from uniflg.config import ModelConfig
from uniflg.errors import ModelFormatError

if TYPE_CHECKING:
    from uniflg.voice_spec import VoiceSpec

LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
MAX_SPEC_BYTES = 16 << 20  # voice.json
MAX_SAFETENSORS_HEADER = 100 << 20  # the format's own reference reader refuses headers over 100 MB
MAX_PARAMETERS = 500_000_000  # 2 GB of float32 weights: far above any UniFLG configuration
SAFETENSORS_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2,
                           "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
# Upper bounds of a config's integer fields, by the end of the field name (first match wins). The paper's
# configuration uses at most 768 channels and 16 layers.
CONFIG_LIMITS: tuple[tuple[str, int], ...] = (
    ("sample_rate", SAMPLE_RATE_RANGE[1]), ("channels", 4096), ("channel", 4096), ("layers", 64),
    ("couplings", 64), ("heads", 64), ("kernel", 255), ("kernel_size", 255), ("n_symbols", 65536),
    ("n_points", 1024), ("fps", 240), ("dim", 4096), ("streams", 64), ("frames", 65536),
    ("window_size", 1024), ("n_fft", 65536), ("hop", 65536), ("hop_length", 65536), ("win_length", 65536),
    ("n_mels", 1024), ("dilation", 1024), ("", 1 << 16),
)
MAX_NAMES = 4096  # speakers / emotions


def check_not_lfs_pointer(path: Path) -> None:
    """A git-lfs pointer (a ~130-byte text file standing in for a large file) -> ModelFormatError."""
    with open(path, "rb") as fh:
        head = fh.read(len(LFS_MAGIC))
    if head == LFS_MAGIC:
        raise ModelFormatError(f"{path} is a git-lfs pointer, not the file itself: run `git lfs pull` in the "
                               "repository it came from (or download the real file)")


def contained_file(folder: Path, name: Any, what: str) -> Path:
    """``folder / name`` when ``name`` is a plain relative path that stays inside ``folder`` (after symlinks)
    and is a regular file; else ModelFormatError."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ModelFormatError(f"{folder}: {what} must be a file name; got {name!r}")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ModelFormatError(f"{folder}: {what} {name!r} must be a file inside the voice folder")
    path = folder / name
    try:
        real, root = path.resolve(strict=True), folder.resolve(strict=True)
    except FileNotFoundError:
        raise ModelFormatError(f"{folder}: {what} {name!r} is missing") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise ModelFormatError(f"{folder}: {what} {name!r} cannot be resolved ({exc})") from exc
    if not real.is_relative_to(root):
        raise ModelFormatError(f"{folder}: {what} {name!r} points outside the voice folder (to {real})")
    if not real.is_file():
        raise ModelFormatError(f"{folder}: {what} {name!r} is not a regular file")
    return path


# ---- ONNX -------------------------------------------------------------------------------------------------------
def _varint(fh: Any) -> int | None:
    """One protobuf varint from ``fh``; None at a clean end of file."""
    value, shift = 0, 0
    while True:
        b = fh.read(1)
        if not b:
            if shift == 0:
                return None
            raise ValueError("the file ends inside a field header")
        value |= (b[0] & 0x7F) << shift
        if b[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise ValueError("a field header is longer than 10 bytes")


def check_onnx_file(path: Path) -> None:
    """Walk the top-level fields of an ONNX ModelProto without decoding them: every field must lie inside the
    file and a graph (field 7) must be present. A truncated graph, a cut file or another format fails here."""
    check_not_lfs_pointer(path)
    size = path.stat().st_size
    seen: set[int] = set()
    try:
        with open(path, "rb") as fh:
            while (tag := _varint(fh)) is not None:
                field_no, wire = tag >> 3, tag & 7
                if field_no == 0:
                    raise ValueError("field number 0")
                if wire == 0:
                    if _varint(fh) is None:
                        raise ValueError("the file ends inside a number")
                    skip = 0
                elif wire == 2:
                    length = _varint(fh)
                    if length is None:
                        raise ValueError("the file ends inside a length")
                    skip = length
                elif wire in (1, 5):
                    skip = 8 if wire == 1 else 4
                else:
                    raise ValueError(f"field {field_no} has wire type {wire}")
                if fh.tell() + skip > size:
                    raise ValueError(f"field {field_no} needs {fh.tell() + skip - size} bytes past the end "
                                     "of the file (the file is truncated)")
                fh.seek(skip, 1)
                seen.add(field_no)
    except ValueError as exc:
        raise ModelFormatError(f"{path} is not a complete ONNX model: {exc}") from None
    if 7 not in seen:
        raise ModelFormatError(f"{path} is not an ONNX model (no graph in it)")


# ---- safetensors ------------------------------------------------------------------------------------------------
def read_safetensors_header(path: Path) -> tuple[dict[str, str], int]:
    """-> (metadata, total tensor elements) after checking the header: its length is sane, it is a JSON object,
    every tensor's dtype is known and its bytes lie inside the file and match its shape."""
    check_not_lfs_pointer(path)
    size = path.stat().st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise ModelFormatError(f"{path}: not a safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_SAFETENSORS_HEADER or n > size - 8:
            raise ModelFormatError(f"{path}: safetensors header length {n} bytes is impossible for a {size}-byte "
                                   f"file (at most {min(MAX_SAFETENSORS_HEADER, max(size - 8, 0))}); "
                                   "the file is truncated or not safetensors")
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelFormatError(f"{path}: the safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFormatError(f"{path}: the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data_bytes, elements = size - 8 - n, 0
    for name, t in header.items():
        elements += _check_tensor_entry(path, name, t, data_bytes)
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ModelFormatError(f"{path}: the safetensors metadata must map names to strings")
    return metadata, elements


def _check_tensor_entry(path: Path, name: str, t: Any, data_bytes: int) -> int:
    try:
        dtype, shape, (begin, end) = t["dtype"], t["shape"], t["data_offsets"]
        itemsize = SAFETENSORS_DTYPE_BYTES[dtype]
        if not all(isinstance(d, int) and d >= 0 for d in shape) or not isinstance(begin, int):
            raise ValueError("bad shape or offsets")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{path}: tensor {name!r} has a malformed header entry ({exc})") from None
    count = math.prod(shape)
    if not 0 <= begin <= end <= data_bytes:
        raise ModelFormatError(f"{path}: tensor {name!r} lies at bytes {begin}-{end} but the file holds "
                               f"{data_bytes} bytes of data (the file is truncated)")
    if end - begin != count * itemsize:
        raise ModelFormatError(f"{path}: tensor {name!r} {dtype}{shape} needs {count * itemsize} bytes; "
                               f"the header gives it {end - begin}")
    return count


# ---- configs ----------------------------------------------------------------------------------------------------
def check_config_limits(cfg: ModelConfig, where: str = "config") -> None:
    """Every integer of the config positive and within :data:`CONFIG_LIMITS`; else ModelFormatError."""
    for field_path, value in _config_ints(cfg, ""):
        leaf = re.sub(r"\[\d+\]", "", field_path.rsplit(".", 1)[-1])
        limit = next(lim for suffix, lim in CONFIG_LIMITS if leaf.endswith(suffix))
        if not 0 <= value <= limit:
            raise ModelFormatError(f"{where}: {field_path} = {value} is outside the sane range [0, {limit}]")
    lo, hi = SAMPLE_RATE_RANGE
    if not lo <= cfg.audio.sample_rate <= hi:
        raise ModelFormatError(f"{where}: audio.sample_rate {cfg.audio.sample_rate} is not in {lo}-{hi} Hz")
    if cfg.audio.hop_length < 1 or cfg.landmarks.fps < 1:
        raise ModelFormatError(f"{where}: audio.hop_length and landmarks.fps must be positive")
    for kind in ("speakers", "emotions"):
        names = getattr(cfg, kind)
        if not 1 <= len(names) <= MAX_NAMES:
            raise ModelFormatError(f"{where}: {len(names)} {kind}; 1 to {MAX_NAMES} are accepted")


def _config_ints(obj: Any, prefix: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            out += _config_ints(getattr(obj, f.name), f"{prefix}.{f.name}" if prefix else f.name)
    elif isinstance(obj, tuple | list):
        # lists of sizes (per-layer channels, kernels) are short; names (speakers, emotions) have MAX_NAMES
        if len(obj) > 64 and not all(isinstance(v, str) for v in obj):
            raise ModelFormatError(f"config: {prefix} has {len(obj)} entries; at most 64")
        for i, v in enumerate(obj):
            out += _config_ints(v, f"{prefix}[{i}]")
    elif isinstance(obj, int) and not isinstance(obj, bool):
        out.append((prefix, obj))
    return out


def check_model_file(path: Path, config_keys: tuple[str, ...]) -> ModelConfig:
    """The config of a model safetensors file, checked against :data:`CONFIG_LIMITS` before anything is built;
    ``config_keys``: metadata keys that may hold the config JSON, in order of preference."""
    metadata, _ = read_safetensors_header(path)
    text = next((metadata[k] for k in config_keys if k in metadata), None)
    if text is None:
        raise ModelFormatError(f"{path}: no model config in the safetensors metadata ({' or '.join(config_keys)}); "
                               "not a UniFLG model file")
    try:
        cfg = ModelConfig.from_json(text)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{path}: malformed model config ({exc})") from exc
    check_config_limits(cfg, str(path))
    return cfg


# ---- voice.json's own fields --------------------------------------------------------------------------------------
WINDOWED_GRAPHS = ("inverse_flow", "latent_to_speech", "latent_to_landmarks", "speech_to_latent")  # have contexts
LIVE_GRAPHS = ("speech_to_latent", "latent_to_landmarks")  # the graphs of a live speech path
LIVE_FIELDS = {"graphs", "contexts", "lookahead_ms", "config", "steps", "speakers"}
LATENT_KINDS = {"emotion": "emotions", "speaker": "speakers"}  # latents kind -> the config's names


def _whole(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _numbers(value: Any, size: int) -> bool:
    """A list of ``size`` finite numbers."""
    return (isinstance(value, list) and len(value) == size
            and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in value))


def _object(value: Any, where: str, field: str, meaning: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelFormatError(f"{where}: {field} must be a JSON object ({meaning}); got {type(value).__name__}")
    return value


def check_spec_contents(spec: VoiceSpec, where: str) -> None:
    """The fields of ``voice.json`` beyond the model config, by type, size and name (graph receptive fields,
    live paths, stored latents, neutral face, face calibration); ModelFormatError naming the field and what is
    accepted. The files they name are checked by :func:`check_voice_folder`."""
    cfg = spec.config
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise ModelFormatError(f"{where}: name must be a non-empty string; got {spec.name!r}")
    from uniflg.text.charset import LANGUAGES

    if spec.language not in ("auto", *LANGUAGES):
        raise ModelFormatError(f"{where}: language must be auto or one of {', '.join(LANGUAGES)}; got "
                               f"{spec.language!r}")
    graphs = _object(spec.graphs, where, "graphs", "graph name -> ONNX file")
    known = ("text_encoder", *WINDOWED_GRAPHS, "utterance_encoder")
    if unknown := sorted(set(graphs) - set(known)):
        raise ModelFormatError(f"{where}: graphs names {unknown}; a voice's graphs are {', '.join(known)}")
    contexts = _object(spec.contexts, where, "contexts", "windowed graph -> receptive field in frames")
    need = [g for g in WINDOWED_GRAPHS if g in graphs or not graphs]  # torch-only voices stream with them too
    if (not set(need) <= set(contexts) <= set(WINDOWED_GRAPHS)
            or not all(_whole(frames, 0) for frames in contexts.values())):
        raise ModelFormatError(f"{where}: contexts must give each windowed graph ({', '.join(need)}) its measured "
                               f"receptive field, a whole number of frames >= 0; got {spec.contexts!r}")
    for path, entry in _object(spec.live, where, "live", "speech path name -> its graphs").items():
        _check_live_path(f"{where}: live[{path!r}]", entry)
    latents = _object(spec.latents, where, "latents", "emotion/speaker -> name -> z_u")
    for kind, stored in latents.items():
        if kind not in LATENT_KINDS:
            raise ModelFormatError(f"{where}: latents holds {kind!r}; the kinds are {', '.join(LATENT_KINDS)}")
        names = getattr(cfg, LATENT_KINDS[kind])
        for name, z in _object(stored, where, f"latents[{kind!r}]", f"{kind} name -> z_u").items():
            # UniFLG-AS: z_u is the speaker, so a stored speaker may be one the model never had a row for (the
            # paper's answer for unseen speakers: export --latents-from a corpus of them)
            if name not in names and kind != "speaker":
                raise ModelFormatError(f"{where}: latents[{kind!r}] stores {name!r}, which is not one of the "
                                       f"voice's {LATENT_KINDS[kind]} ({', '.join(names)})")
            if not _numbers(z, cfg.vits.utterance_dim):
                raise ModelFormatError(f"{where}: latents[{kind!r}][{name!r}] must be {cfg.vits.utterance_dim} finite "
                                       "numbers (config vits.utterance_dim)")
    face = spec.neutral_face
    if face is not None and not (isinstance(face, list) and len(face) == cfg.landmarks.n_points
                                 and all(_numbers(p, 2) for p in face)):
        raise ModelFormatError(f"{where}: neutral_face must be {cfg.landmarks.n_points} [x, y] pairs of finite "
                               "numbers (config landmarks.n_points)")
    if spec.face_calibration is not None:
        from uniflg.errors import InvalidInputError
        from uniflg.retarget import Calibration

        try:
            Calibration.from_dict(_object(spec.face_calibration, where, "face_calibration", "uniflg calibrate-face"))
        except InvalidInputError as exc:
            raise ModelFormatError(f"{where}: face_calibration: {exc} (rewrite it: uniflg calibrate-face)") from None


def _check_live_path(where: str, entry: Any) -> None:
    entry = _object(entry, where.split(": ", 1)[0], where.split(": ", 1)[1], "graphs, contexts, lookahead_ms")
    if unknown := sorted(set(entry) - LIVE_FIELDS):
        raise ModelFormatError(f"{where}: unknown fields {unknown}; a live path has {', '.join(sorted(LIVE_FIELDS))}")
    graphs, contexts = entry.get("graphs"), entry.get("contexts")
    if not isinstance(graphs, dict) or sorted(graphs) != sorted(LIVE_GRAPHS):
        raise ModelFormatError(f"{where}: graphs must name exactly {' and '.join(LIVE_GRAPHS)}; got {graphs!r}")
    if (not isinstance(contexts, dict) or sorted(contexts) != sorted(LIVE_GRAPHS)
            or not all(isinstance(c, list) and len(c) == 2 and all(_whole(x, 0) for x in c)
                       for c in contexts.values())):
        raise ModelFormatError(f"{where}: contexts must give {' and '.join(LIVE_GRAPHS)} each [left, right] "
                               f"frames, whole numbers >= 0; got {contexts!r}")
    speakers = entry.get("speakers", [])
    if not isinstance(speakers, list) or not all(isinstance(n, str) and n for n in speakers):
        raise ModelFormatError(f"{where}: speakers must list the condition names its graphs hold; got {speakers!r}")
    ms = entry.get("lookahead_ms")
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not (math.isfinite(ms) and ms > 0):
        raise ModelFormatError(f"{where}: lookahead_ms must be a positive number of milliseconds; got {ms!r}")


def check_weights_config(spec: ModelConfig, weights: ModelConfig, where: str) -> None:
    """The torch backend builds its model from the config stored in the weights: voice.json's config must agree on
    what the runtime reads from it (rates, sizes, names), else ModelFormatError naming the first difference."""
    fields = {"audio.sample_rate": lambda c: c.audio.sample_rate, "audio.hop_length": lambda c: c.audio.hop_length,
              "landmarks.fps": lambda c: c.landmarks.fps, "landmarks.n_points": lambda c: c.landmarks.n_points,
              "vits.inter_channels": lambda c: c.vits.inter_channels,
              "vits.utterance_dim": lambda c: c.vits.utterance_dim, "speakers": lambda c: tuple(c.speakers),
              "emotions": lambda c: tuple(c.emotions), "variant": lambda c: c.variant.name}
    for name, read in fields.items():
        if read(spec) != read(weights):
            raise ModelFormatError(f"{where}: voice.json's config gives {name} = {read(spec)!r}, but the weights were "
                                   f"trained with {read(weights)!r} (a config edited after export, or another "
                                   "model's weights)")


def _is_link(folder: Path, name: Any) -> bool:
    return isinstance(name, str) and "\x00" not in name and (folder / name).is_symlink()


# ---- the folder -------------------------------------------------------------------------------------------------
def check_voice_folder(folder: Path, stored_calibration: bool = True) -> VoiceSpec:
    """Read ``voice.json`` and check every file it names (see the module docstring) -> the VoiceSpec. A file this
    process may not read is a ModelFormatError naming it, like any other fault of the folder. ``stored_calibration``
    False: its ``face_calibration`` is neither checked nor kept (``uniflg calibrate-face`` replaces it, so a
    malformed one must not stop it)."""
    try:
        return _check_voice_folder(Path(folder), stored_calibration)
    except PermissionError as exc:
        raise ModelFormatError(f"{exc.filename or folder}: cannot be read ({exc.strerror}); a voice folder's "
                               "files must be readable by the user running uniflg") from None


def _check_voice_folder(folder: Path, stored_calibration: bool) -> VoiceSpec:
    from uniflg.voice_spec import VOICE_FILE, VoiceSpec, missing_voice_file

    folder = Path(folder)
    try:
        folder.is_dir()  # Python 3.11 raises for a name too long, where it answers False for a missing one
    except OSError as exc:
        raise ModelFormatError(f"not a voice folder ({exc.strerror or exc}): {folder}") from None
    spec_path = folder / VOICE_FILE
    if not spec_path.is_file():
        raise ModelFormatError(f"not a voice folder ({missing_voice_file(folder)}): {folder}")
    contained_file(folder, VOICE_FILE, VOICE_FILE)  # like every file it names: no link out of the folder
    check_not_lfs_pointer(spec_path)
    if spec_path.stat().st_size > MAX_SPEC_BYTES:
        raise ModelFormatError(f"{spec_path} is {spec_path.stat().st_size} bytes; at most {MAX_SPEC_BYTES}")
    try:
        text = spec_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{spec_path} is not UTF-8 text ({exc})") from None
    spec = VoiceSpec.from_json(text, str(spec_path))
    if not stored_calibration:
        spec = dataclasses.replace(spec, face_calibration=None)
    check_config_limits(spec.config, str(spec_path))
    check_spec_contents(spec, str(spec_path))
    for graph, name in spec.graphs.items():
        check_onnx_file(contained_file(folder, name, f"graph {graph!r}"))
    for graph, name in spec.live_graph_files().items():  # the live paths' graphs obey the same rules
        check_onnx_file(contained_file(folder, name, f"live graph {graph!r}"))
    if spec.weights is not None and ((folder / str(spec.weights)).exists() or _is_link(folder, spec.weights)):
        read_safetensors_header(contained_file(folder, spec.weights, "weights"))  # optional: torch backend only
    if not spec.graphs and spec.weights is None:
        raise ModelFormatError(f"{spec_path} names no ONNX graphs and no weights: nothing to run")
    return spec


__all__ = ["CONFIG_LIMITS", "check_config_limits", "check_model_file", "check_not_lfs_pointer", "check_onnx_file",
           "check_spec_contents", "check_voice_folder", "check_weights_config", "contained_file",
           "read_safetensors_header"]
