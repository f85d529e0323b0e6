"""What conditions and judges a shot's takes: start frame or context frames, end frame,
character references and anchors, the scene's colour anchor, the previous take's frames.

Read once per shot (decoding the previous take once) and reused by every re-roll.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consistency.identity import CharacterAnchor
from production.anchors import reference_images, shot_anchors
from production.choice import take_frames
from production.context import RenderContext
from production.still_slots import approved_keyframes, end_prompt, keyframe_model, still_image
from production.store import transaction
from generation.frames import fit_image, load_image
from generation.keyframes import StartFrame, from_previous, from_reference, from_text
from generation.loading import load_pipeline
from shots.checks import resolve_asset
from shots.errors import GenerationError, StoryboardError
from shots.families import default_t2i
from shots.graph import PlannedShot
from storage.repo import get_project_shot, is_current
from storage.schema import Project, Shot, Take

NO_IMAGE_STARTS = ("t2v", "neutral")
"""Start frames that are not a picture of the scene: a take starting from one is its own anchor."""


def previous_frames(ctx: RenderContext, session: Session, planned: PlannedShot) -> np.ndarray:
    """The frames of the chosen take of the shot ``planned`` continues."""
    up = get_project_shot(session, ctx.job.project, planned.conditioned_on)
    if not is_current(up):
        why = f" ({up.stale_reason})" if up.stale_reason else ""
        raise GenerationError(f"shot {planned.id} continues {up.key}, which has no current chosen take{why}")
    return take_frames(ctx.store, up.chosen_take)


def start_frame(ctx: RenderContext, session: Session, planned: PlannedShot, previous: np.ndarray | None = None) -> StartFrame:
    """The first frame of a shot (see `generation.keyframes`)."""
    s = ctx.board.settings
    if planned.conditioned_on:
        frames = previous if previous is not None else previous_frames(ctx, session, planned)
        return from_previous(frames, planned.width, planned.height, s.keyframe, s.keyframe_window)
    if planned.reference:
        return from_reference(resolve_asset(ctx.base_dir, planned.reference), planned.width, planned.height)
    if (keyframe := approved_keyframe(ctx, session, planned, "start")) is not None:
        return StartFrame(keyframe, "keyframe")
    loaded = load_pipeline(ctx.model_dir, ctx.load_options())
    t2i = default_t2i(s.model, s.t2i_model)
    return from_text(planned.prompt.prompt, planned.width, planned.height, planned.seed, t2i,
                     loaded.backend.spec.text_to_video, loaded.options.device, planned.prompt.action)  # VACE: a call without video


def context_frames(planned: PlannedShot, previous: np.ndarray) -> np.ndarray | None:
    """The previous take's last K frames for a shot whose family is given them as video
    (None: it starts from the one hand-off frame).

    Raises:
        StoryboardError: The previous take is shorter than K (an old take, or a storyboard
            edited past what validate saw).
    """
    if not planned.repeated:
        return None
    k = planned.context
    if len(previous) < k:
        raise StoryboardError(f"shot {planned.id} continues {planned.conditioned_on} from its last {k} frames "
                              f"(settings.context_frames), but that take has only {len(previous)}: lower context_frames")
    return np.stack([fit_image(f, planned.width, planned.height) for f in previous[-k:]])


def approved_keyframe(ctx: RenderContext, session: Session, planned: PlannedShot, role: str) -> np.ndarray | None:
    """The shot's approved, current ``start`` or ``end`` keyframe at its size (None: none)."""
    record = session.scalar(select(Project).where(Project.name == ctx.stills_project))
    still = approved_keyframes(session, record, ctx.board, ctx.graph, planned.id).get(planned.id, {}).get(role)
    return None if still is None else fit_image(still_image(ctx.store, still), planned.width, planned.height)


