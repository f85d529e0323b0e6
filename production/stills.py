"""Pre-production: keyframes and character sheets, made, scored, re-rolled and approved
before any video is rendered.

Every cut shot without a reference image gets a *start keyframe*; a shot with
``end_frame: auto``, or — on a family that can land a shot on a frame — whose next shot is a
cut in the same scene, gets an *end keyframe* too. Every character look without a
``reference`` gets a *sheet*: one still per view of ``settings.sheet_views`` (the first view
is the portrait identity anchors on). Each still slot is taken like a shot: up to
``max_takes`` takes until one passes its checks (``prompt``; a keyframe also ``identity``
against the sheets of its characters), each take a row (`storage.schema.Still`) with its PNG in
the artifact store. A still's input hash covers its prompt, drawing, model and size, so an
edited prompt or character description makes exactly its stills stale.

A person approves a take of a slot (`decide_still`): an approved start keyframe is where its
shot starts, an approved end keyframe where it lands, and an approved sheet the character's
identity anchor from the first shot on (and its reference image for VACE).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Engine, select

from consistency.embedder import Embedder, load_embedder
from consistency.identity import CharacterAnchor, judge_identity
from consistency.metrics import clip_score
from consistency.policy import MetricScore, judge, resolve_thresholds, weighted_score
from production.anchors import png_bytes
from production.config import AppSettings
from production.context import RenderContext, RenderJob, planned_graph, with_revision
from production.leases import hold
from production.store import transaction
from production.still_slots import SlotState, StillSpec, keyframe_model, plan_stills, slot_state, slot_states, still_image
from shots.errors import ConfigError, GenerationError, ModelLoadError, NotFound
from shots.graph import take_seed
from shots.models import Storyboard
from storage.artifacts import ArtifactStore
from storage.repo import get_project
from storage.schema import Project, Still
from storage.stills import StillKey, add_still, decide, slot_stills, unapprove

@dataclass
class StillsReport:
    """What `make_stills` did, slot by slot (labels as `StillSpec.label`)."""

    made: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    states: list[SlotState] = field(default_factory=list)


def _sheet_refs(ctx: RenderContext, states: dict[StillKey, SlotState], embedder: Embedder,
                keys: tuple[str, ...]) -> list[CharacterAnchor]:
    """The portrait views (the first view) of the sheets of ``keys`` that have a take: what a
    keyframe's identity is judged against."""
    refs = []
    for key in keys:
        state = states.get(("sheet", key, ctx.board.settings.sheet_views[0]))
        if state is None or state.chosen is None:
            continue
        image = still_image(ctx.store, state.chosen)
        refs.append(CharacterAnchor(key, state.chosen.sha256 or "", image, embedder.embed_images(image[None])[0]))
    return refs


def _draw(ctx: RenderContext, t2i: str, spec: StillSpec, seed: int, prompt: str) -> np.ndarray:
    from generation.speed import resolve_device
    from generation.stills import draw_keyframe, draw_sheet_view

    device = resolve_device(ctx.load_options().device)  # a pipeline is moved to a real device, not "auto"
    if spec.kind == "sheet":
        return draw_sheet_view(t2i, prompt, spec.action, spec.view, spec.width, seed, device)
    return draw_keyframe(t2i, prompt, spec.action, spec.width, spec.height, seed, device, end=spec.role == "end")


def _score(embedder: Embedder, image: np.ndarray, prompt: str, refs: list[CharacterAnchor],
           limits: dict[str, float | None]) -> tuple[list[MetricScore], bool, float]:
    clip = embedder.embed_images(image[None])
    scores = [judge("prompt", clip_score(clip, embedder.embed_texts([prompt])[0]), limits["prompt"])]
    if refs:
        scores.append(judge_identity(embedder, image[None], refs, limits["identity"]))
    return scores, all(s.passed is not False for s in scores), weighted_score(scores)


