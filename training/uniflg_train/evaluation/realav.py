"""``uniflg eval real-av DIR``: speech-driven lips against real people's lips.

``DIR`` holds clips, each either ``NAME.wav`` (or .flac) with ``NAME.npy`` (a real OpenPose-70 track
``[T, 70, 2]``; ``NAME.json`` may give its ``fps`` (default 30) and a ``note``), or a face video with its audio
(``NAME.mp4``/.mov/.mkv/.webm), whose track comes from the MediaPipe pipeline (:mod:`uniflg_train.video`).
Every clip is animated by a voice from its audio alone (``Voice.animate_array``) and scored by
:func:`uniflg_train.evaluation.lips.score_clip`; the table gives each clip and the medians.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg.errors import InvalidInputError

from uniflg_train.evaluation.lips import FPS, ClipTooShortError, LipScore, lip_opening, min_frames, pearson, score_clip

log = logging.getLogger(__name__)

AUDIO_EXT = (".wav", ".flac")
VIDEO_EXT = (".mp4", ".mov", ".mkv", ".webm")
AUDIO_RATE = 24000  # audio decoded from videos


@dataclass(frozen=True)
class Clip:
    name: str
    audio: np.ndarray  # mono float32
    sample_rate: int
    track: np.ndarray  # real [T, 70, 2] at 30 fps
    note: str = ""


def to_30fps(track: np.ndarray, fps: float, seconds: float | None = None) -> np.ndarray:
    """Linear interpolation in time of a ``[T, 70, 2]`` track at ``fps`` onto frames ``j / 30`` s, for
    ``round(seconds * 30)`` frames (default: the track's own duration)."""
    track = np.asarray(track, np.float32)
    if abs(fps - FPS) < 1e-6 and seconds is None:
        return track
    n = round((seconds if seconds is not None else len(track) / fps) * FPS)
    t_src, t_dst = np.arange(len(track)) / fps, np.arange(n) / FPS
    flat = track.reshape(len(track), -1)
    out = np.stack([np.interp(t_dst, t_src, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape(n, *track.shape[1:]).astype(np.float32)


def decode_audio(path: Path, sample_rate: int = AUDIO_RATE) -> np.ndarray:
    """A media file's audio as mono float32 at ``sample_rate`` (through the bundled ffmpeg)."""
    from uniflg.ffmpeg import ffmpeg_exe

    proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sample_rate),
                           "-f", "f32le", "-"], capture_output=True, check=False)
    if proc.returncode != 0:
        raise InvalidInputError(f"cannot decode the audio of {path}: {proc.stderr.decode()[-300:]}")
    return np.frombuffer(proc.stdout, np.float32).copy()


def _load_pair(audio_path: Path, track_path: Path) -> Clip:
    from uniflg.audio_file import open_audio

    with open_audio(audio_path) as f:  # a file that is not audio: one line naming the accepted formats
        audio, rate = f.read_all(), f.sample_rate
    meta_path = track_path.with_suffix(".json")
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        track = np.load(track_path, allow_pickle=False)
    except (ValueError, OSError) as exc:  # bad JSON, not a .npy array
        raise InvalidInputError(f"{track_path}: cannot read the clip's track or its .json ({exc})") from None
    _check_track_shape(track_path, track.shape)
    fps = float(meta.get("fps", FPS))
    return Clip(audio_path.stem, audio, int(rate), to_30fps(track, fps), str(meta.get("note", "")))


def _load_video(path: Path) -> Clip:
    from uniflg_train.video.extract import video_landmarks

    track, fps = video_landmarks(path)
    audio = decode_audio(path)
    return Clip(path.stem, audio, AUDIO_RATE, to_30fps(track, fps))


def find_clips(folder: Path) -> list[Path]:
    """The clip sources in ``folder`` (sorted): tracks with audio first-class, videos where no track exists."""
    if not folder.is_dir():
        raise InvalidInputError(f"not a folder of clips: {folder}")
    found: list[Path] = []
    for p in sorted(folder.iterdir()):
        pair = p.suffix == ".npy" and any(p.with_suffix(e).is_file() for e in AUDIO_EXT)
        video = p.suffix.lower() in VIDEO_EXT and not p.with_suffix(".npy").is_file()
        if pair or video:
            found.append(p)
        elif p.suffix in AUDIO_EXT and not p.with_suffix(".npy").is_file():
            log.warning("skipping %s: no %s beside it (a clip is NAME.wav + NAME.npy, or a video)", p.name,
                        p.with_suffix(".npy").name)
    if not found:
        raise InvalidInputError(f"no clips in {folder}: expected NAME.wav + NAME.npy pairs or face videos "
                                f"({', '.join(VIDEO_EXT)})")
    from uniflg.audio_file import open_audio

    for p in found:  # every track's shape and audio header before anything is measured (headers only)
        if p.suffix == ".npy":
            try:
                shape = np.load(p, mmap_mode="r", allow_pickle=False).shape
            except (ValueError, OSError) as exc:
                raise InvalidInputError(f"{p}: cannot read the clip's track ({exc})") from None
            _check_track_shape(p, shape)
            with open_audio(_audio_of(p)):  # format, rate, length: one line naming the file
                pass
    return found


def _audio_of(track: Path) -> Path:
    return next(track.with_suffix(e) for e in AUDIO_EXT if track.with_suffix(e).is_file())


def _check_track_shape(path: Path, shape: tuple[int, ...]) -> None:
    if len(shape) != 3 or shape[1:] != (70, 2):
        raise InvalidInputError(f"{path}: a lip track is [T, 70, 2]; got {shape}")


def load_clip(path: Path) -> Clip:
    if path.suffix == ".npy":
        return _load_pair(_audio_of(path), path)
    return _load_video(path)


@dataclass(frozen=True)
class ClipResult:
    name: str
    note: str
    score: LipScore | None  # None: skipped (shorter than the lag search needs; ``note`` says so)
    phones_r: float | None = None  # the recognizer baseline's lip r at lag 0, when asked for


def run_real_av(folder: Path, voice: Any, max_lag: int = 5, options: Any = None,
                phone_baseline: bool = False) -> list[ClipResult]:
    """Animate and score every clip in ``folder`` with ``voice`` (a :class:`uniflg.voice.Voice`); ``options``
    (:class:`uniflg.types.SynthesisOptions`) selects e.g. the live path (``max_lookahead_ms``);
    ``phone_baseline`` scores the recognizer-driven track of :mod:`uniflg_train.evaluation.phone_baseline` too.

    A clip shorter than the lag search needs (:func:`~uniflg_train.evaluation.lips.min_frames`) is skipped with a
    warning and listed with its reason (score None); InvalidInputError when every clip is that short."""
    results = []
    recognizer = None
    if phone_baseline:
        from uniflg_train.evaluation.phone_baseline import PhoneRecognizer

        recognizer = PhoneRecognizer()
    for path in tqdm(find_clips(folder), desc="real-av", unit="clip"):
        clip = load_clip(path)
        pred = voice.animate_array(clip.audio, clip.sample_rate, options)
        try:
            score = score_clip(pred, clip.track, clip.audio, clip.sample_rate, max_lag)
        except ClipTooShortError as exc:
            log.warning("skipping %s: %s", path, exc)
            results.append(ClipResult(clip.name, f"skipped: {exc}", None))
            continue
        phones_r = None
        if recognizer is not None:
            phones = recognizer.opening(clip.audio, clip.sample_rate, score.frames)
            phones_r = pearson(phones, lip_opening(clip.track[:score.frames]))
        results.append(ClipResult(clip.name, clip.note, score, phones_r))
    if not any(r.score is not None for r in results):
        raise InvalidInputError(f"no clip in {folder} is long enough to score: each needs at least "
                                f"{min_frames(max_lag)} frames at {FPS} fps for --max-lag {max_lag} "
                                f"({', '.join(r.name for r in results)}); lower --max-lag or give longer clips")
    return results


COLUMNS = ("r", "r_best", "energy_r", "energy_r_best", "std_ratio", "width_r")


def medians(results: list[ClipResult]) -> dict[str, float]:
    """Medians over the scored clips (skipped ones left out); ``phones_r`` when the baseline was scored."""
    scored = [r for r in results if r.score is not None]
    out = {c: float(np.nanmedian([getattr(r.score, c) for r in scored])) for c in COLUMNS}
    if scored and all(r.phones_r is not None for r in scored):
        out["phones_r"] = float(np.nanmedian([r.phones_r for r in scored]))
    return out


def to_json(results: list[ClipResult], voice_name: str, setup: dict[str, Any] | None = None) -> str:
    """``setup``: what was scored beyond the voice (speech path, look-ahead, gate), recorded with the figures."""
    data = {"voice": voice_name, **(setup or {}), "fps": FPS,
            "clips": [{"name": r.name, "note": r.note, "skipped": r.score is None,
                       **(asdict(r.score) if r.score is not None else {}),
                       **({"phones_r": r.phones_r} if r.phones_r is not None else {})} for r in results],
            "median": medians(results)}
    return json.dumps(data, indent=2)


def to_markdown(results: list[ClipResult], max_lag: int = 5, setup: dict[str, Any] | None = None) -> str:
    m = medians(results)
    phones = "phones_r" in m
    head = ("| clip | frames | lip r (lag 0) | lip r best (lag) | energy r (lag 0) | energy r best (lag) "
            "| std ratio | width r |" + (" phones r (lag 0) |" if phones else ""))
    lines = [head, "|" + "---|" * (9 if phones else 8)]
    for r in results:
        s = r.score
        if s is None:
            lines.append(f"| {r.name} | skipped (too short) | | | | | | |" + (" |" if phones else ""))
            continue
        lines.append(f"| {r.name} | {s.frames} | {s.r:.2f} | {s.r_best:.2f} ({s.lag:+d}) | {s.energy_r:.2f} | "
                     f"{s.energy_r_best:.2f} ({s.energy_lag:+d}) | {s.std_ratio:.2f} | {s.width_r:.2f} |"
                     + (f" {r.phones_r:.2f} |" if phones else ""))
    lines.append(f"| **median** | | {m['r']:.2f} | {m['r_best']:.2f} | {m['energy_r']:.2f} | "
                 f"{m['energy_r_best']:.2f} | {m['std_ratio']:.2f} | {m['width_r']:.2f} |"
                 + (f" {m['phones_r']:.2f} |" if phones else ""))
    notes = [f"- {r.name}: {r.note}" for r in results if r.note]
    lag_doc = f"Lag: positive = the prediction comes later than the real lips; best lag within +-{max_lag} frames."
    phones_doc = ["Phones r: the recognizer baseline (pocketsphinx phones -> mouth-shape openings; "
                  "uniflg_train.evaluation.phone_baseline)."] if phones else []
    scored = [f"Scored: {', '.join(f'{k} {v}' for k, v in setup.items())}."] if setup else []
    return "\n".join(lines + ["", lag_doc, *phones_doc, *scored, *notes]) + "\n"
