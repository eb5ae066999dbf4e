"""Helpers for tests that start the SDK's commands as child processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping


def terminal_signals() -> None:
    """A child's signals as a terminal gives them (a ``preexec_fn``): the suite itself may run as a background job
    (SIGINT ignored) or under nohup (SIGHUP ignored), and the CLI and live keep an ignored signal ignored."""
    for inherited in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(inherited, signal.SIG_DFL)


# A small parent for a measured command: a child forked from the (large) pytest process would report the pages it
# shared with pytest before exec as its own peak RSS.
_MEASURE = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
print(f"\\nPEAK_RSS_KB={usage.ru_maxrss}", file=sys.stderr, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(argv: list[str], env: Mapping[str, str], timeout: float = 300) -> tuple[int, str, str, float]:
    """``argv`` (a command line) in a child process -> (exit code, its stdout, its stderr, its peak RSS in MB).
    Raises subprocess.TimeoutExpired after ``timeout`` seconds."""
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *argv], env=dict(env), capture_output=True, text=True,
                          timeout=timeout)
    err, _, rss = proc.stderr.rpartition("PEAK_RSS_KB=")
    return proc.returncode, proc.stdout, err.removesuffix("\n"), int(rss.split()[0]) / 1024
