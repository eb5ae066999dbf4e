"""``uniflg export --format onnx|tensorrt (--checkpoint PATH | --voice PATH) -o DIR``."""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from uniflg import argtypes

if TYPE_CHECKING:
    from uniflg.model.system import UniFLG
    from uniflg.voice_spec import VoiceSpec

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint or voice to ONNX graphs or TensorRT engines",
                       description="Write a voice folder (voice.json + split ONNX graphs + model.safetensors); "
                                   "with --format tensorrt also build fp32/fp16 engines for this GPU.")
    p.add_argument("--format", choices=("onnx", "tensorrt"), default="onnx")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=argtypes.path, help="checkpoint directory or .safetensors file")
    src.add_argument("--voice", type=argtypes.path, help="voice folder with model.safetensors")
    p.add_argument("-o", "--output", type=argtypes.path, required=True, help="voice folder to write")
    p.add_argument("--name", type=argtypes.name,
                   help="voice name, 1 to 128 characters (default: a voice's own name, or the run folder's)")
    p.add_argument("--latents", type=argtypes.path, help='JSON {"emotion": {name: [z_u...]}} stored in voice.json')
    p.add_argument("--latents-from", type=argtypes.path, metavar="DATA",
                   help="compute the per-emotion (UniFLG-AS: per-speaker) mean z_u from this corpus's train split")
    p.add_argument("--language-speaker", action="append", default=[], metavar="LANG=SPEAKER",
                   help="speaker that reads LANG when a call names none (repeatable; voice.json language_speakers). "
                        "Default: with --latents-from, per language other than Japanese the speaker with the most "
                        "unpaired items of it in the corpus; else carried over from --voice")
    p.add_argument("--live-from", type=argtypes.path, metavar="VOICE",
                   help="copy VOICE's live speech paths into the new voice; refused unless the speech path they were "
                        "distilled from is the same (posterior, flow, utterance encoder, landmark decoder, the first "
                        "speaker's row and stored latent: equal at the stored precision), e.g. after `train vits "
                        "--freeze` (docs/training.md)")
    p.add_argument("--speech-path-from", type=argtypes.path, metavar="SOURCE",
                   help="take the speech path's own modules (posterior, landmark decoder) from SOURCE, a checkpoint "
                        "or voice folder, keeping the text path of --checkpoint; refused unless the modules both "
                        "paths read (flow, utterance encoder, z_u projection, SOURCE's speaker rows) are equal, "
                        "e.g. after `train vits --freeze flow,utterance,u_projection,g_embedding` (docs/export.md)")
    p.add_argument("--precision", choices=("fp32", "fp16", "both"), default="both", help="TensorRT engines")
    p.add_argument("--no-weights", action="store_true", help="leave model.safetensors out (ONNX-only voice)")
    p.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime vs torch check")
    p.add_argument("--half-weights", action="store_true",
                   help="store weights as float16 (half the size; inference still runs in float32)")
    p.set_defaults(func=run)


def carry_voice_extras(old: VoiceSpec, source: Path, out: Path, calibration: bool = True,
                       record_speakers: bool = False) -> list[str]:
    """Re-exporting a voice folder (``--voice``) keeps what was made from the same weights: its live speech paths
    (their ONNX files and voice.json entries) and its face calibration (``calibration``; ``--live-from`` carries
    the live paths alone). ``old`` is the source's spec as read
    before the export, since ``out`` may be ``source`` itself. Returns what was carried."""
    import shutil
    from dataclasses import replace

    from uniflg.voice_spec import read_spec

    new = read_spec(out)
    carried = []
    if source.resolve() != out.resolve():  # into itself, the live graphs are already in place
        for file in old.live_graph_files().values():
            shutil.copy2(source / file, out / file)
    if old.live:
        live = dict(old.live)
        if record_speakers:  # the rows the live graphs hold, now that the voice may have more
            live = {path: {"speakers": list(old.config.condition_names), **entry} for path, entry in live.items()}
        new = replace(new, live=live)
        carried.append("live paths " + ", ".join(old.live))
    if calibration and old.face_calibration is not None and new.face_calibration is None:
        new = replace(new, face_calibration=old.face_calibration)
        carried.append("face calibration")
    if carried:
        new.write(out)
    return carried


