"""Holding a project's lease while working on it: acquire (refuse or wait), heartbeat, release.

``render``, ``rerender`` and ``export`` hold a lease (`storage.leases`); a heartbeat thread
renews it every third of its length, and a task worker rendering a shot for a flow renews the
flow's lease too. A lease that could not be renewed in time is lost: the holder stops
(`production.stop`) rather than work on beside a process that took the project over.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from production.config import DEFAULT_LEASE_SECONDS
from production.store import transaction
from shots.errors import Conflict
from storage.leases import PROJECT, Holder, acquire, describe, holder_of, release, renew
from storage.repo import get_project

log = logging.getLogger(__name__)

class Busy(Conflict):
    """The project (or shot) is held by another live process."""


@dataclass
class HeldLease:
    """A lease this process holds; ``lost`` is set when a heartbeat found it gone."""

    holder: Holder
    project: str
    scope: str
    lost: threading.Event


def try_acquire(engine: Engine, project: str, scope: str, holder: Holder, purpose: str,
                seconds: float = DEFAULT_LEASE_SECONDS) -> str | None:
    """Take the lease (for ``seconds`` without a heartbeat) now; returns None on success, else
    who holds it (for the message)."""
    with transaction(engine) as session:
        record = get_project(session, project)
        if acquire(session, record, scope, holder, seconds, purpose) is not None:
            return None
        current = holder_of(session, record, scope)
        return describe(current) if current is not None else "another process"


@contextlib.contextmanager
def hold(engine: Engine, project: str, scope: str = PROJECT, purpose: str = "render",
         wait: bool = False, holder: Holder | None = None, poll: float = 1.0,
         seconds: float = DEFAULT_LEASE_SECONDS) -> Iterator[HeldLease]:
    """Hold ``scope`` of ``project`` for the block, renewing it; released on the way out.

    Args:
        wait: Wait for a busy lease to be released (or to expire) instead of refusing.
        seconds: The lease's length without a heartbeat (`AppSettings.lease_seconds`).

    Raises:
        Busy: A live holder has it and ``wait`` is false: names the holder and since when.
    """
    holder = holder or Holder.here()
    while (busy := try_acquire(engine, project, scope, holder, purpose, seconds)) is not None:
        if not wait:
            what = "project" if scope == PROJECT else scope.replace("shot:", "shot ")
            raise Busy(f"{what} {project!r} is busy: {busy}. Wait for it with --wait, or try again later")
        time.sleep(poll)
    held = HeldLease(holder, project, scope, threading.Event())
    with heartbeat(engine, holder.token, held.lost, seconds):
        try:
            yield held
        finally:
            with contextlib.suppress(SQLAlchemyError), transaction(engine) as session:
                release(session, holder.token, scope)


@contextlib.contextmanager
def heartbeat(engine: Engine, token: str, lost: threading.Event | None = None,
              seconds: float = DEFAULT_LEASE_SECONDS) -> Iterator[None]:
    """Renew every lease held with ``token`` every third of the lease's length, in a thread.

    When a renewal finds no lease left (it expired and another process took the project),
    ``lost`` is set and the stop flag raised: the work in flight ends as interrupted.
    """
    stop = threading.Event()

    def beat() -> None:
        from production.stop import request_stop

        while not stop.wait(seconds / 3):
            try:
                with transaction(engine) as session:
                    held = renew(session, token, seconds)
            except SQLAlchemyError as exc:  # the database is away for a moment: try again next beat
                log.warning("could not renew the lease: %s", exc)
                continue
            if held == 0:
                if lost is not None:
                    lost.set()
                request_stop("the lease on the project was lost (another process took it over)")
                return

    thread = threading.Thread(target=beat, name="storyreel-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
