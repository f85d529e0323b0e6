"""The Prefect render flow: prepare, render chains (in parallel), choose takes, stitch the cut.

Reads like the pipeline: every chain of shots is a task that renders its shots in order
(each shot a task, ``render-<shot>``, with retries on transient GPU errors); chains run
concurrently; re-renders asked for meanwhile are taken when the chain reaches their shot, or
before the flow ends; the cut is stitched when every shot has a chosen take and it differs
from the newest cut. The flow holds the project's lease (its caller's, or one it takes).
Parameters are a small `RenderJob`, never frames.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from production import progress, stop
from flows.contexts import render_context
from flows.keyframe_review import keyframe_stage
from production.context import RenderJob, with_revision
from production.export import export_cut
from production.faults import hide_handled_tracebacks
from production.leases import heartbeat, hold
from flows.review_flow import review_batch, review_shot
from production.runs import claim_directive, finish_directive, prepare
from production.store import project_key, transaction
from production.work import Directive, ShotResult, estimated_seconds, render_shot
from flows.settings import worker_wait
from flows.workers import remote_task, render_remote, workers_running
from generation.memory import LADDER
from shots.errors import Conflict, StoryreelError, TransientGenerationError
from storage.repo import get_project, get_project_shot, is_current, keep_chosen, live_shots, needs_render, settle
from storage.tracking import ensure_project


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only errors worth retrying (CUDA OOM and the like)."""
    try:
        state.result()
    except TransientGenerationError:
        return True
    except Exception:
        return False
    return False


@task(name="render-shot", task_run_name="render-{key}", retries=len(LADDER) - 1, retry_delay_seconds=[1, 2, 5],
      retry_condition_fn=_transient)
def render_shot_task(job: RenderJob, key: str, directive: Directive | None = None) -> dict[str, Any]:
    """Render one shot (takes, scores, choice) and publish its table as an artifact.

    On a task worker the flow's lease is renewed while the shot renders.
    """
    ctx = render_context(job)
    beat = heartbeat(ctx.engine, job.lease_token, seconds=ctx.settings.lease_seconds) if job.lease_token and _remote() else contextlib.nullcontext()
    with beat:
        try:
            result = render_shot(ctx, key, progress.step_callback(key), directive)
        except TransientGenerationError:
            raise  # retried by Prefect
        except stop.Interrupted as exc:
            result = _shot_stopped(ctx, key, str(exc))
        except StoryreelError as exc:  # recorded on the shot; the flow goes on and reports it
            result = _shot_failed(ctx, key, str(exc))
    progress.shot_done(key, "rendered" if result.rendered else "up to date")
    if result.rendered:
        _shot_artifact(job, result)
    return result.__dict__


def _remote() -> bool:
    from flows.settings import worker_home

    return worker_home() is not None


def _shot_failed(ctx: Any, key: str, message: str) -> ShotResult:
    """Record an error that stopped a shot's render: a current chosen take stands (a forced
    re-render keeps it and its approval), else the shot is failed."""
    with transaction(ctx.engine) as session:
        shot = get_project_shot(session, ctx.job.project, key)
        if keep_chosen(shot):
            return ShotResult(key, rendered=True, chosen=shot.chosen_take.attempt, reason="kept_previous", error=message)
    return ShotResult(key, rendered=True, error=message)


def _shot_stopped(ctx: Any, key: str, message: str) -> ShotResult:
    """A stop in the middle of a shot: it settles as it was (nothing lost, nothing failed)."""
    with transaction(ctx.engine) as session:
        shot = get_project_shot(session, ctx.job.project, key)
        settle(shot)
        chosen = shot.chosen_take.attempt if shot.chosen_take else None
    return ShotResult(key, rendered=True, chosen=chosen, error=message, interrupted=True)


def _shot(job: RenderJob, key: str, remote: Any, directive: Directive | None = None) -> dict[str, Any]:
    """`render_shot_task` here or on a worker; a transient error that outlasted its retries
    (out of memory at the bottom of the ladder) fails the shot on record."""
    try:
        return render_remote(remote, job, key, directive) if remote is not None else render_shot_task(job, key, directive)
    except TransientGenerationError as exc:
        return _shot_failed(render_context(job), key, f"{exc} (after {len(LADDER) - 1} retries)").__dict__


