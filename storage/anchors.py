"""Character anchors in the database: the current one per character, and its history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.schema import Anchor, Project, utcnow


def current_anchors(session: Session, project: Project) -> dict[str, Anchor]:
    """The anchor each character of ``project`` is judged against now."""
    rows = session.scalars(
        select(Anchor).where(Anchor.project_id == project.id, Anchor.replaced_at.is_(None)).order_by(Anchor.id)
    )
    return {row.character: row for row in rows}


def set_anchor(session: Session, project: Project, character: str, **fields: Any) -> Anchor:
    """Make a new anchor current for ``character`` (the previous one is kept, marked replaced).

    The project row is locked first, so a render freezing an anchor and a person setting one
    at the same moment leave one current anchor, not two.
    """
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    previous = current_anchors(session, project).get(character)
    if previous is not None:
        previous.replaced_at = utcnow()
    anchor = Anchor(project_id=project.id, character=character, **fields)
    session.add(anchor)
    session.flush()
    return anchor


def anchor_info(anchor: Anchor) -> dict[str, Any]:
    """Plain form for `status` (and its JSON)."""
    info: dict[str, Any] = {"source": anchor.source, "sha256": anchor.sha256, "set_by": anchor.set_by,
                            "since": anchor.created_at.isoformat() if anchor.created_at else None}
    if anchor.source in ("reference", "sheet"):
        info["reference"] = anchor.reference  # the image file (a sheet's: its approved portrait view)
    else:
        take = anchor.take
        info.update(shot=take.shot.key if take else None, take=take.attempt if take else None, frame=anchor.frame, box=anchor.box)
    return info
