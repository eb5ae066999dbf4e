"""Fixtures shared by the bridge tests: a stand-in voice and a client of the module's ``server`` fixture.

Each bridge test module defines its own ``server`` (limits differ per module); ``client`` connects to it.
"""

from __future__ import annotations

from collections.abc import Iterator
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
