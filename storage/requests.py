"""Re-render requests: asked for while a render holds the project, taken by that render.

`storyreel rerender` of a shot while a render runs queues a request and waits; the render
takes it when it reaches the shot (or, for a shot it has passed, before it finishes), renders
it with the request's seed and prompt, and records the outcome — so the chain stays current,
and nobody renders the same shot twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.schema import Project, RenderRequest


def queue_request(
    session: Session, project: Project, key: str, seed: int | None, prompt: str | None, cascade: bool, by: str
) -> RenderRequest:
    """Ask the render holding ``project`` to re-render shot ``key``."""
    request = RenderRequest(project_id=project.id, shot_key=key, seed=seed, prompt=prompt, cascade=cascade,
                            requested_by=by, status="queued", result={})
    session.add(request)
    session.flush()
    return request


def take_request(session: Session, project: Project, token: str, key: str | None = None) -> RenderRequest | None:
    """The oldest queued request (for shot ``key`` when given), now taken by ``token``."""
    query = select(RenderRequest).where(RenderRequest.project_id == project.id, RenderRequest.status == "queued")
    if key is not None:
        query = query.where(RenderRequest.shot_key == key)
    request = session.scalar(query.order_by(RenderRequest.id).limit(1).with_for_update())
    if request is not None:
        request.status, request.taken_by = "taken", token
    return request


def finish_request(request: RenderRequest, result: Mapping[str, Any], failed: bool = False) -> None:
    """Record what the render made of a request."""
    request.status = "failed" if failed else "done"
    request.result = dict(result)


def requeue_taken(session: Session, project: Project, live: set[str]) -> int:
    """Requests taken by a render that is gone go back to the queue; returns how many."""
    count = 0
    taken = select(RenderRequest).where(RenderRequest.project_id == project.id, RenderRequest.status == "taken")
    for request in session.scalars(taken):
        if request.taken_by not in live:
            request.status, request.taken_by = "queued", None
            count += 1
    return count
