"""Repository functions. Each takes a `Session`; callers open it (``with Session(engine) as s,
s.begin():``) and own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shots.errors import Conflict, NotFound
from storage.schema import (
    DECISIONS,
    SHOT_STATUSES,
    Cut,
    Project,
    Review,
    Score,
    Shot,
    StoryboardVersion,
    Take,
)

# Which status a shot may move to from each status. ``pending`` and ``stale`` go straight to
# ``scored`` when a render chooses a take already scored for the shot's current inputs (left by a
# run that stopped before choosing it, or matching inputs an edit went back to): nothing renders.
# ``rendering`` goes back to ``approved`` when a forced re-render keeps the approved take;
# ``stale`` and ``rejected`` go to ``failed`` when a render stops with an error before any take.
TRANSITIONS: dict[str, set[str]] = {
    "pending": {"pending", "rendering", "scored", "stale", "failed"},
    "rendering": {"rendering", "scored", "approved", "failed", "pending", "stale"},
    "scored": {"scored", "approved", "rejected", "rendering", "stale"},
    "approved": {"approved", "rejected", "rendering", "stale"},
    "rejected": {"rejected", "approved", "rendering", "stale", "failed"},
    "failed": {"failed", "rendering", "pending", "stale"},
    "stale": {"stale", "rendering", "scored", "pending", "approved", "rejected", "failed"},
}


def get_project(session: Session, name: str) -> Project:
    """The project called ``name``."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = ", ".join(session.scalars(select(Project.name).order_by(Project.name))) or "none yet"
        raise NotFound(f"unknown project {name!r}; known projects: {known}")
    return project


def list_projects(session: Session) -> list[Project]:
    """Every project, by name."""
    return list(session.scalars(select(Project).order_by(Project.name)))


def get_shot(session: Session, project: Project, key: str) -> Shot:
    """The live (not archived) shot ``key`` of ``project``."""
    shot = session.scalar(
        select(Shot).where(Shot.project_id == project.id, Shot.key == key, Shot.archived.is_(False))
    )
    if shot is None:
        known = ", ".join(s.key for s in live_shots(session, project)) or "none"
        raise NotFound(f"project {project.name!r} has no shot {key!r}; its shots: {known}")
    return shot


def get_project_shot(session: Session, project: str, key: str) -> Shot:
    """The live shot ``key`` of the project named ``project``."""
    return get_shot(session, get_project(session, project), key)


def live_shots(session: Session, project: Project) -> list[Shot]:
    """The project's current shots in story order."""
    return list(
        session.scalars(
            select(Shot).where(Shot.project_id == project.id, Shot.archived.is_(False)).order_by(Shot.position)
        )
    )


def get_take(session: Session, shot: Shot, attempt: int) -> Take:
    """Take number ``attempt`` of ``shot``."""
    take = session.scalar(select(Take).where(Take.shot_id == shot.id, Take.attempt == attempt))
    if take is None:
        attempts = ", ".join(str(t.attempt) for t in shot.takes) or "none"
        raise NotFound(f"shot {shot.key!r} has no take {attempt}; its takes: {attempts}")
    return take


def set_status(shot: Shot, status: str, reason: str | None = None) -> None:
    """Move a shot to ``status``, refusing transitions that make no sense."""
    if status not in SHOT_STATUSES:
        raise Conflict(f"unknown shot status {status!r}")
    if status not in TRANSITIONS[shot.status]:
        raise Conflict(f"shot {shot.key!r} cannot go from {shot.status} to {status}")
    shot.status = status
    if status == "stale":
        shot.stale_reason = reason
    elif reason is None and status != "pending":
        shot.stale_reason = None


def is_current(shot: Shot) -> bool:
    """Whether the shot's chosen take was rendered from its current inputs."""
    take = shot.chosen_take
    return take is not None and take.input_hash == shot.input_hash and take.status == "scored"


def keep_chosen(shot: Shot) -> bool:
    """Settle a shot after a render that made no better take (a forced re-render that failed, or
    an error): a current chosen take stands — approved again if a person approved it — and this
    returns True; a chosen take that is no longer current leaves the shot stale, and without
    any the shot is failed."""
    if is_current(shot):
        set_status(shot, "approved" if shot.chosen_take.chosen_reason == "approved" else "scored")
        return True
    set_status(shot, "stale" if shot.chosen_take_id else "failed", shot.stale_reason)
    return False