def staging_folder(output: Path) -> Path:
    """A fresh hidden folder beside ``output`` to export into (a killed export's leftover is removed).
    InvalidInputError when ``output`` is a file or a folder that holds something other than a voice."""
    from uniflg.errors import InvalidInputError

    if output.exists() and not output.is_dir():
        raise InvalidInputError(f"-o {output} is a file; give a voice folder (new, or a voice to replace)")
    if output.is_dir() and any(output.iterdir()) and not (output / "voice.json").is_file():
        raise InvalidInputError(f"-o {output} is not empty and holds no voice (no voice.json); give a new folder")
    staged = output.parent / f".{output.name}.export-partial"
    shutil.rmtree(staged, ignore_errors=True)
    try:
        staged.mkdir(parents=True)
    except OSError as exc:
        raise InvalidInputError(f"-o {output} cannot be written ({exc.strerror or exc})") from None
    return staged


def swap_in(staged: Path, output: Path) -> Path:
    """Replace ``output`` by the complete ``staged`` folder: two renames, the old voice removed last."""
    old = output.parent / f".{output.name}.export-old"
    shutil.rmtree(old, ignore_errors=True)
    if output.exists():
        output.rename(old)
    staged.rename(output)
    shutil.rmtree(old, ignore_errors=True)
    return output


def warn_replaced_extras(output: Path, source_voice: Path | None, keeps_live: Path | None = None) -> None:
    """Exporting over an existing voice folder replaces its voice.json: say what that drops (its live paths and
    face calibration), unless they come back from ``--voice`` being that same folder."""
    from uniflg.errors import ModelFormatError
    from uniflg.voice_spec import read_spec

    same = source_voice is not None and source_voice.resolve() == output.resolve()
    if same or not (output / "voice.json").is_file():
        return
    try:
        old = read_spec(output)
    except (ModelFormatError, OSError, ValueError):  # a broken folder has nothing worth keeping
        return
    live_kept = keeps_live is not None and keeps_live.resolve() == output.resolve()
    lost = (["live paths " + ", ".join(old.live)] if old.live and not live_kept else []) + \
        (["face calibration"] if old.face_calibration is not None else [])
    if lost:
        log.warning("%s is a voice folder: exporting over it drops its %s (export elsewhere, or re-export that "
                    "voice with --voice to keep them)", output, " and ".join(lost))


def read_latents(path: Path) -> dict[str, dict[str, list[float]]]:
    """``--latents FILE`` -> its table; InvalidInputError (one line) for a missing file, bad JSON or another shape."""
    from uniflg.errors import InvalidInputError

    accepted = 'JSON {"emotion" or "speaker": {name: [finite numbers]}}'
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"--latents {path}: cannot read it ({exc.strerror or exc}); "
                                f"it takes {accepted}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"--latents {path}: not JSON ({exc}); it takes {accepted}") from None
    if not (isinstance(table, dict) and table and set(table) <= {"emotion", "speaker"}
            and all(isinstance(names, dict) and names and all(
                isinstance(z, list) and z and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                  and math.isfinite(x) for x in z)
                for z in names.values()) for names in table.values())):
        raise InvalidInputError(f"--latents {path}: not {accepted}")
    return table


SPEECH_PATH_MODULES = ("posterior", "flow", "utterance", "u_projection", "landmark_decoder")


