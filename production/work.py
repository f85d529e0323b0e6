"""The work of one shot: start frame, takes until one passes, scores, media, the choice.

Plain functions over a `RenderContext`; the Prefect tasks in `flows.render_flow` call them.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from consistency.color import match_color
from consistency.embedder import load_embedder
from consistency.metrics import color_distance
from consistency.policy import (
    MetricScore,
    Outcome,
    RerollPolicy,
    TakeScores,
    choose,
    judge,
    resolve_thresholds,
)
from consistency.scoring import score_take
from production import stop
from production.anchors import freeze_anchors
from production.choice import outcome
from production.context import RenderContext
from production.inputs import NO_IMAGE_STARTS, ShotInputs, shot_inputs
from production.loras import lora_files
from production.store import transaction
from generation.encode import contact_sheet, encode_mp4, save_png
from generation.loading import load_pipeline
from generation.render import render_take
from generation.types import RenderRequest
from shots.movement import same_movement
from shots.errors import (
    GenerationError,
    ScoringError,
    StitchError,
    TransientGenerationError,
)
from shots.graph import take_seed
from storage.repo import (
    StoredMedia,
    add_scores,
    add_take,
    choose_take,
    fail_take,
    finish_take,
    get_project,
    get_project_shot,
    get_shot,
    is_current,
    keep_chosen,
    live_shots,
    needs_render,
    set_status,
)
from storage.leases import Holder, acquire, host_name, process_start, release, shot_scope
from storage.schema import Shot, Take
from storage.tracking import propagate

Progress = Callable[[int, int], None]


def worker_id() -> str:
    """``host:pid`` of this process, recorded on every take it renders."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class ShotResult:
    """What happened to one shot in a run."""

    shot: str
    rendered: bool
    takes: list[int] = field(default_factory=list)
    chosen: int | None = None
    reason: str | None = None
    error: str | None = None
    stale_downstream: list[str] = field(default_factory=list)
    interrupted: bool = False
    after_rejection: bool = False  # a person had rejected it: rendered anew


def recompose(ctx: RenderContext, key: str, own_text: str) -> str:
    """The full prompt for shot ``key`` with its own text replaced by ``own_text`` (a reviewer's
    edit): style, characters and camera are composed around it as for any shot."""
    from shots.prompts import compose_prompt

    shot = ctx.board.shot(key).model_copy(update={"prompt": own_text})
    return compose_prompt(ctx.board, shot, ctx.graph.spec.text_tokens).prompt


class Directive(BaseModel):
    """A forced render of one shot with its own seed and prompt (a re-render request taken
    by this render, or a reviewer's re-roll); ``prompt`` is the shot's own text, edited."""

    model_config = ConfigDict(frozen=True)

    shot: str
    seed: int | None = None
    prompt: str | None = None
    cascade: bool = False
    request_id: int | None = None


def _store_media(ctx: RenderContext, shot: Shot, take: Take, frames: np.ndarray, fps: int, start: np.ndarray | None = None) -> StoredMedia:
    """Encode and store a take: the MP4, its last frame (the next shot's hand-off), its contact
    sheet, and for the review page its first frame and, for a continued shot, the frame it
    started from."""
    files = ctx.store.take_files(ctx.job.project, shot.key, take.attempt)
    staging = _staging(ctx)
    stem = f"{shot.key}-{take.attempt}"
    encode_mp4(frames, fps, staging / f"{stem}.mp4")
    save_png(frames[-1], staging / f"{stem}.last.png")
    save_png(contact_sheet(frames, f"{shot.key}  take {take.attempt}  seed {take.seed}"), staging / f"{stem}.sheet.png")
    save_png(frames[0], staging / f"{stem}.first.png")
    ctx.store.put(staging / f"{stem}.first.png", files.first_frame)
    if start is not None:
        save_png(start, staging / f"{stem}.start.png")
        ctx.store.put(staging / f"{stem}.start.png", files.start_frame)
    return StoredMedia(
        files.video, ctx.store.put(staging / f"{stem}.mp4", files.video),
        files.last_frame, ctx.store.put(staging / f"{stem}.last.png", files.last_frame),
        files.sheet, ctx.store.put(staging / f"{stem}.sheet.png", files.sheet),
    )


