"""``uniflg ARGV`` run by ``uniflg.cli.main`` inside the test process.

A child process pays the interpreter and torch imports (3-5 s on a 2-core runner) before the command starts; the
training tests run some forty commands. Tests about processes themselves (signals, kill -9, torchrun, a second
trainer on the same folder, the exit status a shell sees) still start real children."""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass

CLI_FORMAT = "%(levelname)s %(name)s: %(message)s"  # the format uniflg.cli gives its log lines


@dataclass(frozen=True)
class Ran:
    """What a command left: its exit status, everything it wrote to stderr (log lines, progress bars) and the
    messages of its ERROR log lines."""

    returncode: int
    stderr: str
    errors: tuple[str, ...]


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_here(*argv: str) -> Ran:
    """``uniflg ARGV`` in this process -> :class:`Ran`. Log lines come at INFO (DEBUG with ``-v``), as the CLI
    prints them; torch's thread count and the root logger are restored afterwards. An exception escaping
    ``main`` (a traceback for the user) fails the test by itself."""
    from uniflg.cli import main

    try:  # training commands set torch's thread count; the runtime runs without torch
        import torch
    except ImportError:
        torch = None

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(CLI_FORMAT))
    errors = _Errors()
    root = logging.getLogger()
    level, threads = root.level, torch.get_num_threads() if torch is not None else 0
    root.addHandler(handler)
    root.addHandler(errors)
    root.setLevel(logging.DEBUG if "-v" in argv or "-vv" in argv else logging.INFO)
    try:
        with contextlib.redirect_stderr(stream):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse's usage errors exit 2 from inside the parser
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        root.removeHandler(handler)
        root.removeHandler(errors)
        root.setLevel(level)
        if torch is not None:
            torch.set_num_threads(threads)
    return Ran(code, stream.getvalue(), tuple(errors.messages))


def refused_here(*argv: str) -> str:
    """``uniflg ARGV`` in this process must refuse: exit 2 with one ERROR line and no traceback -> its message."""
    ran = run_here(*argv)
    assert ran.returncode == 2 and len(ran.errors) == 1 and "Traceback" not in ran.stderr, (argv, ran)
    return ran.errors[0]
