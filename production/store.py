"""Opening the database and artifact store from settings (sessions open here, at the edge)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timezone
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from consistency.policy import LOWER_IS_BETTER
from production.config import DRAFT_SUFFIX, AppSettings
from production.lm_breakdown import load_screenplay
from shots.errors import ConfigError
from shots.graph import ShotGraph, plan_storyboard
from shots.models import Storyboard
from shots.looks import split_identity
from storage.artifacts import project_name_problem
from storage.repo import get_project, is_current, latest_version, live_shots, render_seconds
from storage.anchors import anchor_info, current_anchors
from storage.leases import holder_of, shot_scope
from storage.schema import Lease, Project, Review, Shot, Take
from storage.tracking import ShotChange, submit


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One session and one transaction: committed on success, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def project_name(file: Path, name: str | None) -> str:
    """The project name: given, or the storyboard's folder name (its stem for ``demo``-less
    files), checked before any work (`storage.artifacts.project_name_problem`).

    Raises:
        ConfigError: A name that is not one folder name (``../x``, a separator, a control
            character, a leading dot …).
    """
    if name is None:
        parent = file.resolve().parent.name
        name = parent if parent and parent != "projects" else file.stem
        if (why := project_name_problem(name)) is not None:
            raise ConfigError(f"the project would be named {name!r} after the storyboard's folder, but {why}; give --project NAME")
    if (why := project_name_problem(name)) is not None:
        raise ConfigError(f"--project {name!r}: {why}")
    if name.endswith(DRAFT_SUFFIX):
        raise ConfigError(f"project {name!r}: names ending in {DRAFT_SUFFIX!r} are the draft passes' (render --pass draft); give --project NAME")
    return name


def project_key(name: str) -> str:
    """A key for ``name`` that Prefect accepts in artifact keys and names (lowercase letters,
    digits, dashes), distinct for distinct names: ``my film`` → ``my-film-1f3870be``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "project"
    if slug == name:
        return slug
    return f"{slug[:40]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def submit_file(
    settings: AppSettings, file: Path, name: str | None, model: str | None = None
) -> tuple[str, Storyboard, ShotGraph, list[ShotChange]]:
    """Parse, plan and record a storyboard; returns the project name, board, graph and changes."""
    board, _ = load_screenplay(file, settings.device)
    if model:
        board = board.model_copy(update={"settings": board.settings.model_copy(update={"model": model})})
    graph = plan_storyboard(board)
    project = project_name(file, name)  # before anything is written
    from production.expansion import expand_for, prompts_record
    from production.loras import check_loras, digest_for
    from production.still_slots import keyframe_digests

    check_loras(board, file, settings.home)
    graph, _ = expand_for(board, graph, settings.device)
    engine = settings.database(create=True)
    with transaction(engine) as session:
        _, changes = submit(session, project, file, board, graph, board.settings.model, digest_for(file.parent, settings.home),
                            prompts_record(graph), keyframe_digests(session, project, board, graph))
    return project, board, graph, changes


def storyboard_shots(session: Session, project_id: int) -> dict[str, dict[str, Any]]:
    """Each shot as the newest storyboard version parsed it (its own prompt, characters, …)."""
    version = latest_version(session, project_id)
    if version is None:
        return {}
    return {shot.get("id"): shot for scene in version.parsed.get("scenes", []) for shot in scene.get("shots", [])}


def characters_by_shot(session: Session, project: Project) -> dict[str, list[str]]:
    """The characters of each shot, as the newest storyboard version says."""
    return {key: list(shot.get("characters") or []) for key, shot in storyboard_shots(session, project.id).items()}


def lease_info(lease: Lease | None) -> dict[str, Any] | None:
    """Who holds a lease, since when and for what (None when free)."""
    if lease is None:
        return None
    since = lease.acquired_at if lease.acquired_at.tzinfo else lease.acquired_at.replace(tzinfo=timezone.utc)
    return {"holder": lease.owner, "since": since.isoformat(), "purpose": lease.purpose, "scope": lease.scope}


def failing_scores(take: Take) -> list[str]:
    """The metrics a take failed, as ``metric value > threshold`` (the side it failed on)."""
    out = []
    for score in take.scores:
        if score.passed is False and score.threshold is not None:
            details = score.details or {}
            if score.metric == "temporal" and score.value >= score.threshold and "worst_drop_depth" in details:
                # the mean passed; one frame fell away from its neighbours by more than allowed
                out.append(f"temporal: frame {details.get('worst_drop_frame')} drops {details['worst_drop_depth']:.3g} "
                           f"> {details.get('max_drop', 0):g}")
                continue
            side = ">" if score.metric in LOWER_IS_BETTER else "<"
            out.append(f"{score.metric} {score.value:.3g} {side} {score.threshold:g}")
    return out


