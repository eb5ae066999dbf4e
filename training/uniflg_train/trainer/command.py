"""`uniflg train vits|landmarks`: the two training stages and the paper's variants by configuration.

    uniflg train vits --data CORPUS --config small --out runs/vits
    uniflg train landmarks --data CORPUS --vits runs/vits --out runs/uniflg
    uniflg train landmarks --data CORPUS --vits runs/vits --variant ttl --out runs/ttl
    uniflg train vits --data CORPUS --config small --variant as --out runs/vits-as   # UniFLG-AS stage 1

Rerunning a command resumes from its newest checkpoint. Multi-process: prefix with
``torchrun --nproc_per_node N -m uniflg.cli`` (PyTorch DDP; gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg import argtypes
from uniflg.config import VariantConfig, named_config
from uniflg.errors import InvalidInputError
from uniflg.limits import NOISE_SCALE

from uniflg_train.cli import comma_names
from uniflg_train.trainer.options import LandmarkTrainOptions, VitsTrainOptions, with_overrides

if TYPE_CHECKING:
    from uniflg_train.data.dataset import Collate, UniFLGDataset

log = logging.getLogger(__name__)

VARIANTS = {
    "uniflg": VariantConfig(),
    "as": VariantConfig(conditioning="emotion"),
    "ttl": VariantConfig(landmark_training="text"),
    "stl": VariantConfig(landmark_training="speech"),
    "stl-d": VariantConfig(landmark_training="speech", landmark_input="spectrogram"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train VAE-VITS (stage 1) or the landmark decoder (stage 2)")
    stages = p.add_subparsers(dest="stage", metavar="STAGE", required=True)

    v = stages.add_parser("vits", help="stage 1: VAE-VITS on speech + transcripts")
    _common(v)
    v.add_argument("--config", default="small", help="model size: paper, small or tiny (default small)")
    v.add_argument("--adversarial-start", type=argtypes.int_range(0, 10**9), metavar="N",
                   help="steps of reconstruction-only training first")
    v.add_argument("--discriminator-warmup", type=argtypes.int_range(0, 10**9), metavar="N",
                   help="from --adversarial-start on, N steps in which only the discriminators learn before the "
                        "generator gets their losses (default 0, as VITS)")
    v.add_argument("--init-from", type=argtypes.path,
                   help="start from a model .safetensors, a checkpoint, or a stage-1 run folder's newest checkpoint "
                        "(fine-tuning; ignored when the run resumes)")
    v.add_argument("--init-skip", type=comma_names, metavar="MODULE[,MODULE]",
                   help="with --init-from: modules that start fresh instead (e.g. utterance)")
    v.add_argument("--freeze", type=comma_names, metavar="MODULE[,MODULE]",
                   help="with --init-from: modules whose weights stay as loaded; g_embedding keeps its carried-over "
                        "rows and trains new speakers' rows (docs/training.md, 'A new language on a fixed latent "
                        "space')")
    v.add_argument("--utterance-kl-weight", type=argtypes.non_negative_number, metavar="W",
                   help="weight of z_u's KL against N(0, I) (default 0.02; 1 lets z_u collapse)")
    v.add_argument("--duration-trains-utterance", action=argparse.BooleanOptionalAction, default=None,
                   help="let the duration loss train the utterance encoder, so z_u learns speaking rate "
                        "and emotion (default on; --no-... detaches it as VITS does)")
    v.set_defaults(func=_run_vits)

    lm = stages.add_parser("landmarks", help="stage 2: landmark decoder with VAE-VITS frozen")
    _common(lm)
    lm.add_argument("--vits", type=argtypes.path, required=True,
                    help="stage 1: a run folder (newest checkpoint), a checkpoint folder or a model file "
                         "(e.g. a voice's model.safetensors)")
    lm.add_argument("--unknown-speakers-as", metavar="NAME",
                    help="NAME, one of the stage-1 model's speakers: read items of speakers the model has no row for "
                         "(e.g. Kokoro's, timed by `corpus pair`) with NAME's row, as the runtime reads speech of "
                         "people it never heard (its first speaker's row)")
    lm.add_argument("--read-as-unknown", type=comma_names, action="extend", default=[], metavar="NAME[,NAME]",
                    help="read these speakers' items with --unknown-speakers-as's row although the stage-1 model has "
                         "rows for them (e.g. a stage 1 that learned Kokoro's voices for English): stage 2 then "
                         "trains the condition speech of people it never heard meets at run time (repeatable; recorded "
                         "with the run, and `uniflg eval` reads them the same way)")
    lm.add_argument("--latent-noise-scale", type=argtypes.within(NOISE_SCALE), metavar="X",
                    help="text path: sampling noise on f(z_f) ~ N(mu, sigma) (default 1, the paper; 0 = the mean)")
    lm.add_argument("--posterior-noise-scale", type=argtypes.within(NOISE_SCALE), metavar="X",
                    help="sampling noise of q(z_f|x) for the speech path and for MAS on the text path (default 1; "
                         "0 = the posterior mean, which the runtime uses)")
    lm.add_argument("--paired-speakers", type=comma_names, metavar="NAME[,NAME]",
                    help="train on these speakers' paired items only (the paper: one speaker's videos; "
                         "default: every paired item)")
    lm.add_argument("--speech-only-speakers", type=comma_names, metavar="NAME[,NAME]",
                    help="these speakers' items train the speech path only, as word-free items do: for transcripts "
                         "the stage-1 text path cannot read (e.g. GRID's English faces, `corpus grid`, on a voice "
                         "whose text path learned Japanese only)")
    lm.add_argument("--tune-posterior", action="store_true", default=None,
                    help="also fine-tune the posterior encoder on the speech path, towards the text path's latent "
                         "of the same item and through the landmark loss, so speech of voices stage 1 never heard "
                         "reads like theirs (docs/training.md; the voice's speech does not change)")
    lm.add_argument("--posterior-learning-rate", type=float,
                    help="with --tune-posterior: the posterior encoder's learning rate (default 1e-4)")
    lm.add_argument("--anchor-weight", type=float,
                    help="with --tune-posterior: weight of the speech-vs-text latent MSE (default 1)")
    lm.set_defaults(func=_run_landmarks)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=argtypes.path, required=True, help="corpus folder with train.jsonl")
    p.add_argument("--cache", type=argtypes.path, metavar="DIR",
                   help="the corpus's feature cache (default DATA/cache; e.g. one `uniflg preprocess --out DIR` "
                        "made, or a writable folder for a read-only corpus)")
    p.add_argument("--out", type=argtypes.path, required=True, help="run folder (checkpoints/, logs/)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="uniflg",
                   help="uniflg (default), as (UniFLG-AS), ttl, stl, stl-d")
    p.add_argument("--steps", type=argtypes.int_range(0, 10**9), metavar="N",
                   help="total training steps (default: vits 100,000, landmarks 10,000, as in the paper; 0: save "
                        "the initialization, e.g. an --init-from, as step 0)")
    p.add_argument("--batch-size", type=argtypes.int_range(1, 4096), metavar="N")
    p.add_argument("--checkpoint-every", type=argtypes.int_range(1, 10**9), metavar="N")
    p.add_argument("--keep-last", type=argtypes.int_range(1, 1_000_000), metavar="N",
                   help="checkpoints kept in the run folder, newest first (default 3; older ones are deleted)")
    p.add_argument("--log-every", type=argtypes.int_range(1, 10**9), metavar="N")
    p.add_argument("--workers", type=argtypes.int_range(0, 256), metavar="N",
                   help="data-loader worker processes (0: in the training process)")
    p.add_argument("--seed", type=argtypes.training_seed)
    p.add_argument("--learning-rate", type=argtypes.positive_number, metavar="LR",
                   help="initial learning rate (default 2e-4, as VITS and the paper)")
    p.add_argument("--augment", action="store_true", default=None,
                   help="degrade the speech path's input on the fly (room, noise, hum, gain, DC, clipping, "
                        "telephone band, resampling; seeded; targets stay clean): docs/corpus.md")
    p.add_argument("--augment-noise", type=_noise_kinds, metavar="KIND[,KIND]",
                   help="with --augment: the additive noises, from color, babble, music (chords), band (drums, "
                        "bass, pads, a sung line); default color,babble,music")
    p.add_argument("--augment-warp", type=float, metavar="P",
                   help="with --augment: probability of the talker warp (formants and pitch scaled together, "
                        "VTLP-like; default 0.2)")
    p.add_argument("--augment-warp-semitones", type=float, metavar="S",
                   help="with --augment: the talker warp's range, +-S semitones (default 2: formants x0.89-1.12)")
    p.add_argument("--augment-telephone", type=float, metavar="P",
                   help="with --augment: probability of the telephone band (300-3400 Hz band-pass; default 0.1)")
    p.add_argument("--threads", type=argtypes.int_range(1, 1024), metavar="N",
                   help="torch CPU threads per process (1 is fastest on a busy machine: spinning threads stall)")


def _noise_kinds(value: str) -> tuple[str, ...]:
    from uniflg_train.data.augment import NOISE_KINDS

    kinds = comma_names(value)
    unknown = [k for k in kinds if k not in NOISE_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown noise kind {', '.join(unknown) or '(none)'}; choose from "
                                         f"{', '.join(NOISE_KINDS)}")
    return kinds


def _require(args: argparse.Namespace, names: tuple[str, ...], switch: str, why: str = "") -> None:
    """Refuse options (``names``, argparse dests) given without the switch they only mean something with."""
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None]
    if given and not getattr(args, switch):
        verb = "needs" if len(given) == 1 else "need"
        raise InvalidInputError(f"{' and '.join(given)} {verb} --{switch.replace('_', '-')}{why}")


def _augment_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The augmentation options of both stages, checked: the --augment-* choices need --augment."""
    _require(args, ("augment_noise", "augment_warp", "augment_warp_semitones", "augment_telephone"), "augment",
             " (it chooses what augmentation does)")
    for name in ("augment_warp", "augment_telephone"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            raise InvalidInputError(f"--{name.replace('_', '-')} is a probability in [0, 1]; got {value:g}")
    if args.augment_warp_semitones is not None and not 0.0 < args.augment_warp_semitones <= 12.0:
        raise InvalidInputError(f"--augment-warp-semitones must be in (0, 12]; got {args.augment_warp_semitones:g}")
    return {"augment": args.augment, "augment_noise": args.augment_noise, "augment_warp": args.augment_warp,
            "augment_warp_semitones": args.augment_warp_semitones, "augment_telephone": args.augment_telephone}


def _open(data: Path, paired_only: bool, max_seconds: float, sample_rate: int,
          only_speakers: tuple[str, ...] | None = None, text_only: bool = False, cache: Path | None = None,
          ) -> tuple[UniFLGDataset, Collate, UniFLGDataset]:
    from uniflg_train.trainer.data import open_training_data

    return open_training_data(data, "train", paired_only=paired_only, max_seconds=max_seconds,
                              sample_rate=sample_rate, only_speakers=only_speakers, text_only=text_only, cache=cache)


def _name_set(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Module names in a fixed order, each once: the saved options compare equal however they were listed."""
    return tuple(sorted(set(names))) if names else None


def _run_vits(args: argparse.Namespace) -> int:
    from uniflg_train.trainer.vits import train_vits

    if args.variant not in ("uniflg", "as"):  # stage 1 differs only by its conditioning (docs/training.md)
        raise InvalidInputError(f"--variant {args.variant} reuses the UniFLG stage 1: train it with `uniflg train "
                                f"landmarks --variant {args.variant} --vits RUN` on a `--variant uniflg` stage-1 run")

    options = with_overrides(VitsTrainOptions(), max_steps=args.steps, batch_size=args.batch_size,
                             checkpoint_every=args.checkpoint_every, keep_last=args.keep_last, log_every=args.log_every,
                             num_workers=args.workers, seed=args.seed, adversarial_start=args.adversarial_start,
                             discriminator_warmup=args.discriminator_warmup,
                             learning_rate=args.learning_rate, c_kl_utterance=args.utterance_kl_weight,
                             duration_trains_utterance=args.duration_trains_utterance,
                             init_skip=_name_set(args.init_skip), freeze=_name_set(args.freeze),
                             threads=args.threads, **_augment_fields(args))
    base = named_config(args.config)
    # word-free (non-speech) items have no text for stage 1 to learn from
    dataset, collate, meta = _open(args.data, False, options.max_seconds, base.audio.sample_rate, text_only=True,
                                   cache=args.cache)
    cfg = base.replace(variant=VARIANTS[args.variant], speakers=meta.speakers, emotions=meta.emotions)
    from uniflg_train.trainer.common import release_run

    try:
        step = train_vits(cfg, dataset, collate, args.out, options, init_from=args.init_from)
    finally:
        release_run(args.out)
    log.info("stage 1 stopped at step %d; checkpoints in %s", step, args.out / "checkpoints")
    return 0


def _run_landmarks(args: argparse.Namespace) -> int:
    from uniflg_train.data.labels import check_as_unknown, check_stand_in
    from uniflg_train.trainer.landmarks import load_stage1, train_landmarks

    options = with_overrides(LandmarkTrainOptions(), max_steps=args.steps, batch_size=args.batch_size,
                             checkpoint_every=args.checkpoint_every, keep_last=args.keep_last, log_every=args.log_every,
                             num_workers=args.workers, seed=args.seed, threads=args.threads,
                             learning_rate=args.learning_rate, latent_noise_scale=args.latent_noise_scale,
                             posterior_noise_scale=args.posterior_noise_scale,
                             paired_speakers=args.paired_speakers, **_augment_fields(args),
                             tune_posterior=args.tune_posterior,
                             posterior_learning_rate=args.posterior_learning_rate,
                             anchor_weight=args.anchor_weight, unknown_speakers_as=args.unknown_speakers_as,
                             read_as_unknown=tuple(sorted(set(args.read_as_unknown))) or None,
                             speech_only_speakers=_name_set(args.speech_only_speakers))
    variant = VARIANTS[args.variant]
    if options.speech_only_speakers and variant.landmark_training != "mixed":
        only = "text" if variant.landmark_training == "text" else "speech"
        raise InvalidInputError(f"--speech-only-speakers: --variant {args.variant} trains the {only} path only, so "
                                f"there is nothing to choose; drop the option"
                                + (" and leave those speakers out with --paired-speakers" if only == "text" else ""))
    _require(args, ("posterior_learning_rate", "anchor_weight"), "tune_posterior")
    if args.posterior_learning_rate is not None and not 0 < args.posterior_learning_rate < math.inf:
        raise InvalidInputError(f"--posterior-learning-rate must be a positive finite number; got "
                                f"{args.posterior_learning_rate:g}")
    if args.anchor_weight is not None and not 0 <= args.anchor_weight < math.inf:
        raise InvalidInputError(f"--anchor-weight must be a finite number >= 0; got {args.anchor_weight:g}")
    if args.tune_posterior and (variant.landmark_input != "latent" or variant.landmark_training == "text"):
        raise InvalidInputError(f"--tune-posterior needs a variant whose speech path reads the posterior "
                                f"(uniflg, as, stl); --variant {args.variant} has none")
    model, stage1 = load_stage1(args.vits, variant)
    check_stand_in(options.unknown_speakers_as, model.cfg.speakers, str(args.vits))  # before any data is read
    check_as_unknown(options.read_as_unknown, options.unknown_speakers_as, model.cfg.speakers, str(args.vits))
    if options.read_as_unknown and variant.conditioning != "speaker":
        raise InvalidInputError(f"--read-as-unknown: a {variant.name} model's rows are emotions, not speakers")
    # word-free items train the speech path only (trainer/landmarks.py); TTL has no speech path to give them
    dataset, collate, _ = _open(args.data, True, options.max_seconds, model.cfg.audio.sample_rate,
                                options.paired_speakers, text_only=variant.landmark_training == "text",
                                cache=args.cache)
    dataset.use_label_order(model.cfg.speakers, model.cfg.emotions, owner=str(args.vits),
                            unknown_speakers_as=options.unknown_speakers_as, as_unknown=options.read_as_unknown)
    if options.speech_only_speakers:
        try:
            n = dataset.read_speech_only(options.speech_only_speakers)
        except InvalidInputError as exc:
            raise InvalidInputError(f"--speech-only-speakers: {exc}") from None
        log.info("%d items of %s train the speech path only", n, ", ".join(options.speech_only_speakers))
        if n == len(dataset):
            log.warning("--speech-only-speakers names every kept item's speaker: the text path learns nothing")
    stood_in = sorted({m["speaker"] for m in dataset.items} - (set(model.cfg.speakers) - set(options.read_as_unknown)))
    if stood_in:
        log.info("read with %s's row: %s", options.unknown_speakers_as, ", ".join(stood_in))
    from uniflg_train.trainer.common import release_run

    try:
        step = train_landmarks(model, dataset, collate, args.out, options, stage1=stage1)
    finally:
        release_run(args.out)
    log.info("stage 2 (%s) stopped at step %d; checkpoints in %s", variant.name, step, args.out / "checkpoints")
    return 0
