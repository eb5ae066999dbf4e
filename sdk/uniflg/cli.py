"""The ``uniflg`` command line.

Runtime commands (``speak``, ``animate``, ``bench``, ``info``) live in the runtime. Training, export and
serving register themselves through the ``uniflg.commands`` entry-point group, so the runtime never
imports them; a command whose extra is not installed says which extra to install.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

from uniflg.errors import UniFLGError

log = logging.getLogger("uniflg")

Register = Callable[[argparse._SubParsersAction], None]

_EXTRA_FOR = {"corpus": "train", "preprocess": "train", "train": "train", "eval": "train",
              "export": "train", "serve": "bridge", "live": "bridge"}


def _register_runtime(sub: argparse._SubParsersAction) -> None:
    try:
        from uniflg import commands
    except ImportError:  # the inference modules are not present in this build
        return
    commands.register(sub)


def _register_plugins(sub: argparse._SubParsersAction) -> None:
    for ep in entry_points(group="uniflg.commands"):
        try:
            register: Register = ep.load()
            register(sub)
        except ImportError as exc:  # the extra that provides this command is not installed
            if ep.name in sub.choices:
                continue
            extra = _EXTRA_FOR.get(ep.name, "all")
            p = sub.add_parser(ep.name, help=f"(needs: pip install 'uniflg[{extra}]')")
            p.set_defaults(func=_missing(ep.name, extra, exc))


def _missing(name: str, extra: str, exc: Exception) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        log.error("`uniflg %s` needs the %r extra: pip install 'uniflg[%s]' (%s)", name, extra, extra, exc)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uniflg", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_runtime(sub)
    _register_plugins(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UniFLGError as exc:
        log.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        log.warning("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
