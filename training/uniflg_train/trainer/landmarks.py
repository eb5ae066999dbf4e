"""Stage 2: train the landmark decoder with VAE-VITS frozen, on the paired subset.

Mixed modality (UniFLG): the input switches at each iteration between the text path (MAS durations
d_spec -> d_land, expand (mu, sigma), sample) and the speech path (posterior + flow, linearly resampled
to 30 fps). TTL trains on the text path only, STL on the speech path only, STL-D feeds the resampled
spectrogram itself. UniFLG-AS conditions the decoder on the emotion one-hot instead of z_u.

Word-free (non-speech) items in the paired set only ever take the speech path: a text step trains on the
batch's items with words, and a batch without any takes the speech path instead.

With both noise scales at 0 the frozen VAE-VITS gives every item the same decoder input on every visit
(MAS, like the speech path, then reads the posterior mean), so each item's input is computed once and kept
in memory: later epochs train the decoder alone, several times faster on a CPU. The text path's inputs are
kept so even when the speech path's are not (augmented or fine-tuned speech differs at every visit).

``tune_posterior`` (an extension, not in the paper): the posterior encoder, trained in stage 1 on the training
voices only, reads speech of voices it never heard (and rooms, microphones) poorly, and the speech path depends
on it alone. With this option it trains on the speech path too, towards the latent the text path gives the
same item (the prior N(m_p, s_p) expanded by MAS durations; a target that does not depend on who speaks) plus
the landmark loss through the decoder. MAS keeps reading stage 1's posterior (a frozen copy), the flow stays
frozen, and run time's text path never reads the posterior, so the voice's speech does not depend on the tuning
(its text-driven faces do only through the shared decoder).
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import torch
from torch import Tensor, nn
from uniflg.config import ModelConfig, VariantConfig
from uniflg.errors import InvalidInputError, ModelFormatError
from uniflg.fileio import atomic_write_text
from uniflg.model.commons import sequence_mask
from uniflg.model.features import SpectrogramFeatures
from uniflg.model.io import read_config
from uniflg.model.system import UniFLG

from uniflg_train.checkpoint import CheckpointManager, load_trained_model, model_files, newest_checkpoint_path
from uniflg_train.data.augment import augment_batch
from uniflg_train.data.dataset import Batch, Collate, UniFLGDataset
from uniflg_train.distributed import DistInfo, wrap_ddp
from uniflg_train.losses import masked_mse
from uniflg_train.tblog import TBLogger
from uniflg_train.trainer.common import (
    LoopSettings,
    check_same_model,
    exponential_decay,
    make_augmenter,
    make_loader,
    run_dirs,
    run_loop,
    start_process,
)
from uniflg_train.trainer.options import LandmarkTrainOptions, check_resume_options, save_options

log = logging.getLogger(__name__)


def path_for_step(cfg: ModelConfig, step: int) -> str:
    """'text' or 'speech': which latent feeds the decoder at this iteration."""
    mode = cfg.variant.landmark_training
    if mode == "mixed":
        return "text" if step % 2 == 0 else "speech"
    return mode


class LandmarkStage:
    def __init__(self, model: UniFLG, options: LandmarkTrainOptions, device: torch.device) -> None:
        self.model, self.cfg, self.options, self.device = model.to(device), model.cfg, options, device
        self.model.requires_grad_(False)
        self.model.landmark_decoder.requires_grad_(True)
        groups: list[dict] = [{"params": list(self.model.landmark_decoder.parameters())}]
        # stage 1's posterior, kept for MAS while the model's own one is fine-tuned (tune_posterior)
        self.stage1_posterior: nn.Module | None = None
        if options.tune_posterior:
            self.stage1_posterior = copy.deepcopy(self.model.posterior).eval()
            self.model.posterior.requires_grad_(True)
            groups.append({"params": list(self.model.posterior.parameters()), "lr": options.posterior_learning_rate})
        self.optimizer = torch.optim.AdamW(groups, options.learning_rate, betas=options.betas,
                                           weight_decay=options.weight_decay)
        self.scheduler = exponential_decay(self.optimizer, options.lr_decay)
        self.decoder: nn.Module = self.model.landmark_decoder
        self.last_pair: tuple[Tensor, Tensor] | None = None  # (reference, predicted) track for TensorBoard
        deterministic = options.latent_noise_scale == 0 and options.posterior_noise_scale == 0
        # which paths' inputs are the same at every visit (augmented or fine-tuned speech is not)
        self.cached_paths = {"text"} if deterministic else set()
        if deterministic and not options.augment and not options.tune_posterior:
            self.cached_paths.add("speech")
        self.augmenter = make_augmenter(options, self.cfg.audio.sample_rate)
        self.features = SpectrogramFeatures(self.cfg.audio).to(device)  # spectrograms of augmented speech
        # (path, item id) -> (decoder input (D, L_item), landmark condition (C, 1)); see the module docstring.
        self.input_cache: dict[tuple[str, str], tuple[Tensor, Tensor]] = {}

    def wrap(self, info: DistInfo) -> None:
        self.decoder = wrap_ddp(self.model.landmark_decoder, info)

    def unwrap(self) -> None:
        self.decoder = self.model.landmark_decoder

    @torch.no_grad()
    def decoder_input(self, batch: Batch, which: str, generator: torch.Generator | None = None
                      ) -> tuple[Tensor, Tensor, Tensor]:
        """Frozen VAE-VITS -> (decoder input (B, D, L), mask (B, 1, L), landmark condition (B, C, 1))."""
        cache, ids = self.input_cache, batch.item_ids
        if which not in self.cached_paths or ids is None:
            return self.frozen_forward(batch, which, generator)
        keys = [(which, i) for i in ids]
        if not all(k in cache for k in keys):
            latent, mask, land_cond = self.frozen_forward(batch, which, generator)
            assert batch.landmark_lengths is not None
            for b, (key, n) in enumerate(zip(keys, batch.landmark_lengths.tolist(), strict=True)):
                cache[key] = (latent[b, :, :n].clone(), land_cond[b].clone())
            return latent, mask, land_cond
        return self.from_cache(keys)

    def from_cache(self, keys: list[tuple[str, str]]) -> tuple[Tensor, Tensor, Tensor]:
        entries = [self.input_cache[k] for k in keys]
        lengths = torch.tensor([e[0].size(1) for e in entries], device=self.device)
        latent = entries[0][0].new_zeros(len(entries), entries[0][0].size(0), int(lengths.max()))
        for b, (x, _) in enumerate(entries):
            latent[b, :, : x.size(1)] = x
        mask = sequence_mask(lengths, latent.size(2)).unsqueeze(1).to(latent.dtype)
        return latent, mask, torch.stack([e[1] for e in entries])

    @torch.no_grad()
    def frozen_forward(self, batch: Batch, which: str, generator: torch.Generator | None = None
                       ) -> tuple[Tensor, Tensor, Tensor]:
        return self.forward_inputs(batch, which, generator)

    def forward_inputs(self, batch: Batch, which: str, generator: torch.Generator | None = None
                       ) -> tuple[Tensor, Tensor, Tensor]:
        """VAE-VITS -> (decoder input (B, D, L), mask (B, 1, L), landmark condition (B, C, 1)); the speech path
        carries gradients into the posterior when it is being fine-tuned and grad mode is on."""
        m = self.model
        assert batch.landmark_lengths is not None
        n_land = batch.landmark_lengths
        spec, mel, spec_lengths = batch.spec, batch.mel, batch.spec_lengths
        with torch.no_grad():
            _, mu_u, _ = m.encode_utterance(mel, spec_lengths)
            g = batch.condition_index(self.cfg.variant.conditioning)
            cond = m.condition(g, mu_u)
            land_cond = m.landmark_condition(g, mu_u)
        D = self.cfg.vits.inter_channels
        # One posterior draw per step feeds the speech path, or MAS on the text path (scale 0: the mean).
        posterior_noise = torch.randn(spec.size(0), D, spec.size(2), device=spec.device,
                                      generator=generator) * self.options.posterior_noise_scale
        if which == "speech":
            speech = batch.speech_spectrogram(self.features)  # degraded when the stage augments
            latent, mask = m.landmark_input_from_speech(speech, spec_lengths, cond, n_land, posterior_noise)
            return latent, mask, land_cond
        prior = m.encode_text(batch.ids, batch.prosody, batch.text_lengths)
        z_p, y_mask = m.speech_latent(spec, spec_lengths, cond, posterior_noise, self.stage1_posterior)
        d_spec = m.align(z_p, prior, y_mask).sum(1)  # (B, N) MAS durations
        L = int(n_land.max())
        noise = torch.randn(spec.size(0), D, L, device=spec.device, generator=generator)
        noise = noise * self.options.latent_noise_scale
        latent, mask = m.text_landmark_latent(prior, d_spec, n_land, noise)
        return latent, mask, land_cond

    def loss(self, batch: Batch, which: str) -> dict[str, Tensor]:
        """{"landmarks": normalized landmark MSE} and, when the posterior is fine-tuned on a speech step,
        {"anchor": MSE of the speech latent against the text path's, over the worded items}."""
        assert batch.landmarks is not None and batch.landmark_lengths is not None
        tuning = which == "speech" and self.options.tune_posterior
        latent, mask, land_cond = self.forward_inputs(batch, which) if tuning else self.decoder_input(batch, which)
        pred = self.decoder(latent, mask, land_cond)
        L = pred.size(1)
        target = batch.landmarks[:, :L]
        dec = self.model.landmark_decoder
        frame_mask = mask[:, 0, :L]
        n = int(batch.landmark_lengths[0])
        self.last_pair = (target[0, :n].detach(), pred[0, :n].detach())
        losses = {"landmarks": masked_mse(dec.normalize(pred), dec.normalize(target), frame_mask)}
        worded = batch.text_lengths > 0
        if tuning and bool(worded.any()):
            text_latent, text_mask, _ = self.decoder_input(batch.select(worded), "text")
            m = text_mask[:, :1, : latent.size(2)]
            diff = (latent[worded][..., : m.size(2)] - text_latent[..., : latent.size(2)]) * m
            losses["anchor"] = diff.pow(2).sum() / (m.sum() * latent.size(1)).clamp(min=1.0)
        return losses

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"landmarks": self.optimizer}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"landmarks": self.scheduler}

    def log_media(self, tb: TBLogger, step: int) -> None:
        if self.last_pair is not None:
            tb.landmarks("stage2/reference_vs_predicted", [t.cpu().numpy() for t in self.last_pair], step)

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        which = path_for_step(self.cfg, step)
        if which == "text":  # word-free items never take the text path
            worded = batch.with_text()
            which, batch = ("text", worded) if worded is not None else ("speech", batch)
        if which == "speech" and self.augmenter is not None:
            batch = augment_batch(batch, self.augmenter, self.options.seed * 1_000_003 + step)
        self.model.eval()  # the frozen VAE-VITS runs without dropout (a fine-tuned posterior has none)
        self.model.landmark_decoder.train()
        losses = self.loss(batch, which)
        loss = losses["landmarks"] + self.options.anchor_weight * losses.get("anchor", 0.0)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        mse = float(losses["landmarks"].detach())
        logged = {f"mse_{which}": mse, "mse": mse}
        if "anchor" in losses:
            logged["anchor"] = float(losses["anchor"].detach())
        return logged


