"""``uniflg corpus pair``: give the untimed items of a corpus (Kokoro speech) phone timing and faces.

Kokoro reports no durations, so its items enter a corpus unpaired and stage 2 never maps a natural-sounding
voice to a face: the landmark decoder only ever learns faces from HTS and espeak-ng speech, which is further
from real people's voices. This command times each untimed item the way VITS training does, with Monotonic
Alignment Search (MAS; Kim et al., "Glow-TTS", 2020, used by VITS) between a trained stage-1 model's text prior
N(m_p, s_p) and the flowed posterior f(z_f) of the item's own speech (posterior mean, utterance latent mean),
and then draws the procedural face of the corpus generator (``corpus/face.py``) from that timing.

The output is a new corpus folder holding every item of the source (hard links, as ``corpus merge`` makes);
the timed items get ``landmarks/ID.npy`` and ``alignments/ID.json``. The source is never written to. A rerun
keeps what is already written (resumable).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path

from uniflg_train.corpus.merge import FILE_KEYS, corpus_rows, link_file, read_meta
from uniflg_train.corpus.out_folder import changes, check_claim, check_out, claim_out
from uniflg_train.corpus.sources import UNTIMED_SOURCES
from uniflg_train.data.formats import SPLITS
from uniflg_train.data.labels import check_stand_in, speaker_rows


@dataclass(frozen=True)
class PhoneTiming:
    """One utterance's phone timing: ``symbols`` (N,), ``starts`` and ``ends`` (N,) in seconds, ``seconds``;
    ``interrogative`` (N,) the front end's question flag per symbol (the face raises its brows)."""

    symbols: tuple[str, ...]
    starts: np.ndarray
    ends: np.ndarray
    seconds: float
    interrogative: np.ndarray