def _take(ctx: RenderContext, t2i: str, spec: StillSpec, seed: int, prompt: str, refs: list[CharacterAnchor],
          embedder: Embedder, limits: dict[str, float | None]) -> Still:
    """Draw, score and store one take of ``spec``'s slot."""
    model = keyframe_model(ctx.board) or ""
    t0 = time.perf_counter()
    try:
        image = _draw(ctx, t2i, spec, seed, prompt)
        error = None
    except GenerationError as exc:
        image, error = None, str(exc)
    seconds = time.perf_counter() - t0
    with transaction(ctx.engine) as session:
        project = get_project(session, ctx.stills_project)
        common = dict(seed=seed, prompt=prompt, model=model, input_hash=spec.input_hash(model), width=spec.width,
                      height=spec.height, seconds=round(seconds, 4))
        if image is None:
            return add_still(session, project, spec.key, status="failed", error=error, scores={}, **common)
        judged = spec.action if spec.kind == "sheet" else prompt  # a sheet is judged on being the character
        scores, passed, weighted = _score(embedder, image, judged, refs, limits)
        still = add_still(session, project, spec.key, status="scored", scores={s.metric: s.as_dict() for s in scores},
                          passed=passed, weighted_score=weighted, **common)
        data = png_bytes(image)
        still.sha256 = hashlib.sha256(data).hexdigest()
        relative = ctx.store.still_file(ctx.stills_project, spec.kind, spec.subject, spec.role, still.attempt)
        staged = ctx.store.staging(ctx.stills_project, ctx.job.lease_token or "shared") / f"still-{still.id}.png"
        staged.write_bytes(data)
        ctx.store.put(staged, relative)
        still.image_path = relative
        return still


def make_stills(ctx: RenderContext, only: frozenset[str] = frozenset(), reroll: StillKey | None = None,
                seed: int | None = None, prompt: str | None = None) -> StillsReport:
    """Make every planned still slot that has no passing or approved current take: takes
    until one passes, at most ``max_takes`` per slot (sheets first, so keyframes are judged
    against them). ``only`` limits it to those subjects (shot ids, identity keys); ``reroll``
    forces one new take of a slot, with ``seed`` (else the next unused one) and ``prompt``
    (else the planned one).

    Raises:
        ConfigError: No keyframe model (``settings.t2i_model``), or ``reroll`` names no slot.
        ModelLoadError: The keyframe model is not a text-to-image pipeline.
    """
    t2i = keyframe_model(ctx.board)
    if t2i is None:
        raise ConfigError("no keyframe model: set settings.t2i_model to a diffusers text-to-image folder "
                          "(Flux, SD3, SDXL, Qwen-Image, PixArt)")
    report = StillsReport()
    embedder = load_embedder(ctx.scorer(), "cpu")
    limits = resolve_thresholds(ctx.board.settings.thresholds)
    specs = plan_stills(ctx.board, ctx.graph)
    if reroll is not None and reroll not in {s.key for s in specs}:
        raise NotFound(f"no still {' '.join(reroll)} in this storyboard; its stills: "
                       + ", ".join(s.label for s in specs[:20]))
    for spec in specs:
        if (only and spec.subject not in only) or (reroll is not None and spec.key != reroll):
            continue
        with hold(ctx.engine, ctx.stills_project, scope=_scope(spec.key), purpose="stills",
                  wait=True, seconds=ctx.settings.lease_seconds):
            _make_slot(ctx, t2i, spec, report, embedder, limits, forced=reroll is not None, seed=seed, prompt=prompt)
    with transaction(ctx.engine) as session:
        report.states = slot_states(session, get_project(session, ctx.stills_project), ctx.board, ctx.graph)
    return report


def _make_slot(ctx: RenderContext, t2i: str, spec: StillSpec, report: StillsReport, embedder: Embedder,
               limits: dict[str, float | None], forced: bool, seed: int | None, prompt: str | None) -> None:
    model = keyframe_model(ctx.board) or ""
    with transaction(ctx.engine) as session:
        project = get_project(session, ctx.stills_project)
        rows = slot_stills(session, project, spec.key)
        state = slot_state(spec, model, rows)
        states = {s.spec.key: s for s in slot_states(session, project, ctx.board, ctx.graph, "sheet")}
        refs = _sheet_refs(ctx, states, embedder, spec.characters) if spec.kind == "keyframe" else []
        done, used = len(state.takes), len(rows)
    if not forced and state.status in ("approved", "passed"):
        report.kept.append(spec.label)
        return
    budget = 1 if forced else max(0, ctx.board.settings.max_takes - done)
    still = None
    for n in range(budget):
        take_seed_ = seed if (forced and seed is not None) else take_seed(spec.seed, used + n)
        still = _take(ctx, t2i, spec, take_seed_, prompt or spec.prompt, refs, embedder, limits)
        if still.error:
            report.errors[spec.label] = still.error
        if still.passed:
            break
    if still is None:
        report.kept.append(spec.label)
    elif still.passed:
        report.made.append(spec.label)
    else:
        report.failed.append(spec.label)