def end_image(ctx: RenderContext, session: Session, planned: PlannedShot) -> np.ndarray | None:
    """The frame a shot must land on: its approved end keyframe (a family that can land), an
    image of the storyboard's folder, the next shot's start image (its reference, or its
    keyframe), or — ``auto`` without an approved one — its end keyframe drawn now."""
    if planned.end_frame in (None, "auto") and ctx.graph.spec.last_frame:
        if (keyframe := approved_keyframe(ctx, session, planned, "end")) is not None:
            return keyframe
    if not planned.end_frame:
        return None
    if planned.end_frame == "auto":
        return _drawn_end(ctx, planned)
    if planned.end_frame != "next":
        return load_image(resolve_asset(ctx.base_dir, planned.end_frame), planned.width, planned.height)
    following = ctx.graph.shots[planned.position + 1]
    start = start_frame(ctx, session, following)
    if start.source in NO_IMAGE_STARTS:
        raise StoryboardError(f"shot {planned.id}: end_frame 'next', but {following.id} starts from no image ({start.source})")
    return fit_image(start.image, planned.width, planned.height)


def _drawn_end(ctx: RenderContext, planned: PlannedShot) -> np.ndarray:
    """An ``end_frame: auto`` shot's end keyframe, drawn now (none was approved)."""
    from generation.speed import resolve_device
    from generation.stills import draw_keyframe

    t2i = keyframe_model(ctx.board)
    if t2i is None:
        raise StoryboardError(f"shot {planned.id}: end_frame 'auto' needs a keyframe model (settings.t2i_model)")
    return draw_keyframe(t2i, end_prompt(planned.prompt.prompt), planned.prompt.action, planned.width, planned.height,
                         planned.seed, resolve_device(ctx.load_options().device), end=True)


def scene_anchor(ctx: RenderContext, session: Session, planned: PlannedShot, start: StartFrame) -> np.ndarray | None:
    """First frame of the scene's first shot: this shot's own start image when it is that
    shot, or None when that start is no picture of the scene (a neutral frame, text only) —
    then each take anchors on its own first frame."""
    first = next(p for p in ctx.graph.shots if p.scene == planned.scene)
    if first.id == planned.id:
        return None if start.source in NO_IMAGE_STARTS else start.image
    shot = get_project_shot(session, ctx.job.project, first.id)
    return take_frames(ctx.store, shot.chosen_take)[0] if is_current(shot) else None


def draft_take(ctx: RenderContext, session: Session, planned: PlannedShot) -> tuple[int, np.ndarray] | None:
    """A final pass's shot: the chosen take of its draft (its number and frames)."""
    if not ctx.job.draft_project:
        return None
    shot = session.scalar(select(Shot).join(Project).where(Project.name == ctx.job.draft_project, Shot.key == planned.id,
                                                          Shot.archived.is_(False)))
    if shot is None or shot.chosen_take is None:
        return None
    return shot.chosen_take.attempt, take_frames(ctx.store, shot.chosen_take)


@dataclass(frozen=True)
class ShotInputs:
    """What conditions and judges every take of a shot: the same for each attempt.

    Attributes:
        context: The previous take's last K frames given as video (VACE, LTX with K > 1).
        previous: The previous take's frames (a ``continue`` shot): its hand-off frame, its
            context, and the motion at the join come from them.
        references: Character images given to the model (families that take them).
        anchors: What identity is judged against, per present character with an anchor.
    """

    start: StartFrame
    context: np.ndarray | None
    end: np.ndarray | None
    references: tuple[np.ndarray, ...]
    anchors: tuple[CharacterAnchor, ...]
    anchor: np.ndarray | None
    previous: np.ndarray | None
    draft: tuple[int, np.ndarray] | None = None  # a final pass: (take, frames) of the shot's approved draft


def shot_inputs(ctx: RenderContext, key: str) -> ShotInputs:
    """Everything `ShotInputs` holds for shot ``key`` (the previous take decoded once)."""
    planned = ctx.graph.shot(key)
    with transaction(ctx.engine) as session:
        previous = previous_frames(ctx, session, planned) if planned.conditioned_on else None
        start = start_frame(ctx, session, planned, previous)
        context = context_frames(planned, previous) if previous is not None else None
        references = reference_images(ctx, session, planned) if ctx.graph.spec.reference_images else ()
        return ShotInputs(start, context, end_image(ctx, session, planned), references, shot_anchors(ctx, session, planned),
                          scene_anchor(ctx, session, planned, start), previous, draft_take(ctx, session, planned))