def check_same_speech_path(model: UniFLG, latents: dict[str, dict[str, list[float]]] | None, source: Path,
                           half: bool) -> VoiceSpec:
    """``--live-from``: the spec of ``source`` when its live paths fit ``model`` (what a live path is distilled from,
    rounded to float16 when ``half``, equals ``model``'s); InvalidInputError naming what differs."""
    import torch
    from uniflg.errors import InvalidInputError, ModelFormatError
    from uniflg.model.io import load_model
    from uniflg.voice_spec import read_spec

    from uniflg_train.export.speech_path import module_differs, rows_differ

    try:
        spec = read_spec(source)
    except ModelFormatError as exc:
        raise InvalidInputError(f"--live-from {source}: {exc}") from None
    if not spec.live:
        raise InvalidInputError(f"--live-from {source}: it has no live paths to carry")
    if not spec.weights:
        raise InvalidInputError(f"--live-from {source}: it has no model.safetensors to compare the speech path with")
    theirs = load_model(source / spec.weights, config=spec.config).eval()

    def same(a: torch.Tensor, b: torch.Tensor) -> bool:
        return a.shape == b.shape and bool(torch.equal(a.half(), b.half()) if half else torch.equal(a, b))

    differ = [name for name in SPEECH_PATH_MODULES if module_differs(getattr(model, name), getattr(theirs, name), same)]
    # the live graphs hold the rows of the voice they were distilled from: the same names first, rows equal
    if rows_differ(model, theirs, same):
        differ.append(f"the rows of {', '.join(spec.config.condition_names)}")
    if differ:
        fix = "" if half else " at float32 (add --half-weights for a half-weight voice)"
        raise InvalidInputError(f"--live-from {source}: its live paths were distilled from another speech path "
                                f"({'; '.join(differ)}{fix}); distil them again: python -m uniflg_train.live train "
                                "(docs/training.md)")
    first = next((next(iter(t.values())) for t in (latents or {}).values() if t), None)
    their_first = next((next(iter(t.values())) for t in spec.latents.values() if t), None)
    if first != their_first:
        raise InvalidInputError(f"--live-from {source}: the live paths read the first stored latent of {source}, and "
                                "this export stores another one: pass that voice's latents with --latents")
    return spec


def check_latents(table: dict[str, dict[str, list[float]]], model: UniFLG, path: Path) -> None:
    """``--latents`` against the model: the kind its names select (UniFLG: emotion, UniFLG-AS: speaker) and z_u's
    size; InvalidInputError naming what does not fit."""
    from uniflg.errors import InvalidInputError

    kind = "speaker" if model.cfg.variant.conditioning == "emotion" else "emotion"
    if set(table) != {kind}:
        raise InvalidInputError(f"--latents {path}: a {model.cfg.variant.name} model's latents are named by {kind}; "
                                f"the file has {', '.join(sorted(table))}")
    known = model.cfg.speakers if kind == "speaker" else model.cfg.emotions
    if unknown := sorted(set(table[kind]) - set(known)):
        raise InvalidInputError(f"--latents {path}: the model has no {kind} {', '.join(map(repr, unknown))}; its "
                                f"{kind}s are {', '.join(known)}")
    size = model.cfg.vits.utterance_dim
    wrong = [f"{kind} {name} has {len(z)}" for kind, names in table.items() for name, z in names.items()
             if len(z) != size]
    if wrong:
        raise InvalidInputError(f"--latents {path}: each latent needs {size} numbers (the model's z_u size); "
                                f"{', '.join(wrong)}")


