"""Reviewing shots: what a reviewer sees, checking and applying their decision (the Prefect form,
the review page, the terminal and scripts all end in `apply_review`, one `Review` row each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field
from sqlalchemy import select

from production.config import AppSettings
from production.store import decision_info, last_decisions, storyboard_shots, transaction
from shots.models import MAX_TEXT
from storage.repo import (
    add_review,
    get_project,
    get_project_shot,
    get_shot,
    get_take,
    is_current,
    live_shots,
)
from storage.artifacts import TakeFiles
from storage.schema import Review
from storage.stills import project_stills
from storage.tracking import propagate

Decision = Literal["approve", "reject", "reroll"]
DECISIONS = ("approve", "reject", "reroll")
KEY_METRICS = ("identity", "temporal", "boundary", "motion", "prompt")
"""The scores a review summary shows first."""


class ShotReview(BaseModel):
    """A reviewer's decision on one shot. ``prompt`` is the shot's own text for a re-roll
    (style, characters and camera are composed around it)."""

    decision: Decision = "approve"
    take: int | None = None
    prompt: str | None = Field(default=None, max_length=MAX_TEXT)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    notes: str = Field(default="", max_length=MAX_TEXT)
    reviewer: str = Field(default="", max_length=128)
    anchor: str = Field(default="", max_length=200)
    """With an approval: a character of the shot whose identity anchor becomes the approved
    take (its middle frame, the region found by the scorer), as `storyreel anchor` sets it."""


def shot_info(settings: AppSettings, project: str, key: str) -> dict[str, Any]:
    """Everything a reviewer needs about one shot, as plain data: its takes (each with the prompt
    it was rendered from, its scores and files), the shot's own text, the last decision, and
    the shot before it in its chain."""
    with transaction(settings.database()) as session:
        shot = get_project_shot(session, project, key)
        chosen = shot.chosen_take
        planned = storyboard_shots(session, shot.project_id).get(shot.key, {})
        own = planned.get("prompt", "")
        reviews = list(session.scalars(select(Review).where(Review.shot_id == shot.id).order_by(Review.id)))
        last = reviews[-1] if reviews else None
        by_take: dict[int, list[dict[str, Any]]] = {}
        for row in reviews:
            if row.take_id is not None:
                by_take.setdefault(row.take_id, []).append(decision_info(session, row) or {})
        return {
            "project": project,
            "shot": shot.key,
            "scene": shot.scene,
            "status": shot.status,
            "current": is_current(shot),
            "prompt": shot.prompt,
            "own_prompt": own,
            "characters": list(planned.get("characters") or []),
            "conditioned_on": shot.conditioned_on,
            "chosen": chosen.attempt if chosen else None,
            "last_decision": decision_info(session, last),
            "stills": _approved_stills(session, shot.project, shot.key, list(planned.get("characters") or [])),
            "takes": [
                {
                    "take": t.attempt,
                    "seed": t.seed,
                    "status": t.status,
                    "current": t.input_hash == shot.input_hash,
                    "passed": t.passed,
                    "weighted": round(t.weighted_score or 0.0, 4),
                    "prompt": (t.params or {}).get("prompt") or shot.prompt,
                    "own_prompt": (t.params or {}).get("action") or own,
                    "video": t.media_path,
                    "sheet": t.sheet_path,
                    "last_frame": t.last_frame_path,
                    "first_frame": TakeFiles.of_video(t.media_path).first_frame if t.media_path else None,
                    "start_frame": TakeFiles.of_video(t.media_path).start_frame if t.media_path else None,
                    "error": t.error,
                    "fps": t.fps,
                    "frames": t.frame_count,
                    "start": (t.params or {}).get("start"),
                    "scores": {s.metric: (round(s.value, 4), s.threshold, s.passed) for s in t.scores},
                    "reviews": by_take.get(t.id, []),
                    "rejected": bool(by_take.get(t.id)) and by_take[t.id][-1]["decision"] == "reject",
                }
                for t in shot.takes
            ],
        }


def _approved_stills(session: Any, project: Any, key: str, characters: list[str]) -> list[dict[str, str]]:
    """The approved keyframes of shot ``key`` and sheets of its characters (what its first frame
    is judged beside), newest per slot: caption and image path under the home."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    keyframes = [s for s in project_stills(session, project, "keyframe", key) if s.status == "approved" and s.image_path]
    sheets = [s for s in project_stills(session, project, "sheet") if s.status == "approved" and s.image_path
              and s.subject.split("@", 1)[0] in characters]
    for still in keyframes + sheets:
        what = f"approved {still.role} keyframe" if still.kind == "keyframe" else f"{still.subject}'s sheet ({still.role})"
        found[(still.kind, still.subject, still.role)] = {"caption": f"{what}, take {still.attempt}", "image": still.image_path or ""}
    return list(found.values())