def _stepping(progress: Progress | None) -> Progress:
    """A per-step callback that stops the render within a step when a stop was asked for."""

    def step(i: int, n: int) -> None:
        stop.check()
        if progress is not None:
            progress(i, n)

    return step


def render_attempt(ctx: RenderContext, key: str, seed: int, inputs: ShotInputs, progress: Progress | None = None,
                   prompt: str | None = None, action: str | None = None) -> Outcome:
    """Render, colour-match, score and store one take of shot ``key``.

    Raises:
        Interrupted: A stop was asked for; the take is recorded as interrupted first.
    """
    stop.check()
    planned = ctx.graph.shot(key)
    prompt = prompt or planned.prompt.prompt
    start, anchor = inputs.start, inputs.anchor
    with transaction(ctx.engine) as session:
        shot = get_project_shot(session, ctx.job.project, key)
        loras = lora_files(planned, ctx.base_dir, ctx.settings.home)
        params = {**planned.render_params(), "seed": seed, "prompt": prompt, "action": action or planned.prompt.action,
                  "start": start.source, "worker": worker_id(), "pass": ctx.job.pass_name or "final",
                  "loras": [{"file": Path(f.path).name, "sha256": f.sha256, "scale": f.scale} for f in loras],
                  "scheduler": list(planned.scheduler) if planned.scheduler else "the model's own"}
        take = add_take(session, shot, seed, ctx.board.settings.model, params, owner=ctx.job.lease_token)
        take_id, attempt = take.id, take.attempt
    loaded = None
    try:
        loaded = load_pipeline(ctx.model_dir, ctx.load_options())
        first_use = loaded.renders == 0
        request = RenderRequest(prompt, planned.prompt.negative_prompt, start.image, planned.width, planned.height,
                                planned.pipeline_frames, planned.steps, planned.guidance, seed, ctx.board.settings.attention_backend,
                                context=inputs.context, end_image=inputs.end, references=inputs.references,
                                start_image=not start.text_only, loras=loras, scheduler=planned.scheduler)
        with ctx.gpu_slot(loaded.options.device):
            result = render_take(loaded, request, planned.fps, _stepping(progress), interrupt=stop.check)
        if first_use:  # the first take of a process pays for loading the model
            result.timings.load = loaded.load_seconds
        frames = result.frames
        condition = None if start.source in NO_IMAGE_STARTS or not planned.conditioned_on else start.image
        if anchor is None and start.source in NO_IMAGE_STARTS:
            anchor = frames[0]  # the scene starts here: drift is judged against its first frame
        extra: list[MetricScore] = []
        match = ctx.board.settings.color_match
        target = (anchor if match == "scene" else condition) if match != "off" else None
        if target is not None:
            before = color_distance(frames, target)
            frames = match_color(frames, target)
            extra.append(judge("color_match", color_distance(frames, target), None, {"before": round(before, 3), "mode": match}))
        thresholds = resolve_thresholds(ctx.board.settings.thresholds, planned.thresholds)
        own = ctx.board.shot(planned.id)
        if planned.conditioned_on and "motion" not in own.thresholds and not same_movement(ctx.board.shot(planned.conditioned_on).prompt, own.prompt):
            thresholds["motion"] = None  # the prompts change the movement: motion at the join is recorded, not judged
        scores = score_take(load_embedder(ctx.scorer(), "cpu"), frames, prompt, anchors=inputs.anchors,
                            condition=condition, scene_anchor=anchor, previous=inputs.previous, thresholds=thresholds)
        if inputs.draft is not None:
            extra.append(_against_draft(ctx, frames, inputs.draft, thresholds["draft"]))
        scores = TakeScores(tuple(sorted(scores.scores + tuple(extra), key=lambda s: s.metric)))
        t0 = time.perf_counter()
        with transaction(ctx.engine) as session:
            take = session.get(Take, take_id)
            media = _store_media(ctx, take.shot, take, frames, planned.fps, condition)
            result.timings.encode = time.perf_counter() - t0
            finish_take(take, media, len(frames), planned.fps, result.timings.as_dict(), result.device, result.cache_skipped)
            take.params = {**take.params, "memory": loaded.memory}
            add_scores(session, take, [s.as_dict() for s in scores.scores], scores.passed, scores.weighted)
        return Outcome(attempt, seed, scores)
    except stop.Interrupted as exc:
        _fail(ctx, take_id, f"interrupted: {exc}")
        _remove_staged(ctx, key, attempt)
        raise
    except TransientGenerationError as exc:
        ran_out = loaded.memory if loaded is not None else None
        _fail(ctx, take_id, f"transient: {exc}", ran_out)
        ctx.degrade(ran_out)
        raise
    except (GenerationError, ScoringError, StitchError) as exc:
        _fail(ctx, take_id, str(exc))
        _remove_staged(ctx, key, attempt)
        return Outcome(attempt, seed, None, str(exc))


