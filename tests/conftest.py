"""Shared fixtures: for the bridge tests a stand-in voice and a client of the module's ``server`` fixture (each
bridge test module defines its own ``server``: limits differ per module); for the video tests a real face photo.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def voice() -> Any:
    from bridge_fakes import FakeVoice

    return FakeVoice()


@pytest.fixture()
def client(server: Any) -> Iterator[Any]:
    """A blocking stub on a fresh channel to the module's ``server``; the channel closes afterwards."""
    from bridge_server import stub

    channel, s = stub(server)
    yield s
    channel.close()


@pytest.fixture()
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``small_tmpfs(kib, read_only=False)`` -> a folder on a real tmpfs of that many KiB, unmounted afterwards:
    full-disk and read-only tests meet a real ENOSPC / EROFS. Skips where mounting is not permitted (not root, or
    a container without the right)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the fault-injection tests cover the logic)")
    mounted: list[Path] = []

    def mount(kib: int, read_only: bool = False) -> Path:
        folder = tmp_path / f"tmpfs{len(mounted)}"
        folder.mkdir()
        options = f"{'ro,' if read_only else ''}size={kib}k"
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]).returncode:
            pytest.skip("mount is not permitted here")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture(scope="session")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-image's astronaut photo (a real face, 512 x 512), written by the MediaPipe environment, which has
    scikit-image; skips, naming `make video-env`, where that environment is missing."""
    from uniflg_train.video.extract import VideoUnavailableError, video_python

    try:
        py = video_python()
    except VideoUnavailableError as exc:
        pytest.skip(f"{exc} (MediaPipe 0.10.21 needs protobuf<5/numpy<2, so it has its own environment)")
    path = tmp_path_factory.mktemp("video") / "astronaut.png"
    subprocess.run([str(py), "-c", f"from skimage import data, io; io.imsave({str(path)!r}, data.astronaut())"],
                   check=True, capture_output=True)
    return path
