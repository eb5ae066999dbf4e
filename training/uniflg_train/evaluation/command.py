"""``uniflg eval --data DIR --run RUN2 --json [--out FILE]``: the paper's Table 1 for a trained run.

The data types and the runner live in :mod:`uniflg_train.evaluation.runner`; trained systems are loaded here
(:func:`load_systems`) and run through the torch reference path (:mod:`uniflg_train.evaluation.systems`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uniflg import argtypes

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # the runner imports scipy: only when the command runs
    from uniflg_train.evaluation.runner import System


def run_record(run: Path) -> dict[str, Any]:
    """A stage-2 run's saved options (``train_landmarks.json``: how it read its speakers, trainer/options.py);
    {} when it has none."""
    record = run / "train_landmarks.json"
    return json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}


def load_systems(run_dir: Path, extra_runs: Mapping[str, Path]) -> dict[str, System]:
    """UniFLG from ``run_dir`` (a stage-2 run, or one of its checkpoints: :func:`split_run`) and TTL/STL/STL-D
    from ``extra_runs`` (likewise); a run gives its newest complete checkpoint."""
    from uniflg_train.checkpoint import Checkpoint, CheckpointManager, load_trained_model, split_run
    from uniflg_train.evaluation.runner import EvalInputError
    from uniflg_train.evaluation.systems import TorchSystem
    from uniflg_train.trainer.common import is_stage1_run

    systems: dict[str, System] = {}
    for name, given in {"UniFLG": run_dir, **extra_runs}.items():
        run, step = split_run(given)
        if is_stage1_run(run):
            option = "--run" if name == "UniFLG" else f"--baseline {name}="
            raise EvalInputError(f"{option}{'' if option.endswith('=') else ' '}{given} is a stage-1 run: its face "
                                 "decoder was never trained; give the stage-2 run trained on it (uniflg train "
                                 f"landmarks --vits {run})")
        manager = CheckpointManager(run / "checkpoints")
        chosen: Checkpoint | None
        if step is None:
            chosen = manager.latest_verified()
        else:
            chosen = next((c for c in manager.checkpoints() if c.path.name == step.name), None)
            if chosen is None or not chosen.verify():
                steps = ", ".join(c.path.name for c in manager.checkpoints()) or "none"
                raise EvalInputError(f"{given}: not a complete checkpoint of {run} (it has: {steps})")
        if chosen is None and (run / "voice.json").is_file():
            raise EvalInputError(f"{given} is a voice folder; --run takes a stage-2 run or one of its checkpoints "
                                 "(a voice is scored by `uniflg eval real-av`, `robustness` or `speech-quality`)")
        if chosen is None or chosen.config() is None:
            raise EvalInputError(f"{given}: no complete checkpoint with a config under {run}/checkpoints")
        saved = run_record(run)
        model = load_trained_model(chosen.path)[0]
        variant = model.cfg.variant.name
        if variant != name and not (name == "UniFLG" and variant == "UniFLG-AS"):  # AS is scored as UniFLG's rows
            option = "--run" if name == "UniFLG" else f"--baseline {name}="
            wanted = "a UniFLG or UniFLG-AS" if name == "UniFLG" else f"an {name}" if name[0] in "S" else f"a {name}"
            raise EvalInputError(f"{option}{'' if option.endswith('=') else ' '}{given} is a {variant} run (its "
                                 f"config's variant); {option.strip('= ')} takes {wanted} run")
        systems[name] = TorchSystem(model, stand_in=saved.get("unknown_speakers_as"),
                                    as_unknown=tuple(saved.get("read_as_unknown") or ()))
    return systems


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="objective evaluation (the paper's Table 1)",
                            description="Without a MEASUREMENT: the paper's Table 1, D-LL, D-VL, D-A, D-L, D-V, "
                                        "MCD and RTF per method (Markdown, or JSON with --json), from --data and "
                                        "--run. With one: that measurement (`uniflg eval MEASUREMENT --help`).")
    parser.add_argument("--data", type=argtypes.path, help="prepared corpus directory (required for the table)")
    parser.add_argument("--run", type=argtypes.path,
                        help="stage-2 run directory (UniFLG; its newest checkpoint), or one of its checkpoints "
                             "(RUN/checkpoints/step_N); required for the table")
    parser.add_argument("--baseline", action="append", default=[], metavar="NAME=RUN", type=_parse_baseline,
                        help="a baseline run: TTL=DIR, STL=DIR or STL-D=DIR (repeatable)")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test",
                        help="manifest split to score (default test)")
    parser.add_argument("--limit", type=argtypes.int_range(1, 10**6), metavar="N", help="score at most this many items")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--out", type=argtypes.path, help="also write the table here (.json or .md)")
    parser.add_argument("--report", type=argtypes.path,
                        help="also write the acceptance report (Markdown: table, lip correlations, the paper's "
                             "claims, unseen-voice check)")
    parser.set_defaults(func=_main)
    from uniflg_train.evaluation.measure_command import register_measurements

    register_measurements(parser)


def _main(args: argparse.Namespace) -> int:
    if args.data is None or args.run is None:
        logger.error("`uniflg eval` needs --data DIR and --run RUN (or a measurement: real-av, devset, "
                     "robustness, speech-quality, text-ceiling)")
        return 2
    from uniflg_train.evaluation.measure_command import check_out_files
    from uniflg_train.evaluation.runner import load_items, run_eval

    check_out_files(args, "--report")  # a folder or a path under a file: refused before the whole evaluation runs
    extra = dict(args.baseline)
    # items the run trained on the speech path only have words its text path cannot read: left out of the table
    from uniflg_train.checkpoint import split_run

    speech_only = tuple(run_record(split_run(args.run)[0]).get("speech_only_speakers") or ())
    items = load_items(args.data, args.split, args.limit, leave_out_speakers=speech_only)
    systems = load_systems(args.run, extra)
    if args.report is not None:
        from uniflg_train.evaluation.report import run_report

        table, report = run_report(items, systems)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report, encoding="utf-8")
    else:
        table = run_eval(items, systems)
    text = table.to_json() if args.json else table.to_markdown()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table.to_json() if args.out.suffix == ".json" else table.to_markdown(),
                            encoding="utf-8")
    return 0


def _parse_baseline(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or name not in ("TTL", "STL", "STL-D"):
        raise argparse.ArgumentTypeError(f"--baseline wants TTL=DIR, STL=DIR or STL-D=DIR, got {value!r}")
    return name, Path(path)
