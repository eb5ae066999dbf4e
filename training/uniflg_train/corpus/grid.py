"""Real talking faces for stage 2: talker s1 of the GRID audio-visual corpus (``uniflg corpus grid``).

Every face stage 2 learned from before was procedural. GRID (Cooke, Barker, Cunningham & Shao, "An audio-visual
corpus for speech perception and automatic speech recognition", JASA 120(5), 2006) is one of the few audio-visual
speech corpora whose licence allows training (CC BY 4.0, the authors' Zenodo release, record 3625687): 34 talkers,
1,000 three-second sentences each ("bin blue at f two now"), frontal video at 25 fps with its sound. Talker s1's
1,000 videos and word alignments are in a public repository (``data/grid_s1.json`` pins it by commit and each
file by SHA-256); this reads them from a local clone, never from the network.

Per video: the sound (mono, 24 kHz), the OpenPose-70 track of the MediaPipe pipeline
(:func:`uniflg_train.video.extract.video_landmarks`, ``make video-env``) at 30 fps, and the transcript from the
word alignment. The track is then **moved onto the paired face** (``--face``, mei by default), because stage 2's
decoder learns one face for all its paired items (docs/training.md, ``--paired-speakers``):

1. each frame is aligned to the face's neutral shape by the similarity transform (rotation, scale, translation)
   that best fits the points that do not move with speech (nose bridge and base, eye corners: Umeyama, "Least-
   squares estimation of transformation parameters between two point patterns", IEEE TPAMI 13(4), 1991), which
   removes head pose and the talker's size;
2. the talker's rest face is the median aligned frame over the alignments' silences (mouth closed) of all videos;
3. each frame becomes the face's neutral shape plus its offset from that rest face: the talker's real lip, jaw,
   brow and eyelid motion on the paired face's proportions (head motion is left out).

The output is a corpus folder (``train/val/test.jsonl``, ``wavs/``, ``landmarks/``, ``corpus.json``; items
``grid_s1_<name>``, speaker ``grid_s1``, English) that ``corpus merge`` and ``preprocess`` read; ``.tracks/`` keeps
the aligned real tracks so a rerun resumes without MediaPipe. It shows a real person: keep it out of git.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path, atomic_write_text

from uniflg_train.corpus.out_folder import check_claim, check_out, claim_out
from uniflg_train.pinned_files import pinned_file

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).with_name("data") / "grid_s1.json"
ALIGN_RATE = 25_000  # GRID's word alignments count 1/25,000 s (one 25 fps video frame is 1,000)
SILENCE_WORDS = frozenset({"sil", "sp"})
# points that speech does not move: nose bridge and base (27-35) and the eye corners
STABLE_POINTS = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)
REST_MARGIN = 0.1  # s left out at each edge of a silence when the rest face is taken (the lips may be moving)
VAL_EVERY = 50  # every 50th clip (sorted by name) is validation, the one 25 after it test: 20 each


@dataclass(frozen=True)
class GridClip:
    name: str  # GRID's sentence code, e.g. "bbaf2n"
    video: str  # SHA-256 of the .mpg
    align: str  # SHA-256 of the .align


def read_manifest(path: Path = MANIFEST) -> tuple[dict[str, Any], list[GridClip]]:
    meta = json.loads(path.read_text(encoding="utf-8"))
    return meta, [GridClip(**c) for c in meta["clips"]]


def parse_alignment(text: str) -> tuple[str, list[tuple[float, float]]]:
    """A GRID ``.align`` file (``START END WORD`` per line, 1/25,000 s) -> (the transcript, the silences in
    seconds). Single letters are written in capitals so the English front end reads them as letter names."""
    words, silences = [], []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        start, end, word = int(parts[0]) / ALIGN_RATE, int(parts[1]) / ALIGN_RATE, parts[2]
        if word in SILENCE_WORDS:
            silences.append((start, end))
        else:
            words.append(word.upper() if len(word) == 1 else word)
    if not words:
        raise InvalidInputError("the alignment names no word")
    return " ".join(words), silences


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The scale s, rotation R (2, 2) and translation t minimizing |s R src + t - dst|^2 over the rows of
    ``src`` and ``dst`` ([N, 2]; Umeyama 1991, reflections excluded)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, sing, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(sing) @ d) / max((a ** 2).sum(), 1e-12))
    return scale, rot, mu_d - scale * rot @ mu_s


def align_track(track: np.ndarray, face: np.ndarray, points: Sequence[int] = STABLE_POINTS) -> np.ndarray:
    """[T, 70, 2] -> each frame moved by its own similarity transform onto ``face`` [70, 2] (fitted on
    ``points``)."""
    out = np.empty_like(track, dtype=np.float64)
    idx = list(points)
    for i, frame in enumerate(track.astype(np.float64)):
        s, rot, t = similarity_fit(frame[idx], face[idx])
        out[i] = s * frame @ rot.T + t
    return out


def silence_frames(silences: Sequence[tuple[float, float]], frames: int, fps: float,
                   margin: float = REST_MARGIN) -> np.ndarray:
    """Indices of the frames (at ``fps``) inside a silence, ``margin`` seconds from either edge."""
    times = np.arange(frames) / fps
    keep = np.zeros(frames, bool)
    for start, end in silences:
        keep |= (times >= start + margin) & (times <= end - margin)
    return np.flatnonzero(keep)


def transfer(aligned: np.ndarray, rest: np.ndarray, face: np.ndarray) -> np.ndarray:
    """The talker's motion on ``face``: face + (aligned - rest), float32 [T, 70, 2]."""
    return (face[None] + aligned - rest[None]).astype(np.float32)


