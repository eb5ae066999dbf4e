"""Training options as frozen dataclasses (saved next to each run as train.json)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_write_text


@dataclass(frozen=True)
class VitsTrainOptions:
    """Stage 1. VITS's optimizer: AdamW, lr 2e-4, betas (0.8, 0.99), eps 1e-9, lr x 0.999875 per epoch.

    ``adversarial_start``: steps trained with reconstruction, KL and duration losses only before the
    discriminators join (0 = from the start, as VITS). On a CPU the discriminators are ~90% of the cost,
    so the default voice trains reconstruction first and adversarially last. ``discriminator_warmup``: steps
    from then on in which only the discriminators learn (the generator's losses stay reconstruction only).
    """

    max_steps: int = 100_000
    batch_size: int = 16
    learning_rate: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    eps: float = 1e-9
    lr_decay: float = 0.999875
    adversarial_start: int = 0
    # From adversarial_start, this many steps train the discriminators alone before the generator gets their
    # losses: fresh discriminators against a decoder trained without them first learn what is real.
    discriminator_warmup: int = 0
    c_mel: float = 45.0
    c_kl: float = 1.0
    # z_u's KL is summed over its dimensions per utterance while the duration NLL is a per-token mean: at
    # weight 1 one nat of emotion costs more than knowing the speaking rate saves, and z_u collapses.
    c_kl_utterance: float = 0.02
    duration_trains_utterance: bool = True  # see UniFLG.forward
    # With ``init_from``: top-level modules that keep their fresh initialization instead (e.g. "utterance"
    # to restart an utterance encoder whose ReLUs died while z_u was collapsed).
    init_skip: tuple[str, ...] = ()
    # Top-level modules that keep their weights (with ``init_from``). Freezing posterior, flow, utterance,
    # u_projection and g_embedding keeps the latent space the landmark decoder reads, so the speech-driven path
    # stays the source's exactly while the text path learns new speakers or a new language; a frozen
    # g_embedding keeps the rows it carried over and trains only new speakers' rows.
    freeze: tuple[str, ...] = ()
    grad_clip: float | None = 1000.0
    log_every: int = 50
    checkpoint_every: int = 1000
    keep_last: int = 3
    num_workers: int = 0
    seed: int = 1234
    max_seconds: float = 12.0  # longer utterances are skipped in training batches
    threads: int | None = None  # torch intra-op threads (None: torch's default)
    # Degrade the speech entering the posterior encoder and flow (uniflg_train.data.augment); the decoder's
    # reconstruction target stays clean. augment_noise: its additive noise kinds (None: the default set).
    augment: bool = False
    augment_noise: tuple[str, ...] | None = None
    augment_warp: float | None = None  # the talker warp's probability (None: AugmentOptions' 0.2)
    augment_warp_semitones: float | None = None  # its range +-S semitones (None: AugmentOptions' 2)
    augment_telephone: float | None = None  # the telephone band's probability (None: AugmentOptions' 0.1)


@dataclass(frozen=True)
class LandmarkTrainOptions:
    """Stage 2 (paper section 4.1.2): AdamW betas (0.8, 0.99), weight decay 0.01, lr 2e-4 x 0.999875 per
    epoch, 10,000 iterations, batch 48. The input switches between text and speech at each iteration."""

    max_steps: int = 10_000
    batch_size: int = 48
    learning_rate: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    lr_decay: float = 0.999875
    latent_noise_scale: float = 1.0  # text path: sample f(z_f) ~ N(mu, (sigma * scale)^2), as the paper
    posterior_noise_scale: float = 1.0  # z_f ~ q(z_f | x) for the speech path and MAS (0: its mean)
    # The paper's Paired set is one speaker's videos: landmarks are taken as common to all speakers, so the
    # decoder learns one face. None = every paired speaker (their faces average out).
    paired_speakers: tuple[str, ...] | None = None
    log_every: int = 50
    checkpoint_every: int = 1000
    keep_last: int = 3
    num_workers: int = 0
    seed: int = 1234
    max_seconds: float = 12.0
    threads: int | None = None
    augment: bool = False  # degrade the speech path's input (uniflg_train.data.augment); targets stay clean
    augment_noise: tuple[str, ...] | None = None  # its additive noise kinds (None: the default set)
    augment_warp: float | None = None  # the talker warp's probability (None: AugmentOptions' 0.2)
    augment_warp_semitones: float | None = None  # its range +-S semitones (None: AugmentOptions' 2)
    augment_telephone: float | None = None  # the telephone band's probability (None: AugmentOptions' 0.1)
    # Fine-tune the posterior encoder on the speech path (see uniflg_train.trainer.landmarks): towards each
    # worded item's text-path latent (weight ``anchor_weight``) and through the landmark loss. Run time's text
    # path never reads the posterior, so the voice's speech does not depend on it.
    tune_posterior: bool = False
    posterior_learning_rate: float = 1e-4
    anchor_weight: float = 1.0
    # Whose row reads which items (uniflg_train.data.labels): speakers the stage-1 model lacks, and those in
    # ``read_as_unknown``, take ``unknown_speakers_as``'s row; evaluation reads them the same way.
    unknown_speakers_as: str | None = None
    read_as_unknown: tuple[str, ...] = ()
    # Speakers whose items train the speech path only (read as word-free): transcripts the stage-1 text path
    # cannot read, such as English on a Japanese-only voice.
    speech_only_speakers: tuple[str, ...] | None = None


# Options a resumed run may change: how long it runs and how it is logged, checkpointed and scheduled on the machine.
RESUME_FREE = frozenset({"max_steps", "checkpoint_every", "log_every", "keep_last", "num_workers", "threads"})


# Stage 1's loss weights and schedule live in no saved state, so a resumed run may change them too (docs/training.md).
VITS_RESUME_FREE = RESUME_FREE | {"c_kl_utterance", "duration_trains_utterance", "adversarial_start",
                                  "discriminator_warmup"}


def check_resume_options(options: Any, path: Path, free: frozenset[str] = RESUME_FREE) -> None:
    """Refuse (InvalidInputError) to resume a run whose saved options (``path``, written by :func:`save_options`)
    differ from ``options`` in anything but ``free``: the restored optimizer would silently keep the old
    settings while the record claimed the new ones. A run without a saved record is not checked."""
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:  # edited by hand, cut short by a full disk
        raise InvalidInputError(f"{path}: the run's saved options cannot be read ({exc}); restore the file, or give "
                                "a new --out") from None
    now = json.loads(json.dumps(dataclasses.asdict(options)))  # tuples as lists, as saved
    # an option newer than the record was at its default then
    default = json.loads(json.dumps(dataclasses.asdict(type(options)())))
    was = {k: saved.get(k, default[k]) for k in now}
    changed = [f"{k} {was[k]!r} -> {now[k]!r}" for k in sorted(now) if k not in free and was[k] != now[k]]
    if changed:
        raise InvalidInputError(f"{path.parent} was trained with other options ({'; '.join(changed)}): resume it with "
                                f"the options in {path.name}, or give a new --out")


def save_options(options: Any, path: Path) -> None:
    atomic_write_text(path, json.dumps(dataclasses.asdict(options), indent=2))  # never left half written


def with_overrides(options: Any, **overrides: Any) -> Any:
    """Replace only the fields given (None means: keep the default)."""
    return dataclasses.replace(options, **{k: v for k, v in overrides.items() if v is not None})
