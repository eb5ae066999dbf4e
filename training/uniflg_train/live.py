"""Train a voice's low-latency speech path (issue 18): distil a bounded-right-context speech-to-latent network from
the voice's posterior encoder + flow, train a bounded landmark decoder on its output, export both to ONNX into the
voice folder (``voice.json`` ``live``), and compare the path with the offline one.

    python -m uniflg_train.live train --corpus data/corpus --voice sdk/uniflg/voices/default --out runs/live150 \\
        --lookahead-ms 150 --minutes 40
    python -m uniflg_train.live export --run runs/live150 --voice out/voice-with-live
    python -m uniflg_train.live evaluate --corpus data/corpus --voice out/voice-with-live

Teacher targets come from the voice's own ONNX graphs (so any exported voice can be its teacher): the latent
f(z_f) of ``speech_to_latent`` for the speech network, and for the landmark decoder the corpus face tracks where an
item has one (stage-2 data), else the offline path's landmarks. z_u is the utterance encoder's mean over the first
second, as at run time. Checkpoints are written atomically every ``--checkpoint-every`` steps and resumed.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm
from uniflg import argtypes
from uniflg.backends import graphs
from uniflg.cli import description
from uniflg.errors import InvalidInputError, UniFLGError
from uniflg.fileio import atomic_write_bytes
from uniflg.limits import Range
from uniflg.model.live import LiveLandmarkDecoder, LivePathConfig, LiveSpeechToLatent, LiveStackConfig
from uniflg.types import SynthesisOptions
from uniflg.voice import Voice, VoiceSpec, load_voice
from uniflg.voice_writer import OPSET, store_initializers_half

log = logging.getLogger(__name__)

SPEECH_CROP = 96  # spectrogram frames per training crop (1.0 s)
LAND_CROP = 48  # landmark frames per crop (1.6 s)
WARMUP = 24  # frames at a crop's start left out of the loss: at run time they have real left context


# ---------------------------------------------------------------- sizes for a look-ahead

def path_config(lookahead_ms: float, hop: int, sample_rate: int, fps: int) -> LivePathConfig:
    """The right contexts (speech frames, landmark frames) that use most of ``lookahead_ms`` (ties: more landmark
    frames), by the runtime's formula with the measured contexts: speech right = frames + 1 (the STFT window reaches
    into the next frame) + 1 (measurement margin), landmark right = frames + 1 (margin). ``lookahead_ms`` is for the
    graphs alone: callers subtract what the input conditioner holds back."""
    spec_ms, land_ms = 1000 * hop / sample_rate, 1000 / fps
    best, best_ms = (0, 0), -1.0
    for land in range(0, 8):
        for spec in range(0, 24):
            ms = (land + 1 + 1) * land_ms + (spec + 2 + 2) * spec_ms
            if ms <= lookahead_ms and (ms, land) > (best_ms, best[1]):
                best, best_ms = (spec, land), ms
    if best_ms < 0:
        shortest = 2 * land_ms + 4 * spec_ms
        raise ValueError(f"no live path fits {lookahead_ms:g} ms: the shortest look-ahead of this design is "
                         f"{shortest:.0f} ms (causal stacks, 2 landmark frames for interpolation and margin)")
    base = LivePathConfig()
    return replace(base, speech=replace(base.speech, right_frames=best[0]),
                   landmarks=replace(base.landmarks, right_frames=best[1]))


def _held_ms(sample_rate: int) -> float:
    """What the runtime's input conditioning (default options) holds back, in ms."""
    from uniflg.conditioning import ConditioningOptions, InputConditioner

    return InputConditioner(sample_rate, ConditioningOptions()).latency_samples / sample_rate * 1000


# ---------------------------------------------------------------- teacher data

@dataclass
class Item:
    id: str
    wav: np.ndarray  # (S,) float32 at the voice's rate
    g: int
    z_u: np.ndarray  # (Du,)
    latent: np.ndarray  # (D, S // hop) teacher f(z_f)
    landmarks: np.ndarray  # (L, 70, 2): the corpus track, or the offline path's output
    ground_truth: bool


def read_manifest(corpus: Path, split: str) -> list[dict[str, Any]]:
    path = corpus / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} not found: make the corpus first (uniflg corpus make --out {corpus})")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def speech_options(voice: Voice, speaker: str, **fields: Any) -> SynthesisOptions:
    """Options that animate ``speaker``'s speech as the runtime would: UniFLG names the speaker when the voice
    has it (g = its row); UniFLG-AS names nobody, so g is the default emotion and z_u comes from the speech
    (a corpus speaker need not be one the voice stores a latent for)."""
    named = voice.config.variant.conditioning != "emotion" and speaker in voice.speakers
    return SynthesisOptions(speaker=speaker if named else None, **fields)


