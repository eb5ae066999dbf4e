"""``uniflg eval devset --source DIR --out DIR [--set NAME]``: build a real-people development set from local
copies of the public repositories that hold its clips.

Each set is a committed manifest (``data/real_av_devset.json``: LivePortrait's driving videos, the default set;
``data/real_av_more.json``: 19 more clips, LivePortrait's other talking clips and four talking-face
repositories). A manifest names each clip's
repository, commit, file, SHA-256 and time range. For each clip this writes ``NAME.wav`` (mono PCM16, 24 kHz),
``NAME.npy`` (the real OpenPose-70 track at 30 fps from the MediaPipe pipeline, ``make video-env``) and
``NAME.json`` (source, range, note) into ``--out``, the layout ``uniflg eval real-av`` reads. The output shows real
people: keep it out of git.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg.errors import InvalidInputError

from uniflg_train.evaluation.lips import FPS
from uniflg_train.evaluation.realav import AUDIO_RATE, decode_audio, to_30fps
from uniflg_train.pinned_files import pinned_file

DATA = Path(__file__).with_name("data")
SETS = {"liveportrait": DATA / "real_av_devset.json", "more": DATA / "real_av_more.json"}
MANIFEST = SETS["liveportrait"]


@dataclass(frozen=True)
class DevClip:
    name: str
    path: str  # inside its repository
    start: float
    end: float | None
    sha256: str
    note: str
    source: str = ""  # the repository's folder under --source ("": --source is the repository)
    commit: str = ""


def read_manifest(path: Path = MANIFEST) -> tuple[dict[str, Any], list[DevClip]]:
    """-> (the manifest, its clips). A one-repository manifest has ``source`` ({repository, commit, licence});
    a several-repository one has ``sources`` ({folder name: {repository, licence}}) and each clip names its
    ``source`` and ``commit``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "source" in data:
        data["sources"] = {"": data["source"]}
        clips = [DevClip(**c, commit=data["source"]["commit"]) for c in data["clips"]]
    else:
        clips = [DevClip(**c) for c in data["clips"]]
    for c in clips:
        if c.source not in data["sources"]:
            raise InvalidInputError(f"{path}: clip {c.name} names source {c.source!r}, not one of its sources")
    return data, clips


def clip_bytes(source: Path, clip: DevClip, repository: str) -> bytes:
    """The clip's file from ``source`` (a copy of ``repository``, its folder under ``--source`` for
    several-repository sets), checked against the manifest (:func:`uniflg_train.pinned_files.pinned_file`)."""
    folder = source / clip.source if clip.source else source
    return pinned_file(folder, clip.path, clip.sha256, repository, clip.commit)


def cut(track: np.ndarray, fps: float, audio: np.ndarray, start: float, end: float | None
        ) -> tuple[np.ndarray, np.ndarray]:
    """The ``[start, end)`` seconds of a track (at ``fps``, resampled to 30 fps) and of 24 kHz audio."""
    seconds = min(len(track) / fps, audio.size / AUDIO_RATE)
    stop = seconds if end is None else min(end, seconds)
    if not 0 <= start < stop:
        raise InvalidInputError(f"time range [{start}, {end}] is outside the clip (0-{seconds:.2f} s)")
    full = to_30fps(track, fps, seconds)
    a, b = round(start * FPS), round(stop * FPS)
    return full[a:b], audio[round(start * AUDIO_RATE):round(stop * AUDIO_RATE)]


def build(source: Path, out: Path, manifest: Path = MANIFEST) -> list[Path]:
    """Build every clip of ``manifest`` from the repository copies at ``source`` into ``out``; every clip's file
    is found and checked before the first is measured."""
    import soundfile as sf
    from uniflg.outputs import prepare_output

    from uniflg_train.video.extract import VideoUnavailableError, video_landmarks, video_python

    meta, clips = read_manifest(manifest)
    if source.exists() and not source.is_dir():
        raise InvalidInputError(f"--source {source} is a file; give the folder that holds "
                                f"{'the repository' if '' in meta['sources'] else 'a clone of each repository'}")
    missing = [name for name in meta["sources"] if name and not (source / name).is_dir()]
    if missing:
        raise InvalidInputError(f"{source} lacks {', '.join(missing)}: --source must hold a clone of each of "
                                + ", ".join(f"{n} ({meta['sources'][n]['repository']})" for n in missing))
    files = {c.name: clip_bytes(source, c, meta["sources"][c.source]["repository"]) for c in clips}
    prepare_output(out, [f"{c.name}{ext}" for c in clips for ext in (".wav", ".npy", ".json")])
    try:
        video_python()
    except VideoUnavailableError as exc:
        raise InvalidInputError(str(exc)) from exc
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in tqdm(clips, desc="devset", unit="clip"):
        with tempfile.TemporaryDirectory(dir=out, prefix=f".{clip.name}-") as tmp:
            src = Path(tmp) / Path(clip.path).name  # the decoders read a file with the clip's own extension
            src.write_bytes(files.pop(clip.name))
            try:
                track, fps = video_landmarks(src)
            except VideoUnavailableError as exc:
                raise InvalidInputError(f"clip {clip.name}: {exc}") from exc
            lm, audio = cut(track, fps, decode_audio(src, AUDIO_RATE), clip.start, clip.end)
            # the clip's three files are written beside and moved in together: an interrupted build keeps
            # whole clips only (the .json last: it marks a clip complete)
            sf.write(Path(tmp) / "a.wav", audio, AUDIO_RATE, subtype="PCM_16")
            np.save(Path(tmp) / "a.npy", lm)
            repo = meta["sources"][clip.source]
            info = {"fps": FPS, "source": repo["repository"], "licence": repo.get("licence", ""),
                    "commit": clip.commit, "path": clip.path, "start": clip.start, "end": clip.end, "note": clip.note}
            (Path(tmp) / "a.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
            for ext in (".wav", ".npy", ".json"):
                os.replace(Path(tmp) / f"a{ext}", out / f"{clip.name}{ext}")
        written.append(out / f"{clip.name}.npy")
    return written
