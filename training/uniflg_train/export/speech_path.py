"""``uniflg export --speech-path-from SOURCE``: one voice from two trainings that share a latent space.

A text path trained further on a new language (``train vits --init-from ... --freeze flow,utterance,u_projection,
g_embedding``) may have let its posterior learn; at run time the text path never reads the posterior, but the
speech path (speech -> posterior -> z -> landmark decoder) does, and the speech path tuned on real people's speech
(stage 2, ``--tune-posterior``) follows real lips better. This takes the speech path's own modules from SOURCE and
keeps the text path's; the modules both paths read must already be the same, or the two halves would not meet in
one latent space.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from uniflg.model.system import UniFLG

# the speech path's own modules: taken from the source
TAKEN_MODULES = ("posterior", "landmark_decoder")
# read by both paths (the flow maps the prior's samples into the posterior's space; z_u's encoder and projection
# and g's rows condition both): must already be equal
SHARED_MODULES = ("flow", "utterance", "u_projection")


def equal_at_stored_precision(mine: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Equal, or, where either side holds float16 values (a half-weight voice), equal once both are rounded to
    float16."""
    import torch

    def is_half(t: torch.Tensor) -> bool:
        return bool(torch.equal(t.half().float(), t.float()))

    return mine.shape == theirs.shape and (torch.equal(mine, theirs) or (
        (is_half(mine) or is_half(theirs)) and torch.equal(mine.half(), theirs.half())))


def load_speech_source(source: Path) -> UniFLG:
    """A checkpoint (anything ``export --checkpoint`` takes) or a voice folder with weights -> model (eval)."""
    from uniflg.errors import InvalidInputError, ModelFormatError
    from uniflg_train.export.onnx_export import load_source_model

    accepted = ("it takes a checkpoint directory, a run folder, a .safetensors model file or a voice folder with "
                "model.safetensors")
    try:
        if (source / "voice.json").is_file():
            return load_source_model(voice=source)[0]
        return load_source_model(checkpoint=source)[0]
    except (ModelFormatError, OSError) as exc:
        reason = str(exc).removeprefix(f"{source}: ")
        raise InvalidInputError(f"--speech-path-from {source}: {reason}; {accepted}") from None


def take_speech_path(model: UniFLG, source: Path) -> list[str]:
    """Load ``source``'s posterior and landmark decoder into ``model`` (in place) -> the modules that changed.

    InvalidInputError (one line, nothing changed) when the two do not share a latent space: another model size,
    different flow / utterance encoder / z_u projection, or other rows for the speakers the source knows (the
    model may know more: rows added after the source was trained)."""
    import torch
    from uniflg.errors import InvalidInputError

    theirs = load_speech_source(source)
    if theirs.cfg.variant.conditioning != model.cfg.variant.conditioning:
        raise InvalidInputError(f"--speech-path-from {source}: it is a {theirs.cfg.variant.name} model, this one is "
                                f"{model.cfg.variant.name}")
    differ = []
    for name in (*SHARED_MODULES, *TAKEN_MODULES):
        mine_sd, their_sd = getattr(model, name).state_dict(), getattr(theirs, name).state_dict()
        if mine_sd.keys() != their_sd.keys() or any(a.shape != their_sd[k].shape for k, a in mine_sd.items()):
            raise InvalidInputError(f"--speech-path-from {source}: its {name} has another shape (another model "
                                    "size); both must come from one training line")
        if name in SHARED_MODULES and not all(equal_at_stored_precision(a, their_sd[k]) for k, a in mine_sd.items()):
            differ.append(name)
    names = theirs.cfg.condition_names
    lacking = [n for n in names if n not in model.cfg.condition_names]
    if lacking:
        raise InvalidInputError(f"--speech-path-from {source}: this model has no speaker {', '.join(lacking)}, which "
                                f"the source's speech path was trained with (it has {', '.join(model.cfg.condition_names)})")
    if tuple(model.cfg.condition_names[:len(names)]) != tuple(names):
        raise InvalidInputError(f"--speech-path-from {source}: the source's speakers {', '.join(names)} must come first "
                                f"and in that order in this model (it has {', '.join(model.cfg.condition_names)})")
    if not all(
            equal_at_stored_precision(model.g_embedding.weight[i].detach(), theirs.g_embedding.weight[i].detach())
            for i in range(len(names))):
        differ.append(f"the rows of {', '.join(names)}")
    if differ:
        raise InvalidInputError(f"--speech-path-from {source}: the two do not share a latent space (they differ in: "
                                f"{'; '.join(differ)}); train the text side with --init-from {source} and --freeze "
                                "flow,utterance,u_projection,g_embedding (docs/training.md)")
    changed = []
    with torch.no_grad():
        for name in TAKEN_MODULES:
            mine_sd, their_sd = getattr(model, name).state_dict(), getattr(theirs, name).state_dict()
            if not all(torch.equal(a, their_sd[k]) for k, a in mine_sd.items()):
                getattr(model, name).load_state_dict(their_sd)
                changed.append(name)
    return changed
