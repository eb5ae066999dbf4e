"""``uniflg preprocess --data DIR [--out CACHE]``: validate a corpus and build its feature cache."""

from __future__ import annotations

import argparse
import logging

from uniflg import argtypes

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preprocess", help="validate a corpus (JSONL manifests) and cache its features")
    p.add_argument("--data", type=argtypes.path, required=True, help="corpus folder with train/val/test.jsonl")
    p.add_argument("--out", type=argtypes.path, default=None, help="cache folder (default: DATA/cache)")
    p.add_argument("--jobs", type=argtypes.int_range(1, 256), default=1, help="worker processes")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from uniflg.errors import InvalidInputError

    from uniflg_train.data.preprocess import prepare

    try:
        summary = prepare(args.data, args.out, jobs=max(1, args.jobs))
    except FileNotFoundError as exc:  # a manifest or audio file gone while it was read
        raise InvalidInputError(str(exc)) from exc
    except OSError as exc:  # the cache folder itself cannot be made
        raise InvalidInputError(f"cannot write the cache: {exc}") from exc
    log.info("cache: %s", summary.cache)
    return 0