def needs_render(shot: Shot, max_takes: int | None = None) -> bool:
    """Whether a render run should make a take for this shot: a person rejected it (it is
    rendered anew, with new seeds); it has no current chosen take; or (given ``max_takes``) its
    chosen take fails its checks, no person approved it, and it has fewer than ``max_takes``
    takes of its current inputs (a re-scored take, or a raised ``max_takes``, earns more
    attempts)."""
    if shot.status == "rejected" or not is_current(shot):
        return True
    if max_takes is None or shot.status == "approved" or shot.chosen_take.passed is not False:
        return False
    attempts = sum(1 for t in shot.takes if t.status in ("scored", "failed") and t.input_hash == shot.input_hash)
    return attempts < max_takes


def add_take(
    session: Session, shot: Shot, seed: int, model: str, params: Mapping[str, Any], owner: str | None = None
) -> Take:
    """A new take in state ``rendering`` with the next attempt number.

    The shot row is locked first (``FOR UPDATE``; SQLite transactions are IMMEDIATE), so two
    processes adding takes to the same shot get distinct attempts and lose nothing.

    Args:
        owner: The lease token of the render making it: crash recovery reclaims a take only
            when that lease is gone.
    """
    session.execute(select(Shot.id).where(Shot.id == shot.id).with_for_update())
    last = session.scalar(select(func.max(Take.attempt)).where(Take.shot_id == shot.id)) or 0
    take = Take(
        shot_id=shot.id,
        attempt=last + 1,
        seed=seed,
        model=model,
        params=dict(params),
        input_hash=shot.input_hash,
        status="rendering",
        timings={},
        owner=owner,
    )
    session.add(take)
    set_status(shot, "rendering")
    session.flush()
    return take


@dataclass(frozen=True)
class StoredMedia:
    """Relative paths and checksums of a finished take's files."""

    video: str
    video_sha256: str
    last_frame: str
    last_frame_sha256: str
    sheet: str
    sheet_sha256: str


def finish_take(
    take: Take,
    media: StoredMedia,
    frame_count: int,
    fps: float,
    timings: Mapping[str, float],
    device: str,
    cache_skipped: float = 0.0,
) -> None:
    """Record a rendered take's media and measurements."""
    take.media_path, take.media_sha256 = media.video, media.video_sha256
    take.last_frame_path, take.last_frame_sha256 = media.last_frame, media.last_frame_sha256
    take.sheet_path, take.sheet_sha256 = media.sheet, media.sheet_sha256
    take.frame_count, take.fps = frame_count, fps
    take.timings, take.device, take.cache_skipped = dict(timings), device, cache_skipped
    take.status = "rendered"


def fail_take(take: Take, error: str) -> None:
    """Record why a take failed."""
    take.status, take.error = "failed", error


def add_scores(session: Session, take: Take, scores: Iterable[Mapping[str, Any]], passed: bool, weighted: float) -> None:
    """Store every metric of a take and whether it passed overall."""
    for s in scores:
        session.add(
            Score(
                take_id=take.id,
                metric=s["metric"],
                value=float(s["value"]),
                threshold=s.get("threshold"),
                passed=s.get("passed"),
                details=dict(s.get("details") or {}),
            )
        )
    take.passed, take.weighted_score, take.status = passed, weighted, "scored"


def choose_take(shot: Shot, take: Take, reason: str) -> None:
    """Make ``take`` the shot's chosen take (it must be this shot's, and scored)."""
    if take.shot_id != shot.id:
        raise Conflict(f"take {take.id} belongs to another shot, not {shot.key!r}")
    if take.status != "scored":
        raise Conflict(f"take {take.attempt} of {shot.key!r} is {take.status}; only scored takes can be chosen")
    shot.chosen_take = take
    shot.chosen_take_id = take.id
    take.chosen_reason = reason


def add_review(
    session: Session,
    shot: Shot,
    decision: str,
    take: Take | None = None,
    notes: str = "",
    reviewer: str = "",
    changes: Mapping[str, Any] | None = None,
) -> Review:
    """Store a person's decision and apply approve / reject to the shot."""
    if decision not in DECISIONS:
        raise Conflict(f"decision {decision!r} is not allowed; use {', '.join(DECISIONS)}")
    if take is not None and take.shot_id != shot.id:
        raise Conflict(f"take {take.id} belongs to another shot, not {shot.key!r}")
    looked_at = take or shot.chosen_take  # a reject of the shot rejects the take it showed
    if decision == "approve":
        if looked_at is None:
            raise Conflict(f"shot {shot.key!r} has no take to approve")
        choose_take(shot, looked_at, "approved")
        set_status(shot, "approved")
    elif decision == "reject":
        set_status(shot, "rejected")
        shot.chosen_take_id, shot.chosen_take = None, None
    review = Review(
        shot_id=shot.id,
        take_id=looked_at.id if looked_at else None,
        decision=decision,
        notes=notes,
        reviewer=reviewer,
        changes=dict(changes or {}),
    )
    session.add(review)
    session.flush()
    return review