def teacher_items(voice_dir: Path, corpus: Path, split: str, limit: int | None = None) -> list[Item]:
    """Teacher targets for every item of ``split`` (ONNX Runtime; a few seconds per minute of speech)."""
    import soundfile as sf
    from uniflg.audio import resample, to_mono_float

    voice = load_voice(voice_dir, backend="onnxruntime")
    rows = read_manifest(corpus, split)[:limit]
    items = []
    for row in tqdm(rows, desc=f"teacher {split}", unit="utt"):
        audio, rate = sf.read(str(corpus / row["audio"]), dtype="float32")
        wav = resample(to_mono_float(audio), int(rate), voice.sample_rate)
        options = speech_options(voice, row["speaker"])
        g = voice.condition_index(options)
        z_u = voice.backend.run("utterance_encoder", {"wav": wav[None, :voice.sample_rate]})["mu_u"]
        latent = voice.backend.run("speech_to_latent", {"wav": wav[None], "g": np.array([g]), "z_u": z_u})["latent"]
        if row.get("landmarks"):
            landmarks, truth = np.load(corpus / row["landmarks"]).astype(np.float32), True
        else:
            landmarks, truth = voice.animate_array(wav, voice.sample_rate, options), False
        items.append(Item(row["id"], wav, g, z_u[0], latent[0], landmarks, truth))
    return items


def to_landmark_rate(latent: np.ndarray, n_land: int, sample_rate: int, hop: int, fps: int) -> np.ndarray:
    """(D, T) spectrogram-rate latent -> (D, n_land), interpolated exactly as the runtime's animator does."""
    T = latent.shape[1]
    pos = np.clip((np.arange(n_land) + 0.5) * sample_rate / (fps * hop) - 0.5, 0, T - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, T - 1)
    w = (pos - i0).astype(np.float32)
    return (1 - w) * latent[:, i0] + w * latent[:, i1]


# ---------------------------------------------------------------- training

@dataclass
class TrainState:
    step_speech: int = 0
    step_landmarks: int = 0


def build_modules(spec: VoiceSpec, cfg: LivePathConfig) -> tuple[LiveSpeechToLatent, LiveLandmarkDecoder]:
    c = spec.config
    s2l = LiveSpeechToLatent(c.audio, cfg, c.vits.inter_channels, c.n_conditions, c.vits.utterance_dim)
    dec = LiveLandmarkDecoder(cfg, c.vits.inter_channels, c.landmarks.n_points, c.vits.utterance_dim)
    return s2l, dec


def _fit(phase: str, counter: str, total: int, deadline: float, loss_fn: Callable[[], torch.Tensor],
         opt: torch.optim.Optimizer, state: TrainState, save: Callable[[], None], every: int) -> None:
    """One training phase: steps of ``loss_fn`` until ``state.<counter>`` reaches ``total`` or the wall-clock
    ``deadline`` (time.monotonic) passes; an atomic checkpoint every ``every`` steps and at the end."""
    bar = tqdm(total=total, initial=getattr(state, counter), desc=phase, unit="step")
    while getattr(state, counter) < total and time.monotonic() < deadline:
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        setattr(state, counter, getattr(state, counter) + 1)
        bar.update(), bar.set_postfix(loss=f"{loss.item():.4f}")
        if getattr(state, counter) % every == 0:
            save()
    bar.close()
    save()