def reviewable_takes(info: dict[str, Any]) -> list[int]:
    """Take numbers a reviewer may approve: scored takes of the shot's current inputs that
    nobody rejected (a rejected take is re-rolled, not approved)."""
    return [t["take"] for t in info["takes"] if t["status"] == "scored" and t["current"] and not t["rejected"]]


def chosen_take(info: dict[str, Any]) -> dict[str, Any] | None:
    """The shot's chosen take, from `shot_info`."""
    return next((t for t in info["takes"] if t["take"] == info["chosen"]), None)


def preselected_take(info: dict[str, Any]) -> int:
    """The take a form offers first: the chosen one when it can be approved, else the newest
    that can (0 when none can)."""
    takes = reviewable_takes(info) or [0]
    return info["chosen"] if info["chosen"] in takes else takes[-1]


def own_text(info: dict[str, Any]) -> str:
    """The shot's own text a reroll starts from: the preselected take's (an earlier reroll's
    edit), else the storyboard's."""
    take = next((t for t in info["takes"] if t["take"] == preselected_take(info)), None)
    return (take or {}).get("own_prompt") or info["own_prompt"]


def check_review(info: dict[str, Any], review: ShotReview) -> str | None:
    """Why a decision cannot be applied to this shot as it is now (None when it can)."""
    takes = reviewable_takes(info)
    if review.decision == "approve":
        if review.take is not None and review.take not in takes:
            allowed = ", ".join(map(str, takes)) or "none yet"
            return f"take {review.take} cannot be approved: the takes of shot {info['shot']} you can approve are {allowed}"
        if review.take is None and info["chosen"] is None:
            return f"shot {info['shot']} has no take to approve; reroll or reject it"
    if review.anchor:
        if review.anchor not in info["characters"]:
            allowed = ", ".join(info["characters"]) or "none"
            return f"{review.anchor!r} cannot be anchored on shot {info['shot']}: its characters are {allowed}"
        if review.decision != "approve":
            return f"an anchor is set with an approval; to anchor {review.anchor}, approve a take"
    if review.decision == "reroll" and review.prompt is not None and not review.prompt.strip():
        return "the prompt is empty; leave it as it is to keep the shot's text"
    return None


