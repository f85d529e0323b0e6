"""Character anchors in a render: kept in step with the storyboard, frozen, used, re-judged.

Each character has one identity anchor per look (`consistency.identity`; keyed ``will`` for the
base look and ``will@sc12`` for a later one, `shots.looks.identity_key`): its ``reference`` image, else
— frozen when first available — a frame of the chosen take of its first appearance (approved;
in an unreviewed run, the first chosen take that passed its checks); a person may replace it
(`storyreel anchor`). Identity scores record the anchor they were judged against: a replaced
anchor re-scores those takes on the next render, without rendering, and the re-roll policy
takes it from there.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
import io
import re
import threading
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from consistency.embedder import Embedder, load_embedder
from consistency.identity import Box, CharacterAnchor, anchor_from_frame, judge_identity, portrait
from consistency.policy import MetricScore, resolve_thresholds, weighted_score
from production.choice import rechoose, take_frames
from production.context import RenderContext
from production.config import AppSettings
from production.still_slots import slot_states, still_image
from production.store import transaction
from generation.frames import load_image
from shots.checks import resolve_asset
from shots.graph import PlannedShot
from shots.looks import identities, look_by_key
from storage.anchors import current_anchors, set_anchor
from storage.artifacts import ArtifactStore
from storage.leases import Holder
from storage.repo import get_project, is_current, live_shots
from storage.schema import Anchor, Project, Score, Shot, Take

MIDDLE = -1
"""``frame`` of an automatic anchor: the take's middle frame."""


_EMBEDDINGS: dict[tuple[str, str], np.ndarray] = {}
_GUARD = threading.Lock()


def embedder_for(ctx: RenderContext) -> Embedder:
    """The storyboard's scorer, loaded once per process."""
    return load_embedder(ctx.scorer(), "cpu")


def _portrait(store: ArtifactStore, anchor: Anchor) -> np.ndarray:
    from PIL import Image

    path = store.checked_path(anchor.image_path, anchor.sha256, f"the anchor of {anchor.character}")
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def load_ref(ctx: RenderContext, anchor: Anchor) -> CharacterAnchor:
    """An anchor's portrait and its embedding under the scorer (cached by checksum)."""
    image = _portrait(ctx.store, anchor)
    key = (ctx.scorer(), anchor.sha256)
    with _GUARD:
        if key not in _EMBEDDINGS:
            _EMBEDDINGS[key] = embedder_for(ctx).embed_images(image[None])[0]
        return CharacterAnchor(anchor.character, anchor.sha256, image, _EMBEDDINGS[key])


def anchor_snapshot(ctx: RenderContext) -> tuple[tuple[str, str], ...]:
    """(character, sha256) of every current anchor: what a run starting now judges against."""
    with transaction(ctx.engine) as session:
        anchors = current_anchors(session, get_project(session, ctx.job.project))
        return tuple(sorted((cid, a.sha256) for cid, a in anchors.items()))


def run_anchors(ctx: RenderContext, session: Session) -> dict[str, Anchor]:
    """The anchors this run judges against (`RenderJob.anchors`), by character."""
    wanted = dict(ctx.job.anchors)
    if not wanted:
        return {}
    rows = session.scalars(select(Anchor).where(Anchor.project_id == get_project(session, ctx.job.project).id,
                                                Anchor.sha256.in_(list(wanted.values()))))
    return {row.character: row for row in rows if wanted.get(row.character) == row.sha256}


def shot_anchors(ctx: RenderContext, session: Session, planned: PlannedShot) -> tuple[CharacterAnchor, ...]:
    """The run's anchors of the characters present in a shot (those that have one)."""
    anchors = run_anchors(ctx, session)
    keys = identities(planned.characters, planned.looks).values()
    return tuple(load_ref(ctx, anchors[key]) for key in keys if key in anchors)