def _render_one(job: RenderJob, key: str, remote: Any) -> dict[str, Any]:
    """Render ``key``, taking a re-render request for it when one waits."""
    directive = claim_directive(render_context(job), key)
    result = _shot(job, key, remote, directive)
    if directive is not None:
        finish_directive(render_context(job), directive, result)
    return result


@task(name="render-chain")
def render_chain_task(job: RenderJob, chain: tuple[str, ...], progress_id: Any = None) -> list[dict[str, Any]]:
    """Render a chain's shots in order: each continues from the one before."""
    results = []
    remote = remote_task(render_shot_task, job.results_url) if job.workers else None
    for key in chain:
        if stop.stop_requested():
            break
        result = _render_one(job, key, remote)
        results.append(result)
        if progress_id is not None:
            _advance(progress_id)
        if result["error"] or (result["chosen"] is None and result["rendered"]):
            break  # the rest of the chain has nothing to continue from
    return results


_DONE: dict[Any, int] = {}


def _advance(progress_id: Any) -> None:
    _DONE[progress_id] = _DONE.get(progress_id, 0) + 1
    update_progress_artifact(progress_id, min(100.0, 100.0 * _DONE[progress_id] / _DONE.get(("total", progress_id), 1)))


def _shot_artifact(job: RenderJob, result: ShotResult) -> None:
    ctx = render_context(job)
    with transaction(ctx.engine) as session:
        shot = get_project_shot(session, job.project, result.shot)
        rows = []
        for take in shot.takes:
            if take.attempt not in result.takes:
                continue
            scores = ", ".join(f"{s.metric} {s.value:.3f}{'' if s.passed is None else (' ✓' if s.passed else ' ✗')}" for s in take.scores)
            timing = take.timings or {}
            rows.append(f"| {take.attempt} | {take.seed} | {take.status} | {scores or take.error or ''} | {timing.get('denoise', 0):.2f} / {timing.get('decode', 0):.2f} / {timing.get('encode', 0):.2f} |")
    chosen = f"take {result.chosen} ({result.reason})" if result.chosen else f"none — {result.error}"
    create_markdown_artifact(
        key=f"{project_key(job.project)}-{result.shot}".lower().replace("_", "-").replace(".", "-"),
        markdown="\n".join([f"### Shot {result.shot}: {chosen}", "", "| take | seed | status | scores | denoise / decode / encode s |", "|---|---|---|---|---|", *rows]),
        description=f"Takes of shot {result.shot}",
    )


def _chains(job: RenderJob, graph: Any) -> list[tuple[str, ...]]:
    """Which chains have work: all of them, or only the asked shots (and their chains with --cascade)."""
    chains = []
    for chain in graph.chains:
        if job.only:
            keys = [k for k in chain if k in job.only]
            if keys and job.cascade:
                keys = list(chain[chain.index(keys[0]):])
            chain = tuple(keys)
        if chain:
            chains.append(chain)
    return chains


def _drain_requests(job: RenderJob, results: list[dict[str, Any]]) -> None:
    """Take the re-render requests still queued (their shots were passed already), in order."""
    ctx = render_context(job)
    remote = remote_task(render_shot_task, job.results_url) if job.workers else None
    while not stop.stop_requested() and (directive := claim_directive(ctx, None)) is not None:
        result = _shot(job, directive.shot, remote, directive)
        finish_directive(ctx, directive, result)
        results.append(result)
        if directive.cascade and not result["error"]:
            for key in ctx.graph.downstream(directive.shot):
                follow = _shot(job, key, remote)
                results.append(follow)
                if follow["error"]:
                    break


@flow(name="storyreel-render", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=False)
def render_flow(job: RenderJob) -> dict[str, Any]:
    """Render every pending or stale shot of a storyboard, then stitch the cut."""
    hide_handled_tracebacks()
    stop.reclaim_signals()
    job = with_revision(job)
    ctx = render_context(job)
    if job.lease_token is not None:
        try:
            return _render(job)
        finally:
            ctx.store.drop_staging(job.project, job.lease_token)
    with transaction(ctx.engine) as session:
        ensure_project(session, job.project, Path(job.storyboard))
    with hold(ctx.engine, job.project, wait=job.wait, seconds=ctx.settings.lease_seconds) as held:
        try:
            return _render(job.model_copy(update={"lease_token": held.holder.token}))
        finally:
            ctx.store.drop_staging(job.project, held.holder.token)