def decide_still(engine: Engine, store: ArtifactStore, project: str, key: StillKey, attempt: int | None, decision: str,
                 reviewer: str, notes: str = "", current: str | None = None) -> Still:
    """A person's ``approve`` or ``reject`` of take ``attempt`` of slot ``key`` (default: the
    best take of the newest prompt, ``current`` when given: the slot's input hash now). One
    take per slot is approved: approving another takes the approval from the old one; an
    approve of the approved take changes nothing.

    Raises:
        NotFound: The project has no such slot or take.
        ConfigError: A take that failed (no image), or an unknown decision.
    """
    if decision not in ("approve", "reject"):
        raise ConfigError(f"decision {decision!r} is not allowed; use approve or reject")
    with transaction(engine) as session:
        record = get_project(session, project)
        rows = slot_stills(session, record, key)
        if not rows:
            raise NotFound(f"project {project!r} has no {key[2]} {key[0]} of {key[1]}: run `storyreel keyframes` first")
        if attempt is None:
            newest = current or rows[-1].input_hash
            pool = [r for r in rows if r.input_hash == newest and r.image_path]
            if not pool:
                raise ConfigError(f"no take of {key[1]} {key[2]} of the storyboard as it is now has an image "
                                  "(its prompt changed, or every take failed): run `storyreel keyframes` again")
            pool = [r for r in pool if r.status != "rejected"] or pool
            target = max(pool, key=lambda r: (r.status == "approved", bool(r.passed), r.weighted_score or 0.0))
        else:
            target = next((r for r in rows if r.attempt == attempt), None)
            if target is None:
                raise NotFound(f"{key[1]} {key[2]} has takes {', '.join(str(r.attempt) for r in rows)}, not {attempt}")
        if target.image_path is None:
            raise ConfigError(f"take {target.attempt} of {key[1]} {key[2]} failed ({target.error}); it cannot be {decision}d")
        if decision == "approve" and target.status == "approved":
            return target
        if decision == "approve" and (state := store.verify(target.image_path, target.sha256)) != "ok":
            raise ConfigError(f"the image of {_label(key)} take {target.attempt} is {state} in the artifact store "
                              f"({store.local(target.image_path)}): run `storyreel keyframes` again")
        if decision == "approve":
            unapprove(r for r in rows if r is not target)
        decide(target, decision, reviewer or "someone", notes)
        return target


def check_stills_model(board: Storyboard) -> None:
    """Refuse a keyframe model that is no text-to-image pipeline before any still is made.

    Raises:
        ModelLoadError: The folder's ``model_index.json`` names no text-to-image pipeline.
    """
    import json
    from pathlib import Path

    t2i = keyframe_model(board)
    if t2i is None or t2i == "world":
        return
    index = Path(t2i).expanduser() / "model_index.json"
    try:
        name = json.loads(index.read_text()).get("_class_name", "")
    except (OSError, ValueError, AttributeError):
        raise ModelLoadError(f"t2i_model {t2i!r} is not a diffusers pipeline directory (no readable model_index.json)") from None
    from shots.families import PIPELINE_CLASSES

    if name in PIPELINE_CLASSES or "Video" in name or not name.endswith("Pipeline") or "Img2Img" in name or "Inpaint" in name:
        raise ModelLoadError(f"t2i_model {t2i!r} is a {name or 'unknown'} pipeline, not a text-to-image one "
                             "(Flux, SD3, SDXL, Qwen-Image, PixArt)")


def project_job(settings: AppSettings, name: str, **fields: object) -> RenderJob:
    """A job over project ``name``'s storyboard file (for commands and pages given a project).

    Raises:
        NotFound: No such project.
    """
    with transaction(settings.database()) as session:
        storyboard = get_project(session, name).storyboard_path
    return with_revision(RenderJob(storyboard=storyboard, project=name, home=str(settings.home),
                                   database_url=settings.database_url, **fields))  # type: ignore[arg-type]


def still_info(still: Still) -> dict[str, object]:
    """A still take as plain data (status, its JSON, the review page)."""
    return {"attempt": still.attempt, "seed": still.seed, "status": still.status, "passed": still.passed,
            "scores": {k: v.get("value") for k, v in (still.scores or {}).items()}, "image": still.image_path,
            "sha256": still.sha256, "prompt": still.prompt, "error": still.error, "seconds": still.seconds,
            "reviewer": still.reviewer, "notes": still.notes}


