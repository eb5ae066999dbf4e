"""``uniflg eval devset --source DIR --out DIR``: build the real-people development set from a local copy.

The committed manifest (``data/real_av_devset.json``) names each clip's file in the source repository, its
SHA-256 and its time range. For each clip this writes ``NAME.wav`` (mono PCM16, 24 kHz), ``NAME.npy`` (the real
OpenPose-70 track at 30 fps from the MediaPipe pipeline, ``make video-env``) and ``NAME.json`` (source, range,
note) into ``--out``, the layout ``uniflg eval real-av`` reads. The output shows real people: keep it out of git.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg.errors import InvalidInputError

from uniflg_train.evaluation.lips import FPS
from uniflg_train.evaluation.realav import AUDIO_RATE, decode_audio, to_30fps

MANIFEST = Path(__file__).with_name("data") / "real_av_devset.json"


@dataclass(frozen=True)
class DevClip:
    name: str
    path: str
    start: float
    end: float | None
    sha256: str
    note: str


def read_manifest(path: Path = MANIFEST) -> tuple[dict[str, Any], list[DevClip]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data, [DevClip(**c) for c in data["clips"]]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    """Build every clip of ``manifest`` from the repository copy at ``source`` into ``out``."""
    import soundfile as sf

    from uniflg_train.video.extract import video_landmarks

    meta, clips = read_manifest(manifest)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for clip in tqdm(clips, desc="devset", unit="clip"):
        src = source / clip.path
        if not src.is_file():
            raise InvalidInputError(f"{src} not found: --source must be a copy of {meta['source']['repository']}")
        if _sha256(src) != clip.sha256:
            raise InvalidInputError(f"{src} differs from the manifest's file (sha256 {clip.sha256[:12]}...)")
        track, fps = video_landmarks(src)
        lm, audio = cut(track, fps, decode_audio(src, AUDIO_RATE), clip.start, clip.end)
        sf.write(out / f"{clip.name}.wav", audio, AUDIO_RATE, subtype="PCM_16")
        np.save(out / f"{clip.name}.npy", lm)
        info = {"fps": FPS, "source": meta["source"]["repository"], "commit": meta["source"]["commit"],
                "path": clip.path, "start": clip.start, "end": clip.end, "note": clip.note}
        (out / f"{clip.name}.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        written.append(out / f"{clip.name}.npy")
    return written