def _render(job: RenderJob) -> dict[str, Any]:
    log = get_run_logger()
    started = time.perf_counter()
    if job.workers and not workers_running(render_shot_task, wait=worker_wait()):
        log.warning("no storyreel workers are running: rendering in this process")
        job = job.model_copy(update={"workers": False})
    ctx = render_context(job)
    # 1. record the storyboard version, recover, heal (unless the caller did)
    prepared = None if job.prepared else prepare(ctx)
    if prepared is not None:
        job = job.model_copy(update={"anchors": prepared.anchors})
        ctx = render_context(job)
        if prepared.recovered or prepared.cleaned:
            log.info("resumed after an interruption: %s shots settled, %s partial files removed", len(prepared.recovered), prepared.cleaned)
    # 2. a reviewed run with stills waits once for the keyframes; chains whose start is not approved wait
    held = keyframe_stage(job)
    chains = [c for c in _chains(job, ctx.graph) if c[0] not in held]
    total = sum(len(c) for c in chains)
    progress_id = create_progress_artifact(0.0, description=f"{job.project}: shots rendered")
    _DONE[("total", progress_id)] = max(1, total)
    # 3. chains are independent: render them concurrently (one by one when a person reviews each shot)
    reviews: dict[str, str] = {}
    if job.review == "shot":
        results = []
        for chain in chains:
            for key in chain:
                if stop.stop_requested():
                    break
                result = _render_one(job, key, None)
                results.append(result)
                _advance(progress_id)
                if result["error"]:
                    break
                if _approved(ctx, key):
                    continue  # a person approved this take already: never asked twice
                reviews[key] = review_shot(job, key, render_shot_task)
                if reviews[key] == "reject":
                    break  # the rest of the chain has nothing to continue from
    else:
        futures = [render_chain_task.submit(job, chain, progress_id) for chain in chains]
        results = [r for f in futures for r in f.result()]
        if job.review == "batch" and not stop.stop_requested():
            asked = [r["shot"] for r in results if r["chosen"] is not None and not _approved(ctx, r["shot"])]
            reviews = review_batch(job, asked, render_shot_task) if asked else {}
    _drain_requests(job, results)
    _settle_identity(job, results)
    summary = _finish(job, ctx, results, reviews, prepared, started, progress_id)
    if held:
        data = summary if isinstance(summary, dict) else summary.data
        data["keyframes_waiting"] = held
    return summary


def _approved(ctx: Any, key: str) -> bool:
    """Whether a person approved the shot's current chosen take."""
    with transaction(ctx.engine) as session:
        shot = get_project_shot(session, ctx.job.project, key)
        return shot.status == "approved" and is_current(shot)


def _settle_identity(job: RenderJob, results: list[dict[str, Any]]) -> None:
    """The anchors frozen during the run judge its takes now (the run judged against those it
    started with); shots that now fail are re-rolled within ``max_takes``, one by one in story
    order, against the anchors as they are now."""
    ctx = render_context(job)
    if stop.stop_requested() or not ctx.board.characters:
        return
    from production.anchors import anchor_snapshot, settle_identity

    judged = set(settle_identity(ctx))
    if not judged:
        return
    job = job.model_copy(update={"anchors": anchor_snapshot(ctx)})
    rendered: set[str] = set()
    for planned in ctx.graph.shots:  # in story order: a shot re-rolled here makes those after it in its chain stale
        if planned.id not in judged and planned.conditioned_on not in rendered:
            continue
        with transaction(ctx.engine) as session:
            shot = next((s for s in live_shots(session, get_project(session, job.project)) if s.key == planned.id), None)
            due = shot is not None and shot.status != "rejected" and needs_render(shot, ctx.board.settings.max_takes)
        if due and not stop.stop_requested():
            results.append(render_shot_task(job, planned.id))
            rendered.add(planned.id)


