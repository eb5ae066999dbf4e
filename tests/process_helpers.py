"""Helpers for tests that start the SDK's commands as child processes."""

from __future__ import annotations

import signal


def terminal_signals() -> None:
    """A child's signals as a terminal gives them (a ``preexec_fn``): the suite itself may run as a background job
    (SIGINT ignored) or under nohup (SIGHUP ignored), and the CLI and live keep an ignored signal ignored."""
    for inherited in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(inherited, signal.SIG_DFL)