def _save(path: Path, s2l: torch.nn.Module, dec: torch.nn.Module, opts: list[torch.optim.Optimizer],
          state: TrainState, cfg: LivePathConfig, asked: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save({"s2l": s2l.state_dict(), "dec": dec.state_dict(), "opts": [o.state_dict() for o in opts],
                "state": asdict(state), "config": asdict(cfg), "asked": asked}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _crop_speech(items: list[Item], rng: np.random.Generator, batch: int, hop: int, right: int
                 ) -> tuple[torch.Tensor, ...]:
    wavs, gs, zs, targets = [], [], [], []
    for k in rng.integers(0, len(items), batch):
        it = items[k]
        T = it.latent.shape[1]
        t0 = int(rng.integers(0, max(1, T - SPEECH_CROP)))
        n = min(SPEECH_CROP, T)
        wav = np.zeros(SPEECH_CROP * hop, np.float32)
        seg = it.wav[t0 * hop:(t0 + n) * hop]
        wav[:seg.size] = seg
        tgt = np.zeros((it.latent.shape[0], SPEECH_CROP), np.float32)
        tgt[:, :n] = it.latent[:, t0:t0 + n]
        wavs.append(wav)
        gs.append(it.g)
        zs.append(it.z_u)
        targets.append(tgt)
    return (torch.from_numpy(np.stack(wavs)), torch.tensor(gs), torch.from_numpy(np.stack(zs)),
            torch.from_numpy(np.stack(targets)))


def _crop_landmarks(items: list[Item], lat: list[np.ndarray], rng: np.random.Generator, batch: int
                    ) -> tuple[torch.Tensor, ...]:
    xs, zs, ys = [], [], []
    for k in rng.integers(0, len(items), batch):
        L = min(lat[k].shape[1], len(items[k].landmarks))
        t0 = int(rng.integers(0, max(1, L - LAND_CROP)))
        n = min(LAND_CROP, L)
        x = np.zeros((lat[k].shape[0], LAND_CROP), np.float32)
        y = np.zeros((LAND_CROP, 70, 2), np.float32)
        x[:, :n], y[:n] = lat[k][:, t0:t0 + n], items[k].landmarks[t0:t0 + n]
        if n < LAND_CROP:  # short clip: repeat the last frame (what replicate padding shows the network)
            x[:, n:], y[n:] = x[:, n - 1:n], y[n - 1]
        xs.append(x)
        zs.append(items[k].z_u)
        ys.append(y)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(zs)), torch.from_numpy(np.stack(ys))


def train(args: argparse.Namespace) -> int:
    """Distil a live path from ``--voice`` on ``--corpus`` into ``--out`` (``live.pt``; a rerun resumes). Everything
    is checked before ``--out`` is made: InvalidInputError / ModelFormatError, one line each."""
    from uniflg.voice import read_voice_spec

    from uniflg_train.data.preprocess import check_corpus_folder

    torch.set_num_threads(args.threads)
    voice_dir, out = Path(args.voice), Path(args.out)
    spec = read_voice_spec(voice_dir)
    check_corpus_folder(Path(args.corpus), "--corpus")
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} is a file; give a run folder (new, or a live run to resume)")
    c = spec.config
    ckpt_path = out / "live.pt"
    saved = torch.load(ckpt_path, weights_only=False) if ckpt_path.is_file() else None
    asked = {"lookahead_ms": float(args.lookahead_ms), "voice": str(voice_dir.resolve())}
    if saved and saved.get("asked", asked) != asked:  # runs before this record resume as they are
        changed = ", ".join(f"--{k.replace('_', '-')} {saved['asked'][k]} -> {v}" for k, v in asked.items()
                            if saved["asked"].get(k) != v)
        raise InvalidInputError(f"{out} was trained with other options ({changed}): resume it with those, or give "
                                "a new --out")
    try:
        cfg = LivePathConfig.from_dict(saved["config"]) if saved else path_config(
            args.lookahead_ms - _held_ms(c.audio.sample_rate), c.audio.hop_length, c.audio.sample_rate,
            c.landmarks.fps)
    except ValueError as exc:  # too short a look-ahead: name the asked value, not what is left after conditioning
        raise InvalidInputError(f"--lookahead-ms {args.lookahead_ms:g}: {exc} plus "
                                f"{_held_ms(c.audio.sample_rate):.0f} ms the input conditioning holds") from None
    log.info("live path sizes: %s", cfg)
    items = teacher_items(voice_dir, Path(args.corpus), "train", args.limit)
    if not items:
        raise InvalidInputError(f"--corpus {args.corpus}: its train split has no items to distil from")
    out.mkdir(parents=True, exist_ok=True)
    s2l, dec = build_modules(spec, cfg)
    lat_all = np.concatenate([it.latent for it in items], axis=1)
    s2l.mean.copy_(torch.from_numpy(lat_all.mean(1)).view(1, -1, 1))
    s2l.std.copy_(torch.from_numpy(lat_all.std(1) + 1e-3).view(1, -1, 1))
    face = np.asarray(spec.neutral_face, np.float32)
    dec.mean_face.copy_(torch.from_numpy(face))
    tracks = [it.landmarks for it in items if it.ground_truth] or [it.landmarks for it in items]
    dec.scale.fill_(float((np.concatenate(tracks) - face).std()))
    opt_s = torch.optim.AdamW(s2l.parameters(), lr=args.lr, betas=(0.8, 0.99), weight_decay=0.01)
    opt_d = torch.optim.AdamW(dec.parameters(), lr=args.lr, betas=(0.8, 0.99), weight_decay=0.01)
    state = TrainState()
    if saved:
        s2l.load_state_dict(saved["s2l"]), dec.load_state_dict(saved["dec"])
        opt_s.load_state_dict(saved["opts"][0]), opt_d.load_state_dict(saved["opts"][1])
        state = TrainState(**saved["state"])
        log.info("resumed at %s", state)
    rng = np.random.default_rng(args.seed + state.step_speech + state.step_landmarks)
    deadline = time.monotonic() + 60 * args.minutes
    speech_deadline = time.monotonic() + 60 * args.minutes * args.speech_share
    hop, right = c.audio.hop_length, cfg.speech.right_frames
    save = functools.partial(_save, ckpt_path, s2l, dec, [opt_s, opt_d], state, cfg, asked)

    def speech_loss() -> torch.Tensor:
        wav, g, z_u, tgt = _crop_speech(items, rng, args.batch, hop, right)
        pred = s2l(wav, g, z_u)
        keep = slice(WARMUP, SPEECH_CROP - right - 1)
        return F.mse_loss((pred - s2l.mean)[..., keep] / s2l.std, (tgt - s2l.mean)[..., keep] / s2l.std)

    _fit("speech-to-latent", "step_speech", args.speech_steps, speech_deadline, speech_loss, opt_s, state, save,
         args.checkpoint_every)
    s2l.eval()
    with torch.no_grad():  # the decoder learns from the student's latents, as it will see them at run time
        lat = [to_landmark_rate(s2l(torch.from_numpy(it.wav[None]), torch.tensor([it.g]),
                                    torch.from_numpy(it.z_u[None]))[0].numpy(), len(it.landmarks),
                                c.audio.sample_rate, hop, c.landmarks.fps) for it in items]

    def landmark_loss() -> torch.Tensor:
        x, z_u, y = _crop_landmarks(items, lat, rng, args.batch)
        pred = dec(x, torch.zeros(len(x), dtype=torch.long), z_u)
        keep = slice(WARMUP // 2, LAND_CROP - cfg.landmarks.right_frames - 1)
        return F.mse_loss(((pred - dec.mean_face) / dec.scale)[:, keep], ((y - dec.mean_face) / dec.scale)[:, keep])

    _fit("landmark decoder", "step_landmarks", args.landmark_steps, deadline, landmark_loss, opt_d, state, save,
         args.checkpoint_every)
    log.info("stopped at %s (%s)", state, "time budget" if time.monotonic() >= deadline else "steps done")
    return 0


# ---------------------------------------------------------------- export

@torch.no_grad()
def measure_left_right(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], in_rate: int,
                       time_dim: int) -> tuple[int, int]:
    """(left, right) receptive field in input frames, +1 each as ``measure_context``: output frame k reads input
    frames [k - left + 1, k + right - 1]. Measured by perturbing one input frame in the middle, in float64: a far
    tap's contribution can be below float32's resolution of the output and would vanish."""
    import copy

    module = copy.deepcopy(module).double()
    inputs = tuple(t.double() if t.is_floating_point() else t for t in inputs)
    x = inputs[0]
    mid = x.size(-1) // in_rate // 2
    base = module(*inputs)
    y = x.clone()
    y[..., mid * in_rate:(mid + 1) * in_rate] += 1.0
    diff = (module(y, *inputs[1:]) - base).abs().movedim(time_dim, 0)
    changed = torch.nonzero(diff.reshape(diff.size(0), -1).amax(dim=1)).flatten()
    first, last = int(changed[0]), int(changed[-1])
    return last - mid + 1, mid - first + 1