def remaining(session: Any, project: str, review: str) -> dict[str, list[str]]:
    """What keeps a project from its cut: shots rejected, waiting for a person's decision
    (reviewed runs), and not rendered or stale (with what they wait on)."""
    left: dict[str, list[str]] = {"rejected": [], "awaiting review": [], "not rendered": []}
    for shot in live_shots(session, get_project(session, project)):
        if shot.status == "rejected":
            left["rejected"].append(shot.key)
        elif not is_current(shot):
            left["not rendered"].append(shot.key)
        elif review != "off" and shot.status != "approved":
            left["awaiting review"].append(shot.key)
    return {k: v for k, v in left.items() if v}


def _remaining_text(left: dict[str, list[str]]) -> str:
    return "; ".join(f"{what}: {', '.join(keys)}" for what, keys in left.items())


def _finish(job: RenderJob, ctx: Any, results: list[dict[str, Any]], reviews: dict[str, str], prepared: Any, started: float,
            progress_id: Any = None) -> dict[str, Any]:
    """4. the summary; 5. the cut, when every shot has a current chosen take. A run that leaves
    shots rejected, awaiting review or unrendered ends in a state named for it (not a plain
    Completed), and its progress artifact says what remains."""
    log = get_run_logger()
    failed = [r for r in results if r["error"] and not r.get("interrupted")]
    summary: dict[str, Any] = {"project": job.project, "changes": [c.as_dict() for c in prepared.changes] if prepared else [],
                               "shots": results, "cut": None, "reviews": reviews, "healed": prepared.lost if prepared else []}
    if stop.stop_requested():
        summary["interrupted"] = next((r["error"] for r in results if r.get("interrupted")), "stopped")
        return summary
    if job.only and not job.cascade:
        stale = sorted({k for r in results for k in r["stale_downstream"]})
        summary["stale_downstream"] = estimated_seconds(ctx, stale)
    with transaction(ctx.engine) as session:
        waiting = [s.key for s in live_shots(session, get_project(session, job.project)) if not is_current(s)]
    summary["not_in_cut"] = waiting
    if job.export and not failed and not waiting:
        try:
            from storage.leases import Holder

            owner = Holder(job.lease_token or "shared", "", "", 0, None)
            cut = export_cut(ctx.settings, job.project, allow_unapproved=job.review == "off", owner=owner, reuse=True)
        except Conflict as exc:  # reviewed runs only cut approved takes
            summary["not_in_cut"] = [str(exc)]
            return _incomplete(job, ctx, summary, progress_id)
        summary["cut"] = {"path": str(cut.path), "number": cut.number, "frames": cut.frames, "fps": cut.fps,
                          "seconds": cut.seconds, "audio": cut.has_audio, "unchanged": cut.unchanged}
        log.info("cut: %s (%s frames)%s", cut.path, cut.frames, " — unchanged" if cut.unchanged else "")
    summary["seconds"] = round(time.perf_counter() - started, 3)
    if failed:
        message = "; ".join(f"{r['shot']}: {r['error']}" for r in failed)
        return Failed(message=f"{len(failed)} shots failed — {message}", data=summary)  # type: ignore[return-value]
    return _incomplete(job, ctx, summary, progress_id)


def _incomplete(job: RenderJob, ctx: Any, summary: dict[str, Any], progress_id: Any) -> Any:
    """The summary, as a Completed state named ``Incomplete`` when shots remain (rejected,
    awaiting review, not rendered), with the progress artifact saying which."""
    with transaction(ctx.engine) as session:
        left = remaining(session, job.project, job.review)
    summary["remaining"] = left
    if not left:
        return summary
    text = _remaining_text(left)
    if progress_id is not None:
        with contextlib.suppress(Exception):  # an artifact is a courtesy; the state says it too
            update_progress_artifact(progress_id, _progress_of(progress_id), description=f"{job.project}: remaining — {text}")
    return Completed(name="Incomplete", message=f"{job.project}: not finished — {text}", data=summary)


def _progress_of(progress_id: Any) -> float:
    return min(100.0, 100.0 * _DONE.get(progress_id, 0) / _DONE.get(("total", progress_id), 1))