def still_rows(ctx: RenderContext) -> list[dict[str, object]]:
    """Every planned slot with its state and takes, in plan order (sheets, then keyframes)."""
    with transaction(ctx.engine) as session:
        record = session.scalar(select(Project).where(Project.name == ctx.stills_project))
        return [{"kind": s.spec.kind, "subject": s.spec.subject, "role": s.spec.role, "scene": s.spec.scene, "label": s.spec.label,
                 "status": s.status, "chosen": s.chosen.attempt if s.chosen is not None else None,
                 "takes": [still_info(t) for t in s.takes], "stale_takes": len(s.stale)}
                for s in slot_states(session, record, ctx.board, ctx.graph)]


def decide_slot(ctx: RenderContext, key: StillKey, attempt: int | None, decision: str, reviewer: str,
                notes: str = "") -> list[Still]:
    """Approve or reject a keyframe (``key``), or every view of a sheet (``("sheet",
    character, "")``: take ``attempt`` of each view, else each view's best).

    Raises:
        NotFound: The storyboard plans no such still.
    """
    specs = [s for s in plan_stills(ctx.board, ctx.graph) if s.kind == key[0] and s.subject == key[1] and key[2] in ("", s.role)]
    if not specs:
        planned = sorted({s.subject for s in plan_stills(ctx.board, ctx.graph) if s.kind == key[0]})
        what = "keyframe" if key[0] == "keyframe" else "sheet (a character without a reference)"
        raise NotFound(f"{key[1]!r} has no {key[2] + ' ' if key[2] else ''}{what} in this storyboard; "
                       f"those it has: {', '.join(planned[:30]) or 'none'}")
    model = keyframe_model(ctx.board) or ""
    decided = []
    for spec in specs:  # the slot's lease: a decision waits for a re-roll of the same still, and the other way round
        with hold(ctx.engine, ctx.stills_project, scope=_scope(spec.key), purpose="review", wait=True, seconds=ctx.settings.lease_seconds):
            decided.append(decide_still(ctx.engine, ctx.store, ctx.stills_project, spec.key, attempt, decision, reviewer, notes,
                                        current=spec.input_hash(model)))
    return decided


def _scope(key: StillKey) -> str:
    return "still:" + ":".join(key)


def _label(key: StillKey) -> str:
    return f"{key[1]} {key[2]} keyframe" if key[0] == "keyframe" else f"{key[1]}'s sheet ({key[2]})"


def check_approved_files(settings: AppSettings, project: str, board: Storyboard) -> None:
    """Refuse a render whose approved stills lost their files, before anything is stored.

    Raises:
        ConfigError: An approved keyframe or sheet view whose image is missing or changed
            (names the shot or character).
    """
    try:
        engine = settings.database()
    except NotFound:
        return  # no database yet: nothing approved
    graph = planned_graph(settings, board)
    store = settings.artifacts()
    with transaction(engine) as session:
        record = session.scalar(select(Project).where(Project.name == project))
        for state in slot_states(session, record, board, graph) if record is not None else ():
            still = state.chosen
            if state.status == "approved" and still is not None and (why := store.verify(still.image_path, still.sha256)) != "ok":
                raise ConfigError(f"the approved {_label(state.spec.key)} (take {still.attempt}) is {why} in the artifact store "
                                  f"({store.local(still.image_path or '')}): approve another take, or run `storyreel keyframes` again")


def keyframes_waiting(ctx: RenderContext) -> list[str] | None:
    """The cut shots whose start keyframe is not approved, once pre-production has begun (the
    project has stills); None before (a render then draws keyframes on the fly, as ever)."""
    with transaction(ctx.engine) as session:
        record = session.scalar(select(Project).where(Project.name == ctx.stills_project))
        if record is None or session.scalar(select(Still.id).where(Still.project_id == record.id).limit(1)) is None:
            return None
        return [s.spec.subject for s in slot_states(session, record, ctx.board, ctx.graph, "keyframe")
                if s.spec.role == "start" and s.status != "approved"]


def approve_passing(ctx: RenderContext, reviewer: str, notes: str = "") -> list[str]:
    """Approve the best take of every still slot that passed and has no decision yet (a
    reviewer's "approve what passed"). Returns the labels approved."""
    with transaction(ctx.engine) as session:
        record = get_project(session, ctx.stills_project)
        due = [s.spec.key for s in slot_states(session, record, ctx.board, ctx.graph) if s.status == "passed"]
    labels = []
    for key in due:
        decide_slot(ctx, key, None, "approve", reviewer, notes)
        labels.append(" ".join(key))
    return labels