def reference_images(ctx: RenderContext, session: Session, planned: PlannedShot) -> tuple[np.ndarray, ...]:
    """Images of the present characters for a model that takes them (VACE): each one's
    reference image, else its anchor's portrait."""
    anchors = run_anchors(ctx, session)
    images = []
    for key in identities(planned.characters, planned.looks).values():
        look = look_by_key(ctx.board, key)
        if look.reference:
            images.append(load_image(resolve_asset(ctx.base_dir, look.reference), planned.width, planned.height))
        elif key in anchors:
            images.append(load_ref(ctx, anchors[key]).image)
    return tuple(images)


def png_bytes(image: np.ndarray) -> bytes:
    """An image as PNG bytes (what portraits and stills are stored and hashed as)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def store_portrait(store: ArtifactStore, project: str, character: str, token: str, image: np.ndarray) -> tuple[str, str]:
    """Save a portrait into ``<project>/anchors/`` under its checksum; (relative path, SHA-256)."""
    data = png_bytes(image)
    digest = hashlib.sha256(data).hexdigest()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", character.replace("@", "."))  # "will@sc12": will.sc12-<sha12>.png
    relative = store.anchor_file(project, name, digest)
    staged = store.staging(project, token) / f"anchor-{name}.png"
    staged.write_bytes(data)
    store.put(staged, relative)
    return relative, digest


def sync_references(ctx: RenderContext, session: Session, project: Project) -> list[str]:
    """Characters with a ``reference`` get (or keep) its portrait as their anchor; a changed
    reference file (or path) replaces it. Returns the characters whose anchor changed."""
    anchors = current_anchors(session, project)
    changed = []
    for key in _identities(ctx):
        reference = look_by_key(ctx.board, key).reference
        if not reference:
            continue
        planned = next((p for p in ctx.graph.shots if key in identities(p.characters, p.looks).values()), ctx.graph.shots[0])
        image = portrait(load_image(resolve_asset(ctx.base_dir, reference), planned.width, planned.height))
        current = anchors.get(key)
        if current is not None and current.source == "reference" and current.sha256 == hashlib.sha256(png_bytes(image)).hexdigest():
            continue
        relative, digest = store_portrait(ctx.store, ctx.job.project, key, ctx.job.lease_token or "shared", image)
        set_anchor(session, project, key, source="reference", reference=reference, image_path=relative,
                   sha256=digest, set_by="storyboard")
        changed.append(key)
    return changed


def sync_sheets(ctx: RenderContext, session: Session, project: Project) -> list[str]:
    """Characters whose sheet is approved get its portrait view as their identity anchor (an
    anchor a person set after that approval stays). Returns the identity keys changed."""
    anchors = current_anchors(session, project)
    changed = []
    stills = project if ctx.stills_project == project.name else session.scalar(select(Project).where(Project.name == ctx.stills_project))
    for state in slot_states(session, stills, ctx.board, ctx.graph, "sheet"):
        if state.spec.view != 0 or state.status != "approved" or state.chosen is None:
            continue
        key, still = state.spec.subject, state.chosen
        image = portrait(still_image(ctx.store, still))
        sha = hashlib.sha256(png_bytes(image)).hexdigest()
        current = anchors.get(key)
        if current is not None and current.source == "sheet" and current.sha256 == sha:
            continue
        if current is not None and current.set_by.startswith("person") and still.decided_at is not None \
                and _aware(current.created_at) > _aware(still.decided_at):
            continue
        relative, digest_ = store_portrait(ctx.store, ctx.job.project, key, ctx.job.lease_token or "shared", image)
        set_anchor(session, project, key, source="sheet", reference=still.image_path, image_path=relative, sha256=digest_,
                   set_by=f"sheet:{still.reviewer}" if still.reviewer else "sheet")
        changed.append(key)
    return changed


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _identities(ctx: RenderContext) -> list[str]:
    """Every identity the storyboard's shots show (a character in each of its looks), in story order."""
    return list(dict.fromkeys(key for p in ctx.graph.shots for key in identities(p.characters, p.looks).values()))


