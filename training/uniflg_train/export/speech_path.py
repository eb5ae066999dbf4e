"""``uniflg export --speech-path-from SOURCE``: one voice from two trainings that share a latent space.

A text path trained further on a new language (``train vits --init-from ... --freeze flow,utterance,u_projection,
g_embedding``) may have let its posterior learn; at run time the text path never reads the posterior, but the
speech path (speech -> posterior -> z -> landmark decoder) does, and the speech path tuned on real people's speech
(stage 2, ``--tune-posterior``) follows real lips better. This takes the speech path's own modules from SOURCE and
keeps the text path's; the modules both paths read must already be the same, or the two halves would not meet in
one latent space.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from uniflg_train.export.onnx_export import open_model

if TYPE_CHECKING:
    import torch
    from torch import nn
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


def module_differs(mine: nn.Module, theirs: nn.Module, same: Callable[[torch.Tensor, torch.Tensor], bool]) -> bool:
    """Whether two modules' weights differ (other names, or any tensor not ``same``)."""
    a, b = mine.state_dict(), theirs.state_dict()
    return a.keys() != b.keys() or not all(same(t, b[k]) for k, t in a.items())


def rows_differ(model: UniFLG, theirs: UniFLG, same: Callable[[torch.Tensor, torch.Tensor], bool]) -> bool:
    """Whether ``theirs``'s g rows are not ``model``'s first ones (the same names, in order, and ``same`` rows); the
    model may have more (rows added later, e.g. for a new language)."""
    names = theirs.cfg.condition_names
    return tuple(model.cfg.condition_names[:len(names)]) != tuple(names) or not all(
        same(model.g_embedding.weight[i].detach(), theirs.g_embedding.weight[i].detach()) for i in range(len(names)))


def take_speech_path(model: UniFLG, source: Path) -> list[str]:
    """Load ``source``'s posterior and landmark decoder into ``model`` (in place) -> the modules that changed.

    InvalidInputError (one line, nothing changed) when the two do not share a latent space: another model size,
    different flow / utterance encoder / z_u projection, or other rows for the speakers the source knows (the
    model may know more: rows added after the source was trained)."""
    import torch
    from uniflg.errors import InvalidInputError

    theirs = open_model(source, "--speech-path-from")[0]
    if theirs.cfg.variant.conditioning != model.cfg.variant.conditioning:
        raise InvalidInputError(f"--speech-path-from {source}: it is a {theirs.cfg.variant.name} model, this one is "
                                f"{model.cfg.variant.name}")
    differ = []
    for name in (*SHARED_MODULES, *TAKEN_MODULES):
        mine_sd, their_sd = getattr(model, name).state_dict(), getattr(theirs, name).state_dict()
        if mine_sd.keys() != their_sd.keys() or any(a.shape != their_sd[k].shape for k, a in mine_sd.items()):
            raise InvalidInputError(f"--speech-path-from {source}: its {name} has another shape (another model "
                                    "size); both must come from one training line")
        if name in SHARED_MODULES and module_differs(getattr(model, name), getattr(theirs, name),
                                                     equal_at_stored_precision):
            differ.append(name)
    names = theirs.cfg.condition_names
    ours = ", ".join(model.cfg.condition_names)
    lacking = [n for n in names if n not in model.cfg.condition_names]
    if lacking:
        raise InvalidInputError(f"--speech-path-from {source}: this model has no speaker {', '.join(lacking)}, which "
                                f"the source's speech path was trained with (it has {ours})")
    if tuple(model.cfg.condition_names[:len(names)]) != tuple(names):
        raise InvalidInputError(f"--speech-path-from {source}: the source's speakers {', '.join(names)} must come "
                                f"first and in that order in this model (it has {ours})")
    if rows_differ(model, theirs, equal_at_stored_precision):
        differ.append(f"the rows of {', '.join(names)}")
    if differ:
        raise InvalidInputError(f"--speech-path-from {source}: the two do not share a latent space (they differ in: "
                                f"{'; '.join(differ)}); train the text side with --init-from {source} and --freeze "
                                "flow,utterance,u_projection,g_embedding (docs/training.md)")
    changed = []
    with torch.no_grad():
        for name in TAKEN_MODULES:
            if module_differs(getattr(model, name), getattr(theirs, name), torch.equal):
                getattr(model, name).load_state_dict(getattr(theirs, name).state_dict())
                changed.append(name)
    return changed