def parse_seed(text: str | int | None) -> tuple[int | None, str | None]:
    """A seed typed in a form: empty is the shot's next seed; else a whole number 0 … 2³²−1."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, None
    try:
        seed = int(str(text).strip())
    except ValueError:
        return None, f"seed {text!r} is not a whole number; leave it empty for the next seed"
    if not 0 <= seed < 2**32:
        return None, f"seed {seed} is out of range; use 0 … {2**32 - 1}, or leave it empty"
    return seed, None


def to_review(settings: AppSettings, project: str) -> list[str]:
    """Shots waiting for a decision: scored, not yet approved or rejected."""
    with transaction(settings.database()) as session:
        return [s.key for s in live_shots(session, get_project(session, project)) if s.status == "scored"]


@dataclass(frozen=True)
class Applied:
    """What a decision did: the line that says so (``s02: approved take 1 by mara``), whether a
    `Review` was recorded (an approval of the take already approved is not), and the shots it
    made stale."""

    said: str
    recorded: bool = True
    stale: list[str] = field(default_factory=list)


def applied_line(key: str, decision: str, take: int | None, reviewer: str) -> str:
    """How a terminal and a page say a decision was applied."""
    verb = {"approve": "approved", "reject": "rejected", "reroll": "asked for a new take of"}.get(decision, decision)
    what = f" take {take}" if take and decision != "reroll" else ""
    return f"{key}: {verb}{what} by {reviewer or 'someone'}"


def apply_review(settings: AppSettings, project: str, key: str, review: ShotReview) -> Applied:
    """Store the decision; approve/reject change the shot. An approval of the take the shot
    already has approved, with no notes or anchor, records nothing and says so.

    Holds the shot's lease meanwhile: a decision on a shot whose take is being rendered right
    now is refused (`production.leases.Busy`, naming the render) instead of being overridden by it.
    """
    from production.leases import hold
    from storage.leases import shot_scope

    engine = settings.database()
    with hold(engine, project, scope=shot_scope(key), purpose="review", seconds=settings.lease_seconds):
        if review.anchor:  # first: an anchor that cannot be set leaves the decision unstored, to be asked again
            _anchor(settings, project, key, review)
        return _apply(engine, project, key, review)


def _anchor(settings: AppSettings, project: str, key: str, review: ShotReview) -> None:
    """Make the take this review approves the anchor of ``review.anchor``."""
    from production.anchors import set_take_anchor

    attempt = review.take
    if attempt is None:
        with transaction(settings.database()) as session:
            chosen = get_project_shot(session, project, key).chosen_take
            attempt = chosen.attempt if chosen else None
    if attempt is not None:  # no take to approve: the approval itself says so
        set_take_anchor(settings, project, review.anchor, key, attempt, None, None, review.reviewer)


def _apply(engine: Any, project: str, key: str, review: ShotReview) -> Applied:
    with transaction(engine) as session:
        record = get_project(session, project)
        shot = get_shot(session, record, key)
        take = get_take(session, shot, review.take) if review.take is not None else None
        target = take or shot.chosen_take
        if (review.decision == "approve" and shot.status == "approved" and target is not None and target is shot.chosen_take
                and not review.notes.strip() and not review.anchor):
            last = decision_info(session, last_decisions(session, [shot.id]).get(shot.id)) or {}
            by = f" by {last['reviewer']}" if last.get("reviewer") else ""
            return Applied(f"{key}: take {target.attempt} is already approved{by}; nothing recorded", recorded=False)
        changes = {k: v for k, v in (("prompt", review.prompt), ("seed", review.seed), ("anchor", review.anchor or None)) if v is not None}
        add_review(session, shot, review.decision, take, review.notes, review.reviewer, changes)
        said = applied_line(key, review.decision, target.attempt if target else None, review.reviewer)
        result = propagate(session, record)
    return Applied(said, stale=[k for k, (state, _) in result.items() if state == "stale"])


def page_url(media_url: str | None, project: str, key: str | None = None) -> str | None:
    """The review page of a project (or one shot) on the media server."""
    if not media_url:
        return None
    path = f"/review/{quote(project, safe='')}" + (f"/{quote(key, safe='')}" if key else "")
    return media_url.rstrip("/") + path


def _scores_line(take: dict[str, Any]) -> str:
    scores = take["scores"]
    ordered = [m for m in KEY_METRICS if m in scores] + [m for m in scores if m not in KEY_METRICS]
    return " · ".join(f"{m} {scores[m][0]:.2f}{'' if scores[m][2] is None else (' ✓' if scores[m][2] else ' ✗')}" for m in ordered[:5])


def verdict_line(info: dict[str, Any]) -> str:
    """The shot and its chosen take's verdict, in one short line."""
    chosen = chosen_take(info)
    if not chosen:
        return f"Shot {info['shot']}: no take to approve ({info['status']})"
    verdict = "passed" if chosen["passed"] else "best of failed" if chosen["passed"] is False else "scored"
    return f"Shot {info['shot']}: take {chosen['take']} of {len(info['takes'])}, {verdict}"


def takes_line(info: dict[str, Any]) -> str:
    """Each approvable take's key scores, for the take field's description."""
    takes = [t for t in info["takes"] if t["take"] in reviewable_takes(info)]
    return "; ".join(f"take {t['take']}: {_scores_line(t)}" for t in takes) or "no take can be approved"


def review_summary(info: dict[str, Any], page: str | None, problem: str | None = None) -> str:
    """The lines above the Prefect form: what could not be applied, the review page, the verdict.
    The UI shrinks this box to nothing when the form is taller than the window (1280×800), so the
    form's first field repeats the verdict and the page (`decision_help`)."""
    lines = []
    if problem:
        lines.append(f"**Not applied:** {problem}. Choose again.")
    if page:
        lines.append(f"[Open the review page: every take playing side by side]({page})")
    lines.append(f"**{verdict_line(info)}**")
    return "\n\n".join(lines)


def decision_help(info: dict[str, Any], page: str | None, problem: str | None = None) -> str:
    """The decision field's description: the verdict and the review page, always in view."""
    said = f"Not applied: {problem}. Choose again. " if problem else ""
    where = f" — review page: {page}" if page else ""
    return f"{said}{verdict_line(info)}{where}. Approve a take, reject the shot, or reroll a new take."


def batch_help(info: dict[str, Any], page: str | None, problem: str | None = None) -> str:
    """One shot's line in the batch form's description: what could not be applied, the verdict, the page."""
    said = f"Not applied: {problem}. " if problem else ""
    return f"{said}{verdict_line(info)}" + (f" — {page}" if page else "")