def _against_draft(ctx: RenderContext, frames: np.ndarray, draft: tuple[int, np.ndarray], threshold: float | None) -> MetricScore:
    """How close a final take stays to its approved draft (a final that drifts fails ``draft``)."""
    from consistency.metrics import draft_match

    embedder = load_embedder(ctx.scorer(), "cpu")
    attempt, draft_frames = draft
    value = draft_match(embedder.embed_images(frames), embedder.embed_images(draft_frames))
    return judge("draft", value, threshold, {"draft_project": ctx.job.draft_project, "draft_take": attempt})


def _staging(ctx: RenderContext) -> Path:
    return ctx.store.staging(ctx.job.project, ctx.job.lease_token or "shared")


def _remove_staged(ctx: RenderContext, key: str, attempt: int) -> None:
    for path in _staging(ctx).glob(f"{key}-{attempt}.*"):
        path.unlink(missing_ok=True)


def _fail(ctx: RenderContext, take_id: int, message: str, memory: str | None = None) -> None:
    with transaction(ctx.engine) as session:
        take = session.get(Take, take_id)
        fail_take(take, message)
        if memory is not None:  # the mode that ran out: the ladder's steps stay on record
            take.params = {**take.params, "memory": memory}


def directive_for(ctx: RenderContext, key: str) -> Directive | None:
    """The job's own forced render of ``key`` (``rerender`` run by itself, or a review re-roll)."""
    job = ctx.job
    if job.force and key in job.only:
        return Directive(shot=key, seed=job.seed, prompt=job.prompt)
    return None


def render_shot(ctx: RenderContext, key: str, progress: Progress | None = None, directive: Directive | None = None) -> ShotResult:
    """Render shot ``key`` until a take passes or ``max_takes`` is reached, then choose one.

    A ``directive`` forces one new take (its seed, else the next unused one; its prompt, else
    the composed one) that replaces the chosen take only if it passes. The render holds the
    shot's lease meanwhile, so a reviewer's decision on it waits for the take.
    """
    directive = directive or directive_for(ctx, key)
    forced = directive is not None
    with shot_lease(ctx, key):
        with transaction(ctx.engine) as session:
            shot = get_project_shot(session, ctx.job.project, key)
            if not forced and not needs_render(shot, ctx.board.settings.max_takes):
                return ShotResult(key, rendered=False, chosen=shot.chosen_take.attempt if shot.chosen_take else None)
            rejected = shot.status == "rejected"  # rendered anew: its takes do not count, new seeds
            done = [] if forced or rejected else [outcome(t) for t in shot.takes if t.status == "scored" and t.input_hash == shot.input_hash]
            previous = len(shot.takes)
        result = _render_takes(ctx, key, progress, directive, done, previous if rejected else None)
        result.after_rejection = rejected
        return result