def export_path(run: Path, voice_dir: Path, out: Path, name: str | None = None) -> dict[str, Any]:
    """``voice_dir`` with the trained live path added, written to ``out`` (a new folder, a voice to replace, or
    ``voice_dir`` itself) whole or not at all: built in a staged folder and swapped in. -> its voice.json entry.
    InvalidInputError when ``run`` holds no live run or was distilled from another voice."""
    from uniflg.voice import read_voice_spec

    from uniflg_train.export.command import staging_folder, swap_in

    if not (run / "live.pt").is_file():
        raise InvalidInputError(f"--run {run} holds no live.pt; give the --out of `python -m uniflg_train.live train`")
    saved = torch.load(run / "live.pt", weights_only=False)
    cfg = LivePathConfig.from_dict(saved["config"])
    spec = read_voice_spec(voice_dir)
    s2l, dec = build_modules(spec, cfg)
    try:
        s2l.load_state_dict(saved["s2l"]), dec.load_state_dict(saved["dec"])
    except RuntimeError:  # sizes of another voice's latent space
        raise InvalidInputError(f"--run {run} was not distilled from --voice {voice_dir} (its weights have other "
                                "sizes); give the voice it was trained from") from None
    s2l.eval(), dec.eval()
    staged = staging_folder(out)
    try:
        shutil.copytree(voice_dir, staged, dirs_exist_ok=True)
        entry = _add_path(staged, spec, cfg, saved, s2l, dec, name)
        swap_in(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return entry


def _add_path(out: Path, spec: VoiceSpec, cfg: LivePathConfig, saved: dict[str, Any], s2l: torch.nn.Module,
              dec: torch.nn.Module, name: str | None) -> dict[str, Any]:
    """Export the live graphs into the voice folder ``out`` and record them in its voice.json."""
    c = spec.config
    hop = c.audio.hop_length
    g, z_u = torch.zeros(1, dtype=torch.long), torch.randn(1, c.vits.utterance_dim)
    wav = 0.1 * torch.randn(1, 400 * hop)
    latent = torch.randn(1, c.vits.inter_channels, 200)
    ctx = {"speech_to_latent": list(measure_left_right(s2l, (wav, g, z_u), hop, 2)),
           "latent_to_landmarks": list(measure_left_right(dec, (latent, g, z_u), 1, 1))}
    from uniflg.inference import Runtime, SpeechGraphs, live_speech_context, speech_lookahead_seconds

    l_left, l_right = ctx["latent_to_landmarks"]
    path_graphs = SpeechGraphs("", "", live_speech_context(*ctx["speech_to_latent"]), (int(l_left), int(l_right)))
    lookahead = speech_lookahead_seconds(Runtime(c, dict(spec.contexts)), path_graphs) * 1000 + _held_ms(
        c.audio.sample_rate)
    name = name or f"live{int(round(lookahead))}"
    files = {}
    for graph, module, args in (("speech_to_latent", s2l, (wav[:, :40 * hop], g, z_u)),
                                ("latent_to_landmarks", dec, (latent[..., :40], g, z_u))):
        gspec = graphs.GRAPHS[graph]
        filename = f"{name}_{gspec.filename}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(out / filename), input_names=gspec.input_names,
                              output_names=gspec.output_names, dynamic_axes=gspec.dynamic_axes(),
                              opset_version=OPSET, dynamo=False, do_constant_folding=True)
        store_initializers_half(out / filename)
        files[graph] = filename
    entry = {"graphs": files, "contexts": ctx, "lookahead_ms": round(lookahead, 1), "config": asdict(cfg),
             "steps": saved["state"], "speakers": list(spec.config.condition_names)}  # the rows its graphs hold
    spec = replace(spec, live={**spec.live, name: entry})
    spec.write(out)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file()) / 1e6
    log.info("live path %s: look-ahead %.1f ms, contexts %s; voice folder now %.1f MB", name, lookahead, ctx, size)
    return {name: entry, "voice_mb": round(size, 2)}