class MasAligner:
    """Times speech against its text with a trained UniFLG model (torch): ``aligner(wav, text, language,
    speaker, emotion) -> PhoneTiming``. ``wav`` is mono float32 at the model's sample rate; ``speaker`` and
    ``emotion`` name rows of the model (UniFLG conditions on the speaker, UniFLG-AS on the emotion)."""

    def __init__(self, model_path: Path, unknown_speakers_as: str | None = None) -> None:
        from uniflg.audio import mel_filterbank

        from uniflg_train.checkpoint import load_trained_model

        self.model, _ = load_trained_model(model_path)  # a model file, a voice or checkpoint folder, a run
        self.cfg = self.model.cfg
        self.unknown_speakers_as = unknown_speakers_as
        check_stand_in(unknown_speakers_as, self.cfg.speakers)
        self._mel_basis = mel_filterbank(self.cfg.audio)

    def check_rows(self, items: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """g of each (speaker, emotion) of ``items``: the speaker's row (UniFLG; a speaker the model lacks takes
        ``unknown_speakers_as``'s) or the emotion's (UniFLG-AS). InvalidInputError naming every one with no row."""
        if self.cfg.variant.conditioning == "emotion":
            missing = sorted({e for _, e in items} - set(self.cfg.emotions))
            if missing:
                raise InvalidInputError(f"the model has no emotion {', '.join(missing)}; it has "
                                        f"{', '.join(self.cfg.emotions)}")
            return {(sp, e): self.cfg.emotions.index(e) for sp, e in items}
        rows = speaker_rows((sp for sp, _ in items), self.cfg.speakers, self.unknown_speakers_as)
        return {(sp, e): rows[sp] for sp, e in items}

    def condition_index(self, speaker: str, emotion: str) -> int:
        """g for an item of ``speaker`` in ``emotion`` (:meth:`check_rows`)."""
        return self.check_rows([(speaker, emotion)])[(speaker, emotion)]

    def __call__(self, wav: np.ndarray, text: str, language: str, speaker: str, emotion: str = "normal"
                 ) -> PhoneTiming:
        import torch
        from uniflg.audio import linear_spectrogram, log_mel
        from uniflg.text import encode

        a = self.cfg.audio
        frames = wav.size // a.hop_length
        if frames < 2:
            raise InvalidInputError(f"audio too short to align ({wav.size} samples)")
        spec_np = linear_spectrogram(wav[: frames * a.hop_length], a)
        utt = encode(text, language)
        spec = torch.from_numpy(spec_np.astype(np.float32))[None]
        mel = torch.from_numpy(log_mel(spec_np, a, self._mel_basis).astype(np.float32))[None]
        T, N = spec.size(2), len(utt.ids)
        with torch.no_grad():
            prior = self.model.encode_text(torch.from_numpy(utt.ids)[None], torch.from_numpy(utt.prosody)[None],
                                           torch.tensor([N]))
            _, mu_u, _ = self.model.encode_utterance(mel, torch.tensor([T]))
            cond = self.model.condition(torch.tensor([self.condition_index(speaker, emotion)]), mu_u)
            y_mask = torch.ones(1, 1, T)
            z, _, _ = self.model.posterior(spec, y_mask, cond, torch.zeros(1, 1, T))  # the posterior mean
            path = self.model.align(self.model.flow(z, y_mask, cond), prior, y_mask)  # (1, T, N)
        frames_per_symbol = path[0].sum(0).numpy().astype(np.float64)
        hop_s = a.hop_length / a.sample_rate
        ends = np.cumsum(frames_per_symbol) * hop_s
        return PhoneTiming(tuple(utt.symbols), ends - frames_per_symbol * hop_s, ends, T * hop_s, utt.prosody[:, 2])


def pair_corpus(source: Path, model_path: Path, out: Path, face: str, limit: int | None = None,
                sources: Sequence[str] = UNTIMED_SOURCES, unknown_speakers_as: str | None = None) -> dict[str, Any]:
    """Copy corpus ``source`` to ``out`` (hard links) with every untimed item of ``sources`` (up to ``limit``)
    timed by :class:`MasAligner` and given ``face``'s procedural track; returns the new ``corpus.json``.

    Raises InvalidInputError for a folder that is no corpus, ``out`` overlapping ``source`` or holding another
    corpus or one timed with other settings (out_folder.claim_out), or a speaker the model lacks.
    Items are written atomically and skipped when already present (a rerun resumes)."""
    import soundfile as sf

    from uniflg_train.corpus.face import make_track

    meta = read_meta(source)
    check_out(out, [source.resolve()], "corpus pair")
    rows = {split: [row for _, row in checked] for split, checked in corpus_rows(source).items()}
    todo = [r for split in SPLITS for r in rows[split]
            if r.get("source") in sources and not r.get("landmarks") and r.get("text")][:limit]
    timed_by = {"method": "MAS", "model": str(model_path), "face": face, "unknown_speakers_as": unknown_speakers_as}
    # the written items must have been timed as this run times them (else they would mix)
    settings = {"--model": _model_identity(model_path), "--face": face, "--unknown-speakers-as": unknown_speakers_as,
                "--sources": list(sources), "source corpus": str(source.resolve())}
    legacy = partial(_legacy_changes, source=source, timed_by=timed_by)
    check_claim(out, "corpus pair", settings, "uniflg corpus pair", legacy)
    aligner = MasAligner(model_path, unknown_speakers_as) if todo else None
    if aligner is not None:  # every row the items need, before anything is written
        aligner.check_rows([(r["speaker"], r.get("emotion", "normal")) for r in todo])
    claim_out(out, "corpus pair", settings, "uniflg corpus pair", legacy)
    newly = 0
    for row in tqdm(todo, desc="pair (MAS)", unit="utt"):
        lm_rel, al_rel = f"landmarks/{row['id']}.npy", f"alignments/{row['id']}.json"
        if not (out / lm_rel).is_file() or not (out / al_rel).is_file():
            assert aligner is not None
            audio, rate = sf.read(str(source / row["audio"]), dtype="float32")
            if int(rate) != aligner.cfg.audio.sample_rate:
                raise InvalidInputError(f"{source / row['audio']}: {rate} Hz; the model reads "
                                        f"{aligner.cfg.audio.sample_rate} Hz")
            timing = aligner(audio, row["text"], row["language"], row["speaker"], row.get("emotion", "normal"))
            rng = np.random.default_rng([int.from_bytes(row["id"].encode()[-8:], "little"), 1])  # per item id
            track = make_track(timing.symbols, timing.starts, timing.ends, timing.seconds, face, "normal", rng,
                               1.0, timing.interrogative, row["language"])
            _write(out / lm_rel, lambda f, t=track: np.save(f, t))
            align = {"symbols": list(timing.symbols), "starts": np.round(timing.starts, 5).tolist(),
                     "ends": np.round(timing.ends, 5).tolist(), "seconds": timing.seconds, "timed_by": "MAS"}
            _write(out / al_rel, lambda f, a=align: f.write(json.dumps(a, ensure_ascii=False).encode()))
            newly += 1
        row.update(landmarks=lm_rel, alignment=al_rel, face=face)
    for split in SPLITS:
        for row in rows[split]:
            for key in FILE_KEYS:
                if row.get(key) and not (out / row[key]).is_file():
                    link_file(source / row[key], out / row[key])
        with atomic_path(out / f"{split}.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[split]),
                           encoding="utf-8")
    every = [r for split in SPLITS for r in rows[split]]
    meta = {**meta, "generator": "uniflg corpus pair", "paired_from": str(source),
            "timed_by": {**timed_by, "items": len(todo), "this_run": newly},
            "paired": sum(bool(r.get("landmarks")) for r in every),
            "unpaired": sum(not r.get("landmarks") for r in every)}
    with atomic_path(out / "corpus.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return meta


def _model_identity(model_path: Path) -> list[str]:
    """The weight files ``--model`` names, resolved (a voice folder, its model file, or a run folder's newest
    checkpoint at this moment: a run that trained on times with another model)."""
    from uniflg.errors import ModelFormatError

    from uniflg_train.checkpoint import model_files

    try:
        return [str(f.resolve()) for f in model_files(model_path)[0]]
    except (ModelFormatError, OSError):  # no model there: the aligner says so when it has items to time
        return [str(model_path.resolve())]


def _legacy_changes(previous: dict[str, Any], source: Path, timed_by: dict[str, Any]) -> list[str]:
    """A paired corpus made before the record existed: its ``paired_from`` and ``timed_by`` against this run's."""
    before = previous.get("timed_by") or {}
    names = {"model": "--model", "face": "--face", "unknown_speakers_as": "--unknown-speakers-as"}
    old = {names[k]: before.get(k) for k in names}
    now = {names[k]: timed_by[k] for k in names}
    if before.get("model") and Path(str(before["model"])).resolve() == Path(str(timed_by["model"])).resolve():
        old["--model"] = now["--model"]  # the same model named another way
    was = Path(str(previous.get("paired_from", ""))).resolve()
    return changes({**old, "source corpus": str(was)}, {**now, "source corpus": str(source.resolve())})


def _write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: np.save would append ".npy"
        write(fh)