def anchor_from_take(ctx_store: ArtifactStore, embedder: Embedder, session: Session, project: Project, character: str,
                     description: str, take: Take, frame: int = MIDDLE, box: Box | None = None, set_by: str = "auto",
                     token: str = "shared") -> Anchor:
    """Make frame ``frame`` of ``take`` (its middle by default) the character's anchor: the region
    ``box``, or the region that best matches ``description`` under the scorer."""
    frames = take_frames(ctx_store, take)
    index = len(frames) // 2 if frame == MIDDLE else frame
    if not 0 <= index < len(frames):
        raise IndexError(f"take {take.attempt} of {take.shot.key} has frames 0 to {len(frames) - 1}, not {index}")
    made = anchor_from_frame(embedder, frames[index], description, box)
    relative, digest = store_portrait(ctx_store, project.name, character, token, made.image)
    return set_anchor(session, project, character, source="take", take_id=take.id, frame=index,
                      box=list(made.box) if made.box else None, image_path=relative, sha256=digest, set_by=set_by)


def _accepted(shot: Shot, approval: bool) -> bool:
    if not is_current(shot):
        return False
    return shot.status == "approved" or (not approval and bool(shot.chosen_take.passed))


PROVISIONAL = "provisional"
"""``set_by`` of an anchor taken from the best (failing) take of a first appearance."""


def freeze_anchors(ctx: RenderContext) -> list[str]:
    """Characters without an anchor get one from their first appearance whose chosen take is
    accepted, once every earlier appearance is settled. When every appearance is settled and
    none is accepted, the best take of the first appearance gives a *provisional* anchor (so
    identity is always scored), which a later accepted appearance replaces. Returns the
    characters (identity keys) frozen now."""
    approval = ctx.job.review != "off"
    frozen = []
    with transaction(ctx.engine) as session:
        project = get_project(session, ctx.job.project)
        anchors = current_anchors(session, project)
        shots = {s.key: s for s in live_shots(session, project)}
        for key in _identities(ctx):
            look = look_by_key(ctx.board, key)
            provisional = key in anchors and anchors[key].set_by == PROVISIONAL
            if key in anchors and not provisional or look.reference:
                continue
            first = None
            for planned in (p for p in ctx.graph.shots if key in identities(p.characters, p.looks).values()):
                shot = shots.get(planned.id)
                if shot is None:
                    break
                first = first or shot
                if _accepted(shot, approval):
                    anchor_from_take(ctx.store, embedder_for(ctx), session, project, key, look.description, shot.chosen_take,
                                     token=ctx.job.lease_token or "shared")
                    frozen.append(key)
                    break
                if shot.status in ("pending", "rendering", "stale") or (shot.status == "scored" and approval):
                    break  # an earlier appearance is not settled yet: its take may be the one
            else:  # every appearance settled, none accepted
                if not provisional and first is not None and first.chosen_take is not None and first.chosen_take.media_path:
                    anchor_from_take(ctx.store, embedder_for(ctx), session, project, key, look.description, first.chosen_take,
                                     set_by=PROVISIONAL, token=ctx.job.lease_token or "shared")
                    frozen.append(key)
    return frozen


def rescore_identity(ctx: RenderContext) -> list[str]:
    """Re-judge identity of every take judged against another anchor than its characters' now
    (or before they had one); choose each shot's take again. Returns the shots re-scored."""
    embedder = None
    touched = []
    with transaction(ctx.engine) as session:
        project = get_project(session, ctx.job.project)
        anchors = current_anchors(session, project)
        for shot in live_shots(session, project):
            planned = ctx.graph.shot(shot.key) if shot.key in {p.id for p in ctx.graph.shots} else None
            if planned is None:
                continue
            keys = identities(planned.characters, planned.looks).values()
            present = {key: anchors[key] for key in keys if key in anchors}
            now = {cid: a.sha256 for cid, a in present.items()}
            takes = [t for t in shot.takes if t.status == "scored" and t.input_hash == shot.input_hash]
            stale = [t for t in takes if _judged_against(t) != now]
            if not stale or not now:
                continue
            embedder = embedder or embedder_for(ctx)
            refs = [load_ref(ctx, a) for a in present.values()]
            limits = resolve_thresholds(ctx.board.settings.thresholds, planned.thresholds)
            for take in stale:
                _rescore(ctx, session, take, refs, limits, embedder)
            rechoose(session, shot)
            touched.append(shot.key)
    return touched