def _video_files(source: Path, meta: dict[str, Any], clip: GridClip) -> tuple[bytes, str]:
    """The clip's video bytes and alignment text, checked against the manifest."""
    repo, commit = meta["repository"], meta["commit"]
    align = pinned_file(source, f"{meta['align_folder']}/{clip.name}.align", clip.align, repo, commit)
    return pinned_file(source, f"{meta['video_folder']}/{clip.name}.mpg", clip.video, repo, commit), align.decode()


def _extract(video: bytes, align: str, name: str, where: str, tracks: Path, wavs: Path) -> None:
    """One video -> tracks/NAME.npy (aligned real track, 30 fps), tracks/NAME.json (transcript, silences) and
    wavs/grid_s1_NAME.wav; the .json is written last and marks the clip complete. VideoUnavailableError (naming
    ``where``, the file in the repository) when MediaPipe or ffmpeg cannot read it."""
    import soundfile as sf

    from uniflg_train.corpus.face import speaker_face
    from uniflg_train.evaluation.realav import AUDIO_RATE, decode_audio, to_30fps
    from uniflg_train.video.extract import VideoUnavailableError, video_landmarks

    text, silences = parse_alignment(align)
    with tempfile.TemporaryDirectory(dir=tracks, prefix=f".{name}-") as tmp:
        src = Path(tmp) / f"{name}.mpg"
        src.write_bytes(video)
        try:
            track, fps = video_landmarks(src)
            audio = decode_audio(src, AUDIO_RATE)
        except (VideoUnavailableError, InvalidInputError) as exc:  # named by its place in the repository
            raise VideoUnavailableError(str(exc).replace(str(src), where) or f"{where}: unreadable") from None
    seconds = audio.size / AUDIO_RATE
    # aligned into one fixed frame (mei's neutral shape) whatever --face is: the paired face is applied later
    aligned = align_track(to_30fps(track, fps, seconds), speaker_face("mei"))
    with atomic_path(wavs / f"grid_s1_{name}.wav") as tmp_wav:
        sf.write(str(tmp_wav), audio, AUDIO_RATE, subtype="PCM_16", format="WAV")
    with atomic_path(tracks / f"{name}.npy") as tmp_npy, open(tmp_npy, "wb") as fh:
        np.save(fh, aligned.astype(np.float32))
    with atomic_path(tracks / f"{name}.json") as tmp_json:
        tmp_json.write_text(json.dumps({"text": text, "silences": silences, "seconds": seconds}), encoding="utf-8")


def _split(index: int) -> str:
    """A clip's split from its place in the manifest (sorted by name), so leaving a video out moves no other."""
    return "val" if index % VAL_EVERY == 0 else "test" if index % VAL_EVERY == VAL_EVERY // 2 else "train"


