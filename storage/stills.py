"""Stills in the database: keyframes and character-sheet views, their takes and decisions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.schema import Project, Still, utcnow

StillKey = tuple[str, str, str]
"""(kind, subject, role): one still slot, e.g. ``("keyframe", "s01", "start")``."""


def key_of(still: Still) -> StillKey:
    """The slot a still row fills."""
    return (still.kind, still.subject, still.role)


def project_stills(session: Session, project: Project, kind: str | None = None, subject: str | None = None) -> list[Still]:
    """Every still of ``project`` (of one ``kind``, of one ``subject``), in slot and take order."""
    query = select(Still).where(Still.project_id == project.id)
    if kind is not None:
        query = query.where(Still.kind == kind)
    if subject is not None:
        query = query.where(Still.subject == subject)
    return list(session.scalars(query.order_by(Still.kind, Still.subject, Still.role, Still.attempt)))


def slot_stills(session: Session, project: Project, key: StillKey) -> list[Still]:
    """The takes of one slot, oldest first."""
    kind, subject, role = key
    return list(session.scalars(select(Still).where(Still.project_id == project.id, Still.kind == kind,
                                                    Still.subject == subject, Still.role == role).order_by(Still.attempt)))


def add_still(session: Session, project: Project, key: StillKey, **fields: Any) -> Still:
    """A new take of slot ``key``, numbered after the slot's last (the project row is locked
    first, so two processes making the same slot number their takes apart)."""
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    kind, subject, role = key
    last = session.scalar(select(func.max(Still.attempt)).where(Still.project_id == project.id, Still.kind == kind,
                                                                Still.subject == subject, Still.role == role))
    still = Still(project_id=project.id, kind=kind, subject=subject, role=role, attempt=(last or 0) + 1, **fields)
    session.add(still)
    session.flush()
    return still


def decide(still: Still, decision: str, reviewer: str, notes: str = "") -> None:
    """Record a person's ``approve`` or ``reject`` of a still."""
    still.status = "approved" if decision == "approve" else "rejected"
    still.reviewer, still.notes, still.decided_at = reviewer, notes, utcnow()


def unapprove(stills: Iterable[Still]) -> None:
    """Other takes of a slot lose an approval when one take is approved (one approved per slot)."""
    for still in stills:
        if still.status == "approved":
            still.status = "scored"
