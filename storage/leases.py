"""Leases: who works on a project, or on one of its shots, right now.

A lease is a row (project, scope) with a holder, a heartbeat and an expiry. Taking one locks
the project's row first (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite transactions here are
``BEGIN IMMEDIATE``, one writer at a time), so two processes asking at once get one answer
each; the unique (project, scope) constraint backs that up. A lease may be taken over when it
has expired, or at once when its holder ran on this host and that process is gone (same pid
and start time, so a reused pid is not mistaken for the holder).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.schema import Lease, Project

PROJECT = "project"


def shot_scope(key: str) -> str:
    """The scope of a lease on one shot."""
    return f"shot:{key}"


def host_name() -> str:
    """This host's name as leases record it (``STORYREEL_HOST`` overrides, for containers that
    share a hostname)."""
    return os.environ.get("STORYREEL_HOST") or socket.gethostname()


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, Linux), or None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def process_alive(pid: int, started: int | None) -> bool:
    """Whether process ``pid`` on this host is alive and is the one that started at ``started``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    now = process_start(pid)
    return started is None or now is None or now == started


@dataclass(frozen=True)
class Holder:
    """This process as a lease holder."""

    token: str
    owner: str
    host: str
    pid: int
    pid_start: int | None

    @classmethod
    def here(cls) -> Holder:
        """A new holder identity for this process (a fresh token each time)."""
        return cls(uuid.uuid4().hex, f"{host_name()}:{os.getpid()}", host_name(), os.getpid(), _own_start())


@cache
def _own_start() -> int | None:
    return process_start(os.getpid())


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite drops the zone


def is_live(lease: Lease, now: datetime | None = None) -> bool:
    """Whether a lease still holds: not expired, and its process alive when it is on this host."""
    now = now or _now()
    if _aware(lease.expires_at) <= now:
        return False
    if lease.host == host_name():
        return process_alive(lease.pid, lease.pid_start)
    return True


def acquire(session: Session, project: Project, scope: str, holder: Holder, seconds: float, purpose: str = "render") -> Lease | None:
    """Take the lease ``scope`` of ``project`` for ``holder``; None when a live holder has it.

    Re-acquiring a lease this holder already has renews it.
    """
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    now = _now()
    lease = session.scalar(select(Lease).where(Lease.project_id == project.id, Lease.scope == scope))
    if lease is not None and lease.token != holder.token and is_live(lease, now):
        return None
    if lease is None:
        lease = Lease(project_id=project.id, scope=scope)
        session.add(lease)
    lease.token, lease.owner, lease.host = holder.token, holder.owner, holder.host
    lease.pid, lease.pid_start, lease.purpose = holder.pid, holder.pid_start, purpose
    lease.acquired_at = lease.heartbeat_at = now
    lease.expires_at = now + timedelta(seconds=seconds)
    session.flush()
    return lease


def renew(session: Session, token: str, seconds: float) -> int:
    """Push back the expiry of every lease held with ``token``; returns how many it holds."""
    now = _now()
    leases = list(session.scalars(select(Lease).where(Lease.token == token)))
    for lease in leases:
        lease.heartbeat_at, lease.expires_at = now, now + timedelta(seconds=seconds)
    return len(leases)


def release(session: Session, token: str, scope: str | None = None) -> None:
    """Give up the leases held with ``token`` (only ``scope``'s when given)."""
    query = delete(Lease).where(Lease.token == token)
    if scope is not None:
        query = query.where(Lease.scope == scope)
    session.execute(query)


def holder_of(session: Session, project: Project, scope: str = PROJECT) -> Lease | None:
    """The live lease on ``scope`` of ``project``, if any."""
    lease = session.scalar(select(Lease).where(Lease.project_id == project.id, Lease.scope == scope))
    return lease if lease is not None and is_live(lease) else None


def live_tokens(session: Session, project: Project) -> set[str]:
    """Tokens of every live lease on the project: their takes and files are not to be touched."""
    leases = session.scalars(select(Lease).where(Lease.project_id == project.id))
    now = _now()
    return {lease.token for lease in leases if is_live(lease, now)}


def describe(lease: Lease) -> str:
    """``host:pid (render) since 12:03:04 UTC, expires in 41 s``."""
    since = _aware(lease.acquired_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    left = (_aware(lease.expires_at) - _now()).total_seconds()
    return f"{lease.owner} ({lease.purpose}) since {since}, lease expires in {max(0, left):.0f} s unless renewed"