def landmark_statistics(dataset: UniFLGDataset, collate: Collate, limit: int = 512) -> tuple[Tensor, float]:
    """Mean face (70, 2) and one global scale (std of offsets) from up to ``limit`` training items."""
    from torch.utils.data import DataLoader

    frames = []
    for i, raw in enumerate(DataLoader(dataset, batch_size=16, collate_fn=collate)):
        b: Batch = raw
        if b.landmarks is None or b.landmark_lengths is None:
            continue
        for lm, n in zip(b.landmarks, b.landmark_lengths, strict=True):
            frames.append(lm[: int(n)])
        if (i + 1) * 16 >= limit:
            break
    if not frames:
        raise ValueError("no landmark tracks in the stage-2 data: it needs the Paired subset")
    stacked = torch.cat(frames)  # (F, 70, 2)
    mean = stacked.mean(0)
    scale = float((stacked - mean).std().clamp(min=1e-4))
    return mean, scale


def load_stage1(vits: Path, variant: VariantConfig | None = None) -> tuple[UniFLG, Path]:
    """Build the stage-2 model from stage 1: a run folder (its newest checkpoint), a checkpoint directory or a
    model file such as a voice's ``model.safetensors`` (so a shipped voice's face decoder can be retrained on
    new faces without redoing stage 1). ``variant`` (None: stage 1's) may change the decoder, which starts fresh
    anyway; the weights are read once, with the variant's config. -> (model, the checkpoint or file it came from:
    a run folder is resolved once, so a stage 1 still training cannot move it between loading and recording).

    Raises ModelFormatError when ``vits`` holds no complete model, InvalidInputError when ``variant`` is
    conditioned on something else than stage 1 (speaker vs emotion rows)."""
    source = newest_checkpoint_path(Path(vits))
    if not source.exists():
        raise ModelFormatError(f"{vits}: no stage-1 run folder, checkpoint or model file")
    files, config_json, _ = model_files(source)
    base = ModelConfig.from_json(config_json) if config_json is not None else read_config(files[0])
    if variant is not None and variant.conditioning != base.variant.conditioning:
        raise InvalidInputError(f"{variant.name} needs a stage 1 conditioned on {variant.conditioning} rows; {source} "
                                f"is conditioned on {base.variant.conditioning} rows (train stage 1 with the same "
                                "--variant)")
    cfg = base.replace(variant=variant) if variant is not None and variant != base.variant else None
    # the landmark decoder always starts fresh: stage 2 trains it (a voice file's trained one included)
    model, where = load_trained_model(source, cfg, skip_prefixes=("landmark_decoder.",))
    log.info("loaded stage 1 from %s", where)
    return model, where