# ---------------------------------------------------------------- evaluation

def evaluate(voice_dir: Path, corpus: Path, split: str = "test", limit: int | None = None) -> dict[str, Any]:
    """D-LL (and the other landmark metrics) of every speech path against the corpus face tracks of ``split``,
    with the voice streaming in 20 ms pushes as live input would."""
    import soundfile as sf
    from uniflg.audio import resample, to_mono_float

    from uniflg_train.evaluation.metrics import LandmarkSums, landmark_sums

    voice = load_voice(voice_dir, backend="onnxruntime")
    rows = [r for r in read_manifest(corpus, split) if r.get("landmarks")][:limit]
    sums: dict[str, LandmarkSums] = {p.name: LandmarkSums() for p in voice.speech_paths()}
    for row in tqdm(rows, desc="evaluate", unit="utt"):
        audio, rate = sf.read(str(corpus / row["audio"]), dtype="float32")
        wav = resample(to_mono_float(audio), int(rate), voice.sample_rate)
        ref = np.load(corpus / row["landmarks"]).astype(np.float32)
        for path in voice.speech_paths():
            opts = speech_options(voice, row["speaker"], max_lookahead_ms=path.lookahead_ms)
            step = voice.sample_rate // 50
            pred = np.concatenate([c.landmarks for c in voice.animate(
                (wav[i:i + step] for i in range(0, wav.size, step)), voice.sample_rate, opts)])
            n = min(len(pred), len(ref))
            sums[path.name] = sums[path.name] + landmark_sums(pred[:n], ref[:n])
    result: dict[str, Any] = {"items": len(rows), "paths": {p.name: p.lookahead_ms for p in voice.speech_paths()}}
    result["metrics"] = {name: {k: round(v, 3) for k, v in s.metrics().items()} for name, s in sums.items()}
    offline = result["metrics"]["offline"]["D-LL"]
    result["d_ll_ratio_to_offline"] = {name: round(m["D-LL"] / offline, 3) for name, m in result["metrics"].items()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uniflg_train.live", description=description(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="distil the speech network, then train the landmark decoder")
    p.add_argument("--corpus", type=argtypes.path, required=True)
    p.add_argument("--voice", type=argtypes.path, required=True, help="the teacher voice folder")
    p.add_argument("--out", type=argtypes.path, required=True, help="run folder (live.pt; resumed when present)")
    p.add_argument("--lookahead-ms", type=argtypes.positive_number, default=150.0,
                   help="look-ahead the path must fit (100-250)")
    p.add_argument("--minutes", type=argtypes.positive_number, default=40.0, help="wall-clock budget for both phases")
    p.add_argument("--speech-share", type=argtypes.within(Range("speech share", 0.0, 1.0)), default=0.55,
                   help="share of the budget for phase 1, 0-1")
    p.add_argument("--speech-steps", type=argtypes.int_range(0, 10**9), default=4000,
                   help="phase 1 (speech -> latent) stops here or at its share of --minutes, whichever comes first")
    p.add_argument("--landmark-steps", type=argtypes.int_range(0, 10**9), default=4000,
                   help="phase 2 (latent -> landmarks) stops here or when --minutes is spent")
    p.add_argument("--batch", type=argtypes.int_range(1, 4096), default=16, help="items per step")
    p.add_argument("--lr", type=argtypes.positive_number, default=1e-3, help="AdamW learning rate, both phases")
    p.add_argument("--threads", type=argtypes.int_range(1, 1024), default=1)
    p.add_argument("--limit", type=argtypes.int_range(1, 10**9), default=None,
                   help="use only the first N training items")
    p.add_argument("--checkpoint-every", type=argtypes.int_range(1, 10**9), default=100)
    p.add_argument("--seed", type=argtypes.seed, default=0)
    p = sub.add_parser("export", help="add the trained path to a voice folder (ONNX, voice.json 'live')")
    p.add_argument("--run", type=argtypes.path, required=True)
    p.add_argument("--voice", type=argtypes.path, required=True, help="the teacher voice folder")
    p.add_argument("--out", type=argtypes.path, required=True,
                   help="voice folder to write (a copy, or the same folder)")
    p.add_argument("--name", default=None, help="path name (default live<look-ahead ms>)")
    p = sub.add_parser("evaluate", help="D-LL of every speech path of a voice on the corpus face tracks")
    p.add_argument("--corpus", type=argtypes.path, required=True)
    p.add_argument("--voice", type=argtypes.path, required=True)
    p.add_argument("--split", choices=("train", "val", "test"), default="test",
                   help="the corpus manifest to stream")
    p.add_argument("--limit", type=argtypes.int_range(1, 10**9), default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "train":
            return train(args)
        if args.command == "export":
            result = export_path(args.run, args.voice, args.out, args.name)
        else:
            result = evaluate(args.voice, args.corpus, args.split, args.limit)
    except UniFLGError as exc:  # one line, as every uniflg command says it
        log.error("%s", exc)
        return 2
    except OSError as exc:
        log.error("%s%s", f"{exc.filename}: " if exc.filename else "", exc.strerror or exc)
        return 2
    except KeyboardInterrupt:
        log.warning("interrupted")
        return 130
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


__all__ = ["LiveStackConfig", "evaluate", "export_path", "main", "measure_left_right", "path_config", "train"]

if __name__ == "__main__":
    sys.exit(main())
