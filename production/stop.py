"""Stopping a render cleanly: SIGINT / SIGTERM set a flag the work checks often.

The flag is checked before every layer the model runs (`generation.render.checked_often`),
between takes and between shots: the take in flight is recorded as interrupted, its staging
files removed, and the render ends within a second or two. While the flow waits for a
person's review the main thread is interrupted at once. A second signal exits at once (the lease then expires, or is reclaimed at once by the
next render on this host, whose check finds the process gone).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from shots.errors import StoryreelError

_STOP = threading.Event()
_REASON: list[str] = []
_WAITING = threading.Event()  # the main thread is in a review pause
_HANDLER: list[object] = []  # the handler `stop_on_signals` installed, while it is active


class Interrupted(StoryreelError):
    """The render was asked to stop (a signal, or its lease was lost)."""

    exit_code = 130


def request_stop(reason: str) -> None:
    """Ask every piece of running work in this process to stop."""
    if not _STOP.is_set():
        _REASON.append(reason)
    _STOP.set()


def stop_requested() -> bool:
    """Whether this process was asked to stop."""
    return _STOP.is_set()


def check() -> None:
    """Raise `Interrupted` when a stop was asked for (call it between pieces of work)."""
    if _STOP.is_set():
        raise Interrupted(f"stopped: {_REASON[0] if _REASON else 'asked to stop'}")


def reset() -> None:
    """Clear the flag (tests, and a process that renders again after a stop)."""
    _STOP.clear()
    _REASON.clear()


@contextlib.contextmanager
def waiting_for_review() -> Iterator[None]:
    """Mark the main thread as waiting for a person: a signal interrupts the wait at once."""
    _WAITING.set()
    try:
        check()
        yield
    finally:
        _WAITING.clear()


@contextlib.contextmanager
def stop_on_signals(on_second: object = None) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `request_stop` for the block (main thread only).

    Args:
        on_second: Called before the process exits on a second signal (e.g. to stop a server).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(number: int, _frame: FrameType | None) -> None:
        received.append(number)
        if len(received) > 1:
            if callable(on_second):
                with contextlib.suppress(Exception):
                    on_second()
            os._exit(128 + number)
        request_stop(f"{signal.Signals(number).name} received")
        if _WAITING.is_set():
            raise Interrupted(f"stopped while waiting for a review ({signal.Signals(number).name})")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    _HANDLER.append(handler)
    try:
        yield
    finally:
        _HANDLER.remove(handler)
        for sig, old in previous.items():
            signal.signal(sig, old)


def reclaim_signals() -> None:
    """Put this module's handlers back (Prefect's flow engine installs its own SIGTERM handler,
    which would end the run as crashed instead of stopping it cleanly)."""
    if _HANDLER and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _HANDLER[-1])  # type: ignore[arg-type]
