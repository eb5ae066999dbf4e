"""Entry points that add training-side subcommands to the ``uniflg`` CLI (see ``uniflg.cli``).

Each function defers to the module that owns the command, so a slow import (torch) happens only when
the command's module is loaded.
"""

from __future__ import annotations

import argparse
from importlib import import_module

Sub = argparse._SubParsersAction


def comma_names(value: str) -> tuple[str, ...]:
    """argparse type for ``NAME[,NAME]`` options: the non-empty, stripped names."""
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {value!r}")
    return names


def _delegate(module: str, sub: Sub) -> None:
    import_module(module).register(sub)


def register_corpus(sub: Sub) -> None:
    _delegate("uniflg_train.corpus.command", sub)


def register_preprocess(sub: Sub) -> None:
    _delegate("uniflg_train.data.command", sub)


def register_train(sub: Sub) -> None:
    _delegate("uniflg_train.trainer.command", sub)


def register_eval(sub: Sub) -> None:
    _delegate("uniflg_train.evaluation.command", sub)
    _delegate("uniflg_train.evaluation.blendshapes", sub)


def register_export(sub: Sub) -> None:
    _delegate("uniflg_train.export.command", sub)