def build_grid_corpus(source: Path, out: Path, face: str = "mei", limit: int | None = None,
                      manifest: Path = MANIFEST) -> dict[str, Any]:
    """Write the GRID talker's corpus folder ``out`` from ``source`` (a clone or bare mirror of the manifest's
    repository); returns its ``corpus.json``. Resumes: clips already extracted are not read again (nor is
    MediaPipe needed for them). Videos MediaPipe or ffmpeg cannot read are left out, logged and recorded
    (``.tracks/NAME.failed``, ``left_out`` in ``corpus.json``), and not tried again; delete the marker to retry.

    Raises InvalidInputError, before anything is written, when ``face`` is not a corpus face, ``out`` is a file,
    another corpus or inside or around ``source``, a file is missing from ``source`` or differs from the manifest,
    or the video environment is missing; and when no video of this run could be read."""
    from uniflg_train.corpus.face import speaker_face
    from uniflg_train.corpus.sources import CORPUS_FACES
    from uniflg_train.video.extract import VideoUnavailableError, video_python

    if face not in CORPUS_FACES:
        raise InvalidInputError(f"corpus grid: --face {face!r} is not one of the corpus's faces "
                                f"({', '.join(CORPUS_FACES)})")
    meta, every = read_manifest(manifest)
    order = {c.name: i for i, c in enumerate(sorted(every, key=lambda c: c.name))}
    clips = every[:limit] if limit else every
    check_out(out, [source.resolve()], "corpus grid")
    # no setting decides what is kept between runs: every run redraws each track on its --face
    recipe: tuple[str, dict[str, Any], str] = ("corpus grid", {}, "uniflg corpus grid")
    check_claim(out, *recipe)
    tracks, wavs, marks = out / ".tracks", out / "wavs", out / "landmarks"
    # a video left out before (its reason in .tracks/NAME.failed) is not tried again
    todo = [c for c in clips if not (tracks / f"{c.name}.failed").exists() and (
        not (tracks / f"{c.name}.json").exists() or not (wavs / f"grid_s1_{c.name}.wav").exists())]
    if todo:
        try:
            video_python()
        except VideoUnavailableError as exc:
            raise InvalidInputError(str(exc)) from exc
        for clip in tqdm(todo, desc="grid: checking the source", unit="video", leave=False):
            _video_files(source, meta, clip)  # every file is there and pinned before anything is written
    claim_out(out, *recipe)
    try:
        for d in (tracks, wavs, marks):
            d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"corpus grid: cannot create --out {out}: {exc.strerror}") from None
    for stale in tracks.glob(".*-*"):  # a killed run's temporary copy
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    failed: dict[str, str] = {}
    for clip in tqdm(todo, desc="grid", unit="video", disable=not todo):
        video, align = _video_files(source, meta, clip)
        try:
            _extract(video, align, clip.name, f"{meta['video_folder']}/{clip.name}.mpg", tracks, wavs)
        except VideoUnavailableError as exc:  # one unreadable video is left out, not the corpus
            failed[clip.name] = str(exc)[-300:]
            log.warning("left out %s/%s.mpg: %s", meta["video_folder"], clip.name, failed[clip.name])
    if todo and len(failed) == len(todo):  # a broken video environment, not broken videos: nothing is marked
        first = next(iter(failed.values()))
        raise InvalidInputError(f"corpus grid: none of the {len(todo)} videos of this run could be read (the first: "
                                f"{first}); check the video environment (`make video-env`)")
    for name, why in failed.items():
        atomic_write_text(tracks / f"{name}.failed", why)
    failed = {c.name: (tracks / f"{c.name}.failed").read_text(encoding="utf-8") for c in clips
              if (tracks / f"{c.name}.failed").exists()}
    done = [c for c in clips if (tracks / f"{c.name}.json").exists() and c.name not in failed]
    infos = {c.name: json.loads((tracks / f"{c.name}.json").read_text(encoding="utf-8")) for c in done}
    aligned = {c.name: np.load(tracks / f"{c.name}.npy") for c in done}
    rest_frames = [aligned[n][silence_frames(i["silences"], len(aligned[n]), 30.0)] for n, i in infos.items()]
    rest = np.median(np.concatenate(rest_frames), axis=0)
    target = speaker_face(face)
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
    for clip in sorted(done, key=lambda c: c.name):
        item = f"grid_s1_{clip.name}"
        with atomic_path(marks / f"{item}.npy") as tmp, open(tmp, "wb") as fh:
            np.save(fh, transfer(aligned[clip.name], rest, target))
        rows[_split(order[clip.name])].append(
            {"id": item, "audio": f"wavs/{item}.wav", "text": infos[clip.name]["text"], "language": "en",
             "speaker": "grid_s1", "emotion": "normal", "landmarks": f"landmarks/{item}.npy", "source": "grid",
             "face": face})
    for split, chosen in rows.items():
        with atomic_path(out / f"{split}.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    hours = sum(i["seconds"] for i in infos.values()) / 3600
    corpus = {
        "generator": "uniflg corpus grid", "version": "1.0", "seed": None, "utterances": len(done),
        "paired": len(done), "unpaired": 0, "splits": {s: len(r) for s, r in rows.items()}, "face": face,
        "paired_speakers": ["grid_s1"], "hours": round(hours, 4), "speakers": ["grid_s1"], "emotions": ["normal"],
        "language": "en", "languages": {"en": len(done)}, "nonspeech": {}, "sample_rate": 24000, "fps": 30,
        "layout": "openpose70", "sources": {"grid": len(done)}, "left_out": failed,
        "credits": {"grid": {"credit": meta["citation"], "licence": meta["licence"],
                             "licence_url": "https://creativecommons.org/licenses/by/4.0/",
                             "changes": "landmarks from MediaPipe, resampled to 30 fps, head pose removed and the "
                                        f"motion moved onto the procedural face {face!r}; audio mono 24 kHz",
                             "copy": f"{meta['repository']} at {meta['commit']}", "talker": meta["talker"]}},
        "rest_face_frames": int(sum(len(f) for f in rest_frames)),
    }
    with atomic_path(out / "corpus.json") as tmp:
        tmp.write_text(json.dumps(corpus, indent=2, ensure_ascii=False), encoding="utf-8")
    return corpus
