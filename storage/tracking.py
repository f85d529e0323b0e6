"""Submissions and stale shots.

A shot's *own inputs* are everything of its own that determines its pixels (composed prompt,
negative prompt, model, size, frames, fps, steps, guidance, seed, start-frame source and the
reference image's bytes, colour matching). Its *input hash* adds the input hash of the shot
that conditions it and that shot's current chosen take, so editing a shot, or re-rendering
it, makes every later shot of its chain stale — and nothing else.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shots.checks import resolve_asset
from shots.graph import ShotGraph
from shots.models import Storyboard
from storage.artifacts import sha256_file
from storage.repo import is_current, live_shots, set_status
from storage.schema import Project, Shot, StoryboardVersion

REASON_NAMES = {
    "prompt": "prompt",
    "negative_prompt": "negative prompt",
    "model": "model",
    "seed": "seed",
    "reference_sha256": "reference image",
    "conditioned_on": "conditioning shot",
    "loras": "LoRAs",
    "lora_sha256": "LoRA file",
    "scheduler": "scheduler",
    "keyframe_sha256": "approved keyframe",
}


@dataclass(frozen=True)
class ShotChange:
    """What a submission did to one shot: ``new``, ``stale``, ``unchanged`` or ``removed``."""

    id: str
    state: str
    reason: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """JSON-ready form."""
        return {"id": self.id, "state": self.state, "reason": self.reason}


def digest(value: Any) -> str:
    """SHA-256 of a JSON-serialisable value (sorted keys: stable across runs)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


LoraDigest = Callable[[str], str]
"""A LoRA path of the storyboard → the SHA-256 of the file it names."""


def own_inputs(graph: ShotGraph, shot_id: str, base_dir: Path, model_id: str, color_match: str, keyframe: tuple[str, int],
               lora_digest: LoraDigest | None = None) -> dict[str, Any]:
    """The inputs of one planned shot that determine its pixels, as plain JSON (a LoRA by its
    file's checksum too: a changed file makes its shots stale)."""
    planned = graph.shot(shot_id)
    reference_sha = None
    if planned.reference:
        reference_sha = sha256_file(resolve_asset(base_dir, planned.reference))
    params = planned.render_params()
    if planned.continuity == "continue":
        params["handoff"] = list(keyframe)
    if planned.loras and lora_digest is not None:
        params["lora_sha256"] = [lora_digest(path) for path, _ in planned.loras]
    return {
        "prompt": planned.prompt.prompt,
        "negative_prompt": planned.prompt.negative_prompt,
        "model": model_id,
        **params,
        "reference_sha256": reference_sha,
        "conditioned_on": planned.conditioned_on,
        "color_match": color_match,
    }


def _reason(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k != "own_hash")
    if not changed:
        return None
    names = [REASON_NAMES.get(k, k) for k in changed]
    return ", ".join(names) + (" changed" if len(names) > 1 else " changed")


def ensure_project(session: Session, name: str, source: Path) -> Project:
    """The project ``name`` (locked for this transaction), created on first use."""
    project = session.scalar(select(Project).where(Project.name == name).with_for_update())
    if project is None:
        project = Project(name=name, storyboard_path=str(source.resolve()))
        session.add(project)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # created by another process a moment ago
            project = session.scalar(select(Project).where(Project.name == name).with_for_update())
    project.storyboard_path = str(source.resolve())
    return project


