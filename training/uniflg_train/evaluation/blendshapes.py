"""``uniflg eval-blendshapes``: do the avatar weights read? Measured on a voice's text path.

On the demo sentence and 20 held-out Japanese (and 20 English) sentences, with the voice's face calibration
(:func:`uniflg.avatar.face_calibration`) and run-time blinks, it reports:

* ``jaw_peak``: jawOpen's peak per sentence (median and minimum over the set);
* ``vowel_share``: for each VRM A, I, U, E, O, the share of its vowel's frames (frame centre inside the vowel
  token, from ``Voice.phoneme_timing``) where it is the largest of the five (and above 0);
* ``emotion_speech`` / ``emotion_silence``: mean Angry, Sorrow, Joy, Fun over all speech frames (neutral
  emotion, default speaker) and over 10 s of digital silence through speech-driven animation;
* ``vowel_step``: smoothness, the largest frame-to-frame change of any of A..O per frame (mean and 95th
  percentile over the set's frames; ``jaw_step`` the same for jawOpen, for scale), and ``vowel_flicker``: the
  share of frames where one of them jumps by more than :data:`FLICKER_STEP` and straight back;
* ``blinks_per_minute``: VRM ``Blink`` rising through 0.5, over a 60 s stream of the Japanese sentences
  back to back, with run-time blinks and without them (the decoder's own eyelids).

Targets (issue 17): jaw peak >= 0.6, each vowel share >= 0.6, emotion means <= 0.05, 8-30 blinks/min.
English vowels are mapped to the five by their nearest Japanese vowel (monophthongs only).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg import argtypes
from uniflg.avatar import AvatarStream, frame_symbols
from uniflg.errors import BackendUnavailableError
from uniflg.retarget import ARKIT_52, VRM0, VRM_VOWELS
from uniflg.types import SynthesisOptions

from uniflg_train.evaluation.sentences import HELD_OUT_EN, HELD_OUT_JA

DEMO_TEXT = "こんにちは、今日はいい天気ですね。一緒に散歩に行きませんか？"
EN_VOWELS = {"ɑ": "a", "æ": "a", "ʌ": "a", "ɐ": "a", "i": "i", "ɪ": "i", "ᵻ": "i", "u": "u", "ʊ": "u",
             "ɛ": "e", "eɪ": "e", "ɔ": "o", "oʊ": "o"}
EMOTIONS = ("Angry", "Sorrow", "Joy", "Fun")
BLINK_SECONDS = 60.0
SILENCE_EVAL_SECONDS = 10.0
JAW_PEAK_TARGET, VOWEL_SHARE_TARGET, EMOTION_TARGET = 0.6, 0.6, 0.05
BLINK_TARGET = (8.0, 30.0)  # blinks per minute
FLICKER_STEP = 0.15  # a one-frame jump and return larger than this counts as flicker

Weights = Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]  # (first_frame, lm) -> (arkit, vrm)


def _vowel_of(symbol: str) -> str | None:
    return symbol if symbol in ("a", "i", "u", "e", "o") else EN_VOWELS.get(symbol)


def sentence_set(voice: Any, texts: Sequence[str], weights: Weights, options: SynthesisOptions,
                 label: str, speech_path: str | None = None) -> dict[str, Any]:
    """jawOpen peaks, vowel shares and emotion means over ``texts`` (weights restart at frame 0 each): the text
    path's faces, or with ``speech_path`` that path's faces for the voice's own speech of each text (same phoneme
    timing)."""
    peaks, vrms, vowels, steps, jaw_steps, flicker = [], [], [], [], [], []
    five_cols = [VRM0.index(v) for v in VRM_VOWELS]
    heard = options
    if speech_path is not None:
        path = next(p for p in voice.speech_paths() if p.name == speech_path)
        heard = replace(options, max_lookahead_ms=None if path.name == "offline" else path.lookahead_ms)
    for text in tqdm(texts, desc=label, leave=False):
        if speech_path is None:
            lm = voice.landmarks_from_text(text, options)
        else:
            lm = voice.animate_array(voice.synthesize_all(text, options)[0], voice.sample_rate, heard)
        arkit, vrm = weights(0, lm)
        peaks.append(float(arkit[:, ARKIT_52.index("jawOpen")].max()))
        vrms.append(vrm)
        d = np.diff(vrm[:, five_cols], axis=0)  # (T-1, 5)
        steps.append(np.abs(d).max(1))
        jaw_steps.append(np.abs(np.diff(arkit[:, ARKIT_52.index("jawOpen")])))
        flicker.append(((d[1:] > FLICKER_STEP) & (d[:-1] < -FLICKER_STEP)
                        | (d[1:] < -FLICKER_STEP) & (d[:-1] > FLICKER_STEP)).any(1))
        fps = voice.stream_info(options).fps
        vowels += [_vowel_of(s) for s in frame_symbols(voice.phoneme_timing(text, options), len(lm), fps)]
    vrm_all = np.concatenate(vrms)
    five = vrm_all[:, five_cols]
    step, jaw_step = np.concatenate(steps), np.concatenate(jaw_steps)
    share: dict[str, float | None] = {}
    frames: dict[str, int] = {}
    for k, v in enumerate(VRM_VOWELS):
        rows = np.array([x == v.lower() for x in vowels])
        frames[v] = int(rows.sum())
        won = (five[rows].argmax(1) == k) & (five[rows, k] > 0)
        share[v] = float(won.mean()) if rows.any() else None
    return {
        "sentences": len(texts), "frames": len(vrm_all),
        "jaw_peak_median": float(np.median(peaks)), "jaw_peak_min": float(np.min(peaks)),
        "vowel_share": share, "vowel_frames": frames,
        "vowel_mean": {v: float(five[:, k].mean()) for k, v in enumerate(VRM_VOWELS)},
        "emotion_speech": {e: float(vrm_all[:, VRM0.index(e)].mean()) for e in EMOTIONS},
        "vowel_step": {"mean": float(step.mean()), "p95": float(np.percentile(step, 95))},
        "jaw_step": {"mean": float(jaw_step.mean()), "p95": float(np.percentile(jaw_step, 95))},
        "vowel_flicker": float(np.concatenate(flicker).mean()),
    }


def silence_emotions(voice: Any, weights: Weights, options: SynthesisOptions) -> dict[str, float]:
    """Mean emotion weights over digital silence animated by the speech path."""
    audio = np.zeros(int(SILENCE_EVAL_SECONDS * voice.sample_rate), np.float32)
    _, vrm = weights(0, voice.animate_array(audio, voice.sample_rate, options))
    return {e: float(vrm[:, VRM0.index(e)].mean()) for e in EMOTIONS}


def blinks_per_minute(voice: Any, texts: Sequence[str], weights: Weights, options: SynthesisOptions) -> float:
    """VRM Blink rising through 0.5 per minute over a :data:`BLINK_SECONDS` stream of ``texts`` in a loop."""
    fps = voice.stream_info(options).fps
    need, frame, blink = int(BLINK_SECONDS * fps), 0, []
    with tqdm(total=need, desc="blinks", leave=False) as bar:
        while frame < need:
            for text in texts:
                lm = voice.landmarks_from_text(text, options)[: need - frame]
                _, vrm = weights(frame, lm)
                blink.append(vrm[:, VRM0.index("Blink")])
                frame += len(lm)
                bar.update(len(lm))
                if frame >= need:
                    break
    b = np.concatenate(blink) >= 0.5
    onsets = int(np.count_nonzero(b[1:] & ~b[:-1]) + b[0])
    return onsets * 60.0 / (len(b) / fps)


def evaluate(voice: Any, make_weights: Callable[[bool], Weights], english: bool = True,
             options: SynthesisOptions | None = None) -> dict[str, Any]:
    """The full report; ``make_weights(blinks)`` gives a fresh per-stream weight function."""
    options = options or SynthesisOptions()
    report: dict[str, Any] = {
        "demo": sentence_set(voice, (DEMO_TEXT,), make_weights(True), options, "demo"),
        "ja": sentence_set(voice, HELD_OUT_JA, make_weights(True), options, "ja"),
        "silence": silence_emotions(voice, make_weights(True), options),
        "blinks_per_minute": blinks_per_minute(voice, HELD_OUT_JA, make_weights(True), options),
        "decoder_blinks_per_minute": blinks_per_minute(voice, HELD_OUT_JA, make_weights(False), options),
    }
    if english:
        try:
            report["en"] = sentence_set(voice, HELD_OUT_EN, make_weights(True), replace(options, language="en"), "en")
        except BackendUnavailableError as exc:  # no espeak-ng here: say so and judge the Japanese sets
            report["en_skipped"] = str(exc)
    report["pass"] = passes(report)
    return report


def passes(report: dict[str, Any]) -> dict[str, bool]:
    """Each target of issue 17 item 3 on the demo sentence and the held-out Japanese sentences (English is
    reported, not judged)."""
    sets = [report["demo"], report["ja"]]
    lo, hi = BLINK_TARGET
    return {
        "jaw_peak": all(s["jaw_peak_min"] >= JAW_PEAK_TARGET for s in sets),
        # Held-out: every vowel must occur and reach the target; demo: every vowel it has (its U is devoiced).
        "vowel_share": all(x is not None and x >= VOWEL_SHARE_TARGET for x in report["ja"]["vowel_share"].values())
        and all(x >= VOWEL_SHARE_TARGET for x in report["demo"]["vowel_share"].values() if x is not None),
        "emotion": all(v <= EMOTION_TARGET for s in sets for v in s["emotion_speech"].values())
        and all(v <= EMOTION_TARGET for v in report["silence"].values()),
        "blinks": lo <= report["blinks_per_minute"] <= hi,
    }


def format_report(report: dict[str, Any]) -> list[str]:
    """Markdown lines: one row per sentence set, then silence and blinks."""
    def share(s: dict[str, Any]) -> str:
        return " ".join(f"{v} {x:.2f}" if x is not None else f"{v} -" for v, x in s["vowel_share"].items())

    def emo(d: dict[str, float]) -> str:
        return " ".join(f"{k} {v:.3f}" for k, v in d.items())

    lines = ["| set | jawOpen peak (min / median) | vowel largest on its vowel | A..O means | emotion means "
             "| A..O step mean / p95 (jawOpen's) | flicker |",
             "|---|---|---|---|---|---|---|"]
    paths = {f"ja, speech path {k}": v for k, v in report.get("speech_paths", {}).items()}
    for name in ("demo", "ja", "en", *paths):
        s = report.get(name) or paths.get(name)
        if s is None and name == "en" and "en_skipped" in report:
            lines.append(f"| en | skipped: {report['en_skipped']} | | | | | |")
        elif s:
            means = " ".join(f"{v} {x:.2f}" for v, x in s["vowel_mean"].items())
            step, jaw = s["vowel_step"], s["jaw_step"]
            lines.append(f"| {name} ({s['sentences']}) | {s['jaw_peak_min']:.2f} / {s['jaw_peak_median']:.2f} "
                         f"| {share(s)} | {means} | {emo(s['emotion_speech'])} "
                         f"| {step['mean']:.3f} / {step['p95']:.2f} ({jaw['mean']:.3f} / {jaw['p95']:.2f}) "
                         f"| {s['vowel_flicker']:.1%} |")
    lines += ["", f"silence emotion means: {emo(report['silence'])}",
              f"blinks/min over {BLINK_SECONDS:.0f} s: {report['blinks_per_minute']:.1f} with run-time blinks, "
              f"{report['decoder_blinks_per_minute']:.1f} from the decoder's eyelids alone",
              "targets met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in report["pass"].items())]
    return lines


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval-blendshapes", help="do the avatar blendshapes read? (jawOpen, A..O, emotions, blinks)",
                       description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--voice", default=None, help="voice folder (default: the embedded default voice)")
    p.add_argument("--no-english", action="store_true", help="skip the English sentences")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="synthesis and blink seed")
    p.add_argument("--emotion", default=None,
                   help="a stored emotion (style) to speak in and read the weights for (default: the voice's "
                        "default; the emotion targets are judged for neutral speech only)")
    p.add_argument("--speech-paths", action="store_true",
                   help="also read each speech path's faces for the voice's own speech of the Japanese sentences "
                        "(reported, not judged)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uniflg.voice import check_request, load_voice, read_voice_spec

    options = SynthesisOptions(seed=args.seed, emotion=args.emotion)
    check_request(read_voice_spec(args.voice), options)  # an unknown emotion: one line, before the voice loads
    voice = load_voice(args.voice)

    def make_weights(blinks: bool) -> Weights:
        return AvatarStream.for_voice(voice, blinks=blinks, seed=args.seed, style=args.emotion).weights

    report = evaluate(voice, make_weights, not args.no_english, options)
    if args.speech_paths:
        report["speech_paths"] = {
            p.name: sentence_set(voice, HELD_OUT_JA, AvatarStream.for_voice(voice, False, path=p.name).weights,
                                 options, p.name, speech_path=p.name) for p in voice.speech_paths()}
    sys.stdout.write((json.dumps(report, indent=2) if args.json else "\n".join(format_report(report))) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="uniflg")  # the subcommand adds "eval-blendshapes", as `uniflg` has it
    register(parser.add_subparsers(required=True))
    args = parser.parse_args(["eval-blendshapes", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


__all__ = ["evaluate", "format_report", "main"]

if __name__ == "__main__":
    sys.exit(main())
