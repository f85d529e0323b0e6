"""Running a render from the command line: lease, preparation, Prefect only when there is work.

`run_render` holds the project's lease for the whole run (refusing, or waiting with
``--wait``, when another live process holds it), records and heals the project, and when
nothing is pending reports the current cut — stitching one only if the chosen takes changed —
without starting any Prefect server. Otherwise it runs the flow against the user's Prefect API
or one it starts and stops itself. SIGINT / SIGTERM stop it within a few seconds
(`production.stop`).

`rerender` of a shot while a render holds the project queues a request that render takes;
it waits for the outcome, and renders itself if that render ends without taking it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from production import stop
from flows.contexts import render_context
from production.context import RenderJob
from production.leases import Busy, hold, try_acquire
from production.runs import Preparation, prepare
from flows.settings import AppSettings
from production.store import transaction
from shots.errors import GenerationError
from storage.leases import PROJECT, Holder, describe, holder_of
from storage.repo import get_project, is_current, live_shots
from storage.requests import queue_request
from storage.schema import RenderRequest
from storage.tracking import ensure_project


def prefect_env() -> None:
    """Quiet, offline-friendly Prefect defaults (the user's environment wins)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def run_render(settings: AppSettings, job: RenderJob, total: int, show_progress: bool) -> dict[str, Any]:
    """Run ``job`` under the project's lease; returns the run's summary.

    Raises:
        Busy: Another live process holds the project and ``job.wait`` is false.
        Interrupted: A signal stopped the run (after recording what was in flight).
    """
    prefect_env()
    from pathlib import Path

    engine = settings.database(create=True)
    with transaction(engine) as session:
        ensure_project(session, job.project, Path(job.storyboard))
    with stop.stop_on_signals(), hold(engine, job.project, wait=job.wait, seconds=settings.lease_seconds) as held:
        job = job.model_copy(update={"lease_token": held.holder.token, "prepared": True})
        ctx = render_context(job)
        try:
            prepared = prepare(ctx)
            if prepared.idle:
                return idle_summary(settings, job, prepared)
            summary = _flow(job.model_copy(update={"anchors": prepared.anchors}), total, show_progress)
        finally:
            ctx.store.drop_staging(job.project, held.holder.token)
        summary["healed"] = prepared.lost
        summary["changes"] = [c.as_dict() for c in prepared.changes]
    if stop.stop_requested():
        raise stop.Interrupted(f"{summary.get('interrupted', 'stopped')}; nothing finished was lost — run the same command again to go on")
    return summary


def _flow(job: RenderJob, total: int, show_progress: bool) -> dict[str, Any]:
    from production import progress
    from flows.prefect_api import prefect_api
    from flows.render_flow import render_flow

    sink = progress.ProgressSink(total, None)
    progress.install(sink)
    try:
        with prefect_api():
            if show_progress:
                with sink.progress:
                    state = render_flow(job, return_state=True)
            else:
                state = render_flow(job, return_state=True)
    finally:
        progress.install(None)
    summary = state.result(raise_on_failure=False)
    if not isinstance(summary, dict):
        stop.check()
        raise GenerationError(f"render failed: {state.message or summary}")
    if not state.is_completed():
        summary["failed"] = state.message
    return summary


def idle_summary(settings: AppSettings, job: RenderJob, prepared: Preparation) -> dict[str, Any]:
    """Nothing to render: the current cut (made only when the chosen takes changed since the
    newest one), with no Prefect server started."""
    from production.export import export_cut
    from shots.errors import Conflict

    ctx = render_context(job)
    summary: dict[str, Any] = {"project": job.project, "changes": [c.as_dict() for c in prepared.changes], "shots": [],
                               "cut": None, "reviews": {}, "healed": prepared.lost, "prefect": False}
    with transaction(ctx.engine) as session:
        waiting = [s.key for s in live_shots(session, get_project(session, job.project)) if not is_current(s)]
    summary["not_in_cut"] = waiting
    if job.export and not waiting:
        owner = Holder(job.lease_token or "shared", "", "", 0, None)
        try:
            cut = export_cut(settings, job.project, allow_unapproved=job.review == "off", owner=owner, reuse=True)
        except Conflict as exc:
            summary["not_in_cut"] = [str(exc)]
            return summary
        summary["cut"] = {"path": str(cut.path), "number": cut.number, "frames": cut.frames, "fps": cut.fps,
                          "seconds": cut.seconds, "audio": cut.has_audio, "unchanged": cut.unchanged}
    return summary


def rerender(settings: AppSettings, job: RenderJob, show_progress: bool, notify: Callable[[str], None] = print,
             poll: float = 1.0) -> dict[str, Any]:
    """A forced render of ``job.only[0]``: by this process when the project is free, else by
    the render holding it (a queued request this waits on)."""
    prefect_env()
    engine = settings.database()
    key = job.only[0]
    probe = Holder.here()
    if try_acquire(engine, job.project, PROJECT, probe, "rerender", settings.lease_seconds) is None:
        from storage.leases import release

        with transaction(engine) as session:
            release(session, probe.token, PROJECT)
        try:
            return run_render(settings, job, 1, show_progress)
        except Busy:
            pass  # a render started in between: queue for it
    with transaction(engine) as session:
        project = get_project(session, job.project)
        request = queue_request(session, project, key, job.seed, job.prompt, job.cascade, probe.owner)
        request_id = request.id
        holder = holder_of(session, project)
        by = describe(holder) if holder is not None else "the running render"
    notify(f"{key}: queued for the render holding project {job.project!r} ({by}); waiting for it to take it")
    with stop.stop_on_signals():
        while True:
            with transaction(engine) as session:
                request = session.get(RenderRequest, request_id)
                status, result = request.status, dict(request.result or {})
                busy = holder_of(session, get_project(session, job.project)) is not None
                if status in ("queued", "taken") and not busy:
                    session.delete(request)  # the render ended (or died) without it: render it here
            if status in ("done", "failed"):
                return {"project": job.project, "shots": [result], "cut": None, "reviews": {}, "by_request": request_id}
            if status in ("queued", "taken") and not busy:
                return run_render(settings, job, 1, show_progress)
            stop.check()
            time.sleep(poll)