def run(args: argparse.Namespace) -> int:
    from uniflg_train.export.language_speakers import (
        check_language_speakers,
        corpus_language_speakers,
        parse_language_speakers,
    )
    from uniflg_train.export.onnx_export import export_onnx, load_source_model

    named = parse_language_speakers(args.language_speaker)  # bad text: exit 2 before any work
    if args.live_from is not None and args.voice is not None:
        from uniflg.errors import InvalidInputError

        raise InvalidInputError("--live-from goes with --checkpoint; re-exporting a --voice keeps its own live paths")
    if args.speech_path_from is not None and args.voice is not None:
        from uniflg.errors import InvalidInputError

        raise InvalidInputError("--speech-path-from goes with --checkpoint (the text side to keep)")
    if args.format == "tensorrt":  # before anything is written: -o keeps its voice when TensorRT is missing
        from uniflg_train.export.tensorrt_build import check_available

        check_available()
    if args.checkpoint is not None:
        _warn_stage1(args.checkpoint)
    if args.latents_from is not None:
        from uniflg_train.data.preprocess import check_corpus_folder

        check_corpus_folder(args.latents_from, "--latents-from")
    stored = read_latents(args.latents) if args.latents else None
    model, carried = load_source_model(args.checkpoint, args.voice)
    if args.speech_path_from is not None:
        from uniflg_train.export.speech_path import take_speech_path

        taken = take_speech_path(model, args.speech_path_from)
        log.info("speech path from %s: %s", args.speech_path_from,
                 ", ".join(taken) if taken else "already the same, nothing taken")
    if named:
        language_speakers = check_language_speakers(named, model.cfg.speakers)
    elif args.latents_from is not None:
        language_speakers = corpus_language_speakers(args.latents_from, model.cfg.speakers)
    else:
        language_speakers = carried.get("language_speakers", {})
    if stored is not None:
        check_latents(stored, model, args.latents)
    latents = stored if stored is not None else carried.get("latents")
    if args.latents_from is not None:
        from uniflg_train.export.latents import utterance_latents

        latents = utterance_latents(model, args.latents_from)
    live_source = (check_same_speech_path(model, latents, args.live_from, args.half_weights)
                   if args.live_from is not None else None)
    warn_replaced_extras(args.output, args.voice, keeps_live=args.live_from)
    if not latents and model.cfg.variant.conditioning == "speaker":
        log.warning("the voice stores no emotion latents: it will speak with the mean utterance latent (zeros), and "
                    "--emotion NAME will be refused; pass --latents-from CORPUS (or --latents FILE) to store them")
    staged = staging_folder(args.output)
    # everything is written beside -o and swapped in at the end: an interrupted export leaves the old voice whole,
    # and a failed or interrupted one removes its hidden folder
    try:
        out = export_onnx(model, staged, args.name or carried["name"], latents, carried.get("language", "auto"),
                          include_weights=not args.no_weights, verify=not args.no_verify,
                          half_weights=args.half_weights, language_speakers=language_speakers)
        if args.voice is not None:  # read from the source, which stays as it was until the swap
            carried_over = carry_voice_extras(carried["spec"], args.voice, out)
            if carried_over:
                log.info("carried over from %s: %s", args.voice, ", ".join(carried_over))
        if live_source is not None:
            carried_over = carry_voice_extras(live_source, args.live_from, out, calibration=False,
                                              record_speakers=True)
            log.info("carried over from %s: %s", args.live_from, ", ".join(carried_over))
        out = swap_in(staged, args.output)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone after the swap; a leftover otherwise
    log.info("wrote voice %s (default speaker per language: %s)", out, language_speakers or "none")
    if args.format == "tensorrt":
        from uniflg_train.export.tensorrt_build import build_engines

        precisions = ("fp32", "fp16") if args.precision == "both" else (args.precision,)
        for path in build_engines(out, precisions):
            log.warning("engine %s", path)
    return 0


def _warn_stage1(checkpoint: Path) -> None:
    """A stage-1 run (or one of its checkpoints) exports, but its face decoder was never trained: say so."""
    from uniflg_train.checkpoint import split_run
    from uniflg_train.trainer.common import INIT_RECORD, is_stage1_run

    run = split_run(checkpoint)[0]
    started = json.loads((run / INIT_RECORD).read_text(encoding="utf-8")) if (run / INIT_RECORD).is_file() else {}
    if is_stage1_run(run) and started and "landmark_decoder" not in started.get("init_skip", ()):
        log.info("%s is a stage-1 run started from %s: its face decoder is that model's (stage 1 never trains it)",
                 checkpoint, started.get("init_from"))  # a voice or run: its decoder came along
    elif is_stage1_run(run):
        log.warning("%s is a stage-1 run: its face decoder was never trained, so the voice's landmarks (and a face "
                    "calibration of them) mean nothing; fine for speech-only checks, else export the stage-2 run "
                    "(uniflg train landmarks --vits %s)", checkpoint, run)
