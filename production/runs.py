"""Before a render: record the storyboard, recover from crashes, heal lost takes, find the work.

`prepare` runs under the project's lease, in the CLI before any Prefect server starts (so an
unchanged render starts none) or at the top of the flow when the flow is run directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from production.anchors import anchor_snapshot, settle_identity
from production.context import RenderContext
from production.loras import digest_for
from production.still_slots import keyframe_digests
from production.store import transaction
from production.work import Directive
from storage.leases import live_tokens
from storage.repo import get_project, live_shots, lose_missing_takes, needs_render, recover_interrupted
from storage.requests import finish_request, requeue_taken, take_request
from storage.schema import RenderRequest
from storage.tracking import ShotChange, propagate, submit


@dataclass
class Preparation:
    """What `prepare` found and did.

    Attributes:
        lost: ``shot: why`` for chosen takes whose file went missing or changed (re-rendered).
        recovered: Shots settled after a render that stopped (crash, kill).
        cleaned: Staging files of gone renders removed.
        pending: Shots this run will render.
        requests: Re-render requests waiting to be taken.
        rescored: Shots whose takes were judged again against a new identity anchor.
        anchors: The anchors the run judges against (`RenderJob.anchors`).
    """

    changes: list[ShotChange] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    cleaned: int = 0
    pending: list[str] = field(default_factory=list)
    requests: int = 0
    rescored: list[str] = field(default_factory=list)
    anchors: tuple[tuple[str, str], ...] = ()

    @property
    def idle(self) -> bool:
        """Nothing to render and no request to take."""
        return not self.pending and not self.requests


def prepare(ctx: RenderContext) -> Preparation:
    """Submit the storyboard, recover, heal and list the pending shots of ``ctx``'s job."""
    job = ctx.job
    found = Preparation()
    with transaction(ctx.engine) as session:
        project, found.changes = submit(session, job.project, Path(job.storyboard), ctx.board, ctx.graph, ctx.board.settings.model,
                                        digest_for(ctx.base_dir, ctx.settings.home),
                                        keyframes=keyframe_digests(session, ctx.stills_project, ctx.board, ctx.graph))
        live = live_tokens(session, project) | ({job.lease_token} if job.lease_token else set())
        found.recovered = recover_interrupted(session, project, live - {job.lease_token})
        requeue_taken(session, project, live - {job.lease_token})
        found.lost = lose_missing_takes(session, project, ctx.store.verify)
        if found.lost:
            propagate(session, project)
    found.cleaned = ctx.store.clean_staging(job.project, live - {job.lease_token})
    found.rescored = settle_identity(ctx)
    found.anchors = anchor_snapshot(ctx)
    found.pending, found.requests = pending_work(ctx)
    return found


def pending_work(ctx: RenderContext) -> tuple[list[str], int]:
    """Shots the job would render, and queued re-render requests of its project."""
    job = ctx.job
    with transaction(ctx.engine) as session:
        project = get_project(session, job.project)
        shots = {s.key: s for s in live_shots(session, project)}
        if job.only and job.force:
            pending = [k for k in job.only if k in shots]
            if job.cascade and pending:
                pending += [k for k in ctx.graph.downstream(pending[0]) if k not in pending]
        else:
            pending = [k for k, s in shots.items() if needs_render(s, ctx.board.settings.max_takes) and (not job.only or k in job.only)]
        requests = len([r for r in project_requests(session, project.id) if r.status == "queued"])
    return pending, requests


def project_requests(session: object, project_id: int) -> list[RenderRequest]:
    """Every re-render request of a project, oldest first."""
    from sqlalchemy import select

    query = select(RenderRequest).where(RenderRequest.project_id == project_id).order_by(RenderRequest.id)
    return list(session.scalars(query))  # type: ignore[attr-defined]


def claim_directive(ctx: RenderContext, key: str | None) -> Directive | None:
    """Take the oldest queued re-render request (of shot ``key``, or of any shot) for this render."""
    if ctx.job.lease_token is None:
        return None
    with transaction(ctx.engine) as session:
        request = take_request(session, get_project(session, ctx.job.project), ctx.job.lease_token, key)
        if request is None or request.shot_key not in {s.id for s in ctx.graph.shots}:
            if request is not None:
                finish_request(request, {"error": f"shot {request.shot_key!r} is no longer in the storyboard"}, failed=True)
            return None
        return Directive(shot=request.shot_key, seed=request.seed, prompt=request.prompt, cascade=request.cascade, request_id=request.id)


def finish_directive(ctx: RenderContext, directive: Directive, result: dict[str, Any]) -> None:
    """Record a taken request's outcome for the `rerender` waiting on it."""
    if directive.request_id is None:
        return
    with transaction(ctx.engine) as session:
        request = session.get(RenderRequest, directive.request_id)
        if request is not None:
            keep = ("shot", "takes", "chosen", "reason", "error", "stale_downstream", "interrupted")
            finish_request(request, {k: result.get(k) for k in keep}, failed=bool(result.get("error")) and result.get("chosen") is None)
