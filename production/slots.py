"""A render slot per device in this process: how many pipeline calls may run at once on it
(chains render concurrently in threads). `flows.slots` adds a bound across processes."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

Slot = Callable[[str], AbstractContextManager[None]]
"""Holds one render slot of a device (by name, ``cuda:0``) for a ``with`` block."""

_LOCAL: dict[str, threading.BoundedSemaphore] = {}
_GUARD = threading.Lock()


@contextlib.contextmanager
def local_slot(device: str, slots: int = 1) -> Iterator[None]:
    """Hold one of ``slots`` render slots of ``device`` among this process's threads."""
    with _GUARD:
        local = _LOCAL.setdefault(device, threading.BoundedSemaphore(slots))
    with local:
        yield