def verdict(shot: Shot) -> str | None:
    """What the shot's chosen take stands on: ``approved`` by a person, ``passed`` its checks,
    or ``best_of_failed`` (no take passed); ``rejected`` / ``failed`` shots; None before any."""
    if shot.status in ("rejected", "failed"):
        return shot.status
    take = shot.chosen_take
    if take is None:
        return None
    if shot.status == "approved" or take.chosen_reason == "approved":
        return "approved"
    return "passed" if take.passed else "best_of_failed"


def decision_info(session: Any, review: Review | None) -> dict[str, Any] | None:
    """A review as plain data: decision, reviewer, notes, when, and the take it concerned."""
    if review is None:
        return None
    take = session.get(Take, review.take_id) if review.take_id else None
    at = review.created_at if review.created_at.tzinfo else review.created_at.replace(tzinfo=timezone.utc)
    return {"decision": review.decision, "reviewer": review.reviewer, "notes": review.notes,
            "at": at.isoformat(timespec="seconds"), "take": take.attempt if take else None}


def last_decisions(session: Any, shot_ids: list[int]) -> dict[int, Review]:
    """The newest review of each shot."""
    rows = session.scalars(select(Review).where(Review.shot_id.in_(shot_ids)).order_by(Review.id)) if shot_ids else []
    return {r.shot_id: r for r in rows}


def project_status(settings: AppSettings, name: str) -> list[dict[str, Any]]:
    """Every live shot of a project with status, chosen take, scores, staleness and media state."""
    engine = settings.database()
    store = settings.artifacts()
    rows = []
    with transaction(engine) as session:
        project: Project = get_project(session, name)
        busy = lease_info(holder_of(session, project))
        anchors = {cid: anchor_info(a) for cid, a in current_anchors(session, project).items()}
        cast = characters_by_shot(session, project)
        shots = live_shots(session, project)
        decisions = last_decisions(session, [s.id for s in shots])
        drafts = _drafts(session, name)
        for shot in shots:
            take = shot.chosen_take
            media = None
            if take is not None:
                states = {
                    "video": store.verify(take.media_path, take.media_sha256),
                    "last_frame": store.verify(take.last_frame_path, take.last_frame_sha256),
                    "sheet": store.verify(take.sheet_path, take.sheet_sha256),
                }
                media = "ok" if set(states.values()) == {"ok"} else ", ".join(f"{k} {v}" for k, v in states.items() if v != "ok")
            rows.append(
                {
                    "id": shot.key,
                    "scene": shot.scene,
                    "status": shot.status,
                    "chosen_take": take.attempt if take else None,
                    "chosen_seed": take.seed if take else None,
                    "current": is_current(shot),
                    "scores": {s.metric: {"value": round(s.value, 4), "threshold": s.threshold, "passed": s.passed} for s in take.scores} if take else {},
                    "passed": take.passed if take else None,
                    "verdict": verdict(shot),
                    "failing": failing_scores(take) if take else [],
                    "stale": shot.status == "stale" or (take is not None and not is_current(shot)),
                    "stale_reason": shot.stale_reason,
                    "takes": len(shot.takes),
                    "failed_takes": sum(t.status == "failed" for t in shot.takes),
                    "gpu_seconds": round(sum(render_seconds(t) for t in shot.takes), 3),
                    "media": media,
                    "video": take.media_path if take else None,
                    "lease": lease_info(holder_of(session, project, shot_scope(shot.key))) or busy,
                    "characters": cast.get(shot.key, []),
                    # Every look's anchor of the present characters (``will``, ``will@sc12``).
                    "anchors": {key: info for key, info in anchors.items() if split_identity(key)[0] in cast.get(shot.key, [])},
                    "review": decision_info(session, decisions.get(shot.id)),
                    "pass": (take.params or {}).get("pass", "final") if take else None,
                    "draft": drafts.get(shot.key),
                }
            )
    return rows


def _drafts(session: Session, name: str) -> dict[str, dict[str, Any]]:
    """Each shot's draft pass (`production.passes`): its chosen take, seed and status, for a
    project that has one (a draft project itself has none)."""
    record = session.scalar(select(Project).where(Project.name == f"{name}{DRAFT_SUFFIX}"))
    if record is None:
        return {}
    return {shot.key: {"project": record.name, "status": shot.status, "take": shot.chosen_take.attempt if shot.chosen_take else None,
                       "seed": shot.chosen_take.seed if shot.chosen_take else None}
            for shot in live_shots(session, record)}