STAGE1_RECORD = "stage1.json"  # in a stage-2 run: the stage-1 checkpoint or model file its --vits resolved to


def check_same_stage1(saved: dict[str, torch.Tensor], model: UniFLG, out: Path, tune_posterior: bool) -> None:
    """A resumed stage-2 run keeps the stage 1 it started from (the checkpoint holds the whole model, so a resume
    would silently replace another ``--vits``'s weights): InvalidInputError when a weight stage 2 never trains
    differs between ``saved`` (the run's checkpoint) and ``model`` (loaded from this command's ``--vits``); it names
    the checkpoint the run started from where the run recorded it (a run folder's newest moves on as it trains)."""
    trained = ("landmark_decoder.",) + (("posterior.",) if tune_posterior else ())
    for name, value in model.state_dict().items():
        if name.startswith(trained) or name not in saved:
            continue
        if saved[name].shape != value.shape or not torch.equal(saved[name], value.to(saved[name].device)):
            started = _recorded_stage1(out)
            own = CheckpointManager(out / "checkpoints").latest()
            if started is not None and not Path(started).exists() and own is not None:  # pruned by stage 1 since
                hint = (f"the stage 1 it started from ({started}) is gone; resume it with --vits {own.path} (its "
                        "own newest checkpoint holds the whole model)")
            elif started is not None:
                hint = f"resume it with --vits {started} (the checkpoint it started from)"
            else:
                hint = "resume it with the --vits it was started with"
            raise InvalidInputError(f"{out} was started from another stage 1 (its {name} differs from --vits's): "
                                    f"{hint}, or give a new --out")


