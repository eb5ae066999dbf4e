"""Admission: how many streams run at once, how many wait, and when to tell a client to come back later.

At most ``slots`` streams run; up to ``queue`` more wait in arrival order for at most ``wait_seconds``; beyond
that a call is refused at once with :class:`~uniflg_bridge.status.BusyError` (gRPC UNAVAILABLE) carrying a
retry hint: the median time recent completed streams held a slot, scaled by how many are ahead (docs/grpc.md,
"When to retry").
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator

from uniflg_bridge.status import BusyError

MIN_RETRY_MS, MAX_RETRY_MS, DEFAULT_RETRY_MS = 100, 30_000, 1_000


class Admission:
    def __init__(self, slots: int, queue: int, wait_seconds: float) -> None:
        self.slots, self.queue, self.wait_seconds = slots, queue, wait_seconds
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._durations: deque[float] = deque(maxlen=64)  # seconds recent streams held a slot

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def retry_after_ms(self) -> int:
        """A pause after which a slot is likely free: median stream time x (waiting + 1) / slots."""
        if not self._durations:
            return DEFAULT_RETRY_MS
        typical = statistics.median(self._durations) * (self.waiting + 1) / self.slots
        return int(min(MAX_RETRY_MS, max(MIN_RETRY_MS, typical * 1000)))

    def _busy(self, why: str) -> BusyError:
        running = f"{self.active} stream{'' if self.active == 1 else 's'} running"
        return BusyError(f"the server is busy ({running}, {self.waiting} waiting; {why}); "
                         "retry after the pause in the trailers", self.retry_after_ms())

    async def _acquire(self) -> None:
        if self.active < self.slots and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.queue:
            raise self._busy("the wait queue is full")
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            await asyncio.wait_for(asyncio.shield(granted), self.wait_seconds)
        except TimeoutError:
            if granted.done():  # handed a slot just as the wait ran out: keep it
                return
            granted.cancel()
            self._waiters.remove(granted)  # no longer waiting: neither the message nor the pause count it
            raise self._busy(f"waited {self.wait_seconds:g} s") from None
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # the slot handed to a caller that left
            granted.cancel()
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(granted)

    def _release(self) -> None:
        while self._waiters:
            granted = self._waiters.popleft()
            if not granted.done():
                granted.set_result(None)  # the slot passes straight to the next waiter
                return
        self.active -= 1

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a stream slot for the ``async with`` body; raises BusyError when refused. Only bodies that complete
        count toward the retry pause: a refused or cancelled call (cheap for anyone to send) says nothing about how
        long streams hold a slot."""
        await self._acquire()
        start = time.monotonic()
        try:
            yield
        except BaseException:
            self._release()
            raise
        self._durations.append(time.monotonic() - start)
        self._release()
