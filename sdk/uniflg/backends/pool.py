"""Concurrency and memory reuse for the GPU backends, behind a thin interface with no CUDA in it.

- :class:`SlotPool`: up to ``size`` independent workers (a TensorRT execution context with its CUDA stream, or an
  ONNX Runtime IO binding), created on first need, lent to one caller at a time. A caller that finds every slot
  busy waits, so ``size=1`` is a lock. Each concurrent stream of ``uniflg serve`` thus runs on its own context: no
  two threads ever share a context's input shapes or tensor addresses.
- :class:`BufferArena`: one buffer per tensor name, sized to a power-of-two *bucket* of bytes; a call whose tensor
  fits the current bucket reuses it, a larger one replaces it once. Streaming windows repeat a handful of shapes,
  so after warm-up nothing is allocated per call (``allocations`` counts what was).

The allocator (:class:`Allocator`) is what differs: ``cudaMalloc``/``cudaFree`` on a GPU, NumPy on the CPU. The
ONNX Runtime backend uses both classes with host buffers, which is how they are tested without a GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np

T = TypeVar("T")
MIN_BUCKET = 4096


def bucket_bytes(nbytes: int) -> int:
    """The bucket a tensor of ``nbytes`` bytes lives in: the next power of two, at least :data:`MIN_BUCKET`."""
    if nbytes < 0:
        raise ValueError(f"nbytes must be >= 0; got {nbytes}")
    return max(MIN_BUCKET, 1 << max(0, nbytes - 1).bit_length())


class SlotPool(Generic[T]):
    """At most ``size`` slots made by ``factory`` on demand; :meth:`slot` lends one exclusively."""

    def __init__(self, factory: Callable[[], T], size: int, close: Callable[[T], None] | None = None) -> None:
        if size < 1:
            raise ValueError(f"pool size must be >= 1; got {size}")
        self._factory, self._close, self.size = factory, close, size
        self._free: list[T] = []
        self._all: list[T] = []
        self._reserved = 0  # slots made or being made
        self._cond = threading.Condition()

    @property
    def created(self) -> int:
        """Slots made so far (<= size): the peak number of concurrent callers."""
        with self._cond:
            return len(self._all)

    @contextmanager
    def slot(self) -> Iterator[T]:
        item = self._acquire()
        try:
            yield item
        finally:
            with self._cond:
                self._free.append(item)
                self._cond.notify()

    def _acquire(self) -> T:
        with self._cond:
            while not self._free and self._reserved >= self.size:
                self._cond.wait()
            if self._free:
                return self._free.pop()
            self._reserved += 1
        try:  # the factory (a context, a binding) runs unlocked: other callers keep using free slots
            item = self._factory()
        except BaseException:
            with self._cond:
                self._reserved -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._all.append(item)
        return item

    def close(self) -> None:
        """Close every slot (callers must be done)."""
        with self._cond:
            items, self._all, self._free, self._reserved = self._all, [], [], 0
        if self._close is not None:
            for item in items:
                self._close(item)


class Allocator(Protocol):
    """Raw memory for a :class:`BufferArena`: ``alloc`` returns a handle, ``address`` its pointer (int)."""

    def alloc(self, nbytes: int) -> object: ...

    def address(self, handle: object) -> int: ...

    def free(self, handle: object) -> None: ...


class HostAllocator:
    """Host memory from NumPy (64-byte aligned by NumPy's allocator on every platform we run)."""

    def alloc(self, nbytes: int) -> object:
        return np.empty(nbytes, np.uint8)

    def address(self, handle: object) -> int:
        assert isinstance(handle, np.ndarray)
        return int(handle.ctypes.data)

    def free(self, handle: object) -> None:  # NumPy frees when the last reference goes
        pass


@dataclass
class Buffer:
    handle: object
    address: int
    capacity: int


class BufferArena:
    """Per-tensor buffers reused across calls (not thread-safe: one arena belongs to one pool slot)."""

    def __init__(self, allocator: Allocator) -> None:
        self.allocator = allocator
        self.buffers: dict[str, Buffer] = {}
        self.allocations = 0
        self.generation = 0  # bumps whenever an address changes (CUDA graphs captured before are stale)

    def get(self, name: str, nbytes: int) -> Buffer:
        """A buffer of at least ``nbytes`` for tensor ``name``; the same one while its bucket suffices."""
        current = self.buffers.get(name)
        if current is not None and current.capacity >= nbytes:
            return current
        capacity = bucket_bytes(nbytes)
        handle = self.allocator.alloc(capacity)
        if current is not None:
            self.allocator.free(current.handle)
        buf = Buffer(handle, self.allocator.address(handle), capacity)
        self.buffers[name] = buf
        self.allocations += 1
        self.generation += 1
        return buf

    def release(self) -> None:
        for buf in self.buffers.values():
            self.allocator.free(buf.handle)
        self.buffers.clear()
        self.generation += 1

    @property
    def reserved_bytes(self) -> int:
        return sum(b.capacity for b in self.buffers.values())
