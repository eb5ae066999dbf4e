"""Peak memory figures report the process's own image, not what its parent held when it was started."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

CHILD = ("import resource; from uniflg.procinfo import peak_rss_mb; "
         "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork + exec inheritance of ru_maxrss is Linux's")
def test_peak_rss_of_a_child_ignores_the_parents_memory() -> None:
    ballast = np.ones(300 * 1024 * 1024 // 8)  # 300 MB resident in the parent when the child is started
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    ours, inherited = map(float, out.split())
    assert ballast.sum() > 0
    assert inherited > 300  # getrusage counts the parent's pages at the fork
    assert 5 < ours < 150  # the child's own peak: a Python with numpy loaded