def submit(
    session: Session,
    name: str,
    source: Path,
    board: Storyboard,
    graph: ShotGraph,
    model_id: str,
    lora_digest: LoraDigest | None = None,
    prompts: dict[str, Any] | None = None,
    keyframes: dict[str, dict[str, str]] | None = None,
) -> tuple[Project, list[ShotChange]]:
    """Record a storyboard submission and mark exactly the affected shots stale.

    Creates the project on first submission. Shots missing from the storyboard are archived
    (kept with their takes). Approved takes of untouched shots are kept. ``prompts`` (expanded
    prompts, `production.expansion.prompts_record`) are stored on the new version;
    ``keyframes`` (shot → role → SHA-256 of its approved keyframe) join the shots' inputs.
    """
    content = source.read_bytes()
    project = ensure_project(session, name, source)
    number = (session.scalar(select(func.max(StoryboardVersion.number)).where(StoryboardVersion.project_id == project.id)) or 0) + 1
    version = StoryboardVersion(
        project_id=project.id,
        number=number,
        content_hash=hashlib.sha256(content).hexdigest(),
        source_path=str(source.resolve()),
        parsed=board.model_dump(mode="json"),
        prompts=prompts,
    )
    session.add(version)
    session.flush()

    existing = {s.key: s for s in session.scalars(select(Shot).where(Shot.project_id == project.id))}
    changes: dict[str, ShotChange] = {}
    own_reasons: dict[str, str] = {}
    keyframe = (board.settings.keyframe, board.settings.keyframe_window)
    for planned in graph.shots:
        inputs = own_inputs(graph, planned.id, source.parent, model_id, board.settings.color_match, keyframe, lora_digest)
        if keyframes and planned.id in keyframes:
            inputs["keyframe_sha256"] = dict(sorted(keyframes[planned.id].items()))
        inputs["own_hash"] = digest(inputs)
        shot = existing.get(planned.id)
        if shot is None or shot.archived:
            if shot is None:
                shot = Shot(project_id=project.id, key=planned.id, status="pending", input_hash="", inputs={})
                session.add(shot)
            shot.archived = False
            changes[planned.id] = ShotChange(planned.id, "new")
        else:
            reason = _reason(shot.inputs, inputs)
            if reason:
                own_reasons[planned.id] = reason
        shot.position, shot.scene, shot.chain = planned.position, planned.scene, planned.chain
        shot.conditioned_on = planned.conditioned_on
        shot.prompt, shot.negative_prompt = planned.prompt.prompt, planned.prompt.negative_prompt
        shot.model, shot.params, shot.inputs = model_id, planned.render_params(), inputs
        shot.version_id = version.id
    for key, shot in existing.items():
        if key not in changes and not shot.archived and key not in {p.id for p in graph.shots}:
            shot.archived = True
            changes[key] = ShotChange(key, "removed")
    session.flush()
    for key, (state, reason) in propagate(session, project, own_reasons).items():
        if key not in changes:
            changes[key] = ShotChange(key, state, reason)
    order = {p.id: i for i, p in enumerate(graph.shots)}
    return project, sorted(changes.values(), key=lambda c: (order.get(c.id, 10**6), c.id))


def propagate(session: Session, project: Project, own_reasons: dict[str, str] | None = None) -> dict[str, tuple[str, str | None]]:
    """Recompute every live shot's input hash in story order; mark changed shots stale.

    Returns ``{shot: (state, reason)}`` with state ``stale`` or ``unchanged``.
    """
    own_reasons = own_reasons or {}
    shots = live_shots(session, project)
    by_key = {s.key: s for s in shots}
    changed: dict[str, str] = {}
    result: dict[str, tuple[str, str | None]] = {}
    for shot in shots:
        up = by_key.get(shot.conditioned_on) if shot.conditioned_on else None
        up_take = up.chosen_take.media_sha256 if up is not None and is_current(up) else None
        new_hash = digest([shot.inputs["own_hash"], up.input_hash if up else None, up_take])
        if new_hash == shot.input_hash:
            result[shot.key] = ("unchanged", None)
            continue
        if shot.key in own_reasons:
            reason = own_reasons[shot.key]
        elif up is not None and up.key in changed:
            reason = f"upstream {up.key} changed"
        elif up is not None and up_take is None:
            reason = f"upstream {up.key} has no chosen take"
        elif up is not None:
            reason = f"upstream {up.key} has a new take"
        else:
            reason = "inputs changed"
        first_time = shot.input_hash == ""
        shot.input_hash = new_hash
        changed[shot.key] = reason
        if first_time:
            continue
        result[shot.key] = ("stale", reason)
        if shot.takes and shot.status not in ("rendering",):
            set_status(shot, "stale", reason)
        else:
            shot.stale_reason = reason
    session.flush()
    return result