def allocate_cut(session: Session, project: Project, owner: str | None, **fields: Any) -> Cut:
    """A new cut row in state ``writing`` with the project's next number.

    The project row is locked first, so concurrent exports get distinct numbers (the unique
    (project, number) constraint backs that up); the caller writes the file only after this
    row is committed, then `finish_cut`.
    """
    session.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    number = (session.scalar(select(func.max(Cut.number)).where(Cut.project_id == project.id)) or 0) + 1
    cut = Cut(project_id=project.id, number=number, status="writing", owner=owner, **fields)
    session.add(cut)
    session.flush()
    return cut


def finish_cut(cut: Cut, sha256: str, frames: int) -> None:
    """The cut's file is in place: record its checksum and frame count."""
    cut.sha256, cut.frames, cut.status = sha256, frames, "done"


def latest_version(session: Session, project_id: int) -> StoryboardVersion | None:
    """The project's newest storyboard version (None before any submission)."""
    return session.scalar(select(StoryboardVersion).where(StoryboardVersion.project_id == project_id)
                          .order_by(StoryboardVersion.number.desc()).limit(1))


def latest_cut(session: Session, project: Project) -> Cut | None:
    """The project's newest finished cut."""
    return session.scalar(
        select(Cut).where(Cut.project_id == project.id, Cut.status == "done").order_by(Cut.number.desc()).limit(1)
    )


def settle(shot: Shot) -> None:
    """Give a shot the status its takes say, after the process rendering it stopped: a current
    chosen take stands (approved again when a person approved it), else the shot is stale
    (it has a chosen take) or pending."""
    if is_current(shot):
        shot.status = "approved" if shot.chosen_take.chosen_reason == "approved" else "scored"
    elif shot.status != "rejected":
        shot.status = "stale" if shot.chosen_take_id else "pending"


def recover_interrupted(session: Session, project: Project, live: set[str] = frozenset()) -> list[str]:
    """After a crash: takes left ``rendering`` by a holder whose lease is gone become failed,
    their shots settle (`settle`); takes of a live holder (``live`` tokens) are left alone.

    Also settles a shot left ``stale`` with a current chosen take (a killed re-render of an
    approved shot once left it so). Cuts left ``writing`` by a gone holder become failed.
    """
    recovered = []
    for shot in live_shots(session, project):
        busy = False
        for take in shot.takes:
            if take.status in ("rendering", "rendered"):
                if take.owner is not None and take.owner in live:
                    busy = True
                    continue
                fail_take(take, "interrupted before it finished (the process stopped)")
        if (shot.status == "rendering" and not busy) or (shot.status == "stale" and is_current(shot)):
            settle(shot)
            recovered.append(shot.key)
    for cut in session.scalars(select(Cut).where(Cut.project_id == project.id, Cut.status == "writing")):
        if cut.owner not in live:
            cut.status = "failed"
    return recovered


def lose_missing_takes(session: Session, project: Project, verify: Any) -> list[str]:
    """Chosen takes whose file is missing or changed: marked ``lost`` (kept in history), their
    shots made stale so that a render makes them again; returns ``shot: why`` lines.

    Args:
        verify: ``verify(relative_path, sha256) -> "ok" | "missing" | "changed"``.
    """
    lost = []
    for shot in live_shots(session, project):
        take = shot.chosen_take
        if take is None or take.status != "scored":
            continue
        state = verify(take.media_path, take.media_sha256)
        if state == "ok":
            continue
        take.status, take.error = "lost", f"its file was {state} when a render checked it"
        shot.chosen_take_id, shot.chosen_take = None, None
        reason = f"take {take.attempt}'s file is {state}"
        if shot.status != "rejected":
            set_status(shot, "stale", reason)
        lost.append(f"{shot.key}: {reason}")
    session.flush()
    return lost


def render_seconds(take: Take) -> float:
    """Seconds a take spent on the model (text encode + denoise + decode)."""
    t = take.timings or {}
    return float(t.get("text_encode", 0) + t.get("denoise", 0) + t.get("decode", 0))
