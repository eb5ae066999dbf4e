"""Resource figures of the running process, measured the same way everywhere (bench, live reports)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process image in MB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` survives ``execve``, so
    a process started by a large parent (fork + exec) reports the parent's resident size at the fork as its own
    peak (a 30-minute ``livebench`` run showed 1.6 GB for a process that never exceeded 186 MB). Elsewhere
    ``ru_maxrss`` (kilobytes on Linux, bytes on macOS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