def record_stage1(out: Path, source: Path) -> None:
    """Write :data:`STAGE1_RECORD`: where a new stage-2 run's stage 1 came from."""
    atomic_write_text(out / STAGE1_RECORD, json.dumps({"vits": str(Path(source).resolve())}, indent=2))


def _recorded_stage1(out: Path) -> str | None:
    try:
        return str(json.loads((out / STAGE1_RECORD).read_text(encoding="utf-8"))["vits"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_landmarks(model: UniFLG, dataset: UniFLGDataset, collate: Collate, out: Path,
                    options: LandmarkTrainOptions, stage1: Path | None = None) -> int:
    """Train (or resume) stage 2 in ``out`` on the paired items; VAE-VITS stays frozen (but for the posterior
    encoder with ``options.tune_posterior``). ``stage1``: the checkpoint or file ``model`` was loaded from, recorded
    by a new run so that a refused resume can name it."""
    info = start_process(options.seed, options.threads)
    ckpt_dir, log_dir = run_dirs(out, "stage 2", lock=info.is_main)
    manager = CheckpointManager(ckpt_dir, keep_last=options.keep_last)
    stage = LandmarkStage(model, options, info.device)
    step, epoch = 0, 0
    latest = manager.resumable()
    if latest is not None:
        check_resume_options(options, out / "train_landmarks.json")
        saved = latest.config()
        if saved is not None:  # the variant lives in the model config, not in the options
            check_same_model(saved, model.cfg, out, sizes=False)
        check_same_stage1(latest.state_dict("model"), model, out, options.tune_posterior)
        state = manager.resume(stage.modules(), stage.optimizers(), stage.schedulers(), checkpoint=latest)
        assert state is not None
        step, epoch = state.step, state.epoch
        log.info("resumed stage 2 from %s (step %d)", state.path, step)
        if step >= options.max_steps:
            log.warning("the run is already at step %d (>= --steps %d): nothing to train; raise --steps to go on",
                        step, options.max_steps)
    else:
        mean, scale = landmark_statistics(dataset, collate)
        stage.model.landmark_decoder.set_statistics(mean.to(info.device), scale)
        if stage1 is not None and info.is_main:
            record_stage1(out, stage1)
    stage.wrap(info)
    if info.is_main:
        save_options(options, out / "train_landmarks.json")
        (out / "config.json").write_text(model.cfg.to_json(), encoding="utf-8")
    loader = make_loader(dataset, collate, options.batch_size, options.num_workers, options.seed + epoch)
    settings = LoopSettings("stage2", f"stage 2 ({model.cfg.variant.name})", options.max_steps, options.log_every,
                            options.checkpoint_every, metric="mse", shown=("mse",))
    return run_loop(stage, loader, manager, TBLogger(log_dir, enabled=info.is_main), settings, info, model.cfg,
                    step, epoch, resumed=latest is not None)
