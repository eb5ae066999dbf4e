"""Stage 1: train VAE-VITS (VITS + utterance encoder) on unpaired speech and transcripts.

Losses as VITS and VAE-VITS: L1 mel (x45), KL of the posterior against the flow-mapped prior, duration
(stochastic predictor NLL), KL of z_u against N(0, I), and from ``adversarial_start`` on, the
least-squares GAN and feature-matching losses against the multi-period/multi-scale discriminators (after
``discriminator_warmup`` steps in which only the discriminators learn).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from uniflg.config import ModelConfig
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_write_text
from uniflg.model.commons import slice_segments
from uniflg.model.discriminators import MultiPeriodScaleDiscriminator
from uniflg.model.features import SpectrogramFeatures
from uniflg.model.system import UniFLG

from uniflg_train.checkpoint import CheckpointManager, load_trained_model
from uniflg_train.data.augment import augment_batch
from uniflg_train.data.dataset import Batch, Collate, UniFLGDataset
from uniflg_train.distributed import DistInfo, wrap_ddp
from uniflg_train.losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    kl_loss,
    utterance_kl_loss,
)
from uniflg_train.tblog import TBLogger
from uniflg_train.trainer.common import (
    INIT_RECORD,
    LoopSettings,
    check_same_model,
    exponential_decay,
    make_augmenter,
    make_loader,
    run_dirs,
    run_loop,
    start_process,
)
from uniflg_train.trainer.options import VITS_RESUME_FREE, VitsTrainOptions, check_resume_options, save_options

log = logging.getLogger(__name__)


@dataclass
class VitsStepResult:
    losses: dict[str, float]


class VitsStage:
    """One stage-1 training step on a batch; owns the modules and optimizers."""

    def __init__(self, cfg: ModelConfig, options: VitsTrainOptions, device: torch.device) -> None:
        self.cfg, self.options, self.device = cfg, options, device
        self.model = UniFLG(cfg).to(device)
        self.model.landmark_decoder.requires_grad_(False)  # trained in stage 2
        check_module_names(self.model, options.freeze, "--freeze")
        for name in options.freeze:
            if name != "g_embedding":  # its new rows still train: see fixed_rows
                getattr(self.model, name).requires_grad_(False)
        # rows of g_embedding restored after every step (a frozen g_embedding's carried-over rows); AdamW's
        # weight decay would move them even with a zero gradient
        self.fixed_rows: list[int] = []
        self._fixed_values: Tensor | None = None
        self.discriminator = MultiPeriodScaleDiscriminator(cfg.discriminator).to(device)
        self.features = SpectrogramFeatures(cfg.audio).to(device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt_g = torch.optim.AdamW(trainable, options.learning_rate, betas=options.betas, eps=options.eps)
        self.opt_d = torch.optim.AdamW(self.discriminator.parameters(), options.learning_rate, betas=options.betas,
                                       eps=options.eps)
        self.sched_g = exponential_decay(self.opt_g, options.lr_decay)
        self.sched_d = exponential_decay(self.opt_d, options.lr_decay)
        self.g_ddp: nn.Module = self.model
        self.d_ddp: nn.Module = self.discriminator
        self.last_audio: tuple[Tensor, Tensor] | None = None  # (reference, decoded) segment for TensorBoard
        self.augmenter = make_augmenter(options, cfg.audio.sample_rate)

    def wrap(self, info: DistInfo) -> None:
        self.g_ddp = wrap_ddp(self.model, info)
        self.d_ddp = wrap_ddp(self.discriminator, info)

    def unwrap(self) -> None:
        self.g_ddp, self.d_ddp = self.model, self.discriminator

    def step(self, batch: Batch, global_step: int) -> VitsStepResult:
        o, cfg = self.options, self.cfg
        hop = cfg.audio.hop_length
        spec, mel, spec_lengths = batch.spec, batch.mel, batch.spec_lengths
        if self.augmenter is not None:  # the posterior reads degraded speech; mel (the target) stays clean
            batch = augment_batch(batch, self.augmenter, o.seed * 1_000_003 + global_step)
            spec = batch.speech_spectrogram(self.features)
        g = batch.condition_index(cfg.variant.conditioning)
        out = self.g_ddp(batch.ids, batch.prosody, batch.text_lengths, spec, spec_lengths, mel, g,
                         o.duration_trains_utterance)
        seg = cfg.vits.segment_frames
        mel_real = slice_segments(_pad_to(mel, seg), out.slice_starts, seg)
        wav_real = slice_segments(_pad_to(batch.wav, seg * hop), out.slice_starts * hop, seg * hop)
        adversarial = global_step >= o.adversarial_start  # the discriminators learn
        fooling = global_step >= o.adversarial_start + o.discriminator_warmup  # the generator learns from them

        losses: dict[str, Tensor] = {}
        if adversarial:
            real_out, fake_out, _, _ = self.d_ddp(wav_real, out.wav_hat.detach())
            loss_d = discriminator_loss(real_out, fake_out)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            _clip(self.discriminator, o.grad_clip)
            self.opt_d.step()
            losses["disc"] = loss_d.detach()

        mel_fake = self.features.log_mel(self.features.spectrogram(out.wav_hat[:, 0]))
        losses["mel"] = torch.nn.functional.l1_loss(mel_fake, mel_real[..., : mel_fake.size(2)])
        losses["kl"] = kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.y_mask)
        losses["duration"] = out.duration_loss
        losses["kl_utterance"] = utterance_kl_loss(out.mu_u, out.logvar_u)
        total = o.c_mel * losses["mel"] + o.c_kl * losses["kl"] + losses["duration"] \
            + o.c_kl_utterance * losses["kl_utterance"]
        if fooling:
            _, fake_out, real_maps, fake_maps = self.d_ddp(wav_real, out.wav_hat)
            losses["gen"] = generator_loss(fake_out)
            losses["fm"] = feature_matching_loss(real_maps, fake_maps)
            total = total + losses["gen"] + losses["fm"]
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        _clip(self.model, o.grad_clip)
        self.opt_g.step()
        if self.fixed_rows:
            assert self._fixed_values is not None  # set with fixed_rows (fix_rows)
            with torch.no_grad():
                self.model.g_embedding.weight[self.fixed_rows] = self._fixed_values
        losses["total"] = total.detach()
        self.last_audio = (wav_real[0, 0].detach(), out.wav_hat[0, 0].detach())
        return VitsStepResult({k: float(v.detach()) for k, v in losses.items()})

    def fix_rows(self, rows: list[int]) -> None:
        """Keep these rows of g_embedding at their present values from now on."""
        self.fixed_rows = sorted(rows)
        self._fixed_values = self.model.g_embedding.weight.detach()[self.fixed_rows].clone()

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        self.model.train()
        return self.step(batch, step).losses

    def log_media(self, tb: TBLogger, step: int) -> None:
        if self.last_audio is not None:
            sr = self.cfg.audio.sample_rate
            tb.audio("stage1/reference", self.last_audio[0].cpu().numpy(), sr, step)
            tb.audio("stage1/decoded", self.last_audio[1].cpu().numpy(), sr, step)

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model, "discriminator": self.discriminator}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"g": self.opt_g, "d": self.opt_d}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"g": self.sched_g, "d": self.sched_d}


def _pad_to(x: Tensor, length: int) -> Tensor:
    return torch.nn.functional.pad(x, (0, max(0, length - x.size(-1))))


def _clip(module: nn.Module, max_norm: float | None) -> None:
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm)


def _carry_condition_rows(model: UniFLG, source: UniFLG, weights: dict[str, Tensor]) -> list[int]:
    """A corpus with other speakers (emotions for UniFLG-AS): rows of the conditioning embedding are matched
    by name; new names keep their fresh rows, names the source lacks are dropped. -> indices of the rows
    carried over."""
    key = "g_embedding.weight"
    old, new = source.cfg.condition_names, model.cfg.condition_names
    if key not in weights:  # skipped: every row starts fresh
        return []
    carried = [i for i, name in enumerate(new) if name in old]
    if weights[key].shape == model.g_embedding.weight.shape and tuple(old) == tuple(new):
        return carried
    rows = model.g_embedding.weight.detach().clone()
    for i, name in enumerate(new):
        if name in old:
            rows[i] = weights[key][old.index(name)]
    weights[key] = rows
    log.info("conditioning rows: %d carried over, new: %s", len(carried),
             ", ".join(n for n in new if n not in old) or "none")
    return carried


def check_module_names(model: UniFLG, names: tuple[str, ...], option: str) -> None:
    modules = [name for name, _ in model.named_children()]
    unknown = [name for name in names if name not in modules]
    if unknown:
        raise InvalidInputError(f"{option}: no module named {', '.join(unknown)}; "
                                f"the model's modules are {', '.join(modules)}")


def initialize_from(model: UniFLG, path: Path, skip: tuple[str, ...] = ()) -> list[int]:
    """Copy a trained model's weights into ``model``, except the top-level modules named in ``skip``.
    ``path``: anything :func:`load_trained_model` reads (a model file, a checkpoint or a run folder).
    -> indices of the conditioning rows carried over by name."""
    check_module_names(model, skip, "--init-skip")
    source, path = load_trained_model(path)
    prefixes = tuple(f"{name}." for name in skip)
    weights = {k: v for k, v in source.state_dict().items() if not k.startswith(prefixes)}
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    other = [k for k, v in weights.items() if k != "g_embedding.weight" and k in shapes and v.shape != shapes[k]]
    if other:
        first = other[0]
        raise InvalidInputError(f"--init-from {path}: its modules have other sizes than this run's --config "
                                f"{model.cfg.name} ({len(other)} tensors, e.g. {first}: {tuple(weights[first].shape)} "
                                f"vs {tuple(shapes[first])}); its config is {source.cfg.name!r}")
    carried = _carry_condition_rows(model, source, weights)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and all(k.startswith(prefixes) for k in missing), (missing, unexpected)
    log.info("initialized stage 1 from %s%s", path, f" (fresh: {', '.join(skip)})" if skip else "")
    return carried


def train_vits(cfg: ModelConfig, dataset: UniFLGDataset, collate: Collate, out: Path, options: VitsTrainOptions,
               init_from: Path | None = None) -> int:
    """Train (or resume) stage 1 in ``out``. Returns the last step. Rerunning resumes from the newest
    complete checkpoint; SIGINT/SIGTERM save before exiting."""
    info = start_process(options.seed, options.threads)
    ckpt_dir, log_dir = run_dirs(out, "stage 1", lock=info.is_main)
    manager = CheckpointManager(ckpt_dir, keep_last=options.keep_last)
    latest = manager.resumable()
    if latest is not None:
        saved = latest.config()
        if saved is not None:  # a resumed run keeps its own model: another --config or --variant is refused
            check_same_model(saved, cfg, out)
            cfg = saved
            # its speaker rows by name: a corpus with its speakers in another order (or renamed, or more of them)
            # trained the wrong rows silently, or died with an IndexError (review 20)
            new = sorted({m["speaker"] for m in dataset.items} - set(cfg.speakers))
            if new:
                raise InvalidInputError(f"{out} has no row for speaker {', '.join(new)} of this --data (it has "
                                        f"{', '.join(cfg.speakers)}): a resumed run cannot add speakers; start a new "
                                        f"--out with --init-from {out}, which carries the rows of the speakers both "
                                        "have")
            dataset.use_label_order(cfg.speakers, cfg.emotions, owner=f"{out} (the run being resumed)")
        check_resume_options(options, out / "train_vits.json", VITS_RESUME_FREE)
    elif (options.init_skip or options.freeze) and init_from is None:
        raise InvalidInputError(f"--{'init-skip' if options.init_skip else 'freeze'} needs --init-from "
                                "(a model to take the weights from)")
    both = sorted(set(options.init_skip) & set(options.freeze))
    if both:
        raise InvalidInputError(f"--init-skip and --freeze both name {', '.join(both)}: a module that starts fresh "
                                "cannot stay as loaded")
    stage = VitsStage(cfg, options, info.device)
    fixed_rows_file = out / "fixed_rows.json"  # which g_embedding rows a frozen g_embedding keeps
    start_step, start_epoch = 0, 0
    if latest is not None:
        state = manager.resume(stage.modules(), stage.optimizers(), stage.schedulers(), checkpoint=latest)
        assert state is not None
        start_step, start_epoch = state.step, state.epoch
        log.info("resumed stage 1 from %s (step %d)", state.path, start_step)
        if init_from is not None:
            log.info("--init-from %s is not used: a resumed run continues from its own checkpoint", init_from)
        if start_step >= options.max_steps:
            log.warning("the run is already at step %d (>= --steps %d): nothing to train; raise --steps to go on",
                        start_step, options.max_steps)
        if "g_embedding" in options.freeze:
            stage.fix_rows(json.loads(fixed_rows_file.read_text(encoding="utf-8")))
    elif init_from is not None:
        carried = initialize_from(stage.model, init_from, options.init_skip)
        if info.is_main:  # export reads it: the face decoder is the source's (stage 1 never trains it)
            atomic_write_text(out / INIT_RECORD, json.dumps({"init_from": str(init_from),
                                                             "init_skip": sorted(options.init_skip)}))
        if "g_embedding" in options.freeze:
            stage.fix_rows(carried)
            if info.is_main:
                atomic_write_text(fixed_rows_file, json.dumps(carried))
    if not any(p.requires_grad for name, m in stage.model.named_children() if name != "g_embedding"
               for p in m.parameters()) and len(stage.fixed_rows) == len(stage.model.g_embedding.weight):
        raise InvalidInputError(f"--freeze {','.join(options.freeze)} leaves nothing to train (the landmark decoder "
                                "is frozen in stage 1 anyway)")
    stage.wrap(info)
    if info.is_main:
        save_options(options, out / "train_vits.json")
        (out / "config.json").write_text(cfg.to_json(), encoding="utf-8")
    loader = make_loader(dataset, collate, options.batch_size, options.num_workers, options.seed + start_epoch)
    settings = LoopSettings("stage1", "stage 1 (VAE-VITS)", options.max_steps, options.log_every,
                            options.checkpoint_every, metric="mel", shown=("mel", "kl", "gen"))
    return run_loop(stage, loader, manager, TBLogger(log_dir, enabled=info.is_main), settings, info, cfg,
                    start_step, start_epoch, resumed=latest is not None)