def _render_takes(ctx: RenderContext, key: str, progress: Progress | None, directive: Directive | None,
                  done: list[Outcome], fresh_after: int | None) -> ShotResult:
    """Render takes of ``key``; seeds start after ``fresh_after`` takes when given (a rejected
    shot), and after all its takes for a directive without a seed."""
    forced = directive is not None
    planned = ctx.graph.shot(key)
    policy = RerollPolicy(ctx.board.settings.max_takes if not forced else 1)
    base = directive.seed if directive is not None and directive.seed is not None else planned.seed
    with transaction(ctx.engine) as session:
        previous = len(get_project_shot(session, ctx.job.project, key).takes)
    offset = previous if forced and directive.seed is None else (fresh_after or 0)  # a re-render draws new seeds
    prompt = recompose(ctx, key, directive.prompt) if directive is not None and directive.prompt else None

    inputs: list[ShotInputs] = []  # computed on the first attempt, reused by re-rolls

    def attempt_fn(attempt: int, _seed: int) -> Outcome:
        if not inputs:
            inputs.append(shot_inputs(ctx, key))
        return render_attempt(ctx, key, take_seed(base, attempt - 1 + offset), inputs[0], progress, prompt,
                              directive.prompt if directive is not None else None)

    outcomes, chosen = policy.run(base, attempt_fn, done)
    result = ShotResult(key, rendered=True, takes=[o.attempt for o in outcomes])
    with transaction(ctx.engine) as session:
        project = get_project(session, ctx.job.project)
        shot = get_shot(session, project, key)
        if chosen is None:
            errors = "; ".join(dict.fromkeys(o.error for o in outcomes if o.error))
            result.error = errors or "no take was rendered"
            if keep_chosen(shot):  # a forced re-render whose takes all failed: the chosen take stands
                result.chosen, result.reason = shot.chosen_take.attempt, "kept_previous"
            return result
        best, reason = chosen
        if forced and reason != "passed" and is_current(shot):
            reason = "kept_previous"  # a failing re-render does not replace the chosen take
            keep_chosen(shot)
        else:
            take = next(t for t in shot.takes if t.attempt == best.attempt)
            choose_take(shot, take, reason)
            set_status(shot, "scored")
        result.chosen, result.reason = (shot.chosen_take.attempt if shot.chosen_take else None), reason
        changes = propagate(session, project)
        result.stale_downstream = [k for k in ctx.graph.downstream(key) if changes.get(k, ("",))[0] == "stale"]
    if ctx.graph.shot(key).characters:
        freeze_anchors(ctx)  # the first accepted appearance of a character anchors it
    return result


@contextmanager
def shot_lease(ctx: RenderContext, key: str) -> Iterator[None]:
    """Hold the lease on shot ``key`` (with the render's token) while rendering it; waits while
    a reviewer's decision holds it."""
    token = ctx.job.lease_token
    if token is None:
        yield
        return
    holder = Holder(token, worker_id(), host_name(), os.getpid(), process_start(os.getpid()))
    scope = shot_scope(key)
    while True:
        with transaction(ctx.engine) as session:
            if acquire(session, get_project(session, ctx.job.project), scope, holder, ctx.settings.lease_seconds, "render") is not None:
                break
        stop.check()
        time.sleep(0.5)
    try:
        yield
    finally:
        with transaction(ctx.engine) as session:
            release(session, token, scope)


def estimated_seconds(ctx: RenderContext, keys: list[str]) -> dict[str, float]:
    """Estimated render seconds per shot, from the project's measured seconds per frame·step."""
    with transaction(ctx.engine) as session:
        takes = [t for s in live_shots(session, get_project(session, ctx.job.project)) for t in s.takes if t.status == "scored"]
        work = sum((t.frame_count or 0) * int(t.params.get("steps", 1)) for t in takes)
        spent = sum(float(t.timings.get("denoise", 0)) + float(t.timings.get("decode", 0)) for t in takes)
    rate = spent / work if work else 0.0
    return {k: round(rate * ctx.graph.shot(k).frames * ctx.graph.shot(k).steps, 2) for k in keys}