def _judged_against(take: Take) -> dict[str, str]:
    score = next((s for s in take.scores if s.metric == "identity"), None)
    return dict((score.details or {}).get("anchors", {})) if score is not None else {}


def _rescore(ctx: RenderContext, session: Session, take: Take, refs: list[CharacterAnchor], limits: dict[str, Any], embedder: Embedder) -> None:
    new = judge_identity(embedder, take_frames(ctx.store, take), refs, limits["identity"])
    row = next((s for s in take.scores if s.metric == "identity"), None)
    if row is None:
        row = Score(take_id=take.id, metric="identity", value=0.0, details={})
        session.add(row)
        take.scores.append(row)
    row.value, row.threshold, row.passed, row.details = new.value, new.threshold, new.passed, new.details
    scores = [MetricScore(s.metric, s.value, s.threshold, s.passed, s.details or {}) for s in take.scores]
    take.passed = all(s.passed is not False for s in scores)
    take.weighted_score = weighted_score(scores)


def settle_identity(ctx: RenderContext) -> list[str]:
    """Bring anchors and identity scores up to date: references and approved sheets synced, anchors frozen where
    first available, takes judged against older anchors re-scored and re-chosen. Returns the
    shots re-scored."""
    with transaction(ctx.engine) as session:
        project = get_project(session, ctx.job.project)
        sync_references(ctx, session, project)
        sync_sheets(ctx, session, project)
    freeze_anchors(ctx)
    return rescore_identity(ctx)


def set_take_anchor(settings: AppSettings, project: str, character: str, shot: str, attempt: int, frame: int | None,
                    box: Box | None, by: str) -> Anchor:
    """A person's anchor for ``character``: frame ``frame`` (default: the middle) of take
    ``attempt`` of ``shot``, region ``box`` (default: found by the scorer).

    Raises:
        NotFound: An unknown project, shot or take, or a character the storyboard lacks.
        ConfigError: A frame or box outside the take's frames, or a take without media.
    """
    from shots.errors import ConfigError, NotFound
    from shots.models import Storyboard
    from storage.repo import get_shot, get_take, latest_version

    engine = settings.database()
    with transaction(engine) as session:
        record = get_project(session, project)
        version = latest_version(session, record.id)
        board = Storyboard.model_validate(version.parsed)
        try:
            look = look_by_key(board, character)
        except (KeyError, StopIteration):
            known = ", ".join(sorted(board.characters)) or "none"
            raise NotFound(f"project {project!r} has no character {character!r} (a look is CHARACTER@LOOK); its characters: {known}") from None
        target = get_take(session, get_shot(session, record, shot), attempt)
        if target.status != "scored":
            raise ConfigError(f"take {attempt} of {shot} is {target.status}; anchor on a scored take")
        frames = target.frame_count or 0
        index = frames // 2 if frame is None else frame
        if not 0 <= index < frames:
            raise ConfigError(f"--frame {index}: take {attempt} of {shot} has frames 0 to {frames - 1}")
        if box is not None:
            width, height = int(target.params.get("width", 0)), int(target.params.get("height", 0))
            x, y, w, h = box
            if x < 0 or y < 0 or x + w > width or y + h > height:
                raise ConfigError(f"--box {x},{y},{w},{h} is outside the take's {width}×{height} frames")
        scorer = settings.resolve_scorer(board.settings.scorer)
        store, token = settings.artifacts(), Holder.here().token
        try:
            return anchor_from_take(store, load_embedder(scorer, "cpu"), session, record, character, look.description,
                                    target, index, box, set_by=f"person:{by}" if by else "person", token=token)
        finally:
            store.drop_staging(project, token)
